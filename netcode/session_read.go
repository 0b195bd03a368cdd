package netcode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode/stream"
	"github.com/tickstream/tickstream/netcode/wire"
)

// hello reads the first message, a join or a resume, and seats the
// session. It returns false when the session is over.
func (s *session) hello(ctx context.Context) bool {
	timer := time.AfterFunc(s.srv.cfg.JoinTimeout, func() {
		s.closeWith(wire.CloseProtocol, "protocol", "no join within the join timeout")
	})
	defer timer.Stop()
	if s.readMsg(ctx) != nil {
		return false
	}
	if s.msg.T == wire.TypeJoin || s.msg.T == wire.TypeResume {
		every, err := s.msg.JoinEvery()
		if err != nil {
			s.refuseR(err)
			return false
		}
		s.every = every
	}
	switch s.msg.T {
	case wire.TypeJoin:
		name, err := wire.ValidName(s.msg.Name)
		if err != nil {
			s.refuseR(err)
			return false
		}
		if rt := s.srv.cfg.Router; rt != nil {
			red, err := rt.Route(ctx, s.msg.Match, s.placed)
			if err != nil {
				s.refuseR(joinRefusal(err))
				return false
			}
			switch {
			case red != nil && red.URL == "":
				s.msg.Match, s.placed = red.Match, true // here, in the match it chose
			case red != nil:
				s.redirect(red)
				return false
			}
		}
		if s.srv.joins != nil && !s.srv.joins.Allow() {
			s.closeR(errJoinLimited.Code, reasonJoinLimited, errJoinLimited.Reason)
			return false
		}
		if !s.srv.clients.acquireSeat(s.client, true) {
			s.refuseR(&wire.Error{Code: wire.CloseTooManySeats, Reason: "too many seats from this address"})
			return false
		}
		s.seatHeld = true
		m, res, err := s.srv.dir.Join(ctx, s.msg.Match, name)
		if err != nil && s.placed && s.msg.Match != "" && placedRetry(err) {
			// The match the redirect named filled or ended on the way:
			// the join was for any match, so seat it in another one here.
			m, res, err = s.srv.dir.Join(ctx, "", name)
		}
		if err != nil {
			s.refuseR(joinRefusal(err))
			return false
		}
		if !s.seat(m, res, false) {
			return false
		}
		s.budget = s.srv.budgets.acquire(seatKey{res.Match, res.Player}, true)
		s.log.Info().Str("match", res.Match).Uint32("player", uint32(res.Player)).Str("name", name).Msg("player joined")
		return true
	case wire.TypeResume:
		return s.resume(ctx, s.msg.Token)
	}
	s.refuseR(&wire.Error{Code: wire.CloseProtocol, Reason: "the first message must be join or resume"})
	return false
}

// placedRetry reports whether a join placed here by a redirect may fall
// back to any match of this node after err.
func placedRetry(err error) bool {
	return errors.Is(err, game.ErrMatchFull) || errors.Is(err, game.ErrMatchEnded) || errors.Is(err, game.ErrMatchNotFound)
}

// redirect sends the client to the node that owns (or will own) its
// match: the redirect message, then the close 4015.
func (s *session) redirect(red *Redirect) {
	s.srv.metrics.redirects.Inc()
	b, err := msgpack.Marshal(&wire.Redirect{T: wire.TypeRedirect, URL: red.URL, Match: red.Match})
	if err == nil {
		err = s.write(b)
	}
	if err != nil {
		s.closeR(wire.CloseGoingAway, reasonLost, "redirect failed")
		return
	}
	s.log.Debug().Str("match", red.Match).Str("node", red.Node).Msg("join redirected")
	s.closeR(wire.CloseRedirect, reasonRedirect, "redirect")
}

// resume takes a held seat back with a token.
func (s *session) resume(ctx context.Context, token string) bool {
	claim, err := s.srv.tokens.check(token)
	if err == nil {
		m := s.srv.dir.Get(claim.Match)
		if m == nil {
			err = errSeatGone
		} else {
			res, rerr := m.Resume(ctx, claim.Player, claim.Epoch, s.order)
			switch {
			case errors.Is(rerr, game.ErrStaleSeat):
				err = errTokenUsed
			case errors.Is(rerr, game.ErrSuperseded):
				err = errSuperseded
			case rerr != nil:
				err = errSeatGone
			default:
				if !s.seat(m, res, true) {
					return false
				}
				// Counted, never refused: the client takes back a seat it had.
				s.seatHeld = s.srv.clients.acquireSeat(s.client, false)
				s.budget = s.srv.budgets.acquire(seatKey{res.Match, res.Player}, false)
				s.resumed = true
				s.srv.metrics.resumes.WithLabelValues("ok").Inc()
				s.log.Info().Str("match", res.Match).Uint32("player", uint32(res.Player)).
					Uint32("ack", res.LastSeq).Msg("player resumed")
				return true
			}
		}
	}
	label := map[error]string{errTokenInvalid: "invalid", errTokenExpired: "expired", errTokenUsed: "used", errSeatGone: "gone", errSuperseded: "superseded"}[err]
	s.srv.metrics.resumes.WithLabelValues(label).Inc()
	s.closeR(wire.CloseResumeFailed, "resume_refused", "resume refused: "+err.Error())
	return false
}

// readMsg reads and decodes one frame into s.msg without allocating; on a
// refusal or a read error it closes the session and returns the error.
func (s *session) readMsg(ctx context.Context) error {
	if s.conn.ws != nil {
		return s.readRaw()
	}
	// No context on the read: with a cancellable one coder/websocket arms
	// a context.AfterFunc per message. The session ends by closing conn.
	_ = ctx
	typ, r, err := s.conn.Reader(context.Background())
	if err != nil {
		s.readFailed(err)
		return err
	}
	s.readAt = time.Now()
	s.touch(s.readAt)
	// rbuf has one byte more than the limit: filling it means "too big".
	n, err := io.ReadFull(r, s.rbuf)
	switch {
	case err == io.ErrUnexpectedEOF || err == io.EOF:
	case err != nil:
		s.readFailed(err)
		return err
	default:
		err := &wire.Error{Code: wire.CloseTooBig, Reason: fmt.Sprintf("frame over %d bytes", wire.MaxClientFrame)}
		s.refuseR(err)
		return err
	}
	if typ != websocket.MessageBinary {
		err := &wire.Error{Code: wire.CloseBadMessage, Reason: "text frames are not accepted"}
		s.refuseR(err)
		return err
	}
	if err := s.dec.Decode(s.rbuf[:n], &s.msg); err != nil {
		s.refuseR(err)
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
	case websocket.CloseStatus(err) == websocket.StatusNormalClosure || websocket.CloseStatus(err) == websocket.StatusGoingAway:
		s.record(reasonClientClosed) // the player leaves
	case websocket.CloseStatus(err) != -1:
		s.record(reasonClientAbnormal) // any other code: the seat is held
	default:
		s.record(reasonLost)
	}
}

// readLoop hands inputs to the match and heartbeat answers to the
// interceptor until the connection ends (coder/websocket's reader; the
// reactor calls handle for each message instead).
func (s *session) readLoop(ctx context.Context) {
	for s.readMsg(ctx) == nil && s.handle() {
	}
}

// handle acts on the message just read into s.msg; it returns false when
// the session is over (it has been closed).
func (s *session) handle() bool {
	if !s.confirmed { // the client got its welcome: its old token is spent
		s.confirmed = true
		if !s.in.async {
			s.match.Confirm(s.player, s.epoch)
		} else if !s.match.TryConfirm(s.player, s.epoch) {
			// A reactor never waits: a full command inbox takes it later.
			go s.match.Confirm(s.player, s.epoch)
		}
	}
	switch s.msg.T {
	case wire.TypeJoin, wire.TypeResume:
		s.refuseR(&wire.Error{Code: wire.CloseProtocol, Reason: "already joined"})
		return false
	case wire.TypePong, wire.TypeSuspend:
		return s.controlFrame()
	case wire.TypeInput:
		in, err := s.msg.Input(s.player)
		if err != nil {
			s.refuseR(err)
			return false
		}
		if !s.ack() {
			return false
		}
		in.Epoch = s.epoch
		return s.input(in)
	case wire.TypeAck:
		ok := s.ackLimit.AllowN(s.readAt, 1)
		if !ok {
			s.srv.acks[stream.AckNone].Inc()
			if s.ackFlood.over(time.Now(), floodInputFactor*ackRate) {
				s.closeR(wire.CloseFlooding, reasonFlooding, "flooding: too many ack messages")
				return false
			}
			return true
		}
		return s.ack()
	}
	return true
}

// ack records the snapshot acknowledgement of an input or an ack message:
// the newest tick the client applied becomes the baseline of the next
// delta if this connection sent it and it is newer than the one held;
// otherwise it is ignored and counted. A tick out of range is refused with
// 4002. It returns false when the session is over.
func (s *session) ack() bool {
	t, err := s.msg.AckTick()
	if err != nil {
		s.refuseR(err)
		return false
	}
	rtt := s.baseRTT()
	if rtt == 0 {
		rtt = time.Second // no pong yet: do not take a far client for a slow one
	}
	if r := s.view.Ack(t, s.readAt, rtt); r != stream.AckNone {
		s.srv.acks[r].Inc()
	}
	return true
}

// controlFrame handles a pong or a suspend within the control-frame rate
// limit: over it the frame is dropped and counted (it still proves
// liveness); a sustained flood closes the session with 4014. It returns
// false when the session is over.
func (s *session) controlFrame() bool {
	ok, flooding := s.control.allow()
	switch {
	case flooding:
		s.closeR(wire.CloseFlooding, reasonFlooding, "flooding: too many pong or suspend messages")
		return false
	case !ok:
		s.srv.controlDropped.Inc()
		return true
	}
	switch s.msg.T {
	case wire.TypePong:
		if s.msg.ID < 0 || s.msg.ID > 1<<32-1 {
			s.refuseR(&wire.Error{Code: wire.CloseBadInput, Reason: "bad pong: id out of range"})
			return false
		}
		if rtt := s.pong(uint32(s.msg.ID), float64(s.msg.Time), time.Now()); rtt > 0 {
			s.srv.metrics.rtt.Observe(rtt.Seconds())
		}
	case wire.TypeSuspend:
		s.suspended.Store(s.msg.On)
	}
	return true
}

// input applies the seat's rate limit (with the seat's resume credit on a
// resumed connection) and queues the input for the next tick. Inputs over
// the limit are dropped and counted; a sustained flood of them closes the
// session with 4014. It returns false when the session is over.
func (s *session) input(in game.Input) bool {
	b := s.budget
	if !b.inputs.AllowN(s.readAt, 1) && !(s.resumed && b.credit.AllowN(s.readAt, 1)) {
		s.srv.inputsRateLimited.Inc()
		if s.inputFlood.over(time.Now(), floodInputFactor*int(s.srv.cfg.InputRate)) {
			s.closeR(wire.CloseFlooding, reasonFlooding, "flooding: too many inputs")
			return false
		}
		return true
	}
	if !s.match.Input(in) {
		s.srv.inputsDropped.Inc()
		return true
	}
	s.srv.inputsQueued.Inc()
	return true
}
