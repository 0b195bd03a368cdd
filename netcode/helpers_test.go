package netcode_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode"
	"github.com/tickstream/tickstream/netcode/client"
	"github.com/tickstream/tickstream/netcode/nettest"
	"github.com/tickstream/tickstream/netcode/wire"
)

// testServer is an in-process server on a real loopback listener.
type testServer struct {
	*netcode.Server
	http *httptest.Server
	url  string // ws://…/play
}

func newTestServer(t *testing.T, cfg netcode.Config) *testServer {
	t.Helper()
	return newTestServerWith(t, cfg, game.DirectoryConfig{}, netcode.HTTPOptions{})
}

// newTestServerDir is newTestServer with a local game.Directory configured
// by dcfg (its NewPublisher is the server's, its Logger the server's).
func newTestServerDir(t *testing.T, cfg netcode.Config, dcfg game.DirectoryConfig) *testServer {
	t.Helper()
	return newTestServerWith(t, cfg, dcfg, netcode.HTTPOptions{})
}

// newTestServerHTTP is newTestServer with the http.Server's timeouts of
// opts (built by netcode.NewHTTPServer, as cmd/server does).
func newTestServerHTTP(t *testing.T, cfg netcode.Config, opts netcode.HTTPOptions) *testServer {
	t.Helper()
	return newTestServerWith(t, cfg, game.DirectoryConfig{}, opts)
}

func newTestServerWith(t *testing.T, cfg netcode.Config, dcfg game.DirectoryConfig, opts netcode.HTTPOptions) *testServer {
	t.Helper()
	cfg.Logger = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	if dcfg.Defaults.MinPlayers == 0 {
		dcfg.Defaults.MinPlayers = 1
	}
	// As cmd/server does: NewHTTPServer's timeouts, TuneListener's socket options.
	s := nettest.StartServerWith(t, cfg, dcfg, nettest.Options{HTTP: &opts, Listener: netcode.TuneListener})
	return &testServer{Server: s.Server, http: s.HTTP, url: s.WSURL}
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// join dials and joins; it fails the test on error.
func (ts *testServer) join(t *testing.T, ctx context.Context, name, match string) (*client.Client, *wire.Welcome) {
	t.Helper()
	c, err := client.Dial(ctx, ts.url, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.CloseNow() })
	w, err := c.Join(ctx, name, match)
	if err != nil {
		t.Fatalf("join %s: %v", name, err)
	}
	return c, w
}

// nextSnap reads until a snapshot arrives, skipping reliable messages.
func nextSnap(t *testing.T, ctx context.Context, c *client.Client) *client.Snap {
	t.Helper()
	for {
		m, err := c.Next(ctx)
		if err != nil {
			t.Fatalf("next: %v (close %d %q)", err, client.CloseCode(err), client.CloseReason(err))
		}
		if m.Snap != nil {
			return m.Snap
		}
	}
}

// waitClose reads until the connection closes and returns the close error.
func waitClose(ctx context.Context, c *client.Client) error {
	for {
		if _, err := c.Next(ctx); err != nil {
			return err
		}
	}
}

func entity(s *client.Snap, id uint32) (game.Entity, bool) { return s.Entity(id) }

// counter reads a counter's (a gauge's, a histogram's _count) value by one label value,
// summed over every series that carries it, from the server's /metrics.
func counter(t *testing.T, ts *testServer, name, label string) float64 {
	t.Helper()
	return nettest.Scrape(t, ts.http.URL+"/metrics", name, label)
}

// eventually polls cond every 10 ms until ctx ends.
func eventually(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// matchOf returns the live match with id.
func (ts *testServer) matchOf(t *testing.T, id string) *game.Match {
	t.Helper()
	m := ts.Directory().Get(id)
	if m == nil {
		t.Fatalf("no match %s", id)
	}
	return m
}
