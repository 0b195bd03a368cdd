package netcode

import (
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// HeartbeatConfig configures the heartbeat interceptor. Zero fields take
// the documented default.
type HeartbeatConfig struct {
	// Interval between pings; zero means 1 s. The first ping of a session
	// is jittered over one interval so that reconnect storms spread out.
	Interval time.Duration
	// DeadAfter is how long a session may send nothing before it is
	// declared dead; zero means 5 s.
	DeadAfter time.Duration
	// SuspendedDeadAfter replaces DeadAfter while the client says its tab
	// is hidden; zero means 60 s.
	SuspendedDeadAfter time.Duration
}

func (c HeartbeatConfig) withDefaults() HeartbeatConfig {
	if c.Interval <= 0 {
		c.Interval = time.Second
	}
	if c.DeadAfter <= 0 {
		c.DeadAfter = 5 * time.Second
	}
	if c.SuspendedDeadAfter <= 0 {
		c.SuspendedDeadAfter = 60 * time.Second
	}
	return c
}

// scanPeriod is how often the interceptor looks at every link: the
// precision of dead detection, ping timing and write deadlines.
func (c HeartbeatConfig) scanPeriod() time.Duration {
	return min(max(c.Interval/50, 5*time.Millisecond), 20*time.Millisecond)
}

// link is the interceptor's per-connection state. Every session (players
// now, spectators later) embeds one and registers it with the server's
// scanner; game code never sees it. Fields are atomics: the scanner, the
// reader and the writer all touch them.
type link struct {
	// lastIn is when the last inbound frame arrived (Unix ns): any frame
	// proves liveness.
	lastIn atomic.Int64
	// writeStart is the start of the write in progress (Unix ns), 0 when
	// idle: the write deadline.
	writeStart atomic.Int64
	suspended  atomic.Bool
	nextPing   atomic.Int64 // Unix ns; scanner only
	dead       atomic.Bool  // declared dead once

	// pingDue tells the writer to send a ping (cap 1).
	pingDue chan struct{}
	// The ping in flight: written by the writer, read by the reader.
	pingID   atomic.Uint32
	pingSent atomic.Int64 // Unix ns

	// Measurements, written by the reader on each pong.
	srtt   atomic.Int64 // smoothed RTT, ns
	rttvar atomic.Int64 // RTT variation (jitter), ns
	offset atomic.Int64 // client clock minus server clock, ns (smoothed)
	pongs  atomic.Int64
}

func (l *link) init(now time.Time, hb HeartbeatConfig) {
	l.pingDue = make(chan struct{}, 1)
	l.lastIn.Store(now.UnixNano())
	l.nextPing.Store(now.Add(time.Duration(rand.Int64N(int64(hb.Interval)))).UnixNano())
}

// touch records inbound traffic.
func (l *link) touch(now time.Time) { l.lastIn.Store(now.UnixNano()) }

// deadline is when the link is dead if nothing arrives.
func (l *link) deadline(hb HeartbeatConfig) int64 {
	d := hb.DeadAfter
	if l.suspended.Load() {
		d = hb.SuspendedDeadAfter
	}
	return l.lastIn.Load() + int64(d)
}

// pingSentNow is called by the writer when it writes ping id.
func (l *link) pingSentNow(id uint32, now time.Time) {
	l.pingSent.Store(now.UnixNano())
	l.pingID.Store(id)
}

// pong records an answer to a ping and returns the RTT sample (0 when
// the pong does not answer the ping in flight).
func (l *link) pong(id uint32, clientMS float64, now time.Time) time.Duration {
	if id == 0 || id != l.pingID.Load() {
		return 0
	}
	sent := l.pingSent.Load()
	sample := now.UnixNano() - sent
	if sample < 0 {
		return 0
	}
	// RFC 6298 smoothing: srtt += (sample - srtt)/8, rttvar += (|srtt - sample| - rttvar)/4.
	if l.pongs.Add(1) == 1 {
		l.srtt.Store(sample)
		l.rttvar.Store(sample / 2)
	} else {
		srtt := l.srtt.Load()
		dev := srtt - sample
		if dev < 0 {
			dev = -dev
		}
		l.rttvar.Store(l.rttvar.Load() + (dev-l.rttvar.Load())/4)
		l.srtt.Store(srtt + (sample-srtt)/8)
	}
	// The client stamped its clock about half an RTT after we sent.
	off := int64(clientMS*1e6) - (sent + sample/2)
	if l.pongs.Load() == 1 {
		l.offset.Store(off)
	} else {
		o := l.offset.Load()
		l.offset.Store(o + (off-o)/8)
	}
	return time.Duration(sample)
}

// RTT returns the smoothed RTT.
func (l *link) rtt() time.Duration { return time.Duration(l.srtt.Load()) }

// scan is one pass of the interceptor over a link at time now: it declares
// the link dead, asks for a ping, or enforces the write deadline. It
// returns what must be done; the caller acts (so that the scan itself
// never blocks).
func (l *link) scan(now int64, hb HeartbeatConfig, writeTimeout time.Duration) (dead, slow bool) {
	if ws := l.writeStart.Load(); ws != 0 && now-ws > int64(writeTimeout) {
		slow = true
	}
	if now > l.deadline(hb) && l.dead.CompareAndSwap(false, true) {
		dead = true
	}
	if np := l.nextPing.Load(); now >= np {
		next := np + int64(hb.Interval)
		if next <= now { // fell behind (a long pause): do not burst
			next = now + int64(hb.Interval)
		}
		l.nextPing.Store(next)
		select {
		case l.pingDue <- struct{}{}:
		default:
		}
	}
	return dead, slow
}
