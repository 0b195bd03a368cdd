package netcode

import (
	"context"
	"time"

	"github.com/coder/websocket"

	"github.com/tickstream/tickstream/netcode/wire"
)

// writeLoop is the only writer: reliable messages first, then pings and
// the latest snapshot; when the match is over it flushes and closes.
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
		case <-s.pingDue:
			if s.ping() != nil {
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

// ping writes a heartbeat ping carrying the server clock and the smoothed
// RTT so far.
func (s *session) ping() error {
	s.pingID++
	now := time.Now()
	s.wbuf = wire.AppendPing(s.wbuf[:0], s.pingID, now.UnixMilli(), float64(s.rtt())/float64(time.Millisecond))
	s.pingSentNow(s.pingID, now)
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

// write sends one binary frame; the interceptor closes the connection when
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
