package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode"
	"github.com/tickstream/tickstream/netcode/nettest"
	"github.com/tickstream/tickstream/netcode/wire"
)

// clusterServer is a real server that is a node of the cluster.
type clusterServer struct {
	*nettest.Server
	node *Node
}

func startClusterServer(t *testing.T, natsURL, id string) *clusterServer {
	t.Helper()
	cs := &clusterServer{}
	cs.Server = nettest.StartServerWith(t, netcode.Config{Node: id},
		game.DirectoryConfig{Defaults: game.MatchConfig{TickRate: 20, MaxPlayers: 4, MinPlayers: 1}},
		nettest.Options{Cluster: func(dir *game.Directory, base string) (netcode.Router, netcode.Relay) {
			n, err := New(context.Background(), connect(t, natsURL), dir, Config{NodeID: id, PublicURL: base})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(n.Close)
			cs.node = n
			return n, nil
		}})
	return cs
}

// joinAt opens /play at url and sends a join; it returns the first
// message and the socket.
func joinAt(t *testing.T, url, match string) (map[string]any, *websocket.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{wire.Subprotocol}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	join, _ := msgpack.Marshal(map[string]any{"t": "join", "name": "ada", "match": match})
	if err := c.Write(ctx, websocket.MessageBinary, join); err != nil {
		t.Fatal(err)
	}
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var msg map[string]any
	if err := msgpack.Unmarshal(b, &msg); err != nil {
		t.Fatal(err)
	}
	return msg, c
}

// A join through one node for a match of another is redirected to it (the
// redirect message, then close 4015); following the redirect seats the
// player there. GET /api/matches on any node lists the whole cluster.
func TestJoinRedirectAndClusterListing(t *testing.T) {
	natsURL := startNATS(t)
	a := startClusterServer(t, natsURL, "a")
	b := startClusterServer(t, natsURL, "b")
	c := startClusterServer(t, natsURL, "c")
	waitFor(t, 5*time.Second, "the nodes see each other", func() bool {
		return len(a.node.Peers()) == 2 && len(b.node.Peers()) == 2 && len(c.node.Peers()) == 2
	})

	// A player on a: a's match, created here (all nodes empty, a first on a tie).
	msg, _ := joinAt(t, a.WSURL, "")
	if msg["t"] != "welcome" || fmt.Sprint(msg["min"]) != "1" {
		t.Fatalf("first join on a: %v", msg)
	}
	matchA := msg["match"].(string)
	waitFor(t, 5*time.Second, "b lists a's match", func() bool { _, ok := b.node.Lookup(matchA); return ok })

	// Through b, by name: redirected to a.
	msg, conn := joinAt(t, b.WSURL, matchA)
	if msg["t"] != "redirect" || msg["match"] != matchA || msg["url"] != a.WSURL {
		t.Fatalf("join through b: %v, want a redirect to %s", msg, a.WSURL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, _, err := conn.Read(ctx); websocket.CloseStatus(err) != websocket.StatusCode(wire.CloseRedirect) {
		t.Fatalf("after the redirect: %v, want close 4015", err)
	}
	// Through c, any match: the fullest open one is a's.
	msg, _ = joinAt(t, c.WSURL, "")
	if msg["t"] != "redirect" || msg["match"] != matchA || msg["url"] != a.WSURL+"?seat=local" {
		t.Fatalf("auto join through c: %v", msg)
	}
	// Following it seats the player in a's match.
	msg, _ = joinAt(t, msg["url"].(string), matchA)
	if msg["t"] != "welcome" || msg["match"] != matchA {
		t.Fatalf("after following the redirect: %v", msg)
	}

	// A match on b too; c's listing has both, each with its node and URL.
	mb, err := b.Dir.Create(game.MatchConfig{})
	if err != nil {
		t.Fatal(err)
	}
	b.node.Kick()
	waitFor(t, 5*time.Second, "c lists both matches, a's with its 2 players", func() bool {
		got := listMatches(t, c.URL)
		return len(got) == 2 && (got[0].Players == 2 || got[1].Players == 2)
	})
	for _, m := range listMatches(t, c.URL) {
		want := map[string]string{matchA: a.URL, mb.ID(): b.URL}[m.ID]
		if want == "" || m.URL != want || (m.Node != "a" && m.Node != "b") {
			t.Fatalf("c lists %+v", m)
		}
		if m.ID == matchA && m.Players != 2 {
			t.Fatalf("a's match listed with %d players, want 2", m.Players)
		}
	}
	// One match by id, from a node that does not own it.
	resp, err := http.Get(c.URL + "/api/matches/" + mb.ID())
	if err != nil {
		t.Fatal(err)
	}
	var one listed1
	_ = json.NewDecoder(resp.Body).Decode(&one)
	resp.Body.Close()
	if resp.StatusCode != 200 || one.Node != "b" || one.ID != mb.ID() {
		t.Fatalf("GET one remote match on c: %d %+v", resp.StatusCode, one)
	}
	// A page served by b, redirected to a, opens a's /play with b's
	// origin: a accepts a live peer's origin, and no other.
	for origin, want := range map[string]int{b.URL: http.StatusSwitchingProtocols, "http://127.0.0.1:1": http.StatusForbidden} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		conn, resp, err := websocket.Dial(ctx, a.WSURL, &websocket.DialOptions{
			Subprotocols: []string{wire.Subprotocol}, HTTPHeader: http.Header{"Origin": {origin}},
		})
		cancel()
		if resp == nil || resp.StatusCode != want {
			t.Fatalf("origin %s: %v %v, want status %d", origin, resp, err, want)
		}
		if conn != nil {
			_ = conn.CloseNow()
		}
	}
	// The owner lists its own match with its node too.
	for _, m := range listMatches(t, a.URL) {
		if m.ID == matchA && (m.Node != "a" || m.URL != a.URL) {
			t.Fatalf("a lists its own match as %+v", m)
		}
	}
}

type listed1 struct {
	ID      string `json:"id"`
	Node    string `json:"node"`
	URL     string `json:"url"`
	Players int    `json:"players"`
}

func listMatches(t *testing.T, base string) []listed1 {
	t.Helper()
	resp, err := http.Get(base + "/api/matches")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Matches []listed1 `json:"matches"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Matches
}
