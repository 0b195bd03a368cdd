package replay

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/tickstream/tickstream/game"
)

// A recorded match re-simulates exactly: every tick's checksum matches.
func TestReplayVerify(t *testing.T) {
	data := recordSeed(t, arenaMatch(21, 6, 20, 300), 20, 21)
	r, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Header.Traced || r.Header.Seed != 21 || r.Header.ScoreLimit != testScoreLimit {
		t.Fatalf("header %+v", r.Header)
	}
	v, err := Verify(r, game.NewArena())
	if err != nil || v.Ticks != 300 || v.FirstTick != 1 || v.LastTick != 300 || v.Truncated {
		t.Fatalf("verify: %+v, %v", v, err)
	}
	// Another seed: the first tick (the joins' spawn points) differs.
	r.Header.Seed = 22
	var m *Mismatch
	if _, err := Verify(r, game.NewArena()); !errors.As(err, &m) || m.Tick != 1 {
		t.Fatalf("another seed: %v", err)
	}
	// Without inputs: nothing to verify.
	plain := record(t, arenaMatch(21, 6, 20, 30), 20)
	pr, err := NewReader(bytes.NewReader(plain), int64(len(plain)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(pr, game.NewArena()); !errors.Is(err, ErrNotTraced) {
		t.Fatalf("untraced: %v", err)
	}
}

// One recorded input value changed (a move flipped at tick 150, as if the
// file had been recorded with it) makes the verification fail at that
// tick or later, never before.
func TestReplayVerifyTampered(t *testing.T) {
	snaps := arenaMatch(23, 6, 20, 300)
	tampered := make([]*game.Snapshot, len(snaps))
	for i, s := range snaps {
		c := *s
		if s.Tick == 150 {
			tr := *s.Trace
			tr.Inputs = append([]game.Input(nil), tr.Inputs...)
			tr.Inputs[2].MoveX = -tr.Inputs[2].MoveX
			c.Trace = &tr
		}
		tampered[i] = &c
	}
	data := recordSeed(t, tampered, 20, 23)
	v, err := Verify(mustReader(t, data), game.NewArena())
	var m *Mismatch
	if !errors.As(err, &m) || m.Tick < 150 || m.Recorded == m.Simulated || v.LastTick != m.Tick-1 {
		t.Fatalf("tampered at 150: %+v, %v", v, err)
	}
	t.Logf("tampered input at tick 150: first mismatch at tick %d", m.Tick)
}

// A file cut short verifies up to its last complete segment.
func TestReplayVerifyTruncated(t *testing.T) {
	data := recordSeed(t, arenaMatch(24, 4, 10, 100), 10, 24)
	full := mustReader(t, data)
	cut := data[:full.dataEnd-3]
	v, err := Verify(mustReader(t, cut), game.NewArena())
	if err != nil || !v.Truncated || v.LastTick != 80 {
		t.Fatalf("cut: %+v, %v", v, err)
	}
}

func mustReader(t *testing.T, data []byte) *Reader {
	t.Helper()
	r, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Every field of game.Input is recorded: a field added to game.Input
// (e.g. a view tick for lag compensation) fails this test until the
// inputs record holds it (appendInput, parseInput, inputFields).
func TestReplayInputFields(t *testing.T) {
	rt := reflect.TypeOf(game.Input{})
	if rt.NumField() != inputFields {
		t.Fatalf("game.Input has %d fields, the inputs record holds %d: record the new ones", rt.NumField(), inputFields)
	}
	// Each field set to a value of its own survives the round trip.
	var in game.Input
	v := reflect.ValueOf(&in).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.Float64:
			f.SetFloat(float64(i) + 0.123456789)
		case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			f.SetUint(uint64(i + 1))
		case reflect.Int, reflect.Int32, reflect.Int64:
			f.SetInt(int64(i + 1))
		default:
			t.Fatalf("game.Input.%s: kind %s not handled", rt.Field(i).Name, f.Kind())
		}
	}
	got, err := parseInput(appendInput(nil, &in))
	if err != nil || got != in {
		t.Fatalf("round trip: %+v, want %+v (%v)", got, in, err)
	}
	// Delta-coded (format 3): whole, then each field changed alone.
	prev, rprev := inputPrev{}, inputPrev{}
	if got, err := parseDeltaInput(appendDeltaInput(nil, &in, prev), rprev); err != nil || got != in {
		t.Fatalf("delta round trip, whole: %+v, want %+v (%v)", got, in, err)
	}
	for i := 1; i < v.NumField(); i++ { // not the player
		next := in
		f := reflect.ValueOf(&next).Elem().Field(i)
		switch f.Kind() {
		case reflect.Float64:
			f.SetFloat(-f.Float())
		default:
			f.SetUint(f.Uint() + 7)
		}
		if got, err := parseDeltaInput(appendDeltaInput(nil, &next, prev), rprev); err != nil || got != next {
			t.Fatalf("delta round trip, %s changed: %+v, want %+v (%v)", rt.Field(i).Name, got, next, err)
		}
		in = next
	}
	// A later format's extra field is skipped; a shorter input leaves zeros.
	long := binary.AppendUvarint(appendInput(nil, &in), 99)
	if got, err := parseInput(long); err != nil || got != in {
		t.Fatalf("longer input: %+v %v", got, err)
	}
	short := binary.AppendUvarint(nil, 5)
	if got, err := parseInput(short); err != nil || got != (game.Input{Player: 5}) {
		t.Fatalf("shorter input: %+v %v", got, err)
	}
}

// Round values take few bytes; every float64 comes back bit for bit.
func TestReplayFloatCoding(t *testing.T) {
	for _, f := range []float64{0, 1, -1, 0.5, math.Pi, -math.Pi, math.SmallestNonzeroFloat64, math.Inf(1), math.Copysign(0, -1)} {
		b := appendFloat(nil, f)
		d := dec{b: b}
		if g := d.rfloat("x"); math.Float64bits(g) != math.Float64bits(f) || d.err != nil {
			t.Fatalf("%v → %v", f, g)
		}
		if (f == 0 || f == 1 || f == -1 || f == 0.5) && len(b) > 3 {
			t.Fatalf("%v takes %d bytes", f, len(b))
		}
	}
}
