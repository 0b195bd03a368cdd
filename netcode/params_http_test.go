package netcode_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tickstream/tickstream/netcode"
	"github.com/tickstream/tickstream/netcode/client"
	"github.com/tickstream/tickstream/netcode/wire"
)

// errorReason decodes an {"error": …} body.
func errorReason(t *testing.T, b []byte) string {
	t.Helper()
	var e struct{ Error string }
	if err := json.Unmarshal(b, &e); err != nil || e.Error == "" {
		t.Fatalf("not an error body: %s", b)
	}
	return e.Error
}

// Out-of-range spectator parameters are refused with 400 and a reason on a
// real server, on every transport, before anything else happens; a tiny
// or huge rate is either refused or served safely.
func TestSpectatorQueryRefusals(t *testing.T) {
	ts := newTestServer(t, netcode.Config{})
	ctx := testCtx(t, 20*time.Second)
	m := ts.postMatch(t, `{"min_players": 1, "rate": 128, "spectator_delay": 1}`)
	if m.Delay != 1 || m.Rate != 128 {
		t.Fatalf("created %+v", m)
	}
	before := counter(t, ts, "tickstream_refusals_total", "bad_query")
	cases := []struct{ path, reason string }{
		{"events?delay=1e10", "delay must be a decimal number of seconds from 0 to 8"},
		{"events?delay=9.3e9", "delay must be"},
		{"events?delay=9300000000", "delay must be"},
		{"events?delay=-1", "delay must be"},
		{"events?delay=NaN", "delay must be"},
		{"events?delay=1&delay=0", "delay is given 2 times"},
		{"events?rate=1e-300", "rate must be a decimal number of updates per second, at least 0.1 (128 or more: every tick"},
		{"events?rate=0.01", "rate must be"},
		{"events?after=-1", "after (or Last-Event-ID) must be a tick number"},
		{"poll?wait=1e10", "wait must be a decimal number of seconds from 0 to 25"},
		{"poll?wait=25.001", "wait must be"},
		{"poll?wait=Inf", "wait must be"},
		{"poll?delay=1e10", "delay must be"},
		{"poll?rate=1e-300", "rate must be"},
	}
	for _, tc := range cases {
		code, b := ts.do(t, "GET", "/api/matches/"+m.ID+"/"+tc.path, "")
		if code != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", tc.path, code, b)
			continue
		}
		if r := errorReason(t, b); !strings.Contains(r, tc.reason) {
			t.Errorf("%s: reason %q, want one containing %q", tc.path, r, tc.reason)
		}
	}
	// The WebSocket spectator endpoint refuses before the upgrade.
	_, err := client.Dial(ctx, "ws"+strings.TrimPrefix(ts.http.URL, "http")+"/api/matches/"+m.ID+"/watch?delay=1e10", nil)
	var he *client.HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusBadRequest {
		t.Errorf("watch?delay=1e10: %v, want HTTP 400", err)
	}
	if got := counter(t, ts, "tickstream_refusals_total", "bad_query") - before; got != float64(len(cases)+1) {
		t.Errorf("%v bad_query refusals counted, want %d", got, len(cases)+1)
	}

	// A rate above the tick rate means every tick; the lowest rate is
	// served too (a keyframe, then one update every 1280 ticks).
	r, _ := ts.sseStream(t, ctx, m.ID, "?rate=1000000", "")
	ev, d := readSpec(t, r)
	if ev.Event != wire.SpecKeyframe {
		t.Fatalf("first event %q", ev.Event)
	}
	for {
		ev, d2 := readSpec(t, r)
		if ev.Event != wire.SpecDelta {
			continue
		}
		if d2.Base != d.Tick || d2.Tick != d.Tick+1 {
			t.Fatalf("rate above the tick rate: delta %d against %d after keyframe %d", d2.Tick, d2.Base, d.Tick)
		}
		break
	}
	r, _ = ts.sseStream(t, ctx, m.ID, "?rate=0.1", "")
	if ev, _ := readSpec(t, r); ev.Event != wire.SpecKeyframe {
		t.Fatalf("rate=0.1: first event %q", ev.Event)
	}
	// Nothing above broke the server.
	if code, _ := ts.do(t, "GET", "/api/matches/"+m.ID, ""); code != http.StatusOK {
		t.Fatalf("match after the refusals: %d", code)
	}
}

// postAs posts body with the given Content-Type ("" for none).
func (ts *testServer) postAs(t *testing.T, contentType, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", ts.http.URL+"/api/matches", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("POST as %q: content type %q", contentType, ct)
	}
	return resp.StatusCode, b
}

// POST /api/matches takes JSON only (a cross-site form cannot create a
// match), and every field in its documented range, with no overflow.
func TestCreateMatchRefusals(t *testing.T) {
	ts := newTestServer(t, netcode.Config{})
	for _, ct := range []string{"", "text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx"} {
		code, b := ts.postAs(t, ct, `{"max_players": 4}`)
		if code != http.StatusUnsupportedMediaType || errorReason(t, b) != "Content-Type must be application/json" {
			t.Errorf("POST as %q: %d %s, want 415", ct, code, b)
		}
	}
	if got := counter(t, ts, "tickstream_refusals_total", "bad_content_type"); got != 6 {
		t.Errorf("%v bad_content_type refusals counted, want 6", got)
	}
	if n := len(ts.Directory().List()); n != 0 {
		t.Fatalf("%d matches created by refused requests", n)
	}
	if code, b := ts.postAs(t, "application/json; charset=utf-8", `{"max_players": 4}`); code != http.StatusCreated {
		t.Fatalf("POST as JSON with a charset: %d %s", code, b)
	}

	for _, tc := range []struct{ body, reason string }{
		{`{"min_players": 5, "max_players": 4}`, "min_players must be from 1 to max_players (4), got 5"},
		{`{"min_players": 17}`, "min players must be 1…16"}, // above the server's default max_players
		{`{"time_limit": 1e12}`, "time_limit must be an integer from 10 to 3600"},
		{`{"time_limit": 1000000000000}`, "time_limit must be"},
		{`{"time_limit": 9223372036854775807}`, "time_limit must be"},
		{`{"time_limit": 1e30}`, "time_limit must be"},
		{`{"rate": "60"}`, "rate must be an integer from 10 to 128"},
		{`{"score_limit": 0}`, "score_limit must be an integer from 1 to 1000"},
		{`{"spectator_delay": 1e10}`, "spectator_delay must be a number of seconds from 0 to 60"},
		{`{"spectator_delay": 60.5}`, "spectator_delay must be"},
	} {
		code, b := ts.do(t, "POST", "/api/matches", tc.body)
		if code != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", tc.body, code, b)
			continue
		}
		if r := errorReason(t, b); !strings.Contains(r, tc.reason) {
			t.Errorf("%s: reason %q, want one containing %q", tc.body, r, tc.reason)
		}
	}
	m := ts.postMatch(t, `{"max_players": 1, "time_limit": 3600, "spectator_delay": 0.25}`)
	if m.Max != 1 || m.Delay != 0.25 {
		t.Fatalf("created %+v", m)
	}
}
