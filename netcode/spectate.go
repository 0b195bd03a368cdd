package netcode

import (
	"net/http"
	"time"

	"github.com/tickstream/tickstream/netcode/wire"
)

// SpectatorConfig configures spectator streams. Zero fields take the
// documented default.
type SpectatorConfig struct {
	// History is how much of each watched match is kept for resuming
	// (Last-Event-ID, after=) and for broadcast delays; zero means 10 s.
	History time.Duration
	// KeepAlive is the interval of SSE comment lines on an idle stream;
	// zero means 15 s.
	KeepAlive time.Duration
	// Retry is the reconnection delay an SSE stream suggests; zero means 2 s.
	Retry time.Duration
	// PollWait is the longest a long-poll request waits for news; zero
	// means 25 s.
	PollWait time.Duration
	// MaxPerMatch and MaxTotal bound spectators; zero means 5000 and 20000.
	MaxPerMatch, MaxTotal int
}

func (c SpectatorConfig) withDefaults() SpectatorConfig {
	if c.History <= 0 {
		c.History = 10 * time.Second
	}
	if c.KeepAlive <= 0 {
		c.KeepAlive = 15 * time.Second
	}
	if c.Retry <= 0 {
		c.Retry = 2 * time.Second
	}
	if c.PollWait <= 0 {
		c.PollWait = 25 * time.Second
	}
	if c.MaxPerMatch <= 0 {
		c.MaxPerMatch = 5000
	}
	if c.MaxTotal <= 0 {
		c.MaxTotal = 20000
	}
	return c
}

// maxExtraDelay is the longest delay a spectator may add to the match's:
// what the history holds, less a margin for resuming.
func (c SpectatorConfig) maxExtraDelay() time.Duration { return c.History * 8 / 10 }

// Spectator policy constants.
const (
	// maxBatch bounds the events produced in one step (a catch-up is
	// delivered in several).
	maxBatch = 256
	// skipLimit skips within skipWindow mean a spectator cannot keep up.
	skipLimit  = 3
	skipWindow = 10 * time.Second
)

// specEvent is one event of a spectator stream. id is the tick for
// keyframes and deltas, 0 for events that carry no id (match, end).
type specEvent struct {
	kind string
	id   uint64
	data []byte
}

// cursor walks a match's history for one spectator, whatever its
// transport: keyframe first (or after a gap), then deltas every k ticks,
// match events when the state or roster changes, and the end.
type cursor struct {
	h     *history
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
}

// step appends the events due at now to evs. It returns them, and the time
// at which new ticks become visible if that is not "at the next push".
func (c *cursor) step(now time.Time, evs []specEvent) ([]specEvent, time.Time) {
	if c.done {
		return evs, time.Time{}
	}
	v := c.h.view()
	head, nextAt := c.h.visible(now, c.delay)
	if head == 0 {
		if v.closed {
			c.done = true
		}
		return evs, nextAt
	}
	if c.catchUp == 0 {
		c.catchUp = head
	}
	switch {
	case c.sent != 0 && c.h.entry(c.sent) == nil:
		// Fell out of the history (or resumed from too long ago): restart.
		evs = c.keyframe(evs, head)
	case c.sent == 0:
		evs = c.keyframe(evs, head)
	case c.sent >= c.catchUp && head > c.sent && head-c.sent > c.lag:
		// Behind the live edge by more than it may: skip to the newest.
		c.skips = append(c.skips, now)
		for len(c.skips) > 0 && now.Sub(c.skips[0]) > skipWindow {
			c.skips = c.skips[1:]
		}
		if len(c.skips) >= skipLimit {
			c.tooSlow, c.done = true, true
			return evs, time.Time{}
		}
		evs = c.keyframe(evs, head)
	default:
		for t := c.sent + c.k; t <= head && len(evs) < maxBatch && !c.done; t += c.k {
			e := c.h.entry(t)
			d := c.h.delta(e, c.k, c.f)
			if e == nil || d == nil {
				evs = c.keyframe(evs, head)
				break
			}
			if c.h.changedBetween(t-c.k, t) {
				evs = append(evs, specEvent{kind: wire.SpecMatch, data: e.matchEvent(c.f)})
			}
			evs = append(evs, specEvent{kind: wire.SpecDelta, id: t, data: d})
			c.sent = t
			evs = c.maybeEnd(evs, t-c.k, t, v)
		}
	}
	if !c.done && v.closed && c.sent >= v.last {
		evs = c.maybeEnd(evs, 0, c.sent, v)
		c.done = true
	}
	return evs, nextAt
}

// keyframe restarts the stream at head (aligned down to the rate step, so
// that spectators of one rate share their deltas).
func (c *cursor) keyframe(evs []specEvent, head uint64) []specEvent {
	t := head - head%c.k
	e := c.h.entry(t)
	if e == nil {
		t, e = head, c.h.entry(head)
	}
	evs = append(evs, specEvent{kind: wire.SpecKeyframe, id: t, data: e.keyframe(c.f)})
	c.sent = t
	return c.maybeEnd(evs, 0, t, c.h.view())
}

// maybeEnd appends the end event when the match ended in (from, to].
func (c *cursor) maybeEnd(evs []specEvent, from, to uint64, v view) []specEvent {
	if v.ended == nil || c.ended {
		return evs
	}
	if t := v.ended.snap.Tick; t > from && t <= to {
		c.ended, c.done = true, true
		evs = append(evs, specEvent{kind: wire.SpecEnd, data: v.ended.endEvent(c.f)})
	}
	return evs
}

// spectate admits a spectator of the match in the request: it checks the
// limits and the query, and returns a cursor and a release function.
// Refusals are written as HTTP errors (and counted); ok is false then.
func (s *Server) spectate(w http.ResponseWriter, r *http.Request, f wire.Format, transport string) (*cursor, func(), bool) {
	id := r.PathValue("id")
	h := s.hubFor(id)
	if h == nil {
		s.refuseHTTP(w, http.StatusNotFound, "no_such_match", "no such match")
		return nil, nil, false
	}
	sr, err := parseSpectatorQuery(r.URL.Query(), r.Header.Get("Last-Event-ID"), h.hist.rate, s.cfg.Spectators.maxExtraDelay())
	if err != nil {
		s.refuseHTTP(w, http.StatusBadRequest, "bad_query", err.Error())
		return nil, nil, false
	}
	hist := h.watch()
	if n := hist.spectators.Add(1); n > int64(s.cfg.Spectators.MaxPerMatch) {
		hist.spectators.Add(-1)
		s.refuseHTTP(w, http.StatusServiceUnavailable, "spectators_full", "spectator limit of this match reached")
		return nil, nil, false
	}
	if n := s.spectators.Add(1); n > int64(s.cfg.Spectators.MaxTotal) {
		s.spectators.Add(-1)
		hist.spectators.Add(-1)
		s.refuseHTTP(w, http.StatusServiceUnavailable, "spectators_full", "spectator limit of this server reached")
		return nil, nil, false
	}
	gauge := s.metrics.spectators.WithLabelValues(transport)
	gauge.Inc()
	release := func() {
		gauge.Dec()
		s.spectators.Add(-1)
		hist.spectators.Add(-1)
	}
	return newCursor(hist, f, sr), release, true
}

// newCursor starts a spectator's walk of hist. The match's broadcast delay
// is a floor: the spectator's own delay (never negative) adds to it.
func newCursor(hist *history, f wire.Format, sr spectatorRequest) *cursor {
	return &cursor{
		h: hist, f: f, k: max(sr.k, 1), delay: hist.serverDelay + max(sr.delay, 0),
		lag: uint64(hist.rate) * 2, sent: sr.after,
	}
}
