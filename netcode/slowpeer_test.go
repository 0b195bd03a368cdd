package netcode_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode"
	"github.com/tickstream/tickstream/netcode/client"
	"github.com/tickstream/tickstream/netcode/wire"
	"github.com/tickstream/tickstream/tests/rawws"
)

// dialRaw upgrades path on addr with a raw WebSocket client (tests/rawws:
// it answers nothing — no pongs, no close reply — unless the test writes);
// rcvbuf > 0 sets SO_RCVBUF first.
func dialRaw(t *testing.T, addr, path string, rcvbuf int) *rawws.Conn {
	t.Helper()
	c, resp, err := rawws.Dial(addr, path, rawws.Options{RcvBuf: rcvbuf})
	if err != nil || c == nil {
		t.Fatalf("raw upgrade of %s: %v %v", path, resp, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// gauge reads a gauge's value by one label value (summed over the
// series that carry it).
func gauge(t *testing.T, ts *testServer, name, label string) float64 {
	t.Helper()
	return counter(t, ts, name, label)
}

func addrOf(ts *testServer) string { return strings.TrimPrefix(ts.http.URL, "http://") }

// A peer that keeps sending (so any-inbound-frame liveness keeps it alive)
// but never reads is closed with 4007 once it has stayed behind (pings
// unanswered) for SlowAfter; the close frame is sent, then the
// connection is dropped. Players and WebSocket spectators alike.
func TestFrozenPeerThatKeepsSendingIsClosedTooSlow(t *testing.T) {
	for _, tc := range []struct {
		name, metric string
		path         func(match string) string
		hello        func(match string) []byte
		keepAlive    func(seq int) []byte
	}{
		{
			name: "player", metric: "tickstream_disconnects_total",
			path:      func(string) string { return "/play" },
			hello:     func(match string) []byte { return wire.EncodeJoin("frozen", match) },
			keepAlive: func(seq int) []byte { return wire.AppendInput(nil, wire.InputMsg{Seq: uint32(seq), MX: 1}) },
		},
		{
			name: "spectator", metric: "tickstream_spectator_disconnects_total",
			path:      func(match string) string { return "/api/matches/" + match + "/watch" },
			keepAlive: func(int) []byte { return wire.EncodeSuspend(false) },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hb := netcode.HeartbeatConfig{Interval: 100 * time.Millisecond, BehindAfter: 500 * time.Millisecond, SlowAfter: time.Second}
			ts := newTestServer(t, netcode.Config{Heartbeat: hb})
			ctx := testCtx(t, 30*time.Second)
			healthy, w := ts.join(t, ctx, "healthy", "")
			readAll(ctx, healthy)

			p := dialRaw(t, addrOf(ts), tc.path(w.Match), 0)
			if tc.hello != nil {
				if err := p.Send(tc.hello(w.Match)); err != nil {
					t.Fatal(err)
				}
			}
			stop := make(chan struct{})
			sent := make(chan struct{})
			go func() { // sends every 50 ms, never reads
				defer close(sent)
				for seq := 1; ; seq++ {
					select {
					case <-stop:
						return
					case <-time.After(50 * time.Millisecond):
					}
					if p.Send(tc.keepAlive(seq)) != nil {
						return
					}
				}
			}()
			eventually(t, ctx, "the frozen peer to be closed as too slow", func() bool {
				return counter(t, ts, tc.metric, "too_slow") == 1
			})
			close(stop)
			<-sent
			code, err := p.ReadToEnd(time.Now().Add(20 * time.Second)) // bound the test, not the server
			if code != wire.CloseTooSlow {
				t.Fatalf("the frozen peer's stream ended (%v) with close code %d, want %d", err, code, wire.CloseTooSlow)
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("the connection was not dropped after the close frame")
			}
			if got := counter(t, ts, "tickstream_disconnects_total", "heartbeat_timeout"); got != 0 {
				t.Fatalf("%v heartbeat timeouts: the healthy player or the frozen peer was declared dead", got)
			}
		})
	}
}

// A peer that is dead (it reads but never answers, never sends) is closed
// with 4010 at dead-after, and its TCP connection is dropped at once after
// the close frame, not after coder/websocket's 5 s wait for a close reply
// that cannot come.
func TestDeadPeerDroppedWithoutWaitingForCloseReply(t *testing.T) {
	for _, tc := range []struct {
		name, metric string
		path         func(match string) string
		hello        func(match string) []byte
	}{
		{
			name: "player", metric: "tickstream_disconnects_total",
			path:  func(string) string { return "/play" },
			hello: func(match string) []byte { return wire.EncodeJoin("dead", match) },
		},
		{
			name: "spectator", metric: "tickstream_spectator_disconnects_total",
			path: func(match string) string { return "/api/matches/" + match + "/watch" },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hb := netcode.HeartbeatConfig{Interval: 100 * time.Millisecond, DeadAfter: 500 * time.Millisecond}
			ts := newTestServer(t, netcode.Config{Heartbeat: hb})
			ctx := testCtx(t, 30*time.Second)
			healthy, w := ts.join(t, ctx, "healthy", "")
			readAll(ctx, healthy)

			p := dialRaw(t, addrOf(ts), tc.path(w.Match), 0)
			if tc.hello != nil {
				if err := p.Send(tc.hello(w.Match)); err != nil {
					t.Fatal(err)
				}
			}
			lastSent := time.Now()
			code, err := p.ReadToEnd(time.Now().Add(20 * time.Second)) // bound the test, not the server
			took := time.Since(lastSent)
			if code != wire.CloseHeartbeat {
				t.Fatalf("the dead peer's stream ended (%v) with close code %d, want %d", err, code, wire.CloseHeartbeat)
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("the connection was not dropped after the close frame")
			}
			// Promised: dead-after + 1 s. Waiting for the close reply would
			// take dead-after + 5 s; the slack is for a busy machine.
			t.Logf("connection dropped %v after the peer's last frame (dead-after %v)", took, hb.DeadAfter)
			if limit := hb.DeadAfter + time.Second + 1500*time.Millisecond; took > limit {
				t.Fatalf("connection dropped %v after the last frame, want ≤ %v (it waited for a close reply)", took, limit)
			}
			eventually(t, ctx, "the heartbeat timeout to be counted", func() bool {
				return counter(t, ts, tc.metric, "heartbeat_timeout") == 1
			})
		})
	}
}

// Through a link whose round trip (~1.6 s) is many ping intervals, pongs
// still match their pings: the RTT the server reports exceeds the
// interval (before, a pong for an older ping was discarded and the RTT
// stayed 0).
func TestRTTMeasuredBeyondPingInterval(t *testing.T) {
	const interval = 200 * time.Millisecond
	ts := newTestServer(t, netcode.Config{Heartbeat: netcode.HeartbeatConfig{Interval: interval}})
	proxy, url := proxied(t, ts)
	ctx := testCtx(t, 60*time.Second)
	c, err := client.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if _, err := c.Join(ctx, "faraway", ""); err != nil {
		t.Fatal(err)
	}
	done := readAll(ctx, c)
	proxy.SetLatency(800 * time.Millisecond) // each way
	eventually(t, ctx, "an RTT beyond the ping interval", func() bool { return c.RTT() > 4*interval })
	t.Logf("RTT reported %v with a %v ping interval", c.RTT(), interval)
	select {
	case err := <-done:
		t.Fatalf("the far client was closed: %v (code %d %q)", err, client.CloseCode(err), client.CloseReason(err))
	default:
	}
	for _, name := range []string{"tickstream_rtt_jitter_seconds", "tickstream_clock_offset_seconds"} {
		eventually(t, ctx, name+" samples", func() bool { return counter(t, ts, name+"_count", "") > 0 })
	}
}

// A legitimately far player (400 ms round trip) is not behind: it is not
// closed and keeps getting snapshots.
func TestHighLatencyPlayerKeepsPlaying(t *testing.T) {
	ts := newTestServerDir(t, netcode.Config{
		ViewRadius: -1,
		Heartbeat:  netcode.HeartbeatConfig{Interval: 200 * time.Millisecond, SlowAfter: time.Second},
	}, game.DirectoryConfig{NewRules: func() game.Rules {
		return testRules{Arena: game.NewArena(), extra: 200, ticks: new(int)} // ~5 KB snapshots
	}})
	proxy, url := proxied(t, ts)
	proxy.SetLatency(200 * time.Millisecond) // far from the start: every RTT sample says so
	ctx := testCtx(t, 60*time.Second)
	c, err := client.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if _, err := c.Join(ctx, "far", ""); err != nil {
		t.Fatal(err)
	}
	nextSnap(t, ctx, c)
	// Measure for more than BehindAfter + SlowAfter (2 s + 1 s).
	var ticks []uint64
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); {
		ticks = append(ticks, nextSnap(t, ctx, c).Tick)
	}
	span := ticks[len(ticks)-1] - ticks[0] + 1
	t.Logf("far player got %d snapshots over %d ticks; RTT %v; acks ok %v stale %v unsent %v; lowered %v", len(ticks), span, c.RTT(),
		counter(t, ts, "tickstream_acks_total", "ok"), counter(t, ts, "tickstream_acks_total", "stale"), counter(t, ts, "tickstream_acks_total", "unsent"),
		counter(t, ts, "tickstream_snapshot_rate_lowered_total", ""))
	if float64(len(ticks)) < 0.5*float64(span) {
		t.Fatalf("far player got %d snapshots over %d ticks", len(ticks), span)
	}
	if got := counter(t, ts, "tickstream_disconnects_total", "too_slow"); got != 0 {
		t.Fatalf("%v too_slow disconnects", got)
	}
	if c.RTT() < 300*time.Millisecond {
		t.Fatalf("RTT reported %v through a 400 ms round trip", c.RTT())
	}
}

// slowConn is a slow link's far end: it reads at most chunk bytes per
// period.
type slowConn struct {
	net.Conn
	chunk  int
	period time.Duration
}

func (c slowConn) Read(b []byte) (int, error) {
	time.Sleep(c.period)
	return c.Conn.Read(b[:min(len(b), c.chunk)])
}

// A player that reads slower than the match produces gets recent
// snapshots, not a backlog. Directly (1.2 MB/s produced, 150 KB/s read),
// the server's kernel buffers are bounded (TuneListener). Through a link
// that buffers without bound (the proxy reads everything at once:
// bufferbloat; 240 KB/s produced, 100 KB/s read) the writer stops while
// the player's pings go unanswered.
func TestSlowReaderGetsRecentSnapshots(t *testing.T) {
	for _, tc := range []struct {
		name         string
		viaProxy     bool
		extra, chunk int
	}{
		{"direct", false, 1500, 1500},     // ~40 KB snapshots; 150 KB/s
		{"bloated_link", true, 300, 1000}, // ~8 KB snapshots; 100 KB/s
	} {
		t.Run(tc.name, func(t *testing.T) { slowReader(t, tc.viaProxy, tc.extra, tc.chunk) })
	}
}

func slowReader(t *testing.T, viaProxy bool, extra, chunk int) {
	const tickRate = 30
	ts := newTestServerDir(t, netcode.Config{
		ViewRadius: -1,
		Heartbeat:  netcode.HeartbeatConfig{Interval: 200 * time.Millisecond, BehindAfter: 500 * time.Millisecond},
	}, game.DirectoryConfig{
		Defaults: game.MatchConfig{TickRate: tickRate},
		NewRules: func() game.Rules {
			return testRules{Arena: game.NewArena(), extra: extra, ticks: new(int)}
		},
	})
	url := ts.url
	if viaProxy {
		_, url = proxied(t, ts)
	}
	ctx := testCtx(t, 60*time.Second)
	dialer := rcvbufDialer(16 << 10)
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return slowConn{Conn: c, chunk: chunk, period: 10 * time.Millisecond}, nil
	}}}
	c, err := client.Dial(ctx, url, &client.Options{HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	w, err := c.Join(ctx, "slow", "")
	if err != nil {
		t.Fatal(err)
	}
	m := ts.matchOf(t, w.Match)
	var n int
	var worst uint64
	for end := time.Now().Add(8 * time.Second); time.Now().Before(end); n++ {
		s := nextSnap(t, ctx, c)
		if now := m.Stats().Ticks; now > s.Tick {
			worst = max(worst, now-s.Tick)
		}
	}
	t.Logf("slow reader got %d snapshots; the oldest was %d ticks behind the match", n, worst)
	// The backlog found (BehindAfter + a ping interval, times how much
	// faster the match produces than the player reads), then drained,
	// plus the bounded buffers; then slack.
	if limit := uint64(5 * tickRate); worst > limit {
		t.Fatalf("a snapshot arrived %d ticks behind the match, want ≤ %d", worst, limit)
	}
	if n < 5 {
		t.Fatalf("slow reader got only %d snapshots in 8 s", n)
	}
}

// churnRules moves extra entities every tick, so that every spectator
// delta is a few KB.
type churnRules struct {
	*game.Arena
	n *int // match goroutine only
}

func (r churnRules) AppendSnapshot(ents []game.Entity, evs []game.Event) ([]game.Entity, []game.Event) {
	ents, evs = r.Arena.AppendSnapshot(ents, evs)
	*r.n++
	for i := 0; i < 200; i++ {
		ents = append(ents, game.Entity{ID: uint32(game.FirstObjectID*2 + i), Kind: 3, X: float32((i + *r.n) % 1600), Y: 1, HP: 1})
	}
	return ents, evs
}

// SSE spectators that stop reading (raw TCP, a tiny receive buffer) block
// the server's writes within a few events (bounded send buffers), and the
// write deadline ends each one: counted as too_slow and no longer counted
// in tickstream_spectators. A reading spectator keeps its stream.
func TestStalledSSEReadersAreEnded(t *testing.T) {
	const stalled = 10
	ts := newTestServerDir(t, netcode.Config{
		WriteTimeout: time.Second,
	}, game.DirectoryConfig{NewRules: func() game.Rules {
		return churnRules{Arena: game.NewArena(), n: new(int)}
	}})
	ctx := testCtx(t, 60*time.Second)
	player, w := ts.join(t, ctx, "player", "")
	readAll(ctx, player)
	path := "/api/matches/" + w.Match + "/events"

	req, _ := http.NewRequestWithContext(ctx, "GET", ts.http.URL+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var last atomic.Uint64
	go func() {
		r := client.NewSSEReader(resp.Body)
		for {
			ev, err := r.Next()
			if err != nil {
				return
			}
			if id, err := strconv.ParseUint(ev.ID, 10, 64); err == nil {
				last.Store(id)
			}
		}
	}()

	for i := 0; i < stalled; i++ {
		c := dialTCP(t, addrOf(ts), 2048) // and never read
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n", path, addrOf(ts))
	}
	eventually(t, ctx, "the stalled spectators to be counted", func() bool {
		return gauge(t, ts, "tickstream_spectators", "sse") == stalled+1
	})
	waitCtx := testCtx(t, 30*time.Second)
	eventually(t, waitCtx, "every stalled spectator to be ended as too slow", func() bool {
		return counter(t, ts, "tickstream_spectator_disconnects_total", "too_slow") == stalled
	})
	if got := gauge(t, ts, "tickstream_spectators", "sse"); got != 1 {
		t.Fatalf("tickstream_spectators{sse} = %v after the stalled ones ended, want 1", got)
	}
	before := last.Load()
	eventually(t, ctx, "the reading spectator to keep receiving", func() bool { return last.Load() > before+5 })
}

// rcvbufDialer dials with SO_RCVBUF set to n (when n > 0).
func rcvbufDialer(n int) *net.Dialer {
	return &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		if n <= 0 {
			return nil
		}
		return rc.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n)
		})
	}}
}

// dialTCP opens a TCP connection with SO_RCVBUF set (when rcvbuf > 0).
func dialTCP(t *testing.T, addr string, rcvbuf int) net.Conn {
	t.Helper()
	c, err := rcvbufDialer(rcvbuf).Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestPipelinedFirstFrames: a client that writes its join (and an input)
// in the same packet as the upgrade request is served: the bytes net/http
// had already read are handed on with the player connection's small
// buffers (hijackRecorder), none lost, in order.
func TestPipelinedFirstFrames(t *testing.T) {
	ts := newTestServer(t, netcode.Config{})
	ctx := testCtx(t, 20*time.Second)
	first, w := ts.join(t, ctx, "first", "")
	readAll(ctx, first)
	join := wire.EncodeJoin("early", w.Match)
	input := wire.AppendInput(nil, wire.InputMsg{Seq: 1, MX: 1})
	c, resp, err := rawws.Dial(addrOf(ts), "/play", rawws.Options{Early: [][]byte{join, input}})
	if err != nil || c == nil {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	defer c.Close()
	dec := wire.NewMessageDecoder()
	var welcome wire.Welcome
	var snap wire.SnapFrame
	deadline := time.Now().Add(10 * time.Second)
	for {
		f, err := c.Next(deadline)
		if err != nil {
			t.Fatalf("no welcome and acknowledged input: %v", err)
		}
		if f.Op != rawws.OpBinary {
			continue
		}
		typ, _ := wire.PeekType(f.Payload)
		switch typ {
		case wire.TypeWelcome:
			if err := dec.Decode(f.Payload, &welcome); err != nil || welcome.Match != w.Match {
				t.Fatalf("welcome %+v (%v), want match %s", welcome, err, w.Match)
			}
		case wire.TypeSnap:
			if err := wire.DecodeSnapHead(f.Payload, &snap); err != nil {
				t.Fatal(err)
			}
			if snap.Ack == 1 { // the pipelined input reached the match
				if welcome.Match == "" {
					t.Fatal("a snapshot before the welcome")
				}
				return
			}
		}
	}
}
