package game

import (
	"context"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

// tracingPublisher is a recordingPublisher that asks for traces.
type tracingPublisher struct{ *recordingPublisher }

func (tracingPublisher) TraceTicks() bool { return true }

// tracedMatch runs a match whose publisher asks for traces: three players
// join over the first ticks, all send random inputs, one leaves, one loses
// its connection (the match stands it still), and the match runs n ticks.
func tracedMatch(t *testing.T, seed uint64, n int) []*Snapshot {
	t.Helper()
	cfg := MatchConfig{Seed: seed, MinPlayers: 2}.WithDefaults(MatchConfig{})
	h := &matchHarness{t: t, clock: newManualClock(), pub: newRecordingPublisher(true), rules: &recordingRules{Rules: NewArena()}}
	h.m = newMatch("m1", cfg, h.rules, tracingPublisher{h.pub}, h.clock, testLogger(t))
	ctx, cancel := context.WithCancel(context.Background())
	go h.m.run(ctx)
	t.Cleanup(func() { cancel(); <-h.m.Done() })
	h.clock.waitSleepers(1)
	rng := rand.New(rand.NewPCG(seed, 1))
	var snaps []*Snapshot
	seq := uint32(0)
	for tick := 1; tick <= n; tick++ {
		switch tick {
		case 1, 2, 5:
			h.queueJoin("p")
		case n / 2:
			h.m.cmds <- command{kind: cmdLeave, player: 2, epoch: 1}
		case n/2 + 10:
			h.m.cmds <- command{kind: cmdDisconnect, player: 3, epoch: 1}
		}
		for p := PlayerID(1); p <= 3; p++ {
			seq++
			h.m.Input(Input{Player: p, Seq: seq, MoveX: rng.Float64()*2 - 1, MoveY: rng.Float64()*2 - 1,
				Aim: rng.Float64()*2*math.Pi - math.Pi, Buttons: uint8(rng.IntN(2))})
		}
		snaps = append(snaps, h.tick())
	}
	return snaps
}

// The traces of a match, played into a fresh arena, give every tick's
// checksum again; a single changed input changes the checksum at that
// tick or later.
func TestTraceResim(t *testing.T) {
	snaps := tracedMatch(t, 77, 200)
	var joins, leaves, starts, inputs int
	for _, s := range snaps {
		if s.Trace == nil || !s.Trace.Stepped || s.Trace.Info.Tick != s.Tick {
			t.Fatalf("tick %d: trace %+v", s.Tick, s.Trace)
		}
		for _, op := range s.Trace.Ops {
			if op.Leave {
				leaves++
			} else {
				joins++
			}
		}
		if s.Trace.Start {
			starts++
		}
		inputs += len(s.Trace.Inputs)
	}
	if joins != 3 || leaves != 1 || starts != 1 || inputs < 400 {
		t.Fatalf("traced %d joins, %d leaves, %d starts, %d inputs", joins, leaves, starts, inputs)
	}
	resim := func(traces []*Trace) (uint64, bool) {
		r := NewResim(NewArena(), 77, DefaultTickRate, 20)
		for i, s := range snaps {
			if r.Tick(traces[i]) != Checksum(s.Entities, s.Events) {
				return s.Tick, false
			}
		}
		return 0, true
	}
	traces := make([]*Trace, len(snaps))
	for i, s := range snaps {
		traces[i] = s.Trace
	}
	if tick, ok := resim(traces); !ok {
		t.Fatalf("the re-simulation differs at tick %d", tick)
	}
	// Tamper with one input at tick 100.
	tr := *traces[99]
	tr.Inputs = append([]Input(nil), tr.Inputs...)
	tr.Inputs[0].MoveX = -tr.Inputs[0].MoveX
	traces[99] = &tr
	if tick, ok := resim(traces); ok || tick < 100 {
		t.Fatalf("a tampered input at tick 100: mismatch at %d (found %v)", tick, !ok)
	}
	// Another seed: the first tick already differs.
	r := NewResim(NewArena(), 78, DefaultTickRate, 20)
	if r.Tick(snaps[0].Trace) == Checksum(snaps[0].Entities, snaps[0].Events) {
		t.Fatal("another seed gives the same checksum")
	}
}

// A publisher that does not ask for traces gets none.
func TestTraceOff(t *testing.T) {
	h := startMatch(t, MatchConfig{})
	h.queueJoin("a")
	for _, s := range h.ticks(3) {
		if s.Trace != nil {
			t.Fatalf("tick %d has a trace", s.Tick)
		}
	}
}

// The checksum covers every field of an entity and of an event, but not
// the engine's disconnected flag.
func TestChecksumFields(t *testing.T) {
	base := []Entity{{ID: 1, Kind: 1, X: 1, Y: 2, Angle: 3, HP: 4, Score: 5, Flags: 1}}
	evs := []Event{{Kind: 1, A: 2, B: 3}}
	sum := Checksum(base, evs)
	rt := reflect.TypeOf(Entity{})
	for i := range rt.NumField() {
		e := base[0]
		f := reflect.ValueOf(&e).Elem().Field(i)
		switch f.Kind() {
		case reflect.Float32:
			f.SetFloat(f.Float() + 0.5)
		case reflect.Int16, reflect.Int32:
			f.SetInt(f.Int() + 1)
		default:
			f.SetUint(f.Uint() + 8)
		}
		if Checksum([]Entity{e}, evs) == sum {
			t.Errorf("Entity.%s is not in the checksum", rt.Field(i).Name)
		}
	}
	for i := range reflect.TypeOf(Event{}).NumField() {
		ev := evs[0]
		f := reflect.ValueOf(&ev).Elem().Field(i)
		f.SetUint(f.Uint() + 1)
		if Checksum(base, []Event{ev}) == sum {
			t.Errorf("Event field %d is not in the checksum", i)
		}
	}
	d := base[0]
	d.Flags |= FlagDisconnected
	if Checksum([]Entity{d}, evs) != sum {
		t.Error("the disconnected flag changes the checksum")
	}
}
