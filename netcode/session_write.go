package netcode

import (
	"time"

	"github.com/tickstream/tickstream/netcode/wire"
)

// writeLoop is the only writer: reliable messages first, then pings and
// the newest tick of the match's stream; when the match is over it flushes
// and closes.
//
// Snapshots are pulled, latest wins: after each write the writer takes the
// stream's newest due tick, encoded as a delta from the tick the client
// acknowledged, so a writer that fell behind skips the ticks in between
// (their events travel in the next snapshot) and nothing queues. While the
// client is behind (its oldest unanswered ping is older than BehindAfter,
// heartbeat.go) no snapshot is written; what is sent when it catches up is
// the newest tick. What the client gets is never older than what it had
// not yet read, plus the kernel's bounded buffers (TuneListener).
func (s *session) writeLoop() {
	defer close(s.writerDone)
	for {
		// Reliable messages and pings before any snapshot. The writer is
		// their only receiver, so a length above zero means a receive that
		// does not block (cheaper than a select with a default, once per
		// frame).
		if len(s.reliable) > 0 {
			if s.write(<-s.reliable) != nil {
				return
			}
			continue
		}
		if len(s.pingDue) > 0 {
			<-s.pingDue
			if s.ping() != nil {
				return
			}
			continue
		}
		var changed <-chan struct{}
		if !s.behind.Load() {
			changed = s.hub.st.Changed() // before Next: a push in between wakes us
			if sent, err := s.writeSnap(); err != nil {
				return
			} else if sent {
				continue
			}
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
		case <-changed: // the new tick is taken at the top of the loop
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

// writeSnap writes the newest due tick, if there is one, as a delta from
// the client's acknowledged tick (or a keyframe), with this player's input
// ack.
func (s *session) writeSnap() (bool, error) {
	key := s.view.Keyframes
	var ok bool
	start := time.Now() // one clock reading for the choice, the encoding and the write's deadline
	if s.wbuf, ok = s.view.NextAt(s.wbuf[:0], start); !ok {
		return false, nil
	}
	if err := s.writeAt(s.wbuf, start); err != nil {
		return false, err
	}
	s.pace(start, time.Now())
	s.srv.snapshotsSent.Inc()
	if s.view.Keyframes != key {
		s.srv.snapKeyframes.Inc()
		s.srv.snapKeyBytes.Add(float64(len(s.wbuf)))
	} else {
		s.srv.snapDeltas.Inc()
		s.srv.snapDeltaBytes.Add(float64(len(s.wbuf)))
	}
	return true, nil
}

// pace tells the stream a snapshot write blocked for longer than a tick
// (the kernel's send buffer is full: TuneListener), a sign of a link that
// carries less than the stream (stream.Player paces on it and on late
// acks), and counts the lowerings. Writer only.
func (s *session) pace(start, end time.Time) {
	if end.Sub(start) > time.Second/time.Duration(max(s.hub.st.Rate(), 1)) {
		s.view.Slow(end)
	}
	if n := s.view.Lowerings(); n != s.lowerings {
		s.srv.metrics.lowered.Add(float64(n - s.lowerings))
		s.lowerings = n
	}
	if n := s.view.Holds(); n != s.holds {
		s.srv.metrics.held.Add(float64(n - s.holds))
		s.holds = n
	}
}

// ping writes a heartbeat ping carrying the server clock and the smoothed
// RTT so far.
func (s *session) ping() error {
	s.wbuf = s.appendPing(s.wbuf[:0], time.Now(), s.view.Every())
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
func (s *session) write(b []byte) error { return s.writeAt(b, time.Now()) }

// writeAt is write with the clock already read at start.
func (s *session) writeAt(b []byte, start time.Time) error {
	s.writeStart.Store(start.UnixNano())
	err := s.conn.writeBinary(b)
	s.writeStart.Store(0)
	if err != nil {
		s.record(reasonLost)
	}
	return err
}
