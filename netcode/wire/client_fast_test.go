package wire

import (
	"math"
	"testing"
)

// sameMsg compares two decoded messages, NaN equal to NaN (bit for bit).
func sameMsg(a, b *ClientMsg) bool {
	num := func(x, y Number) bool { return math.Float64bits(float64(x)) == math.Float64bits(float64(y)) }
	return a.T == b.T && a.Name == b.Name && a.Match == b.Match && a.Seq == b.Seq &&
		num(a.MX, b.MX) && num(a.MY, b.MY) && num(a.Aim, b.Aim) && a.Buttons == b.Buttons &&
		a.ID == b.ID && num(a.Time, b.Time) && a.On == b.On && a.Token == b.Token &&
		a.Ack == b.Ack && a.Tick == b.Tick && a.Every == b.Every && a.View == b.View
}

// fastSeeds are the frames every client sends in their usual encodings
// (the Go client's, and the browser's msgpack library's: integers where a
// number is whole, float64 otherwise), and the odd ones.
func fastSeeds() [][]byte {
	return append(fuzzSeeds(),
		AppendPong(nil, 7, 1_700_000_000_000),
		EncodeSuspend(true), EncodeSuspend(false),
		EncodeResume("tok.en"),
		mp(map[string]any{"t": "input", "seq": 3, "mx": 0, "my": -1, "aim": 0.25, "buttons": 1, "ack": 99}),
		mp(map[string]any{"t": "input", "seq": 3, "mx": 0, "my": -1, "aim": 0.25, "buttons": 1, "ack": 99, "view": 97}),
		mp(map[string]any{"t": "input", "seq": 4, "view": uint64(math.MaxUint64), "ack": nil}),
		mp(map[string]any{"t": "input", "seq": 5, "view": "x"}), // a string for an integer: refused
		mp(map[string]any{"t": "input", "seq": uint64(math.MaxUint64), "mx": nil, "aim": int64(-3)}),
		mp(map[string]any{"t": "ack", "tick": int8(-5), "extra": []any{1, map[string]any{"a": "b"}}}),
		mp(map[string]any{"t": []byte("pong"), "id": uint16(9), "time": float32(12.5)}),
		mp(map[string]any{"t": "suspend", "on": nil}),
		mp(map[string]any{"t": "input", "seq": 1.5}),   // a float for an integer: refused
		mp(map[string]any{"t": "input", "mx": "fast"}), // a string for a number: refused
		hx("8101a5696e707574"), // a non-string key
		hx("81a174a5696e707574"), hx("82a174a361636ba474696b6bcf8000000000000000"),
	)
}

// TestDecodeFastTakesTheUsualFrames: what clients send many times a second
// is decoded without the msgpack decoder, and to the same message.
func TestDecodeFastTakesTheUsualFrames(t *testing.T) {
	for _, b := range [][]byte{
		AppendInput(nil, InputMsg{Seq: 12, MX: 0.5, MY: -1, Aim: 1.25, Buttons: 1, Ack: 77, View: 75}),
		AppendAck(nil, 1<<40),
		AppendPong(nil, 3, 1_700_000_000_123),
		mp(map[string]any{"t": "input", "seq": 3, "mx": 0, "my": -1, "aim": 0.25, "buttons": 1, "ack": 99}),
		mp(map[string]any{"t": "input", "seq": 3, "mx": 0, "my": -1, "aim": 0.25, "buttons": 1, "ack": 99, "view": 97}),
	} {
		var fast, slow ClientMsg
		if !decodeFast(b, &fast) {
			t.Fatalf("% x: not decoded by the fast path", b)
		}
		if err := NewDecoder().decodeSlow(b, &slow); err != nil || !sameMsg(&fast, &slow) {
			t.Fatalf("% x: fast %+v, msgpack %+v (%v)", b, fast, slow, err)
		}
	}
}

// FuzzDecodeFast: for every checked frame the fast decoder either declines
// or gives exactly the msgpack decoder's message, and Decode's result and
// refusal are the msgpack decoder's.
func FuzzDecodeFast(f *testing.F) {
	for _, s := range fastSeeds() {
		f.Add(s)
	}
	d, ref := NewDecoder(), NewDecoder()
	f.Fuzz(func(t *testing.T, frame []byte) {
		if Check(frame, MaxDepth) != nil {
			return
		}
		var fast, slow ClientMsg
		ok := decodeFast(frame, &fast)
		slowErr := ref.decodeSlow(frame, &slow)
		if ok && (slowErr != nil || !sameMsg(&fast, &slow)) {
			t.Fatalf("% x: fast %+v, msgpack %+v (%v)", frame, fast, slow, slowErr)
		}
		var got ClientMsg
		err := d.Decode(frame, &got)
		if frame[0]&0xf0 != 0x80 && frame[0] != 0xde && frame[0] != 0xdf {
			return // refused before either decoder
		}
		switch {
		case slowErr != nil:
			if err == nil || err.Error() != slowErr.Error() {
				t.Fatalf("% x: Decode %v, msgpack refuses %v", frame, err, slowErr)
			}
		case !sameMsg(&got, &slow):
			t.Fatalf("% x: Decode %+v, msgpack %+v", frame, got, slow)
		}
	})
}
