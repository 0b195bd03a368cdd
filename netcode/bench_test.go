package netcode

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/tickstream/tickstream/game"
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

// benchHub is a hub with n subscribed sessions that have no connection:
// the benchmark measures the tick side of the fan-out (encode once, offer
// to every slot), which is what the match goroutine pays.
func benchHub(n int) *hub {
	h := newHub(&Server{cfg: Config{Spectators: SpectatorConfig{}.withDefaults()}}, "bench", game.MatchConfig{TickRate: 30})
	subs := make([]*session, n)
	for i := range subs {
		subs[i] = &session{snapReady: make(chan struct{}, 1), reliable: make(chan []byte, 16), player: game.PlayerID(i + 1)}
	}
	h.subs.Store(&subs)
	return h
}

// BenchmarkTick50 is one tick of a 50-player arena match: step, snapshot,
// encode once, offer to the 50 players' slots.
func BenchmarkTick50(b *testing.B) {
	w := newBenchWorld(50)
	h := benchHub(50)
	for i := 0; i < 90; i++ { // warm up: projectiles in flight
		h.Publish(w.step())
	}
	b.ReportAllocs()
	b.ResetTimer()
	var bytes, ents int
	for i := 0; i < b.N; i++ {
		s := w.step()
		h.Publish(s)
		f := (*h.subs.Load())[0].slot.Load()
		bytes += len(f.body) + 16
		ents += len(s.Entities)
	}
	b.ReportMetric(float64(bytes)/float64(b.N), "bytes/snapshot")
	b.ReportMetric(float64(ents)/float64(b.N), "entities/snapshot")
}

// BenchmarkFanout compares the fan-out cost at different numbers of
// sessions for the same snapshot: allocations per tick must not grow with
// the number of players.
func BenchmarkFanout(b *testing.B) {
	w := newBenchWorld(50)
	snap := w.step()
	for _, n := range []int{1, 50, 1000} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			h := benchHub(n)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				h.Publish(snap)
			}
			b.ReportMetric(float64(n), "sessions")
		})
	}
}

// BenchmarkSnapFrame is the per-player part a writer pays per tick: the
// player's head (ack) and the shared body copied into its buffer.
func BenchmarkSnapFrame(b *testing.B) {
	w := newBenchWorld(50)
	snap := w.step()
	var enc wire.SnapEncoder
	body := enc.Encode(snap)
	var buf []byte
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = append(wire.AppendSnapHeader(buf[:0], snap.AckFor(game.PlayerID(i%50+1))), body...)
	}
	_ = buf
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
			h := newHistory(30, 10*time.Second, 0)
			push := func() { h.push(w.step(), nil) }
			push()
			curs := make([]*cursor, n)
			bufs := make([][]byte, n)
			evs := make([][]specEvent, n)
			for i := range curs {
				curs[i] = &cursor{h: h, f: wire.FormatJSON, k: 1, lag: 60}
			}
			now := time.Unix(0, 0).Add(time.Hour)
			step := func() {
				for i, c := range curs {
					evs[i], _ = c.step(now, evs[i][:0])
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
