package netcode

import (
	"errors"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tickstream/tickstream/netcode/internal/uring"
)

// sendBatch is a pool worker's io_uring: a job's snapshots (up to
// poolChunk sessions) go to the kernel in one io_uring_enter(2) instead
// of one write(2) each. Each send is non-blocking (MSG_DONTWAIT) and the
// call returns with every result, so a batch is poolWrite for many
// sessions at once: the same locks, the same frames, the same handling
// of a socket that takes part of a frame (pending, the slow writer) or
// fails (the connection is dropped).
type sendBatch struct {
	ring  *uring.Ring
	ops   []uring.Op
	slots []batchSlot
	bufs  [][]byte // a frame buffer per slot (a frame lives until the batch is sent)
}

type batchSlot struct {
	s    *session
	key  uint64
	size int
}

var (
	uringOnce sync.Once
	uringOK   bool
)

// ioURingAvailable reports whether this kernel lets the process set up an
// io_uring (a container's seccomp profile or the io_uring_disabled sysctl
// may refuse it).
func ioURingAvailable() bool {
	uringOnce.Do(func() {
		r, err := uring.New(poolChunk)
		if err == nil {
			r.Close()
			uringOK = true
		}
	})
	return uringOK
}

// newSendBatch returns a worker's batch, or nil without io_uring.
func newSendBatch() *sendBatch {
	if !ioURingAvailable() {
		return nil
	}
	r, err := uring.New(poolChunk)
	if err != nil {
		return nil
	}
	return &sendBatch{ring: r, bufs: make([][]byte, poolChunk)}
}

// run is the pool's turn on a job's sessions: each one's newest due tick
// is framed with its write locks taken (poolTake), all are sent in one
// submission, then each one's result is handled (poolDone).
func (b *sendBatch) run(job []*session, now time.Time) {
	b.ops, b.slots = b.ops[:0], b.slots[:0]
	for _, s := range job {
		i := len(b.slots)
		frame, key, size, buf, ok := s.poolTake(now, b.bufs[i])
		b.bufs[i] = buf
		if !ok {
			continue
		}
		b.slots = append(b.slots, batchSlot{s: s, key: key, size: size})
		b.ops = append(b.ops, uring.Op{Buf: frame})
	}
	if len(b.ops) == 0 {
		return
	}
	b.send()
	for i, sl := range b.slots {
		op := &b.ops[i]
		n, err := op.N, op.Err
		if errors.Is(err, unix.EAGAIN) {
			n, err = 0, nil // the socket is full: all of it waits
		}
		if err == nil && sl.size >= 0 {
			sl.s.srv.metrics.batched.Inc()
		}
		sl.s.poolDone(now, sl.key, op.Buf, sl.size, n, err)
		op.Buf = nil
	}
}

// send holds the descriptors of the slots (each through its connection's
// hold, so that a concurrent drop cannot let a number be reused under the
// batch), then sends them all. A connection already dropped gets
// descriptor -1: its send fails alone (EBADF).
func (b *sendBatch) send() {
	for i := range b.slots {
		b.ops[i].Fd = -1
		if ws := b.slots[i].s.conn.ws; ws.hold() {
			b.ops[i].Fd = ws.fd
		}
	}
	if err := b.ring.Send(b.ops); err != nil {
		// The ring refused the batch (not one send): write each send
		// it never took, once.
		for j := range b.ops {
			if op := &b.ops[j]; errors.Is(op.Err, uring.ErrNotSent) {
				op.N, op.Err = rawWrite(op.Fd, op.Buf)
				op.N = max(op.N, 0)
			}
		}
	}
	for i := range b.slots {
		if b.ops[i].Fd >= 0 {
			b.slots[i].s.conn.ws.release()
		}
	}
}
