package netcode

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tickstream/tickstream/netcode/stream"
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

// opener admits a spectator of the request's match or replay for one
// transport: it checks the limits and the query and returns a cursor and
// a release function. Refusals are written as HTTP errors (and counted);
// ok is false then. The transports (sse.go, poll.go, watch.go) are the same
// for live matches (spectate) and replays (spectateReplay, replays.go).
type opener func(w http.ResponseWriter, r *http.Request, f wire.Format, transport string) (cur *stream.Cursor, release func(), ok bool)

// spectate is the opener of a live match.
func (s *Server) spectate(w http.ResponseWriter, r *http.Request, f wire.Format, transport string) (*stream.Cursor, func(), bool) {
	id := r.PathValue("id")
	var st *stream.Stream
	done := func() {}
	if h := s.hubFor(id); h != nil {
		st = h.watch()
	} else if st, done = s.relayed(r, id); st == nil {
		s.refuseHTTP(w, http.StatusNotFound, "no_such_match", "no such match")
		return nil, nil, false
	}
	sr, err := parseSpectatorQuery(r.URL.Query(), r.Header.Get("Last-Event-ID"), st.Rate(), s.cfg.Spectators.maxExtraDelay())
	if err != nil {
		done()
		s.refuseHTTP(w, http.StatusBadRequest, "bad_query", err.Error())
		return nil, nil, false
	}
	release, ok := s.admit(w, st, s.metrics.spectators.WithLabelValues(transport))
	if !ok {
		done()
		return nil, nil, false
	}
	return st.NewCursor(f, sr.k, sr.delay, sr.after), func() { release(); done() }, true
}

// relayed opens a match of another node of the cluster through the relay
// (nil when there is no such live match, or no relay).
func (s *Server) relayed(r *http.Request, id string) (*stream.Stream, func()) {
	if s.cfg.Router == nil || s.cfg.Relay == nil {
		return nil, nil
	}
	rm, ok := s.cfg.Router.Lookup(id)
	if !ok {
		return nil, nil
	}
	st, release, err := s.cfg.Relay.Open(r.Context(), rm)
	if err != nil {
		s.log.Debug().Err(err).Str("match", id).Str("node", rm.Node).Msg("relay open failed")
		return nil, nil
	}
	return st, release
}

// admit counts a spectator of st against the per-match (per-replay) and
// per-server limits and in gauge; over a limit it answers 503.
func (s *Server) admit(w http.ResponseWriter, st *stream.Stream, gauge prometheus.Gauge) (func(), bool) {
	if n := st.Spectators.Add(1); n > int64(s.cfg.Spectators.MaxPerMatch) {
		st.Spectators.Add(-1)
		s.refuseHTTP(w, http.StatusServiceUnavailable, "spectators_full", "spectator limit of this match reached")
		return nil, false
	}
	if n := s.spectators.Add(1); n > int64(s.cfg.Spectators.MaxTotal) {
		s.spectators.Add(-1)
		st.Spectators.Add(-1)
		s.refuseHTTP(w, http.StatusServiceUnavailable, "spectators_full", "spectator limit of this server reached")
		return nil, false
	}
	gauge.Inc()
	return func() {
		gauge.Dec()
		s.spectators.Add(-1)
		st.Spectators.Add(-1)
	}, true
}
