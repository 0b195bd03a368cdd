//go:build browser

package tests

// The page survives a broken link: Chromium loads the play page through an
// in-process TCP fault proxy (tests/faultproxy) in front of a real server
// process, plays, and then the link is broken twice:
//
//  1. cut: both sides see the socket close (the page gets 1006) and, for a
//     while, new connections are refused, so the page retries with backoff;
//     keys pressed meanwhile must be applied after the resume;
//  2. blackhole: bytes stop flowing and nobody sees a close (a half-open
//     link): the page must notice 3 s of silence by itself and resume once
//     the link works again.
//
// Each time the page must show "reconnecting…", come back without a reload
// into the same seat (same player, same match, position continuing), and
// have every input applied (ack reaches the last seq, nothing pending). The
// server runs with -dead-after 2s so that it frees the blackholed session
// quickly; its seat grace (20 s) outlasts both outages.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/tickstream/tickstream/netcode/client"
	"github.com/tickstream/tickstream/netcode/wire"
	"github.com/tickstream/tickstream/tests/faultproxy"
)

const (
	// resumeTimeout bounds the whole test (it takes about 20 s).
	resumeTimeout = 60 * time.Second
	// deadAfter and grace are the server's heartbeat and seat settings.
	deadAfter = 2 * time.Second
	grace     = 20 * time.Second
	// refusedFor is how long the proxy refuses new connections after the
	// cut (the page retries with backoff meanwhile).
	refusedFor = 1500 * time.Millisecond
	// blackholeFor is how long the link stays half-open: over the page's
	// 3 s silence limit, far under the grace.
	blackholeFor = 4 * time.Second
	// silenceLimit is the page's liveness limit (static/src/net.ts).
	silenceLimit = 3 * time.Second
	// maxDrift is how far the avatar may be from where it was before an
	// outage once it is back (a respawn lands far away; keys pressed and
	// released during the outage are applied within one tick).
	maxDrift = 40.0
)

var rttText = regexp.MustCompile(`rtt (<1|[0-9]+) ms`)

func TestBrowserResume(t *testing.T) {
	chromiumPath(t) // fail fast without a browser
	// No view radius: the page must see the ghost wherever it spawns.
	srv := startServer(t, serverBinary(t), "-dead-after", deadAfter.String(), "-grace", grace.String(), "-view-radius", "-1")
	proxy, err := faultproxy.New(srv.Addr)
	if err != nil {
		t.Fatalf("fault proxy: %v", err)
	}
	t.Cleanup(func() { _ = proxy.Close() }) // before the server stops
	pageURL := "http://" + proxy.Addr() + "/"

	ctx, cancel := context.WithTimeout(context.Background(), resumeTimeout)
	defer cancel()
	b := startBrowser(t, ctx, "browser-resume-failed.png")
	began := time.Now()

	// Join through the proxy.
	joined := b.join(pageURL, "resumer")
	t.Logf("joined through proxy %s: %s", proxy.Addr(), joined)
	if joined.PlayerID == 0 || joined.MatchID == "" {
		b.fatal("after welcome: %s; want a player id and a match id", joined)
	}

	// A marker that only survives if the page is never reloaded.
	var nonce [8]byte
	_, _ = rand.Read(nonce[:])
	marker := hex.EncodeToString(nonce[:])
	timeOrigin, err := chromedp.Run(b.ctx, chromedp.Evaluate[float64](
		`window.__resumeMarker = "`+marker+`"; performance.timeOrigin`))
	if err != nil {
		b.fatal("set the page marker: %v", err)
	}
	samePage := func(when string) {
		t.Helper()
		type page struct {
			Marker     string  `json:"marker"`
			TimeOrigin float64 `json:"timeOrigin"`
		}
		got, err := chromedp.Run(b.ctx, chromedp.Evaluate[page](
			`({marker: window.__resumeMarker || "", timeOrigin: performance.timeOrigin})`))
		if err != nil {
			b.fatal("%s: read the page marker: %v", when, err)
		}
		if got.Marker != marker || got.TimeOrigin != timeOrigin {
			b.fatal("%s: the page was reloaded: marker %q time origin %f; want %q and %f",
				when, got.Marker, got.TimeOrigin, marker, timeOrigin)
		}
	}

	// Heartbeat: the page answers pings; the server's RTT reaches the HUD.
	b.waitFor(`window.tickstream.rtt > 0`, 5*time.Second, "measured rtt")
	hud, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("#hud")))
	if err != nil {
		b.fatal("read #hud: %v", err)
	}
	if !rttText.MatchString(hud) {
		t.Errorf("#hud = %q; want the round-trip time in it (%s)", hud, rttText)
	}
	t.Logf("hud: %q", hud)

	// A second player joins this match directly (not through the proxy) and
	// drops without a close frame: the server holds its seat, flagged
	// disconnected, and the page draws it faded as "reconnecting…".
	ghost, err := client.Dial(ctx, srv.WSURL(), nil)
	if err != nil {
		b.fatal("ghost: dial: %v", err)
	}
	gw, err := ghost.Join(ctx, "ghost", joined.MatchID)
	if err != nil {
		b.fatal("ghost: join: %v", err)
	}
	_ = ghost.CloseNow()
	b.waitFor(`window.tickstream.away.includes(`+itoa(int(gw.Player))+`)`, 5*time.Second,
		"ghost flagged disconnected")

	// Move a bit, then let every input be acknowledged.
	moveABit(b)
	b.waitFor(`window.tickstream.pending === 0`, 3*time.Second, "all inputs acknowledged")
	before := b.state()
	t.Logf("before the cut: %s", before)

	// ---- 1. cut ------------------------------------------------------------
	proxy.Refuse(true)
	proxy.Cut()
	cutAt := time.Now()
	b.waitFor(`window.tickstream.reconnecting`, 2*time.Second, "reconnecting after the cut")
	t.Logf("reconnecting %v after the cut", time.Since(cutAt).Round(time.Millisecond))
	overlayShows(b, "reconnecting")
	b.shot("browser-resume-reconnecting.png")

	// Keys pressed during the outage: a fire tap and a short move. They are
	// numbered and kept, and must be applied after the resume.
	outage := tapKeysOffline(b, before)
	t.Logf("inputs during the outage: seq %d → %d (%d pending)", before.Seq, outage.Seq, outage.Pending)

	time.Sleep(time.Until(cutAt.Add(refusedFor)))
	proxy.Refuse(false)
	liftedAt := time.Now()
	b.waitFor(`window.tickstream.resumes >= 1 && window.tickstream.connected && !window.tickstream.reconnecting`,
		5*time.Second, "resume after the cut")
	t.Logf("resumed %v after the proxy accepted again (%v after the cut)",
		time.Since(liftedAt).Round(time.Millisecond), time.Since(cutAt).Round(time.Millisecond))
	overlayShows(b, "reconnected")
	after := checkResumed(b, "after the cut", before, outage, 1)
	samePage("after the cut")
	b.shot("browser-resume-after.png")

	// ---- 2. blackhole ------------------------------------------------------
	b.waitFor(`window.tickstream.pending === 0`, 3*time.Second, "all inputs acknowledged")
	before = b.state()
	t.Logf("before the blackhole: %s", before)
	proxy.Blackhole(true)
	holeAt := time.Now()
	b.waitFor(`window.tickstream.reconnecting`, silenceLimit+2*time.Second, "reconnecting during the blackhole")
	noticed := time.Since(holeAt)
	t.Logf("the page noticed the silence after %v", noticed.Round(time.Millisecond))
	if noticed < silenceLimit-500*time.Millisecond {
		t.Errorf("reconnecting %v into the blackhole; the page should wait for %v of silence", noticed, silenceLimit)
	}
	overlayShows(b, "reconnecting")
	b.shot("browser-blackhole-reconnecting.png")
	outage = tapKeysOffline(b, before)
	t.Logf("inputs during the blackhole: seq %d → %d (%d pending)", before.Seq, outage.Seq, outage.Pending)

	time.Sleep(time.Until(holeAt.Add(blackholeFor)))
	proxy.Blackhole(false)
	liftedAt = time.Now()
	b.waitFor(`window.tickstream.resumes >= 2 && window.tickstream.connected && !window.tickstream.reconnecting`,
		8*time.Second, "resume after the blackhole")
	t.Logf("resumed %v after the blackhole lifted", time.Since(liftedAt).Round(time.Millisecond))
	overlayShows(b, "reconnected")
	checkResumed(b, "after the blackhole", before, outage, 2)
	samePage("after the blackhole")
	b.shot("browser-blackhole-after.png")

	// The ghost's seat is still held (grace 20 s) and drawn as away.
	if final := b.state(); !slices.Contains(final.Away, int(gw.Player)) {
		t.Errorf("ghost %d no longer flagged disconnected: %s", gw.Player, final)
	}
	if after.PlayerID != joined.PlayerID {
		t.Errorf("player %d after the cut; joined as %d", after.PlayerID, joined.PlayerID)
	}
	if t.Failed() {
		b.fatal("see the errors above")
	}
	t.Logf("TestBrowserResume took %v", time.Since(began).Round(time.Millisecond))
}

// TestBrowserResumeRefused: the seat is gone by the time the link works
// again (grace 1 s), so the resume is refused with 4012: the page fails
// over by itself (docs/client.md, "Redirect and failover"): it joins anew
// through its own origin, takes a new seat, and says plainly "Server lost —
// you are in a new match". No Play press, no reload.
func TestBrowserResumeRefused(t *testing.T) {
	chromiumPath(t)
	const shortGrace = time.Second
	srv := startServer(t, serverBinary(t), "-dead-after", deadAfter.String(), "-grace", shortGrace.String())
	proxy, err := faultproxy.New(srv.Addr)
	if err != nil {
		t.Fatalf("fault proxy: %v", err)
	}
	t.Cleanup(func() { _ = proxy.Close() })

	ctx, cancel := context.WithTimeout(context.Background(), resumeTimeout)
	defer cancel()
	b := startBrowser(t, ctx, "browser-resume-refused-failed.png")
	joined := b.join("http://"+proxy.Addr()+"/", "latecomer")
	t.Logf("joined: %s", joined)

	proxy.Refuse(true)
	proxy.Cut()
	b.waitFor(`window.tickstream.reconnecting`, 2*time.Second, "reconnecting after the cut")
	time.Sleep(shortGrace + 1500*time.Millisecond) // the seat is freed meanwhile
	proxy.Refuse(false)

	// The resume is refused (4012), and the page joins anew by itself.
	b.waitFor(`window.tickstream.failovers === 1 && window.tickstream.lastClose && window.tickstream.lastClose.code === 4012`,
		5*time.Second, "failover after the resume was refused with 4012")
	b.waitFor(`window.tickstream.connected && window.tickstream.me !== null && window.tickstream.playerId !== `+
		itoa(joined.PlayerID), 10*time.Second, "a new seat after the failover")
	overlayShows(b, "Server lost — you are in a new match")
	status, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("#status")))
	if err != nil {
		b.fatal("read #status: %v", err)
	}
	if !strings.Contains(status, "Server lost — you are in a new match") {
		t.Errorf("#status = %q; want it to say the server was lost and a new match joined", status)
	}
	again := b.state()
	t.Logf("failed over: %s; status %q", again, status)
	if again.Resumes != 0 || again.Reconnecting {
		t.Errorf("after the failover: %s; want a new seat (no resume), not reconnecting", again)
	}
	formHidden, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`document.getElementById("join").hidden`))
	if err != nil || !formHidden {
		t.Errorf("the join form is shown after the failover (err %v); want the game", err)
	}
	b.shot("browser-resume-refused.png")

	// The new seat plays: a key held moves the avatar (D, or A when the
	// spawn point is against something on the right).
	moved := false
	for _, k := range []struct {
		key, code string
		vk        int64
	}{{"d", "KeyD", 68}, {"a", "KeyA", 65}} {
		before, after, err := holdKey(b.ctx, k.key, k.code, k.vk)
		if err != nil {
			b.fatal("hold %s: %v", k.key, err)
		}
		if before.Me != nil && after.Me != nil && math.Abs(after.Me.X-before.Me.X) > minMove {
			moved = true
			break
		}
		t.Logf("held %s: before %s, after %s", k.key, before, after)
	}
	if !moved {
		t.Errorf("the new seat did not move with D or A held")
	}
}

// TestBrowserReplaced: another connection resumes the page's seat (as a
// second tab with the same token would): the server closes the page's
// socket with 4011, and the page says so and does not reconnect. The token
// is read from the welcome frame as DevTools saw it.
func TestBrowserReplaced(t *testing.T) {
	chromiumPath(t)
	srv := startServer(t, serverBinary(t))
	ctx, cancel := context.WithTimeout(context.Background(), resumeTimeout)
	defer cancel()
	b := startBrowser(t, ctx, "browser-replaced-failed.png")

	var (
		mu      sync.Mutex
		token   string
		sockets int // WebSockets the page has opened
	)
	dec := wire.NewMessageDecoder()
	if err := chromedp.Listen(b.ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventWebSocketCreated:
			sockets++
		case *network.EventWebSocketFrameReceived:
			var m struct {
				T     string `msgpack:"t"`
				Token string `msgpack:"token"`
			}
			if ev.Response != nil && ev.Response.Opcode == 2 && dec.Decode(ev.Response.PayloadData, &m) == nil &&
				m.T == "welcome" {
				token = m.Token
			}
		}
	}); err != nil {
		t.Fatalf("listen: %v", err)
	}
	joined := b.join(srv.URL+"/", "first-tab")
	var tok string
	for deadline := time.Now().Add(5 * time.Second); tok == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		tok = token
		mu.Unlock()
	}
	if tok == "" {
		b.fatal("no welcome token seen in the page's WebSocket frames")
	}

	// The "second tab" takes the seat over.
	other, err := client.Dial(ctx, srv.WSURL(), nil)
	if err != nil {
		b.fatal("second connection: dial: %v", err)
	}
	defer other.CloseNow()
	w, err := other.Resume(ctx, tok)
	if err != nil {
		b.fatal("second connection: resume: %v", err)
	}
	if !w.Resumed || int(w.Player) != joined.PlayerID {
		b.fatal("second connection: welcome player %d resumed %v; want player %d resumed", w.Player, w.Resumed, joined.PlayerID)
	}
	mu.Lock()
	socketsBefore := sockets
	mu.Unlock()

	b.waitFor(`window.tickstream.lastClose && window.tickstream.lastClose.code === 4011`, 5*time.Second, "close 4011")
	overlayShows(b, "this seat was taken over by another tab")
	time.Sleep(700 * time.Millisecond) // time for (unwanted) reconnects
	st := b.state()
	t.Logf("replaced: %s", st)
	if st.Connected || st.Reconnecting || st.Resumes != 0 {
		t.Errorf("after 4011: %s; want disconnected and not reconnecting", st)
	}
	mu.Lock()
	if n := sockets - socketsBefore; n != 0 {
		t.Errorf("the page opened %d WebSockets after being replaced; want none", n)
	}
	mu.Unlock()
	b.shot("browser-replaced.png")
}

// moveABit holds D (or A when blocked) for a moment.
func moveABit(b *browserPage) {
	b.t.Helper()
	before, after, err := holdKeyFor(b.ctx, "d", "KeyD", 68, 400*time.Millisecond)
	if err == nil && after.Me != nil && before.Me != nil && after.Me.X-before.Me.X < 20 {
		before, after, err = holdKeyFor(b.ctx, "a", "KeyA", 65, 400*time.Millisecond)
	}
	if err != nil {
		b.fatal("hold a movement key: %v", err)
	}
	if after.Me == nil || before.Me == nil || math.Hypot(after.Me.X-before.Me.X, after.Me.Y-before.Me.Y) < 20 {
		b.fatal("the avatar does not move: before %s, after %s", before, after)
	}
	b.t.Logf("moved: %s → %s", fmtPos(before), fmtPos(after))
}

// tapKeysOffline presses fire and a movement key while the page is
// reconnecting, and returns the state then: the inputs must be numbered and
// pending.
func tapKeysOffline(b *browserPage, before clientState) clientState {
	b.t.Helper()
	err := chromedp.Do(b.ctx,
		keyEvent(input.DispatchKeyEventTypeKeyDown, " ", "Space", 32),
		chromedp.Sleep(60*time.Millisecond),
		keyEvent(input.DispatchKeyEventTypeKeyUp, " ", "Space", 32),
		keyEvent(input.DispatchKeyEventTypeKeyDown, "s", "KeyS", 83),
		chromedp.Sleep(60*time.Millisecond),
		keyEvent(input.DispatchKeyEventTypeKeyUp, "s", "KeyS", 83),
		chromedp.Sleep(60*time.Millisecond),
	)
	if err != nil {
		b.fatal("press keys during the outage: %v", err)
	}
	st := b.state()
	if !st.Reconnecting {
		b.fatal("the page resumed before the keys were pressed: %s", st)
	}
	if st.Seq <= before.Seq || st.Pending == 0 {
		b.fatal("keys pressed while reconnecting were not kept: seq %d → %d, pending %d", before.Seq, st.Seq, st.Pending)
	}
	return st
}

// checkResumed asserts that the page is back in the same seat, continuing
// from where it was, with every input of the outage applied.
func checkResumed(b *browserPage, when string, before, outage clientState, resumes int) clientState {
	b.t.Helper()
	b.waitFor(`window.tickstream.pending === 0 && window.tickstream.ack >= `+itoa(int(outage.Seq)),
		3*time.Second, "acknowledgement of the inputs sent during the outage "+when)
	b.waitFor(`window.tickstream.shots > `+itoa(before.Shots), 2*time.Second,
		"the shot fired during the outage "+when)
	// Snapshots flow again (at 30 Hz, 10 take a third of a second).
	snaps := b.state().Snaps
	b.waitFor(`window.tickstream.snaps >= `+itoa(int(snaps)+10), 2*time.Second, "snapshots "+when)
	st := b.state()
	b.t.Logf("%s: %s", when, st)
	t := b.t
	if st.PlayerID != before.PlayerID || st.MatchID != before.MatchID {
		t.Errorf("%s: seat player %d match %q; want player %d match %q", when, st.PlayerID, st.MatchID, before.PlayerID, before.MatchID)
	}
	if st.Resumes != resumes {
		t.Errorf("%s: resumes = %d, want %d", when, st.Resumes, resumes)
	}
	if st.Ack < outage.Seq || st.Pending != 0 {
		t.Errorf("%s: ack %d, pending %d; want ack ≥ %d (the last seq of the outage) and nothing pending", when, st.Ack, st.Pending, outage.Seq)
	}
	if st.Me == nil || before.Me == nil {
		t.Errorf("%s: own entity missing: %s", when, st)
	} else if d := math.Hypot(st.Me.X-before.Me.X, st.Me.Y-before.Me.Y); d > maxDrift {
		t.Errorf("%s: avatar at %s, %.1f units from %s before the outage; want it to continue (≤ %.0f), not respawn",
			when, fmtPos(st), d, fmtPos(before), maxDrift)
	}
	if st.LastClose == nil {
		t.Errorf("%s: lastClose not recorded", when)
	}
	return st
}

// overlayShows asserts that the overlay banner is visible and says text.
func overlayShows(b *browserPage, text string) {
	b.t.Helper()
	got, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](
		`(() => { const o = document.getElementById("overlay"); return o && !o.hidden && o.offsetParent !== null ? o.textContent : "(hidden)" })()`))
	if err != nil {
		b.fatal("read #overlay: %v", err)
	}
	if !strings.Contains(got, text) {
		b.t.Errorf("#overlay = %q; want it visible with %q", got, text)
	}
}

// holdKeyFor holds a key for d and returns the state before and after.
func holdKeyFor(ctx context.Context, key, code string, vk int64, d time.Duration) (before, after clientState, err error) {
	if before, err = readState(ctx); err != nil {
		return
	}
	err = chromedp.Do(ctx, keyEvent(input.DispatchKeyEventTypeKeyDown, key, code, vk), chromedp.Sleep(d))
	if err != nil {
		return
	}
	after, err = readState(ctx)
	if uerr := chromedp.Do(ctx, keyEvent(input.DispatchKeyEventTypeKeyUp, key, code, vk)); err == nil {
		err = uerr
	}
	return
}

func itoa(n int) string { return strconv.Itoa(n) }

func fmtPos(s clientState) string {
	if s.Me == nil {
		return "(none)"
	}
	return fmt.Sprintf("(%.1f, %.1f)", s.Me.X, s.Me.Y)
}
