package netcode_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/tickstream/tickstream/netcode"
	"github.com/tickstream/tickstream/netcode/client"
	"github.com/tickstream/tickstream/netcode/wire"
)

// movers joins n players that wander until the test ends, so that the
// match has changing state to watch.
func (ts *testServer) movers(t *testing.T, ctx context.Context, match string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		p := client.NewPlayer(client.PlayerOptions{URL: ts.url, Name: fmt.Sprintf("mover%d", i), Match: match})
		go p.Run(ctx, func(client.Message) {})
		go func(seed uint64) {
			rng := rand.New(rand.NewPCG(seed, 1))
			tk := time.NewTicker(50 * time.Millisecond)
			defer tk.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tk.C:
					p.Input(ctx, wire.InputMsg{MX: rng.Float64()*2 - 1, MY: rng.Float64()*2 - 1, Buttons: uint8(rng.IntN(2))})
				}
			}
		}(uint64(i))
	}
	m := ts.matchOf(t, match)
	eventually(t, ctx, "the movers to join", func() bool { return m.Info().Players == n })
}

// sseStream opens the SSE stream of a match.
func (ts *testServer) sseStream(t *testing.T, ctx context.Context, match, query, lastID string) (*client.SSEReader, *http.Response) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", ts.http.URL+"/api/matches/"+match+"/events"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" ||
		resp.Header.Get("Cache-Control") != "no-cache" || resp.Header.Get("X-Accel-Buffering") != "no" {
		t.Fatalf("SSE response: %d %v", resp.StatusCode, resp.Header)
	}
	return client.NewSSEReader(resp.Body), resp
}

// specData is the JSON of a keyframe or delta.
type specData struct {
	Tick   uint64    `json:"tick"`
	Time   int64     `json:"time"`
	State  string    `json:"state"`
	Base   uint64    `json:"base"`
	Ents   [][]int64 `json:"ents"`
	Gone   []int64   `json:"gone"`
	Roster []any     `json:"roster"`
}

// specState applies keyframes and deltas as a client must.
type specState struct {
	tick uint64
	ents []wire.Row
}

func (st *specState) apply(t *testing.T, kind string, d specData) {
	t.Helper()
	base := st.ents
	switch kind {
	case wire.SpecKeyframe:
		base = nil
	case wire.SpecDelta:
		if d.Base != st.tick {
			t.Fatalf("delta of tick %d against base %d, but the state is at %d", d.Tick, d.Base, st.tick)
		}
	default:
		return
	}
	if d.Tick <= st.tick {
		t.Fatalf("tick %d after %d", d.Tick, st.tick)
	}
	rows, gone, err := wire.SpecRows(d.Ents, d.Gone, nil, nil)
	if err != nil {
		t.Fatalf("%s of tick %d: %v", kind, d.Tick, err)
	}
	if st.ents, err = wire.ApplyRows(nil, base, rows, gone); err != nil {
		t.Fatalf("%s of tick %d: %v", kind, d.Tick, err)
	}
	st.tick = d.Tick
}

func readSpec(t *testing.T, r *client.SSEReader) (client.SSEEvent, specData) {
	t.Helper()
	ev, err := r.Next()
	if err != nil {
		t.Fatalf("SSE: %v", err)
	}
	var d specData
	if err := json.Unmarshal([]byte(ev.Data), &d); err != nil {
		t.Fatalf("%s data %q: %v", ev.Event, ev.Data, err)
	}
	return ev, d
}

// An SSE spectator gets a keyframe then deltas in tick order; after a
// reconnection with Last-Event-ID the union of both streams has every tick
// exactly once, and the state rebuilt from them equals a fresh keyframe.
func TestSSEResumeWithoutGap(t *testing.T) {
	ts := newTestServer(t, netcode.Config{})
	ctx := testCtx(t, 30*time.Second)
	m := ts.postMatch(t, `{"min_players": 1}`)
	ts.movers(t, ctx, m.ID, 2)

	seen := map[uint64]int{}
	var st specState
	sctx, cancel := context.WithCancel(ctx)
	r, _ := ts.sseStream(t, sctx, m.ID, "", "")
	if r.Retry != 0 {
		t.Fatal("retry before the first event?")
	}
	for i := 0; i < 30; i++ {
		ev, d := readSpec(t, r)
		if i == 0 && ev.Event != wire.SpecKeyframe {
			t.Fatalf("first event %q, want a keyframe", ev.Event)
		}
		if ev.Event == wire.SpecDelta || ev.Event == wire.SpecKeyframe {
			if strconv.FormatUint(d.Tick, 10) != ev.ID {
				t.Fatalf("event id %q for tick %d", ev.ID, d.Tick)
			}
			seen[d.Tick]++
			st.apply(t, ev.Event, d)
		}
	}
	if r.Retry != 2*time.Second {
		t.Fatalf("retry hint %v", r.Retry)
	}
	last := r.LastEventID()
	cancel() // the spectator goes away…
	time.Sleep(300 * time.Millisecond)

	r2, _ := ts.sseStream(t, ctx, m.ID, "", last) // …and comes back with Last-Event-ID
	for i := 0; i < 30; i++ {
		ev, d := readSpec(t, r2)
		if i == 0 && ev.Event != wire.SpecDelta {
			t.Fatalf("first event after resume %q, want a delta (no gap)", ev.Event)
		}
		if ev.Event == wire.SpecDelta {
			seen[d.Tick]++
			st.apply(t, ev.Event, d)
		}
	}
	first, _ := strconv.ParseUint(func() string {
		for k := range seen {
			return strconv.FormatUint(k, 10)
		}
		return "0"
	}(), 10, 64)
	for k := range seen {
		first = min(first, k)
	}
	for tick := first; tick <= st.tick; tick++ {
		if seen[tick] != 1 {
			t.Fatalf("tick %d seen %d times (ticks %d…%d)", tick, seen[tick], first, st.tick)
		}
	}
	// The state rebuilt from keyframe + deltas equals a fresh keyframe of
	// the same tick.
	r3, _ := ts.sseStream(t, ctx, m.ID, "", "")
	ev, key := readSpec(t, r3)
	if ev.Event != wire.SpecKeyframe {
		t.Fatalf("fresh stream starts with %q", ev.Event)
	}
	for st.tick < key.Tick {
		ev, d := readSpec(t, r2)
		st.apply(t, ev.Event, d)
	}
	var fresh specState
	fresh.apply(t, ev.Event, key)
	if st.tick != key.Tick || !slices.Equal(st.ents, fresh.ents) {
		t.Fatalf("state rebuilt from deltas at tick %d differs from the keyframe of tick %d:\n%v\n%v", st.tick, key.Tick, st.ents, fresh.ents)
	}
}

// Long polling with after= has the same guarantees; past the history it
// restarts with a keyframe.
func TestLongPollResume(t *testing.T) {
	ts := newTestServer(t, netcode.Config{Spectators: netcode.SpectatorConfig{History: time.Second}})
	ctx := testCtx(t, 30*time.Second)
	m := ts.postMatch(t, `{"min_players": 1}`)
	ts.movers(t, ctx, m.ID, 1)
	type pollAnswer struct {
		Events []struct {
			ID    uint64          `json:"id"`
			Event string          `json:"event"`
			Data  json.RawMessage `json:"data"`
		} `json:"events"`
		Next uint64 `json:"next"`
		Done bool   `json:"done"`
	}
	poll := func(after uint64) pollAnswer {
		code, b := ts.do(t, "GET", fmt.Sprintf("/api/matches/%s/poll?after=%d&wait=2", m.ID, after), "")
		var a pollAnswer
		if code != 200 || json.Unmarshal(b, &a) != nil {
			t.Fatalf("poll: %d %s", code, b)
		}
		return a
	}
	var st specState
	seen := map[uint64]int{}
	after := uint64(0)
	for i := 0; len(seen) < 40; i++ {
		a := poll(after)
		for j, e := range a.Events {
			if i == 0 && j == 0 && e.Event != wire.SpecKeyframe {
				t.Fatalf("first event %q", e.Event)
			}
			var d specData
			json.Unmarshal(e.Data, &d)
			if e.Event == wire.SpecDelta || e.Event == wire.SpecKeyframe {
				if e.ID != d.Tick {
					t.Fatalf("id %d for tick %d", e.ID, d.Tick)
				}
				seen[d.Tick]++
				st.apply(t, e.Event, d)
			}
		}
		after = a.Next
		time.Sleep(time.Duration(rand.IntN(80)) * time.Millisecond) // pollers come back late
	}
	for tick, n := range seen {
		if n != 1 {
			t.Fatalf("tick %d seen %d times", tick, n)
		}
	}
	for tick := st.tick - uint64(len(seen)) + 1; tick <= st.tick; tick++ {
		if seen[tick] != 1 {
			t.Fatalf("tick %d missing", tick)
		}
	}
	// Three seconds later the tick is out of the history (1 s, but a match
	// always holds 2 s of ticks for player baselines): a keyframe.
	time.Sleep(3 * time.Second)
	if a := poll(after); len(a.Events) == 0 || a.Events[0].Event != wire.SpecKeyframe {
		t.Fatalf("poll from past the history: %+v", a)
	}
}

// Keep-alive comments flow on an idle stream (here idle because of a
// 3 s delay), at the configured interval.
func TestSSEKeepAlive(t *testing.T) {
	ts := newTestServer(t, netcode.Config{Spectators: netcode.SpectatorConfig{KeepAlive: 100 * time.Millisecond}})
	ctx := testCtx(t, 10*time.Second)
	m := ts.postMatch(t, `{"min_players": 1}`)
	sctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	r, _ := ts.sseStream(t, sctx, m.ID, "?delay=3", "")
	if _, err := r.Next(); err == nil {
		t.Fatal("an event arrived before the delay")
	}
	// One comment opens the stream; then one per 100 ms for a second.
	if r.Comments < 6 || r.Comments > 12 {
		t.Fatalf("%d comments in 1 s at a 100 ms keep-alive", r.Comments)
	}
}

// Broadcast delay: nothing arrives before its tick's time plus the match's
// delay plus the spectator's own.
func TestBroadcastDelay(t *testing.T) {
	ts := newTestServer(t, netcode.Config{})
	ctx := testCtx(t, 20*time.Second)
	m := ts.postMatch(t, `{"min_players": 1, "spectator_delay": 1}`)
	if m.Delay != 1 {
		t.Fatalf("match delay %v", m.Delay)
	}
	start := time.Now()
	r, _ := ts.sseStream(t, ctx, m.ID, "?delay=0.5", "")
	for i := 0; i < 20; i++ {
		ev, d := readSpec(t, r)
		if ev.Event != wire.SpecKeyframe && ev.Event != wire.SpecDelta {
			continue
		}
		if early := time.UnixMilli(d.Time).Add(1500 * time.Millisecond).Sub(time.Now()); early > 0 {
			t.Fatalf("tick %d arrived %v before its delay", d.Tick, early)
		}
	}
	if time.Since(start) < 1500*time.Millisecond {
		t.Fatal("the stream started before the delay")
	}
}

// A spectator may ask for fewer updates: rate=10 of a 30 Hz match gives a
// delta every 3 ticks.
func TestSpectatorRate(t *testing.T) {
	ts := newTestServer(t, netcode.Config{})
	ctx := testCtx(t, 20*time.Second)
	m := ts.postMatch(t, `{"min_players": 1}`)
	ts.movers(t, ctx, m.ID, 1)
	r, _ := ts.sseStream(t, ctx, m.ID, "?rate=10", "")
	var st specState
	for i := 0; i < 15; i++ {
		ev, d := readSpec(t, r)
		if ev.Event == wire.SpecDelta && d.Tick != d.Base+3 {
			t.Fatalf("delta %d against %d, want every 3 ticks", d.Tick, d.Base)
		}
		st.apply(t, ev.Event, d)
	}
}

// WebSocket spectators get msgpack events (the same content as SSE) and
// the heartbeat; an input is refused.
func TestWebSocketSpectator(t *testing.T) {
	ts := newTestServer(t, netcode.Config{Heartbeat: netcode.HeartbeatConfig{Interval: 100 * time.Millisecond}})
	ctx := testCtx(t, 30*time.Second)
	m := ts.postMatch(t, `{"min_players": 1}`)
	ts.movers(t, ctx, m.ID, 2)
	watchURL := "ws" + ts.http.URL[4:] + "/api/matches/" + m.ID + "/watch"
	c, err := client.Dial(ctx, watchURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	var st specState
	for n := 0; n < 20; {
		kind, b, err := c.NextRaw(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if kind == wire.TypePing {
			continue
		}
		var d specData
		if err := msgpackUnmarshal(b, &d); err != nil {
			t.Fatalf("%s frame: %v", kind, err)
		}
		if n == 0 && kind != wire.SpecKeyframe {
			t.Fatalf("first frame %q", kind)
		}
		st.apply(t, kind, d)
		n++
	}
	if len(st.ents) < 2 {
		t.Fatalf("state has %d entities, want the 2 players", len(st.ents))
	}
	eventually(t, ctx, "pings to spectators", func() bool { return c.Pings() >= 2 })

	c2, err := client.Dial(ctx, watchURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.CloseNow()
	c2.SendRaw(ctx, wire.AppendInput(nil, wire.InputMsg{Seq: 1}))
	if err := drain(ctx, c2); client.CloseCode(err) != wire.CloseProtocol {
		t.Fatalf("spectator input: %v, want %d", err, wire.CloseProtocol)
	}
}

// The end of a match reaches every transport, and the streams end.
func TestSpectatorsSeeTheEnd(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, netcode.Config{})
	ctx := testCtx(t, 40*time.Second)
	m := ts.postMatch(t, `{"min_players": 1, "rate": 10, "time_limit": 10}`)
	ts.movers(t, ctx, m.ID, 1)
	ws, err := client.Dial(ctx, "ws"+ts.http.URL[4:]+"/api/matches/"+m.ID+"/watch", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	r, _ := ts.sseStream(t, ctx, m.ID, "", "")

	wsEnd := make(chan error, 1)
	go func() {
		sawEnd := false
		for {
			kind, _, err := ws.NextRaw(ctx)
			if err != nil {
				if !sawEnd {
					wsEnd <- fmt.Errorf("closed before end: %w", err)
				} else if client.CloseCode(err) != wire.CloseNormal {
					wsEnd <- fmt.Errorf("closed with %v after end", err)
				} else {
					wsEnd <- nil
				}
				return
			}
			sawEnd = sawEnd || kind == wire.SpecEnd
		}
	}()
	var end client.SSEEvent
	for {
		ev, err := r.Next()
		if err != nil {
			t.Fatalf("SSE ended without an end event: %v", err)
		}
		if ev.Event == wire.SpecEnd {
			end = ev
			break
		}
	}
	var res struct {
		Reason string `json:"reason"`
		Scores []any  `json:"scores"`
	}
	if err := json.Unmarshal([]byte(end.Data), &res); err != nil || res.Reason != "time" || len(res.Scores) != 1 {
		t.Fatalf("end event %q: %v", end.Data, err)
	}
	if _, err := r.Next(); err == nil {
		t.Fatal("the SSE stream went on after end")
	}
	if err := <-wsEnd; err != nil {
		t.Fatalf("WebSocket spectator: %v", err)
	}
	// A poller that asks after the end gets it, and done.
	code, b := ts.do(t, "GET", "/api/matches/"+m.ID+"/poll?after=1&wait=1", "")
	if code == 200 && !json.Valid(b) {
		t.Fatalf("poll after end: %s", b)
	}
}

func drain(ctx context.Context, c *client.Client) error {
	for {
		if _, _, err := c.NextRaw(ctx); err != nil {
			return err
		}
	}
}

// msgpackUnmarshal decodes a spectator frame into the JSON-tagged struct
// the SSE tests use: the keys are the same.
func msgpackUnmarshal(b []byte, v any) error {
	d := msgpack.NewDecoder(bytes.NewReader(b))
	d.SetCustomStructTag("json")
	return d.Decode(v)
}

// Spectator limits are refused with 503 and a reason.
func TestSpectatorLimits(t *testing.T) {
	ts := newTestServer(t, netcode.Config{Spectators: netcode.SpectatorConfig{MaxPerMatch: 2}})
	ctx := testCtx(t, 10*time.Second)
	m := ts.postMatch(t, `{"min_players": 1}`)
	ts.sseStream(t, ctx, m.ID, "", "")
	ts.sseStream(t, ctx, m.ID, "", "")
	code, b := ts.do(t, "GET", "/api/matches/"+m.ID+"/poll?wait=0", "")
	if code != 503 || !json.Valid(b) {
		t.Fatalf("third spectator: %d %s", code, b)
	}
	eventually(t, ctx, "the spectator count in the listing", func() bool {
		_, b := ts.do(t, "GET", "/api/matches/"+m.ID, "")
		var got matchResp
		json.Unmarshal(b, &got)
		return got.Spectators == 2
	})
	for _, q := range []string{"?rate=0", "?rate=x", "?delay=-1", "?delay=100", "?after=x"} {
		if code, _ := ts.do(t, "GET", "/api/matches/"+m.ID+"/poll"+q, ""); code != 400 {
			t.Errorf("query %s: %d, want 400", q, code)
		}
	}
	if code, _ := ts.do(t, "GET", "/api/matches/nope/events", ""); code != 404 {
		t.Errorf("unknown match: %d", code)
	}
}
