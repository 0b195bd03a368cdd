package netcode_test

import (
	"context"
	"testing"
	"time"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode"
	"github.com/tickstream/tickstream/netcode/client"
)

// A player behind a link of 8 KB/s, in a match whose stream is about four
// times that, stays in the game: flow control holds snapshots back while
// the link still carries earlier ones (the acks come back late), so it
// gets fewer snapshots, each of the newest
// tick and never one older than a tick it already has, while a player on a
// good link keeps the full rate and the match keeps its tick.
func TestThrottledPlayerStaysWithFewerFresherSnapshots(t *testing.T) {
	const rate = 30
	ts := newTestServerDir(t, netcode.Config{
		ViewRadius: -1,
	}, game.DirectoryConfig{
		Defaults: game.MatchConfig{TickRate: rate, MinPlayers: 1},
		NewRules: func() game.Rules {
			return testRules{Arena: game.NewArena(), extra: 240, ticks: new(int)} // ~1 KB per delta: ~30 KB/s
		},
	})
	ctx := testCtx(t, 40*time.Second)
	good, gw := ts.join(t, ctx, "good", "")
	proxy, url := proxied(t, ts)
	proxy.SetDownstream(8000)
	slow, err := client.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.CloseNow()
	if _, err := slow.Join(ctx, "slow", gw.Match); err != nil {
		t.Fatal(err)
	}

	type result struct {
		ticks []uint64
		err   error
	}
	read := func(c *client.Client, d time.Duration) <-chan result {
		out := make(chan result, 1)
		go func() {
			var r result
			rctx, cancel := context.WithTimeout(ctx, d)
			defer cancel()
			for {
				m, err := c.Next(rctx)
				if err != nil {
					if rctx.Err() == nil {
						r.err = err
					}
					out <- r
					return
				}
				if m.Snap != nil {
					r.ticks = append(r.ticks, m.Snap.Tick)
				}
			}
		}()
		return out
	}
	m := ts.matchOf(t, gw.Match)
	before := m.Stats()
	const window = 8 * time.Second
	goodCh, slowCh := read(good, window), read(slow, window)
	g, s := <-goodCh, <-slowCh
	after := m.Stats()

	if s.err != nil || g.err != nil {
		t.Fatalf("a player lost its connection: throttled %v (close %d), good %v", s.err, client.CloseCode(s.err), g.err)
	}
	for name, r := range map[string]result{"throttled": s, "good": g} {
		for i := 1; i < len(r.ticks); i++ {
			if r.ticks[i] <= r.ticks[i-1] {
				t.Fatalf("%s player got tick %d after %d", name, r.ticks[i], r.ticks[i-1])
			}
		}
	}
	ticks := after.Ticks - before.Ticks
	t.Logf("%d ticks in %v: good player %d snapshots, throttled %d; late ticks %d", ticks, window, len(g.ticks), len(s.ticks), after.Late-before.Late)
	if len(s.ticks) < 10 {
		t.Fatalf("throttled player got %d snapshots in %v: it must stay in the game", len(s.ticks), window)
	}
	if 2*len(s.ticks) > len(g.ticks) {
		t.Fatalf("throttled player got %d snapshots, the good one %d: the rate was not lowered", len(s.ticks), len(g.ticks))
	}
	if 3*uint64(len(g.ticks)) < ticks { // far from a player held back with the throttled one
		t.Fatalf("good player got %d snapshots of %d ticks: the throttled one slowed it", len(g.ticks), ticks)
	}
	if late := after.Late - before.Late; 4*late > ticks {
		t.Fatalf("%d of %d ticks late while a player was throttled", late, ticks)
	}
	// Flow control did it: ticks were held back for the throttled player
	// (and its divisor may have been lowered too).
	held, lowered := counter(t, ts, "tickstream_snapshots_held_total", ""), counter(t, ts, "tickstream_snapshot_rate_lowered_total", "")
	t.Logf("held %v, lowered %v", held, lowered)
	if held < 1 {
		t.Fatal("no snapshot was held back for the throttled player")
	}
}
