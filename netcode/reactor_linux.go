package netcode

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The reactor reads the player sockets of the raw path (wsraw.go) after
// their hello: a few goroutines (loopGoroutines, started with the
// first session and kept for the process), each with an epoll instance,
// edge-triggered EPOLLIN|EPOLLRDHUP over its sockets. One epoll_wait
// serves every socket that has news; each gets one read(2) into its
// session's buffer (two when it filled the buffer), and every whole frame in it is handled at
// once on the reactor's goroutine (decode, rate limits, match.Input, ack,
// pong, suspend). A partial frame stays in the buffer until more bytes
// come: a socket that stalls mid-frame costs nothing and blocks no one.
// Nothing here waits on a socket: closes and pongs to WebSocket pings are
// written on goroutines of their own.
//
// The reactor watches and reads the connection's duplicate descriptor
// (wsRaw.fd); Go's netpoller keeps its own for the blocking writes. No
// goroutine ever waits on the socket to read, so reading it here is safe;
// every read holds the duplicate (wsRaw.hold), so a concurrent drop never
// lets its number be reused under the read.
type reactor struct {
	epfd int
	wait syscall.RawConn // epfd in Go's netpoller: the reactor parks there
	mu   sync.Mutex
	// conns holds the sessions read here, each in a slot of its own; a
	// session's token is its slot and that slot's generation (a slot's
	// next session has a new one), so that news of a detached session
	// never reaches the next one in its slot.
	conns []reactorSlot
	free  []uint32
}

type reactorSlot struct {
	s   *session
	gen uint32
}

var (
	reactorsOnce sync.Once
	reactors     []*reactor
	reactorsErr  error
	reactorNext  atomic.Uint32
	reactorFiles []*os.File // kept: a collected os.File closes its descriptor
)

// rawPathAvailable reports whether this system can read player sockets in
// the reactor (it starts the reactors on first use).
func rawPathAvailable() bool {
	reactorsOnce.Do(startReactors)
	return reactorsErr == nil
}

func startReactors() {
	for range loopGoroutines() {
		fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err == nil {
			err = unix.SetNonblock(fd, true)
		}
		if err != nil {
			reactorsErr = err
			return
		}
		// The epoll descriptor is itself pollable: in Go's netpoller it is
		// readable when one of its sockets is. The reactor parks there
		// like any goroutine waiting on a socket, instead of blocking a
		// thread in epoll_wait (which keeps the runtime's sysmon retaking
		// its P every few microseconds).
		f := os.NewFile(uintptr(fd), "tickstream-reactor")
		rc, err := f.SyscallConn()
		if err != nil {
			reactorsErr = err
			return
		}
		reactorFiles = append(reactorFiles, f)
		r := &reactor{epfd: fd, wait: rc}
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
	// f runs until the reactor has nothing to do and returns false to park
	// in Go's netpoller until the epoll descriptor is readable again. The
	// sockets are edge-triggered: an event is news (bytes or an end came),
	// and nothing stays on the ready list once seen, so after a batch that
	// was not full the reactor parks at once (what comes meanwhile wakes
	// it: Go's poller reports the epoll descriptor edge-triggered too).
	err := r.wait.Read(func(fd uintptr) bool {
		for {
			n, err := epollPoll(int(fd), events)
			switch {
			case err == unix.EINTR:
				continue
			case err != nil:
				panic("netcode: epoll_wait: " + err.Error()) // EBADF/EINVAL: a bug, not a load
			case n == 0:
				return false
			}
			for i := range n {
				id := uint64(uint32(events[i].Fd)) | uint64(uint32(events[i].Pad))<<32
				r.mu.Lock()
				s := r.lookup(id)
				r.mu.Unlock()
				if s != nil {
					s.readable(events[i].Events)
				}
			}
			if n < len(events) {
				return false
			}
		}
	})
	panic("netcode: reactor stopped: " + fmt.Sprint(err))
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
	s.pump()
	if s.in.ended {
		s.in.detached = true
		return true
	}
	s.reactor = r
	r.mu.Lock()
	s.token = r.add(s)
	r.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(uint32(s.token)), Pad: int32(uint32(s.token >> 32))}
	ws := s.conn.ws
	err := errDropped
	if ws.hold() {
		err = unix.EpollCtl(r.epfd, unix.EPOLL_CTL_ADD, ws.fd, &ev)
		ws.release()
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
	r.remove(s.token)
	r.mu.Unlock()
	// A dropped socket has left the epoll set with its last descriptor.
	if ws := s.conn.ws; ws.hold() {
		_ = unix.EpollCtl(r.epfd, unix.EPOLL_CTL_DEL, ws.fd, nil)
		ws.release()
	}
}

// readable is the reactor's turn on a socket that has news (events):
// one read, then every whole frame. Edge-triggered: a read that filled
// the buffer is followed by another (more may wait), and an end of the
// stream (EPOLLRDHUP, EPOLLHUP, EPOLLERR) is read to its EOF; otherwise a
// read that returned less than it asked for took all there was.
func (s *session) readable(events uint32) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if s.in.detached {
		return
	}
	end := events&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0
	in := &s.in
	for !in.ended {
		in.compact()
		if in.hi == len(in.buf) { // cannot happen: the buffer holds any whole frame accepted
			s.protocolError("frame buffer full")
			break
		}
		want := len(in.buf) - in.hi
		// The hold keeps the descriptor (a concurrent drop cannot let its
		// number be reused under the read); only the reactor reads it.
		ws := s.conn.ws
		if !ws.hold() { // dropped meanwhile
			s.readEOF()
			break
		}
		n, rerr := rawRead(ws.fd, in.buf[in.hi:])
		ws.release()
		switch {
		case rerr == unix.EINTR:
			continue
		case rerr == unix.EAGAIN:
			return
		case rerr != nil || n <= 0:
			s.readEOF()
		default:
			in.hi += n
			s.pump()
			if n < want && !end {
				return
			}
		}
	}
	s.detachLocked()
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

// tryWriteLocked writes a whole frame (framed) with one non-blocking
// write(2), wmu held and nothing pending. What the socket did not take is
// kept in pending (whole is false then), to be written before any other
// frame; an error is the connection's end.
func (w *wsRaw) tryWriteLocked(b []byte) (whole bool, err error) {
	n, err := w.writeOnce(b)
	if err != nil {
		return false, err
	}
	return w.keepRest(b, n), nil
}

// keepRest keeps what a write left of frame b (n bytes taken) in pending,
// to be written before any other frame; it reports whether b went whole.
// Under wmu.
func (w *wsRaw) keepRest(b []byte, n int) (whole bool) {
	if n == len(b) {
		return true
	}
	w.pending = append(w.pending[:0], b[n:]...)
	return false
}

// writeOnce writes b with one non-blocking write(2) (wmu held): n is what
// the socket took (0 when it was full); an error is the connection's end.
func (w *wsRaw) writeOnce(b []byte) (n int, err error) {
	for {
		// The hold keeps the descriptor; every writer holds wmu.
		if !w.hold() {
			return 0, errDropped
		}
		n, werr := rawWrite(w.fd, b)
		w.release()
		switch {
		case werr == unix.EINTR:
			continue
		case werr == unix.EAGAIN:
			return 0, nil
		case werr != nil:
			return 0, werr
		}
		return n, nil
	}
}

// The reactor's and the writer pool's system calls never block (the
// sockets are non-blocking; epoll_wait is given no timeout), so they are
// made raw: without the runtime's entersyscall/exitsyscall, which hand
// the P around and wake the runtime's sysmon thread from its deep sleep
// each time the process was idle — under this load a few thousand
// context switches a second (perf sched_switch: sysmon's usleep was the
// largest source).

func epollPoll(epfd int, events []unix.EpollEvent) (int, error) {
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func rawRead(fd int, b []byte) (int, error) {
	n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}

func rawWrite(fd int, b []byte) (int, error) {
	n, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}

var errDropped = errors.New("netcode: connection dropped")

// dupFD duplicates a connection's descriptor (close-on-exec).
func dupFD(rc syscall.RawConn) (int, error) {
	fd, derr := -1, error(nil)
	if err := rc.Control(func(s uintptr) {
		fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return -1, err
	}
	return fd, derr
}

func closeFD(fd int) error { return unix.Close(fd) }

// add gives s a slot and returns its token (under mu).
func (r *reactor) add(s *session) uint64 {
	var i uint32
	if n := len(r.free); n > 0 {
		i, r.free = r.free[n-1], r.free[:n-1]
	} else {
		i = uint32(len(r.conns))
		r.conns = append(r.conns, reactorSlot{})
	}
	sl := &r.conns[i]
	sl.s, sl.gen = s, sl.gen+1
	return uint64(i) | uint64(sl.gen)<<32
}

// lookup returns the session of a token, or nil when it left (under mu).
func (r *reactor) lookup(token uint64) *session {
	i := uint32(token)
	if i >= uint32(len(r.conns)) {
		return nil
	}
	if sl := &r.conns[i]; sl.s != nil && sl.gen == uint32(token>>32) {
		return sl.s
	}
	return nil
}

// remove frees the slot of a token (under mu).
func (r *reactor) remove(token uint64) {
	if r.lookup(token) == nil {
		return
	}
	i := uint32(token)
	r.conns[i].s = nil
	r.free = append(r.free, i)
}
