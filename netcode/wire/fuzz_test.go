package wire

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/tickstream/tickstream/game"
)

// fuzzSeeds are valid client frames and the hostile byte strings that
// make an unguarded msgpack decoder allocate from declared lengths. testdata/fuzz/FuzzDecode holds them as files too.
func fuzzSeeds() [][]byte {
	seeds := [][]byte{
		EncodeJoin("bob", ""),
		EncodeJoin("Zoë 🎮", "k3v9q2xa"),
		mp(map[string]any{"t": "join", "name": "  bob  ", "v": []any{1, "x", map[string]any{"k": nil}}}),
		AppendInput(nil, InputMsg{Seq: 1}),
		AppendInput(nil, InputMsg{Seq: math.MaxUint32, MX: 1, MY: -1, Aim: math.Pi, Buttons: 1}),
		AppendInput(nil, InputMsg{Seq: 2, MX: math.NaN(), Aim: 3.2, Buttons: 2}),
		inputFrame(map[string]any{"mx": 1, "my": float32(-0.5), "aim": float32(math.Pi)}),
		mp(map[string]any{"t": "dance"}),
		AppendAck(nil, 12345),
		AppendInput(nil, InputMsg{Seq: 5, Ack: 1 << 40}),
		AppendInput(nil, InputMsg{Seq: 6, Ack: 1 << 40, View: 1<<40 - 3}),
		AppendInput(nil, InputMsg{Seq: 7, View: MaxAckTick + 1}),
		EncodeJoinEvery("bob", "", 3),
		hx("c1"),
		nil,
	}
	for _, b := range pitfalls {
		seeds = append(seeds, b)
	}
	for _, b := range hostileFrames() {
		seeds = append(seeds, b)
	}
	return seeds
}

func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	d := NewDecoder()
	f.Fuzz(func(t *testing.T, frame []byte) {
		var m ClientMsg
		err := d.Decode(frame, &m)
		checkErr := Check(frame, MaxDepth)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Decode(% x) = %v (%T), want *Error", frame, err, err)
			}
			if e.Code != CloseBadMessage && e.Code != CloseUnknownType {
				t.Fatalf("Decode(% x) refused with code %d", frame, e.Code)
			}
			if checkErr != nil && e.Code != CloseBadMessage {
				t.Fatalf("Decode(% x): Check refuses (%v) but the code is %d", frame, checkErr, e.Code)
			}
			if e.Reason == "malformed message" { // only the recover path says exactly this
				t.Fatalf("msgpack panicked decoding checked frame % x", frame)
			}
			if len(e.Reason) > 123 || !utf8.ValidString(e.Reason) {
				t.Fatalf("reason %q does not fit a close frame", e.Reason)
			}
			return
		}
		if checkErr != nil {
			t.Fatalf("Decode accepted % x that Check refuses: %v", frame, checkErr)
		}
		if c := frame[0]; c&0xf0 != 0x80 && c != 0xde && c != 0xdf {
			t.Fatalf("Decode accepted a frame that is not a map: % x", frame)
		}

		switch m.T {
		case TypeJoin:
			name, err := ValidName(m.Name)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || e.Code != CloseBadName || len(e.Reason) > 123 {
					t.Fatalf("ValidName(%q) = %v", m.Name, err)
				}
				return
			}
			if again, err := ValidName(name); err != nil || again != name {
				t.Fatalf("ValidName is not idempotent: %q → %q → %q, %v", m.Name, name, again, err)
			}
			if n := utf8.RuneCountInString(name); n < 1 || n > MaxNameRunes {
				t.Fatalf("ValidName accepted %q of %d runes", name, n)
			}
			var m2 ClientMsg
			if err := d.Decode(EncodeJoin(name, m.Match), &m2); err != nil {
				t.Fatalf("re-encoded join refused: %v", err)
			}
			if want := (ClientMsg{T: TypeJoin, Name: name, Match: m.Match}); m2 != want {
				t.Fatalf("re-encoded join = %+v, want %+v", m2, want)
			}
		case TypeInput:
			in, err := m.Input(7)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || e.Code != CloseBadInput || len(e.Reason) > 123 {
					t.Fatalf("Input() of %+v = %v", m, err)
				}
				return
			}
			switch {
			case in.Player != 7 || in.Seq == 0 || int64(in.Seq) != m.Seq,
				in.MoveX != float64(m.MX) || in.MoveY != float64(m.MY) || !(in.MoveX >= -1 && in.MoveX <= 1) || !(in.MoveY >= -1 && in.MoveY <= 1),
				!(in.Aim >= -math.Pi && in.Aim <= math.Pi) || math.Abs(in.Aim-float64(m.Aim)) > 0.001,
				in.Buttons&^game.ButtonsMask != 0 || int64(in.Buttons) != m.Buttons:
				t.Fatalf("Input() of %+v = %+v", m, in)
			}
			if in.ViewTick != uint64(m.View) || in.ViewTick > MaxAckTick {
				t.Fatalf("Input() of %+v = %+v: view", m, in)
			}
			frame2 := AppendInput(nil, InputMsg{Seq: in.Seq, MX: in.MoveX, MY: in.MoveY, Aim: in.Aim, Buttons: in.Buttons, View: in.ViewTick})
			var m2 ClientMsg
			if err := d.Decode(frame2, &m2); err != nil {
				t.Fatalf("re-encoded input refused: %v", err)
			}
			in2, err := m2.Input(7)
			if err != nil || in2 != in {
				t.Fatalf("re-encoded input = %+v, %v, want %+v", in2, err, in)
			}
		case TypeAck:
			tick, err := m.AckTick()
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || e.Code != CloseBadInput {
					t.Fatalf("AckTick() of %+v = %v", m, err)
				}
				return
			}
			var m2 ClientMsg
			if err := d.Decode(AppendAck(nil, tick), &m2); err != nil {
				t.Fatalf("re-encoded ack refused: %v", err)
			}
			if t2, err := m2.AckTick(); err != nil || t2 != tick {
				t.Fatalf("re-encoded ack = %d, %v, want %d", t2, err, tick)
			}
		case TypePong, TypeSuspend, TypeResume:
		default:
			t.Fatalf("Decode accepted type %q", m.T)
		}
		if m.T == TypeJoin {
			if e, err := m.JoinEvery(); err == nil && (e < 1 || e > MaxEvery) {
				t.Fatalf("JoinEvery accepted %d", e)
			}
		}
	})
}

func FuzzCheck(f *testing.F) {
	for _, c := range checkCases() {
		f.Add(c.b)
	}
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, depth := range []int{MaxDepth, 8} {
			err := Check(b, depth)
			if err != nil {
				if !errors.Is(err, errTruncated) && !errors.Is(err, errTooDeep) && !errors.Is(err, errBadCode) &&
					!errors.Is(err, errExt) && !errors.Is(err, errTrailing) {
					t.Fatalf("Check(% x) = unexpected error %v", b, err)
				}
				continue
			}
			// Only a checked frame reaches msgpack here: its lengths all fit
			// the bytes present, so no decode can allocate from a claim.
			dec := msgpack.NewDecoder(bytes.NewReader(b))
			if err := dec.Skip(); err != nil {
				t.Fatalf("Check accepted % x but msgpack cannot skip it: %v", b, err)
			}
			if _, err := dec.PeekCode(); err == nil {
				t.Fatalf("Check accepted % x but msgpack sees more than one object", b)
			}
			if len(b) <= 1024 {
				var v any
				if err := msgpack.Unmarshal(b, &v); err == nil { // fails on non-string map keys
					re, err := msgpack.Marshal(v)
					if err != nil {
						t.Fatalf("re-encoding %v: %v", v, err)
					}
					if err := Check(re, depth); err != nil {
						t.Fatalf("Check(re-encoded % x) = %v (original % x)", re, err, b)
					}
				}
			}
			if err := Check(append(b[:len(b):len(b)], 0xc0), depth); !errors.Is(err, errTrailing) {
				t.Fatalf("Check(% x + c0) = %v, want %v", b, err, errTrailing)
			}
			if err := Check(b, depth+1); err != nil {
				t.Fatalf("Check(% x) accepted at depth %d, refused at %d: %v", b, depth, depth+1, err)
			}
		}
	})
}

// FuzzDecodeSnap: DecodeSnap, DecodeSnapHead and ApplyRows never panic on
// any input; an accepted frame applies to views sorted with unique ids,
// its head decodes the same alone, and re-encoding its view against the
// same baseline gives back the same view.
func FuzzDecodeSnap(f *testing.F) {
	frames, bases := goldenFrames(f)
	for _, fr := range frames {
		f.Add(fr)
	}
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	// Every golden baseline is tried against every input.
	var all [][]Row
	for _, b := range bases {
		if b != nil {
			all = append(all, b)
		}
	}
	var sf, head, again SnapFrame
	var dst []Row
	f.Fuzz(func(t *testing.T, frame []byte) {
		err := DecodeSnap(frame, &sf)
		herr := DecodeSnapHead(frame, &head)
		if err != nil {
			if !errors.Is(err, ErrBadSnap) {
				t.Fatalf("DecodeSnap error %v does not wrap ErrBadSnap", err)
			}
			return
		}
		if herr != nil {
			t.Fatalf("DecodeSnap accepts % x, DecodeSnapHead refuses: %v", frame, herr)
		}
		if head.Ack != sf.Ack || head.Tick != sf.Tick || head.Base != sf.Base || head.Time != sf.Time || head.State != sf.State || head.Left != sf.Left {
			t.Fatalf("head %+v, full %+v", head, sf)
		}
		for i := 1; i < len(sf.Rows); i++ {
			if sf.Rows[i].ID <= sf.Rows[i-1].ID {
				t.Fatalf("decoded row ids not increasing: %v", sf.Rows)
			}
		}
		for _, base := range append([][]Row{nil}, all...) {
			var err error
			dst, err = ApplyRows(dst[:0], base, sf.Rows, sf.Gone)
			if err != nil {
				continue
			}
			for i := 1; i < len(dst); i++ {
				if dst[i].ID <= dst[i-1].ID {
					t.Fatalf("applied view not sorted/unique: %v", dst)
				}
			}
			h := SnapHead{Tick: sf.Tick, Base: sf.Base, Time: sf.Time, State: game.State(sf.State), Left: sf.Left}
			if h.Base != 0 && base == nil {
				h.Base = 0 // a delta that applies to nothing is a keyframe's view
			}
			var evs []game.Event
			for _, e := range sf.Ev {
				evs = append(evs, game.Event{Kind: e.Kind, A: e.A, B: e.B})
			}
			re := AppendSnapBody(AppendSnapPrefix(nil, sf.Ack), h, base, dst, [][]game.Event{evs})
			if err := DecodeSnap(re, &again); err != nil {
				t.Fatalf("re-encoded frame refused: %v", err)
			}
			if h.Base == 0 {
				base = nil
			}
			got, err := ApplyRows(nil, base, again.Rows, again.Gone)
			if err != nil || !slices.Equal(got, dst) {
				t.Fatalf("re-encoded view %v, %v; want %v", got, err, dst)
			}
			if !slices.Equal(again.Ev, sf.Ev) && len(again.Ev)+len(sf.Ev) > 0 {
				t.Fatalf("re-encoded events %v, want %v", again.Ev, sf.Ev)
			}
		}
	})
}
