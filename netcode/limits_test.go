package netcode_test

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode"
	"github.com/tickstream/tickstream/netcode/client"
	"github.com/tickstream/tickstream/netcode/nettest"
	"github.com/tickstream/tickstream/netcode/wire"
)

// The tests below give clients distinct addresses through a trusted proxy
// (the test's own loopback) and X-Forwarded-For; loopback itself is exempt.
var loopbackProxy = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

func fromAddr(ip string) *client.Options {
	return &client.Options{HTTPHeader: http.Header{"X-Forwarded-For": {ip}}}
}

// request sends method path with headers and returns the response (body
// read and closed).
func (ts *testServer) request(t *testing.T, method, path string, h map[string]string) (*http.Response, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, ts.http.URL+path, strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	if method == "POST" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp, b.String()
}

func httpStatus(err error) int {
	var he *client.HTTPError
	if errors.As(err, &he) {
		return he.Status
	}
	return 0
}

// A seat that resumes in a loop gets no more inputs through than the seat's
// rate, its burst and one resume credit (plus the credit's slow refill).
func TestResumeLoopCannotRaiseInputBudget(t *testing.T) {
	const rate, burst, credit = 120, 60, 1024
	ts := newTestServer(t, netcode.Config{InputRate: rate, InputBurst: burst})
	ctx := testCtx(t, 60*time.Second)
	start := time.Now()
	c, w := ts.join(t, ctx, "looper", "")
	passed := func() float64 {
		return counter(t, ts, "tickstream_inputs_total", "queued") + counter(t, ts, "tickstream_inputs_total", "dropped")
	}
	seen := func() float64 {
		return passed() + counter(t, ts, "tickstream_inputs_total", "rate_limited")
	}
	const resumes, perConn = 6, 1100 // under the flood threshold (1,200 over the limit per 10 s)
	sent := 0
	token := w.Token
	for i := 0; ; i++ {
		for j := 0; j < perConn; j++ {
			if _, err := c.Input(ctx, wire.InputMsg{MX: 1}); err != nil {
				t.Fatalf("connection %d, input %d: %v", i, j, err)
			}
		}
		sent += perConn
		// Every input sent has been read and judged before the next resume
		// replaces this connection.
		eventually(t, ctx, "the server to read every input", func() bool { return seen() >= float64(sent) })
		if i == resumes {
			break
		}
		c2, err := client.Dial(ctx, ts.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c2.CloseNow() })
		w2, err := c2.Resume(ctx, token)
		if err != nil {
			t.Fatalf("resume %d: %v (close %d %q)", i+1, err, client.CloseCode(err), client.CloseReason(err))
		}
		c.CloseNow()
		c, token = c2, w2.Token
	}
	elapsed := time.Since(start).Seconds()
	got := passed()
	bound := rate*elapsed + burst + credit*(1+elapsed/60)
	t.Logf("%d inputs sent over %d resumes in %.1f s: %.0f passed the limit (bound %.0f)", sent, resumes, elapsed, got, bound)
	if got > bound {
		t.Fatalf("%.0f inputs passed the limit; a seat may pass at most %.0f in %.1f s (rate, burst and one resume credit)", got, bound, elapsed)
	}
	if got < burst {
		t.Fatalf("only %.0f inputs passed: the seat was not served", got)
	}
	if counter(t, ts, "tickstream_refusals_total", "flooding") != 0 {
		t.Fatal("the resume loop was closed as a flood; it must be bounded by the budget alone")
	}
}

func TestCreateMatchLimitPerClient(t *testing.T) {
	ts := newTestServer(t, netcode.Config{
		TrustedProxies: loopbackProxy,
		Limits:         netcode.LimitsConfig{CreatesPerMinute: 2},
	})
	post := func(ip string) (*http.Response, string) {
		h := map[string]string{}
		if ip != "" {
			h["X-Forwarded-For"] = ip
		}
		return ts.request(t, "POST", "/api/matches", h)
	}
	for i := 0; i < 2; i++ {
		if resp, b := post("198.51.100.7"); resp.StatusCode != http.StatusCreated {
			t.Fatalf("creation %d: %d %s", i+1, resp.StatusCode, b)
		}
	}
	resp, b := post("198.51.100.7")
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(b, `"error"`) {
		t.Fatalf("third creation in a minute: %d %s, want 429 with a JSON reason", resp.StatusCode, b)
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
		t.Fatalf("Retry-After %q, want 1…60 seconds", resp.Header.Get("Retry-After"))
	}
	// Another client, and a proxy chain whose client is another address.
	if resp, b := post("198.51.100.8"); resp.StatusCode != http.StatusCreated {
		t.Fatalf("another client: %d %s", resp.StatusCode, b)
	}
	if resp, b := post("198.51.100.7, 127.0.0.9"); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the limited client behind a second trusted proxy: %d %s, want 429", resp.StatusCode, b)
	}
	// Loopback (local tools, the bots) is exempt by default.
	for i := 0; i < 3; i++ {
		if resp, b := post(""); resp.StatusCode != http.StatusCreated {
			t.Fatalf("loopback creation %d: %d %s", i+1, resp.StatusCode, b)
		}
	}
	if n := counter(t, ts, "tickstream_refusals_total", "create_rate_limited"); n != 2 {
		t.Fatalf("create_rate_limited = %v, want 2", n)
	}
}

// Without trusted proxies X-Forwarded-For is ignored: a client cannot
// escape its limit by inventing addresses.
func TestForwardedForIgnoredWithoutTrustedProxies(t *testing.T) {
	ts := newTestServer(t, netcode.Config{Limits: netcode.LimitsConfig{CreatesPerMinute: 1, LimitLoopback: true}})
	if resp, b := ts.request(t, "POST", "/api/matches", map[string]string{"X-Forwarded-For": "203.0.113.1"}); resp.StatusCode != http.StatusCreated {
		t.Fatalf("first creation: %d %s", resp.StatusCode, b)
	}
	if resp, b := ts.request(t, "POST", "/api/matches", map[string]string{"X-Forwarded-For": "203.0.113.2"}); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second creation with another forged address: %d %s, want 429", resp.StatusCode, b)
	}
}

func TestAPITokenRequiredToCreate(t *testing.T) {
	const token = "a-long-test-api-token"
	ts := newTestServer(t, netcode.Config{
		APIToken: token, TrustedProxies: loopbackProxy,
		Limits: netcode.LimitsConfig{CreatesPerMinute: 1},
	})
	const ip = "198.51.100.20"
	for _, auth := range []string{"", "Bearer wrong", "Basic " + token, token} {
		resp, b := ts.request(t, "POST", "/api/matches", map[string]string{"Authorization": auth, "X-Forwarded-For": ip})
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(b, `"error"`) || resp.Header.Get("WWW-Authenticate") == "" {
			t.Fatalf("Authorization %q: %d %s, want 401 with a JSON reason and WWW-Authenticate", auth, resp.StatusCode, b)
		}
	}
	// With the token: past the per-client creation limit.
	for i := 0; i < 3; i++ {
		resp, b := ts.request(t, "POST", "/api/matches", map[string]string{"Authorization": "Bearer " + token, "X-Forwarded-For": ip})
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("creation %d with the token: %d %s", i+1, resp.StatusCode, b)
		}
	}
	if n := counter(t, ts, "tickstream_refusals_total", "unauthorized"); n != 4 {
		t.Fatalf("unauthorized = %v, want 4", n)
	}
	// Reading stays open.
	if code, _ := ts.do(t, "GET", "/api/matches", ""); code != http.StatusOK {
		t.Fatalf("GET /api/matches: %d", code)
	}
}

func TestConnectionCapPerClient(t *testing.T) {
	ts := newTestServer(t, netcode.Config{
		TrustedProxies: loopbackProxy, JoinTimeout: 30 * time.Second,
		Limits: netcode.LimitsConfig{ConnsPerClient: 2},
	})
	ctx := testCtx(t, 30*time.Second)
	m := ts.postMatch(t, `{}`)
	const ip = "198.51.100.30"
	var held []*client.Client
	for i := 0; i < 2; i++ {
		c, err := client.Dial(ctx, ts.url, fromAddr(ip))
		if err != nil {
			t.Fatalf("connection %d: %v", i+1, err)
		}
		t.Cleanup(func() { c.CloseNow() })
		held = append(held, c)
	}
	// Over the cap, every transport is refused before the upgrade.
	if _, err := client.Dial(ctx, ts.url, fromAddr(ip)); httpStatus(err) != http.StatusTooManyRequests {
		t.Fatalf("third player connection: %v, want HTTP 429", err)
	}
	watchURL := "ws" + strings.TrimPrefix(ts.http.URL, "http") + "/api/matches/" + m.ID + "/watch"
	if _, err := client.Dial(ctx, watchURL, fromAddr(ip)); httpStatus(err) != http.StatusTooManyRequests {
		t.Fatalf("WebSocket spectator over the cap: %v, want HTTP 429", err)
	}
	for _, p := range []string{"/events", "/poll?wait=0"} {
		resp, b := ts.request(t, "GET", "/api/matches/"+m.ID+p, map[string]string{"X-Forwarded-For": ip})
		if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(b, "too many connections") {
			t.Fatalf("%s over the cap: %d %s, want 429", p, resp.StatusCode, b)
		}
	}
	// Others are not affected, and the held connections still play.
	other, err := client.Dial(ctx, ts.url, fromAddr("198.51.100.31"))
	if err != nil {
		t.Fatalf("another client: %v", err)
	}
	defer other.CloseNow()
	if _, err := other.Join(ctx, "other", m.ID); err != nil {
		t.Fatalf("another client's join: %v", err)
	}
	if _, err := held[0].Join(ctx, "held", m.ID); err != nil {
		t.Fatalf("a held connection's join: %v", err)
	}
	nextSnap(t, ctx, held[0])
	// A closed connection frees its place.
	held[1].CloseNow()
	eventually(t, ctx, "the cap to free a place", func() bool {
		c, err := client.Dial(ctx, ts.url, fromAddr(ip))
		if err != nil {
			return false
		}
		c.CloseNow()
		return true
	})
	if n := counter(t, ts, "tickstream_refusals_total", "too_many_connections"); n < 4 {
		t.Fatalf("too_many_connections = %v, want ≥ 4", n)
	}
}

func TestSeatCapPerClient(t *testing.T) {
	ts := newTestServer(t, netcode.Config{
		TrustedProxies: loopbackProxy,
		Limits:         netcode.LimitsConfig{SeatsPerClient: 2},
	})
	ctx := testCtx(t, 30*time.Second)
	m := ts.postMatch(t, `{"min_players": 1}`)
	const ip = "198.51.100.40"
	joinFrom := func(addr, name string) (*client.Client, error) {
		c, err := client.Dial(ctx, ts.url, fromAddr(addr))
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		t.Cleanup(func() { c.CloseNow() })
		_, err = c.Join(ctx, name, m.ID)
		return c, err
	}
	var seated []*client.Client
	for i := 0; i < 2; i++ {
		c, err := joinFrom(ip, "p"+strconv.Itoa(i))
		if err != nil {
			t.Fatalf("join %d: %v", i+1, err)
		}
		seated = append(seated, c)
	}
	_, err := joinFrom(ip, "third")
	if client.CloseCode(err) != wire.CloseTooManySeats {
		t.Fatalf("third seat from one address: %v, want close %d", err, wire.CloseTooManySeats)
	}
	// Another address joins; the seated players keep playing.
	other, err := joinFrom("198.51.100.41", "other")
	if err != nil {
		t.Fatalf("another client's join: %v", err)
	}
	seq, err := seated[0].Input(ctx, wire.InputMsg{MX: 1})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "the seated player's input to be acked", func() bool { return nextSnap(t, ctx, seated[0]).Ack >= seq })
	nextSnap(t, ctx, other)
	// Leaving frees the seat for the same address.
	_ = seated[1].Close()
	eventually(t, ctx, "a seat to free up", func() bool {
		c, err := client.Dial(ctx, ts.url, fromAddr(ip))
		if err != nil {
			return false
		}
		defer c.CloseNow()
		_, err = c.Join(ctx, "again", m.ID)
		return err == nil
	})
	if n := counter(t, ts, "tickstream_refusals_total", "too_many_seats"); n < 1 {
		t.Fatal("too_many_seats not counted")
	}
}

// A pong flood is dropped and counted, then closed with 4014; the other
// player in the match keeps playing.
func TestPongFloodClosed(t *testing.T) {
	ts := newTestServer(t, netcode.Config{})
	ctx := testCtx(t, 30*time.Second)
	m := ts.postMatch(t, `{"min_players": 1}`)
	flooder, _ := ts.join(t, ctx, "flooder", m.ID)
	honest, _ := ts.join(t, ctx, "honest", m.ID)
	var frame []byte
	for i := 0; i < 5000; i++ {
		frame = wire.AppendPong(frame[:0], uint32(i), time.Now().UnixMilli())
		if flooder.SendRaw(ctx, frame) != nil {
			break // closed
		}
	}
	if err := waitClose(ctx, flooder); client.CloseCode(err) != wire.CloseFlooding {
		t.Fatalf("pong flood: %v, want close %d", err, wire.CloseFlooding)
	}
	if counter(t, ts, "tickstream_refusals_total", "control_rate_limited") == 0 {
		t.Fatal("dropped pongs not counted")
	}
	eventually(t, ctx, "the flood close to be counted", func() bool {
		return counter(t, ts, "tickstream_disconnects_total", "flooding") == 1
	})
	if n := counter(t, ts, "tickstream_refusals_total", "flooding"); n != 1 {
		t.Fatalf("flooding refusals = %v, want 1", n)
	}
	seq, err := honest.Input(ctx, wire.InputMsg{MX: -1})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, ctx, "the honest player's input to be acked", func() bool { return nextSnap(t, ctx, honest).Ack >= seq })
}

// A sustained input flood (far beyond the rate limit) is closed with 4014
// too; the inputs over the limit were dropped and counted on the way.
func TestInputFloodClosed(t *testing.T) {
	ts := newTestServer(t, netcode.Config{})
	ctx := testCtx(t, 30*time.Second)
	c, _ := ts.join(t, ctx, "spammer", "")
	for i := 0; i < 5000; i++ {
		if _, err := c.Input(ctx, wire.InputMsg{MX: 1}); err != nil {
			break
		}
	}
	if err := waitClose(ctx, c); client.CloseCode(err) != wire.CloseFlooding {
		t.Fatalf("input flood: %v, want close %d", err, wire.CloseFlooding)
	}
	if counter(t, ts, "tickstream_inputs_total", "rate_limited") < 1200 {
		t.Fatal("over-limit inputs not counted before the close")
	}
}

func TestSpectatorPongFloodClosed(t *testing.T) {
	ts := newTestServer(t, netcode.Config{})
	ctx := testCtx(t, 30*time.Second)
	m := ts.postMatch(t, `{}`)
	c, err := client.Dial(ctx, "ws"+strings.TrimPrefix(ts.http.URL, "http")+"/api/matches/"+m.ID+"/watch", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	var frame []byte
	for i := 0; i < 5000; i++ {
		frame = wire.AppendPong(frame[:0], uint32(i), 0)
		if c.SendRaw(ctx, frame) != nil {
			break
		}
	}
	if err := drain(ctx, c); client.CloseCode(err) != wire.CloseFlooding {
		t.Fatalf("spectator pong flood: %v, want close %d", err, wire.CloseFlooding)
	}
	if counter(t, ts, "tickstream_refusals_total", "control_rate_limited") == 0 {
		t.Fatal("dropped spectator pongs not counted")
	}
}

// upgradeStatus sends a WebSocket upgrade for /play with a Host and an
// Origin and returns the status (101 when accepted).
func (ts *testServer) upgradeStatus(t *testing.T, host, origin string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", ts.http.URL+"/play", nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range map[string]string{
		"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
		"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol": wire.Subprotocol, "Origin": origin,
	} {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Origin == Host proves nothing on a DNS name (DNS rebinding): without
// -public-origin only IP literals and localhost pass as same-origin.
func TestOriginOnDNSNameNeedsPublicOrigin(t *testing.T) {
	ts := newTestServer(t, netcode.Config{})
	for _, c := range []struct {
		host, origin string
		want         int
	}{
		{"game.example.test:8080", "http://game.example.test:8080", http.StatusForbidden},
		{"localhost:8080", "http://localhost:8080", http.StatusSwitchingProtocols},
		{"127.0.0.1:8080", "http://127.0.0.1:8080", http.StatusSwitchingProtocols},
		{"[::1]:8080", "http://[::1]:8080", http.StatusSwitchingProtocols},
		{"127.0.0.1:8080", "http://evil.test", http.StatusForbidden},
	} {
		if got := ts.upgradeStatus(t, c.host, c.origin); got != c.want {
			t.Errorf("Host %s, Origin %s: %d, want %d", c.host, c.origin, got, c.want)
		}
	}

	pub := newTestServer(t, netcode.Config{
		PublicOrigins:  []string{"https://game.example.test", "HTTP://Game.Example.Test:8080/"},
		AllowedOrigins: []string{"*.partner.test"},
	})
	for _, c := range []struct {
		host, origin string
		want         int
	}{
		{"game.example.test", "https://game.example.test", http.StatusSwitchingProtocols},
		{"backend:8080", "https://game.example.test", http.StatusSwitchingProtocols}, // nginx: proxy_set_header Host $host
		{"game.example.test:8080", "http://game.example.test:8080", http.StatusSwitchingProtocols},
		{"game.example.test", "https://game.example.test:443", http.StatusSwitchingProtocols},
		{"game.example.test", "http://game.example.test", http.StatusForbidden}, // another scheme
		{"game.example.test", "https://www.partner.test", http.StatusSwitchingProtocols},
		{"127.0.0.1:8080", "http://127.0.0.1:8080", http.StatusForbidden}, // public origins set: only those
	} {
		if got := pub.upgradeStatus(t, c.host, c.origin); got != c.want {
			t.Errorf("public origin set; Host %s, Origin %s: %d, want %d", c.host, c.origin, got, c.want)
		}
	}

	for _, bad := range []string{"game.example.test", "ftp://x.test", "https://x.test/path", "https://"} {
		if _, err := netcode.NewServer(netcode.Config{PublicOrigins: []string{bad}}, nettest.LocalDirectory(game.DirectoryConfig{})); err == nil {
			t.Errorf("public origin %q accepted", bad)
		}
	}
}

func TestLimitMetricsPresentAtZero(t *testing.T) {
	ts := newTestServer(t, netcode.Config{})
	_, b := ts.request(t, "GET", "/metrics", nil)
	for _, want := range []string{
		`tickstream_refusals_total{reason="too_many_connections"} 0`,
		`tickstream_refusals_total{reason="too_many_seats"} 0`,
		`tickstream_refusals_total{reason="create_rate_limited"} 0`,
		`tickstream_refusals_total{reason="unauthorized"} 0`,
		`tickstream_refusals_total{reason="flooding"} 0`,
		`tickstream_refusals_total{reason="control_rate_limited"} 0`,
		`tickstream_disconnects_total{reason="flooding"} 0`,
	} {
		if !strings.Contains(b, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// The node's join admission limit: past the burst a join is closed with
// 4009 "server busy, retry" and counted as join_rate_limited; a resume is
// not limited; a client.Player treats 4009 as retry-with-backoff and gets
// in once the bucket refills.
func TestJoinAdmissionLimit(t *testing.T) {
	// 2 joins of burst, then one every 300 ms.
	ts := newTestServer(t, netcode.Config{Limits: netcode.LimitsConfig{JoinRate: 1 / 0.3, JoinBurst: 2}})
	ctx := testCtx(t, 30*time.Second)
	ts.join(t, ctx, "one", "")
	c2, w2 := ts.join(t, ctx, "two", "")
	c, err := client.Dial(ctx, ts.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	_, err = c.Join(ctx, "three", "")
	if client.CloseCode(err) != wire.CloseServerFull || client.CloseReason(err) != "server busy, retry" {
		t.Fatalf("third join: %v (%d %q), want 4009 server busy, retry", err, client.CloseCode(err), client.CloseReason(err))
	}
	if !client.RetryJoin(err) {
		t.Fatal("4009 is not retried")
	}
	if got := counter(t, ts, "tickstream_refusals_total", "join_rate_limited"); got != 1 {
		t.Fatalf("join_rate_limited = %v, want 1", got)
	}

	// A resume takes no token: the bucket is empty, yet it is welcomed.
	c2.CloseNow()
	r, err := client.Dial(ctx, ts.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.CloseNow()
	eventually(t, ctx, "the lost seat to be held", func() bool { return ts.matchOf(t, w2.Match).Info().Disconnected == 1 })
	if _, err := r.Resume(ctx, w2.Token); err != nil {
		t.Fatalf("resume over the join limit: %v", err)
	}

	// Three players at once: the bucket lets them in one by one as it
	// refills, each retrying its 4009 with backoff.
	errs := make(chan error, 3)
	players := make([]*client.Player, 3)
	for i := range players {
		p := client.NewPlayer(client.PlayerOptions{URL: ts.url, Name: "storm" + strconv.Itoa(i),
			MinBackoff: 100 * time.Millisecond, MaxBackoff: 400 * time.Millisecond, JoinAttempts: 30})
		players[i] = p
		pctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			errs <- p.Run(pctx, func(m client.Message) {
				if m.Welcome != nil {
					cancel()
				}
			})
		}()
	}
	for range players {
		if err := <-errs; err != nil {
			t.Fatalf("player: %v", err)
		}
	}
	retries := 0
	for i := range players {
		if players[i].Welcome() == nil {
			t.Fatalf("player %d was not welcomed", i)
		}
		retries += players[i].Stats().JoinRetries
	}
	if limited := counter(t, ts, "tickstream_refusals_total", "join_rate_limited"); retries < 2 || limited < 3 {
		t.Fatalf("%d join retries, %v refusals join_rate_limited; want at least 2 and 3", retries, limited)
	}
}
