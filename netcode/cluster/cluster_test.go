package cluster

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode"
)

// startNATS runs an embedded NATS server for the test.
func startNATS(t testing.TB) string {
	t.Helper()
	ns, err := Embed("127.0.0.1:0", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	return ns.ClientURL()
}

func connect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// testNode is a node over its own directory of matches that never tick.
type testNode struct {
	*Node
	dir *game.Directory
	nc  *nats.Conn
}

func newDir(t testing.TB) *game.Directory {
	t.Helper()
	d, err := game.NewDirectory(game.DirectoryConfig{Defaults: game.MatchConfig{TickRate: 10, MaxPlayers: 4, MinPlayers: 2}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d
}

func startNode(t testing.TB, url, id string, local Local, cfg Config) *testNode {
	t.Helper()
	nc := connect(t, url)
	cfg.NodeID = id
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://" + id + ".test:8080"
	}
	var dir *game.Directory
	if local == nil {
		dir = newDir(t)
		local = dir
	}
	n, err := New(context.Background(), nc, local, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	return &testNode{Node: n, dir: dir, nc: nc}
}

// waitFor polls cond every 10 ms until it holds or limit passes; it
// returns how long it took.
func waitFor(t testing.TB, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not after %v", what, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

func listed(n *testNode, id string) bool {
	for _, rm := range n.Remote() {
		if rm.ID == id {
			return true
		}
	}
	return false
}

func create(t testing.TB, n *testNode) *game.Match {
	t.Helper()
	m, err := n.dir.Create(game.MatchConfig{})
	if err != nil {
		t.Fatal(err)
	}
	n.Kick()
	return m
}

func kvOf(t testing.TB, nc *nats.Conn) jetstream.KeyValue {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(context.Background(), "tickstream_matches")
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

func entryExists(t testing.TB, kv jetstream.KeyValue, id string) bool {
	t.Helper()
	_, err := kv.Get(context.Background(), id)
	switch {
	case err == nil:
		return true
	case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
		return false
	}
	t.Fatalf("kv get %s: %v", id, err)
	return false
}

// A node that goes silent (a stopped process) leaves the other nodes'
// listings within the heartbeat's dead-after (1.5 s by default), whether
// or not they watch the directory, and its entries leave the bucket within
// the TTL and a second.
func TestSilentNodeLeavesDirectory(t *testing.T) {
	url := startNATS(t)
	a := startNode(t, url, "a", nil, Config{})
	b := startNode(t, url, "b", nil, Config{})
	c := startNode(t, url, "c", nil, Config{})
	c.pauseWatch()
	m := create(t, a)
	waitFor(t, 5*time.Second, "b lists a's match", func() bool { return listed(b, m.ID()) })
	c.relist(context.Background()) // c's only way to learn of it, its watcher being off
	if !listed(c, m.ID()) {
		t.Fatal("c does not list a's match after a re-list")
	}
	rm, ok := b.Lookup(m.ID())
	if !ok || rm.Node != "a" || rm.URL != "http://a.test:8080" || rm.MaxPlayers != 4 {
		t.Fatalf("b's lookup of a's match: %+v %v", rm, ok)
	}

	a.pause(true)
	silent := time.Now()
	gone := waitFor(t, 5*time.Second, "a's match leaves b's listing", func() bool { return !listed(b, m.ID()) })
	waitFor(t, 5*time.Second, "a's match leaves c's listing (no watcher)", func() bool { return !listed(c, m.ID()) })
	t.Logf("listing dropped the silent node's match %v after its last heartbeat could have been sent (aim: 1.5 s)", gone)
	waitFor(t, 2*time.Second, "b counts a silent death", func() bool {
		return testutil.ToFloat64(b.m.deaths.WithLabelValues("silent")) == 1
	})
	kv := kvOf(t, b.nc)
	waitFor(t, 3*time.Second+5*time.Second, "a's entry expires from the bucket", func() bool { return !entryExists(t, kv, m.ID()) })
	t.Logf("bucket entry gone %v after the node went silent (aim: TTL 3 s + 1 s)", time.Since(silent).Round(time.Millisecond))
}

// A node of an older incarnation (a paused process that wakes up after a
// restart took its id) cannot write its matches' entries, and its
// heartbeats are ignored.
func TestStaleIncarnationRefused(t *testing.T) {
	url := startNATS(t)
	a := startNode(t, url, "a", nil, Config{Incarnation: 200})
	b := startNode(t, url, "b", nil, Config{})
	m := create(t, a)
	waitFor(t, 5*time.Second, "b lists a's match", func() bool { return listed(b, m.ID()) })

	// The old process lists the same match (its own copy of the world).
	old := startNode(t, url, "a", fakeLocal{info: m.Info()}, Config{Incarnation: 100})
	waitFor(t, 5*time.Second, "the old incarnation fences its copy", func() bool {
		return testutil.ToFloat64(old.m.fenced.WithLabelValues("taken")) == 1
	})
	if got := testutil.ToFloat64(old.m.writes.WithLabelValues("ok")); got != 0 {
		t.Fatalf("the old incarnation wrote %v entries", got)
	}
	waitFor(t, 5*time.Second, "b ignores the old incarnation's heartbeats", func() bool {
		return testutil.ToFloat64(b.m.badBeats) > 0
	})
	rm, ok := b.Lookup(m.ID())
	if !ok || rm.Node != "a" {
		t.Fatalf("b's lookup after the old incarnation woke: %+v %v", rm, ok)
	}
	kv := kvOf(t, b.nc)
	e, err := kv.Get(context.Background(), m.ID())
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf(`"inc":%d`, 200); !contains(string(e.Value()), want) {
		t.Fatalf("entry %s: want %s", e.Value(), want)
	}
	if old.Route(context.Background(), m.ID(), false); !old.fenced(m.ID()) {
		t.Fatal("the old incarnation does not hold its copy fenced")
	}
	if _, err := old.Route(context.Background(), m.ID(), false); !errors.Is(err, netcode.ErrFenced) {
		t.Fatalf("a join into the fenced copy: %v, want ErrFenced", err)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// fakeLocal is a directory that lists one match it does not run.
type fakeLocal struct{ info game.MatchInfo }

func (f fakeLocal) List() []game.MatchInfo { return []game.MatchInfo{f.info} }
func (f fakeLocal) Get(string) *game.Match { return nil }

// A paused node whose lease lapsed fences its matches when it wakes up:
// it closes them, refuses joins into them, and does not write their
// entries again.
func TestPausedNodeSelfFences(t *testing.T) {
	url := startNATS(t)
	a := startNode(t, url, "a", nil, Config{})
	b := startNode(t, url, "b", nil, Config{})
	m := create(t, a)
	waitFor(t, 5*time.Second, "b lists a's match", func() bool { return listed(b, m.ID()) })
	kv := kvOf(t, b.nc)
	waitFor(t, 5*time.Second, "a's write of it is answered", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		l := a.leases[m.ID()]
		return l != nil && l.rev != 0
	})

	a.pause(true)
	waitFor(t, 10*time.Second, "a's entry expires while it is paused", func() bool { return !entryExists(t, kv, m.ID()) })
	a.pause(false)
	waitFor(t, 5*time.Second, "a fences its match on waking", func() bool {
		return testutil.ToFloat64(a.m.fenced.WithLabelValues("lapsed")) == 1
	})
	select {
	case <-m.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the fenced match is still running")
	}
	if _, err := a.Route(context.Background(), m.ID(), false); err == nil {
		t.Fatal("a routes a join into its fenced match")
	}
	// Renewals go on (a heartbeat is back); the entry stays gone.
	for range 3 {
		a.renew(context.Background())
	}
	if entryExists(t, kv, m.ID()) {
		t.Fatal("the woken node wrote its fenced match's entry again")
	}
	waitFor(t, 5*time.Second, "b sees a alive again", func() bool { return len(b.Peers()) == 1 })
	if listed(b, m.ID()) {
		t.Fatal("b lists the fenced match")
	}
}

// A node restarted under the same id (a new incarnation) owns none of its
// predecessor's matches: nobody lists them from its first heartbeat on,
// and nothing writes them again.
func TestRestartedNodeResurrectsNothing(t *testing.T) {
	url := startNATS(t)
	a := startNode(t, url, "a", nil, Config{Incarnation: 1})
	b := startNode(t, url, "b", nil, Config{})
	m := create(t, a)
	waitFor(t, 5*time.Second, "b lists a's match", func() bool { return listed(b, m.ID()) })
	a.crash()

	a2 := startNode(t, url, "a", nil, Config{Incarnation: 2})
	waitFor(t, 5*time.Second, "b forgets the first incarnation's match", func() bool { return !listed(b, m.ID()) })
	if _, ok := b.Lookup(m.ID()); ok {
		t.Fatal("b still finds the first incarnation's match")
	}
	kv := kvOf(t, b.nc)
	waitFor(t, 10*time.Second, "the old entry expires", func() bool { return !entryExists(t, kv, m.ID()) })
	if len(a2.dir.List()) != 0 || a2.DirectorySize() != 0 {
		t.Fatalf("the restarted node holds %d matches, directory size %d", len(a2.dir.List()), a2.DirectorySize())
	}
	m2 := create(t, a2)
	waitFor(t, 5*time.Second, "b lists the new incarnation's match", func() bool { return listed(b, m2.ID()) })
}

// A join for any match goes to the fullest open match of the cluster, or
// to the least-loaded node; a named match goes to its owner.
func TestRoute(t *testing.T) {
	url := startNATS(t)
	a := startNode(t, url, "a", nil, Config{})
	b := startNode(t, url, "b", nil, Config{})
	ctx := context.Background()
	waitFor(t, 5*time.Second, "a and b see each other", func() bool { return len(a.Peers()) == 1 && len(b.Peers()) == 1 })

	// No match anywhere, equal loads: here.
	if red, err := b.Route(ctx, "", false); red != nil || err != nil {
		t.Fatalf("empty cluster: %+v %v, want here", red, err)
	}
	mb := create(t, b)
	if _, err := mb.Join(ctx, "p1"); err != nil {
		t.Fatal(err)
	}
	b.Kick()
	// b has a player: a new match goes to a (now least loaded)? No: b's
	// open match is the fullest, so a join through a goes there.
	waitFor(t, 5*time.Second, "a lists b's match with its player", func() bool {
		rm, ok := a.Lookup(mb.ID())
		return ok && rm.Players == 1
	})
	red, err := a.Route(ctx, "", false)
	if err != nil || red == nil || red.Match != mb.ID() || red.Node != "b" || red.URL != "ws://b.test:8080/play?seat=local" {
		t.Fatalf("a join through a: %+v %v, want a redirect to b's match", red, err)
	}
	// Named: through a, to b's /play without seat=local.
	red, err = a.Route(ctx, mb.ID(), false)
	if err != nil || red == nil || red.URL != "ws://b.test:8080/play" || red.Match != mb.ID() {
		t.Fatalf("a named join through a: %+v %v", red, err)
	}
	if red, err := b.Route(ctx, mb.ID(), false); red != nil || err != nil {
		t.Fatalf("a named join on the owner: %+v %v, want here", red, err)
	}
	if _, err := a.Route(ctx, "nosuchmatch", false); !errors.Is(err, game.ErrMatchNotFound) {
		t.Fatalf("unknown match: %v", err)
	}
	// Fill b's match: no open match; b is loaded (4 players), a is not.
	for i := 2; i <= 4; i++ {
		if _, err := mb.Join(ctx, fmt.Sprintf("p%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	b.Kick()
	waitFor(t, 5*time.Second, "a sees b's match full", func() bool {
		rm, ok := a.Lookup(mb.ID())
		return ok && rm.Players == 4
	})
	waitFor(t, 5*time.Second, "b's load reaches a", func() bool {
		for _, p := range a.livePeers() {
			if p.ID == "b" && p.Players == 4 {
				return true
			}
		}
		return false
	})
	if red, err := b.Route(ctx, "", false); err != nil || red == nil || red.Node != "a" || red.Match != "" || red.URL != "ws://a.test:8080/play?seat=local" {
		t.Fatalf("a join through the loaded node: %+v %v, want a redirect to a to create", red, err)
	}
	// A peer that is gone (no responders) is found out by the request.
	// Until the NATS server has seen a's connection close, the ping may go
	// to a's dead subscription and time out instead (a suspect peer, not
	// forgotten): the join is placed here either way.
	a.crash()
	waitFor(t, time.Second, "a join finds a gone (no responders)", func() bool {
		if red, err := b.Route(ctx, "", false); red != nil || err != nil {
			t.Fatalf("join with the only peer gone: %+v %v, want here", red, err)
		}
		return testutil.ToFloat64(b.m.deaths.WithLabelValues("no_responders")) == 1
	})
	if got := testutil.ToFloat64(b.m.deaths.WithLabelValues("silent")); got != 0 {
		t.Fatalf("silent deaths: %v, want 0 (no_responders first)", got)
	}
}

// A first write whose reply never came may have been stored (others list
// the match): the lease counts from it. A node that then stayed paused
// past TTL fences the match on waking instead of creating its entry again.
func TestUnansweredCreateLapses(t *testing.T) {
	url := startNATS(t)
	info := game.MatchInfo{ID: "unanswered", MaxPlayers: 4, TickRate: 10, Created: time.Now()}
	a := startNode(t, url, "a", fakeLocal{info: info}, Config{})
	kv := kvOf(t, a.nc)
	waitFor(t, 5*time.Second, "a's entry is written", func() bool { return entryExists(t, kv, info.ID) })
	a.pause(true)
	// As if the Create's reply had never come, TTL and more ago, and the
	// entry had expired meanwhile.
	a.mu.Lock()
	a.leases[info.ID] = &lease{unsure: time.Now().Add(-2 * a.cfg.TTL)}
	a.mu.Unlock()
	if err := kv.Purge(context.Background(), info.ID); err != nil {
		t.Fatal(err)
	}
	if !a.fenced(info.ID) {
		t.Fatal("a holds a lease on a match whose only write went unanswered TTL ago")
	}
	a.renewOne(context.Background(), info)
	if got := testutil.ToFloat64(a.m.fenced.WithLabelValues("lapsed")); got != 1 {
		t.Fatalf("lapsed fences: %v, want 1", got)
	}
	if entryExists(t, kv, info.ID) {
		t.Fatal("a created the entry again")
	}
}

// A Create whose reply was lost left the node's own entry in the bucket
// without the node knowing its revision: the next renewal finds the entry
// its own and takes it over, rather than fencing its own match.
func TestLostCreateReplyIsNotTaken(t *testing.T) {
	url := startNATS(t)
	nc := connect(t, url)
	info := game.MatchInfo{ID: "lostreply", MaxPlayers: 4, TickRate: 10, Created: time.Now()}
	// The bucket exists once a node ran; a first node makes it.
	startNode(t, url, "b", nil, Config{})
	kv := kvOf(t, nc)
	val := fmt.Sprintf(`{"id":"lostreply","node":"a","inc":77,"url":"http://a.test:8080","max":4,"rate":10}`)
	if _, err := kv.Create(context.Background(), info.ID, []byte(val)); err != nil {
		t.Fatal(err)
	}
	a := startNode(t, url, "a", fakeLocal{info: info}, Config{Incarnation: 77})
	waitFor(t, 5*time.Second, "a renews the entry it finds its own", func() bool {
		return testutil.ToFloat64(a.m.writes.WithLabelValues("ok")) >= 2
	})
	if got := testutil.ToFloat64(a.m.fenced.WithLabelValues("taken")); got != 0 || a.fenced(info.ID) {
		t.Fatalf("a fenced its own match (taken %v)", got)
	}
}
