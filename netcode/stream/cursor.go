package stream

import (
	"time"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode/wire"
)

// Spectator policy constants.
const (
	// MaxBatch bounds the events produced in one step (a catch-up is
	// delivered in several).
	MaxBatch = 256
	// skipLimit skips within skipWindow mean a spectator cannot keep up.
	skipLimit  = 3
	skipWindow = 10 * time.Second
)

// Event is one event of a spectator stream. ID is the tick for keyframes
// and deltas, 0 for events that carry no id (match, end).
type Event struct {
	Kind string
	ID   uint64
	Data []byte
}

// Cursor walks the stream for one spectator, whatever its transport:
// keyframe first (or after a gap), then deltas every k ticks, match events
// when the state or roster changes, and the end. One goroutine only.
type Cursor struct {
	s     *Stream
	f     wire.Format
	k     uint64        // send every k-th tick (spectator rate)
	delay time.Duration // server delay + the spectator's own
	lag   uint64        // ticks behind the visible head that count as "slow"

	sent    uint64 // last tick sent (0: none; a keyframe comes first)
	catchUp uint64 // until this tick, being behind is a legitimate catch-up
	skips   []time.Time
	done    bool
	tooSlow bool
	ended   bool
	evs     [][]game.Event

	pace *pacing // non-nil: a replay played at a speed (Pace)
}

// pacing is a replay cursor's clock: the visible head is from at the
// first step and advances rate × speed ticks per second of wall time.
type pacing struct {
	from  uint64
	speed int64 // thousandths: 1000 is real time
	start time.Time
}

// NewCursor starts a spectator's walk: every k-th tick, delay added to the
// match's broadcast delay (a floor), resuming after tick after (0: from a
// keyframe).
func (s *Stream) NewCursor(f wire.Format, k uint64, delay time.Duration, after uint64) *Cursor {
	return &Cursor{
		s: s, f: f, k: max(k, 1), delay: s.delay + max(delay, 0),
		lag: uint64(s.rate) * 2, sent: after,
	}
}

// NeverBehind makes the cursor take whatever is held however far behind
// (long polling: the client is not connected in between).
func (c *Cursor) NeverBehind() { c.lag = ^uint64(0) }

// Done reports whether the stream has ended for this spectator.
func (c *Cursor) Done() bool { return c.done }

// TooSlow reports whether the cursor gave up on a spectator that cannot
// keep up.
func (c *Cursor) TooSlow() bool { return c.tooSlow }

// Sent is the last tick sent.
func (c *Cursor) Sent() uint64 { return c.sent }

// Changed is the stream's change channel (see Stream.Changed). A paced
// cursor's stream is closed and complete: its head moves with time, so
// Changed is nil (never ready) and Step's next time says when to step.
func (c *Cursor) Changed() <-chan struct{} {
	if c.pace != nil {
		return nil
	}
	return c.s.Changed()
}

// Pace makes the cursor play a closed stream (a replay) instead of
// following a live one: the visible head is tick from at the first Step and
// advances rate × speed/1000 ticks per second from then, up to the last
// tick; the broadcast delay does not apply. from is clamped to the ticks
// held. The "behind" limit grows with the speed (it stays 2 s of match
// time). Call it before the first Step.
func (c *Cursor) Pace(from uint64, speed int64) {
	v := c.s.view()
	from = min(max(from, v.first), v.last)
	speed = max(speed, 1)
	c.pace = &pacing{from: from, speed: speed}
	if c.lag != ^uint64(0) {
		c.lag = max(c.lag, c.lag*uint64(speed)/1000)
	}
}

// paced is visible for a paced cursor: the head at now, and when the tick
// after it becomes visible (zero at the last tick).
func (c *Cursor) paced(now time.Time, v view) (uint64, time.Time) {
	p := c.pace
	if v.first == 0 {
		return 0, time.Time{}
	}
	if p.start.IsZero() {
		p.start = now
	}
	rate := uint64(c.s.rate) * uint64(p.speed) // ticks per 1000 s
	us := uint64(max(now.Sub(p.start), 0) / time.Microsecond)
	adv := us / 1000 * rate / 1e6 // ms × ticks/1000 s … in ticks; no overflow below ~10^6 h
	hd := min(p.from+adv, v.last)
	if hd >= v.last {
		return v.last, time.Time{}
	}
	next := hd + 1 - p.from // ticks from the start to the next one
	ms := (next*1e6 + rate - 1) / rate
	return hd, p.start.Add(time.Duration(ms) * time.Millisecond)
}

// Step appends the events due at now to evs. It returns them, and the time
// at which new ticks become visible if that is not "at the next push".
func (c *Cursor) Step(now time.Time, evs []Event) ([]Event, time.Time) {
	if c.done {
		return evs, time.Time{}
	}
	v := c.s.view()
	var hd uint64
	var nextAt time.Time
	if c.pace != nil {
		hd, nextAt = c.paced(now, v)
	} else {
		hd, nextAt = c.s.visible(now, c.delay)
	}
	if hd == 0 {
		if v.closed {
			c.done = true
		}
		return evs, nextAt
	}
	if c.catchUp == 0 {
		c.catchUp = hd
	}
	switch {
	case c.sent != 0 && c.s.entry(c.sent) == nil:
		// Fell out of the history (or resumed from too long ago): restart.
		evs = c.keyframe(evs, hd)
	case c.sent == 0:
		evs = c.keyframe(evs, hd)
	case c.sent >= c.catchUp && hd > c.sent && hd-c.sent > c.lag:
		// Behind the live edge by more than it may: skip to the newest.
		c.skips = append(c.skips, now)
		for len(c.skips) > 0 && now.Sub(c.skips[0]) > skipWindow {
			c.skips = c.skips[1:]
		}
		if len(c.skips) >= skipLimit {
			c.tooSlow, c.done = true, true
			return evs, time.Time{}
		}
		evs = c.keyframe(evs, hd)
	default:
		for t := c.sent + c.k; t <= hd && len(evs) < MaxBatch && !c.done; t += c.k {
			e := c.s.entry(t)
			var d []byte
			if e != nil {
				d = c.s.delta(e, c.k, c.f)
			}
			if d == nil {
				evs = c.keyframe(evs, hd)
				break
			}
			if c.s.changedBetween(t-c.k, t) {
				evs = append(evs, Event{Kind: wire.SpecMatch, Data: e.matchEvent(c.f)})
			}
			evs = append(evs, Event{Kind: wire.SpecDelta, ID: t, Data: d})
			c.sent = t
			evs = c.maybeEnd(evs, t-c.k, t, v)
		}
	}
	if !c.done && v.closed && (c.sent >= v.last || v.last-c.sent < c.k) {
		// Nothing more can come (with a step k > 1 the last tick may not be
		// on this spectator's grid): the end, if the match ended, and done.
		evs = c.maybeEnd(evs, 0, v.last, v)
		c.done = true
	}
	return evs, nextAt
}

// keyframe restarts the stream at hd (aligned down to the rate step, so
// that spectators of one rate share their deltas).
func (c *Cursor) keyframe(evs []Event, hd uint64) []Event {
	t := hd - hd%c.k
	e := c.s.entry(t)
	if e == nil {
		t, e = hd, c.s.entry(hd)
	}
	evs = append(evs, Event{Kind: wire.SpecKeyframe, ID: t, Data: e.keyframe(c.s, c.f)})
	c.sent = t
	return c.maybeEnd(evs, 0, t, c.s.view())
}

// maybeEnd appends the end event when the match ended in (from, to].
func (c *Cursor) maybeEnd(evs []Event, from, to uint64, v view) []Event {
	if v.ended == nil || c.ended {
		return evs
	}
	if t := v.ended.snap.Tick; t > from && t <= to {
		c.ended, c.done = true, true
		evs = append(evs, Event{Kind: wire.SpecEnd, Data: v.ended.endEvent(c.f)})
	}
	return evs
}

// visible returns the newest tick whose time is at least delay old at now
// (0 if none), and when the tick after it becomes visible (zero if not
// held yet). Binary search under one read lock: times grow with ticks.
func (s *Stream) visible(now time.Time, delay time.Duration) (uint64, time.Time) {
	cut := now.Add(-delay)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.first == 0 {
		return 0, time.Time{}
	}
	at := func(t uint64) *game.Snapshot { return s.ring[t%uint64(len(s.ring))].snap }
	lo, hi := s.first, s.last
	if at(lo).Time.After(cut) {
		return 0, at(lo).Time.Add(delay)
	}
	for lo < hi { // invariant: at(lo) visible
		mid := lo + (hi-lo+1)/2
		if at(mid).Time.After(cut) {
			hi = mid - 1
		} else {
			lo = mid
		}
	}
	if lo < s.last {
		return lo, at(lo + 1).Time.Add(delay)
	}
	return lo, time.Time{}
}

func (e *entry) keyframe(s *Stream, f wire.Format) []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.key[f] == nil {
		e.key[f] = wire.AppendSpecKeyframe(nil, f, head(e.snap, 0), s.quant, e.rows, [][]game.Event{e.snap.Events}, e.roster)
	}
	return e.key[f]
}

func (e *entry) matchEvent(f wire.Format) []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.match[f] == nil {
		e.match[f] = wire.AppendSpecMatch(nil, f, e.snap, e.roster)
	}
	return e.match[f]
}

func (e *entry) endEvent(f wire.Format) []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.end[f] == nil {
		e.end[f] = wire.AppendSpecEnd(nil, f, e.snap.Tick, e.snap.End)
	}
	return e.end[f]
}

// delta returns the delta from the tick k before e (base) to e, with the
// events of the ticks in between; nil if a tick in between is not held.
func (s *Stream) delta(e *entry, k uint64, f wire.Format) []byte {
	e.mu.Lock()
	if b, ok := e.deltas[deltaKey{k, f}]; ok {
		e.mu.Unlock()
		return b
	}
	e.mu.Unlock()
	t := e.snap.Tick
	base := s.entry(t - k)
	if base == nil {
		return nil
	}
	evs := make([][]game.Event, 0, k)
	var roster []game.PlayerInfo
	for u := t - k + 1; u <= t; u++ {
		m := s.entry(u)
		if m == nil {
			return nil
		}
		evs = append(evs, m.snap.Events)
		if m.snap.Roster != nil {
			roster = m.roster
		}
	}
	b := wire.AppendSpecDelta(nil, f, head(e.snap, base.snap.Tick), base.rows, e.rows, evs, roster)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.deltas == nil {
		e.deltas = make(map[deltaKey][]byte, 2)
	}
	if prev, ok := e.deltas[deltaKey{k, f}]; ok {
		return prev // raced with another spectator: keep one copy
	}
	e.deltas[deltaKey{k, f}] = b
	return b
}

// changedBetween reports whether the state or the roster changed in the
// ticks (from, to].
func (s *Stream) changedBetween(from, to uint64) bool {
	prev := s.entry(from)
	for u := from + 1; u <= to; u++ {
		e := s.entry(u)
		if e == nil {
			return false
		}
		if e.snap.Roster != nil || (prev != nil && prev.snap.State != e.snap.State) {
			return true
		}
		prev = e
	}
	return false
}
