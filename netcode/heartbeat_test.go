package netcode_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode"
	"github.com/tickstream/tickstream/netcode/client"
	"github.com/tickstream/tickstream/netcode/wire"
	"github.com/tickstream/tickstream/tests/faultproxy"
)

// proxied starts a fault proxy in front of ts and returns it with its
// /play URL.
func proxied(t *testing.T, ts *testServer) (*faultproxy.Proxy, string) {
	t.Helper()
	p, err := faultproxy.New(strings.TrimPrefix(ts.http.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, "ws://" + p.Addr() + "/play"
}

// readAll keeps reading (and so answering pings) until the connection
// ends; it returns a channel with the final error.
func readAll(ctx context.Context, c *client.Client) <-chan error {
	done := make(chan error, 1)
	go func() { done <- waitClose(ctx, c) }()
	return done
}

func TestPingsMeasureRTT(t *testing.T) {
	ts := newTestServer(t, netcode.Config{Heartbeat: netcode.HeartbeatConfig{Interval: 100 * time.Millisecond}})
	ctx := testCtx(t, 20*time.Second)
	c, _ := ts.join(t, ctx, "pinged", "")
	readAll(ctx, c)
	eventually(t, ctx, "pings with a measured RTT", func() bool { return c.Pings() >= 5 && c.RTT() > 0 })
	if rtt := c.RTT(); rtt > time.Second {
		t.Fatalf("RTT on loopback reported as %v", rtt)
	}
	eventually(t, ctx, "the RTT histogram to fill", func() bool {
		return counter(t, ts, "tickstream_rtt_seconds_count", "") >= 3
	})
}

// deadTiming blackholes a reading client and measures how long the server
// takes to declare the session dead (its seat turns disconnected).
func deadTiming(t *testing.T, hb netcode.HeartbeatConfig, suspend bool) (time.Duration, *testServer) {
	ts := newTestServer(t, netcode.Config{Heartbeat: hb})
	proxy, url := proxied(t, ts)
	ctx := testCtx(t, 120*time.Second)
	c, err := client.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	w, err := c.Join(ctx, "doomed", "")
	if err != nil {
		t.Fatal(err)
	}
	if suspend {
		if err := c.Suspend(ctx, true); err != nil {
			t.Fatal(err)
		}
	}
	readAll(ctx, c)
	eventually(t, ctx, "a pong", func() bool { return c.Pings() >= 2 })
	m := ts.matchOf(t, w.Match)
	start := time.Now()
	proxy.Blackhole(true) // half-open: no FIN, no RST, nothing
	eventually(t, ctx, "the seat to turn disconnected", func() bool { return m.Info().Disconnected == 1 })
	return time.Since(start), ts
}

// The server finds a half-open link by the timeout alone, within interval
// + dead-after + one tick, and closes it as a heartbeat timeout.
func TestHalfOpenLinkDeclaredDead(t *testing.T) {
	for _, tc := range []struct {
		name string
		hb   netcode.HeartbeatConfig
	}{
		{"short", netcode.HeartbeatConfig{Interval: 200 * time.Millisecond, DeadAfter: time.Second}},
		{"default", netcode.HeartbeatConfig{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			interval, dead := tc.hb.Interval, tc.hb.DeadAfter
			if interval == 0 {
				interval, dead = time.Second, 5*time.Second
			}
			took, _ := deadTiming(t, tc.hb, false)
			tick := time.Second / game.DefaultTickRate
			// Slack: the scanner period (≤ 100 ms), this test's polling and a
			// busy machine; still well short of a second timeout period.
			upper := interval + dead + tick + time.Second
			lower := dead - interval
			t.Logf("declared dead %v after the blackhole (bounds %v…%v)", took, lower, upper)
			if took < lower || took > upper {
				t.Fatalf("declared dead after %v, want %v…%v", took, lower, upper)
			}
		})
	}
}

// A suspended client (hidden tab) is not declared dead before the longer
// timeout.
func TestSuspendedClientGetsLongerTimeout(t *testing.T) {
	hb := netcode.HeartbeatConfig{Interval: 100 * time.Millisecond, DeadAfter: 300 * time.Millisecond, SuspendedDeadAfter: 2 * time.Second}
	took, _ := deadTiming(t, hb, true)
	if took < hb.SuspendedDeadAfter-hb.Interval {
		t.Fatalf("suspended client declared dead after %v, before the suspended timeout %v", took, hb.SuspendedDeadAfter)
	}
}

// A connection that closes (FIN/RST, like a killed process) is seen at
// once, not after the timeout; the heartbeat timeout closes with 4010.
func TestClosedLinkSeenAtOnceAndTimeoutCode(t *testing.T) {
	hb := netcode.HeartbeatConfig{Interval: 100 * time.Millisecond, DeadAfter: 2 * time.Second}
	ts := newTestServer(t, netcode.Config{Heartbeat: hb})
	ctx := testCtx(t, 20*time.Second)
	a, wa := ts.join(t, ctx, "killed", "")
	m := ts.matchOf(t, wa.Match)
	start := time.Now()
	a.CloseNow()
	eventually(t, ctx, "the seat to turn disconnected", func() bool { return m.Info().Disconnected == 1 })
	// Seen as a lost connection (the close), not as a heartbeat timeout.
	if took := time.Since(start); took >= hb.DeadAfter {
		t.Fatalf("a closed connection took %v to notice: that is the timeout, not the close", took)
	}
	if n := counter(t, ts, "tickstream_disconnects_total", "heartbeat_timeout"); n != 0 {
		t.Fatalf("a closed connection was counted as %v heartbeat timeouts", n)
	}

	// A client that reads but never answers pings is dead after the
	// timeout, and told so with 4010.
	b, err := client.Dial(ctx, ts.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.CloseNow()
	b.AutoPong.Store(false)
	if _, err := b.Join(ctx, "mute", ""); err != nil {
		t.Fatal(err)
	}
	err = waitClose(ctx, b)
	if got := client.CloseCode(err); got != wire.CloseHeartbeat {
		t.Fatalf("mute client closed with %v (%v), want %d", got, err, wire.CloseHeartbeat)
	}
	eventually(t, ctx, "the heartbeat timeout to be counted", func() bool {
		return counter(t, ts, "tickstream_disconnects_total", "heartbeat_timeout") == 1
	})
}
