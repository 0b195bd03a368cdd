package netcode

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode/wire"
)

// history is a match's recent ticks for spectators: a bounded ring of
// snapshots, each encoded at most once per format and per kind (keyframe,
// delta against the tick k before, match event, end), lazily, on the first
// spectator that needs it, and shared by all the others. The match
// goroutine pushes; spectators read. It outlives the match until its last
// spectator has finished (the ring is garbage when nobody holds it).
type history struct {
	rate        int
	serverDelay time.Duration

	mu     sync.RWMutex
	ring   []*histEntry // ring[tick % len]
	first  uint64       // oldest tick held (0: none yet)
	last   uint64       // newest tick held
	ended  *histEntry   // the entry whose snapshot carries End
	closed bool
	notify chan struct{} // closed (and replaced) at every push and at close

	spectators atomic.Int64
}

// histEntry is one tick. Its snapshot is immutable; the encodings are
// filled once, under the entry's lock.
type histEntry struct {
	snap   *game.Snapshot
	roster []game.PlayerInfo // the roster as of this tick

	mu     sync.Mutex
	key    [wire.NumFormats][]byte
	match  [wire.NumFormats][]byte
	end    [wire.NumFormats][]byte
	deltas map[deltaKey][]byte
}

type deltaKey struct {
	k uint64
	f wire.Format
}

func newHistory(rate int, keep, serverDelay time.Duration) *history {
	n := int((keep+serverDelay)*time.Duration(rate)/time.Second) + 1
	return &history{
		rate:        rate,
		serverDelay: serverDelay,
		ring:        make([]*histEntry, n),
		notify:      make(chan struct{}),
	}
}

// push records a tick. Called from the match goroutine: O(1), no encoding.
func (h *history) push(s *game.Snapshot, roster []game.PlayerInfo) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	e := &histEntry{snap: s, roster: roster}
	h.ring[s.Tick%uint64(len(h.ring))] = e
	if h.first == 0 {
		h.first = s.Tick
	}
	h.last = s.Tick
	if h.last-h.first >= uint64(len(h.ring)) {
		h.first = h.last - uint64(len(h.ring)) + 1
	}
	if s.End != nil {
		h.ended = e
	}
	close(h.notify)
	h.notify = make(chan struct{})
}

// close marks the end of the match: no more ticks.
func (h *history) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		close(h.notify)
	}
}

// view is a consistent look at the ring's bounds.
type view struct {
	first, last uint64
	closed      bool
	ended       *histEntry
	notify      <-chan struct{}
}

func (h *history) view() view {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return view{first: h.first, last: h.last, closed: h.closed, ended: h.ended, notify: h.notify}
}

// entry returns the entry of tick t, or nil when it is not held.
func (h *history) entry(t uint64) *histEntry {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.first == 0 || t < h.first || t > h.last {
		return nil
	}
	return h.ring[t%uint64(len(h.ring))]
}

// visible returns the newest tick whose time is at least delay old at now
// (0 if none), and when the tick after it becomes visible (zero if not
// held yet). Binary search under one read lock: times grow with ticks.
func (h *history) visible(now time.Time, delay time.Duration) (uint64, time.Time) {
	cut := now.Add(-delay)
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.first == 0 {
		return 0, time.Time{}
	}
	at := func(t uint64) *game.Snapshot { return h.ring[t%uint64(len(h.ring))].snap }
	lo, hi := h.first, h.last
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
	if lo < h.last {
		return lo, at(lo + 1).Time.Add(delay)
	}
	return lo, time.Time{}
}

func (e *histEntry) keyframe(f wire.Format) []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.key[f] == nil {
		e.key[f] = wire.AppendSpecKeyframe(nil, f, e.snap, e.roster)
	}
	return e.key[f]
}

func (e *histEntry) matchEvent(f wire.Format) []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.match[f] == nil {
		e.match[f] = wire.AppendSpecMatch(nil, f, e.snap, e.roster)
	}
	return e.match[f]
}

func (e *histEntry) endEvent(f wire.Format) []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.end[f] == nil {
		e.end[f] = wire.AppendSpecEnd(nil, f, e.snap.Tick, e.snap.End)
	}
	return e.end[f]
}

// delta returns the delta from the tick k before e (base) to e, with the
// events of the ticks in between; nil if a tick in between is not held.
func (h *history) delta(e *histEntry, k uint64, f wire.Format) []byte {
	e.mu.Lock()
	if b, ok := e.deltas[deltaKey{k, f}]; ok {
		e.mu.Unlock()
		return b
	}
	e.mu.Unlock()
	t := e.snap.Tick
	base := h.entry(t - k)
	if base == nil {
		return nil
	}
	evs := make([][]game.Event, 0, k)
	var roster []game.PlayerInfo
	for u := t - k + 1; u <= t; u++ {
		m := h.entry(u)
		if m == nil {
			return nil
		}
		evs = append(evs, m.snap.Events)
		if m.snap.Roster != nil {
			roster = m.roster
		}
	}
	b := wire.AppendSpecDelta(nil, f, base.snap, e.snap, evs, roster)
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
func (h *history) changedBetween(from, to uint64) bool {
	prev := h.entry(from)
	for u := from + 1; u <= to; u++ {
		e := h.entry(u)
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
