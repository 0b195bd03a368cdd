package uring

import (
	"bytes"
	"errors"
	"net"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// pairs opens n TCP connections on loopback and returns the raw
// descriptors of both ends (non-blocking, as Go's sockets are).
func pairs(t testing.TB, n int) (client, server []int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	fdOf := func(c net.Conn) int {
		f, err := c.(*net.TCPConn).File() // a dup, blocking mode cleared below
		if err != nil {
			t.Fatal(err)
		}
		fd, err := unix.Dup(int(f.Fd()))
		f.Close()
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.SetNonblock(fd, true); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fd) })
		return fd
	}
	for range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		client = append(client, fdOf(c))
		server = append(server, fdOf(s))
	}
	return client, server
}

func ring(t testing.TB, n uint32) *Ring {
	t.Helper()
	r, err := New(n)
	if err != nil {
		t.Fatalf("io_uring: %v", err)
	}
	t.Cleanup(r.Close)
	return r
}

func TestSendRecvBatch(t *testing.T) {
	r := ring(t, 64)
	cl, sv := pairs(t, 40)
	send := make([]Op, len(sv))
	for i, fd := range sv {
		send[i] = Op{Fd: fd, Buf: bytes.Repeat([]byte{byte(i)}, 100+i)}
	}
	if err := r.Send(send); err != nil {
		t.Fatal(err)
	}
	for i, op := range send {
		if op.Err != nil || op.N != len(op.Buf) {
			t.Fatalf("send %d: n=%d err=%v", i, op.N, op.Err)
		}
	}
	recv := make([]Op, len(cl))
	for i, fd := range cl {
		recv[i] = Op{Fd: fd, Buf: make([]byte, 4096)}
	}
	if err := r.Recv(recv); err != nil {
		t.Fatal(err)
	}
	for i, op := range recv {
		if op.Err != nil || !bytes.Equal(op.Buf[:op.N], send[i].Buf) {
			t.Fatalf("recv %d: n=%d err=%v", i, op.N, op.Err)
		}
	}
	// Nothing more to read: every receive says EAGAIN at once.
	if err := r.Recv(recv); err != nil {
		t.Fatal(err)
	}
	for i, op := range recv {
		if !errors.Is(op.Err, syscall.EAGAIN) {
			t.Fatalf("recv %d on an empty socket: n=%d err=%v, want EAGAIN", i, op.N, op.Err)
		}
	}
}

// A socket whose buffer is full takes part of a send, then nothing
// (EAGAIN), and never blocks the batch.
func TestSendFullSocket(t *testing.T) {
	r := ring(t, 8)
	cl, sv := pairs(t, 2)
	_ = unix.SetsockoptInt(sv[0], unix.SOL_SOCKET, unix.SO_SNDBUF, 4096)
	_ = unix.SetsockoptInt(cl[0], unix.SOL_SOCKET, unix.SO_RCVBUF, 4096)
	big := make([]byte, 4<<20)
	ops := []Op{{Fd: sv[0], Buf: big}, {Fd: sv[1], Buf: []byte("hello")}}
	if err := r.Send(ops); err != nil {
		t.Fatal(err)
	}
	if ops[0].Err != nil || ops[0].N <= 0 || ops[0].N >= len(big) {
		t.Fatalf("send to a small buffer: n=%d err=%v, want part of %d", ops[0].N, ops[0].Err, len(big))
	}
	if ops[1].Err != nil || ops[1].N != 5 {
		t.Fatalf("the other send: n=%d err=%v", ops[1].N, ops[1].Err)
	}
	// The receiver never reads: within a bounded number of sends the
	// socket is full and a send says EAGAIN instead of waiting.
	ops = ops[:1]
	for i := 0; ; i++ {
		if i == 1000 {
			t.Fatal("1000 sends to a socket nobody reads, and never EAGAIN")
		}
		if err := r.Send(ops); err != nil {
			t.Fatal(err)
		}
		if errors.Is(ops[0].Err, syscall.EAGAIN) {
			break
		}
		if ops[0].Err != nil {
			t.Fatalf("send: %v", ops[0].Err)
		}
	}
}

// A closed peer and a bad descriptor fail their own operation only.
func TestErrorsStayWithTheirOp(t *testing.T) {
	r := ring(t, 8)
	cl, sv := pairs(t, 2)
	unix.Close(cl[0]) // dup'd: the cleanup's second close is harmless
	ops := []Op{{Fd: sv[0], Buf: make([]byte, 64)}, {Fd: 1 << 20, Buf: make([]byte, 8)}, {Fd: sv[1], Buf: make([]byte, 64)}}
	if err := r.Recv(ops); err != nil {
		t.Fatal(err)
	}
	if ops[0].Err != nil || ops[0].N != 0 {
		t.Fatalf("recv from a closed peer: n=%d err=%v, want the end (0, nil)", ops[0].N, ops[0].Err)
	}
	if !errors.Is(ops[1].Err, syscall.EBADF) {
		t.Fatalf("bad descriptor: err=%v, want EBADF", ops[1].Err)
	}
	if !errors.Is(ops[2].Err, syscall.EAGAIN) {
		t.Fatalf("recv from an idle socket: n=%d err=%v, want EAGAIN", ops[2].N, ops[2].Err)
	}
}

// BenchmarkSend64 compares 64 sends of a 200-byte snapshot in one batch
// with 64 write(2) calls.
func BenchmarkSend64(b *testing.B) {
	cl, sv := pairs(b, 64)
	msg := make([]byte, 200)
	drain := make([]byte, 1<<16)
	drainAll := func() {
		for _, fd := range cl {
			for {
				if n, err := unix.Read(fd, drain); err != nil || n < len(drain) {
					break
				}
			}
		}
	}
	b.Run("write", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			for _, fd := range sv {
				if _, err := unix.Write(fd, msg); err != nil {
					b.Fatal(err)
				}
			}
			if i%64 == 63 {
				b.StopTimer()
				drainAll()
				b.StartTimer()
			}
		}
	})
	b.Run("uring", func(b *testing.B) {
		r := ring(b, 64)
		ops := make([]Op, len(sv))
		for i := 0; i < b.N; i++ {
			for j, fd := range sv {
				ops[j] = Op{Fd: fd, Buf: msg}
			}
			if err := r.Send(ops); err != nil {
				b.Fatal(err)
			}
			if i%64 == 63 {
				b.StopTimer()
				drainAll()
				b.StartTimer()
			}
		}
	})
}

// A batch the kernel refuses as a whole (here: the ring's descriptor is
// gone) returns the error, and every operation says ErrNotSent, so that
// the caller may do them by other means without doing any twice.
func TestRefusedBatchNotSent(t *testing.T) {
	r := ring(t, 8)
	_, sv := pairs(t, 2)
	fd := r.fd
	unix.Close(fd)
	r.fd = -1 // Close must not close a reused number
	ops := []Op{{Fd: sv[0], Buf: []byte("a")}, {Fd: sv[1], Buf: []byte("b")}}
	if err := r.Send(ops); err == nil {
		t.Fatal("a send on a closed ring succeeded")
	}
	for i, op := range ops {
		if !errors.Is(op.Err, ErrNotSent) || op.N != 0 {
			t.Fatalf("op %d: n=%d err=%v, want ErrNotSent", i, op.N, op.Err)
		}
	}
	// The ring's queue was taken back: nothing is left pending in it.
	if h, tl := *r.sqHead, *r.sqTail; h != tl {
		t.Fatalf("submission queue head %d, tail %d after a refused batch", h, tl)
	}
}

// BenchmarkSyscall is the price of a system call itself on this machine,
// against which batching them is weighed: one that does nothing
// (getppid) and a read(2) of an empty non-blocking socket (EAGAIN).
func BenchmarkSyscall(b *testing.B) {
	b.Run("getppid", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			unix.RawSyscall(unix.SYS_GETPPID, 0, 0, 0)
		}
	})
	b.Run("read-EAGAIN", func(b *testing.B) {
		cl, _ := pairs(b, 1)
		buf := make([]byte, 64)
		for i := 0; i < b.N; i++ {
			if _, err := unix.Read(cl[0], buf); err != unix.EAGAIN {
				b.Fatalf("read of an empty socket: %v, want EAGAIN", err)
			}
		}
	})
}
