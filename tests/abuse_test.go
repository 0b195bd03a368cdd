package tests

// The abuse suite: each test is one finding of the production review, run
// against a real server process (or $TICKSTREAM_TARGET, see
// abuse_helper_test.go), asserting the documented refusal or bound. Waits
// are bounded polls; the only time bounds asserted sit far from both the
// fixed and the broken behaviour, so that a busy machine cannot flip them.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickstream/tickstream/netcode/client"
	"github.com/tickstream/tickstream/netcode/nettest"
	"github.com/tickstream/tickstream/netcode/wire"
	"github.com/tickstream/tickstream/tests/rawws"
)

// createMatch creates a match through the API and returns its id.
func createMatch(t *testing.T, tg *abuseTarget, body string) string {
	t.Helper()
	resp, err := http.Post(tg.URL+"/api/matches", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m struct {
		ID string `json:"id"`
	}
	if resp.StatusCode != http.StatusCreated || json.NewDecoder(resp.Body).Decode(&m) != nil || m.ID == "" {
		t.Fatalf("create match: status %d", resp.StatusCode)
	}
	return m.ID
}

// get does a GET with a bounded wait and returns the status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	return nettest.Get(t, url)
}

// metric returns the value of the target's metric name by one label
// value, e.g. tickstream_disconnects_total, "too_slow" (0 when absent).
func metric(t *testing.T, tg *abuseTarget, name, label string) float64 {
	t.Helper()
	return nettest.Scrape(t, tg.URL+"/metrics", name, label)
}

// poll calls cond every 100 ms until it holds or max passes.
func poll(t *testing.T, max time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(max)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("%s: not within %v", what, max)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// assertHealthy checks that the server still answers and never panicked.
func assertHealthy(t *testing.T, tg *abuseTarget) {
	t.Helper()
	if code, _ := get(t, tg.URL+"/healthz"); code != http.StatusOK {
		t.Fatalf("healthz: %d", code)
	}
	if tg.proc != nil && strings.Contains(tg.proc.Output(), "panic") {
		t.Fatalf("the server logged a panic:\n%s", tg.proc.Output())
	}
}

// Finding 1: spectator query values that overflow a duration, or a rate
// that wraps the tick interval, are refused with 400 and a reason; the
// match's broadcast delay cannot be lowered.
func TestAbuseSpectatorQueryOverflow(t *testing.T) {
	t.Parallel()
	tg := target(t)
	id := createMatch(t, tg, `{"rate": 128, "spectator_delay": 2}`)
	base := tg.URL + "/api/matches/" + id
	for _, q := range []string{
		"/events?delay=1e10", "/events?delay=9.3e9", "/events?delay=-1", "/events?delay=NaN",
		"/events?rate=1e-300", "/events?rate=0", "/events?rate=Inf",
		"/poll?delay=1e10", "/poll?wait=1e10", "/poll?wait=-5", "/events?after=-1",
	} {
		code, body := get(t, base+q)
		if code != http.StatusBadRequest || !strings.Contains(body, `"error"`) {
			t.Errorf("GET %s: %d %s, want 400 with a reason", q, code, body)
		}
	}
	// The match's 2 s delay is a floor: a poll asking for no extra delay,
	// at once, gets nothing newer than 2 s ago (here: nothing at all yet,
	// since the match has only just started).
	code, body := get(t, base+"/poll?delay=0&wait=0")
	if code != http.StatusOK {
		t.Fatalf("poll: %d %s", code, body)
	}
	var p struct {
		Events []struct {
			Data struct {
				Time int64 `json:"time"`
			} `json:"data"`
		} `json:"events"`
	}
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("poll body %q: %v", body, err)
	}
	now := time.Now().UnixMilli()
	for _, e := range p.Events {
		if e.Data.Time != 0 && now-e.Data.Time < 1900 {
			t.Fatalf("a spectator saw a tick %d ms old through a 2 s broadcast delay", now-e.Data.Time)
		}
	}
	assertHealthy(t, tg)
}

// Finding 3 (part): a cross-site form can only send text/plain; the API
// refuses anything but JSON, and creates nothing.
func TestAbuseCreateNeedsJSON(t *testing.T) {
	t.Parallel()
	tg := target(t)
	resp, err := http.Post(tg.URL+"/api/matches", "text/plain", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType || !strings.Contains(string(b), `"error"`) {
		t.Fatalf("text/plain POST: %d %s, want 415 with a reason", resp.StatusCode, b)
	}
	if !tg.external {
		if _, body := get(t, tg.URL+"/api/matches"); strings.Contains(body, `"id"`) {
			t.Fatalf("a refused POST created a match: %s", body)
		}
	}
}

// Finding 11: a socket that never joins is refused with 4008 at the join
// timeout (not a heartbeat timeout).
func TestAbuseSilentSocketGetsJoinTimeout(t *testing.T) {
	t.Parallel()
	tg := target(t)
	c, resp := dialRaw(t, tg.Addr, "/play")
	if c == nil {
		t.Fatalf("upgrade refused: %d", resp.StatusCode)
	}
	code, reason, err := c.CloseCode(time.Now().Add(tg.JoinTimeout + 10*time.Second))
	if err != nil || code != wire.CloseProtocol {
		t.Fatalf("silent socket: close %d %q (%v), want %d", code, reason, err, wire.CloseProtocol)
	}
}

// Finding 7: a peer that reads but never answers is declared dead after
// dead-after, gets 4010, and its TCP connection is dropped without waiting
// for a close reply it never sends (the library would wait 5 s).
func TestAbuseDeadPeerDroppedWithoutCloseWait(t *testing.T) {
	t.Parallel()
	tg := target(t)
	c, resp := dialRaw(t, tg.Addr, "/play")
	if c == nil {
		t.Fatalf("upgrade refused: %d", resp.StatusCode)
	}
	if err := c.Send(wire.EncodeJoin("mute", "")); err != nil {
		t.Fatal(err)
	}
	code, reason, err := c.CloseCode(time.Now().Add(tg.DeadAfter + 15*time.Second))
	if err != nil || code != wire.CloseHeartbeat {
		t.Fatalf("mute peer: close %d %q (%v), want %d", code, reason, err, wire.CloseHeartbeat)
	}
	closedAt := time.Now()
	// Not answering the close: the server drops the connection within a
	// second (3 s here, far from the 5 s a waiting close would take).
	ended, err := c.WaitEOF(closedAt.Add(10 * time.Second))
	if err != nil {
		t.Fatalf("the server held the dead socket for 10 s: %v", err)
	}
	if d := ended.Sub(closedAt); d > 3*time.Second {
		t.Fatalf("the server held the dead socket %v after its close frame", d)
	}
}

// Finding 6: a player that keeps sending but never reads is closed as too
// slow (counted), not kept alive by its inputs with snapshots piling up.
func TestAbuseFrozenReaderClosedTooSlow(t *testing.T) {
	t.Parallel()
	tg := target(t)
	before := metric(t, tg, "tickstream_disconnects_total", "too_slow")
	c, resp, err := rawws.Dial(tg.Addr, "/play", rawws.Options{RcvBuf: 4096})
	if err != nil || c == nil {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	defer c.Close()
	if err := c.Send(wire.EncodeJoin("frozen", "")); err != nil {
		t.Fatal(err)
	}
	// Inputs (and nothing read) until the server gives up on us. The
	// sender notes its longest gap between two sends: if this (busy)
	// machine starved it past dead-after, a heartbeat timeout is the
	// server's right answer, not a failure.
	beforeDead := metric(t, tg, "tickstream_disconnects_total", "heartbeat_timeout")
	stop := make(chan struct{})
	defer close(stop)
	var maxGap atomic.Int64
	go func() {
		tk := time.NewTicker(50 * time.Millisecond)
		defer tk.Stop()
		last := time.Now()
		for seq := uint32(1); ; seq++ {
			select {
			case <-stop:
				return
			case <-tk.C:
			}
			_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			err := c.Send(wire.AppendInput(nil, wire.InputMsg{Seq: seq, MX: 1}))
			if gap := time.Since(last); int64(gap) > maxGap.Load() {
				maxGap.Store(int64(gap)) // a send that blocked counts too
			}
			if err != nil {
				return // closed by the server
			}
			last = time.Now()
		}
	}()
	var slow, dead bool
	poll(t, 30*time.Second, "the frozen reader to be closed", func() bool {
		slow = metric(t, tg, "tickstream_disconnects_total", "too_slow") > before
		dead = metric(t, tg, "tickstream_disconnects_total", "heartbeat_timeout") > beforeDead
		return slow || dead
	})
	if !slow {
		if gap := time.Duration(maxGap.Load()); gap < tg.DeadAfter {
			t.Fatalf("declared dead (heartbeat) while it sent an input at least every %v: a frozen reader must be closed as too slow", gap)
		}
		t.Logf("this machine starved the sender (a %v gap): the heartbeat timeout was right", time.Duration(maxGap.Load()))
	}
	assertHealthy(t, tg)
}

// Finding 5: a request whose body never arrives is not held forever.
func TestAbuseSlowBodyClosed(t *testing.T) {
	t.Parallel()
	tg := target(t)
	conn, err := net.DialTimeout("tcp", tg.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/matches HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{", tg.Addr)
	// The server's body deadline (10 s by default) ends it: an answer
	// (408/400) and a close, or just the close.
	_ = conn.SetReadDeadline(time.Now().Add(40 * time.Second))
	_, err = io.Copy(io.Discard, conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("a request with a missing body was held for 40 s")
	}
}

// limitFlags applies the per-client limits to the suite's loopback client
// (exempt by default) with small values; a deployment keeps its own.
func limitFlags(extra ...string) []string {
	return append([]string{"-limit-loopback"}, extra...)
}

// Finding 3: anonymous match creation is limited per client: 429 with
// Retry-After once the allowance (10 per minute by default) is spent.
func TestAbuseCreateFlood(t *testing.T) {
	t.Parallel()
	tg := target(t, limitFlags("-creates-per-minute", "3")...)
	for i := 0; i < 30; i++ {
		resp, err := http.Post(tg.URL+"/api/matches", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusCreated:
			continue
		case http.StatusTooManyRequests:
			if resp.Header.Get("Retry-After") == "" || !strings.Contains(string(b), `"error"`) {
				t.Fatalf("429 without Retry-After or reason: %v %s", resp.Header, b)
			}
			if !tg.external && i != 3 {
				t.Fatalf("refused after %d creations, want 3", i)
			}
			if metric(t, tg, "tickstream_refusals_total", "create_rate_limited") < 1 {
				t.Fatal("the refusal was not counted")
			}
			return
		default:
			t.Fatalf("POST /api/matches: %d %s", resp.StatusCode, b)
		}
	}
	t.Fatal("30 anonymous creations in a row were all accepted")
}

// Finding 4: one client cannot hold every connection: past the cap, an
// upgrade gets 429 with a reason.
func TestAbuseConnectionCap(t *testing.T) {
	t.Parallel()
	tg := target(t, limitFlags("-max-conns-per-client", "3")...)
	for i := 0; i < 200; i++ {
		c, resp := dialRaw(t, tg.Addr, "/play")
		if c != nil {
			continue
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(b), `"error"`) {
			t.Fatalf("upgrade %d refused with %d %s, want 429 with a reason", i+1, resp.StatusCode, b)
		}
		if !tg.external && i != 3 {
			t.Fatalf("refused at connection %d, want 4", i+1)
		}
		return
	}
	t.Fatal("200 concurrent connections from one client were all accepted")
}

// Finding 4: one client cannot take every seat: past the cap, join gets
// 4013.
func TestAbuseSeatCap(t *testing.T) {
	t.Parallel()
	tg := target(t, limitFlags("-max-seats-per-client", "2")...)
	for i := 0; i < 40; i++ {
		c, resp := dialRaw(t, tg.Addr, "/play")
		if c == nil {
			t.Fatalf("upgrade %d: %d", i+1, resp.StatusCode)
		}
		if err := c.Send(wire.EncodeJoin(fmt.Sprintf("seat%d", i), "")); err != nil {
			t.Fatal(err)
		}
		f, err := c.Next(time.Now().Add(10 * time.Second))
		if err != nil {
			t.Fatalf("join %d: %v", i+1, err)
		}
		if f.Op != rawws.OpClose {
			go c.ReadToEnd(time.Time{}) // seated: keep reading (and let the heartbeat end it later)
			continue
		}
		code := wire.CloseCode(int(f.Payload[0])<<8 | int(f.Payload[1]))
		if code != wire.CloseTooManySeats {
			t.Fatalf("join %d closed with %d %q, want %d", i+1, code, f.Payload[2:], wire.CloseTooManySeats)
		}
		if !tg.external && i != 2 {
			t.Fatalf("refused at seat %d, want 3", i+1)
		}
		return
	}
	t.Fatal("40 seats from one client were all granted")
}

// Finding 11: a pong flood is counted and closed with 4014.
func TestAbusePongFlood(t *testing.T) {
	t.Parallel()
	tg := target(t)
	c, resp := dialRaw(t, tg.Addr, "/play")
	if c == nil {
		t.Fatalf("upgrade: %d", resp.StatusCode)
	}
	if err := c.Send(wire.EncodeJoin("flooder", "")); err != nil {
		t.Fatal(err)
	}
	done := make(chan [2]any, 1)
	go func() {
		code, reason, err := c.CloseCode(time.Now().Add(30 * time.Second))
		done <- [2]any{code, fmt.Sprint(reason, err)}
	}()
	for i := 0; i < 5000; i++ {
		if c.Send(wire.AppendPong(nil, uint32(i), time.Now().UnixMilli())) != nil {
			break
		}
	}
	got := <-done
	if got[0] != wire.CloseFlooding {
		t.Fatalf("pong flood: close %v %v, want %d", got[0], got[1], wire.CloseFlooding)
	}
	if metric(t, tg, "tickstream_refusals_total", "flooding") < 1 {
		t.Fatal("the flood was not counted")
	}
}

// Finding 10/11: Origin is checked against the public origin, not Host: a
// page on a DNS name (a DNS-rebinding page has Origin == Host) is refused
// unless that origin is the configured one.
func TestAbuseOriginNotHost(t *testing.T) {
	t.Parallel()
	tg := target(t, "-public-origin", "http://game.example")
	evil := "rebind.example:" + strings.Split(tg.Addr, ":")[1]
	c, resp := dialRawHost(t, tg.Addr, evil, "/play", "Origin: http://"+evil)
	if c != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: %v, want 403", resp.Status)
	}
	if tg.external {
		return
	}
	c, resp = dialRaw(t, tg.Addr, "/play", "Origin: http://game.example")
	if c == nil {
		t.Fatalf("the public origin was refused: %s", resp.Status)
	}
}

// Finding 2: resuming cannot raise a seat's input budget. Eight
// connections of one seat each send 400 inputs at once and resume; the
// inputs let through stay within rate × time + burst + one resend credit
// (the old server granted a fresh 1,024 credit on every resume: 3,200).
func TestAbuseResumeLoopKeepsInputBudget(t *testing.T) {
	t.Parallel()
	tg := target(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ws := "ws://" + tg.Addr + "/play"
	queued := func() float64 { return metric(t, tg, "tickstream_inputs_total", "queued") }
	before := queued()
	start := time.Now()
	c, err := client.Dial(ctx, ws, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := c.Join(ctx, "looper", "")
	if err != nil {
		t.Fatal(err)
	}
	var seq uint32
	const cycles, perCycle = 8, 400
	for i := 0; i < cycles; i++ {
		for j := 0; j < perCycle; j++ {
			seq++
			if err := c.SendRaw(ctx, wire.AppendInput(nil, wire.InputMsg{Seq: seq, MX: 1})); err != nil {
				t.Fatalf("cycle %d: send: %v", i, err)
			}
		}
		c.CloseNow() // the link "drops": the seat is held for a resume
		if c, err = client.Dial(ctx, ws, nil); err != nil {
			t.Fatal(err)
		}
		if w, err = c.Resume(ctx, w.Token); err != nil {
			t.Fatalf("cycle %d: resume: %v", i, err)
		}
	}
	defer c.CloseNow()
	elapsed := time.Since(start).Seconds() + 1 // + the metric's own lag
	// Defaults: 120/s, burst 60, resend credit 1,024 per seat refilling at
	// 1,024 per minute.
	bound := 120*elapsed + 60 + 1024 + 1024*elapsed/60
	var got float64
	poll(t, 10*time.Second, "the inputs to be counted", func() bool {
		got = queued() - before
		return got > 0
	})
	time.Sleep(300 * time.Millisecond)
	got = queued() - before
	t.Logf("%d inputs sent over %d resumes in %.1f s: %.0f let through (bound %.0f)", cycles*perCycle, cycles, elapsed, got, bound)
	if got > bound {
		t.Fatalf("%.0f inputs let through, more than the budget %.0f: resuming raised it", got, bound)
	}
}
