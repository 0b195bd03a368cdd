package stream

import (
	"sync"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode/wire"
)

// sentRing is how many sent ticks a player remembers as possible baselines.
const sentRing = 64

// MaxEvery is the largest send divisor (every Nth tick).
const MaxEvery = 60

// AckResult says what became of an acknowledgement.
type AckResult uint8

const (
	AckOK     AckResult = iota // the new baseline
	AckNone                    // 0: nothing acknowledged yet (not counted)
	AckStale                   // not newer than the baseline held
	AckUnsent                  // a tick never sent on this connection
)

// Player is one connection's view of the stream: it remembers the ticks it
// sent and the newest one the client acknowledged, and encodes the newest
// tick as a delta from that baseline. Next is called by the connection's
// writer only; Ack may be called from the reader.
type Player struct {
	s  *Stream
	id game.PlayerID

	mu      sync.Mutex
	sent    [sentRing]uint64 // ticks sent, by tick % sentRing
	acked   uint64           // newest valid ack (0: none)
	floor   uint64           // the last keyframe sent: the client holds nothing older
	every   uint64           // requested divisor
	lowered uint64           // the server's divisor (≥ every) for a slow link

	// Writer-owned.
	lastSent uint64
	base     []wire.Row
	cur      []wire.Row
	idx      []int32
	evs      [][]game.Event

	// Counters for the caller (writer-owned, read after Next).
	Keyframes, Deltas uint64
}

// NewPlayer returns the view of player id, sent every Nth tick
// (1…MaxEvery), from tick from on: the tick that seated the player (an
// older one would show the world before its join or resume).
func (s *Stream) NewPlayer(id game.PlayerID, every int, from uint64) *Player {
	return &Player{s: s, id: id, every: uint64(min(max(every, 1), MaxEvery)), lastSent: from - min(from, 1)}
}

// Ack records the client's acknowledgement of tick t: the newest tick it
// has applied. Only a tick sent on this connection and newer than the
// current baseline counts.
func (p *Player) Ack(t uint64) AckResult {
	if t == 0 {
		return AckNone
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.sent[t%sentRing] != t:
		return AckUnsent
	case t <= p.acked || t < p.floor:
		// An ack older than the last keyframe names a view the client
		// dropped when it applied the keyframe.
		return AckStale
	}
	p.acked = t
	return AckOK
}

// Every returns the divisor in force: the client's, or the server's when it
// lowered this connection's rate.
func (p *Player) Every() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return int(max(p.every, p.lowered))
}

// Lower sets the server's divisor for a slow link (1: none).
func (p *Player) Lower(n int) {
	p.mu.Lock()
	p.lowered = uint64(min(max(n, 1), MaxEvery))
	p.mu.Unlock()
}

// Pending reports whether a tick newer than the last one sent is due.
func (p *Player) Pending() bool {
	t, _ := p.due()
	return t != 0
}

// due returns the tick to send next (0: none) and the baseline.
func (p *Player) due() (tick, base uint64) {
	last, _ := p.s.Head()
	p.mu.Lock()
	every := max(p.every, p.lowered)
	base = p.acked
	p.mu.Unlock()
	t := last - last%every
	if t == 0 || t <= p.lastSent {
		return 0, 0
	}
	return t, base
}

// Next appends the next snapshot frame (prefix with the player's input ack,
// then the body) to dst and returns it, or returns dst unchanged and false
// when nothing new is due. The frame is a delta from the acknowledged tick
// when the stream still holds it, a keyframe otherwise.
func (p *Player) Next(dst []byte) ([]byte, bool) {
	t, base := p.due()
	if t == 0 {
		return dst, false
	}
	s := p.s
	e := s.entry(t)
	if e == nil {
		return dst, false
	}
	var be *entry
	if base != 0 && base < t {
		be = s.entry(base)
	}
	if be == nil {
		base = 0
	}
	dst = wire.AppendSnapPrefix(dst, e.snap.AckFor(p.id))
	evFrom := p.lastSent
	if s.radius == 0 {
		dst = append(dst, e.body(s, base, be, evFrom)...)
	} else {
		p.cur, p.idx = e.viewOf(p.cur[:0], p.idx, uint32(p.id), s.radius)
		p.base = p.base[:0]
		if be != nil {
			p.base, p.idx = be.viewOf(p.base, p.idx, uint32(p.id), s.radius)
		}
		p.evs = s.events(p.evs[:0], evFrom, t)
		dst = wire.AppendSnapBody(dst, head(e.snap, base), p.base, p.cur, p.evs)
		clear(p.evs) // drop the references for the collector
	}
	if base == 0 {
		p.Keyframes++
	} else {
		p.Deltas++
	}
	p.lastSent = t
	p.mu.Lock()
	p.sent[t%sentRing] = t
	if base == 0 {
		p.floor = t
	}
	p.mu.Unlock()
	return dst, true
}

// body returns the shared body of this tick for the whole view, from base
// (nil: keyframe) with the events after evFrom; cached per (base, evFrom).
func (e *entry) body(s *Stream, base uint64, be *entry, evFrom uint64) []byte {
	k := bodyKey{base, evFrom}
	e.mu.Lock()
	if b, ok := e.bodies[k]; ok {
		e.mu.Unlock()
		return b
	}
	e.mu.Unlock()
	var baseRows []wire.Row
	if be != nil {
		baseRows = be.rows
	}
	b := wire.AppendSnapBody(nil, head(e.snap, base), baseRows, e.rows, s.events(nil, evFrom, e.snap.Tick))
	e.mu.Lock()
	defer e.mu.Unlock()
	if prev, ok := e.bodies[k]; ok {
		return prev
	}
	if e.bodies == nil {
		e.bodies = make(map[bodyKey][]byte, 2)
	}
	e.bodies[k] = b
	return b
}
