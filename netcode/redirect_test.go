package netcode_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode"
	"github.com/tickstream/tickstream/netcode/client"
	"github.com/tickstream/tickstream/netcode/nettest"
	"github.com/tickstream/tickstream/netcode/wire"
)

// fakeRouter redirects every join that did not arrive through a redirect
// (or every join, with always) to url and match.
type fakeRouter struct {
	always bool
	to     atomic.Pointer[netcode.Redirect]
	routed atomic.Int64
}

func (r *fakeRouter) set(url, match string) {
	r.to.Store(&netcode.Redirect{URL: url, Match: match, Node: "a"})
}

func (r *fakeRouter) Route(_ context.Context, _ string, local bool) (*netcode.Redirect, error) {
	r.routed.Add(1)
	if local && !r.always {
		return nil, nil
	}
	red := *r.to.Load()
	return &red, nil
}
func (r *fakeRouter) Remote() []netcode.RemoteMatch             { return nil }
func (r *fakeRouter) Lookup(string) (netcode.RemoteMatch, bool) { return netcode.RemoteMatch{}, false }

// twoNodes starts server A (no router) and server B routing with rt.
func twoNodes(t *testing.T, rt *fakeRouter, dcfg game.DirectoryConfig) (a, b *nettest.Server) {
	t.Helper()
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	if dcfg.Defaults.MinPlayers == 0 {
		dcfg.Defaults.MinPlayers = 1
	}
	a = nettest.StartServer(t, netcode.Config{Logger: log}, dcfg)
	b = nettest.StartServer(t, netcode.Config{Logger: log, Router: rt}, dcfg)
	return a, b
}

// A join through B that B's router sends to A's match is followed by the
// client: it reconnects to the redirect's URL as given (?seat=local
// included), joins A's match, and plays there (snapshots from A).
func TestClientFollowsRedirect(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	rt := &fakeRouter{}
	a, b := twoNodes(t, rt, game.DirectoryConfig{})
	host, _, err := client.DialJoin(ctx, a.WSURL, "host", "", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer host.CloseNow()
	m := a.Dir.List()
	if len(m) != 1 {
		t.Fatalf("A has %d matches, want 1", len(m))
	}
	rt.set(a.WSURL+"?seat=local", m[0].ID)

	var redirects atomic.Int64
	c, w, err := client.DialJoin(ctx, b.WSURL, "guest", "", 2, &client.Options{Redirects: &redirects})
	if err != nil {
		t.Fatalf("join through B: %v", err)
	}
	defer c.CloseNow()
	if w.Match != m[0].ID || w.Every != 2 || c.URL() != a.WSURL+"?seat=local" || redirects.Load() != 1 {
		t.Fatalf("welcome match %s every %d on %s after %d redirects; want A's match %s, every 2, on %s?seat=local, 1 redirect",
			w.Match, w.Every, c.URL(), redirects.Load(), m[0].ID, a.WSURL)
	}
	if got := a.Dir.Get(m[0].ID).Info().Players; got != 2 {
		t.Fatalf("A's match has %d players, want 2", got)
	}
	if len(b.Dir.List()) != 0 {
		t.Fatalf("B created matches: %+v", b.Dir.List())
	}
	for i := 0; i < 3; i++ {
		if s := nextSnap(t, ctx, c); s.Tick == 0 || s.Tick%2 != 0 {
			t.Fatalf("snapshot tick %d, want a positive multiple of every=2", s.Tick)
		}
	}
	if got := nettest.Scrape(t, b.URL+"/metrics", "tickstream_redirects_total", ""); got != 1 {
		t.Fatalf("B counted %v redirects, want 1", got)
	}

	// Join (without DialJoin) returns the redirect itself.
	raw, err := client.Dial(ctx, b.WSURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.CloseNow()
	var red *client.RedirectError
	if _, err := raw.Join(ctx, "raw", ""); !errors.As(err, &red) || red.URL != a.WSURL+"?seat=local" || red.Match != m[0].ID {
		t.Fatalf("Join through B: %v, want a RedirectError to %s match %s", err, a.WSURL+"?seat=local", m[0].ID)
	}
}

// A redirect loop (B to B to B …) fails after MaxRedirects with
// ErrTooManyRedirects: the client followed 3, B refused 4 joins.
func TestClientRedirectLoopFails(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	rt := &fakeRouter{always: true}
	_, b := twoNodes(t, rt, game.DirectoryConfig{})
	rt.set(b.WSURL+"?seat=local", "")
	var redirects atomic.Int64
	_, _, err := client.DialJoin(ctx, b.WSURL, "looper", "", 0, &client.Options{Redirects: &redirects})
	if !errors.Is(err, client.ErrTooManyRedirects) || !strings.Contains(err.Error(), "more than 3 times") {
		t.Fatalf("err %v, want ErrTooManyRedirects", err)
	}
	if redirects.Load() != client.MaxRedirects || rt.routed.Load() != client.MaxRedirects+1 {
		t.Fatalf("followed %d redirects, B routed %d joins; want %d and %d",
			redirects.Load(), rt.routed.Load(), client.MaxRedirects, client.MaxRedirects+1)
	}
	if client.RetryJoin(err) {
		t.Fatal("a redirect loop is not worth retrying")
	}
}

// A join placed on A by a redirect (?seat=local) whose match filled on the
// way is seated in another match of A (placedRetry); the same join
// without ?seat=local is refused with 4005.
func TestPlacedJoinFallsBackOnFullMatch(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	rt := &fakeRouter{}
	a, b := twoNodes(t, rt, game.DirectoryConfig{})
	full, err := a.Dir.Create(game.MatchConfig{MaxPlayers: 1, MinPlayers: 1})
	if err != nil {
		t.Fatal(err)
	}
	first, _, err := client.DialJoin(ctx, a.WSURL, "first", full.ID(), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer first.CloseNow()

	_, _, err = client.DialJoin(ctx, a.WSURL, "direct", full.ID(), 0, nil)
	if client.CloseCode(err) != wire.CloseMatchFull {
		t.Fatalf("direct join of the full match: %v, want 4005", err)
	}

	rt.set(a.WSURL+"?seat=local", full.ID())
	c, w, err := client.DialJoin(ctx, b.WSURL, "placed", "", 0, nil)
	if err != nil {
		t.Fatalf("placed join: %v", err)
	}
	defer c.CloseNow()
	if w.Match == full.ID() || a.Dir.Get(w.Match) == nil || c.URL() != a.WSURL+"?seat=local" {
		t.Fatalf("placed in %s on %s; want another match of A (not %s)", w.Match, c.URL(), full.ID())
	}
	nextSnap(t, ctx, c)
}

// A Player given entry nodes tries them in turn (the first is dead: the
// join is retried through the second), follows B's redirect to A, and
// plays there; when A dies it does not wait out GiveUpAfter: after
// UnreachableAfter of refused connections Run returns ErrSeatLost wrapping
// ErrNodeUnreachable, and LostAt says when the link broke.
func TestPlayerEntryNodesAndDeadNode(t *testing.T) {
	ctx := testCtx(t, 30*time.Second)
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	dcfg := game.DirectoryConfig{Defaults: game.MatchConfig{MinPlayers: 1}}
	var ln *nettest.KillableListener
	a := nettest.StartServerWith(t, netcode.Config{Logger: log}, dcfg, nettest.Options{
		Listener: func(l net.Listener) net.Listener { ln = &nettest.KillableListener{Listener: l}; return ln },
	})
	rt := &fakeRouter{}
	rt.set(a.WSURL+"?seat=local", "")
	b := nettest.StartServer(t, netcode.Config{Logger: log, Router: rt}, dcfg)
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "ws://" + dead.Addr().String() + "/play"
	dead.Close() // connections to it are refused

	var redirects atomic.Int64
	p := client.NewPlayer(client.PlayerOptions{
		URLs: []string{deadURL, b.WSURL}, Name: "roamer", Dial: &client.Options{Redirects: &redirects},
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		GiveUpAfter: 20 * time.Second, UnreachableAfter: 300 * time.Millisecond,
	})
	snaps := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- p.Run(ctx, func(m client.Message) {
			if m.Snap != nil {
				select {
				case snaps <- struct{}{}:
				default:
				}
			}
		})
	}()
	select {
	case <-snaps:
	case err := <-done:
		t.Fatalf("Run ended before a snapshot: %v", err)
	case <-ctx.Done():
		t.Fatal("no snapshot")
	}
	if p.URL() != a.WSURL+"?seat=local" || p.Stats().JoinRetries != 1 || redirects.Load() != 1 || len(a.Dir.List()) != 1 {
		t.Fatalf("on %s after %d join retries and %d redirects, A has %d matches; want A, 1, 1, 1",
			p.URL(), p.Stats().JoinRetries, redirects.Load(), len(a.Dir.List()))
	}

	killed := time.Now()
	ln.Kill()
	select {
	case err := <-done:
		if !errors.Is(err, client.ErrSeatLost) || !errors.Is(err, client.ErrNodeUnreachable) {
			t.Fatalf("Run: %v, want ErrSeatLost and ErrNodeUnreachable", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run still resuming at a dead node 15 s later (UnreachableAfter is 300 ms)")
	}
	if lost := p.LostAt(); lost.Before(killed) || p.Stats().Drops != 1 {
		t.Fatalf("LostAt %v (killed at %v), %d drops", lost, killed, p.Stats().Drops)
	}
}
