package stream

import (
	"sync"
	"time"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode/wire"
)

// sentRing is how many sent ticks a player remembers as possible baselines.
const sentRing = 64

// MaxEvery is the largest send divisor (every Nth tick).
const MaxEvery = 60

// Pacing: a link that carries less than the stream queues snapshots (in
// the kernel and in the network), and the client's acknowledgements come
// back late. Two rules keep the queue short, so that what the client gets
// stays fresh:
//   - Hold: while snapshots are unacknowledged, no new one is sent if the
//     oldest was written more than the base RTT plus HoldSlack ago, or,
//     before the client's first ack, if they add up to more than
//     HoldBytes; ticks are skipped meanwhile (latest wins). The queue on
//     the path is bounded, whatever the link's bandwidth. A hold lasting the base RTT plus ProbeAfter since
//     the last snapshot lets one through (a client that never
//     acknowledges gets about one a second).
//   - Divisor: an ack that arrives more than the base RTT plus PaceSlack
//     after its snapshot was written, a hold, or a write that blocked
//     longer than a tick is a sign of a slow link; signs that persist for
//     slowPersist (at least slowSigns, no gap over slowGap) double the
//     connection's divisor, up to MaxLowered; a calm spell without a sign
//     halves it again. The calm needed is PaceCalm, doubled (up to
//     PaceCalmMax) each time the link relapses (is lowered again within
//     PaceRelapse of a raise: it cannot carry the rate it was given back),
//     and PaceCalm again after a lowering that is not a relapse. So a
//     passing stall (a busy client, a burst of joins on the server) costs
//     a couple of seconds at the lower rate, and a link that truly carries
//     less is probed less and less often.
//
// The base RTT is the link's smallest measured RTT (the smoothed one grows
// with the very queue being controlled).
const (
	HoldSlack   = 750 * time.Millisecond
	slowSigns   = 3                      // signs of a slow link before the divisor doubles
	slowPersist = time.Second            // … spread over at least this long (a hiccup is not a slow link)
	slowGap     = 500 * time.Millisecond // no sign for this long ends a streak
	HoldBytes   = 8 << 10
	ProbeAfter  = time.Second
	PaceSlack   = 500 * time.Millisecond
	PaceCalm    = 2 * time.Second
	PaceCalmMax = 16 * time.Second
	PaceRelapse = 5 * time.Second
	MaxLowered  = 8
)

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

	mu        sync.Mutex
	sent      [sentRing]uint64 // ticks sent, by tick % sentRing
	sentAt    [sentRing]int64  // when they were written (Unix ns)
	acked     uint64           // newest valid ack (0: none)
	every     uint64           // requested divisor
	lowered   uint64           // the server's divisor (≥ every) for a slow link
	changed   time.Time        // when lowered last changed
	raised    time.Time        // when lowered was last halved
	calm      time.Duration    // the calm spell that halves lowered (0: PaceCalm)
	slowAt    time.Time        // the last sign of a slow link
	lowerings uint64           // times the divisor was doubled
	holds     uint64           // due ticks held back
	slowN     int              // signs of a slow link in the current streak
	slowFirst time.Time        // the streak's first sign
	rtt       time.Duration    // the base RTT given with the last ack
	waiting   int64            // when the oldest unacknowledged snapshot was written (Unix ns; 0: none)
	sentLen   [sentRing]int32  // the sizes of the snapshots sent
	outBytes  int64            // bytes of the snapshots not acknowledged
	lastAt    int64            // when the last snapshot was written (Unix ns)
	newest    uint64           // the newest tick sent

	// Writer-owned.
	lastSent uint64
	baseView []int32 // a baseline's view computed again (not kept)
	cur      []int32 // the view being sent (indices into curRows)
	curRows  []wire.Row
	rowBuf   []byte   // the rows of the snapshot being encoded
	gone     []uint32 // its gone ids
	evs      [][]game.Event
	mine     []game.Event // the events this player is sent
	views    [keptViews]keptView
	one      [1][]game.Event

	// Counters for the caller (writer-owned, read after Next).
	Keyframes, Deltas uint64
}

// NewPlayer returns the view of player id, sent every Nth tick
// (1…MaxEvery), from tick from on: the tick that seated the player (an
// older one would show the world before its join or resume).
func (s *Stream) NewPlayer(id game.PlayerID, every int, from uint64) *Player {
	return &Player{s: s, id: id, every: uint64(min(max(every, 1), MaxEvery)), lastSent: from - min(from, 1),
		rtt: time.Second} // until an ack brings the link's
}

// Ack records the client's acknowledgement of tick t: the newest tick it
// has applied. Only a tick sent on this connection and newer than the
// current baseline counts. now and rtt (the link's smoothed round trip, 0
// if unknown) pace the connection: an ack later than rtt + PaceSlack is a
// sign of a slow link.
func (p *Player) Ack(t uint64, now time.Time, rtt time.Duration) AckResult {
	if t == 0 {
		return AckNone
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	i := t % sentRing
	switch {
	case p.sent[i] != t:
		return AckUnsent
	case t == p.acked:
		return AckNone // the same ack again (an input between two snapshots): nothing new
	case t < p.acked:
		return AckStale
	}
	p.acked, p.rtt = t, rtt
	if now.Sub(time.Unix(0, p.sentAt[i])) > rtt+PaceSlack {
		p.slowLocked(now)
	}
	// The oldest snapshot still unacknowledged: the first sent after t.
	p.waiting, p.outBytes = 0, 0
	// The ring's entries newer than t are all in (t, newest], each in the
	// slot of its own tick: walk that range (usually a tick or two) rather
	// than the whole ring.
	for u := t + 1; u <= p.newest; u++ {
		if j := u % sentRing; p.sent[j] == u {
			p.outBytes += int64(p.sentLen[j])
			if p.waiting == 0 {
				p.waiting = p.sentAt[j]
			}
		}
	}
	return AckOK
}

// Slow reports a sign of a slow link seen by the writer (a write that
// blocked for longer than a tick).
func (p *Player) Slow(now time.Time) {
	p.mu.Lock()
	p.slowLocked(now)
	p.mu.Unlock()
}

func (p *Player) slowLocked(now time.Time) {
	if now.Sub(p.slowAt) > slowGap { // a new streak of signs
		p.slowFirst, p.slowN = now, 0
	}
	p.slowAt = now
	if p.slowN++; p.slowN >= slowSigns && now.Sub(p.slowFirst) >= slowPersist && p.lowered < MaxLowered {
		if !p.raised.IsZero() && now.Sub(p.raised) < PaceRelapse {
			p.calm = min(max(p.calm, PaceCalm)*2, PaceCalmMax) // a relapse
		} else {
			p.calm = PaceCalm
		}
		p.lowered = max(p.lowered*2, 2)
		p.changed = now
		p.lowerings++
		p.slowFirst, p.slowN = now, 0
	}
}

// Holds is how many due ticks flow control held back.
func (p *Player) Holds() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.holds
}

// Pacing returns Lowerings and Holds with one lock.
func (p *Player) Pacing() (lowerings, holds uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lowerings, p.holds
}

// Lowerings is how many times the server doubled the divisor.
func (p *Player) Lowerings() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lowerings
}

// Every returns the divisor in force: the client's, or the server's when it
// lowered this connection's rate.
func (p *Player) Every() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return int(max(p.every, p.lowered))
}

// due returns the tick to send next (0: none) and the baseline.
func (p *Player) due(now time.Time) (tick, base uint64) {
	last, _ := p.s.Head()
	p.mu.Lock()
	if p.outBytes > 0 && now.Sub(time.Unix(0, p.lastAt)) <= p.rtt+ProbeAfter {
		late := now.Sub(time.Unix(0, p.waiting)) > p.rtt+HoldSlack
		if late || (p.acked == 0 && p.outBytes > HoldBytes) {
			if late {
				p.slowLocked(now) // the path still carries what was sent
			}
			p.holds++
			p.mu.Unlock()
			return 0, 0
		}
	}
	if p.lowered > 1 { // calm for a while: raise the rate again
		if calm := max(p.calm, PaceCalm); now.Sub(p.slowAt) > calm && now.Sub(p.changed) > calm {
			p.lowered /= 2
			p.changed, p.raised = now, now
		}
	}
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
func (p *Player) Next(dst []byte) ([]byte, bool) { return p.NextAt(dst, time.Now()) }

// NextAt is Next at time now (the writer's clock reading for this write).
func (p *Player) NextAt(dst []byte, now time.Time) ([]byte, bool) {
	t, base := p.due(now)
	if t == 0 {
		return dst, false
	}
	s := p.s
	// The oldest tick this snapshot needs (its baseline, or the events
	// since the last one sent): an old one makes the stream hold more.
	ref := p.lastSent
	if base != 0 && (ref == 0 || base < ref) {
		ref = base
	}
	if ref != 0 && t-ref > s.half {
		s.needLong(now)
	}
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
	start := len(dst)
	dst = wire.AppendSnapPrefix(dst, e.snap.AckFor(p.id))
	evFrom := p.lastSent
	if s.radius == 0 {
		dst = append(dst, e.body(s, base, be, evFrom)...)
	} else {
		// The baseline's view is one this writer computed when it sent
		// that tick (kept in a small ring), or computed again.
		var baseView []int32
		if be != nil {
			if k := p.kept(base); k >= 0 {
				baseView = p.views[k].idx
			} else {
				p.baseView = be.viewOf(p.baseView[:0], uint32(p.id), s.radius)
				baseView = p.baseView
			}
		}
		k := p.slotFor(base)
		v := &p.views[k]
		v.idx = e.viewOf(v.idx[:0], uint32(p.id), s.radius)
		v.tick = t
		p.evs = s.events(p.evs[:0], evFrom, t)
		p.cur, p.curRows = v.idx, e.rows
		p.mine = p.interesting(p.mine[:0], p.evs)
		p.one[0] = p.mine
		dst = p.appendView(dst, head(e.snap, base), e, be, baseView, v.idx, p.one[:])
		clear(p.evs) // drop the references for the collector
		p.curRows = nil
	}
	if base == 0 {
		p.Keyframes++
	} else {
		p.Deltas++
	}
	p.lastSent = t
	p.mu.Lock()
	p.sent[t%sentRing] = t
	p.newest = t
	p.sentAt[t%sentRing] = now.UnixNano()
	if p.waiting == 0 {
		p.waiting = now.UnixNano()
	}
	p.lastAt = now.UnixNano()
	p.sentLen[t%sentRing] = int32(min(len(dst)-start, 1<<30))
	p.outBytes += int64(len(dst) - start)
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

// interesting appends to dst the events this player is sent: kills and
// respawns (rare, and a kill feed shows them all), and any other event
// naming the player itself or an entity in its view (the view is p.cur,
// indices into p.curRows, in id order). A shot far away is not sent, with its projectile.
func (p *Player) interesting(dst []game.Event, evs [][]game.Event) []game.Event {
	me := uint32(p.id)
	for _, tick := range evs {
		for _, ev := range tick {
			if ev.Kind == game.EventKill || ev.Kind == game.EventRespawn || ev.A == me || ev.B == me ||
				inView(p.curRows, p.cur, ev.A) || inView(p.curRows, p.cur, ev.B) {
				dst = append(dst, ev)
			}
		}
	}
	return dst
}

// appendView appends the body of a snapshot of view cur (indices into
// e.rows) as a delta from view baseView (indices into be.rows; be nil: a
// keyframe): the bytes of wire.AppendSnapBody, assembled from the tick's
// row parts (parts.go), which are shared by every view with this baseline,
// and whole rows for the entities entering the view.
func (p *Player) appendView(dst []byte, h wire.SnapHead, e, be *entry, baseView, cur []int32, evs [][]game.Event) []byte {
	dst = wire.AppendSnapHead(dst, h)
	var from *parts
	var baseRows []wire.Row
	if be != nil {
		from, baseRows = e.partsFrom(be), be.rows
	} else {
		baseView = nil
	}
	p.rowBuf, p.gone = p.rowBuf[:0], p.gone[:0]
	n, i := 0, 0
	var prev uint32
	for _, c := range cur {
		id := e.rows[c].ID
		for i < len(baseView) && baseRows[baseView[i]].ID < id {
			p.gone = append(p.gone, baseRows[baseView[i]].ID)
			i++
		}
		if i < len(baseView) && baseRows[baseView[i]].ID == id {
			i++
			part := from.part(c)
			if len(part) == 0 { // unchanged
				continue
			}
			p.rowBuf = wire.AppendRowFromPart(p.rowBuf, id-prev, part)
		} else { // entering the view (or a keyframe): whole
			p.rowBuf = wire.AppendRowWhole(p.rowBuf, id-prev, &e.rows[c])
		}
		prev = id
		n++
	}
	for ; i < len(baseView); i++ {
		p.gone = append(p.gone, baseRows[baseView[i]].ID)
	}
	dst = wire.AppendArrayLen(dst, n)
	dst = append(dst, p.rowBuf...)
	dst = wire.AppendGone(dst, p.gone)
	return wire.AppendSnapEvents(dst, evs)
}

// keptViews is how many of its recent views a writer keeps: the baseline
// is usually one of the last few ticks sent.
const keptViews = 4

type keptView struct {
	tick uint64
	idx  []int32 // indices into the tick's rows
}

// kept returns the index of the kept view of tick t, or -1.
func (p *Player) kept(t uint64) int {
	for i := range p.views {
		if p.views[i].tick == t && t != 0 {
			return i
		}
	}
	return -1
}

// slotFor returns the slot for a new view: the oldest, never the one of
// the baseline in use.
func (p *Player) slotFor(base uint64) int {
	best := -1
	for i := range p.views {
		if p.views[i].tick == base && base != 0 {
			continue
		}
		if best < 0 || p.views[i].tick < p.views[best].tick {
			best = i
		}
	}
	return best
}
