package faultproxy

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

// echoServer echoes lines back.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

func dial(t *testing.T, p *Proxy) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

func roundTrip(t *testing.T, c net.Conn, r *bufio.Reader, msg string) (string, error) {
	t.Helper()
	if _, err := io.WriteString(c, msg+"\n"); err != nil {
		return "", err
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	return r.ReadString('\n')
}

func TestForwardCutBlackhole(t *testing.T) {
	p, err := New(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, r := dial(t, p)
	if got, err := roundTrip(t, c, r, "hello"); err != nil || got != "hello\n" {
		t.Fatalf("forward: %q %v", got, err)
	}

	// Blackhole: nothing comes back, nothing is closed.
	p.Blackhole(true)
	io.WriteString(c, "lost?\n")
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := r.ReadString('\n'); err == nil {
		t.Fatal("data crossed a blackholed link")
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("blackholed link was closed: %v", err)
	}
	// Lifted: the held bytes arrive.
	p.Blackhole(false)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if got, err := r.ReadString('\n'); err != nil || got != "lost?\n" {
		t.Fatalf("after the blackhole: %q %v", got, err)
	}

	// Cut: the client sees the close at once.
	p.Cut()
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := r.ReadString('\n'); err == nil {
		t.Fatal("cut link still open")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("cut was not seen before the deadline")
	}
	// New connections still work.
	c2, r2 := dial(t, p)
	if got, err := roundTrip(t, c2, r2, "again"); err != nil || got != "again\n" {
		t.Fatalf("after cut: %q %v", got, err)
	}
}

func TestLatencyDelaysWithoutSerialising(t *testing.T) {
	p, err := New(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, r := dial(t, p)
	p.SetLatency(300 * time.Millisecond)
	start := time.Now()
	// Ten messages sent back to back: each crosses the proxy twice, so the
	// last echo arrives after about 600 ms; a delay line that serialised
	// the chunks would take 10 × 600 ms. The bounds sit far from both, so
	// that a busy machine cannot flip the verdict.
	for i := 0; i < 10; i++ {
		io.WriteString(c, "x\n")
		time.Sleep(5 * time.Millisecond)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for i := 0; i < 10; i++ {
		if _, err := r.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	el := time.Since(start)
	if el < 600*time.Millisecond {
		t.Fatalf("echoes arrived after %v: latency not applied", el)
	}
	if el > 3*time.Second {
		t.Fatalf("echoes took %v: the delay line serialised the chunks", el)
	}
}
