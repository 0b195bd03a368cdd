package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode/replay"
)

// replayMain runs "server replay verify FILE": it re-simulates the
// recorded match (replay.VerifyFile, with the arena) and returns the exit
// status: 0 every tick matches, 1 a tick differs (the first is printed),
// 2 usage, or a file that cannot be read or verified.
func replayMain(args []string, out, errOut io.Writer) int {
	if len(args) != 2 || args[0] != "verify" {
		fmt.Fprintln(errOut, "usage: server replay verify FILE")
		return 2
	}
	v, err := replay.VerifyFile(args[1], game.NewArena())
	var m *replay.Mismatch
	switch {
	case errors.As(err, &m):
		fmt.Fprintf(errOut, "%s: mismatch at tick %d (recorded checksum %016x, re-simulated %016x); ticks %d–%d matched\n",
			args[1], m.Tick, m.Recorded, m.Simulated, v.FirstTick, v.LastTick)
		return 1
	case err != nil:
		fmt.Fprintf(errOut, "%s: %v\n", args[1], err)
		return 2
	}
	note := ""
	if v.Truncated {
		note = " (the file is cut short: the ticks before the cut)"
	}
	fmt.Fprintf(out, "%s: match %s: %d ticks (%d–%d) re-simulated, every checksum matches%s\n",
		args[1], v.Match, v.Ticks, v.FirstTick, v.LastTick, note)
	return 0
}
