package game

import (
	"math"
	"testing"
)

// BenchmarkArenaStep50 is one tick of a 50-player arena, as the match runs
// it: Step with one input per player, then AppendSnapshot into reused
// buffers. Players wander (a new heading every half second) and hold fire
// with a slowly turning aim; everything is derived from the tick, so every
// run is the same game. The inputs carry no view tick: no shot is rewound
// (the history is still recorded every tick).
func BenchmarkArenaStep50(b *testing.B) { benchArenaStep(b, -1) }

// BenchmarkArenaStep50View100ms is the same game with every input made
// 100 ms behind the server (3 ticks at 30 Hz): every shot is caught up
// through 3 ticks of history.
func BenchmarkArenaStep50View100ms(b *testing.B) { benchArenaStep(b, 3) }

// BenchmarkArenaStep50ViewCap: every input made far behind, so every shot
// is caught up through MaxRewind (7 ticks at 30 Hz).
func BenchmarkArenaStep50ViewCap(b *testing.B) { benchArenaStep(b, 100) }

// benchArenaStep runs the 50-player game with inputs lag ticks behind the
// server's newest state (lag < 0: no view tick).
func benchArenaStep(b *testing.B, lag int) {
	const (
		players = 50
		rate    = DefaultTickRate
	)
	var dirs [16][2]float64 // unit vectors, 22.5° apart
	for i := range dirs {
		a := float64(i) * math.Pi / 8
		dirs[i] = [2]float64{math.Cos(a), math.Sin(a)}
	}
	a := NewArena()
	a.Init(1, rate, MaxScoreLimit)
	for id := PlayerID(1); id <= players; id++ {
		a.Join(id, "bot")
	}
	dt := (&Loop{Rate: rate}).Interval()
	inputs := make([]Input, players)
	var (
		ents []Entity
		evs  []Event
		tick uint64
	)
	step := func() {
		tick++
		for i := range inputs {
			heading := dirs[(tick/(rate/2)+uint64(i)*7)%16]
			inputs[i] = Input{
				Player: PlayerID(i + 1), Seq: uint32(tick),
				MoveX: heading[0], MoveY: heading[1],
				Aim:     float64((tick/5+uint64(i)*5)%16) * math.Pi / 8,
				Buttons: ButtonFire,
			}
			if lag >= 0 && tick > uint64(lag)+1 {
				inputs[i].ViewTick = tick - 1 - uint64(lag)
			}
		}
		a.Step(StepInfo{Tick: tick, Dt: dt, Scoring: true}, inputs)
		ents, evs = a.AppendSnapshot(ents[:0], evs[:0])
	}
	// Warm up to a steady state: projectiles in flight, players dying and
	// respawning, buffers grown.
	for range 10 * rate {
		step()
	}

	b.ReportAllocs()
	var entities, events int
	for b.Loop() {
		step()
		entities += len(ents)
		events += len(evs)
	}
	b.ReportMetric(float64(entities)/float64(b.N), "entities/snapshot")
	b.ReportMetric(float64(events)/float64(b.N), "events/tick")
	if entities > 0 {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(entities), "ns/entity")
	}
}

// BenchmarkLagHistoryRecord50 is the fixed cost lag compensation adds to
// every tick: recording 50 players into the history ring.
func BenchmarkLagHistoryRecord50(b *testing.B) {
	a := NewArena()
	a.Init(1, DefaultTickRate, MaxScoreLimit)
	for id := PlayerID(1); id <= 50; id++ {
		a.Join(id, "bot")
	}
	b.ReportAllocs()
	tick := uint64(0)
	for b.Loop() {
		tick++
		a.history.record(tick, a.players)
	}
}
