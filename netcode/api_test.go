package netcode_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode"
)

type matchResp struct {
	ID         string  `json:"id"`
	Players    int     `json:"players"`
	Max        int     `json:"max"`
	State      string  `json:"state"`
	Rate       int     `json:"rate"`
	Age        float64 `json:"age"`
	Spectators int64   `json:"spectators"`
	Delay      float64 `json:"delay"`
}

func (ts *testServer) do(t *testing.T, method, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, ts.http.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if method == "POST" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(path, "/api") && ct != "application/json" {
		t.Fatalf("%s %s: content type %q", method, path, ct)
	}
	return resp.StatusCode, b
}

func (ts *testServer) postMatch(t *testing.T, body string) matchResp {
	t.Helper()
	code, b := ts.do(t, "POST", "/api/matches", body)
	if code != http.StatusCreated {
		t.Fatalf("create %s: %d %s", body, code, b)
	}
	var m matchResp
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMatchAPI(t *testing.T) {
	ts := newTestServerDir(t, netcode.Config{}, game.DirectoryConfig{MaxMatches: 2})
	m := ts.postMatch(t, `{"rate": 60, "max_players": 4}`)
	if m.Rate != 60 || m.Max != 4 || m.State != "waiting" || m.Players != 0 || len(m.ID) != 8 {
		t.Fatalf("created %+v", m)
	}
	code, b := ts.do(t, "GET", "/api/matches/"+m.ID, "")
	var got matchResp
	if code != 200 || json.Unmarshal(b, &got) != nil || got.ID != m.ID || !strings.Contains(string(b), `"arena":{"w":1600,"h":900,"obstacles":[[`) {
		t.Fatalf("get: %d %s", code, b)
	}
	ctx := testCtx(t, 10*time.Second)
	ts.join(t, ctx, "erin", m.ID)
	code, b = ts.do(t, "GET", "/api/matches", "")
	var list struct{ Matches []matchResp }
	if code != 200 || json.Unmarshal(b, &list) != nil || len(list.Matches) != 1 || list.Matches[0].Players != 1 {
		t.Fatalf("list: %d %s", code, b)
	}

	for _, tc := range []struct {
		method, path, body string
		want               int
		reason             string
	}{
		{"GET", "/api/matches/nope", "", 404, "no such match"},
		{"POST", "/api/matches", `{"rate": 5}`, 400, "rate must be an integer from 10 to 128"},
		{"POST", "/api/matches", `{"rate": 0}`, 400, "rate must be an integer"},
		{"POST", "/api/matches", `{"max_players": 65}`, 400, "max_players must be an integer from 1 to 64"},
		{"POST", "/api/matches", `{"time_limit": 5}`, 400, "time_limit must be an integer from 10 to 3600"},
		{"POST", "/api/matches", `{"colour": "red"}`, 400, "unknown field"},
		{"POST", "/api/matches", `{`, 400, "bad JSON"},
		{"POST", "/api/matches", `{}`, 201, ""},
		{"POST", "/api/matches", `{}`, 503, "match limit"},
	} {
		code, b := ts.do(t, tc.method, tc.path, tc.body)
		if code != tc.want || !strings.Contains(string(b), tc.reason) {
			t.Errorf("%s %s %s: %d %s; want %d containing %q", tc.method, tc.path, tc.body, code, b, tc.want, tc.reason)
		}
	}
}

func TestHealthReadyMetrics(t *testing.T) {
	ts := newTestServer(t, netcode.Config{})
	for path, want := range map[string]string{"/healthz": `"ok"`, "/readyz": `"ready"`, "/metrics": "tickstream_sessions"} {
		code, b := ts.do(t, "GET", path, "")
		if code != 200 || !strings.Contains(string(b), want) {
			t.Errorf("%s: %d %s", path, code, b)
		}
	}
}
