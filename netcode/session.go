package netcode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode/wire"
)

// session is one player's connection. The reader is the HTTP handler's
// goroutine; the writer is the only goroutine that writes to conn.
type session struct {
	srv     *Server
	conn    *websocket.Conn
	log     zerolog.Logger
	started time.Time

	// Set by the reader before the writer starts; read-only afterwards.
	player game.PlayerID
	match  *game.Match
	// playerID mirrors player for goroutines other than reader and writer.
	playerID atomic.Uint32

	// Latest-wins snapshot slot: stored by the hub, taken by the writer.
	slot      atomic.Pointer[frame]
	snapReady chan struct{} // cap 1: "the slot has something"
	// Reliable messages (welcome, roster, end): bounded; overflow → 4007.
	reliable chan []byte

	over       chan struct{} // closed when the match is over
	overOnce   sync.Once
	stop       chan struct{} // closed when the reader has exited
	writerDone chan struct{}

	// writeStart is the start (Unix ns) of the write in progress, 0 when
	// idle; the server's reaper enforces the write deadline from it.
	writeStart atomic.Int64

	closeOnce   sync.Once
	closeReason string // metric label; written once under closeOnce

	// Reader-owned.
	dec     *wire.Decoder
	msg     wire.ClientMsg
	rbuf    []byte
	limiter *rate.Limiter
	// Writer-owned.
	wbuf []byte
}

func newSession(srv *Server, conn *websocket.Conn) *session {
	return &session{
		srv:        srv,
		conn:       conn,
		log:        srv.log,
		started:    time.Now(),
		snapReady:  make(chan struct{}, 1),
		reliable:   make(chan []byte, srv.cfg.ReliableQueue),
		over:       make(chan struct{}),
		stop:       make(chan struct{}),
		writerDone: make(chan struct{}),
		dec:        wire.NewDecoder(),
		rbuf:       make([]byte, wire.MaxClientFrame+1),
		limiter:    rate.NewLimiter(rate.Limit(srv.cfg.InputRate), srv.cfg.InputBurst),
	}
}

// offer puts a snapshot in the latest-wins slot (replacing a stale one).
// Called from the match goroutine; never blocks, never allocates.
func (s *session) offer(f *frame) {
	s.slot.Store(f)
	select {
	case s.snapReady <- struct{}{}:
	default:
	}
}

// sendReliable queues a reliable message; a full queue means the client
// cannot keep up, and it is closed with 4007. Never blocks.
func (s *session) sendReliable(msg []byte) {
	select {
	case s.reliable <- msg:
	default:
		go s.closeWith(wire.CloseTooSlow, reasonTooSlow, "too slow: reliable queue full")
	}
}

func (s *session) matchOver() { s.overOnce.Do(func() { close(s.over) }) }

// record sets the session's end reason once; it reports whether this call
// set it.
func (s *session) record(reason string) (first bool) {
	s.closeOnce.Do(func() {
		s.closeReason = reason
		first = true
	})
	return first
}

// closeWith records the reason and closes the connection with a close
// frame. It may block for the close handshake (up to about 10 s): call it
// with `go` from a goroutine that must not wait.
func (s *session) closeWith(code wire.CloseCode, reason, text string) {
	if !s.record(reason) {
		return
	}
	if isRefusal(code) {
		s.srv.metrics.refusals.WithLabelValues(reason).Inc()
	}
	if code != wire.CloseNormal && code != wire.CloseGoingAway {
		s.srv.warnLog.Warn().Int("code", int(code)).Str("reason", text).Uint32("player", s.playerID.Load()).Msg("closing session")
	}
	_ = s.conn.Close(websocket.StatusCode(code), text)
}

// refuse closes with a protocol refusal.
func (s *session) refuse(err error) {
	var we *wire.Error
	if !errors.As(err, &we) {
		we = &wire.Error{Code: wire.CloseBadMessage, Reason: "malformed message"}
	}
	s.closeWith(we.Code, codeReasons[we.Code], we.Reason)
}

// run serves the session until it ends; it returns after both goroutines
// have stopped.
func (s *session) run(ctx context.Context) {
	defer s.conn.CloseNow()
	defer func() {
		reason := s.closeReason
		s.srv.metrics.disconnects.WithLabelValues(reason).Inc()
		if s.player != 0 {
			s.log.Info().Str("match", s.match.ID()).Uint32("player", uint32(s.player)).Str("reason", reason).
				Dur("duration", time.Since(s.started)).Msg("player disconnected")
		}
	}()

	join, err := s.readJoin(ctx)
	if err != nil {
		return
	}
	m, res, err := s.srv.dir.Join(ctx, join.Match, join.Name)
	if err != nil {
		s.refuse(joinRefusal(err))
		return
	}
	s.player, s.match = res.Player, m
	s.playerID.Store(uint32(res.Player))
	h := s.srv.hubFor(res.Match)
	if h == nil || h.attach(s, res) != nil {
		m.Leave(res.Player)
		s.refuse(joinRefusal(game.ErrMatchEnded))
		return
	}
	s.log.Info().Str("match", res.Match).Uint32("player", uint32(res.Player)).Str("name", join.Name).Msg("player joined")
	defer m.Leave(res.Player)
	defer h.detach(s)

	go s.writeLoop()
	s.readLoop(ctx)
	close(s.stop)
	_ = s.conn.CloseNow()
	<-s.writerDone
}

// joinMsg is a validated join.
type joinMsg struct{ Name, Match string }

// readJoin reads the first message, which must be a valid join.
func (s *session) readJoin(ctx context.Context) (joinMsg, error) {
	timer := time.AfterFunc(s.srv.cfg.JoinTimeout, func() {
		s.closeWith(wire.CloseProtocol, "protocol", "no join within the join timeout")
	})
	defer timer.Stop()
	if err := s.readMsg(ctx); err != nil {
		return joinMsg{}, err
	}
	if s.msg.T != wire.TypeJoin {
		err := &wire.Error{Code: wire.CloseProtocol, Reason: "the first message must be join"}
		s.refuse(err)
		return joinMsg{}, err
	}
	name, err := wire.ValidName(s.msg.Name)
	if err != nil {
		s.refuse(err)
		return joinMsg{}, err
	}
	return joinMsg{Name: name, Match: s.msg.Match}, nil
}

// readMsg reads and decodes one frame into s.msg without allocating; on a
// refusal or a read error it closes the session and returns the error.
func (s *session) readMsg(ctx context.Context) error {
	typ, r, err := s.conn.Reader(ctx)
	if err != nil {
		s.readFailed(err)
		return err
	}
	// rbuf has one byte more than the limit: filling it means "too big".
	n, err := io.ReadFull(r, s.rbuf)
	switch {
	case err == io.ErrUnexpectedEOF || err == io.EOF:
	case err != nil:
		s.readFailed(err)
		return err
	default:
		err := &wire.Error{Code: wire.CloseTooBig, Reason: fmt.Sprintf("frame over %d bytes", wire.MaxClientFrame)}
		s.refuse(err)
		return err
	}
	if typ != websocket.MessageBinary {
		err := &wire.Error{Code: wire.CloseBadMessage, Reason: "text frames are not accepted"}
		s.refuse(err)
		return err
	}
	if err := s.dec.Decode(s.rbuf[:n], &s.msg); err != nil {
		s.refuse(err)
		return err
	}
	return nil
}

// readFailed classifies a read error: the peer closed, the frame was over
// the limit (the library has sent 1009), or the link is gone.
func (s *session) readFailed(err error) {
	switch {
	case err == nil:
	case strings.Contains(err.Error(), "read limited at"):
		if s.record(reasonTooBig) {
			s.srv.metrics.refusals.WithLabelValues(reasonTooBig).Inc()
			s.srv.warnLog.Warn().Uint32("player", s.playerID.Load()).Msg("frame over the read limit")
		}
	case websocket.CloseStatus(err) != -1:
		s.record(reasonClientClosed)
	default:
		s.record(reasonLost)
	}
}

// readLoop hands inputs to the match until the connection ends.
func (s *session) readLoop(ctx context.Context) {
	for {
		if err := s.readMsg(ctx); err != nil {
			return
		}
		switch s.msg.T {
		case wire.TypeJoin:
			s.refuse(&wire.Error{Code: wire.CloseProtocol, Reason: "already joined"})
			return
		case wire.TypeInput:
			in, err := s.msg.Input(s.player)
			if err != nil {
				s.refuse(err)
				return
			}
			switch {
			case !s.limiter.Allow():
				s.srv.inputsRateLimited.Inc()
			case !s.match.Input(in):
				s.srv.inputsDropped.Inc()
			default:
				s.srv.inputsQueued.Inc()
			}
		}
	}
}

// writeLoop is the only writer: reliable messages first, then the latest
// snapshot; when the match is over it flushes and closes normally.
func (s *session) writeLoop() {
	defer close(s.writerDone)
	for {
		select {
		case msg := <-s.reliable:
			if s.write(msg) != nil {
				return
			}
			continue
		default:
		}
		select {
		case <-s.stop:
			return
		case msg := <-s.reliable:
			if s.write(msg) != nil {
				return
			}
		case <-s.snapReady:
			f := s.slot.Swap(nil)
			if f == nil {
				continue
			}
			s.wbuf = append(wire.AppendSnapHeader(s.wbuf[:0], f.snap.AckFor(s.player)), f.body...)
			if s.write(s.wbuf) != nil {
				return
			}
			s.srv.snapshotsSent.Inc()
		case <-s.over:
			if s.drainReliable() != nil {
				return
			}
			s.closeWith(wire.CloseNormal, reasonMatchOver, "match over")
			return
		}
	}
}

// drainReliable writes every queued reliable message.
func (s *session) drainReliable() error {
	for {
		select {
		case msg := <-s.reliable:
			if err := s.write(msg); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

// write sends one binary frame; the reaper closes the connection when it
// takes longer than the write deadline.
func (s *session) write(b []byte) error {
	s.writeStart.Store(time.Now().UnixNano())
	err := s.conn.Write(context.Background(), websocket.MessageBinary, b)
	s.writeStart.Store(0)
	if err != nil {
		s.record(reasonLost)
	}
	return err
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
