//go:build browser

package tests

// A replay on the watch page in a real browser: a real server process
// (recording into a temporary replay directory) runs a 30 s match of two Go
// bots to its end; Chromium, on the watch page's list, sees it move from the
// live matches to the finished ones, opens it and plays it with the
// timeline: ticks advance, a click in the middle of the bar seeks there, 4×
// advances more ticks than 1× over the same interval, pause stops the ticks
// and play goes on from the tick held (no new keyframe), and the download
// link serves the file. Speeds are compared loosely (tick advances over two
// equal intervals), never against the wall clock.
//
//	go test -race -tags browser -run BrowserReplay -count=1 -v ./tests/

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const (
	// replayMatchSeconds is the recorded match's time limit: long enough
	// that 1.5 s at 1× from the start, a seek to the middle (the recording
	// also holds the 5 s the ended match lingers), 1.5 s at 4× and a pause
	// all happen before its end.
	replayMatchSeconds = 30
	// replayTimeout bounds the whole test: the match, its linger, and the
	// playback.
	replayTimeout = 150 * time.Second
	// replayInterval is the wall interval over which tick advances are
	// compared (1× against 4×) and over which a paused replay must not move.
	replayInterval = 1500 * time.Millisecond
)

// apiReplay is a replay in GET /api/replays (docs/protocol.md, "Replays").
type apiReplay struct {
	ID         string `json:"id"`
	DurationMS int64  `json:"duration_ms"`
	Rate       int64  `json:"rate"`
	FirstTick  int64  `json:"first_tick"`
	LastTick   int64  `json:"last_tick"`
	Players    []struct {
		Name  string `json:"name"`
		Score int    `json:"score"`
	} `json:"players"`
	Reason   string `json:"reason"`
	Complete bool   `json:"complete"`
}

// replayState is what the replay test reads of window.tickstreamWatch
// beyond watchState.
type replayState struct {
	watchState
	Source    string  `json:"source"`
	Paused    bool    `json:"paused"`
	Speed     float64 `json:"speed"`
	FirstTick int64   `json:"firstTick"`
	LastTick  int64   `json:"lastTick"`
	Rate      int64   `json:"rate"`
	SeekTo    int64   `json:"seekTo"`
	Position  float64 `json:"position"`
	Replays   int     `json:"replays"`
}

func (s replayState) String() string {
	return fmt.Sprintf("source=%q paused=%v speed=%g ticks %d…%d rate %d seekTo=%d position=%.2fs replays=%d %s",
		s.Source, s.Paused, s.Speed, s.FirstTick, s.LastTick, s.Rate, s.SeekTo, s.Position, s.Replays, s.watchState)
}

func (b *browserPage) replayState() replayState {
	b.t.Helper()
	st, err := chromedp.Run(b.ctx, chromedp.Evaluate[replayState](`window.tickstreamWatch`))
	if err != nil {
		b.fatal("read window.tickstreamWatch: %v", err)
	}
	return st
}

func getReplay(base, id string) (apiReplay, int, error) {
	var r apiReplay
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(base + "/api/replays/" + id)
	if err != nil {
		return r, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return r, resp.StatusCode, nil
	}
	return r, resp.StatusCode, json.NewDecoder(resp.Body).Decode(&r)
}

// tickAdvance reads the tick, waits replayInterval, reads it again.
func (b *browserPage) tickAdvance() (before, after replayState) {
	b.t.Helper()
	before = b.replayState()
	time.Sleep(replayInterval)
	after = b.replayState()
	return before, after
}

// setSpeed picks a speed in the timeline's selector and waits until the
// stream was reopened at it and delivers.
func (b *browserPage) setSpeed(speed string) {
	b.t.Helper()
	before := b.replayState()
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[chromedp.Void](
		`(() => { const s = document.getElementById("speed"); s.value = "`+speed+`"; s.dispatchEvent(new Event("change")) })()`)); err != nil {
		b.fatal("select speed %s: %v", speed, err)
	}
	b.waitFor(fmt.Sprintf(`(() => { const w = window.tickstreamWatch; return w.speed === %s && w.tried.length > %d && w.tick > %d })()`,
		speed, len(before.Tried), before.Tick), 10*time.Second, "the stream reopened at speed "+speed)
}

func TestBrowserReplay(t *testing.T) {
	srv := startServer(t, serverBinary(t))
	id := botMatch(t, srv, map[string]any{"time_limit": replayMatchSeconds})
	ctx, cancel := context.WithTimeout(context.Background(), replayTimeout)
	defer cancel()
	b := startBrowser(t, ctx, "browser-replay-failed.png")

	// The list: live first; once the match has ended and closed, its replay.
	b.open(srv.URL + "/watch")
	live := `tr[data-match="` + id + `"]`
	row := `tr[data-replay="` + id + `"]`
	b.waitFor(`document.querySelector('`+live+`') !== null`, 5*time.Second, "the live match in the list")
	wait := time.Duration(replayMatchSeconds)*time.Second + 30*time.Second
	b.waitFor(`document.querySelector('`+row+`') !== null`, wait, "the finished match in the replays list")
	cells, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(row)))
	if err != nil {
		b.fatal("read the replay's row: %v", err)
	}
	t.Logf("replay row: %q", cells)
	info, code, err := getReplay(srv.URL, id)
	if err != nil || code != http.StatusOK {
		b.fatal("GET /api/replays/%s: %d %v", id, code, err)
	}
	t.Logf("replay: %+v", info)
	if !info.Complete || info.Reason != "time" || info.LastTick <= info.FirstTick || info.Rate <= 0 {
		t.Fatalf("replay %+v; want a complete recording of a match ended by its time limit", info)
	}
	// id, players with their kills, the winner (or —), the duration, when, why it ended.
	for _, want := range []string{id, "alice", "bob", fmt.Sprintf("0:%02d", info.DurationMS/1000), "ago", "time"} {
		if !strings.Contains(cells, want) {
			t.Errorf("replay row %q lacks %q", cells, want)
		}
	}
	if still, _ := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`document.querySelector('`+live+`') !== null`)); still {
		t.Errorf("the closed match is still listed as live")
	}
	b.shot("browser-replay-list.png")

	// A click on the row plays the replay.
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS(row+` td:nth-child(2)`))); err != nil {
		b.fatal("click the replay's row: %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		search, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`location.search`))
		if err == nil && search == "?replay="+id {
			break
		}
		if time.Now().After(deadline) {
			b.fatal("no navigation to the replay within 10 s: location.search %q, %v", search, err)
		}
	}
	b.waitFor(`(() => { const w = window.tickstreamWatch; return w && w.source === "replay" && w.ticks > 0 && w.players === 2 })()`,
		15*time.Second, "the replay playing with both players")

	// 1×: ticks advance, from the start.
	a0, a1 := b.tickAdvance()
	t.Logf("1×: %s", a1)
	slow := a1.Tick - a0.Tick
	if a1.MatchID != id || a1.FirstTick != info.FirstTick || a1.LastTick != info.LastTick || a1.Rate != info.Rate || a1.Speed != 1 {
		t.Errorf("state %s; want replay %s (ticks %d…%d at %d Hz) at 1×", a1, id, info.FirstTick, info.LastTick, info.Rate)
	}
	if slow <= 0 {
		b.fatal("the replay's tick did not advance in %v at 1×: %d → %d", replayInterval, a0.Tick, a1.Tick)
	}
	if names := slices.Sorted(slices.Values(a1.Names)); !slices.Equal(names, []string{"alice", "bob"}) {
		t.Errorf("roster names %q; want alice and bob", a1.Names)
	}
	hud, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("#hud")))
	if err != nil || !strings.Contains(hud, "replay "+id) || !strings.Contains(hud, "speed 1×") {
		t.Errorf("#hud = %q (%v); want the replay and its speed", hud, err)
	}

	// Seek: a click in the middle of the bar. The stream restarts at the
	// keyframe at or before that tick (keyframes are 2 s of match time apart).
	rect, err := chromedp.Run(b.ctx, chromedp.Evaluate[struct{ X, Y, W, H float64 }](
		`(() => { const r = document.getElementById("seek").getBoundingClientRect(); return {X: r.x, Y: r.y, W: r.width, H: r.height} })()`))
	if err != nil || rect.W < 100 {
		b.fatal("the timeline bar: %+v, %v", rect, err)
	}
	before := b.replayState()
	if err := chromedp.Do(b.ctx, chromedp.MouseClickXY(rect.X+rect.W/2, rect.Y+rect.H/2)); err != nil {
		b.fatal("click the middle of the bar: %v", err)
	}
	mid := (info.FirstTick + info.LastTick) / 2
	slack := (info.LastTick - info.FirstTick) / 20 // the click's precision: 5 % of the bar
	keyGap := 2*info.Rate + 1
	b.waitFor(fmt.Sprintf(`(() => { const w = window.tickstreamWatch; return w.keyframes > %d && w.seekTo >= %d && w.seekTo <= %d && w.tick >= %d })()`,
		before.Keyframes, mid-slack, mid+slack, mid-slack-keyGap), 15*time.Second, "the seek to the middle")
	sought := b.replayState()
	t.Logf("seek from tick %d: %s", before.Tick, sought)
	if sought.Tick < sought.SeekTo-keyGap || sought.Tick > sought.SeekTo+5*info.Rate {
		t.Errorf("after the seek to %d the tick is %d; want the keyframe at or before it, then on from there", sought.SeekTo, sought.Tick)
	}
	if jump := sought.Tick - before.Tick; jump < 5*info.Rate {
		t.Errorf("the seek moved the tick by %d (%d → %d); want a jump to the middle", jump, before.Tick, sought.Tick)
	}
	b.shot("browser-replay-seek.png")

	// 4×: more ticks in the same interval than at 1×.
	b.setSpeed("4")
	f0, f1 := b.tickAdvance()
	fast := f1.Tick - f0.Tick
	t.Logf("tick advance over %v: %d at 1×, %d at 4× (%s)", replayInterval, slow, fast, f1)
	if fast <= slow || f1.Speed != 4 {
		t.Errorf("tick advance %d at 4× (speed %g), %d at 1×; want more at 4×", fast, f1.Speed, slow)
	}
	if hud, _ := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("#hud"))); !strings.Contains(hud, "speed 4×") {
		t.Errorf("#hud = %q; want speed 4×", hud)
	}
	b.setSpeed("1")

	// Pause: the stream is closed and the tick stays.
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS("#pause"))); err != nil {
		b.fatal("click pause: %v", err)
	}
	b.waitFor(`window.tickstreamWatch.paused`, 5*time.Second, "the pause")
	p0, p1 := b.tickAdvance()
	t.Logf("paused: %s", p1)
	if p1.Tick != p0.Tick || p1.Ticks != p0.Ticks || !p1.Paused {
		t.Errorf("paused, the tick moved: %d → %d (%d → %d updates), paused %v", p0.Tick, p1.Tick, p0.Ticks, p1.Ticks, p1.Paused)
	}
	if label, _ := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("#pause"))); label != "Play" {
		t.Errorf("the pause button says %q while paused; want Play", label)
	}
	b.shot("browser-replay-paused.png")

	// Play: on from the tick held (after=), deltas only.
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS("#pause"))); err != nil {
		b.fatal("click play: %v", err)
	}
	b.waitFor(fmt.Sprintf(`(() => { const w = window.tickstreamWatch; return !w.paused && w.tick > %d && w.deltas > %d })()`,
		p1.Tick, p1.Deltas), 10*time.Second, "the replay playing on after the pause")
	resumed := b.replayState()
	if resumed.Keyframes != p1.Keyframes {
		t.Errorf("keyframes %d → %d after play; want the stream to go on from the tick held", p1.Keyframes, resumed.Keyframes)
	}
	for _, e := range resumed.Errors {
		if strings.Contains(e, "from scratch") {
			t.Errorf("the stream had a gap: %q", e)
		}
	}

	// Download: the link serves the replay file.
	href, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.getElementById("download").href`))
	if err != nil || !strings.HasSuffix(href, "/api/replays/"+id+"/download") {
		t.Errorf("download link %q (%v)", href, err)
	} else {
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(href)
		if err != nil {
			t.Errorf("GET %s: %v", href, err)
		} else {
			head := make([]byte, 8)
			_, rerr := io.ReadFull(resp.Body, head)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || rerr != nil || string(head) != "TSREPLAY" ||
				!strings.Contains(resp.Header.Get("Content-Disposition"), id+".tsr") {
				t.Errorf("GET %s: %d, %q (%v), Content-Disposition %q; want the .tsr file", href, resp.StatusCode, head, rerr,
					resp.Header.Get("Content-Disposition"))
			}
		}
	}

	// An unknown replay: the page says so and shows the list.
	b.open(srv.URL + "/watch?replay=nosuchreplay")
	b.waitFor(`document.getElementById("status").textContent.includes("no such replay: nosuchreplay") && `+
		`!document.getElementById("list").hidden && document.querySelector('`+row+`') !== null`,
		10*time.Second, "the unknown replay reported, and the list")
	if t.Failed() {
		b.fatal("see the errors above")
	}
}
