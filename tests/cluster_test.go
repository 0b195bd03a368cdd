package tests

// Several server processes on one NATS: the cluster end to end, with real
// processes that are paused (SIGSTOP) and killed (SIGKILL).

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tickstream/tickstream/cmd/bots/fleet"
	"github.com/tickstream/tickstream/netcode/client"
	"github.com/tickstream/tickstream/netcode/cluster"
	"github.com/tickstream/tickstream/netcode/nettest"
)

// clusterNode is one server process of a test cluster.
type clusterNode struct {
	*serverProcess
	id string
}

// startClusterProcs runs NATS (in the test process, so that killing any
// server leaves it up) and n server processes on it.
func startClusterProcs(t *testing.T, n int, args ...string) []*clusterNode {
	t.Helper()
	ns, err := cluster.Embed("127.0.0.1:0", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	bin := serverBinary(t)
	nodes := make([]*clusterNode, n)
	for i := range nodes {
		id := fmt.Sprintf("n%d", i+1)
		argv := append([]string{"-node-id", id, "-nats-url", ns.ClientURL(), "-resume-secret", "cluster-test-secret-0123456789", "-replay-dir="}, args...)
		nodes[i] = &clusterNode{serverProcess: startServer(t, bin, argv...), id: id}
	}
	// Every node sees every other one (the listing of an empty cluster says
	// nothing; the metric does).
	deadline := time.Now().Add(10 * time.Second)
	for _, nd := range nodes {
		for peersOf(t, nd) != n-1 {
			if time.Now().After(deadline) {
				t.Fatalf("%s sees %d peers, want %d", nd.id, peersOf(t, nd), n-1)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nodes
}

// peersOf reads tickstream_cluster_peers from a node's /metrics.
func peersOf(t *testing.T, nd *clusterNode) int {
	t.Helper()
	v, err := metricValue(nd.URL, "tickstream_cluster_peers")
	if err != nil {
		return -1
	}
	return int(v)
}

// clusterMatch is a match in GET /api/matches.
type clusterMatch struct {
	ID      string `json:"id"`
	Node    string `json:"node"`
	URL     string `json:"url"`
	Players int    `json:"players"`
	State   string `json:"state"`
}

// metricValue reads one metric (summed over the samples with label, or
// all) from a server's /metrics without failing the test.
func metricValue(base, name string, label ...string) (float64, error) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	l := ""
	if len(label) > 0 {
		l = label[0]
	}
	return nettest.Value(string(b), name, l), nil
}

func listCluster(base string) ([]clusterMatch, error) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(base + "/api/matches")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Matches []clusterMatch `json:"matches"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	return body.Matches, nil
}

// joinPlayer joins through url (following no redirect: the node is chosen
// by the caller) and reads its socket in the background until it closes.
func joinPlayer(t *testing.T, url, name string) (string, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	w, err := c.Join(ctx, name, "")
	if err != nil {
		t.Fatalf("join %s: %v", url, err)
	}
	done := make(chan error, 1)
	go func() {
		for {
			if _, err := c.Next(context.Background()); err != nil {
				done <- err
				return
			}
		}
	}()
	return w.Match, done
}

func (nd *clusterNode) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := nd.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%s: signal %v: %v", nd.id, sig, err)
	}
}

// A node stopped (SIGSTOP) for longer than the directory's TTL leaves every
// listing; when it continues (SIGCONT) it finds its leases lapsed, closes
// its matches and lists them nowhere: no match is ever listed by two nodes,
// and the paused node's matches never come back.
func TestClusterPausedNodeLeavesNoTwin(t *testing.T) {
	nodes := startClusterProcs(t, 3, "-max-players", "4", "-min-players", "2")
	a, b, c := nodes[0], nodes[1], nodes[2]
	// Two players on a (a's first join creates a match there: all nodes
	// empty, a wins the tie on its own join).
	m1, closed1 := joinPlayer(t, a.WSURL(), "p1")
	m2, _ := joinPlayer(t, a.WSURL(), "p2")
	if m1 != m2 {
		t.Fatalf("two joins on an empty a: matches %s and %s", m1, m2)
	}
	waitUntil(t, 5*time.Second, "b lists a's match", func() bool { return lists(b, m1, "n1") })

	a.signal(t, syscall.SIGSTOP)
	stopped := true
	defer func() {
		if stopped {
			a.signal(t, syscall.SIGCONT) // let the cleanup's SIGTERM work
		}
	}()
	paused := time.Now()
	gone := waitUntil(t, 5*time.Second, "b and c drop the paused node's match", func() bool {
		return !lists(b, m1, "") && !lists(c, m1, "")
	})
	t.Logf("the paused node's match left the other listings after %v", gone.Round(time.Millisecond))
	// A join through b while a is paused goes to b or c, not to a.
	m3, _ := joinPlayer(t, b.WSURL(), "p3")
	if m3 == m1 {
		t.Fatal("a join during the pause was seated in the paused node's match")
	}
	// Past the lease (3 s) and its expiry in the bucket, wake a up.
	time.Sleep(time.Until(paused.Add(4500 * time.Millisecond)))
	a.signal(t, syscall.SIGCONT)
	stopped = false

	// a closes its fenced match: its players are told (the socket ends).
	select {
	case err := <-closed1:
		t.Logf("a's player after the wake-up: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the paused node's player was not closed after the node woke up")
	}
	// For 3 s after the wake-up, no listing has m1 live, and no match is
	// listed by two nodes.
	end := time.Now().Add(3 * time.Second)
	for time.Now().Before(end) {
		owner := map[string]string{}
		for _, nd := range nodes {
			list, err := listCluster(nd.URL)
			if err != nil {
				t.Fatalf("%s: %v", nd.id, err)
			}
			for _, m := range list {
				if prev, ok := owner[m.ID]; ok && prev != m.Node {
					t.Fatalf("match %s listed as owned by %s and by %s", m.ID, prev, m.Node)
				}
				owner[m.ID] = m.Node
				if m.ID == m1 && nd != a {
					t.Fatalf("%s lists the paused node's match after it woke up: %+v", nd.id, m)
				}
				if m.ID == m1 && nd == a && time.Since(end) > -2*time.Second && (m.State == "waiting" || m.State == "running") {
					t.Fatalf("the woken node still lists its fenced match as %s after 1 s", m.State)
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if v, err := metricValue(a.URL, "tickstream_cluster_fenced_total", "lapsed"); err != nil || v < 1 {
		t.Fatalf("a's fenced matches (lapsed): %v %v, want ≥ 1", v, err)
	}
}

// lists reports whether a node's listing has match id (owned by node,
// unless node is "").
func lists(nd *clusterNode, id, node string) bool {
	list, err := listCluster(nd.URL)
	if err != nil {
		return false
	}
	for _, m := range list {
		if m.ID == id && (node == "" || m.Node == node) {
			return true
		}
	}
	return false
}

// waitUntil polls cond every 20 ms until it holds or limit passes, and
// returns how long it took.
func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// The kill test: 30 bots play on three nodes (joining through all three,
// redirected to the owners of their matches) and 10 spectators watch from
// another node (relayed); the busiest node is killed (SIGKILL). Every bot
// of the killed node is in a live match again — a new one, on a live node
// — and the report gives the time from the socket error to the first
// snapshot of the new match.
func TestClusterKillBusiestNode(t *testing.T) {
	nodes := startClusterProcs(t, 3, "-max-players", "8", "-min-players", "2", "-tick-rate", "20")
	urls := make([]string, len(nodes))
	for i, nd := range nodes {
		urls[i] = "ws://" + nd.Addr
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	type result struct {
		rep *fleet.Report
		err error
	}
	players := make(chan result, 1)
	go func() {
		rep, err := fleet.Run(ctx, fleet.Scenario{
			URL: strings.Join(urls, ","), Players: 30, RampUp: fleet.Duration(3 * time.Second),
			Duration: fleet.Duration(14 * time.Second), InputRate: 10, Behaviour: "wander", Seed: 7,
		}, fleet.Output{})
		players <- result{rep, err}
	}()

	// Once everyone plays, find the busiest node and a spectators' node.
	perNode := map[string]int{}
	waitUntil(t, 20*time.Second, "30 players seated in the cluster", func() bool {
		list, err := listCluster(nodes[0].URL)
		if err != nil {
			return false
		}
		clear(perNode)
		total := 0
		for _, m := range list {
			perNode[m.Node] += m.Players
			total += m.Players
		}
		return total == 30
	})
	var busiest, quietest *clusterNode
	for _, nd := range nodes {
		if busiest == nil || perNode[nd.id] > perNode[busiest.id] {
			busiest = nd
		}
		if quietest == nil || perNode[nd.id] < perNode[quietest.id] {
			quietest = nd
		}
	}
	t.Logf("players per node: %v; killing %s", perNode, busiest.id)

	// Spectators on the quietest node watch every match, most of them
	// owned by other nodes.
	spectators := make(chan result, 1)
	go func() {
		rep, err := fleet.Run(ctx, fleet.Scenario{
			URL: "ws://" + quietest.Addr, Spectators: 10, RampUp: fleet.Duration(time.Second),
			Duration: fleet.Duration(3 * time.Second), Mix: map[string]float64{"ws": 1, "sse": 1}, Seed: 8,
		}, fleet.Output{})
		spectators <- result{rep, err}
	}()
	sp := <-spectators
	if sp.err != nil {
		t.Fatalf("spectators: %v", sp.err)
	}
	relayed := 0.0
	for _, nd := range nodes {
		if v, err := metricValue(nd.URL, "tickstream_relay_encodes_total"); err == nil {
			relayed += v
		}
	}
	t.Logf("spectators on %s: %d connected, %d events; relay encodes on the origins: %v",
		quietest.id, sp.rep.Counts.SpectatorsOK, sp.rep.Counts.SpectatorEvents, relayed)
	if sp.rep.Counts.SpectatorsOK != 10 || sp.rep.Counts.SpectatorEvents == 0 {
		t.Fatalf("spectators on %s: %+v", quietest.id, sp.rep.Counts)
	}

	killed := perNode[busiest.id]
	busiest.signal(t, syscall.SIGKILL)
	killedAt := time.Now()
	for _, nd := range nodes {
		if nd != busiest {
			waitUntil(t, 10*time.Second, nd.id+" forgets the killed node", func() bool { return peersOf(t, nd) == len(nodes)-2 })
			t.Logf("%s knew of the death %v after the kill (aim: 1.5 s)", nd.id, time.Since(killedAt).Round(time.Millisecond))
		}
	}
	pl := <-players
	if pl.err != nil {
		t.Fatalf("players: %v", pl.err)
	}
	f := pl.rep.Failover
	t.Logf("failover after kill -9 of %s (%d players): %+v", busiest.id, killed, f)
	t.Logf("disconnects: %v, errors %d", pl.rep.Counts.Disconnects, pl.rep.Counts.Errors)
	if f.Failovers != killed || f.Recovered != killed {
		t.Fatalf("%d players on the killed node: %d failed over, %d recovered", killed, f.Failovers, f.Recovered)
	}
	// Everyone is in a live match at the end, on the live nodes.
	total := 0
	for _, nd := range nodes {
		if nd == busiest {
			continue
		}
		list, err := listCluster(nd.URL)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range list {
			if m.Node == busiest.id {
				t.Fatalf("%s still lists a match of the killed node: %+v", nd.id, m)
			}
		}
	}
	list, _ := listCluster(quietest.URL)
	for _, m := range list {
		total += m.Players
	}
	t.Logf("after the kill: %d players seated in %d matches", total, len(list))
}

// The README's way of running a cluster on one machine: the first node
// runs NATS inside (-nats-embed), the others join it (-nats-url); every
// node lists every match, with its node and URL.
func TestClusterEmbeddedNATS(t *testing.T) {
	bin := serverBinary(t)
	natsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	secret := "cluster-test-secret-0123456789"
	a := &clusterNode{serverProcess: startServer(t, bin, "-node-id", "n1", "-nats-embed", natsAddr, "-resume-secret", secret, "-replay-dir="), id: "n1"}
	b := &clusterNode{serverProcess: startServer(t, bin, "-node-id", "n2", "-nats-url", "nats://"+natsAddr, "-resume-secret", secret, "-replay-dir="), id: "n2"}
	waitUntil(t, 10*time.Second, "the two nodes see each other", func() bool { return peersOf(t, a) == 1 && peersOf(t, b) == 1 })
	m, _ := joinPlayer(t, a.WSURL(), "p1")
	waitUntil(t, 5*time.Second, "n2 lists n1's match with its URL", func() bool {
		list, err := listCluster(b.URL)
		if err != nil {
			return false
		}
		for _, x := range list {
			if x.ID == m && x.Node == "n1" && x.URL == a.URL {
				return true
			}
		}
		return false
	})
}
