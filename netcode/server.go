package netcode

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode/replay"
	"github.com/tickstream/tickstream/netcode/stream"
	"github.com/tickstream/tickstream/netcode/wire"
)

// Server serves players and the HTTP API for one match directory.
type Server struct {
	cfg     Config
	dir     Directory
	log     zerolog.Logger
	warnLog zerolog.Logger // sampled, for policy disconnects
	metrics *metrics
	tokens  *tokenSigner
	mux     *http.ServeMux

	// Hot-path counters, resolved once.
	snapshotsSent, inputsQueued, inputsDropped, inputsRateLimited prometheus.Counter
	snapKeyframes, snapDeltas, snapKeyBytes, snapDeltaBytes       prometheus.Counter
	acks                                                          [4]prometheus.Counter // by stream.AckResult (AckNone: rate limited)
	controlDropped                                                prometheus.Counter

	clients *clients      // per-client connection, seat and creation limits
	budgets *budgets      // per-seat input budgets, across resumes
	joins   *rate.Limiter // the node's join admission limit; nil: off

	hubs       sync.Map      // match id → *hub
	replays    *replay.Store // nil: recording off
	spectators atomic.Int64

	mu       sync.Mutex
	sessions map[*session]struct{}
	watchers map[*watcher]struct{}
	wg       sync.WaitGroup // one per live session

	rawReads bool // plain-TCP player connections take the reactor (wsraw.go)
	// batchWrites: the writer pool sends a tick's snapshots in one
	// io_uring submission per job (writers_linux.go)
	batchWrites bool

	draining   atomic.Bool
	connOrder  atomic.Uint64 // numbers player connections (session.order)
	drain      chan struct{} // closed when a shutdown starts
	stopReaper chan struct{}
	reaperDone chan struct{}
	closeOnce  sync.Once
}

// NewServer builds a server. newDir builds its match directory (the caller
// chooses and configures it) around the server's publisher hook; the server
// owns the directory from then on, and Shutdown closes it.
func NewServer(cfg Config, newDir NewDirectory) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if newDir == nil {
		return nil, fmt.Errorf("no match directory")
	}
	s := &Server{
		cfg:        cfg,
		log:        cfg.Logger,
		warnLog:    cfg.Logger.Sample(&zerolog.BurstSampler{Burst: 10, Period: time.Second}),
		sessions:   make(map[*session]struct{}),
		watchers:   make(map[*watcher]struct{}),
		stopReaper: make(chan struct{}),
		drain:      make(chan struct{}),
		reaperDone: make(chan struct{}),
		clients:    newClients(cfg.Limits, cfg.TrustedProxies),
		budgets:    newBudgets(cfg.InputRate, cfg.InputBurst),
		joins:      newJoinLimiter(cfg.Limits),
		rawReads:   !cfg.GoroutineReader && rawPathAvailable(),
	}
	s.batchWrites = s.rawReads && !cfg.NoIOURing && ioURingAvailable()
	if s.tokens, err = newTokenSigner(cfg.ResumeSecret, cfg.ResumeTTL); err != nil {
		return nil, err
	}
	s.metrics = newMetrics(func() float64 { return float64(len(s.dir.List())) }, func() float64 {
		n := 0
		for _, m := range s.dir.List() {
			n += m.Disconnected
		}
		return float64(n)
	}, func() float64 {
		if s.replays == nil {
			return 0
		}
		return float64(s.replays.RecordsRead())
	})
	if cfg.Replays.Dir != "" {
		rc := cfg.Replays
		rc.Events, rc.Logger = replayEvents{s.metrics}, cfg.Logger
		if s.replays, err = replay.NewStore(rc); err != nil {
			return nil, err
		}
	}
	dir, err := newDir(func(id string, mc game.MatchConfig, layout game.Layout) game.Publisher {
		h := newHub(s, id, mc, layout)
		if s.replays != nil {
			h.rec = s.replays.StartTraced(id, mc, h.st.Quant())
		}
		s.hubs.Store(id, h)
		return h
	})
	if err != nil {
		return nil, err
	}
	s.dir = dir
	s.snapshotsSent = s.metrics.snapshotsSent
	s.snapKeyframes = s.metrics.snapshots.WithLabelValues("keyframe")
	s.snapDeltas = s.metrics.snapshots.WithLabelValues("delta")
	s.snapKeyBytes = s.metrics.snapshotBytes.WithLabelValues("keyframe")
	s.snapDeltaBytes = s.metrics.snapshotBytes.WithLabelValues("delta")
	s.acks = [4]prometheus.Counter{
		stream.AckOK: s.metrics.acks.WithLabelValues("ok"), stream.AckNone: s.metrics.acks.WithLabelValues(reasonRateLimited),
		stream.AckStale: s.metrics.acks.WithLabelValues("stale"), stream.AckUnsent: s.metrics.acks.WithLabelValues("unsent"),
	}
	s.inputsQueued = s.metrics.inputs.WithLabelValues("queued")
	s.inputsDropped = s.metrics.inputs.WithLabelValues("dropped")
	s.inputsRateLimited = s.metrics.inputs.WithLabelValues(reasonRateLimited)
	s.controlDropped = s.metrics.refusals.WithLabelValues(reasonControlLimited)
	s.routes()
	go s.scan()
	return s, nil
}

// Directory returns the server's match directory.
func (s *Server) Directory() Directory { return s.dir }

// Handler returns the HTTP handler of every endpoint.
func (s *Server) Handler() http.Handler { return s.mux }

// Metrics returns the server's Prometheus registry.
func (s *Server) Metrics() *prometheus.Registry { return s.metrics.reg }

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /play", s.connCapDetached(s.handlePlay))
	s.mux.HandleFunc("GET /api/matches", s.handleListMatches)
	s.mux.HandleFunc("POST /api/matches", s.handleCreateMatch)
	s.mux.HandleFunc("GET /api/matches/{id}", s.handleGetMatch)
	s.mux.HandleFunc("GET /api/matches/{id}/events", s.connCap(s.handleEvents))
	s.mux.HandleFunc("GET /api/matches/{id}/poll", s.connCap(s.handlePoll))
	s.mux.HandleFunc("GET /api/matches/{id}/watch", s.connCap(s.handleWatch))
	s.mux.HandleFunc("GET /api/replays", s.handleListReplays)
	s.mux.HandleFunc("GET /api/replays/{id}", s.handleGetReplay)
	s.mux.HandleFunc("GET /api/replays/{id}/download", s.handleDownloadReplay)
	s.mux.HandleFunc("GET /api/replays/{id}/events", s.connCap(func(w http.ResponseWriter, r *http.Request) {
		s.serveEvents(w, r, s.spectateReplay)
	}))
	s.mux.HandleFunc("GET /api/replays/{id}/poll", s.connCap(func(w http.ResponseWriter, r *http.Request) {
		s.servePoll(w, r, s.spectateReplay)
	}))
	s.mux.HandleFunc("GET /api/replays/{id}/watch", s.connCap(func(w http.ResponseWriter, r *http.Request) {
		s.serveWatch(w, r, s.spectateReplay)
	}))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if s.draining.Load() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "draining"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	if s.cfg.Static != nil {
		s.mux.Handle("GET /", s.cfg.Static)
	}
}

func (s *Server) hubFor(match string) *hub {
	if h, ok := s.hubs.Load(match); ok {
		return h.(*hub)
	}
	return nil
}

// hubClosed forgets a closed match's hub and folds its tick counters into
// the server's metrics.
func (s *Server) hubClosed(h *hub) {
	s.hubs.Delete(h.match)
	if m := s.dir.Get(h.match); m != nil {
		st := m.Stats()
		s.metrics.ticks.Add(float64(st.Ticks))
		s.metrics.ticksLate.Add(float64(st.Late))
		s.metrics.ticksSkipped.Add(float64(st.Skipped))
	}
}

func (s *Server) addSession(sess *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining.Load() {
		return false
	}
	s.sessions[sess] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) removeSession(sess *session) {
	s.mu.Lock()
	delete(s.sessions, sess)
	s.mu.Unlock()
	s.wg.Done()
}

func (s *Server) addWatcher(wt *watcher) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining.Load() {
		return false
	}
	s.watchers[wt] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) removeWatcher(wt *watcher) {
	s.mu.Lock()
	delete(s.watchers, wt)
	s.mu.Unlock()
	s.wg.Done()
}

func (s *Server) snapshotWatchers(dst []*watcher) []*watcher {
	s.mu.Lock()
	defer s.mu.Unlock()
	dst = dst[:0]
	for wt := range s.watchers {
		dst = append(dst, wt)
	}
	return dst
}

func (s *Server) snapshotSessions(dst []*session) []*session {
	s.mu.Lock()
	defer s.mu.Unlock()
	dst = dst[:0]
	for sess := range s.sessions {
		dst = append(dst, sess)
	}
	return dst
}

// scan is the heartbeat interceptor's clock: one goroutine and one ticker
// for the whole server, not a timer per session. Each pass declares dead
// the sessions that sent nothing for the dead-after timeout, drops those
// whose write is stuck past the write deadline, closes with 4007 those
// that stayed behind (unanswered pings) too long, tells writers when a
// ping is due, and updates the session gauges. It never blocks: every
// close runs on its own goroutine.
func (s *Server) scan() {
	defer close(s.reaperDone)
	t := time.NewTicker(s.cfg.Heartbeat.scanPeriod())
	defer t.Stop()
	var (
		sessions []*session
		watchers []*watcher
	)
	for {
		select {
		case <-s.stopReaper:
			return
		case now := <-t.C:
			sessions = s.snapshotSessions(sessions)
			var connected, suspended int
			for _, sess := range sessions {
				v := sess.scan(now.UnixNano(), s.cfg.WriteTimeout)
				switch {
				case v.stuck && sess.record(reasonTooSlow):
					s.warnLog.Warn().Uint32("player", sess.playerID.Load()).Msg("write deadline exceeded: dropping the connection")
					go sess.conn.abort()
				case v.slow:
					go sess.closeWith(wire.CloseTooSlow, reasonTooSlow, "too slow: not reading the stream")
				}
				if v.dead {
					sess.declareDead()
				}
				switch {
				case !sess.seated.Load():
				case sess.suspended.Load():
					suspended++
				default:
					connected++
				}
			}
			watchers = s.snapshotWatchers(watchers)
			for _, wt := range watchers {
				v := wt.scan(now.UnixNano(), s.cfg.WriteTimeout)
				switch {
				case v.stuck && wt.record(reasonTooSlow):
					go wt.conn.abort()
				case v.slow:
					go wt.closeWith(wire.CloseTooSlow, reasonTooSlow, "too slow: not reading the stream")
				}
				if v.dead {
					wt.declareDead()
				}
			}
			s.metrics.sessions.WithLabelValues("connected").Set(float64(connected))
			s.metrics.sessions.WithLabelValues("suspended").Set(float64(suspended))
		}
	}
}

// DrainError is what Shutdown returns when its context ended before every
// connection had closed: the connections still open then were cut (closed
// without a close handshake).
type DrainError struct {
	// Sessions is the number of player sessions cut.
	Sessions int
	// Spectators is the number of spectator streams still open (WebSocket
	// watchers are cut; SSE and long-poll streams end with the HTTP
	// server's own shutdown).
	Spectators int
	Err        error
}

func (e *DrainError) Error() string {
	return fmt.Sprintf("drain cut %d sessions and %d spectator streams: %v", e.Sessions, e.Spectators, e.Err)
}

func (e *DrainError) Unwrap() error { return e.Err }

// Shutdown drains the server: readiness turns 503, new sockets are
// refused, every session is closed with 1001 going away, spectator
// streams end, every match stops. It returns nil when all sessions and
// WebSocket spectators have ended, or, when ctx ends first, a *DrainError
// after cutting the rest. Idempotent.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.draining.Swap(true) {
		close(s.drain)
	}
	s.mu.Unlock()
	for _, sess := range s.snapshotSessions(nil) {
		go sess.closeWith(wire.CloseGoingAway, reasonShutdown, "server shutting down")
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		select {
		case <-done: // ended together: nothing to cut
		default:
			err = s.cut(context.Cause(ctx))
		}
	}
	s.dir.Close()
	if s.replays != nil { // the matches' recordings finish their files
		if rerr := s.replays.Close(ctx); rerr != nil {
			s.log.Warn().Err(rerr).Msg("replay recordings cut by the shutdown")
		}
	}
	s.closeOnce.Do(func() { close(s.stopReaper) })
	<-s.reaperDone
	return err
}

// cut drops every session and WebSocket spectator still open, without a
// close handshake, and reports what it cut.
func (s *Server) cut(cause error) *DrainError {
	sessions := s.snapshotSessions(nil)
	watchers := s.snapshotWatchers(nil)
	for _, sess := range sessions {
		go sess.conn.closeNow()
	}
	for _, wt := range watchers {
		go wt.conn.CloseNow()
	}
	return &DrainError{Sessions: len(sessions), Spectators: int(s.spectators.Load()), Err: cause}
}
