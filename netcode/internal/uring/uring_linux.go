// Package uring is the little of io_uring that the raw WebSocket path
// needs: a ring that takes a batch of non-blocking socket sends or
// receives and does them all in one io_uring_enter(2), instead of one
// write(2) or read(2) each.
//
// Every operation carries MSG_DONTWAIT, so none of them waits: the kernel
// does each one inline while it takes the batch, and an operation a
// socket cannot do now completes with EAGAIN (as a non-blocking write(2)
// would) instead of being armed for later. Do therefore returns with
// every result in hand; nothing stays in flight between calls.
//
// A Ring is not safe for concurrent use: each goroutine that batches
// keeps its own. No io_uring library was available to this project, so
// this is written against the kernel's ABI (include/uapi/linux/io_uring.h).
package uring

import (
	"errors"
	"runtime"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The kernel ABI: opcodes, offsets and flags used here.
const (
	opSend = 26 // IORING_OP_SEND
	opRecv = 27 // IORING_OP_RECV

	offSQRing = 0          // IORING_OFF_SQ_RING
	offCQRing = 0x8000000  // IORING_OFF_CQ_RING
	offSQEs   = 0x10000000 // IORING_OFF_SQES

	enterGetEvents = 1 // IORING_ENTER_GETEVENTS

	featSingleMmap = 1 << 0 // IORING_FEAT_SINGLE_MMAP
	featNoDrop     = 1 << 1 // IORING_FEAT_NODROP

	setupSubmitAll = 1 << 7 // IORING_SETUP_SUBMIT_ALL: an error does not stop the batch
)

type sqOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type cqOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

type params struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	resv                                                                   [3]uint32
	sqOff                                                                  sqOffsets
	cqOff                                                                  cqOffsets
}

type sqe struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64
	addr        uint64
	len         uint32
	msgFlags    uint32
	userData    uint64
	bufIndex    uint16
	personality uint16
	spliceFdIn  int32
	addr3       uint64
	pad         uint64
}

type cqe struct {
	userData uint64
	res      int32
	flags    uint32
}

// Op is one send or receive of a batch. Fd and Buf are the caller's;
// Send and Recv fill N (bytes done) and Err (nil, EAGAIN, the socket's
// error, or ErrNotSent when the batch failed before the kernel took it).
type Op struct {
	Fd  int
	Buf []byte
	N   int
	Err error
}

// Ring is one io_uring instance.
type Ring struct {
	fd      int
	entries uint32
	ringMem []byte // the SQ and CQ rings (one mapping: IORING_FEAT_SINGLE_MMAP)
	sqeMem  []byte

	sqHead, sqTail, sqMask *uint32
	sqArray                []uint32
	cqHead, cqTail, cqMask *uint32
	cqes                   []cqe
	sqes                   []sqe
}

// ErrUnavailable is returned by New when this system has no usable
// io_uring (an old kernel, io_uring disabled by sysctl or by a seccomp
// profile, as in many containers).
var ErrUnavailable = errors.New("uring: io_uring is not available")

// ErrNotSent is the Err of an operation the kernel never took: Send or
// Recv returned an error, and this operation may be done again by other
// means (the others of the batch were done, their results are set).
var ErrNotSent = errors.New("uring: operation not submitted")

// New sets up a ring for batches of at most entries operations (a power
// of two, at most 4096).
func New(entries uint32) (*Ring, error) {
	var p params
	p.flags = setupSubmitAll
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return nil, errors.Join(ErrUnavailable, errno)
	}
	r := &Ring{fd: int(fd)}
	if p.features&featSingleMmap == 0 || p.features&featNoDrop == 0 {
		r.Close()
		return nil, errors.Join(ErrUnavailable, errors.New("kernel too old (no single mmap / nodrop)"))
	}
	sqSize := p.sqOff.array + p.sqEntries*4
	cqSize := p.cqOff.cqes + p.cqEntries*uint32(unsafe.Sizeof(cqe{}))
	size := max(sqSize, cqSize)
	mem, err := unix.Mmap(r.fd, offSQRing, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		r.Close()
		return nil, errors.Join(ErrUnavailable, err)
	}
	r.ringMem = mem
	sqeMem, err := unix.Mmap(r.fd, offSQEs, int(p.sqEntries)*int(unsafe.Sizeof(sqe{})), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		r.Close()
		return nil, errors.Join(ErrUnavailable, err)
	}
	r.sqeMem = sqeMem
	base := unsafe.Pointer(&mem[0])
	u32 := func(off uint32) *uint32 { return (*uint32)(unsafe.Add(base, off)) }
	r.entries = p.sqEntries
	r.sqHead, r.sqTail, r.sqMask = u32(p.sqOff.head), u32(p.sqOff.tail), u32(p.sqOff.ringMask)
	r.sqArray = unsafe.Slice(u32(p.sqOff.array), p.sqEntries)
	r.cqHead, r.cqTail, r.cqMask = u32(p.cqOff.head), u32(p.cqOff.tail), u32(p.cqOff.ringMask)
	r.cqes = unsafe.Slice((*cqe)(unsafe.Add(base, p.cqOff.cqes)), p.cqEntries)
	r.sqes = unsafe.Slice((*sqe)(unsafe.Pointer(&sqeMem[0])), p.sqEntries)
	return r, nil
}

// Close releases the ring.
func (r *Ring) Close() {
	if r.sqeMem != nil {
		_ = unix.Munmap(r.sqeMem)
		r.sqeMem = nil
	}
	if r.ringMem != nil {
		_ = unix.Munmap(r.ringMem)
		r.ringMem = nil
	}
	if r.fd >= 0 {
		_ = unix.Close(r.fd)
		r.fd = -1
	}
}

// Send sends each op's Buf on its socket (MSG_DONTWAIT | MSG_NOSIGNAL),
// all in one system call; len(ops) ≤ the ring's entries.
func (r *Ring) Send(ops []Op) error { return r.do(ops, opSend, unix.MSG_NOSIGNAL) }

// Recv receives into each op's Buf from its socket (MSG_DONTWAIT), all in
// one system call; len(ops) ≤ the ring's entries. N == 0 with a nil Err is the
// peer's end of the stream.
func (r *Ring) Recv(ops []Op) error { return r.do(ops, opRecv, 0) }

func (r *Ring) do(ops []Op, op uint8, flags uint32) error {
	n := uint32(len(ops))
	if n == 0 {
		return nil
	}
	if n > r.entries {
		return errors.New("uring: batch larger than the ring")
	}
	tail := *r.sqTail // only this side writes the tail
	mask := *r.sqMask
	for i := range ops {
		idx := (tail + uint32(i)) & mask
		e := &r.sqes[idx]
		*e = sqe{opcode: op, fd: int32(ops[i].Fd), len: uint32(len(ops[i].Buf)), msgFlags: flags | unix.MSG_DONTWAIT, userData: uint64(i)}
		if len(ops[i].Buf) > 0 {
			e.addr = uint64(uintptr(unsafe.Pointer(&ops[i].Buf[0])))
		}
		r.sqArray[idx] = idx
		ops[i].N, ops[i].Err = 0, ErrNotSent
	}
	atomic.StoreUint32(r.sqTail, tail+n)
	// Every operation is non-blocking, so the kernel completes each one
	// while it takes the batch; waiting for n completions only covers an
	// operation it chose to finish elsewhere.
	submitted := uint32(0)
	done := uint32(0)
	for first := true; done < n; first = false {
		toSubmit := n - submitted
		var errno syscall.Errno
		if first {
			// The first call asks for no completion, so it cannot wait:
			// it is made raw, without the runtime's entersyscall, which
			// wakes the runtime's sysmon thread from its deep sleep
			// whenever the process was idle (a tick's batch comes after
			// an idle moment) and costs it a few context switches.
			_, _, errno = unix.RawSyscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(toSubmit), 0, enterGetEvents, 0, 0)
		} else {
			_, _, errno = unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(toSubmit), uintptr(n-done), enterGetEvents, 0, 0)
		}
		if errno != 0 && errno != unix.EINTR && errno != unix.EAGAIN && errno != unix.EBUSY {
			// The entries not taken stay in the ring: take them back
			// (their ops keep ErrNotSent); those taken are reaped.
			r.reap(ops)
			r.resync()
			return errno
		}
		submitted = n - (atomic.LoadUint32(r.sqTail) - atomic.LoadUint32(r.sqHead))
		done += r.reap(ops)
	}
	runtime.KeepAlive(ops)
	return nil
}

// reap takes the completions the ring holds.
func (r *Ring) reap(ops []Op) uint32 {
	head := atomic.LoadUint32(r.cqHead)
	tail := atomic.LoadUint32(r.cqTail)
	mask := *r.cqMask
	var n uint32
	for ; head != tail; head++ {
		c := &r.cqes[head&mask]
		i := c.userData
		if i < uint64(len(ops)) {
			if c.res >= 0 {
				ops[i].N, ops[i].Err = int(c.res), nil
			} else {
				ops[i].Err = syscall.Errno(-c.res)
			}
		}
		n++
	}
	atomic.StoreUint32(r.cqHead, head)
	return n
}

// resync drops entries the kernel did not take after a failed enter: the
// tail is brought back to the head.
func (r *Ring) resync() {
	atomic.StoreUint32(r.sqTail, atomic.LoadUint32(r.sqHead))
}
