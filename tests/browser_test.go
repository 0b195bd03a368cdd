//go:build browser

package tests

// A real browser plays: Debian's chromium, driven over the DevTools protocol
// by chromedp, opens the play page of a real server process, joins, holds a
// movement key and must see its own avatar move in the server's snapshots.
// TestBrowserResume (resume_browser_test.go) breaks the link under it.
//
//	go test -race -tags browser -run Browser -count=1 -v ./tests/
//
// $CHROMIUM overrides the browser path (default /usr/bin/chromium); a
// missing browser fails the test. Screenshots go to $TEST_ARTIFACTS, else
// tests/artifacts/.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

const (
	// browserTimeout bounds everything done with the browser.
	browserTimeout = 45 * time.Second
	// holdFor is how long a movement key is held.
	holdFor = time.Second
	// minMove is the least movement, in arena units, that counts as "moved"
	// after holding a key for holdFor (the server moves players at up to
	// 300 units/s, so about 300 are expected in the open).
	minMove = 60.0
)

// clientState mirrors window.tickstream, the play page's debug object.
type clientState struct {
	Connected bool   `json:"connected"`
	PlayerID  int    `json:"playerId"`
	MatchID   string `json:"matchId"`
	Tick      int64  `json:"tick"`
	Ack       int64  `json:"ack"`
	Snaps     int64  `json:"snaps"`
	Me        *struct {
		X  float64 `json:"x"`
		Y  float64 `json:"y"`
		HP float64 `json:"hp"`
	} `json:"me"`
	Players   int `json:"players"`
	LastClose *struct {
		Code   int    `json:"code"`
		Reason string `json:"reason"`
	} `json:"lastClose"`
	RTT          float64 `json:"rtt"`
	Resumes      int     `json:"resumes"`
	Drops        int     `json:"drops"`
	Reconnecting bool    `json:"reconnecting"`
	Pending      int     `json:"pending"`
	Seq          int64   `json:"seq"`
	Away         []int   `json:"away"`
	Shots        int     `json:"shots"`
	// Wire v2: snapshots applied as keyframes and as deltas, the newest
	// tick acknowledged, and refused snapshots.
	Keyframes int   `json:"keyframes"`
	Deltas    int   `json:"deltas"`
	Acked     int64 `json:"acked"`
	BadSnaps  int   `json:"badSnaps"`
}

func (s clientState) String() string {
	me := "null"
	if s.Me != nil {
		me = fmt.Sprintf("{x:%.1f y:%.1f hp:%g}", s.Me.X, s.Me.Y, s.Me.HP)
	}
	closed := "null"
	if s.LastClose != nil {
		closed = fmt.Sprintf("%d %q", s.LastClose.Code, s.LastClose.Reason)
	}
	return fmt.Sprintf("connected=%v reconnecting=%v player=%d match=%q tick=%d seq=%d ack=%d pending=%d "+
		"snaps=%d players=%d away=%v me=%s rtt=%.2f resumes=%d drops=%d shots=%d lastClose=%s",
		s.Connected, s.Reconnecting, s.PlayerID, s.MatchID, s.Tick, s.Seq, s.Ack, s.Pending,
		s.Snaps, s.Players, s.Away, me, s.RTT, s.Resumes, s.Drops, s.Shots, closed)
}

// chromiumPath is $CHROMIUM or /usr/bin/chromium; the test fails without it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	path, err := exec.LookPath(p)
	if err != nil {
		t.Fatalf("no browser: %v — install Debian's chromium (apt-get install -y chromium) or set $CHROMIUM to its path", err)
	}
	return path
}

// artifactsDir is $TEST_ARTIFACTS, else tests/artifacts/ (created).
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(moduleRoot(t), "tests", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifacts folder: %v", err)
	}
	return dir
}

// pageLog collects the page's console output and uncaught exceptions.
type pageLog struct {
	mu         sync.Mutex
	lines      []string
	exceptions []string
}

func (l *pageLog) listen(ev any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		var parts []string
		for _, a := range ev.Args {
			if len(a.Value) > 0 {
				parts = append(parts, string(a.Value))
			} else {
				parts = append(parts, a.Description)
			}
		}
		l.lines = append(l.lines, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(parts, " ")))
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg += " " + d.Exception.Description
		}
		l.exceptions = append(l.exceptions, fmt.Sprintf("%s (%s:%d:%d)", msg, d.URL, d.LineNumber, d.ColumnNumber))
	}
}

func (l *pageLog) snapshot() (lines, exceptions []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...), append([]string(nil), l.exceptions...)
}

// keyEvent dispatches one raw key event (keyDown without keyUp holds the key).
func keyEvent(typ input.DispatchKeyEventType, key, code string, vk int64) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, input.DispatchKeyEvent, input.DispatchKeyEventParams{
			Type:                  typ,
			Key:                   key,
			Code:                  code,
			WindowsVirtualKeyCode: vk,
			NativeVirtualKeyCode:  vk,
		})
		return err
	})
}

func readState(ctx context.Context) (clientState, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[clientState](`window.tickstream`))
}

// holdKey holds a key for holdFor and returns the state before and after.
func holdKey(ctx context.Context, key, code string, vk int64) (before, after clientState, err error) {
	if before, err = readState(ctx); err != nil {
		return
	}
	err = chromedp.Do(ctx,
		keyEvent(input.DispatchKeyEventTypeKeyDown, key, code, vk),
		chromedp.Sleep(holdFor),
	)
	if err != nil {
		return
	}
	after, err = readState(ctx)
	if uerr := chromedp.Do(ctx, keyEvent(input.DispatchKeyEventTypeKeyUp, key, code, vk)); err == nil {
		err = uerr
	}
	return
}

// browserPage is one headless Chromium with one page, for one test.
type browserPage struct {
	t   *testing.T
	ctx context.Context // the page's chromedp context
	log pageLog
	out lockedBuffer
	// failShot is the screenshot saved by fatal.
	failShot string
}

// startBrowser starts Chromium (headless, no sandbox, no GPU, no QUIC, no
// background networking, a fresh profile: without those flags it keeps
// calling outside hosts, which this network refuses) under ctx. When the test ends it logs the page's
// console, fails on uncaught page exceptions, and logs the browser's output
// if the test failed. Cancel ctx (or call chromedp.Cancel) to close it.
func startBrowser(t *testing.T, ctx context.Context, failShot string) *browserPage {
	t.Helper()
	b := &browserPage{t: t, failShot: failShot}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
		chromedp.CombinedOutput(&b.out),
	)
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		lines, exceptions := b.log.snapshot()
		for _, l := range lines {
			t.Logf("page %s", l)
		}
		for _, e := range exceptions {
			t.Errorf("uncaught exception in the page: %s", e)
		}
		if t.Failed() {
			t.Logf("chromium output:\n%s", b.out.String())
		}
	})
	if err := chromedp.Listen(bctx, b.log.listen); err != nil {
		t.Fatalf("start chromium: %v\n%s", err, b.out.String())
	}
	b.ctx = bctx
	return b
}

// shot saves a full-page PNG to the artifacts folder and logs its path.
func (b *browserPage) shot(name string) {
	b.t.Helper()
	sctx, scancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer scancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(artifactsDir(b.t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Errorf("screenshot: %v", err)
		return
	}
	b.t.Logf("screenshot: %s", path)
}

// fatal logs the page's state and status line, saves the failure
// screenshot, and fails the test.
func (b *browserPage) fatal(format string, args ...any) {
	b.t.Helper()
	if st, err := readState(b.ctx); err == nil {
		b.t.Logf("window.tickstream: %s", st)
	}
	if status, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.getElementById("status").textContent`)); err == nil {
		b.t.Logf("#status: %q", status)
	}
	b.shot(b.failShot)
	b.t.Fatalf(format, args...)
}

// state reads window.tickstream or fails the test.
func (b *browserPage) state() clientState {
	b.t.Helper()
	st, err := readState(b.ctx)
	if err != nil {
		b.fatal("read window.tickstream: %v", err)
	}
	return st
}

// join opens url, types a name, presses Play and waits until the page is
// connected with its own avatar in a snapshot.
func (b *browserPage) join(url, name string) clientState {
	b.t.Helper()
	err := chromedp.Do(b.ctx,
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.CSS("#name")),
		chromedp.WaitEnabled(chromedp.CSS("#play")),
		chromedp.SendKeys(chromedp.CSS("#name"), name),
		chromedp.Click(chromedp.CSS("#play")),
	)
	if err != nil {
		b.fatal("open the page and press Play: %v", err)
	}
	b.waitFor(`window.tickstream && window.tickstream.connected && window.tickstream.me !== null`,
		15*time.Second, "welcome and own entity")
	return b.state()
}

// waitFor polls a JavaScript expression in the page (every animation
// frame) until it is truthy, or fails the test after timeout.
func (b *browserPage) waitFor(expr string, timeout time.Duration, what string) {
	b.t.Helper()
	_, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		b.fatal("no %s within %v (%s): %v", what, timeout, expr, err)
	}
}

func TestBrowserPlay(t *testing.T) {
	srv := startServer(t, serverBinary(t))

	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	defer cancel()
	b := startBrowser(t, ctx, "browser-play-failed.png")
	bctx := b.ctx
	fatal := b.fatal

	// Open the page, type a name, press Play; the first snapshot holds our
	// avatar.
	start := b.join(srv.URL+"/", "chromium")
	t.Logf("joined: %s", start)
	if start.PlayerID == 0 || start.MatchID == "" || start.Players < 1 {
		t.Errorf("after welcome: %s; want a player id, a match id and a roster", start)
	}

	// Hold D: the avatar must move right. A random spawn point may have an
	// obstacle or the arena's edge just to the right; then hold A instead and
	// expect a move to the left, which proves the same thing.
	before, after, err := holdKey(bctx, "d", "KeyD", 68)
	if err != nil {
		fatal("hold D: %v", err)
	}
	if after.Me == nil || before.Me == nil {
		fatal("own entity missing while holding D: before %s, after %s", before, after)
	}
	moved := after.Me.X - before.Me.X
	t.Logf("held D for %v: x %.1f → %.1f (%+.1f)", holdFor, before.Me.X, after.Me.X, moved)
	if moved < minMove {
		t.Logf("blocked to the right (spawned at x=%.1f y=%.1f); holding A instead", before.Me.X, before.Me.Y)
		before, after, err = holdKey(bctx, "a", "KeyA", 65)
		if err != nil {
			fatal("hold A: %v", err)
		}
		if after.Me == nil {
			fatal("own entity missing while holding A: %s", after)
		}
		moved = before.Me.X - after.Me.X
		t.Logf("held A for %v: x %.1f → %.1f (%+.1f)", holdFor, before.Me.X, after.Me.X, -moved)
	}
	if moved < minMove {
		t.Errorf("avatar moved %.1f units in %v with a key held; want at least %.0f", moved, holdFor, minMove)
	}

	// Snapshots kept coming and acknowledged our inputs.
	if got := after.Snaps - before.Snaps; got < 10 {
		t.Errorf("%d snapshots in %v; want at least 10 (before %s, after %s)", got, holdFor, before, after)
	}
	if after.Tick <= before.Tick {
		t.Errorf("tick did not advance: %d → %d", before.Tick, after.Tick)
	}
	if after.Ack <= 0 {
		t.Errorf("ack = %d; want > 0 after sending inputs", after.Ack)
	}
	// The page acknowledged ticks, so the server sent deltas from them, and
	// the page rebuilt every view without refusing one.
	if after.Deltas <= before.Deltas || after.Acked <= before.Tick-30 || after.BadSnaps != 0 {
		t.Errorf("wire v2: deltas %d → %d, acked %d (tick %d), refused %d; want deltas applied from acknowledged ticks and none refused",
			before.Deltas, after.Deltas, after.Acked, after.Tick, after.BadSnaps)
	}
	if !after.Connected {
		t.Errorf("disconnected: %s", after)
	}

	// The debug object is read-only, and the HUD shows the match.
	stillThere, err := chromedp.Run(bctx, chromedp.Evaluate[bool](
		`(() => { try { window.tickstream = null } catch (e) {} return window.tickstream !== null })()`))
	if err != nil || !stillThere {
		t.Errorf("window.tickstream can be overwritten (err %v)", err)
	}
	hud, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("#hud")))
	if err != nil {
		t.Errorf("read #hud: %v", err)
	} else if !strings.Contains(hud, after.MatchID) {
		t.Errorf("#hud = %q; want it to show match %q", hud, after.MatchID)
	}
	t.Logf("end: %s; hud %q", after, hud)

	if t.Failed() {
		fatal("see the errors above")
	}
	b.shot("browser-play.png")

	// Leave cleanly: closing the browser must not leave the test waiting.
	if err := chromedp.Cancel(bctx); err != nil && !errors.Is(err, context.Canceled) {
		t.Logf("close browser: %v", err)
	}
}
