package netcode

import (
	"runtime"
	"sync"
	"time"
)

// The writer pool writes the snapshots of the raw path's sessions
// (wsraw.go): a few goroutines (one per GOMAXPROCS, started with the first
// match and kept for the process) that, on each tick a match publishes, go
// through its sessions and write each one's snapshot with one
// non-blocking write(2). No goroutine per session wakes up for a tick.
//
// A session the pool cannot serve at once is left to its own goroutine,
// woken through poke: one that is writing (its write lock is taken), has
// a reliable message or a ping queued (they go first), or whose socket did
// not take a whole frame (the rest waits in wsRaw.pending and is written
// by the session's goroutine, blocking, under the write deadline). That
// goroutine writes the newest due tick after its own write, so a tick the
// pool skipped is never lost, only taken by the other writer.
//
// The pool never blocks on a socket, so one slow client delays no one.
// Sessions on coder/websocket's path (TLS, -goroutine-reader) keep their
// goroutine writer, woken by the stream.
type writerPool struct {
	jobs chan []*session
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
		writers = &writerPool{jobs: make(chan []*session, 4096)}
		for range max(runtime.GOMAXPROCS(0), 1) {
			go writers.loop()
		}
	})
	return writers
}

func (p *writerPool) loop() {
	// The worker's buffer: a frame is encoded after room for its header
	// (frameRoom), so header and payload leave in one write without a copy.
	buf := make([]byte, 0, rawWriteBuf)
	for job := range p.jobs {
		now := time.Now()
		for _, s := range job {
			buf = s.poolWrite(now, buf)
		}
	}
}

// post hands a tick's sessions (a hub's subscribers, copy-on-write: never
// modified) to the pool. It never blocks: when the queue is full, the
// sessions' own goroutines write.
func (p *writerPool) post(subs []*session) {
	for len(subs) > 0 {
		n := min(len(subs), poolChunk)
		select {
		case p.jobs <- subs[:n:n]:
		default:
			for _, s := range subs[:n] {
				wake(s.poke)
			}
		}
		subs = subs[n:]
	}
}

// poolWrite is the pool's turn on a session after a tick: the newest due
// tick in one non-blocking write, or a poke to the session's goroutine
// when that cannot be done here.
// buf is the worker's buffer, returned (grown) for the next session.
func (s *session) poolWrite(now time.Time, buf []byte) []byte {
	ws := s.conn.ws
	if ws == nil || s.behind.Load() {
		return buf // not the pool's (its goroutine waits on the stream), or nothing to send
	}
	if !s.wmu.TryLock() {
		wake(s.poke) // the session's goroutine is writing: it takes the tick after
		return buf
	}
	defer s.wmu.Unlock()
	if len(s.reliable) > 0 || len(s.pingDue) > 0 || !ws.wmu.TryLock() {
		wake(s.poke)
		return buf
	}
	if ws.closeSent || len(ws.pending) > 0 {
		ws.wmu.Unlock()
		return buf // closing, or the goroutine is finishing a frame (it was poked)
	}
	key := s.view.Keyframes
	var ok bool
	if cap(buf) < frameRoom {
		buf = make([]byte, 0, rawWriteBuf)
	}
	buf, ok = s.view.NextAt(buf[:frameRoom], now)
	if !ok {
		ws.wmu.Unlock()
		s.countPacing() // a tick held back (flow control) is counted
		return buf
	}
	n := len(buf) - frameRoom
	whole, err := ws.tryWriteLocked(framed(buf, opBinary))
	ws.wmu.Unlock()
	if err != nil {
		s.record(reasonLost)
		ws.drop() // the session's goroutine ends on it
		return buf
	}
	s.snapSent(key, n)
	if !whole {
		// The socket's buffer is full: a link that carries less than the
		// stream. The rest is written by the session's goroutine.
		s.view.Slow(now)
		wake(s.poke)
	}
	s.countPacing()
	return buf
}
