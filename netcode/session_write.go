package netcode

import (
	"context"
	"time"

	"github.com/coder/websocket"

	"github.com/tickstream/tickstream/netcode/wire"
)

// writeLoop is the only writer: reliable messages first, then pings and
// the latest snapshot; when the match is over it flushes and closes.
//
// While the client is behind (its oldest unanswered ping is older than
// BehindAfter, heartbeat.go) no snapshot is written: the slot keeps only
// the newest, which is sent when the client catches up. What the client
// gets is never older than what it had not yet read, plus the kernel's
// bounded buffers (TuneListener).
func (s *session) writeLoop() {
	defer close(s.writerDone)
	for {
		select { // reliable messages and pings before any snapshot
		case msg := <-s.reliable:
			if s.write(msg) != nil {
				return
			}
			continue
		case <-s.pingDue:
			if s.ping() != nil {
				return
			}
			continue
		default:
		}
		snapReady := s.snapReady
		if s.behind.Load() {
			snapReady = nil
		} else if f := s.slot.Swap(nil); f != nil {
			// Left in the slot while the client was behind.
			if s.writeSnap(f) != nil {
				return
			}
			continue
		}
		select {
		case <-s.stop:
			return
		case msg := <-s.reliable:
			if s.write(msg) != nil {
				return
			}
		case <-s.pingDue:
			if s.ping() != nil {
				return
			}
		case <-snapReady: // the slot is taken at the top of the loop
		case <-s.caughtUp:
		case <-s.over:
			if s.drainReliable() != nil {
				return
			}
			s.closeWith(wire.CloseNormal, reasonMatchOver, "match over")
			return
		}
	}
}

// writeSnap writes a snapshot with this player's input ack.
func (s *session) writeSnap(f *frame) error {
	s.wbuf = append(wire.AppendSnapHeader(s.wbuf[:0], f.snap.AckFor(s.player)), f.body...)
	if err := s.write(s.wbuf); err != nil {
		return err
	}
	s.srv.snapshotsSent.Inc()
	return nil
}

// ping writes a heartbeat ping carrying the server clock and the smoothed
// RTT so far.
func (s *session) ping() error {
	s.wbuf = s.appendPing(s.wbuf[:0], time.Now())
	return s.write(s.wbuf)
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

// write sends one binary frame; the interceptor drops the connection when
// it takes longer than the write deadline.
func (s *session) write(b []byte) error {
	s.writeStart.Store(time.Now().UnixNano())
	err := s.conn.Write(context.Background(), websocket.MessageBinary, b)
	s.writeStart.Store(0)
	if err != nil {
		s.record(reasonLost)
	}
	return err
}
