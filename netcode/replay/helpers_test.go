package replay

import (
	"bytes"
	"context"
	"io"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode/wire"
)

// arenaMatch plays the reference game with n players giving random inputs
// for ticks ticks at rate Hz, and returns the snapshots a match would
// publish: the roster when it changes (players join over the first ticks,
// one leaves half-way), running state and time left, the end, and each
// tick's trace (the calls made into the arena), as a match whose publisher
// asks for traces gives them (seed, rate and score limit 1000: record's).
func arenaMatch(seed uint64, n, rate, ticks int) []*game.Snapshot {
	return arenaMatchInputs(seed, n, rate, ticks, false)
}

// arenaMatchInputs is arenaMatch with, when realistic, inputs like real
// clients': each player's move is -1, 0 or 1 per axis and changes about
// once a second (keys; the bots' wander), the aim (a float64) changes on
// about a third of the ticks (the mouse), fire is held in bursts, the
// view tick is the tick - 3, and seq counts each player's inputs. Without
// realistic, every input is new random floats (the worst case).
func arenaMatchInputs(seed uint64, n, rate, ticks int, realistic bool) []*game.Snapshot {
	rng := rand.New(rand.NewPCG(seed, 7))
	type client struct {
		mx, my, aim float64
		fire        bool
		seq         uint32
	}
	clients := map[game.PlayerID]*client{}
	a := game.NewArena()
	a.Init(seed, rate, testScoreLimit)
	start := time.UnixMilli(1_780_000_000_000)
	dt := time.Second / time.Duration(rate)
	var roster []game.PlayerInfo
	var out []*game.Snapshot
	var seq uint32
	for tick := 1; tick <= ticks; tick++ {
		var changed bool
		tr := &game.Trace{}
		if tick <= n {
			id := game.PlayerID(tick)
			name := "p" + string(rune('a'+tick%26))
			a.Join(id, name)
			tr.Ops = append(tr.Ops, game.RosterOp{Player: id, Name: name})
			roster = append(append([]game.PlayerInfo(nil), roster...), game.PlayerInfo{ID: id, Name: name})
			changed = true
		}
		if tick == ticks/2 && n > 1 {
			a.Leave(2)
			tr.Ops = append(tr.Ops, game.RosterOp{Player: 2, Leave: true})
			r := make([]game.PlayerInfo, 0, len(roster))
			for _, p := range roster {
				if p.ID != 2 {
					r = append(r, p)
				}
			}
			roster, changed = r, true
		}
		if tick == n {
			a.Start()
			tr.Start = true
		}
		var in []game.Input
		for _, p := range roster {
			if realistic {
				c := clients[p.ID]
				if c == nil {
					c = &client{aim: rng.Float64()*2*math.Pi - math.Pi}
					clients[p.ID] = c
				}
				if rng.IntN(rate) == 0 {
					c.mx, c.my = float64(rng.IntN(3)-1), float64(rng.IntN(3)-1)
				}
				if rng.IntN(3) == 0 {
					c.aim = rng.Float64()*2*math.Pi - math.Pi
				}
				if rng.IntN(10) == 0 {
					c.fire = !c.fire
				}
				c.seq++
				var view uint64
				if tick > 3 {
					view = uint64(tick - 3)
				}
				var b uint8
				if c.fire {
					b = game.ButtonFire
				}
				in = append(in, game.Input{Player: p.ID, Seq: c.seq, MoveX: c.mx, MoveY: c.my, Aim: c.aim, Buttons: b, ViewTick: view})
				continue
			}
			seq++
			in = append(in, game.Input{Player: p.ID, Seq: seq, MoveX: rng.Float64()*2 - 1, MoveY: rng.Float64()*2 - 1,
				Aim: rng.Float64()*2*math.Pi - math.Pi, Buttons: uint8(rng.IntN(2))})
		}
		info := game.StepInfo{Tick: uint64(tick), Dt: dt, Scoring: tick >= n}
		a.Step(info, in)
		tr.Stepped, tr.Info, tr.Inputs = true, info, in
		s := &game.Snapshot{Match: "m1", Tick: uint64(tick), Time: start.Add(time.Duration(tick) * dt), State: game.StateRunning,
			Left: time.Duration(ticks-tick) * dt, Trace: tr}
		s.Entities, s.Events = a.AppendSnapshot(nil, nil)
		if changed {
			s.Roster = roster
		}
		if tick == ticks {
			s.State = game.StateEnded
			s.End = &game.Result{Reason: "time", Scores: a.Scores()}
			if len(s.End.Scores) > 0 {
				s.End.Winner = s.End.Scores[0].Player
			}
		}
		out = append(out, s)
	}
	return out
}

const testScoreLimit = 1000

var testQuant = wire.NewQuant(game.DefaultPrecision)

// memFile is an in-memory file for a Store's Create hook.
type memFile struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	closed bool
}

func (f *memFile) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.buf.Write(p)
}

func (f *memFile) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	return nil
}

func (f *memFile) bytes() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return bytes.Clone(f.buf.Bytes())
}

// record writes snaps through a Recording of a store in a temporary
// directory and returns the file's bytes, without inputs.
func record(t testing.TB, snaps []*game.Snapshot, rate int) []byte {
	t.Helper()
	return recordSeed(t, snaps, rate, 0)
}

// recordSeed records snaps; a non-zero seed records their traces too,
// with that seed (arenaMatch's) and testScoreLimit.
func recordSeed(t testing.TB, snaps []*game.Snapshot, rate int, seed uint64) []byte {
	t.Helper()
	f := &memFile{}
	st := newTestStore(t, Config{Create: func(string) (io.WriteCloser, error) { return f, nil }})
	var r *Recording
	if seed == 0 {
		r = st.Start("m1", rate, testQuant)
	} else {
		r = st.StartTraced("m1", game.MatchConfig{TickRate: rate, Seed: seed, ScoreLimit: testScoreLimit}, testQuant)
	}
	for _, s := range snaps {
		r.ch <- s // the test waits: it checks the file, not the overflow policy
	}
	r.Close()
	st.wg.Wait()
	if r.Failure() != "" {
		t.Fatalf("recording failed: %s", r.Failure())
	}
	return f.bytes()
}

func newTestStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	if tt, ok := t.(*testing.T); ok {
		cfg.Logger = zerolog.New(zerolog.NewTestWriter(tt)).Level(zerolog.WarnLevel)
	}
	st, err := NewStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // before the directory goes (cleanups run last first)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := st.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return st
}

// counts is an Events that counts.
type counts struct {
	mu       sync.Mutex
	recorded int
	failed   map[string]int
	bytes    int
}

func (c *counts) Recorded() { c.mu.Lock(); c.recorded++; c.mu.Unlock() }
func (c *counts) Failed(r string) {
	c.mu.Lock()
	if c.failed == nil {
		c.failed = map[string]int{}
	}
	c.failed[r]++
	c.mu.Unlock()
}
func (c *counts) Wrote(n int) { c.mu.Lock(); c.bytes += n; c.mu.Unlock() }
