package netcode

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode/stream"
	"github.com/tickstream/tickstream/netcode/wire"
)

// session is one player's connection. The reader is the HTTP handler's
// goroutine (session_read.go); the writer is the only goroutine that writes
// to conn (session_write.go). The heartbeat interceptor (heartbeat.go) sees
// it through its embedded link.
type session struct {
	link
	srv     *Server
	conn    *peer
	log     zerolog.Logger
	started time.Time
	placed  bool   // ?seat=local: a redirect placed this join on this node
	order   uint64 // the connection's number, in the order of upgrades

	// Set by the reader before the writer starts and before seated is
	// stored; read-only afterwards.
	player game.PlayerID
	epoch  uint32
	match  *game.Match
	hub    *hub
	// seated is set once the fields above are; other goroutines (scanner,
	// shutdown) read them only after seeing it.
	seated   atomic.Bool
	playerID atomic.Uint32 // mirrors player for logs from any goroutine

	// view is the session's cursor on the match's stream: the writer pulls
	// the newest tick from it as a delta from the tick the client
	// acknowledged (the reader records acks). Set with the fields above.
	view  *stream.Player
	every int // the send divisor the client asked for (join or resume)
	// Reliable messages (welcome, roster, end): bounded; overflow → 4007.
	reliable chan []byte

	over       chan struct{} // closed when the match is over
	overOnce   sync.Once
	stop       chan struct{} // coder/websocket's path: closed when the reader has exited
	writerDone chan struct{}

	closeReason atomic.Pointer[string] // metric label; set once

	releaseOnce sync.Once

	// Reader-owned.
	dec        *wire.Decoder
	msg        wire.ClientMsg
	rbuf       []byte
	readAt     time.Time       // when the frame being handled arrived
	budget     *seatBudget     // the seat's input limit and resume credit (limits.go)
	control    *controlLimiter // pongs and suspends
	inputFlood floodMeter      // over-limit inputs
	ackLimit   *rate.Limiter   // ack messages (acks inside inputs are free)
	ackFlood   floodMeter      // over-limit ack messages
	resumed    bool            // seated by a resume (to be confirmed by the first frame)
	confirmed  bool            // the first frame after the hello was read
	in         rawIn           // the raw path's read state (wsraw.go)
	// The reactor's hold on the session (the raw path after the hello):
	// it reads and handles frames under rmu.
	rmu      sync.Mutex
	reactor  *reactor
	token    uint64
	client   netip.Addr // set by handlePlay before run: the per-client limits' key
	seatHeld bool       // counted in the client's seats
	// wmu is held by whoever writes to conn for the session: its
	// goroutine or the writer pool (writers.go). The fields after it are
	// under wmu.
	wmu sync.Mutex
	// After the hello the raw path has no goroutine of its own (evented):
	// kick has a pool worker serve it (svc 1), or, while the socket does
	// not take what is written, a goroutine of its own (svc 2).
	evented   atomic.Bool
	svc       atomic.Int32
	again     atomic.Bool // kicked while being served: serve once more
	overDone  bool        // the match-over close was started (under wmu)
	onEnd     func()      // handlePlay's admission release, called last
	lowerings uint64      // the view's lowerings already counted
	holds     uint64      // the view's holds already counted
}

func newSession(srv *Server, conn *peer) *session {
	s := &session{
		srv:      srv,
		conn:     conn,
		log:      srv.log,
		started:  time.Now(),
		reliable: make(chan []byte, srv.cfg.ReliableQueue),
		over:     make(chan struct{}),
		dec:      wire.NewDecoder(),
		control:  newControlLimiter(srv.cfg.Limits),
		ackLimit: rate.NewLimiter(ackRate, ackRate),
	}
	if conn.ws != nil {
		s.in.buf = make([]byte, max(rawReadBuf, len(conn.carry)+rawReadBuf/2))
		s.in.hi = copy(s.in.buf, conn.carry)
		conn.carry = nil
	}
	if conn.ws == nil {
		s.rbuf = make([]byte, wire.MaxClientFrame+1)
		s.stop, s.writerDone = make(chan struct{}), make(chan struct{}) // its reader and writer goroutines
	}
	s.link.init(s.started, srv.cfg.Heartbeat, srv.metrics)
	if conn.ws != nil {
		s.link.onWake = s.kick
	}
	// Until it joins, the join timeout (4008) governs the socket, not the
	// heartbeat; seat lifts this.
	s.notBefore.Store(s.started.Add(srv.cfg.JoinTimeout + time.Second).UnixNano())
	return s
}

// sendReliable queues a reliable message; a full queue means the client
// cannot keep up, and it is closed with 4007. Never blocks.
func (s *session) sendReliable(msg []byte) {
	select {
	case s.reliable <- msg:
		s.kick() // the raw path's writer takes reliable messages when kicked
	default:
		go s.closeWith(wire.CloseTooSlow, reasonTooSlow, "too slow: reliable queue full")
	}
}

func (s *session) matchOver() {
	s.overOnce.Do(func() {
		close(s.over)
		s.kick()
	})
}

// record sets the session's end reason once; it reports whether this call
// set it.
func (s *session) record(reason string) (first bool) {
	return s.closeReason.CompareAndSwap(nil, &reason)
}

// reason returns the recorded end reason ("" while none).
func (s *session) reason() string {
	if r := s.closeReason.Load(); r != nil {
		return *r
	}
	return ""
}

// closeWith records the reason and closes the connection with a close
// frame; it waits for the client's reply for at most closeReplyWait, then
// drops the connection. Call it with `go` from a goroutine that must not
// wait.
func (s *session) closeWith(code wire.CloseCode, reason, text string) {
	if !s.closeNoted(code, reason, text) {
		return
	}
	s.conn.closeWithin(websocket.StatusCode(code), text, closeReplyWait)
}

// closeNoted records the end reason of a close with code, counts a
// refusal and logs; false when the session already had its reason (the
// close is someone else's).
func (s *session) closeNoted(code wire.CloseCode, reason, text string) bool {
	if !s.record(reason) {
		return false
	}
	if isRefusal(code) {
		s.srv.metrics.refusals.WithLabelValues(reason).Inc()
	}
	if code != wire.CloseNormal && code != wire.CloseGoingAway && code != wire.CloseRedirect {
		s.srv.warnLog.Warn().Int("code", int(code)).Str("reason", text).Uint32("player", s.playerID.Load()).Msg("closing session")
	}
	return true
}

// refuse closes with a protocol refusal.
func (s *session) refuse(err error) {
	var we *wire.Error
	if !errors.As(err, &we) {
		we = &wire.Error{Code: wire.CloseBadMessage, Reason: "malformed message"}
	}
	s.closeWith(we.Code, codeReasons[we.Code], we.Reason)
}

// declareDead is the heartbeat interceptor's verdict: nothing arrived for
// the dead-after timeout. The seat is released at once (held for resume);
// in the background the close frame (4010) is sent and, as a dead peer
// will not answer it, the connection is dropped deadCloseWait later.
func (s *session) declareDead() {
	if !s.record(reasonHeartbeat) {
		return
	}
	s.srv.warnLog.Warn().Uint32("player", s.playerID.Load()).Msg("heartbeat timeout: session dead")
	if s.seated.Load() {
		s.release(false)
	}
	go s.conn.closeWithin(websocket.StatusCode(wire.CloseHeartbeat), "heartbeat timeout", deadCloseWait)
}

// release gives the seat back once: Leave when the player is gone for good
// (closed normally, refused), Disconnect when the link was lost (the seat
// is held for a resume).
func (s *session) release(leave bool) {
	s.releaseOnce.Do(func() {
		s.hub.detach(s)
		if leave {
			s.match.Leave(s.player, s.epoch)
		} else {
			s.match.Disconnect(s.player, s.epoch)
		}
	})
}

// leaves reports whether a session that ended for reason frees its seat
// (rather than holding it for a resume).
func leaves(reason string) bool {
	switch reason {
	case reasonLost, reasonClientAbnormal, reasonHeartbeat, reasonTooSlow, reasonShutdown:
		return false
	}
	return true
}

// run serves the session. It returns true when the session was handed
// off (the raw path after its hello: the reactor reads, the writer pool
// and kicks write, and finish ends it once the connection is dropped);
// otherwise the session is over when it returns and the caller calls
// ended.
func (s *session) run(ctx context.Context) bool {
	if !s.hello(ctx) {
		if s.conn.ws != nil {
			s.drainClose() // the close reply, which only this goroutine reads
		}
		return false
	}
	if s.conn.ws != nil {
		s.confirmed = !s.resumed
		if attachReactor(s) {
			s.evented.Store(true)
			s.conn.ws.whenDropped(s.finish)
			s.kick() // the welcome (and whatever came meanwhile)
			return true
		}
		s.closeWith(wire.CloseGoingAway, reasonLost, "server cannot read the connection")
		s.conn.ws.drop()
		detachReactor(s)
		s.release(leaves(s.reason()))
		return false
	}
	s.confirmed = !s.resumed
	go s.writeLoop()
	s.readLoop(ctx)
	close(s.stop)
	_ = s.conn.CloseNow()
	<-s.writerDone
	s.release(leaves(s.reason()))
	return false
}

// finish ends a handed-off session once its connection is dropped.
func (s *session) finish() {
	detachReactor(s)
	s.release(leaves(s.reason()))
	s.ended()
}

// ended is the last of every session: counted, logged, forgotten.
func (s *session) ended() {
	s.conn.closeNow()
	reason := s.reason()
	s.srv.metrics.disconnects.WithLabelValues(reason).Inc()
	if s.seated.Load() {
		s.log.Info().Str("match", s.match.ID()).Uint32("player", uint32(s.player)).Str("reason", reason).
			Str("duration", time.Since(s.started).Round(time.Millisecond).String()).Msg("player disconnected")
	}
	s.releaseLimits()
	s.srv.removeSession(s)
	if s.onEnd != nil {
		s.onEnd()
	}
}

// seat installs the seat a join or resume obtained and subscribes the
// session to the match's hub (which queues the welcome first).
func (s *session) seat(m *game.Match, res game.JoinResult, resumed bool) bool {
	h := s.srv.hubFor(res.Match)
	s.player, s.epoch, s.match, s.hub = res.Player, res.Epoch, m, h
	s.playerID.Store(uint32(res.Player))
	token := s.srv.tokens.issue(res.Match, res.Player, res.Epoch)
	if h != nil {
		s.view = h.st.NewPlayer(res.Player, s.every, res.Tick)
	}
	var err error = game.ErrMatchEnded
	if h != nil {
		err = h.attach(s, res, token, resumed)
	}
	if err != nil {
		m.Leave(res.Player, res.Epoch) // a no-op when a newer epoch holds the seat
		if errors.Is(err, errReplaced) {
			s.refuseR(&wire.Error{Code: wire.CloseReplaced, Reason: "replaced by a newer connection"})
		} else {
			s.refuseR(joinRefusal(err))
		}
		return false
	}
	s.notBefore.Store(0) // the heartbeat governs from now on
	s.seated.Store(true)
	return true
}

// joinRefusal maps a directory error to a close code.
func joinRefusal(err error) *wire.Error {
	switch {
	case errors.Is(err, game.ErrMatchNotFound):
		return &wire.Error{Code: wire.CloseNoSuchMatch, Reason: "no such match"}
	case errors.Is(err, game.ErrMatchFull):
		return &wire.Error{Code: wire.CloseMatchFull, Reason: "match full"}
	case errors.Is(err, game.ErrMatchEnded):
		return &wire.Error{Code: wire.CloseMatchEnded, Reason: "match ended"}
	case errors.Is(err, game.ErrServerFull):
		return &wire.Error{Code: wire.CloseServerFull, Reason: "server full: match limit reached"}
	case errors.Is(err, game.ErrInboxFull):
		return &wire.Error{Code: wire.CloseServerFull, Reason: "match busy, retry"}
	}
	return &wire.Error{Code: wire.CloseGoingAway, Reason: "join failed"}
}
