package wire_test

import (
	"fmt"
	"math"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode/wire"
)

// A client encodes an input; the server checks, decodes and validates it.
func Example_input() {
	// Client side: one input per frame, with the newest tick applied (ack)
	// and the tick on screen (view).
	frame := wire.AppendInput(nil, wire.InputMsg{Seq: 42, MX: 1, MY: -0.5, Aim: math.Pi / 2, Buttons: game.ButtonFire, Ack: 1001, View: 1000})
	fmt.Printf("%d bytes\n", len(frame))

	// Server side: one Decoder per session.
	dec := wire.NewDecoder()
	var m wire.ClientMsg
	if err := dec.Decode(frame, &m); err != nil {
		fmt.Println("refused:", err)
		return
	}
	in, err := m.Input(7)
	if err != nil {
		fmt.Println("refused:", err)
		return
	}
	fmt.Printf("%s from player %d: seq=%d move=(%g, %g) aim=%.4f fire=%v view=%d\n",
		m.T, in.Player, in.Seq, in.MoveX, in.MoveY, in.Aim, in.Buttons&game.ButtonFire != 0, in.ViewTick)

	// An input out of range is refused with a close code and a reason.
	frame = wire.AppendInput(frame[:0], wire.InputMsg{Seq: 43, MX: 1.5})
	if err := dec.Decode(frame, &m); err == nil {
		_, err = m.Input(7)
		fmt.Println(err)
	}

	// So is a frame whose declared lengths do not fit it.
	fmt.Println(dec.Decode([]byte{0x81, 0xa1, 'k', 0xdd, 0xff, 0xff, 0xff, 0xff}, &m))
	// Output:
	// 75 bytes
	// input from player 7: seq=42 move=(1, -0.5) aim=1.5708 fire=true view=1000
	// 4002: bad input: mx and my must be -1…1
	// 4000: malformed message: truncated
}
