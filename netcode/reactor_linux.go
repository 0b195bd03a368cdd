package netcode

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// The reactor reads the player sockets of the raw path (wsraw.go) after
// their hello: a few goroutines (one per GOMAXPROCS, started with the
// first session and kept for the process), each with an epoll instance,
// level-triggered EPOLLIN|EPOLLRDHUP over its sockets. One epoll_wait
// serves every socket that is ready; each ready socket gets one read(2)
// into its session's buffer, and every whole frame in it is handled at
// once on the reactor's goroutine (decode, rate limits, match.Input, ack,
// pong, suspend). A partial frame stays in the buffer until more bytes
// come: a socket that stalls mid-frame costs nothing and blocks no one.
// Nothing here waits on a socket: closes and pongs to WebSocket pings are
// written on goroutines of their own.
//
// Go's netpoller keeps the descriptor (the session's writes go through
// it). No goroutine ever waits on it to read, so reading it here is safe;
// every read holds the descriptor through syscall.RawConn.Read, so a
// concurrent Close never lets its number be reused under the read.
type reactor struct {
	epfd  int
	mu    sync.Mutex
	conns map[uint64]*session
}

var (
	reactorsOnce sync.Once
	reactors     []*reactor
	reactorsErr  error
	reactorNext  atomic.Uint32
	reactorToken atomic.Uint64
)

// rawPathAvailable reports whether this system can read player sockets in
// the reactor (it starts the reactors on first use).
func rawPathAvailable() bool {
	reactorsOnce.Do(startReactors)
	return reactorsErr == nil
}

func startReactors() {
	n := max(runtime.GOMAXPROCS(0), 1)
	for range n {
		fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			reactorsErr = err
			return
		}
		r := &reactor{epfd: fd, conns: make(map[uint64]*session)}
		reactors = append(reactors, r)
	}
	for _, r := range reactors {
		go r.loop()
	}
}

// reactorBatch is how many ready sockets one epoll_wait returns at most.
const reactorBatch = 128

func (r *reactor) loop() {
	events := make([]unix.EpollEvent, reactorBatch)
	for {
		n, err := unix.EpollWait(r.epfd, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			panic("netcode: epoll_wait: " + err.Error()) // EBADF/EINVAL: a bug, not a load
		}
		for i := range n {
			id := uint64(uint32(events[i].Fd)) | uint64(uint32(events[i].Pad))<<32
			r.mu.Lock()
			s := r.conns[id]
			r.mu.Unlock()
			if s != nil {
				s.readable()
			}
		}
	}
}

// attachReactor hands a seated session's reading to a reactor: the bytes
// already read (past the hello) are handled first, then the socket is
// watched. It returns false when the socket cannot be watched (the
// session is then closed by the caller).
func attachReactor(s *session) bool {
	rawPathAvailable()
	r := reactors[reactorNext.Add(1)%uint32(len(reactors))]
	s.rmu.Lock()
	defer s.rmu.Unlock()
	s.in.async = true
	s.in.inReactor = true
	s.pump()
	if s.in.ended {
		s.in.detached = true
		return true
	}
	s.reactor = r
	s.token = reactorToken.Add(1)
	r.mu.Lock()
	r.conns[s.token] = s
	r.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(uint32(s.token)), Pad: int32(uint32(s.token >> 32))}
	var cerr error
	err := s.conn.ws.rc.Control(func(fd uintptr) {
		cerr = unix.EpollCtl(r.epfd, unix.EPOLL_CTL_ADD, int(fd), &ev)
	})
	if err == nil {
		err = cerr
	}
	if err != nil {
		s.detachLocked()
		return false
	}
	return true
}

// detachReactor stops the reactor's reading of a session (idempotent);
// once it returns the reactor no longer touches the session.
func detachReactor(s *session) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	s.detachLocked()
}

func (s *session) detachLocked() {
	if s.in.detached {
		return
	}
	s.in.detached = true
	r := s.reactor
	if r == nil {
		return
	}
	r.mu.Lock()
	delete(r.conns, s.token)
	r.mu.Unlock()
	// A closed socket has left the epoll set with its last descriptor.
	_ = s.conn.ws.rc.Control(func(fd uintptr) {
		_ = unix.EpollCtl(r.epfd, unix.EPOLL_CTL_DEL, int(fd), nil)
	})
}

// readable is the reactor's turn on a ready socket: one read, then every
// whole frame.
func (s *session) readable() {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if s.in.detached {
		return
	}
	in := &s.in
	in.compact()
	if in.hi == len(in.buf) { // cannot happen: the buffer holds any whole frame accepted
		s.protocolError("frame buffer full")
		s.detachLocked()
		return
	}
	var n int
	var rerr error
	err := s.conn.ws.rc.Read(func(fd uintptr) bool {
		n, rerr = unix.Read(int(fd), in.buf[in.hi:])
		return true
	})
	switch {
	case err != nil: // closed meanwhile
		s.readEOF()
	case rerr == unix.EAGAIN || rerr == unix.EINTR:
		return
	case rerr != nil || n <= 0:
		s.readEOF()
	default:
		in.hi += n
		s.pump()
	}
	if in.ended {
		s.detachLocked()
	}
}

// pump handles every whole message in the buffer.
func (s *session) pump() {
	for {
		switch s.nextMsg() {
		case rsMsg:
			if !s.in.closing {
				s.handle()
			}
		case rsMore, rsEnd:
			return
		}
	}
}
