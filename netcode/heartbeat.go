package netcode

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickstream/tickstream/netcode/wire"
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
	// BehindAfter is how old the oldest unanswered ping may be before the
	// client counts as behind; zero means 2 s. Pings are written after
	// the snapshots before them, so a pong proves the client has read all
	// of those: an old unanswered ping means old data waits for the
	// client (in kernels, proxies, its own buffers). A client that is
	// behind gets no snapshots (its latest-wins slot keeps the newest)
	// until it answers again; pings and reliable messages still go. Keep
	// it well above the round trip of the slowest link to serve.
	BehindAfter time.Duration
	// SlowAfter is how long a client may stay behind before it is closed
	// with 4007 too slow; zero means 5 s. While the client is suspended,
	// SuspendedDeadAfter applies instead.
	SlowAfter time.Duration
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
	if c.BehindAfter <= 0 {
		c.BehindAfter = 2 * time.Second
	}
	if c.SlowAfter <= 0 {
		c.SlowAfter = 5 * time.Second
	}
	return c
}

// scanPeriod is how often the interceptor looks at every link: the
// precision of dead detection, ping timing and write deadlines, all of
// them a second or more. Each pass touches every session's cold cache
// lines: at 20 ms (Interval/50) the scanner took about 3 % of the
// server's CPU at 1,000 players.
func (c HeartbeatConfig) scanPeriod() time.Duration {
	return min(max(c.Interval/10, 5*time.Millisecond), 100*time.Millisecond)
}

// pingRing is how many unanswered pings a link tracks. A ping sent while
// it is full is not tracked (its pong still answers the older ones); by
// then the client is long past SlowAfter.
const pingRing = 64

// sentPing is one unanswered ping.
type sentPing struct {
	id   uint32
	sent int64 // Unix ns
}

// link is the interceptor's per-connection state. Every session (players
// and WebSocket spectators) embeds one and registers it with the server's
// scanner; game code never sees it. The scanner, the reader and the
// writer all touch it: fields are atomics or guarded by mu.
type link struct {
	hb  HeartbeatConfig
	obs *metrics // jitter and clock offset histograms

	// lastIn is when the last inbound frame arrived (Unix ns): any frame
	// proves liveness.
	lastIn atomic.Int64
	// writeStart is the start of the write in progress (Unix ns), 0 when
	// idle: the write deadline.
	writeStart atomic.Int64
	suspended  atomic.Bool
	// notBefore (Unix ns, 0: none) keeps the link from being declared dead
	// before then: a player socket before its join, which the join timeout
	// governs instead (close 4008).
	notBefore atomic.Int64
	dead      atomic.Bool // declared dead once
	slow      atomic.Bool // declared too slow once

	// pingDue tells the writer to send a ping (cap 1).
	pingDue chan struct{}
	// onWake, if set (before the link is scanned), is called after
	// pingDue or caughtUp is signalled: the raw path's sessions, which the
	// writer pool serves. For them a due ping waits up to foldWait for the
	// next snapshot, to leave in the same write (poolTake); only a ping
	// not taken by then calls onWake.
	onWake func()
	// caughtUp wakes the writer when the client stops being behind (cap 1).
	caughtUp chan struct{}

	// Scanner only.
	nextPing    int64 // Unix ns
	pingAt      int64 // Unix ns: when the ping waiting in pingDue fell due
	behindSince int64 // Unix ns, while behind

	// behind is set by the scanner and cleared by the scanner or by the
	// reader on the pong that catches the client up; the writer sends no
	// snapshot while it is set.
	behind atomic.Bool
	// oldest is the send time (Unix ns) of the oldest unanswered ping, 0
	// when none: the scanner's measure of how far behind the client reads.
	oldest atomic.Int64

	// Unanswered pings in send order: the writer appends, the reader
	// removes what each pong answers.
	mu       sync.Mutex
	ring     [pingRing]sentPing
	head, n  int
	lastPing uint32 // the highest id sent

	pingID uint32 // writer only: the last id used

	// Measurements, written by the reader on each pong.
	srtt   atomic.Int64 // smoothed RTT, ns
	minRTT atomic.Int64 // the smallest RTT sample of the last minRTTWindow, ns: the path without queueing
	minAt  atomic.Int64 // when minRTT was measured, Unix ns
	rttvar atomic.Int64 // RTT variation (jitter), ns
	offset atomic.Int64 // client clock minus server clock, ns (smoothed)
	pongs  atomic.Int64
}

func (l *link) init(now time.Time, hb HeartbeatConfig, m *metrics) {
	l.hb, l.obs = hb, m
	l.pingDue = make(chan struct{}, 1)
	l.caughtUp = make(chan struct{}, 1)
	l.lastIn.Store(now.UnixNano())
	l.nextPing = now.Add(time.Duration(rand.Int64N(int64(hb.Interval)))).UnixNano()
}

// touch records inbound traffic.
func (l *link) touch(now time.Time) { l.lastIn.Store(now.UnixNano()) }

// deadline is when the link is dead if nothing arrives.
func (l *link) deadline() int64 {
	d := l.hb.DeadAfter
	if l.suspended.Load() {
		d = l.hb.SuspendedDeadAfter
	}
	return max(l.lastIn.Load()+int64(d), l.notBefore.Load())
}

// appendPing appends the next ping to buf, carrying the server clock, the
// smoothed RTT so far and the snapshot divisor in force (0 for spectators),
// and records it as sent. Writer only.
func (l *link) appendPing(buf []byte, now time.Time, every int) []byte {
	l.pingID++
	l.pingSent(l.pingID, now)
	return wire.AppendPing(buf, l.pingID, now.UnixMilli(), float64(l.rtt())/float64(time.Millisecond), every)
}

// pingSent records ping id as written at now.
func (l *link) pingSent(id uint32, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lastPing = id
	if l.n == len(l.ring) {
		return
	}
	l.ring[(l.head+l.n)%len(l.ring)] = sentPing{id: id, sent: now.UnixNano()}
	l.n++
	if l.n == 1 {
		l.oldest.Store(now.UnixNano())
	}
}

// answered removes the pings that a pong for id answers: id and every
// older one (the client read them before it). It returns when id was sent.
func (l *link) answered(id uint32, now int64) (sent int64, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if id == 0 || id > l.lastPing {
		return 0, false
	}
	for l.n > 0 && l.ring[l.head].id <= id {
		if p := l.ring[l.head]; p.id == id {
			sent, ok = p.sent, true
		}
		l.head = (l.head + 1) % len(l.ring)
		l.n--
	}
	oldest := int64(0)
	if l.n > 0 {
		oldest = l.ring[l.head].sent
	}
	l.oldest.Store(oldest)
	if (oldest == 0 || now-oldest <= int64(l.hb.BehindAfter)) && l.behind.CompareAndSwap(true, false) {
		l.signal(l.caughtUp)
	}
	return sent, ok
}

// pong records an answer to a ping, whichever unanswered ping it answers
// (a round trip may span several ping intervals), and returns the RTT
// sample (0 when it answers no ping in flight). The caller observes the
// sample; pong observes the jitter and the clock offset.
func (l *link) pong(id uint32, clientMS float64, now time.Time) time.Duration {
	sent, ok := l.answered(id, now.UnixNano())
	if !ok {
		return 0
	}
	sample := now.UnixNano() - sent
	if sample < 0 {
		return 0
	}
	// RFC 6298 smoothing: srtt += (sample - srtt)/8, rttvar += (|srtt - sample| - rttvar)/4.
	first := l.pongs.Add(1) == 1
	if m := l.minRTT.Load(); first || sample <= m || now.UnixNano()-l.minAt.Load() > int64(minRTTWindow) {
		l.minRTT.Store(sample)
		l.minAt.Store(now.UnixNano())
	}
	if first {
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
	if first {
		l.offset.Store(off)
	} else {
		o := l.offset.Load()
		l.offset.Store(o + (off-o)/8)
	}
	if l.obs != nil {
		l.obs.jitter.Observe(time.Duration(l.rttvar.Load()).Seconds())
		l.obs.clockOffset.Observe(time.Duration(abs(l.offset.Load())).Seconds())
	}
	return time.Duration(sample)
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// rtt returns the smoothed RTT.
func (l *link) rtt() time.Duration { return time.Duration(l.srtt.Load()) }

// minRTTWindow is how long the smallest RTT sample stands for the path
// (a path may change: a mobile handover).
const minRTTWindow = 10 * time.Second

// baseRTT is the smallest RTT measured recently: the smoothed RTT of a
// link whose queue fills up grows with the queue, this does not (pacing
// uses it).
func (l *link) baseRTT() time.Duration { return time.Duration(l.minRTT.Load()) }

// verdict is what one scan of a link found; the caller acts on it (so
// that the scan itself never blocks).
type verdict struct {
	dead  bool // nothing arrived for the dead-after timeout: close 4010
	stuck bool // a write has been blocked past the write deadline: drop (no frame can follow)
	slow  bool // behind for SlowAfter: close 4007
}

// scan is one pass of the interceptor over a link at time now: it
// declares the link dead, stuck or too slow, tracks whether the client is
// behind, and asks for a ping when one is due.
func (l *link) scan(now int64, writeTimeout time.Duration) (v verdict) {
	if ws := l.writeStart.Load(); ws != 0 && now-ws > int64(writeTimeout) {
		v.stuck = true
	}
	if now > l.deadline() && l.dead.CompareAndSwap(false, true) {
		v.dead = true
	}
	if old := l.oldest.Load(); old != 0 && now-old > int64(l.hb.BehindAfter) {
		if !l.behind.Swap(true) {
			l.behindSince = old + int64(l.hb.BehindAfter)
		}
		limit := l.hb.SlowAfter
		if l.suspended.Load() {
			limit = l.hb.SuspendedDeadAfter
		}
		if now-l.behindSince > int64(limit) && l.slow.CompareAndSwap(false, true) {
			v.slow = true
		}
	} else if l.behind.Load() && l.behind.Swap(false) { // a load first: the pass writes nothing to a link that is fine
		l.signal(l.caughtUp)
	}
	if now >= l.nextPing {
		next := l.nextPing + int64(l.hb.Interval)
		if next <= now { // fell behind (a long pause): do not burst
			next = now + int64(l.hb.Interval)
		}
		l.nextPing = next
		l.pingAt = now
		if l.onWake == nil || l.behind.Load() { // a client behind gets no snapshot to carry it
			l.signal(l.pingDue)
		} else {
			wake(l.pingDue)
		}
	} else if l.onWake != nil && len(l.pingDue) > 0 && now-l.pingAt >= int64(l.hb.foldWait()) {
		l.onWake() // no snapshot took it in time: it goes alone
	}
	return v
}

// foldWait is how long a due ping may wait for a snapshot to share its
// write (a quarter of the interval: a tick or a few at any snapshot rate
// the server uses). The ping's time is taken when it is written, so the
// wait shows in no measurement.
func (c HeartbeatConfig) foldWait() time.Duration { return c.Interval / 4 }

// signal wakes the link's writer through c (cap 1), and calls onWake: a
// session of the raw path has no goroutine waiting on c.
func (l *link) signal(c chan struct{}) {
	wake(c)
	if l.onWake != nil {
		l.onWake()
	}
}

// wake signals a cap-1 channel without blocking.
func wake(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
