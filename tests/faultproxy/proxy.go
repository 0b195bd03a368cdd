// Package faultproxy is an in-process TCP proxy for fault tests: it
// forwards connections to a target and can cut them (both sides see the
// close at once), blackhole them (bytes stop flowing but no side sees a
// close: a half-open link), delay every chunk by a fixed latency, or limit
// the bandwidth towards the client (a slow mobile link).
//
// It listens on loopback only. All methods may be called concurrently.
package faultproxy

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy forwards TCP connections from its listener to a target address.
type Proxy struct {
	target string
	ln     net.Listener

	latency atomic.Int64                  // ns added to every forwarded chunk
	down    atomic.Int64                  // bytes per second towards the client (0: unlimited)
	gate    atomic.Pointer[chan struct{}] // non-nil while blackholed; closed when lifted
	refuse  atomic.Bool                   // close new connections at once

	mu     sync.Mutex
	links  map[*link]struct{}
	wg     sync.WaitGroup
	closed bool

	accepted atomic.Int64
}

type link struct {
	client, server net.Conn
	done           chan struct{} // closed when the link is cut
	once           sync.Once
}

func (l *link) cut() {
	l.once.Do(func() {
		close(l.done)
		l.client.Close()
		l.server.Close()
	})
}

// New starts a proxy on 127.0.0.1 (a free port) forwarding to target.
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{target: target, ln: ln, links: make(map[*link]struct{})}
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr is the proxy's listen address (host:port).
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Accepted is the number of connections accepted so far.
func (p *Proxy) Accepted() int64 { return p.accepted.Load() }

// SetLatency delays every forwarded chunk, in both directions, by d.
func (p *Proxy) SetLatency(d time.Duration) { p.latency.Store(int64(d)) }

// SetDownstream limits every connection's traffic towards the client to
// bytesPerSec (0: unlimited). While limited, the proxy holds at most
// throttleQueue bytes per connection, so the server's socket fills up and
// the server sees a slow reader, as behind a real slow link.
func (p *Proxy) SetDownstream(bytesPerSec int) { p.down.Store(int64(bytesPerSec)) }

// throttleQueue is the most a throttled direction holds in the proxy.
const throttleQueue = 4 << 10

// Refuse makes the proxy close new connections at once (the server looks
// down) until called with false.
func (p *Proxy) Refuse(on bool) { p.refuse.Store(on) }

// Blackhole stops (on) or restarts (off) forwarding on every current and
// future connection, without closing anything: a half-open link. Bytes
// already read are held and delivered when the hole lifts.
func (p *Proxy) Blackhole(on bool) {
	if on {
		ch := make(chan struct{})
		p.gate.CompareAndSwap(nil, &ch)
		return
	}
	if g := p.gate.Swap(nil); g != nil {
		close(*g)
	}
}

// Cut closes every current connection on both sides.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for l := range p.links {
		l.cut()
	}
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	err := p.ln.Close()
	p.Blackhole(false)
	p.Cut()
	p.wg.Wait()
	return err
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.accepted.Add(1)
		if p.refuse.Load() {
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		l := &link{client: c, server: s, done: make(chan struct{})}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.Close()
			s.Close()
			return
		}
		p.links[l] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(l, c, s, false)
		go p.pipe(l, s, c, true)
	}
}

// pass waits while the proxy is blackholed; false when the link was cut.
func (p *Proxy) pass(l *link) bool {
	g := p.gate.Load()
	if g == nil {
		return true
	}
	select {
	case <-*g:
		return true
	case <-l.done:
		return false
	}
}

type chunk struct {
	b   []byte
	due time.Time
}

// pipe copies src to dst: a reader that stamps each chunk with its due
// time, and a writer that delivers it then (a delay line, so that latency
// does not cut throughput).
func (p *Proxy) pipe(l *link, src, dst net.Conn, down bool) {
	defer p.wg.Done()
	defer func() {
		l.cut()
		p.mu.Lock()
		delete(p.links, l)
		p.mu.Unlock()
	}()
	q := make(chan chunk, 1024)
	writerDone := make(chan struct{})
	var queued atomic.Int64 // bytes read and not yet written
	var sent int64          // bytes written since sentSince, while throttled
	var sentSince time.Time
	go func() {
		defer close(writerDone)
		for c := range q {
			if bps := p.down.Load(); down && bps > 0 {
				// Pace: the bytes written so far may not run ahead of
				// the rate.
				if sentSince.IsZero() {
					sentSince = time.Now()
				}
				due := sentSince.Add(time.Duration(sent * int64(time.Second) / bps))
				if d := time.Until(due); d > 0 {
					select {
					case <-time.After(d):
					case <-l.done:
						return
					}
				}
				sent += int64(len(c.b))
			} else {
				sent, sentSince = 0, time.Time{}
			}
			if d := time.Until(c.due); d > 0 {
				select {
				case <-time.After(d):
				case <-l.done:
					return
				}
			}
			if !p.pass(l) {
				return
			}
			_, err := dst.Write(c.b)
			queued.Add(-int64(len(c.b)))
			if err != nil {
				l.cut()
				return
			}
		}
	}()
	defer func() { close(q); <-writerDone }()
	for {
		if !p.pass(l) {
			return
		}
		size := 32 << 10
		if down && p.down.Load() > 0 {
			size = 1 << 10
			for queued.Load() >= throttleQueue { // hold back: the sender must feel it
				select {
				case <-time.After(time.Millisecond):
				case <-l.done:
					return
				}
			}
		}
		buf := make([]byte, size)
		n, err := src.Read(buf)
		queued.Add(int64(n))
		if n > 0 {
			select {
			case q <- chunk{b: buf[:n], due: time.Now().Add(time.Duration(p.latency.Load()))}:
			case <-l.done:
				return
			}
		}
		if err != nil {
			return
		}
	}
}
