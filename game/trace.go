package game

import (
	"encoding/binary"
	"hash/fnv"
	"math"
	"slices"
)

// Determinism support: a match whose publisher asks for it (Tracer)
// attaches to each snapshot the Trace of that tick — every call the match
// made into its Rules that changes the world — so that a recorder can
// store it and Resim can play the same calls into a fresh Rules value
// and compare each tick's Checksum with the recorded one.

// Trace is what a tick's simulation was given: the joins and leaves in the
// order applied, whether the match started, and the step with its inputs.
// Together with the match's seed, tick rate and score limit (Rules.Init),
// the traces of every tick from the first determine the world.
type Trace struct {
	Ops     []RosterOp // joins and leaves, in order, before the step
	Start   bool       // Rules.Start was called (after Ops, before the step)
	Stepped bool       // Rules.Step was called (false only on a match's closing snapshot)
	Info    StepInfo   // the step's info (if Stepped)
	Inputs  []Input    // the step's inputs, in the order given
}

// RosterOp is a Rules.Join (Leave false) or Rules.Leave.
type RosterOp struct {
	Player PlayerID
	Name   string // a join's name
	Leave  bool
}

// Tracer is implemented by a Publisher that wants each Snapshot's Trace
// (a replay recorder). TraceTicks is asked once, when the match is
// created; tracing costs the match a copy of each tick's inputs.
type Tracer interface {
	TraceTicks() bool
}

// tracingRules passes every call through to the game's Rules and notes
// those that change the world in the current tick's Trace.
type tracingRules struct {
	Rules
	cur *Trace
}

func (t *tracingRules) Join(id PlayerID, name string) {
	t.cur.Ops = append(t.cur.Ops, RosterOp{Player: id, Name: name})
	t.Rules.Join(id, name)
}

func (t *tracingRules) Leave(id PlayerID) {
	t.cur.Ops = append(t.cur.Ops, RosterOp{Player: id, Leave: true})
	t.Rules.Leave(id)
}

func (t *tracingRules) Start() {
	t.cur.Start = true
	t.Rules.Start()
}

func (t *tracingRules) Step(info StepInfo, inputs []Input) {
	t.cur.Stepped, t.cur.Info, t.cur.Inputs = true, info, slices.Clone(inputs)
	t.Rules.Step(info, inputs)
}

// take returns the tick's trace and starts the next one.
func (t *tracingRules) take() *Trace {
	tr := t.cur
	t.cur = &Trace{}
	return tr
}

// Checksum hashes a tick's world as a game shows it: every field of the
// entities (raw, before any wire quantization) and the events. The
// engine's FlagDisconnected is left out: the match sets it, not the game.
// FNV-1a, 64 bits: cheap, and for telling runs apart, not for security.
func Checksum(ents []Entity, evs []Event) uint64 {
	h := fnv.New64a()
	var b [32]byte
	for _, e := range ents {
		binary.LittleEndian.PutUint32(b[0:], e.ID)
		b[4] = e.Kind
		binary.LittleEndian.PutUint32(b[5:], math.Float32bits(e.X))
		binary.LittleEndian.PutUint32(b[9:], math.Float32bits(e.Y))
		binary.LittleEndian.PutUint32(b[13:], math.Float32bits(e.Angle))
		binary.LittleEndian.PutUint16(b[17:], uint16(e.HP))
		binary.LittleEndian.PutUint32(b[19:], uint32(e.Score))
		b[23] = e.Flags &^ FlagDisconnected
		h.Write(b[:24])
	}
	b[0] = 0xff // separates the entities from the events
	h.Write(b[:1])
	for _, ev := range evs {
		b[0] = ev.Kind
		binary.LittleEndian.PutUint32(b[1:], ev.A)
		binary.LittleEndian.PutUint32(b[5:], ev.B)
		h.Write(b[:9])
	}
	return h.Sum64()
}

// Resim plays recorded traces into a fresh Rules value, tick by tick. It
// is not safe for concurrent use.
type Resim struct {
	rules Rules
	ents  []Entity
	evs   []Event
}

// NewResim initializes rules as a match with this seed, tick rate and
// score limit would.
func NewResim(rules Rules, seed uint64, rate, scoreLimit int) *Resim {
	rules.Init(seed, rate, scoreLimit)
	return &Resim{rules: rules}
}

// Tick applies one tick's trace and returns the Checksum of the world
// after it.
func (s *Resim) Tick(t *Trace) uint64 {
	for _, op := range t.Ops {
		if op.Leave {
			s.rules.Leave(op.Player)
		} else {
			s.rules.Join(op.Player, op.Name)
		}
	}
	if t.Start {
		s.rules.Start()
	}
	if t.Stepped {
		s.rules.Step(t.Info, t.Inputs)
	}
	s.ents, s.evs = s.rules.AppendSnapshot(s.ents[:0], s.evs[:0])
	return Checksum(s.ents, s.evs)
}
