package static

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	h := Handler()
	tests := []struct {
		method, path string
		status       int
		contentType  string
		contains     string
	}{
		{"GET", "/", 200, "text/html; charset=utf-8", `<canvas id="canvas"`},
		{"HEAD", "/", 200, "text/html; charset=utf-8", ""},
		{"GET", "/dist/app.js", 200, "text/javascript; charset=utf-8", "tickstream.v2"},
		{"GET", "/watch", 200, "text/html; charset=utf-8", `src="/dist/watch.js"`},
		{"HEAD", "/watch", 200, "text/html; charset=utf-8", ""},
		{"GET", "/watch?match=abc&transport=sse", 200, "text/html; charset=utf-8", `id="matches"`},
		{"GET", "/dist/watch.js", 200, "text/javascript; charset=utf-8", "tickstreamWatch"},
		{"GET", "/favicon.svg", 200, "image/svg+xml", "<svg"},
		{"GET", "/favicon.ico", 200, "image/svg+xml", "<svg"},
		{"GET", "/watch/", 404, "", ""},
		{"GET", "/watch.html", 404, "", ""},
		{"POST", "/watch", 405, "", ""},
		{"GET", "/dist/", 404, "", ""},
		{"GET", "/dist", 404, "", ""},
		{"GET", "/index.html", 404, "", ""},
		{"GET", "/embed.go", 404, "", ""},
		{"POST", "/", 405, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d", rec.Code, tt.status)
			}
			if tt.status != 200 {
				return
			}
			if got := rec.Header().Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type = %q, want %q", got, tt.contentType)
			}
			if got := rec.Header().Get("Cache-Control"); got != "no-cache" {
				t.Errorf("Cache-Control = %q, want no-cache", got)
			}
			if rec.Header().Get("ETag") == "" {
				t.Error("no ETag")
			}
			if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
			}
			if tt.method == "HEAD" && rec.Body.Len() != 0 {
				t.Errorf("HEAD answered with a %d-byte body", rec.Body.Len())
			}
			if !strings.Contains(rec.Body.String(), tt.contains) {
				t.Errorf("body does not contain %q", tt.contains)
			}
		})
	}
}

func TestHandlerRevalidates(t *testing.T) {
	h := Handler()
	etags := map[string]string{}
	for _, path := range []string{"/", "/dist/app.js", "/watch", "/dist/watch.js"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		etag := rec.Header().Get("ETag")
		if prev, ok := etags[etag]; ok {
			t.Errorf("%s and %s share the ETag %s", prev, path, etag)
		}
		etags[etag] = path
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("If-None-Match", etag)
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotModified {
			t.Errorf("%s with If-None-Match: status = %d, want 304", path, rec.Code)
		}
	}
}

func TestPageLinksBundle(t *testing.T) {
	b, err := files.ReadFile("index.html")
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, want := range []string{`src="/dist/app.js"`, `id="name"`, `maxlength="24"`, `id="play"`, `id="hud"`, `id="status"`, `href="/watch"`} {
		if !strings.Contains(page, want) {
			t.Errorf("index.html lacks %s", want)
		}
	}
	for _, bad := range []string{"http://", "https://", "//cdn", "@import"} {
		if strings.Contains(page, bad) {
			t.Errorf("index.html refers to an external resource (%s)", bad)
		}
	}
}

func TestWatchPageLinksBundle(t *testing.T) {
	b, err := files.ReadFile("watch.html")
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	for _, want := range []string{`src="/dist/watch.js"`, `id="canvas"`, `id="hud"`, `id="status"`, `id="overlay"`,
		`id="results"`, `id="list"`, `id="matches"`, `id="none"`, `href="/"`} {
		if !strings.Contains(page, want) {
			t.Errorf("watch.html lacks %s", want)
		}
	}
	for _, bad := range []string{"http://", "https://", "//cdn", "@import"} {
		if strings.Contains(page, bad) {
			t.Errorf("watch.html refers to an external resource (%s)", bad)
		}
	}
	// The bundle speaks the spectator protocol (docs/protocol.md, "Spectators").
	js, err := files.ReadFile("dist/watch.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"tickstream.v2", "/api/matches/", "watch", "events", "poll", "EventSource", "tickstreamWatch"} {
		if !strings.Contains(string(js), want) {
			t.Errorf("dist/watch.js lacks %q (rebuild with npm run build)", want)
		}
	}
}
