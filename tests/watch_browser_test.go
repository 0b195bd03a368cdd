//go:build browser

package tests

// The watch page (GET /watch) in a real browser: Chromium opens it on a real
// server process whose match has two moving Go bots, and must follow the
// match over WebSocket, Server-Sent Events or long polling:
//
//   - TestBrowserWatchWebSocket: the list shows the match; a click watches
//     it over WebSocket.
//   - TestBrowserWatchFallbackSSE / TestBrowserWatchFallbackPoll: a reverse
//     proxy in front of the server refuses WebSocket upgrades (and, for
//     poll, the event stream too): the page falls back by itself.
//   - TestBrowserWatchSilentFallback: the WebSocket works, then goes silent
//     (the proxy freezes it): the page moves to SSE and continues from the
//     tick it holds, without a second keyframe.
//   - TestBrowserWatchForced: ?transport=sse and ?transport=poll.
//   - TestBrowserWatchEnd: a 10 s match ends under the page's eyes: results,
//     and the event stream is not reopened.
//
// Each test checks that ticks advance, both players are there (with their
// roster names) and move. Screenshots go to the artifacts folder.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tickstream/tickstream/netcode/client"
	"github.com/tickstream/tickstream/netcode/wire"
)

const (
	// watchTimeout bounds everything one watch test does with the browser.
	watchTimeout = 30 * time.Second
	// watchFor is how long the page is watched between two looks.
	watchFor = 1500 * time.Millisecond
	// minWatchMove is the least distance, in arena units, that a bot must
	// cover in watchFor (they move at 300 units/s, always turning).
	minWatchMove = 60.0
)

// watchState mirrors window.tickstreamWatch (static/src/watch.ts).
type watchState struct {
	MatchID   string   `json:"matchId"`
	Transport string   `json:"transport"`
	Tried     []string `json:"tried"`
	Tick      int64    `json:"tick"`
	Ticks     int64    `json:"ticks"`
	Keyframes int64    `json:"keyframes"`
	Deltas    int64    `json:"deltas"`
	Players   int      `json:"players"`
	Shots     int      `json:"projectiles"`
	Positions []struct {
		ID int     `json:"id"`
		X  float64 `json:"x"`
		Y  float64 `json:"y"`
	} `json:"positions"`
	Names       []string `json:"names"`
	State       string   `json:"state"`
	TickTime    float64  `json:"tickTime"`
	LastEventAt float64  `json:"lastEventAt"`
	Ended       bool     `json:"ended"`
	Finished    bool     `json:"finished"`
	Errors      []string `json:"errors"`
	Spectators  int      `json:"spectators"`
	Delay       float64  `json:"delay"`
	Matches     int      `json:"matches"`
}

func (s watchState) String() string {
	var pos []string
	for _, p := range s.Positions {
		pos = append(pos, fmt.Sprintf("%d:(%.0f,%.0f)", p.ID, p.X, p.Y))
	}
	return fmt.Sprintf("match=%q transport=%q tried=%v tick=%d ticks=%d (keyframes %d, deltas %d) players=%d %v projectiles=%d names=%q "+
		"state=%q ended=%v finished=%v spectators=%d delay=%g errors=%q",
		s.MatchID, s.Transport, s.Tried, s.Tick, s.Ticks, s.Keyframes, s.Deltas, s.Players, pos, s.Shots, s.Names,
		s.State, s.Ended, s.Finished, s.Spectators, s.Delay, s.Errors)
}

func (b *browserPage) watchState() watchState {
	b.t.Helper()
	st, err := chromedp.Run(b.ctx, chromedp.Evaluate[watchState](`window.tickstreamWatch`))
	if err != nil {
		b.fatal("read window.tickstreamWatch: %v", err)
	}
	return st
}

// watchFatal logs the watch page's state and fails the test (with the
// failure screenshot).
func (b *browserPage) watchFatal(format string, args ...any) {
	b.t.Helper()
	if st, err := chromedp.Run(b.ctx, chromedp.Evaluate[watchState](`window.tickstreamWatch`)); err == nil {
		b.t.Logf("window.tickstreamWatch: %s", st)
	}
	b.fatal(format, args...)
}

func (b *browserPage) open(url string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Navigate(url)); err != nil {
		b.fatal("open %s: %v", url, err)
	}
}

// botMatch creates a match for one player (so that it runs at once) and
// seats two Go players, alice and bob, that keep moving in circles and fire
// now and then. They leave when the test ends.
func botMatch(t *testing.T, srv *serverProcess, settings map[string]any) string {
	t.Helper()
	body := map[string]any{"min_players": 1}
	for k, v := range settings {
		body[k] = v
	}
	raw, _ := json.Marshal(body)
	resp, err := http.Post(srv.URL+"/api/matches", "application/json", bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("create a match: %v", err)
	}
	var m struct {
		ID string `json:"id"`
	}
	err = json.NewDecoder(resp.Body).Decode(&m)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || err != nil || m.ID == "" {
		t.Fatalf("create a match: status %d, id %q, err %v", resp.StatusCode, m.ID, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	for i, name := range []string{"alice", "bob"} {
		p := client.NewPlayer(client.PlayerOptions{URL: srv.WSURL(), Name: name, Match: m.ID})
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := p.Run(ctx, func(client.Message) {}); err != nil && ctx.Err() == nil {
				t.Logf("bot %s: %v", name, err)
			}
		}()
		go func() {
			defer wg.Done()
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for n := 0; ; n++ {
				a := math.Remainder(float64(i)*math.Pi+float64(n)*0.15, 2*math.Pi) // ≈ 1.5 rad/s
				in := wire.InputMsg{MX: math.Cos(a), MY: math.Sin(a), Aim: a}
				if n%3 == 0 {
					in.Buttons = 1
				}
				if _, err := p.Input(ctx, in); err != nil && ctx.Err() == nil {
					t.Logf("bot %s: input: %v", name, err)
				}
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		}()
	}
	// Both seated and the match running.
	deadline := time.Now().Add(5 * time.Second)
	for {
		info, err := matchInfo(srv.URL, m.ID)
		if err == nil && info.Players == 2 && info.State == "running" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("match %s: bots not seated within 5 s: %+v, %v", m.ID, info, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("match %s: alice and bob are playing", m.ID)
	return m.ID
}

type apiMatch struct {
	ID         string  `json:"id"`
	Players    int     `json:"players"`
	State      string  `json:"state"`
	Spectators int     `json:"spectators"`
	Delay      float64 `json:"delay"`
}

func matchInfo(base, id string) (apiMatch, error) {
	var m apiMatch
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(base + "/api/matches/" + id)
	if err != nil {
		return m, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return m, fmt.Errorf("status %d", resp.StatusCode)
	}
	return m, json.NewDecoder(resp.Body).Decode(&m)
}

// gateProxy is a reverse proxy in front of the server that can refuse
// WebSocket upgrades and event streams, or freeze the WebSockets it passed
// (bytes stop in both directions; nobody sees a close). Everything else,
// including SSE (flushed at once) and long polls, goes through.
type gateProxy struct {
	*httptest.Server
	blockWS, blockSSE atomic.Bool

	refusedWS, refusedSSE atomic.Int64

	mu       sync.Mutex
	upgraded []*freezeConn // backend connections of passed WebSockets
	requests []string      // request URIs of /events and /watch
	frozen   atomic.Bool
}

func newGateProxy(t *testing.T, target string) *gateProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	g := &gateProxy{}
	quiet := func(w http.ResponseWriter, r *http.Request, err error) {
		if r.Context().Err() == nil {
			t.Logf("proxy: %s %s: %v", r.Method, r.URL, err)
		}
		w.WriteHeader(http.StatusBadGateway)
	}
	plain := httputil.NewSingleHostReverseProxy(u)
	plain.FlushInterval = -1 // event streams: flush every write
	plain.ErrorHandler = quiet
	// WebSockets get their own transport, whose connections can be frozen.
	ws := httputil.NewSingleHostReverseProxy(u)
	ws.ErrorHandler = quiet
	ws.Transport = &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			fc := &freezeConn{Conn: c, frozen: &g.frozen, closed: make(chan struct{})}
			g.mu.Lock()
			g.upgraded = append(g.upgraded, fc)
			g.mu.Unlock()
			return fc, nil
		},
	}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upgrade := strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
		events := strings.HasSuffix(r.URL.Path, "/events")
		if upgrade || events {
			g.mu.Lock()
			g.requests = append(g.requests, r.URL.RequestURI())
			g.mu.Unlock()
		}
		switch {
		case upgrade && g.blockWS.Load():
			g.refusedWS.Add(1)
			http.Error(w, "test proxy: no WebSockets here", http.StatusForbidden)
		case events && g.blockSSE.Load():
			g.refusedSSE.Add(1)
			http.Error(w, "test proxy: no event streams here", http.StatusBadGateway)
		case upgrade:
			ws.ServeHTTP(w, r)
		default:
			plain.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(func() {
		g.mu.Lock()
		for _, c := range g.upgraded {
			c.Close()
		}
		g.mu.Unlock()
		g.CloseClientConnections()
		g.Close()
	})
	return g
}

// Requests returns the request URIs of the event streams and WebSockets
// asked for so far.
func (g *gateProxy) Requests() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.requests)
}

// freezeConn stops passing bytes once frozen: reads block until the
// connection is closed, writes are dropped.
type freezeConn struct {
	net.Conn
	frozen    *atomic.Bool
	closed    chan struct{}
	closeOnce sync.Once
}

func (c *freezeConn) Read(p []byte) (int, error) {
	if !c.frozen.Load() {
		n, err := c.Conn.Read(p)
		if !c.frozen.Load() {
			return n, err
		}
	}
	<-c.closed
	return 0, net.ErrClosed
}

func (c *freezeConn) Write(p []byte) (int, error) {
	if c.frozen.Load() {
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (c *freezeConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// expectWatching waits until the page watches over transport with the two
// bots in its state, then watches for watchFor and checks that ticks
// advanced, the bots moved, the roster names are there, events are fresh
// and the stream had no gap. It returns the second look.
func expectWatching(b *browserPage, transport string) watchState {
	b.t.Helper()
	return expectWatchingDelayed(b, transport, 0)
}

// expectWatchingDelayed is expectWatching for a stream delayed by delay
// seconds in all (the match's and the page's): the HUD must say so.
func expectWatchingDelayed(b *browserPage, transport string, delay float64) watchState {
	b.t.Helper()
	t := b.t
	cond := `(() => { const w = window.tickstreamWatch; return w && w.transport === "` + transport +
		`" && w.ticks > 0 && w.players === 2 })()`
	wait := 12*time.Second + time.Duration(delay*float64(time.Second))
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingTimeout(wait))); err != nil {
		b.watchFatal("not watching over %s with both players within %v: %v", transport, wait, err)
	}
	first := b.watchState()
	time.Sleep(watchFor)
	second := b.watchState()
	t.Logf("watching over %s: %s", transport, second)

	if second.Transport != transport {
		t.Errorf("transport %q after %v; want it to stay %q", second.Transport, watchFor, transport)
	}
	if second.Tick <= first.Tick {
		t.Errorf("tick did not advance over %v: %d → %d", watchFor, first.Tick, second.Tick)
	}
	// 30 Hz: about 45 updates; long polling may batch but applies each one.
	if got := second.Ticks - first.Ticks; got < 15 {
		t.Errorf("%d keyframes+deltas applied in %v; want at least 15", got, watchFor)
	}
	if second.Players != 2 {
		t.Errorf("players = %d; want 2", second.Players)
	}
	moved := 0.0
	for _, p := range second.Positions {
		for _, q := range first.Positions {
			if p.ID == q.ID {
				moved = math.Max(moved, math.Hypot(p.X-q.X, p.Y-q.Y))
			}
		}
	}
	if moved < minWatchMove {
		t.Errorf("the players moved at most %.1f units in %v; want at least %.0f (before %v, after %v)",
			moved, watchFor, minWatchMove, first.Positions, second.Positions)
	}
	names := slices.Sorted(slices.Values(second.Names))
	if !slices.Equal(names, []string{"alice", "bob"}) {
		t.Errorf("roster names %q; want alice and bob (the keyframe's roster)", second.Names)
	}
	if second.State != "running" || second.Ended || second.Finished {
		t.Errorf("state %q ended %v finished %v; want a running match", second.State, second.Ended, second.Finished)
	}
	for _, e := range second.Errors {
		if strings.Contains(e, "from scratch") {
			t.Errorf("the stream had a gap: %q", e)
		}
	}
	fresh, err := chromedp.Run(b.ctx, chromedp.Evaluate[float64](`Date.now() - window.tickstreamWatch.lastEventAt`))
	if err != nil || fresh > 1000 {
		t.Errorf("last event %.0f ms ago (err %v); want a live stream", fresh, err)
	}
	hud, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("#hud")))
	if err != nil {
		t.Errorf("read #hud: %v", err)
	} else {
		wantDelay := fmt.Sprintf("delay %s s", strconv.FormatFloat(delay, 'f', -1, 64))
		for _, want := range []string{"transport " + transport, "players 2", "tick ", wantDelay, "spectator"} {
			if !strings.Contains(hud, want) {
				t.Errorf("#hud = %q; want it to contain %q", hud, want)
			}
		}
	}
	if t.Failed() {
		b.watchFatal("see the errors above")
	}
	return second
}

// expectSpectators waits until the page's HUD data (from GET
// /api/matches/{id}, refreshed every 2 s) counts at least one spectator.
func expectSpectators(b *browserPage) {
	b.t.Helper()
	b.waitFor(`window.tickstreamWatch.spectators >= 1`, 5*time.Second, "the spectator counted in the match's info")
}

func TestBrowserWatchWebSocket(t *testing.T) {
	srv := startServer(t, serverBinary(t))
	id := botMatch(t, srv, nil)
	ctx, cancel := context.WithTimeout(context.Background(), watchTimeout)
	defer cancel()
	b := startBrowser(t, ctx, "browser-watch-ws-failed.png")

	// The list shows the match; a click on its row watches it.
	b.open(srv.URL + "/watch")
	row := `tr[data-match="` + id + `"]`
	b.waitFor(`document.querySelector('`+row+`') !== null`, 5*time.Second, "the match in the list")
	cells, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(row)))
	if err != nil {
		b.fatal("read the row: %v", err)
	}
	t.Logf("list row: %q", cells)
	for _, want := range []string{id, "2/16", "running", "0 s"} {
		if !strings.Contains(cells, want) {
			t.Errorf("row %q lacks %q", cells, want)
		}
	}
	b.shot("browser-watch-list.png")
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS(row+` td:nth-child(3)`))); err != nil {
		b.fatal("click the row: %v", err)
	}
	// The click navigates: the page's JavaScript context is replaced, so
	// look from here (an evaluation may fail while it changes).
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		search, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`location.search`))
		if err == nil && search == "?match="+id {
			break
		}
		if time.Now().After(deadline) {
			b.fatal("no navigation to the match within 5 s: location.search %q, %v", search, err)
		}
	}

	st := expectWatching(b, "ws")
	if !slices.Equal(st.Tried, []string{"ws"}) || len(st.Errors) != 0 {
		t.Errorf("tried %v, errors %q; want WebSocket at once and no error", st.Tried, st.Errors)
	}
	if st.MatchID != id {
		t.Errorf("matchId %q; want %q", st.MatchID, id)
	}
	expectSpectators(b)
	if info, err := matchInfo(srv.URL, id); err != nil || info.Spectators != 1 {
		t.Errorf("GET /api/matches/%s: %+v, %v; want 1 spectator", id, info, err)
	}
	play, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.getElementById("play-link").getAttribute("href")`))
	if err != nil || play != "/" {
		t.Errorf("link to the play page: %q, %v", play, err)
	}
	b.shot("browser-watch-ws.png")

	// An unknown match: the page says so and shows the list instead.
	b.open(srv.URL + "/watch?match=nosuchmatch")
	b.waitFor(`document.getElementById("status").textContent.includes("no such match: nosuchmatch") && `+
		`!document.getElementById("list").hidden && document.querySelector('`+row+`') !== null`,
		5*time.Second, "the unknown match reported, and the list")
}

func TestBrowserWatchFallbackSSE(t *testing.T) {
	srv := startServer(t, serverBinary(t))
	id := botMatch(t, srv, nil)
	proxy := newGateProxy(t, srv.URL)
	proxy.blockWS.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), watchTimeout)
	defer cancel()
	b := startBrowser(t, ctx, "browser-watch-fallback-sse-failed.png")

	b.open(proxy.URL + "/watch?match=" + id)
	st := expectWatching(b, "sse")
	if !slices.Equal(st.Tried, []string{"ws", "sse"}) {
		t.Errorf("tried %v; want ws, then sse", st.Tried)
	}
	if n := proxy.refusedWS.Load(); n < 1 {
		t.Errorf("the proxy refused %d WebSocket upgrades; want the page to have tried one", n)
	}
	if len(st.Errors) == 0 || !strings.HasPrefix(st.Errors[0], "ws: ") {
		t.Errorf("errors %q; want the WebSocket failure recorded", st.Errors)
	}
	expectSpectators(b)
	t.Logf("proxy saw: %q", proxy.Requests())
	b.shot("browser-watch-fallback-sse.png")
}

func TestBrowserWatchFallbackPoll(t *testing.T) {
	srv := startServer(t, serverBinary(t))
	id := botMatch(t, srv, nil)
	proxy := newGateProxy(t, srv.URL)
	proxy.blockWS.Store(true)
	proxy.blockSSE.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), watchTimeout)
	defer cancel()
	b := startBrowser(t, ctx, "browser-watch-fallback-poll-failed.png")

	b.open(proxy.URL + "/watch?match=" + id)
	st := expectWatching(b, "poll")
	if !slices.Equal(st.Tried, []string{"ws", "sse", "poll"}) {
		t.Errorf("tried %v; want ws, sse, then poll", st.Tried)
	}
	if proxy.refusedWS.Load() < 1 || proxy.refusedSSE.Load() < 1 {
		t.Errorf("the proxy refused %d upgrades and %d event streams; want at least one of each",
			proxy.refusedWS.Load(), proxy.refusedSSE.Load())
	}
	// A refused EventSource (a status other than 200) never retries: one request only.
	if n := proxy.refusedSSE.Load(); n != 1 {
		t.Errorf("%d event-stream requests; want exactly 1", n)
	}
	b.shot("browser-watch-fallback-poll.png")
}

// TestBrowserWatchSilentFallback: the WebSocket delivers, then goes silent
// without a close (the proxy freezes it). After 3 s the page moves to SSE,
// passing the tick it holds as after=, and the stream continues with deltas
// from that tick: no second keyframe, no gap.
func TestBrowserWatchSilentFallback(t *testing.T) {
	srv := startServer(t, serverBinary(t))
	id := botMatch(t, srv, nil)
	proxy := newGateProxy(t, srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), watchTimeout)
	defer cancel()
	b := startBrowser(t, ctx, "browser-watch-silent-failed.png")

	b.open(proxy.URL + "/watch?match=" + id)
	before := expectWatching(b, "ws")
	proxy.frozen.Store(true)
	frozenAt := time.Now()
	frozenTick := b.watchState().Tick
	b.waitFor(`window.tickstreamWatch.transport === "sse"`, 6*time.Second, "the move to SSE after the silence")
	t.Logf("moved to SSE %v after the freeze", time.Since(frozenAt).Round(time.Millisecond))
	if d := time.Since(frozenAt); d < 2500*time.Millisecond {
		t.Errorf("left the WebSocket %v into the silence; want the 3 s watchdog", d)
	}
	after := expectWatching(b, "sse")
	if after.Keyframes != before.Keyframes {
		t.Errorf("keyframes %d → %d; want the SSE stream to continue with deltas", before.Keyframes, after.Keyframes)
	}
	var resumed string
	for _, r := range proxy.Requests() {
		if strings.Contains(r, "/events") {
			resumed = r
		}
	}
	u, _ := url.Parse(resumed)
	a, err := strconv.ParseInt(u.Query().Get("after"), 10, 64)
	if err != nil || a < frozenTick-30 || a > frozenTick+30 {
		t.Errorf("event stream requested as %q; want after= the tick held when the socket froze (≈%d)", resumed, frozenTick)
	}
	if !slices.ContainsFunc(after.Errors, func(e string) bool { return strings.HasPrefix(e, "ws: silent") }) {
		t.Errorf("errors %q; want the WebSocket's silence recorded", after.Errors)
	}
	b.shot("browser-watch-silent-fallback.png")
}

func TestBrowserWatchForced(t *testing.T) {
	srv := startServer(t, serverBinary(t))
	id := botMatch(t, srv, nil)
	ctx, cancel := context.WithTimeout(context.Background(), watchTimeout)
	defer cancel()
	b := startBrowser(t, ctx, "browser-watch-forced-failed.png")
	for _, tr := range []string{"sse", "poll"} {
		b.open(srv.URL + "/watch?transport=" + tr + "&match=" + id)
		st := expectWatching(b, tr)
		if !slices.Equal(st.Tried, []string{tr}) || len(st.Errors) != 0 {
			t.Errorf("?transport=%s: tried %v, errors %q; want only %s and no error", tr, st.Tried, st.Errors, tr)
		}
		b.shot("browser-watch-forced-" + tr + ".png")
	}
}

// TestBrowserWatchEnd watches a 10 s match to its end over SSE: the page
// shows the results and closes its EventSource (which would otherwise come
// back after the stream ends).
func TestBrowserWatchEnd(t *testing.T) {
	srv := startServer(t, serverBinary(t))
	id := botMatch(t, srv, map[string]any{"time_limit": 10})
	proxy := newGateProxy(t, srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), watchTimeout)
	defer cancel()
	b := startBrowser(t, ctx, "browser-watch-end-failed.png")

	b.open(proxy.URL + "/watch?transport=sse&match=" + id)
	b.waitFor(`window.tickstreamWatch.ticks > 0 && window.tickstreamWatch.players === 2`, 10*time.Second, "the match")
	b.waitFor(`window.tickstreamWatch.ended`, 14*time.Second, "the end of the match")
	results, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](
		`(() => { const r = document.getElementById("results"); return r.hidden ? "(hidden)" : r.textContent })()`))
	if err != nil {
		b.fatal("read #results: %v", err)
	}
	t.Logf("results: %q", results)
	for _, want := range []string{"Match over", "time limit reached", "alice", "bob", "Watch another match"} {
		if !strings.Contains(results, want) {
			t.Errorf("#results = %q; want %q in it", results, want)
		}
	}
	b.shot("browser-watch-end.png")
	// The server ends the stream after `end`; EventSource would reconnect
	// after the stream's retry (2 s) if the page had not closed it.
	streams := len(proxy.Requests())
	time.Sleep(2500 * time.Millisecond)
	st := b.watchState()
	if n := len(proxy.Requests()) - streams; n != 0 {
		t.Errorf("%d event-stream requests after the end: %q; want none", n, proxy.Requests())
	}
	if !st.Ended || !st.Finished || st.Transport != "sse" {
		t.Errorf("after the end: %s; want ended and finished over sse", st)
	}
	if len(st.Errors) != 0 {
		t.Errorf("errors %q; want none", st.Errors)
	}
}

// TestBrowserWatchDelay: a match broadcast 1 s late, watched with 1 s more
// (?delay=1) over SSE, whose watchdog must wait out the delay before the
// first event. The HUD shows 2 s, and the ticks shown are 2 s old.
func TestBrowserWatchDelay(t *testing.T) {
	srv := startServer(t, serverBinary(t))
	id := botMatch(t, srv, map[string]any{"spectator_delay": 1})
	ctx, cancel := context.WithTimeout(context.Background(), watchTimeout)
	defer cancel()
	b := startBrowser(t, ctx, "browser-watch-delay-failed.png")

	b.open(srv.URL + "/watch?transport=sse&delay=1&match=" + id)
	st := expectWatchingDelayed(b, "sse", 2)
	if !slices.Equal(st.Tried, []string{"sse"}) || len(st.Errors) != 0 {
		t.Errorf("tried %v, errors %q; want SSE only and no error (the watchdog must allow for the delay)", st.Tried, st.Errors)
	}
	lag, err := chromedp.Run(b.ctx, chromedp.Evaluate[float64](`Date.now() - window.tickstreamWatch.tickTime`))
	if err != nil {
		b.fatal("read the lag: %v", err)
	}
	t.Logf("the tick shown is %.0f ms old", lag)
	if lag < 1900 || lag > 2600 {
		t.Errorf("the tick shown is %.0f ms old; want about 2000 (1 s match delay + 1 s requested)", lag)
	}
	if st.Delay != 2 {
		t.Errorf("delay %g; want 2", st.Delay)
	}
	b.shot("browser-watch-delay.png")
}
