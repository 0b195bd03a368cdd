package replay

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode/stream"
	"github.com/tickstream/tickstream/netcode/wire"
)

// fiveMinutes is a 5-minute, 16-player, 30 Hz arena match (9000 ticks)
// with realistic inputs (arenaMatchInputs: keys, mouse, bursts of fire);
// fiveMinutesRandom is the worst case, every player moving, turning and
// firing at random every tick.
var (
	fiveMinutes       = sync1(func() []*game.Snapshot { return arenaMatchInputs(42, 16, 30, 9000, true) })
	fiveMinutesRandom = sync1(func() []*game.Snapshot { return arenaMatch(42, 16, 30, 9000) })
)

func sync1[T any](f func() T) func() T {
	var v T
	var done bool
	return func() T {
		if !done {
			v, done = f(), true
		}
		return v
	}
}

// BenchmarkMatchGoroutine is the match goroutine's work per tick of the
// 16-player arena (step, snapshot, stream push), without and with the
// recording's Offer: the recording's share of the tick is the difference.
// The recorder goroutine writes to a real file meanwhile.
func BenchmarkMatchGoroutine(b *testing.B) {
	for _, rec := range []bool{false, true} {
		name := "record=off"
		if rec {
			name = "record=on"
		}
		b.Run(name, func(b *testing.B) {
			st := newTestStore(b, Config{Dir: b.TempDir(), Queue: 1 << 16})
			a := game.NewArena()
			a.Init(1, 30, 1000)
			for i := 1; i <= 16; i++ {
				a.Join(game.PlayerID(i), "p")
			}
			a.Start()
			live := stream.New(stream.Config{Rate: 30, Keep: 10 * time.Second, Layout: a.Layout()})
			var r *Recording
			if rec {
				r = st.Start("bench", 30, live.Quant())
			}
			rng := rand.New(rand.NewPCG(1, 1))
			in := make([]game.Input, 16)
			start := time.Now()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for p := range in {
					in[p] = game.Input{Player: game.PlayerID(p + 1), Seq: uint32(i + 1), MoveX: rng.Float64()*2 - 1, MoveY: rng.Float64()*2 - 1, Buttons: uint8(rng.IntN(2))}
				}
				a.Step(game.StepInfo{Tick: uint64(i + 1), Dt: time.Second / 30, Scoring: true}, in)
				s := &game.Snapshot{Tick: uint64(i + 1), Time: start.Add(time.Duration(i) * time.Second / 30), State: game.StateRunning}
				s.Entities, s.Events = a.AppendSnapshot(make([]game.Entity, 0, 64), nil)
				live.Push(s)
				r.Offer(s)
			}
			b.StopTimer()
			if r != nil {
				r.Close()
				if f := r.Failure(); f != "" {
					b.Fatalf("recording failed: %s", f)
				}
			}
		})
	}
}

// BenchmarkOffer is the recording's cost on the match goroutine alone: one
// Offer (a non-blocking channel send), the consumer draining.
func BenchmarkOffer(b *testing.B) {
	st := newTestStore(b, Config{Dir: b.TempDir(), Queue: 1024})
	r := &Recording{st: st, ch: make(chan *game.Snapshot, 1024), done: make(chan struct{})}
	go func() {
		for range r.ch {
		}
	}()
	s := &game.Snapshot{}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r.Offer(s)
		if r.failed.Load() != nil { // the drain fell behind: keep measuring the send
			r.failed.Store(nil)
		}
	}
	b.StopTimer()
	close(r.ch)
}

// BenchmarkFiveMinuteFile records the 5-minute match and reports the
// file's size: realistic inputs recorded, random inputs recorded (the
// worst case), and the realistic match without its inputs.
func BenchmarkFiveMinuteFile(b *testing.B) {
	for _, c := range []struct {
		name  string
		snaps func() []*game.Snapshot
		seed  uint64
	}{{"inputs=realistic", fiveMinutes, 42}, {"inputs=random", fiveMinutesRandom, 42}, {"inputs=none", fiveMinutes, 0}} {
		b.Run(c.name, func(b *testing.B) {
			snaps := c.snaps()
			var size int
			for i := 0; i < b.N; i++ {
				size = len(recordSeed(b, snaps, 30, c.seed))
			}
			b.ReportMetric(float64(size), "file-bytes")
			b.ReportMetric(float64(size)/float64(len(snaps)), "bytes/tick")
		})
	}
}

// BenchmarkSeek is the time from a seek request to its first event on the
// 5-minute file: cold (the replay is read from disk and loaded) and warm
// (already loaded by another spectator), at a random tick; on the file of
// the realistic inputs and on the worst case's.
func BenchmarkSeek(b *testing.B) {
	for _, c := range []struct {
		name  string
		snaps func() []*game.Snapshot
	}{{"inputs=realistic", fiveMinutes}, {"inputs=random", fiveMinutesRandom}} {
		b.Run(c.name, func(b *testing.B) { benchSeek(b, c.snaps()) })
	}
}

func benchSeek(b *testing.B, snaps []*game.Snapshot) {
	dir := b.TempDir()
	data := recordSeed(b, snaps, 30, 42)
	if err := os.WriteFile(filepath.Join(dir, "five"+Ext), data, 0o644); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(2, 2))
	seek := func(b *testing.B, st *Store) {
		rep, err := st.Load("five")
		if err != nil {
			b.Fatal(err)
		}
		tick := 1 + uint64(rng.IntN(9000))
		c := rep.Stream.NewCursor(wire.FormatJSON, 1, 0, 0)
		c.Pace(rep.Info.KeyframeAt(tick), 1000)
		evs, _ := c.Step(time.Now(), nil)
		if len(evs) == 0 || evs[0].Kind != wire.SpecKeyframe {
			b.Fatal("no keyframe")
		}
	}
	b.Run("cold", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			st := newTestStore(b, Config{Dir: dir, MaxBytes: 1 << 40})
			b.StartTimer()
			seek(b, st)
			b.StopTimer()
			_ = st.Close(context.Background())
			b.StartTimer()
		}
	})
	b.Run("warm", func(b *testing.B) {
		st := newTestStore(b, Config{Dir: dir, MaxBytes: 1 << 40})
		seek(b, st)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			seek(b, st)
		}
	})
}
