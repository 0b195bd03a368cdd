package netcode

import (
	"runtime"
	"sync"
	"time"

	"github.com/tickstream/tickstream/netcode/wire"
)

// The writer pool writes for the raw path's sessions (wsraw.go), which
// have no goroutine of their own once seated: a few goroutines
// (loopGoroutines, started with the first match and kept for the
// process).
//
// On each tick a match publishes, a worker goes through its sessions and
// writes each one's snapshot with one non-blocking write(2) (poolWrite).
// Everything else is kicked (kick): a reliable message queued, a ping due,
// the client caught up, the match over, a tick the pool could not write
// (the session was being served). A kicked session is served once by a
// worker (service: reliable messages, the end, a ping, the newest tick,
// each one non-blocking write), never by two at once (svc).
//
// When the socket does not take a whole frame, the rest waits in
// wsRaw.pending and the session gets a goroutine of its own for as long
// as that lasts (slowWriter): it writes the rest blocking, under the
// write deadline, serves the session until nothing is left, and ends. So
// the pool never blocks on a socket and one slow client delays no one;
// a player costs a goroutine only while its link is full.
//
// Sessions on coder/websocket's path (TLS, -goroutine-reader) keep their
// goroutine writer (session_write.go), woken by the stream.
type writerPool struct {
	jobs chan poolJob
	svc  chan *session // kicked sessions (service)
}

// poolJob is a share of one tick's sessions; batch asks for their writes
// to go in one io_uring submission (sendBatch) where the worker has a ring.
type poolJob struct {
	subs  []*session
	batch bool
}

// loopGoroutines is how many reactors, and how many pool workers, the
// process runs: one per two Ps. Fewer goroutines that each find more to
// do per wake-up cost less than one per P (side by side on 2 cores: one
// reactor and one worker took 0.88–0.97× the CPU of two each, for the
// same load; docs/benchmarks.md), and the matches keep Ps of their own.
func loopGoroutines() int {
	return max(runtime.GOMAXPROCS(0)/2, 1)
}

// poolChunk is how many sessions one job holds: a match of 50 is one job;
// a larger one is shared out between the workers.
const poolChunk = 64

var (
	writersOnce sync.Once
	writers     *writerPool
)

func theWriters() *writerPool {
	writersOnce.Do(func() {
		writers = &writerPool{jobs: make(chan poolJob, 4096), svc: make(chan *session, 8192)}
		for range loopGoroutines() {
			go writers.loop()
		}
	})
	return writers
}

func (p *writerPool) loop() {
	// The worker's buffer: a frame is encoded after room for its header
	// (frameRoom), so header and payload leave in one write without a copy.
	buf := make([]byte, 0, rawWriteBuf)
	sb := newSendBatch() // nil without io_uring: one write(2) per session
	for {
		select {
		case job := <-p.jobs:
			now := time.Now()
			if job.batch && sb != nil {
				sb.run(job.subs, now)
				continue
			}
			for _, s := range job.subs {
				buf = s.poolWrite(now, buf)
			}
		case s := <-p.svc:
			buf = s.service(buf)
		}
	}
}

// serve has a worker serve a kicked session; when the queue is full, a
// goroutine of its own does.
func (p *writerPool) serve(s *session) {
	select {
	case p.svc <- s:
	default:
		go s.service(nil)
	}
}

// post hands a tick's sessions (a hub's subscribers, copy-on-write: never
// modified) to the pool; batch: in one io_uring submission per job where
// the worker has a ring. It never blocks: when the queue is full, the
// sessions are kicked (served one by one).
func (p *writerPool) post(subs []*session, batch bool) {
	for len(subs) > 0 {
		n := min(len(subs), poolChunk)
		select {
		case p.jobs <- poolJob{subs: subs[:n:n], batch: batch}:
		default:
			for _, s := range subs[:n] {
				s.kick()
			}
		}
		subs = subs[n:]
	}
}

// poolWrite is the pool's turn on a session after a tick: the newest due
// tick in one non-blocking write, or a kick when that cannot be done here.
// buf is the worker's buffer, returned (grown) for the next session.
func (s *session) poolWrite(now time.Time, buf []byte) []byte {
	frame, key, size, buf, ok := s.poolTake(now, buf)
	if ok {
		n, err := s.conn.ws.writeOnce(frame)
		s.poolDone(now, key, frame, size, n, err)
	}
	return buf
}

// poolTake is the first half of the pool's turn: the newest due tick,
// framed in buf (room left for the header), followed by the ping if one
// is due (both frames leave in one write), with both write locks held
// until poolDone. size is the snapshot's payload, -1 when frame is the
// ping alone (no tick due: paced). ok is false when there is nothing to
// write here: the locks are released, and the session kicked if it needs
// serving (a reliable message first, or it was busy).
func (s *session) poolTake(now time.Time, buf []byte) (frame []byte, key uint64, size int, _ []byte, ok bool) {
	ws := s.conn.ws
	if ws == nil || s.behind.Load() {
		return nil, 0, 0, buf, false // not the pool's (its goroutine waits on the stream), or nothing to send
	}
	if s.svc.Load() != 0 || !s.wmu.TryLock() {
		s.kick() // being served, or writing: the tick is taken after
		return nil, 0, 0, buf, false
	}
	if len(s.reliable) > 0 || !ws.wmu.TryLock() {
		s.wmu.Unlock()
		s.kick()
		return nil, 0, 0, buf, false
	}
	if ws.closeSent || len(ws.pending) > 0 {
		ws.wmu.Unlock()
		s.wmu.Unlock()
		return nil, 0, 0, buf, false // closing, or the slow writer is finishing a frame
	}
	key = s.view.Keyframes
	if cap(buf) < frameRoom {
		buf = make([]byte, 0, rawWriteBuf)
	}
	buf, ok = s.view.NextAt(buf[:frameRoom], now)
	start, size := -1, -1 // where the frames start in buf; none yet
	if ok {
		size = len(buf) - frameRoom
		start = len(buf) - len(framed(buf, opBinary))
	} else {
		buf = buf[:0]
	}
	if len(s.pingDue) > 0 {
		<-s.pingDue
		buf = s.appendPingFrame(buf, now)
		start = max(start, 0)
	}
	if start < 0 {
		ws.wmu.Unlock()
		s.countPacing() // a tick held back (flow control) is counted
		s.wmu.Unlock()
		return nil, 0, 0, buf, false
	}
	return buf[start:], key, size, buf, true
}

// appendPingFrame appends a whole ping frame to buf (after any frame
// already there), recording it as sent at now.
func (s *session) appendPingFrame(buf []byte, now time.Time) []byte {
	at := len(buf)
	buf = append(buf, make([]byte, frameRoom)...)
	buf = s.appendPing(buf, now, s.view.Every())
	f := framed(buf[at:], opBinary)
	n := copy(buf[at:], f) // the header's unused room closed up
	return buf[:at+n]
}

// poolDone is the second half: the socket took n bytes of frame (a
// snapshot payload of size bytes, -1: a ping alone), or the write failed
// with err. What it did not take waits in pending for the session's slow
// writer. Both locks are released.
func (s *session) poolDone(now time.Time, key uint64, frame []byte, size, n int, err error) {
	ws := s.conn.ws
	whole := err == nil && ws.keepRest(frame, n)
	ws.wmu.Unlock()
	if err != nil {
		s.wmu.Unlock()
		s.record(reasonLost)
		ws.drop() // the session ends on it (finish)
		return
	}
	if size >= 0 {
		s.snapSent(key, size)
	}
	if !whole {
		// The socket's buffer is full: a link that carries less than the
		// stream. The rest is written by the session's slow writer.
		s.view.Slow(now)
		s.kick()
	}
	s.countPacing()
	s.wmu.Unlock()
}

// kick asks for the session to be served: its reliable messages, a due
// ping, the newest tick, the match's end. Before the raw path's hand-off
// (and on coder/websocket's path, whose writer waits on its channels) it
// does nothing: the hand-off kicks once.
func (s *session) kick() {
	if !s.evented.Load() {
		return
	}
	s.again.Store(true)
	if s.svc.CompareAndSwap(0, 1) {
		theWriters().serve(s)
	}
}

// service serves a kicked session on a pool worker (svc 1) with
// non-blocking writes; when the socket does not take a whole frame, the
// session's slow writer takes over (svc 2). buf is the worker's.
func (s *session) service(buf []byte) []byte {
	for {
		s.again.Store(false)
		var slow bool
		buf, slow = s.serveOnce(buf, false)
		if slow {
			s.svc.Store(2)
			go s.slowWriter()
			return buf
		}
		s.svc.Store(0)
		if !s.again.Load() || !s.svc.CompareAndSwap(0, 1) {
			return buf
		}
	}
}

// slowWriter is the session's goroutine while its socket does not take
// what is written: it writes the rest of the frame blocking, under the
// write deadline, then serves the session until nothing is left, and
// ends.
func (s *session) slowWriter() {
	wb := writeBufs.Get().(*[]byte)
	defer putWriteBuf(wb)
	for {
		if s.flush() != nil {
			s.conn.ws.drop()
			return
		}
		s.again.Store(false)
		var slow bool
		*wb, slow = s.serveOnce(*wb, true)
		if slow {
			continue
		}
		s.svc.Store(0)
		if !s.again.Load() || !s.svc.CompareAndSwap(0, 1) {
			return
		}
	}
}

// serveOnce writes, in order, the queued reliable messages, the match's
// end (a close after them), a due ping and the newest due tick, each with
// one non-blocking write. slow reports a frame the socket did not take
// whole (its rest is pending) or, unless block, a write lock held by a
// pong or a close: the slow writer goes on.
func (s *session) serveOnce(buf []byte, block bool) (_ []byte, slow bool) {
	ws := s.conn.ws
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if block {
		ws.wmu.Lock()
	} else if !ws.wmu.TryLock() {
		return buf, true
	}
	defer ws.wmu.Unlock()
	select {
	case <-ws.dropped:
		return buf, false
	default:
	}
	if ws.closeSent {
		return buf, false
	}
	if len(ws.pending) > 0 {
		return buf, true
	}
	if cap(buf) < frameRoom {
		buf = make([]byte, 0, rawWriteBuf)
	}
	now := time.Now()
	for len(s.reliable) > 0 {
		msg := <-s.reliable
		buf = append(buf[:frameRoom], msg...)
		if whole, ok := s.tryWriteLocked(buf); !ok || !whole {
			return buf, ok
		}
	}
	select {
	case <-s.over:
		if !s.overDone {
			s.overDone = true
			go s.closeWith(wire.CloseNormal, reasonMatchOver, "match over")
		}
		return buf, false
	default:
	}
	if len(s.pingDue) > 0 {
		<-s.pingDue
		buf = s.appendPing(buf[:frameRoom], now, s.view.Every())
		if whole, ok := s.tryWriteLocked(buf); !ok || !whole {
			return buf, ok
		}
	}
	if s.behind.Load() {
		return buf, false
	}
	select {
	case <-s.caughtUp:
	default:
	}
	key := s.view.Keyframes
	var ok bool
	buf, ok = s.view.NextAt(buf[:frameRoom], now)
	if ok {
		n := len(buf) - frameRoom
		whole, alive := s.tryWriteLocked(buf)
		if !alive {
			return buf, false
		}
		s.snapSent(key, n)
		if !whole {
			s.view.Slow(now)
			s.countPacing()
			return buf, true
		}
	}
	s.countPacing()
	return buf, false
}

// tryWriteLocked writes a frame (a payload after frameRoom) with one
// non-blocking write, both write locks held. whole: the socket took it
// all (else the rest is pending). alive is false when the write failed:
// the connection is dropped.
func (s *session) tryWriteLocked(buf []byte) (whole, alive bool) {
	whole, err := s.conn.ws.tryWriteLocked(framed(buf, opBinary))
	if err != nil {
		s.record(reasonLost)
		s.conn.ws.drop()
		return false, false
	}
	return whole, true
}
