package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode/replay"
	"github.com/tickstream/tickstream/netcode/wire"
)

// recorderPub hands a real match's snapshots (with traces) to a replay
// recording; tamperAt, if set, changes one input of that tick's trace
// before it is recorded, as a corrupted recording would hold it.
type recorderPub struct {
	rec      *replay.Recording
	tamperAt uint64
	tampered atomic.Bool
}

func (p *recorderPub) TraceTicks() bool { return true }
func (p *recorderPub) Close()           { p.rec.Close() }
func (p *recorderPub) Publish(s *game.Snapshot) {
	if s.Tick >= p.tamperAt && p.tamperAt != 0 && !p.tampered.Load() && s.Trace != nil && len(s.Trace.Inputs) > 0 {
		c, tr := *s, *s.Trace
		tr.Inputs = append([]game.Input(nil), tr.Inputs...)
		last := &tr.Inputs[len(tr.Inputs)-1] // a player's last input of the tick is the one in force
		last.MoveX, last.MoveY = -last.MoveX-0.25, -last.MoveY-0.25
		c.Trace = &tr
		s = &c
		p.tampered.Store(true)
	}
	p.rec.Offer(s)
}

// recordMatch runs a real match (system clock) with two players sending
// random-ish inputs, one leaving, and records it into dir; it returns the
// file's path.
func recordMatch(t *testing.T, dir string, tamperAt uint64) string {
	t.Helper()
	st, err := replay.NewStore(replay.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var pub *recorderPub
	d, err := game.NewDirectory(game.DirectoryConfig{
		Defaults: game.MatchConfig{MinPlayers: 1},
		NewPublisher: func(id string, cfg game.MatchConfig, l game.Layout) game.Publisher {
			pub = &recorderPub{rec: st.StartTraced(id, cfg, wire.NewQuant(l.Precision)), tamperAt: tamperAt}
			return pub
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	m, err := d.Create(game.MatchConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err1 := m.Join(ctx, "a")
	b, err2 := m.Join(ctx, "b")
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	for i := 1; i <= 40; i++ { // about 20 ticks of inputs
		m.Input(game.Input{Player: a.Player, Seq: uint32(i), MoveX: float64(i%7)/7 - 0.4, Aim: float64(i) / 10, Buttons: uint8(i % 2)})
		m.Input(game.Input{Player: b.Player, Seq: uint32(i), MoveY: float64(i%5)/5 - 0.3, Aim: -float64(i) / 9, Buttons: 1})
		if i == 30 {
			m.Leave(b.Player, b.Epoch)
		}
		time.Sleep(15 * time.Millisecond)
	}
	d.Close()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := st.Close(cctx); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, m.ID()+replay.Ext)
}

// "server replay verify": 0 for a real recorded match, 1 with the tick
// for one whose recorded inputs were changed, 2 for usage and unreadable
// files.
func TestReplayVerifyCommand(t *testing.T) {
	good := recordMatch(t, t.TempDir(), 0)
	var out, errOut bytes.Buffer
	if code := replayMain([]string{"verify", good}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "every checksum matches") {
		t.Fatalf("good file: %d %q %q", code, out.String(), errOut.String())
	}
	bad := recordMatch(t, t.TempDir(), 5)
	out.Reset()
	errOut.Reset()
	if code := replayMain([]string{"verify", bad}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "mismatch at tick") {
		t.Fatalf("tampered file: %d %q %q", code, out.String(), errOut.String())
	}
	junk := filepath.Join(t.TempDir(), "junk.tsr")
	if err := os.WriteFile(junk, []byte("TSREPLAY not really"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"verify", junk}, {"verify", filepath.Join(t.TempDir(), "none.tsr")}, {"verify"}, {"check", good}} {
		if code := replayMain(args, &out, &errOut); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
