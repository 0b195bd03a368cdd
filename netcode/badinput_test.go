package netcode_test

import (
	"context"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode"
	"github.com/tickstream/tickstream/netcode/client"
	"github.com/tickstream/tickstream/netcode/wire"
)

// testRules is the arena with knobs: extra entities to make snapshots big,
// and a switch that ends the match.
type testRules struct {
	*game.Arena
	extra int
	over  *atomic.Bool
	ticks *int // extra entities move every tick when set (deltas carry them all)
}

func (r testRules) AppendSnapshot(ents []game.Entity, evs []game.Event) ([]game.Entity, []game.Event) {
	ents, evs = r.Arena.AppendSnapshot(ents, evs)
	var t int
	if r.ticks != nil {
		*r.ticks++
		t = *r.ticks
	}
	for i := 0; i < r.extra; i++ {
		ents = append(ents, game.Entity{ID: uint32(game.FirstObjectID*2 + i), Kind: 3, X: float32((i + 7*t) % 1600), Y: 1, HP: 1})
	}
	return ents, evs
}

func (r testRules) Over() (bool, string) {
	if r.over != nil && r.over.Load() {
		return true, "score"
	}
	return r.Arena.Over()
}

func mp(t *testing.T, v any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func input(seq any, mx, my, aim any, buttons any) map[string]any {
	return map[string]any{"t": "input", "seq": seq, "mx": mx, "my": my, "aim": aim, "buttons": buttons}
}

// TestBadInputIsRefused sends every kind of bad input to a live server
// while a healthy player plays in the same match: each bad client gets its
// documented close code and reason, the refusal is counted, and the healthy
// player keeps receiving every tick.
func TestBadInputIsRefused(t *testing.T) {
	var over atomic.Bool
	ts := newTestServerDir(t, netcode.Config{
		JoinTimeout: 300 * time.Millisecond,
	}, game.DirectoryConfig{NewRules: func() game.Rules {
		return testRules{Arena: game.NewArena(), over: &over}
	}})
	ctx := testCtx(t, 60*time.Second)
	healthy, hw := ts.join(t, ctx, "healthy", "")
	full := ts.postMatch(t, `{"max_players": 1}`)
	ts.join(t, ctx, "sitter", full.ID)

	// The healthy player reads all along and records the ticks it sees.
	var ticks []uint64
	stopHealthy := make(chan struct{})
	healthyDone := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stopHealthy:
				healthyDone <- nil
				return
			default:
			}
			m, err := healthy.Next(ctx)
			if err != nil {
				healthyDone <- err
				return
			}
			if m.Snap != nil {
				ticks = append(ticks, m.Snap.Tick)
			}
		}
	}()

	long := strings.Repeat("x", 25)
	cases := []struct {
		name   string
		join   bool // join the healthy player's match first
		frames [][]byte
		text   bool
		code   wire.CloseCode
		reason string
	}{
		{name: "text frame", text: true, code: wire.CloseBadMessage, reason: "text frames"},
		{name: "malformed msgpack", frames: [][]byte{{0xc1}}, code: wire.CloseBadMessage, reason: "malformed"},
		{name: "truncated", frames: [][]byte{{0x82, 0xa1, 't'}}, code: wire.CloseBadMessage, reason: "malformed"},
		{name: "not a map", frames: [][]byte{{0x92, 1, 2}}, code: wire.CloseBadMessage, reason: "not a map"},
		{name: "9-byte length bomb", frames: [][]byte{{0x81, 0xa1, 0x6b, 0xdd, 0xff, 0xff, 0xff, 0xff}}, code: wire.CloseBadMessage, reason: "malformed"},
		{name: "map32 bomb", frames: [][]byte{{0xdf, 0xff, 0xff, 0xff, 0xff}}, code: wire.CloseBadMessage, reason: "malformed"},
		{name: "name of wrong type", frames: [][]byte{mp(t, map[string]any{"t": "join", "name": 7})}, code: wire.CloseBadMessage, reason: "malformed"},
		{name: "unknown type", frames: [][]byte{mp(t, map[string]any{"t": "dance"})}, code: wire.CloseUnknownType, reason: "dance"},
		{name: "input before join", frames: [][]byte{mp(t, input(1, 0, 0, 0, 0))}, code: wire.CloseProtocol, reason: "first message must be join"},
		{name: "no join in time", code: wire.CloseProtocol, reason: "no join"},
		{name: "empty name", frames: [][]byte{wire.EncodeJoin("  ", "")}, code: wire.CloseBadName, reason: "empty"},
		{name: "long name", frames: [][]byte{wire.EncodeJoin(long, "")}, code: wire.CloseBadName, reason: "longer than 24"},
		{name: "control characters", frames: [][]byte{wire.EncodeJoin("bad\x07name", "")}, code: wire.CloseBadName, reason: "control"},
		{name: "invalid UTF-8", frames: [][]byte{wire.EncodeJoin("bad\xffname", "")}, code: wire.CloseBadName, reason: "UTF-8"},
		{name: "unknown match", frames: [][]byte{wire.EncodeJoin("x", "nosuchid")}, code: wire.CloseNoSuchMatch, reason: "no such match"},
		{name: "full match", frames: [][]byte{wire.EncodeJoin("x", full.ID)}, code: wire.CloseMatchFull, reason: "match full"},
		{name: "frame over the limit", frames: [][]byte{mp(t, map[string]any{"t": "join", "name": strings.Repeat("y", 600)})}, code: wire.CloseTooBig},
		{name: "second join", join: true, frames: [][]byte{wire.EncodeJoin("again", "")}, code: wire.CloseProtocol, reason: "already joined"},
		{name: "seq zero", join: true, frames: [][]byte{mp(t, input(0, 0, 0, 0, 0))}, code: wire.CloseBadInput, reason: "seq"},
		{name: "mx out of range", join: true, frames: [][]byte{mp(t, input(1, 1.5, 0, 0, 0))}, code: wire.CloseBadInput, reason: "mx"},
		{name: "my NaN", join: true, frames: [][]byte{mp(t, input(1, 0, math.NaN(), 0, 0))}, code: wire.CloseBadInput, reason: "my"},
		{name: "aim infinite", join: true, frames: [][]byte{mp(t, input(1, 0, 0, math.Inf(1), 0))}, code: wire.CloseBadInput, reason: "aim"},
		{name: "unknown buttons", join: true, frames: [][]byte{mp(t, input(1, 0, 0, 0, 8))}, code: wire.CloseBadInput, reason: "button"},
		{name: "view beyond 2^53", join: true, frames: [][]byte{mp(t, map[string]any{"t": "input", "seq": 1, "view": uint64(1<<53 + 1)})}, code: wire.CloseBadInput, reason: "view"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := client.Dial(ctx, ts.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			if tc.join {
				if _, err := c.Join(ctx, "bad-"+tc.name[:4], hw.Match); err != nil {
					t.Fatal(err)
				}
			}
			if tc.text {
				if err := c.SendText(ctx, `{"t":"join"}`); err != nil {
					t.Fatal(err)
				}
			}
			for _, f := range tc.frames {
				if err := c.SendRaw(ctx, f); err != nil {
					t.Fatal(err)
				}
			}
			err = waitClose(ctx, c)
			if got := client.CloseCode(err); got != tc.code {
				t.Fatalf("close code %d (%v), want %d", got, err, tc.code)
			}
			if r := client.CloseReason(err); !strings.Contains(r, tc.reason) {
				t.Fatalf("close reason %q, want it to mention %q", r, tc.reason)
			}
		})
	}

	// Ended match: the switch ends the healthy player's match; a join is
	// refused with 4006 while it lingers.
	t.Run("ended match", func(t *testing.T) {
		over.Store(true)
		m := ts.matchOf(t, hw.Match)
		eventually(t, ctx, "the match to end", func() bool { return m.Info().State == game.StateEnded })
		c, err := client.Dial(ctx, ts.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		_, err = c.Join(ctx, "late", hw.Match)
		if got := client.CloseCode(err); got != wire.CloseMatchEnded {
			t.Fatalf("join of an ended match: %v, want close %d", err, wire.CloseMatchEnded)
		}
	})

	close(stopHealthy)
	if err := <-healthyDone; err != nil {
		t.Fatalf("the healthy player was disturbed: %v", err)
	}
	// The healthy player saw the match go on: increasing ticks, few gaps.
	if len(ticks) < 10 {
		t.Fatalf("healthy player got only %d snapshots", len(ticks))
	}
	for i := 1; i < len(ticks); i++ {
		if ticks[i] <= ticks[i-1] {
			t.Fatalf("healthy player's ticks not increasing: %d then %d", ticks[i-1], ticks[i])
		}
	}
	span := ticks[len(ticks)-1] - ticks[0] + 1
	if float64(len(ticks)) < 0.25*float64(span) { // a loose bound: behaviour, not a rate
		t.Fatalf("healthy player got %d snapshots over %d ticks", len(ticks), span)
	}
	for _, reason := range []string{"bad_message", "unknown_type", "protocol", "bad_name", "no_such_match", "match_full", "too_big", "bad_input", "match_ended"} {
		if counter(t, ts, "tickstream_refusals_total", reason) == 0 {
			t.Errorf("refusal %q not counted", reason)
		}
	}
}

func TestUpgradeRefusals(t *testing.T) {
	ts := newTestServer(t, netcode.Config{AllowedOrigins: []string{"*.example.com"}})
	ctx := testCtx(t, 10*time.Second)
	dial := func(origin string) error {
		opts := &client.Options{HTTPHeader: map[string][]string{}}
		if origin != "" {
			opts.HTTPHeader.Set("Origin", origin)
		}
		c, err := client.Dial(ctx, ts.url, opts)
		if err == nil {
			c.CloseNow()
		}
		return err
	}
	if err := dial("https://evil.test"); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("cross-origin upgrade: %v, want HTTP 403", err)
	}
	if err := dial("https://games.example.com"); err != nil {
		t.Fatalf("allowed origin refused: %v", err)
	}
	if err := dial(ts.http.URL); err != nil {
		t.Fatalf("same origin refused: %v", err)
	}
	if err := dial(""); err != nil {
		t.Fatalf("no origin (not a browser) refused: %v", err)
	}
	if counter(t, ts, "tickstream_refusals_total", "cross_origin") != 1 {
		t.Fatal("cross-origin refusal not counted once")
	}

	// No subprotocol, and not a WebSocket at all.
	code, b := ts.do(t, "GET", "/play", "")
	if code != 426 || !strings.Contains(string(b), "websocket upgrade required") {
		t.Fatalf("plain GET /play: %d %s", code, b)
	}
	req := map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
	code, b = ts.doHeaders(t, "/play", req)
	if code != 400 || !strings.Contains(string(b), "subprotocol tickstream.v2 required") {
		t.Fatalf("upgrade without subprotocol: %d %s", code, b)
	}
}

func (ts *testServer) doHeaders(t *testing.T, path string, h map[string]string) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return doRequest(t, ctx, ts.http.URL+path, h)
}
