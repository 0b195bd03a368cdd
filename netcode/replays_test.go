package netcode_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode"
	"github.com/tickstream/tickstream/netcode/client"
	"github.com/tickstream/tickstream/netcode/replay"
	"github.com/tickstream/tickstream/netcode/wire"
)

// replayResp is a replay in the API.
type replayResp struct {
	ID         string `json:"id"`
	Started    string `json:"started"`
	DurationMS int64  `json:"duration_ms"`
	Rate       int    `json:"rate"`
	FirstTick  uint64 `json:"first_tick"`
	LastTick   uint64 `json:"last_tick"`
	Players    []struct {
		ID    uint32 `json:"id"`
		Name  string `json:"name"`
		Score int    `json:"score"`
	} `json:"players"`
	Winner   uint32 `json:"winner"`
	Reason   string `json:"reason"`
	Size     int64  `json:"size"`
	Complete bool   `json:"complete"`
}

// sseEv is an SSE event with its data.
type sseEv struct {
	kind, id, data string
}

// readAll reads SSE events until the stream ends (bounded by ctx).
func readAllSSE(t *testing.T, r *client.SSEReader) []sseEv {
	t.Helper()
	var out []sseEv
	for i := 0; i < 1_000_000; i++ {
		ev, err := r.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("SSE: %v after %d events", err, len(out))
			}
			return out
		}
		out = append(out, sseEv{ev.Event, ev.ID, ev.Data})
	}
	t.Fatal("endless stream")
	return nil
}

func (ts *testServer) get(t *testing.T, ctx context.Context, path string, hdr ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", ts.http.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// replaySSE reads a whole replay stream.
func (ts *testServer) replaySSE(t *testing.T, ctx context.Context, id, query string, hdr ...string) []sseEv {
	t.Helper()
	resp := ts.get(t, ctx, "/api/replays/"+id+"/events"+query, hdr...)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("replay SSE %s: %d %s", query, resp.StatusCode, b)
	}
	return readAllSSE(t, client.NewSSEReader(resp.Body))
}

// recordedMatch runs a match with two movers watched live over SSE from
// its first ticks, lets it close (the movers leave; the empty timeout is
// short), waits for its replay, and returns the live events and the
// replay's listing.
func recordedMatch(t *testing.T, ctx context.Context, ts *testServer, run time.Duration) ([]sseEv, replayResp) {
	t.Helper()
	m := ts.postMatch(t, `{"min_players": 1}`)
	r, _ := ts.sseStream(t, ctx, m.ID, "", "")
	mctx, stop := context.WithCancel(ctx)
	ts.movers(t, mctx, m.ID, 2)
	var live []sseEv
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			ev, err := r.Next()
			if err != nil {
				return
			}
			live = append(live, sseEv{ev.Event, ev.ID, ev.Data})
		}
	}()
	time.Sleep(run)
	stop()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("the live stream never ended")
	}
	var rep replayResp
	eventually(t, ctx, "the replay", func() bool {
		code, b := ts.do(t, "GET", "/api/replays/"+m.ID, "")
		return code == 200 && json.Unmarshal(b, &rep) == nil
	})
	return live, rep
}

func replayServer(t *testing.T, rc replay.Config) *testServer {
	t.Helper()
	if rc.Dir == "" {
		rc.Dir = t.TempDir()
	}
	return newTestServerDir(t, netcode.Config{Replays: rc}, game.DirectoryConfig{Defaults: game.MatchConfig{EmptyTimeout: 300 * time.Millisecond, Grace: 200 * time.Millisecond}})
}

// A recorded match replayed from the start over SSE reproduces what a
// live spectator received: every live delta is byte-identical in the
// replay (same tick ids), and the state rebuilt from the replay at the
// live keyframe's tick equals that keyframe. The listing describes it.
func TestReplaySSEReproducesLive(t *testing.T) {
	ts := replayServer(t, replay.Config{})
	ctx := testCtx(t, 60*time.Second)
	live, rep := recordedMatch(t, ctx, ts, 1500*time.Millisecond)
	if len(live) < 10 || live[0].kind != wire.SpecKeyframe {
		t.Fatalf("live: %d events, first %v", len(live), live[0].kind)
	}
	if !rep.Complete || rep.Rate != game.DefaultTickRate || rep.FirstTick == 0 || rep.LastTick <= rep.FirstTick ||
		rep.DurationMS <= 0 || rep.Size <= 0 || len(rep.Players) != 0 && rep.Reason != "" {
		t.Fatalf("listing %+v", rep)
	}
	if _, err := time.Parse(time.RFC3339, rep.Started); err != nil {
		t.Fatalf("started %q: %v", rep.Started, err)
	}
	got := ts.replaySSE(t, ctx, rep.ID, "?speed=8")
	if got[0].kind != wire.SpecKeyframe || got[0].id != strconv.FormatUint(rep.FirstTick, 10) {
		t.Fatalf("replay starts with %s %s, want the keyframe of %d", got[0].kind, got[0].id, rep.FirstTick)
	}
	byTick := map[string]sseEv{}
	var st specState
	states := map[uint64][]wire.Row{}
	for _, e := range got {
		if e.kind == wire.SpecKeyframe || e.kind == wire.SpecDelta {
			byTick[e.id] = e
			var d specData
			if err := json.Unmarshal([]byte(e.data), &d); err != nil {
				t.Fatal(err)
			}
			st.apply(t, e.kind, d)
			states[d.Tick] = st.ents
		}
	}
	if n := uint64(len(byTick)); n != rep.LastTick-rep.FirstTick+1 {
		t.Fatalf("replay: %d ticks, listing %d…%d", n, rep.FirstTick, rep.LastTick)
	}
	deltas := 0
	for _, e := range live {
		switch e.kind {
		case wire.SpecDelta:
			r, ok := byTick[e.id]
			if !ok || r.kind != wire.SpecDelta || r.data != e.data {
				t.Fatalf("live delta %s: replay has %s %q, live %q", e.id, r.kind, r.data, e.data)
			}
			deltas++
		case wire.SpecKeyframe:
			var d specData
			_ = json.Unmarshal([]byte(e.data), &d)
			var ks specState
			ks.apply(t, e.kind, d)
			if !slices.Equal(states[d.Tick], ks.ents) {
				t.Fatalf("live keyframe %d differs from the replay's state at that tick", d.Tick)
			}
		}
	}
	if deltas < 10 {
		t.Fatalf("only %d live deltas compared", deltas)
	}
}

// Seeks, resumes and refusals of the replay endpoints, and the download.
func TestReplayHTTPSeekResumeRefusals(t *testing.T) {
	dir := t.TempDir()
	ts := replayServer(t, replay.Config{Dir: dir, KeyframeEvery: 500 * time.Millisecond})
	ctx := testCtx(t, 60*time.Second)
	_, rep := recordedMatch(t, ctx, ts, 2*time.Second)
	keyEvery := uint64(game.DefaultTickRate / 2)
	ticks := func(evs []sseEv) []uint64 {
		var out []uint64
		for _, e := range evs {
			if e.kind == wire.SpecKeyframe || e.kind == wire.SpecDelta {
				v, _ := strconv.ParseUint(e.id, 10, 64)
				out = append(out, v)
			}
		}
		return out
	}
	contiguous := func(what string, ts []uint64, first uint64) {
		t.Helper()
		if len(ts) == 0 || ts[0] != first || ts[len(ts)-1] != rep.LastTick {
			t.Fatalf("%s: ticks %v, want %d…%d", what, ts, first, rep.LastTick)
		}
		for i := 1; i < len(ts); i++ {
			if ts[i] != ts[i-1]+1 {
				t.Fatalf("%s: tick %d after %d", what, ts[i], ts[i-1])
			}
		}
	}
	// from=: the keyframe at or before it (every 15 ticks from the first), then every tick.
	mid := (rep.FirstTick + rep.LastTick) / 2
	evs := ts.replaySSE(t, ctx, rep.ID, "?speed=8&from="+strconv.FormatUint(mid, 10))
	kf := rep.FirstTick + (mid-rep.FirstTick)/keyEvery*keyEvery
	if evs[0].kind != wire.SpecKeyframe {
		t.Fatalf("from: first event %s", evs[0].kind)
	}
	contiguous("from", ticks(evs), kf)
	// t=: the same in seconds.
	evs = ts.replaySSE(t, ctx, rep.ID, "?speed=8&t=1")
	contiguous("t", ticks(evs), rep.FirstTick+(uint64(game.DefaultTickRate))/keyEvery*keyEvery)
	// Last-Event-ID (over from=, as a browser reconnects) continues right after.
	evs = ts.replaySSE(t, ctx, rep.ID, "?speed=8&from="+strconv.FormatUint(rep.FirstTick, 10), "Last-Event-ID", strconv.FormatUint(mid, 10))
	if evs[0].kind != wire.SpecDelta && evs[0].kind != wire.SpecMatch {
		t.Fatalf("resume: first event %s", evs[0].kind)
	}
	contiguous("resume", ticks(evs), mid+1)
	// rate=: every k-th tick.
	evs = ts.replaySSE(t, ctx, rep.ID, "?speed=8&rate=10")
	tk := ticks(evs)
	for i := 1; i < len(tk); i++ {
		if tk[i]-tk[i-1] != 3 {
			t.Fatalf("rate=10 on 30 Hz: ticks %v", tk)
		}
	}
	// Refusals: 404 and 400 with a JSON reason, counted.
	before := counter(t, ts, "tickstream_refusals_total", "bad_query")
	for _, q := range []string{"?speed=9", "?speed=0.2", "?speed=1e1", "?from=0", "?from=" + strconv.FormatUint(rep.LastTick+1, 10),
		"?t=-1", "?t=100000", "?from=1&t=1", "?after=x", "?speed=1&speed=2"} {
		for _, ep := range []string{"events", "poll"} {
			resp := ts.get(t, ctx, "/api/replays/"+rep.ID+"/"+ep+q)
			var body map[string]string
			if resp.StatusCode != 400 || json.NewDecoder(resp.Body).Decode(&body) != nil || body["error"] == "" {
				t.Fatalf("%s%s: %d %v", ep, q, resp.StatusCode, body)
			}
		}
	}
	if got := counter(t, ts, "tickstream_refusals_total", "bad_query") - before; got != 20 {
		t.Fatalf("bad_query counted %v times, want 20", got)
	}
	for _, p := range []string{"/api/replays/nosuch", "/api/replays/nosuch/events", "/api/replays/nosuch/poll", "/api/replays/nosuch/download", "/api/replays/..%2f/download"} {
		if resp := ts.get(t, ctx, p); resp.StatusCode != 404 {
			t.Fatalf("%s: %d", p, resp.StatusCode)
		}
	}
	// The listing: newest first.
	code, b := ts.do(t, "GET", "/api/replays", "")
	var list []replayResp
	if code != 200 || json.Unmarshal(b, &list) != nil || len(list) != 1 || list[0].ID != rep.ID {
		t.Fatalf("list: %d %s", code, b)
	}
	// The download is the file.
	resp := ts.get(t, ctx, "/api/replays/"+rep.ID+"/download")
	body, _ := io.ReadAll(resp.Body)
	file, err := os.ReadFile(filepath.Join(dir, rep.ID+replay.Ext))
	if err != nil || resp.StatusCode != 200 || string(body) != string(file) || int64(len(body)) != rep.Size ||
		resp.Header.Get("Content-Type") != "application/octet-stream" ||
		resp.Header.Get("Content-Disposition") != `attachment; filename="`+rep.ID+`.tsr"` {
		t.Fatalf("download: %d %v, %d bytes (file %d, %v)", resp.StatusCode, resp.Header, len(body), len(file), err)
	}
}

// Long polling and the WebSocket play a replay too: the same ticks, from
// a keyframe, contiguous, ending with the replay.
func TestReplayPollAndWatch(t *testing.T) {
	ts := replayServer(t, replay.Config{})
	ctx := testCtx(t, 60*time.Second)
	_, rep := recordedMatch(t, ctx, ts, time.Second)
	// Long poll: after=next until done.
	var got []uint64
	after := uint64(0)
	for i := 0; i < 1000; i++ {
		resp := ts.get(t, ctx, fmt.Sprintf("/api/replays/%s/poll?speed=8&after=%d", rep.ID, after))
		var ans struct {
			Events []struct {
				ID    uint64 `json:"id"`
				Event string `json:"event"`
			} `json:"events"`
			Next uint64 `json:"next"`
			Done bool   `json:"done"`
		}
		if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&ans) != nil {
			t.Fatalf("poll: %d", resp.StatusCode)
		}
		for _, e := range ans.Events {
			if e.ID != 0 {
				if len(got) == 0 && e.Event != wire.SpecKeyframe {
					t.Fatalf("poll starts with %s", e.Event)
				}
				got = append(got, e.ID)
			}
		}
		after = ans.Next
		if ans.Done {
			break
		}
	}
	if len(got) == 0 || got[0] != rep.FirstTick || got[len(got)-1] != rep.LastTick || uint64(len(got)) != rep.LastTick-rep.FirstTick+1 {
		t.Fatalf("poll: %d ticks %d…%d, replay %d…%d", len(got), got[0], got[len(got)-1], rep.FirstTick, rep.LastTick)
	}
	// WebSocket.
	c, err := client.Dial(ctx, "ws"+strings.TrimPrefix(ts.http.URL, "http")+"/api/replays/"+rep.ID+"/watch?speed=8", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	var n int
	var last uint64
	for i := 0; i < 100000; i++ {
		typ, b, err := c.NextRaw(ctx)
		if err != nil {
			if client.CloseCode(err) != 1000 {
				t.Fatalf("watch: %v", err)
			}
			break
		}
		if typ == wire.SpecKeyframe || typ == wire.SpecDelta {
			var d struct {
				Tick uint64 `msgpack:"tick"`
			}
			if err := msgpack.Unmarshal(b, &d); err != nil {
				t.Fatal(err)
			}
			if (n == 0) != (typ == wire.SpecKeyframe) || (n > 0 && d.Tick != last+1) {
				t.Fatalf("watch: %s %d after %d", typ, d.Tick, last)
			}
			last = d.Tick
			n++
		}
	}
	if last != rep.LastTick || uint64(n) != rep.LastTick-rep.FirstTick+1 {
		t.Fatalf("watch: %d ticks up to %d, replay %d…%d", n, last, rep.FirstTick, rep.LastTick)
	}
}

// Many spectators of one replay share one read of the file: the records
// read do not grow with them.
func TestReplaySharedRead(t *testing.T) {
	ts := replayServer(t, replay.Config{})
	ctx := testCtx(t, 60*time.Second)
	_, rep := recordedMatch(t, ctx, ts, time.Second)
	before := counter(t, ts, "tickstream_replay_records_read_total", "")
	ts.replaySSE(t, ctx, rep.ID, "?speed=8")
	once := counter(t, ts, "tickstream_replay_records_read_total", "") - before
	if once < float64(rep.LastTick-rep.FirstTick+1) {
		t.Fatalf("one spectator read %v records for %d ticks", once, rep.LastTick-rep.FirstTick+1)
	}
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(ts.http.URL + "/api/replays/" + rep.ID + "/events?speed=8")
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			_, _ = io.Copy(io.Discard, resp.Body)
		}()
	}
	wg.Wait()
	if got := counter(t, ts, "tickstream_replay_records_read_total", "") - before; got != once {
		t.Fatalf("41 spectators read %v records, one read %v", got, once)
	}
}

// A disk that stalls does not stall the match: the recording's queue
// fills, the recording stops (counted as overflow), and the match keeps
// its ticks, which a live spectator keeps receiving.
func TestReplayStalledDiskMatchGoesOn(t *testing.T) {
	block := make(chan struct{})
	ts := replayServer(t, replay.Config{Queue: 4, Create: func(string) (io.WriteCloser, error) { return stalled{block}, nil }})
	t.Cleanup(func() { close(block) }) // before the server's shutdown (cleanups run last first)
	ctx := testCtx(t, 30*time.Second)
	m := ts.postMatch(t, `{"min_players": 1}`)
	ts.movers(t, ctx, m.ID, 1) // an empty match would close
	eventually(t, ctx, "the overflow", func() bool {
		return counter(t, ts, "tickstream_replay_failures_total", replay.FailOverflow) == 1
	})
	r, _ := ts.sseStream(t, ctx, m.ID, "", "")
	_, d := readSpec(t, r)
	first := d.Tick
	for i := 0; i < 2*game.DefaultTickRate; i++ { // two seconds of ticks, each one after the other
		ev, d := readSpec(t, r)
		if ev.Event == wire.SpecDelta && d.Tick != first+1 {
			t.Fatalf("tick %d after %d", d.Tick, first)
		}
		if ev.Event == wire.SpecDelta {
			first = d.Tick
		}
	}
}

type stalled struct{ block chan struct{} }

func (s stalled) Write(p []byte) (int, error) { <-s.block; return 0, errors.New("stalled") }
func (s stalled) Close() error                { return nil }
