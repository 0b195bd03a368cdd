// Package stream is the per-match snapshot stream: one ring of recent ticks
// that every reader pulls from. The match goroutine only pushes (O(1), no
// encoding beyond quantizing the entities once); player writers pull "the
// newest tick as a delta from the tick this client acknowledged"
// (Player), spectator transports pull "the next ticks as deltas from the
// one I sent" (Cursor). Encodings are made lazily by the first reader that
// needs them and cached on the tick's entry, keyed by (baseline, format,
// view), so readers that share a baseline and a view share the bytes.
//
// Concurrency: Push and Close are called from the match goroutine; every
// other method may be called from any goroutine. A Player or a Cursor
// belongs to one reader goroutine (Player.Ack may come from another).
package stream

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode/wire"
)

// Config describes one match's stream.
type Config struct {
	Rate   int           // ticks per second
	Keep   time.Duration // history kept for spectators once watched
	Delay  time.Duration // the match's broadcast delay (spectators)
	Layout game.Layout   // precision and interest radius
}

// How much history an unwatched match keeps: enough for player baselines
// (an ack arrives within an RTT; a client more than this behind gets a
// keyframe). playerKeep is the usual; for longFor after a player's writer
// found its baseline or its last snapshot more than half of it old (a long
// round trip, a slow link, a low snapshot rate), the stream keeps
// playerKeepLong. Each held tick costs about 150 bytes per player of a
// match of 50 (the snapshot, its rows and encodings): 1 s instead of 2 s
// is about 3 KB less heap per connection.
const (
	playerKeep     = time.Second
	playerKeepLong = 2 * time.Second
	longFor        = 10 * time.Second
)

// Stream is one match's ring of recent ticks.
type Stream struct {
	cfg    Config
	rate   int
	delay  time.Duration
	quant  wire.Quant
	radius int64 // interest radius in wire units; 0: everybody sees everything

	mu      sync.RWMutex
	ring    []*entry // ring[tick % len]
	first   uint64   // oldest tick held (0: none yet)
	last    uint64   // newest tick held
	keep    uint64   // ticks held (len(ring) once watched)
	long    uint64   // ticks held while longUntil is ahead
	half    uint64   // half of keep: an older baseline asks for long
	ended   *entry   // the entry whose snapshot carries End
	closed  bool
	notify  chan struct{} // closed (and replaced) at every push and at close
	roster  []game.PlayerInfo
	watched bool

	// Spectators counts the spectators of this match (the server's limits).
	Spectators atomic.Int64

	// longUntil (Unix ns): until then the stream holds long ticks.
	longUntil atomic.Int64
}

// entry is one tick. Its snapshot and rows are immutable; encodings are
// filled once, under the entry's lock.
type entry struct {
	snap   *game.Snapshot
	roster []game.PlayerInfo // the roster as of this tick
	rows   []wire.Row        // the entities in wire units, sorted by id

	gridOnce sync.Once
	grid     grid
	parts    partsCache // entity rows pre-encoded per baseline, for views (interest)

	mu     sync.Mutex
	bodies map[bodyKey][]byte // player bodies of the whole view (no interest)
	key    [wire.NumFormats][]byte
	match  [wire.NumFormats][]byte
	end    [wire.NumFormats][]byte
	deltas map[deltaKey][]byte
}

type bodyKey struct{ base, evFrom uint64 }

type deltaKey struct {
	k uint64
	f wire.Format
}

// New returns an empty stream.
func New(cfg Config) *Stream {
	rate := max(cfg.Rate, 1)
	n := int((cfg.Keep+cfg.Delay)*time.Duration(rate)/time.Second) + 1
	keep := uint64(playerKeep*time.Duration(rate)/time.Second) + 1
	long := uint64(playerKeepLong*time.Duration(rate)/time.Second) + 1
	s := &Stream{
		cfg:    cfg,
		rate:   rate,
		delay:  cfg.Delay,
		quant:  wire.NewQuant(cfg.Layout.Precision),
		ring:   make([]*entry, max(n, int(long))),
		keep:   keep,
		long:   long,
		half:   max(keep/2, 1),
		notify: make(chan struct{}),
	}
	if cfg.Layout.ViewRadius > 0 {
		s.radius = max(int64(cfg.Layout.ViewRadius/s.quant.Pos+0.5), 1)
	}
	if cfg.Delay > 0 { // a delayed match is meant to be watched: keep it all
		s.keep = uint64(len(s.ring))
	}
	return s
}

// Rate is the match's tick rate.
func (s *Stream) Rate() int { return s.rate }

// Delay is the match's broadcast delay.
func (s *Stream) Delay() time.Duration { return s.delay }

// Quant is the wire precision of the match.
func (s *Stream) Quant() wire.Quant { return s.quant }

// Config is the configuration the stream was made with (a relay edge
// builds its own stream of the match from it).
func (s *Stream) Config() Config { return s.cfg }

// Tick returns tick t as it is held: its snapshot, its entities in wire
// units (sorted by id) and the roster as of the tick; ok is false when t
// is not held. None of them may be modified. For readers outside the
// package that re-encode ticks (a relay origin, see netcode/relay).
func (s *Stream) Tick(t uint64) (snap *game.Snapshot, rows []wire.Row, roster []game.PlayerInfo, ok bool) {
	e := s.entry(t)
	if e == nil {
		return nil, nil, nil, false
	}
	return e.snap, e.rows, e.roster, true
}

// Push records a tick. Called from the match goroutine: quantizes the
// entities once, no other encoding.
func (s *Stream) Push(snap *game.Snapshot) {
	s.PushRows(snap, s.quant.AppendRows(make([]wire.Row, 0, len(snap.Entities)), snap.Entities))
}

// PushRows records a tick whose entities are already in wire units (rows
// sorted by id, from this stream's Quant): a replay's ticks, read back
// from a file. snap.Entities is not looked at. rows must not change after.
func (s *Stream) PushRows(snap *game.Snapshot, rows []wire.Row) {
	e := &entry{snap: snap, rows: rows}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if snap.Roster != nil {
		s.roster = snap.Roster
	}
	e.roster = s.roster
	n := uint64(len(s.ring))
	if s.first != 0 && snap.Tick > s.last+1 { // never happens with the match loop; stay consistent
		for t := s.last + 1; t < snap.Tick && t < s.last+1+n; t++ {
			s.ring[t%n] = nil
		}
		s.first = snap.Tick
	}
	if s.first == 0 {
		s.first = snap.Tick
	}
	keep := s.keep
	if keep < s.long && time.Now().UnixNano() < s.longUntil.Load() {
		keep = s.long
	}
	for snap.Tick-s.first >= keep { // make room first: the slot may be the oldest's
		s.ring[s.first%n] = nil // for the collector
		s.first++
	}
	s.ring[snap.Tick%n] = e
	s.last = snap.Tick
	if snap.End != nil {
		s.ended = e
	}
	close(s.notify)
	s.notify = make(chan struct{})
}

// Close marks the end of the match: no more ticks. Readers finish what is
// held.
func (s *Stream) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.notify)
	}
}

// needLong makes the stream hold playerKeepLong of ticks for longFor from
// now: a player's baseline or last snapshot is getting old.
func (s *Stream) needLong(now time.Time) {
	if until := now.Add(longFor).UnixNano(); until-s.longUntil.Load() > int64(time.Second) {
		s.longUntil.Store(until) // at most once a second per stream
	}
}

// Watch makes the stream keep its whole ring (spectator history and
// broadcast delay) from now on.
func (s *Stream) Watch() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.watched = true
	s.keep = uint64(len(s.ring))
}

// Changed returns a channel closed at the next push or at close. Take it
// before looking at the head, so that no push is missed.
func (s *Stream) Changed() <-chan struct{} {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.notify
}

// Head returns the newest tick held (0: none) and whether the stream is
// closed.
func (s *Stream) Head() (uint64, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.last, s.closed
}

// view is a consistent look at the ring's bounds.
type view struct {
	first, last uint64
	closed      bool
	ended       *entry
	notify      <-chan struct{}
}

func (s *Stream) view() view {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return view{first: s.first, last: s.last, closed: s.closed, ended: s.ended, notify: s.notify}
}

// entry returns the entry of tick t, or nil when it is not held.
func (s *Stream) entry(t uint64) *entry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.first == 0 || t < s.first || t > s.last {
		return nil
	}
	return s.ring[t%uint64(len(s.ring))]
}

// events appends the events of the ticks in (from, to] that are held, in
// order; from == 0 means only to's.
func (s *Stream) events(dst [][]game.Event, from, to uint64) [][]game.Event {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if from == 0 || from >= to {
		from = to - 1
	}
	n := uint64(len(s.ring))
	for t := max(from+1, s.first); t <= to && t <= s.last; t++ {
		if e := s.ring[t%n]; e != nil && len(e.snap.Events) > 0 {
			dst = append(dst, e.snap.Events)
		}
	}
	return dst
}

// head is a snapshot's header fields on the wire.
func head(snap *game.Snapshot, base uint64) wire.SnapHead {
	return wire.SnapHead{Tick: snap.Tick, Base: base, Time: snap.Time.UnixMilli(), State: snap.State, Left: snap.Left.Milliseconds()}
}
