package netcode

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode/stream"
	"github.com/tickstream/tickstream/netcode/wire"
)

// benchWorld is a 50-player arena with deterministic wandering, firing
// inputs: the simulation part of one match tick.
type benchWorld struct {
	arena  *game.Arena
	inputs []game.Input
	tick   uint64
	ents   []game.Entity
	evs    []game.Event
	fresh  bool
}

func newBenchWorld(players int) *benchWorld {
	w := &benchWorld{arena: game.NewArena()}
	w.arena.Init(42, 30, 1000)
	for i := 1; i <= players; i++ {
		w.arena.Join(game.PlayerID(i), fmt.Sprintf("bot%02d", i))
	}
	w.inputs = make([]game.Input, players)
	return w
}

// step runs one tick and returns its snapshot.
func (w *benchWorld) step() *game.Snapshot {
	w.tick++
	for i := range w.inputs {
		a := float64(w.tick)*0.05 + float64(i)
		w.inputs[i] = game.Input{
			Player: game.PlayerID(i + 1), Seq: uint32(w.tick),
			MoveX: math.Cos(a), MoveY: math.Sin(a), Aim: math.Remainder(a*3, 2*math.Pi),
			Buttons: uint8(w.tick+uint64(i)) % 2,
		}
	}
	w.arena.Step(game.StepInfo{Tick: w.tick, Dt: time.Second / 30, Scoring: true}, w.inputs)
	s := &game.Snapshot{Tick: w.tick, Time: time.Unix(0, 0), State: game.StateRunning}
	if w.fresh { // snapshots that are kept (history) need their own slices, as the match gives them
		w.ents, w.evs = nil, nil
	}
	s.Entities, s.Events = w.arena.AppendSnapshot(w.ents[:0], w.evs[:0])
	w.ents, w.evs = s.Entities, s.Events
	s.Acks = make([]game.Ack, len(w.inputs))
	for i := range s.Acks {
		s.Acks[i] = game.Ack{Player: game.PlayerID(i + 1), Seq: uint32(w.tick)}
	}
	return s
}

// benchHub is a hub with no sessions: the benchmarks below drive the
// stream's player views directly, as the writers do.
func benchHub(layout game.Layout) *hub {
	return newHub(&Server{cfg: Config{Spectators: SpectatorConfig{}.withDefaults()}}, "bench", game.MatchConfig{TickRate: 30}, layout)
}

// BenchmarkTick is one tick of an arena match of n players: the step, the
// push into the stream (match goroutine), then every player's writer
// pulling its snapshot as a delta from the tick it acknowledged (the
// previous one: a client that keeps up). It reports the bytes per
// snapshot, the share of a keyframe a delta is, and allocations per tick
// (which must not grow with n). interest=off sends every entity to every
// player (one shared body per tick).
func BenchmarkTick(b *testing.B) {
	for _, n := range []int{50, 200} {
		for _, interest := range []bool{true, false} {
			name := fmt.Sprintf("players=%d/interest=%v", n, interest)
			b.Run(name, func(b *testing.B) {
				w := newBenchWorld(n)
				w.fresh = true
				layout := w.arena.Layout()
				if !interest {
					layout.ViewRadius = 0
				}
				h := benchHub(layout)
				views := make([]*stream.Player, n)
				bufs := make([][]byte, n)
				for i := range views {
					views[i] = h.st.NewPlayer(game.PlayerID(i+1), 1, 0)
				}
				var bytes, keyBytes, snaps, keys int
				tick := func(measure bool) {
					h.Publish(w.step())
					for i, v := range views {
						before := v.Keyframes
						var ok bool
						if bufs[i], ok = v.Next(bufs[i][:0]); !ok {
							continue
						}
						v.Ack(w.tick, time.Now(), time.Second)
						if !measure {
							continue
						}
						if v.Keyframes != before {
							keys++
							keyBytes += len(bufs[i])
						} else {
							snaps++
							bytes += len(bufs[i])
						}
					}
				}
				for i := 0; i < 90; i++ { // warm up: projectiles in flight
					tick(false)
				}
				// One keyframe per player for the comparison.
				for _, v := range views {
					v.Ack(0, time.Now(), 0)
				}
				fresh := h.st.NewPlayer(1, 1, 0)
				key, _ := fresh.Next(nil)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					tick(true)
				}
				if snaps > 0 {
					b.ReportMetric(float64(bytes)/float64(snaps), "bytes/delta")
					b.ReportMetric(float64(bytes)/float64(snaps)/float64(len(key))*100, "delta_%_of_keyframe")
				}
				b.ReportMetric(float64(len(key)), "bytes/keyframe(player_1)")
				_ = keyBytes
				_ = keys
			})
		}
	}
}

// BenchmarkSpectatorFanout is one tick for n SSE spectators of a 50-player
// match: the push, then each spectator's step (the shared delta, encoded
// once) and its event appended to its own buffer. Allocations per
// spectator per tick must be zero: the per-op allocations are the
// snapshot's own and the one shared encoding, whatever n is.
func BenchmarkSpectatorFanout(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("spectators=%d", n), func(b *testing.B) {
			w := newBenchWorld(50)
			w.fresh = true
			st := stream.New(stream.Config{Rate: 30, Keep: 10 * time.Second, Layout: w.arena.Layout()})
			push := func() { st.Push(w.step()) }
			push()
			curs := make([]*stream.Cursor, n)
			bufs := make([][]byte, n)
			evs := make([][]stream.Event, n)
			for i := range curs {
				curs[i] = st.NewCursor(wire.FormatJSON, 1, 0, 0)
			}
			now := time.Unix(0, 0).Add(time.Hour)
			step := func() {
				for i, c := range curs {
					evs[i], _ = c.Step(now, evs[i][:0])
					bufs[i] = bufs[i][:0]
					for _, e := range evs[i] {
						bufs[i] = appendSSE(bufs[i], e)
					}
				}
			}
			step() // keyframes
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				push()
				step()
			}
			b.ReportMetric(float64(n), "spectators")
		})
	}
}
