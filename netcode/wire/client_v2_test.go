package wire

import (
	"math"
	"reflect"
	"testing"

	"github.com/tickstream/tickstream/game"
)

func TestAckMessages(t *testing.T) {
	d := NewDecoder()
	for _, tick := range []uint64{0, 1, 127, 128, 1 << 32, MaxAckTick} {
		var m ClientMsg
		if err := d.Decode(AppendAck(nil, tick), &m); err != nil {
			t.Fatalf("ack %d: %v", tick, err)
		}
		if got, err := m.AckTick(); m.T != TypeAck || err != nil || got != tick {
			t.Fatalf("ack %d: %+v → %d, %v", tick, m, got, err)
		}
		if err := d.Decode(AppendInput(nil, InputMsg{Seq: 3, Ack: tick}), &m); err != nil {
			t.Fatal(err)
		}
		if got, err := m.AckTick(); err != nil || got != tick {
			t.Fatalf("input ack %d: %d, %v", tick, got, err)
		}
		if _, err := m.Input(1); err != nil {
			t.Fatalf("input with ack %d: %v", tick, err)
		}
	}
	// Out of 0…2^53: refused with CloseBadInput.
	for _, f := range [][]byte{
		AppendAck(nil, MaxAckTick+1), AppendAck(nil, math.MaxUint64),
		mp(map[string]any{"t": "ack", "tick": -1}),
		inputFrame(map[string]any{"ack": int64(-5)}), inputFrame(map[string]any{"ack": uint64(1) << 60}),
	} {
		var m ClientMsg
		if err := d.Decode(f, &m); err != nil {
			t.Fatalf("decode % x: %v", f, err)
		}
		_, err := m.AckTick()
		refusal(t, err, CloseBadInput)
	}
	// A wrong type is a malformed message.
	var m ClientMsg
	refusal(t, d.Decode(mp(map[string]any{"t": "ack", "tick": "x"}), &m), CloseBadMessage)
	// An input without ack acknowledges nothing.
	if err := d.Decode(inputFrame(nil), &m); err != nil {
		t.Fatal(err)
	}
	if got, err := m.AckTick(); got != 0 || err != nil {
		t.Fatalf("input without ack: %d, %v", got, err)
	}
}

func TestJoinEvery(t *testing.T) {
	d := NewDecoder()
	for every, want := range map[int]int{0: 1, 1: 1, 2: 2, 60: 60} {
		var m ClientMsg
		if err := d.Decode(EncodeJoinEvery("bob", "m", every), &m); err != nil {
			t.Fatal(err)
		}
		if got, err := m.JoinEvery(); err != nil || got != want || m.Name != "bob" || m.Match != "m" {
			t.Fatalf("every %d: %d, %v (%+v)", every, got, err, m)
		}
	}
	if string(EncodeJoinEvery("a", "", 1)) != string(EncodeJoin("a", "")) {
		t.Fatal("every 1 is not the plain join")
	}
	for _, every := range []int{-1, 61, 1 << 40} {
		var m ClientMsg
		if err := d.Decode(EncodeJoinEvery("bob", "", every), &m); err != nil {
			t.Fatal(err)
		}
		_, err := m.JoinEvery()
		refusal(t, err, CloseBadMessage)
		if err.Error() != "4000: bad join: every must be 1…60" {
			t.Fatalf("reason %q", err)
		}
	}
}

func TestWelcomeV2(t *testing.T) {
	res := game.JoinResult{Player: 3, Match: "m", TickRate: 30,
		Layout: game.Layout{W: 10, H: 10, Precision: game.Precision{Pos: 0.5, AngleSteps: 1024}, ViewRadius: 450}}
	var w Welcome
	if err := NewMessageDecoder().Decode(EncodeWelcomeEvery(res, "tok", false, 3), &w); err != nil {
		t.Fatal(err)
	}
	if w.Quant != (WireQuant{Pos: 0.5, Angle: 1024}) || w.Radius != 450 || w.Every != 3 {
		t.Fatalf("welcome %+v", w)
	}
	if q := w.Quantizer(); q != (Quant{Pos: 0.5, AngleSteps: 1024}) {
		t.Fatalf("Quantizer %+v", q)
	}
	// A game without a declared precision: the default.
	res.Layout.Precision, res.Layout.ViewRadius = game.Precision{}, 0
	w = Welcome{}
	if err := NewMessageDecoder().Decode(EncodeWelcome(res, "tok", false), &w); err != nil {
		t.Fatal(err)
	}
	if w.Quant != (WireQuant{Pos: 1.0 / 16, Angle: 4096}) || w.Radius != 0 || w.Every != 1 {
		t.Fatalf("welcome %+v", w)
	}
}

func TestPingEvery(t *testing.T) {
	var p Ping
	if err := NewMessageDecoder().Decode(AppendPing(nil, 9, 1<<41, 12.5, 4), &p); err != nil {
		t.Fatal(err)
	}
	if want := (Ping{T: TypePing, ID: 9, Time: 1 << 41, RTT: 12.5, Every: 4}); !reflect.DeepEqual(p, want) {
		t.Fatalf("ping %+v", p)
	}
}

// TestInputView: an input's view (the tick on screen) reaches the game
// input as ViewTick, through the fast decoder; absent is 0; out of
// 0…2^53 it is refused with CloseBadInput (4002).
func TestInputView(t *testing.T) {
	d := NewDecoder()
	for _, view := range []uint64{0, 1, 127, 128, 1 << 32, MaxAckTick} {
		frame := AppendInput(nil, InputMsg{Seq: 3, Ack: view, View: view, Buttons: 1})
		var m ClientMsg
		if !decodeFast(frame, &m) {
			t.Fatalf("view %d: not decoded by the fast path", view)
		}
		if err := d.Decode(frame, &m); err != nil {
			t.Fatalf("view %d: %v", view, err)
		}
		in, err := m.Input(1)
		if err != nil || in.ViewTick != view || in.Seq != 3 {
			t.Fatalf("view %d: %+v, %v", view, in, err)
		}
	}
	var m ClientMsg
	if err := d.Decode(inputFrame(nil), &m); err != nil {
		t.Fatal(err)
	}
	if in, err := m.Input(1); err != nil || in.ViewTick != 0 {
		t.Fatalf("input without view: %+v, %v", in, err)
	}
	for _, f := range [][]byte{
		AppendInput(nil, InputMsg{Seq: 3, View: MaxAckTick + 1}),
		AppendInput(nil, InputMsg{Seq: 3, View: math.MaxUint64}), // wraps to -1 as an int64
		inputFrame(map[string]any{"view": int64(-5)}),
	} {
		if err := d.Decode(f, &m); err != nil {
			t.Fatalf("decode % x: %v", f, err)
		}
		_, err := m.Input(1)
		refusal(t, err, CloseBadInput)
		if err.Error() != "4002: bad input: view must be 0…2^53" {
			t.Fatalf("reason %q", err)
		}
	}
	// A view of another type is a malformed message.
	refusal(t, d.Decode(inputFrame(map[string]any{"view": "x"}), &m), CloseBadMessage)
}
