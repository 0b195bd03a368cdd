package wire

import (
	"math"
	"testing"

	"github.com/tickstream/tickstream/game"
)

// BenchmarkDecodeInput decodes one input frame: the work done for every
// client frame.
func BenchmarkDecodeInput(b *testing.B) {
	frame := AppendInput(nil, InputMsg{Seq: 123456, MX: 0.70710678, MY: -0.70710678, Aim: math.Pi / 3, Buttons: 1})
	d := NewDecoder()
	var m ClientMsg
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if err := d.Decode(frame, &m); err != nil {
			b.Fatal(err)
		}
		if _, err := m.Input(1); err != nil {
			b.Fatal(err)
		}
	}
}

// benchViews is a 50-player match with 20 projectiles: a keyframe view and
// the next tick's, where every player and projectile moved.
func benchViews() (prev, cur []Row) {
	q := Quant{Pos: 0.5, AngleSteps: 1024}
	s := testSnapshot(50, 20, 10)
	prev = q.AppendRows(nil, s.Entities)
	for i := range s.Entities {
		s.Entities[i].X += 2.5
		s.Entities[i].Y -= 1.25
		if i%3 == 0 {
			s.Entities[i].Angle += 0.05
		}
	}
	cur = q.AppendRows(nil, s.Entities)
	return prev, cur
}

// BenchmarkSnapBody encodes the shared body of a snap frame for 70
// entities, as a keyframe and as a delta against the previous tick, into a
// reused buffer: the work done once per (tick, baseline, view) group.
func BenchmarkSnapBody(b *testing.B) {
	prev, cur := benchViews()
	evs := [][]game.Event{testSnapshot(0, 0, 10).Events}
	for _, c := range []struct {
		name string
		h    SnapHead
	}{
		{"keyframe", SnapHead{Tick: 1001, Time: 1_732_600_000_123, State: game.StateRunning, Left: 95_000}},
		{"delta", SnapHead{Tick: 1001, Base: 1000, Time: 1_732_600_000_123, State: game.StateRunning, Left: 95_000}},
	} {
		b.Run(c.name, func(b *testing.B) {
			buf := AppendSnapBody(nil, c.h, prev, cur, evs)
			size := len(buf)
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				buf = AppendSnapBody(buf[:0], c.h, prev, cur, evs)
			}
			b.ReportMetric(float64(len(AppendSnapPrefix(nil, 100))+size), "bytes/snap")
		})
	}
}

// BenchmarkDecodeApply decodes a delta snap and applies it to the client's
// views: the Go client's work per snapshot.
func BenchmarkDecodeApply(b *testing.B) {
	prev, cur := benchViews()
	frame := AppendSnapBody(AppendSnapPrefix(nil, 5), SnapHead{Tick: 2, Base: 1}, prev, cur, nil)
	var f SnapFrame
	var dst []Row
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if err := DecodeSnap(frame, &f); err != nil {
			b.Fatal(err)
		}
		var err error
		if dst, err = ApplyRows(dst[:0], prev, f.Rows, f.Gone); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeSnapHead(b *testing.B) {
	prev, cur := benchViews()
	frame := AppendSnapBody(AppendSnapPrefix(nil, 5), SnapHead{Tick: 2, Base: 1}, prev, cur, nil)
	var f SnapFrame
	b.ReportAllocs()
	for b.Loop() {
		if err := DecodeSnapHead(frame, &f); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSnapBodyAllocatesNothing(t *testing.T) {
	prev, cur := benchViews()
	evs := [][]game.Event{testSnapshot(0, 0, 10).Events}
	buf := make([]byte, 0, 4096)
	for _, base := range []uint64{0, 1000} {
		h := SnapHead{Tick: 1001, Base: base}
		if allocs := testing.AllocsPerRun(50, func() { buf = AppendSnapBody(AppendSnapPrefix(buf[:0], 7), h, prev, cur, evs) }); allocs != 0 {
			t.Fatalf("AppendSnapBody (base %d) into a reused buffer allocates %v times", base, allocs)
		}
	}
}
