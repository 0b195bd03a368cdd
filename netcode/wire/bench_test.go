package wire

import (
	"math"
	"testing"
)

// BenchmarkSnapEncode50 encodes the shared body of a snap frame for a full
// 50-player match with 20 projectiles in flight and 10 events: the work
// done once per tick per match.
func BenchmarkSnapEncode50(b *testing.B) {
	s := testSnapshot(50, 20, 10)
	var enc SnapEncoder
	size := len(enc.Encode(s))
	b.ReportAllocs()
	b.SetBytes(int64(size))
	b.ResetTimer()
	for b.Loop() {
		_ = enc.Encode(s)
	}
	b.ReportMetric(float64(snapHeaderLen+size), "bytes/snap")
}

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

// BenchmarkSnapHeader appends the per-player head of a snap frame into a
// reused buffer: done once per player per tick; it must not allocate.
func BenchmarkSnapHeader(b *testing.B) {
	buf := make([]byte, 0, 64)
	var ack uint32
	b.ReportAllocs()
	for b.Loop() {
		ack++
		buf = AppendSnapHeader(buf[:0], ack)
	}
	if len(buf) != snapHeaderLen {
		b.Fatalf("header of %d bytes", len(buf))
	}
}

func TestSnapHeaderAllocatesNothing(t *testing.T) {
	buf := make([]byte, 0, 64)
	if allocs := testing.AllocsPerRun(100, func() { buf = AppendSnapHeader(buf[:0], 7) }); allocs != 0 {
		t.Fatalf("AppendSnapHeader into a reused buffer allocates %v times", allocs)
	}
}
