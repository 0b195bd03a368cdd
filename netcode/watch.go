package netcode

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/tickstream/tickstream/netcode/stream"
	"github.com/tickstream/tickstream/netcode/wire"
)

// watcher is a WebSocket spectator: the same cursor as SSE, msgpack
// frames, and the same heartbeat interceptor as players (through its
// link). It accepts pongs and suspend, nothing else.
type watcher struct {
	link
	srv    *Server
	conn   *peer
	reason atomic.Pointer[string]
	wbuf   []byte // writer only
}

func (wt *watcher) record(r string) bool { return wt.reason.CompareAndSwap(nil, &r) }

// closeWith records the reason and closes with a close frame, waiting for
// the reply at most closeReplyWait.
func (wt *watcher) closeWith(code wire.CloseCode, reason, text string) {
	if wt.record(reason) {
		wt.conn.closeWithin(websocket.StatusCode(code), text, closeReplyWait)
	}
}

// handleWatch serves GET /api/matches/{id}/watch.
func (s *Server) handleWatch(w http.ResponseWriter, r *http.Request) { s.serveWatch(w, r, s.spectate) }

// serveWatch is the WebSocket transport of a live match or a replay (open).
func (s *Server) serveWatch(w http.ResponseWriter, r *http.Request, open opener) {
	if !s.upgradeAllowed(w, r) {
		return
	}
	cur, release, ok := open(w, r, wire.FormatMsgpack, "ws")
	if !ok {
		return
	}
	defer release()
	conn, err := s.accept(w, r, false, false)
	if err != nil {
		return
	}
	defer conn.CloseNow()
	wt := &watcher{srv: s, conn: conn}
	wt.link.init(time.Now(), s.cfg.Heartbeat, s.metrics)
	if !s.addWatcher(wt) {
		_ = conn.Close(websocket.StatusGoingAway, "server shutting down")
		return
	}
	defer s.removeWatcher(wt)

	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		wt.readLoop(r.Context())
	}()
	wt.writeLoop(cur, readerDone)
	_ = conn.CloseNow()
	<-readerDone
	reason := "unknown"
	if p := wt.reason.Load(); p != nil {
		reason = *p
	}
	s.metrics.specEnds.WithLabelValues("ws", reason).Inc()
}

// readLoop takes pongs and suspend; spectators send nothing else. They
// have the players' control-frame limit: over it a frame is dropped and
// counted, and a sustained flood is closed with 4014.
func (wt *watcher) readLoop(ctx context.Context) {
	dec := wire.NewDecoder()
	var msg wire.ClientMsg
	buf := make([]byte, wire.MaxClientFrame+1)
	ctl := newControlLimiter(wt.srv.cfg.Limits)
	for {
		typ, rd, err := wt.conn.Reader(context.Background()) // ended by closing conn, not ctx
		if err != nil {
			if websocket.CloseStatus(err) != -1 {
				wt.record(reasonClientClosed)
			} else {
				wt.record(reasonLost)
			}
			return
		}
		wt.touch(time.Now())
		n, _ := readFrame(rd, buf)
		if n > wire.MaxClientFrame || typ != websocket.MessageBinary {
			wt.closeWith(wire.CloseBadMessage, "bad_message", "spectators send small binary frames only")
			return
		}
		if err := dec.Decode(buf[:n], &msg); err != nil {
			wt.closeWith(wire.CloseBadMessage, "bad_message", "malformed message")
			return
		}
		if msg.T == wire.TypePong || msg.T == wire.TypeSuspend {
			ok, flooding := ctl.allow()
			if flooding {
				wt.srv.metrics.refusals.WithLabelValues(reasonFlooding).Inc()
				wt.closeWith(wire.CloseFlooding, reasonFlooding, "flooding: too many pong or suspend messages")
				return
			}
			if !ok {
				wt.srv.controlDropped.Inc()
				continue
			}
		}
		switch msg.T {
		case wire.TypePong:
			if rtt := wt.pong(uint32(msg.ID), float64(msg.Time), time.Now()); rtt > 0 {
				wt.srv.metrics.rtt.Observe(rtt.Seconds())
			}
		case wire.TypeSuspend:
			wt.suspended.Store(msg.On)
		default:
			wt.closeWith(wire.CloseProtocol, "protocol", "spectators send no "+msg.T+" messages")
			return
		}
	}
}

// writeLoop follows the cursor and the heartbeat until the stream ends.
// While the spectator is behind (unanswered pings, heartbeat.go) the
// cursor stands still; when it catches up, the cursor's own policy applies
// (too far behind the live edge: skip to a keyframe, counted).
func (wt *watcher) writeLoop(cur *stream.Cursor, readerDone <-chan struct{}) {
	s := wt.srv
	var evs []stream.Event
	later := time.NewTimer(time.Hour)
	defer later.Stop()
	for {
		select { // a ping before more events (a long catch-up included)
		case <-wt.pingDue:
			if wt.ping() != nil {
				return
			}
		default:
		}
		var notify <-chan struct{}
		if !wt.behind.Load() {
			notify = cur.Changed()
			var nextAt time.Time
			evs, nextAt = cur.Step(time.Now(), evs[:0])
			for _, e := range evs {
				if wt.write(e.Data) != nil {
					return
				}
			}
			switch {
			case cur.TooSlow():
				wt.closeWith(wire.CloseTooSlow, reasonTooSlow, "too slow: cannot keep up with the stream")
				return
			case cur.Done():
				wt.closeWith(wire.CloseNormal, reasonMatchOver, "match over")
				return
			case len(evs) >= stream.MaxBatch:
				continue
			}
			if !nextAt.IsZero() {
				later.Reset(time.Until(nextAt))
			}
		}
		select {
		case <-notify:
		case <-later.C:
		case <-wt.caughtUp:
		case <-wt.pingDue:
			if wt.ping() != nil {
				return
			}
		case <-readerDone:
			return
		case <-s.drain:
			wt.closeWith(wire.CloseGoingAway, reasonShutdown, "server shutting down")
			return
		}
	}
}

func (wt *watcher) ping() error {
	wt.wbuf = wt.appendPing(wt.wbuf[:0], time.Now(), 0)
	return wt.write(wt.wbuf)
}

func (wt *watcher) write(b []byte) error {
	wt.writeStart.Store(time.Now().UnixNano())
	err := wt.conn.Write(context.Background(), websocket.MessageBinary, b)
	wt.writeStart.Store(0)
	if err != nil {
		wt.record(reasonLost)
	}
	return err
}

// declareDead is the interceptor's verdict for a silent spectator: the
// close frame, then the connection dropped deadCloseWait later.
func (wt *watcher) declareDead() {
	if wt.record(reasonHeartbeat) {
		go wt.conn.closeWithin(websocket.StatusCode(wire.CloseHeartbeat), "heartbeat timeout", deadCloseWait)
	}
}

// readFrame reads a frame into buf; n > len(buf)-1 means it was too big.
func readFrame(rd interface{ Read([]byte) (int, error) }, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := rd.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
