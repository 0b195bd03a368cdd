package netcode_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode"
	"github.com/tickstream/tickstream/netcode/wire"
)

func doRequest(t *testing.T, ctx context.Context, url string, h map[string]string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// frozenClient upgrades over raw TCP with a tiny receive buffer, joins,
// and then never reads again: the server's writes to it block.
func frozenClient(t *testing.T, addr, match string) net.Conn {
	t.Helper()
	c := dialRaw(t, addr, "/play", 2048)
	if err := c.Send(wire.EncodeJoin("frozen", match)); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestFrozenClientDoesNotSlowOthers: one peer stops reading big snapshots;
// the healthy player keeps its rate, the match keeps its tick, and the
// frozen session is closed by the write deadline as "too slow".
func TestFrozenClientDoesNotSlowOthers(t *testing.T) {
	ts := newTestServerDir(t, netcode.Config{
		WriteTimeout: 400 * time.Millisecond,
		ViewRadius:   -1, // everybody sees the 1500 extra entities
	}, game.DirectoryConfig{NewRules: func() game.Rules {
		return testRules{Arena: game.NewArena(), extra: 1500, ticks: new(int)} // ~40 KB snapshots
	}})
	ctx := testCtx(t, 30*time.Second)
	healthy, hw := ts.join(t, ctx, "healthy", "")
	frozenClient(t, strings.TrimPrefix(ts.http.URL, "http://"), hw.Match)

	var ticks []uint64
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		ticks = append(ticks, nextSnap(t, ctx, healthy).Tick)
	}
	eventually(t, ctx, "the frozen session to be closed as too slow", func() bool {
		return counter(t, ts, "tickstream_disconnects_total", "too_slow") == 1
	})
	// Behaviour, not a rate (a busy machine must not flip the verdict): the
	// match went on ticking and the healthy player kept receiving, in order.
	// A tick that waited on the frozen socket would stop both for good.
	span := ticks[len(ticks)-1] - ticks[0] + 1
	if len(ticks) < 10 || float64(len(ticks)) < 0.25*float64(span) {
		t.Fatalf("healthy player got %d snapshots over %d ticks while a peer was frozen", len(ticks), span)
	}
	for i := 1; i < len(ticks); i++ {
		if ticks[i] <= ticks[i-1] {
			t.Fatalf("healthy player's ticks not increasing: %d then %d", ticks[i-1], ticks[i])
		}
	}
	after := nextSnap(t, ctx, healthy).Tick
	if after <= ticks[len(ticks)-1] {
		t.Fatalf("no newer snapshot after the frozen peer was closed (tick %d)", after)
	}
}
