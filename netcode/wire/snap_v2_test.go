package wire

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"os"
	"slices"
	"testing"

	"github.com/tickstream/tickstream/game"
)

// goldenFrames returns the frames of the golden file (good and bad) with
// their baselines: fuzz seeds.
func goldenFrames(tb testing.TB) (frames [][]byte, bases [][]Row) {
	b, err := os.ReadFile(goldenPath)
	if err != nil {
		tb.Fatal(err)
	}
	var g goldenFile
	if err := json.Unmarshal(b, &g); err != nil {
		tb.Fatal(err)
	}
	add := func(h string, base []goldenRow) {
		f, err := hex.DecodeString(h)
		if err != nil {
			tb.Fatal(err)
		}
		frames = append(frames, f)
		bases = append(bases, fromGolden(base))
	}
	for _, c := range g.Cases {
		add(c.Hex, c.Base)
	}
	for _, c := range g.Bad {
		add(c.Hex, c.Base)
	}
	return frames, bases
}

func TestSnapPrefix(t *testing.T) {
	for _, c := range []struct {
		ack  uint32
		want string
	}{
		{0, "82a174a4736e6170a1649900"},
		{127, "82a174a4736e6170a164997f"},
		{128, "82a174a4736e6170a16499cc80"},
		{math.MaxUint32, "82a174a4736e6170a16499ceffffffff"},
	} {
		if got := hex.EncodeToString(AppendSnapPrefix(nil, c.ack)); got != c.want {
			t.Errorf("AppendSnapPrefix(%d) = %s, want %s", c.ack, got, c.want)
		}
	}
	if b := AppendSnapPrefix([]byte("xy"), 1); string(b[:2]) != "xy" {
		t.Fatal("AppendSnapPrefix does not append")
	}
}

// A keyframe ignores the base it is given.
func TestSnapBodyKeyframeIgnoresBase(t *testing.T) {
	cur := []Row{row(1, 1), row(2, 2)}
	a := AppendSnapBody(nil, SnapHead{Tick: 9}, cur, cur, nil)
	b := AppendSnapBody(nil, SnapHead{Tick: 9}, nil, cur, nil)
	if string(a) != string(b) {
		t.Fatalf("keyframe depends on base: % x vs % x", a, b)
	}
}

// Truncated or damaged frames are refused by both decoders, never a panic.
func TestDecodeSnapDamaged(t *testing.T) {
	frames, _ := goldenFrames(t)
	for _, frame := range frames[:4] {
		for i := 0; i < len(frame); i++ {
			var f SnapFrame
			if err := DecodeSnap(frame[:i], &f); err == nil {
				t.Fatalf("prefix of %d bytes accepted", i)
			} else if !errors.Is(err, ErrBadSnap) {
				t.Fatalf("error %v does not wrap ErrBadSnap", err)
			}
			if err := DecodeSnapHead(frame[:i], &f); err == nil {
				t.Fatalf("DecodeSnapHead: prefix of %d bytes accepted", i)
			}
			for _, x := range []byte{0xff, 0x80, 0x01} {
				bad := slices.Clone(frame)
				bad[i] ^= x
				_ = DecodeSnap(bad, &f) // must not panic
				_ = DecodeSnapHead(bad, &f)
			}
		}
	}
	for name, b := range hostileFrames() {
		var f SnapFrame
		if DecodeSnap(b, &f) == nil || DecodeSnapHead(b, &f) == nil {
			t.Fatalf("hostile frame %s accepted", name)
		}
	}
	// Hostile claims inside a snap frame.
	for _, tail := range [][]byte{hx("dd ff ff ff ff"), hx("dc ff ff"), hx("df ff ff ff ff"), hx("db ff ff ff ff")} {
		b := append(AppendSnapPrefix(nil, 1), 1, 0, 0, 0, 0)
		b = append(b, tail...)
		var f SnapFrame
		if DecodeSnap(b, &f) == nil {
			t.Fatalf("claim % x accepted", tail)
		}
	}
}

func TestDecodeSnapReusesSlices(t *testing.T) {
	cur := make([]Row, 50)
	for i := range cur {
		cur[i] = row(uint32(i+1), 1, int32(i), int32(-i), 3, 100, 0, 0)
	}
	frame := AppendSnapBody(AppendSnapPrefix(nil, 3), SnapHead{Tick: 5}, nil, cur, [][]game.Event{{{Kind: 1}}})
	var f SnapFrame
	if err := DecodeSnap(frame, &f); err != nil {
		t.Fatal(err)
	}
	var v Views
	if allocs := testing.AllocsPerRun(100, func() {
		if err := DecodeSnap(frame, &f); err != nil {
			t.Fatal(err)
		}
		if err := DecodeSnapHead(frame, &f); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Fatalf("decoding into a used SnapFrame allocates %v times", allocs)
	}
	_ = v
}

func TestApplyRowsAppendsAndRefusesCleanly(t *testing.T) {
	base := []Row{row(1, 1), row(5, 5)}
	dst := []Row{row(99)}
	got, err := ApplyRows(dst, base, []RowDelta{{ID: 3, Mask: MaskWhole, V: [NumFields]int64{3}}}, []uint32{5})
	if err != nil || !slices.Equal(got, []Row{row(99), row(1, 1), row(3, 3)}) {
		t.Fatalf("ApplyRows = %v, %v", got, err)
	}
	got, err = ApplyRows(dst, base, []RowDelta{{ID: 2, Mask: 1, V: [NumFields]int64{1}}}, nil)
	if err == nil || len(got) != 1 {
		t.Fatalf("refused ApplyRows = %v, %v", got, err)
	}
	for _, c := range []struct {
		rows []RowDelta
		gone []uint32
	}{
		{[]RowDelta{{ID: 5, Mask: 1}, {ID: 1, Mask: 1}}, nil}, // rows not increasing
		{nil, []uint32{5, 1}},                                                     // gone not increasing
		{[]RowDelta{{ID: 1, Mask: 0}}, nil},                                       // mask 0
		{[]RowDelta{{ID: 1, Mask: 0x81}}, nil},                                    // bad mask
		{[]RowDelta{{ID: 1, Mask: 2, V: [NumFields]int64{0, 1 << 33}}}, nil},      // difference out of range
		{[]RowDelta{{ID: 7, Mask: MaskWhole, V: [NumFields]int64{1 << 31}}}, nil}, // whole beyond int32
		{nil, []uint32{6}},
	} {
		if _, err := ApplyRows(nil, base, c.rows, c.gone); !errors.Is(err, ErrBadSnap) {
			t.Errorf("ApplyRows(%+v, %v) = %v", c.rows, c.gone, err)
		}
	}
}

func TestViews(t *testing.T) {
	var v Views
	frame := func(tick, base uint64, base0, cur []Row) *SnapFrame {
		var f SnapFrame
		if err := DecodeSnap(AppendSnapBody(AppendSnapPrefix(nil, 0), SnapHead{Tick: tick, Base: base}, base0, cur, nil), &f); err != nil {
			t.Fatal(err)
		}
		return &f
	}
	a := []Row{row(1, 1), row(2, 2)}
	b := []Row{row(1, 2), row(3, 3)}
	c := []Row{row(3, 4)}
	if v.Newest() != 0 {
		t.Fatal("Newest of nothing")
	}
	if _, err := v.Apply(frame(10, 9, nil, a)); err == nil {
		t.Fatal("delta without its baseline accepted")
	}
	mustApply := func(f *SnapFrame, want []Row) {
		t.Helper()
		got, err := v.Apply(f)
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("Apply(tick %d base %d) = %v, %v; want %v", f.Tick, f.Base, got, err, want)
		}
	}
	mustApply(frame(10, 0, nil, a), a)
	mustApply(frame(11, 10, a, b), b)
	mustApply(frame(12, 10, a, c), c) // base 10 still kept
	if _, ok := v.View(10); !ok || v.Len() != 3 {
		t.Fatalf("views %v", v.ticks)
	}
	mustApply(frame(13, 12, c, a), a) // base 12: 10 and 11 dropped
	if _, ok := v.View(11); ok || v.Len() != 2 {
		t.Fatalf("views after base 12: %v", v.ticks)
	}
	if _, err := v.Apply(frame(14, 11, b, a)); err == nil {
		t.Fatal("dropped baseline accepted")
	}
	if _, err := v.Apply(frame(13, 12, c, a)); err == nil {
		t.Fatal("tick not after the newest accepted")
	}
	if v.Newest() != 13 || v.Len() != 2 {
		t.Fatalf("a refused frame changed the views: %v", v.ticks)
	}
	mustApply(frame(20, 0, nil, b), b) // keyframe: older views kept (the next delta may be based on one)
	if v.Len() != 3 || v.Newest() != 20 {
		t.Fatalf("views after a keyframe: %v", v.ticks)
	}
	mustApply(frame(21, 13, a, c), c) // a delta from a tick acked before the keyframe
	if _, ok := v.View(12); ok || v.Len() != 3 {
		t.Fatalf("views after a delta from 13: %v", v.ticks)
	}
	v.Reset()
	if v.Len() != 0 || v.Newest() != 0 {
		t.Fatal("Reset kept views")
	}
	mustApply(frame(5, 0, nil, nil), nil) // a new connection may start anywhere
	// A baseline that never moves: the views kept stay bounded.
	for tick := uint64(6); tick < 6+2*MaxViews; tick++ {
		mustApply(frame(tick, v.ticks[0], nil, nil), nil)
		if v.Len() > MaxViews {
			t.Fatalf("%d views kept", v.Len())
		}
	}
}
