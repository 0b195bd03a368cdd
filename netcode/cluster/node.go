// Package cluster runs a Tickstream server as one node of several, over
// NATS: core NATS carries the nodes' heartbeats and their requests to each
// other, and a JetStream key-value bucket is the match directory (match →
// owner node, incarnation, URL, players, state), written only by each
// match's owner with compare-and-set and expiring by the bucket's TTL.
//
// A Node implements netcode.Router: it routes a join to the match's owner
// (a redirect) from what it already knows — the join path never waits on a
// KV write. What a node knows:
//
//   - peers: the live nodes, from their heartbeats (every Heartbeat, dead
//     after Misses missed ones). A request to a peer that gets "no
//     responders" declares it dead at once. A heartbeat of an older
//     incarnation than one already seen is ignored.
//   - the directory: the bucket's entries, kept by a watcher and re-listed
//     every Relist (a watcher can miss an entry's expiry entirely). An entry
//     is listed only while its owner is a live peer of the same
//     incarnation, so a dead node's matches leave every listing as soon as
//     its heartbeats stop.
//
// Fencing: a node writes its matches' entries with Update at the revision
// it last wrote (Create for a new one), so a write of a stale incarnation
// fails. A node holds a lease on each of its matches that lasts TTL from its
// last successful write; when it lapses (the node was paused, or cut from
// NATS) the node stops accepting players in the match and closes it. It
// never re-creates an entry after its lease lapsed, so a paused node that
// wakes up resurrects nothing; a restarted node has a new incarnation and
// owns none of its predecessor's matches.
package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/tickstream/tickstream/game"
)

// Local is what a node needs of its own match directory (game.Directory).
type Local interface {
	List() []game.MatchInfo
	Get(id string) *game.Match
}

// Config configures a Node. Zero fields take the documented default.
type Config struct {
	// NodeID names the node (letters, digits, '-', '_'); empty means the
	// host name.
	NodeID string
	// PublicURL is the node's base URL as clients reach it
	// (http://host:port or https://…); required. Joins are redirected to
	// its /play (ws:// or wss://).
	PublicURL string
	// Incarnation tells this run of the node from earlier ones; zero means
	// the start time in nanoseconds (a restart always has a larger one).
	Incarnation uint64
	// Heartbeat is the interval of heartbeats; zero means 500 ms. A peer is
	// dead after Misses intervals without one; zero means 3.
	Heartbeat time.Duration
	Misses    int
	// TTL is the directory bucket's TTL and the lease of a match; zero
	// means 3 s. Entries are renewed every TTL/3.
	TTL time.Duration
	// Relist is the interval of full re-reads of the directory; zero means
	// 3 s.
	Relist time.Duration
	// MaxMatches is this node's match capacity (as in -max-matches); zero
	// means 1000.
	MaxMatches int
	// Bucket is the KV bucket; empty means "tickstream_matches". Subject
	// prefixes core NATS subjects; empty means "tickstream".
	Bucket  string
	Subject string
	// Spectators reports a local match's spectators and broadcast delay
	// for its directory entry; nil reports none.
	Spectators func(match string) (int64, time.Duration)
	// Logger is the parent logger; the zero value logs nothing.
	Logger zerolog.Logger
}

func (c Config) withDefaults() (Config, error) {
	if c.NodeID == "" {
		h, err := os.Hostname()
		if err != nil {
			return c, fmt.Errorf("node id: %w", err)
		}
		c.NodeID = h
	}
	for _, r := range c.NodeID {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return c, fmt.Errorf("node id %q: only letters, digits, '-' and '_'", c.NodeID)
		}
	}
	if len(c.NodeID) > 64 {
		return c, fmt.Errorf("node id %q: longer than 64", c.NodeID)
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "ws" && u.Scheme != "wss") {
		return c, fmt.Errorf("public url %q: want http://host:port", c.PublicURL)
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	}
	u.Path, u.RawQuery, u.Fragment = strings.TrimSuffix(u.Path, "/"), "", ""
	c.PublicURL = u.String()
	if c.Incarnation == 0 {
		c.Incarnation = uint64(time.Now().UnixNano())
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 500 * time.Millisecond
	}
	if c.Misses <= 0 {
		c.Misses = 3
	}
	if c.TTL <= 0 {
		c.TTL = 3 * time.Second
	}
	if c.TTL < time.Second {
		return c, fmt.Errorf("directory ttl %v: at least 1 s", c.TTL)
	}
	if c.Relist <= 0 {
		c.Relist = 3 * time.Second
	}
	if c.MaxMatches <= 0 {
		c.MaxMatches = 1000
	}
	if c.Bucket == "" {
		c.Bucket = "tickstream_matches"
	}
	if c.Subject == "" {
		c.Subject = "tickstream"
	}
	return c, nil
}

// beat is a heartbeat, and the answer to a ping request.
type beat struct {
	ID         string `json:"id"`
	Inc        uint64 `json:"inc"`
	URL        string `json:"url"`
	Players    int    `json:"players"`
	Matches    int    `json:"matches"`
	MaxMatches int    `json:"max_matches"`
	Draining   bool   `json:"draining,omitempty"`
	Leaving    bool   `json:"leaving,omitempty"` // the node is stopping: forget it now
}

// deadPeer is a peer declared dead: remembered for a while, so that its
// cached entries are dropped if it comes back (it was paused).
type deadPeer struct {
	inc uint64
	at  time.Time
}

type peer struct {
	beat
	seen time.Time
}

// Node is one server's membership of the cluster. Start it with New; Close
// it when the server stops.
type Node struct {
	cfg   Config
	nc    *nats.Conn
	kv    jetstream.KeyValue
	local Local
	log   zerolog.Logger
	m     *metrics

	mu       sync.Mutex
	peers    map[string]*peer    // other live nodes, by id
	dead     map[string]deadPeer // peers declared dead, by id
	entries  map[string]entry    // the directory as last read, by match id
	leases   map[string]*lease   // this node's matches, by id
	draining bool
	paused   bool // tests: behave as a stopped process (no beats, no writes)
	noWatch  bool // tests: no watcher, no periodic re-list

	kick   chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed sync.Once
}

// New joins the cluster on nc (creating the directory bucket if it does not
// exist) and starts the node's goroutines: heartbeats, the peers' sweep,
// the directory's watcher and re-list, and the renewal of its matches'
// entries. The caller keeps nc and closes it after Close.
func New(ctx context.Context, nc *nats.Conn, local Local, cfg Config) (*Node, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      cfg.Bucket,
		Description: "Tickstream match directory: match → owner node",
		History:     1,
		TTL:         cfg.TTL,
		Storage:     jetstream.MemoryStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("directory bucket %q: %w", cfg.Bucket, err)
	}
	n := &Node{
		cfg: cfg, nc: nc, kv: kv, local: local,
		log:     cfg.Logger.With().Str("node", cfg.NodeID).Logger(),
		m:       newMetrics(),
		peers:   make(map[string]*peer),
		dead:    make(map[string]deadPeer),
		entries: make(map[string]entry),
		leases:  make(map[string]*lease),
		kick:    make(chan struct{}, 1),
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	subs := []struct {
		subj string
		fn   nats.MsgHandler
	}{
		{n.beatSubject(), n.onBeat},
		{n.pingSubject(cfg.NodeID), n.onPing},
	}
	for _, s := range subs {
		sub, err := nc.Subscribe(s.subj, s.fn)
		if err != nil {
			n.cancel()
			return nil, fmt.Errorf("subscribe %s: %w", s.subj, err)
		}
		go func() { <-n.ctx.Done(); _ = sub.Unsubscribe() }()
	}
	n.relist(ctx)
	n.publishBeat()
	n.wg.Add(3)
	go n.beatLoop()
	go n.watchLoop()
	go n.renewLoop()
	n.log.Info().Uint64("incarnation", cfg.Incarnation).Str("url", cfg.PublicURL).Msg("joined the cluster")
	return n, nil
}

// ID is the node's id; URL its public base URL.
func (n *Node) ID() string  { return n.cfg.NodeID }
func (n *Node) URL() string { return n.cfg.PublicURL }

// Incarnation is this run's incarnation.
func (n *Node) Incarnation() uint64 { return n.cfg.Incarnation }

// Collectors are the node's metrics, for the server's registry.
func (n *Node) Collectors() []prometheus.Collector {
	return n.m.collectors(n)
}

// Kick asks for an early renewal: a match was created, and its entry
// should reach the directory now rather than at the next renewal.
func (n *Node) Kick() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// SetDraining marks the node as draining in its heartbeats: peers stop
// sending it new joins.
func (n *Node) SetDraining(on bool) {
	n.mu.Lock()
	n.draining = on
	n.mu.Unlock()
	n.publishBeat()
}

// Close leaves the cluster: a last heartbeat says so (peers forget the node
// at once), the node's entries are deleted, and its goroutines stop.
func (n *Node) Close() {
	n.closed.Do(func() {
		n.cancel()
		n.wg.Wait()
		n.mu.Lock()
		paused := n.paused
		n.mu.Unlock()
		if paused {
			return
		}
		b := n.ownBeat()
		b.Leaving = true
		if data, err := json.Marshal(b); err == nil {
			_ = n.nc.Publish(n.beatSubject(), data)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n.mu.Lock()
		leases := make(map[string]uint64, len(n.leases))
		for id, l := range n.leases {
			if !l.fenced {
				leases[id] = l.rev
			}
		}
		n.mu.Unlock()
		for id, rev := range leases {
			_ = n.kv.Delete(ctx, id, jetstream.LastRevision(rev))
		}
		_ = n.nc.Flush()
		n.log.Info().Msg("left the cluster")
	})
}

func (n *Node) beatSubject() string          { return n.cfg.Subject + ".nodes.heartbeat" }
func (n *Node) pingSubject(id string) string { return n.cfg.Subject + ".node." + id + ".ping" }

// deadAfter is how long a peer may stay silent.
func (n *Node) deadAfter() time.Duration { return time.Duration(n.cfg.Misses) * n.cfg.Heartbeat }

func (n *Node) ownBeat() beat {
	players, matches := 0, 0
	for _, i := range n.local.List() {
		matches++
		players += i.Players
	}
	n.mu.Lock()
	draining := n.draining
	n.mu.Unlock()
	return beat{
		ID: n.cfg.NodeID, Inc: n.cfg.Incarnation, URL: n.cfg.PublicURL,
		Players: players, Matches: matches, MaxMatches: n.cfg.MaxMatches, Draining: draining,
	}
}

// beatData is this node's heartbeat, encoded; nil while paused (tests).
func (n *Node) beatData() []byte {
	if n.isPaused() {
		return nil
	}
	data, err := json.Marshal(n.ownBeat())
	if err != nil {
		return nil
	}
	return data
}

func (n *Node) publishBeat() {
	data := n.beatData()
	if data == nil {
		return
	}
	if err := n.nc.Publish(n.beatSubject(), data); err != nil {
		n.log.Debug().Err(err).Msg("heartbeat not published")
	}
}

// beatLoop publishes heartbeats and sweeps silent peers.
func (n *Node) beatLoop() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.Heartbeat)
	defer t.Stop()
	sweep := time.NewTicker(n.cfg.Heartbeat / 5)
	defer sweep.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
			n.publishBeat()
		case <-sweep.C:
			n.sweep(time.Now())
		}
	}
}

// sweep forgets the peers silent for longer than deadAfter.
func (n *Node) sweep(now time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for id, d := range n.dead {
		if now.Sub(d.at) > 10*n.cfg.TTL {
			delete(n.dead, id) // its entries have long expired
		}
	}
	for id, p := range n.peers {
		if now.Sub(p.seen) > n.deadAfter() {
			delete(n.peers, id)
			n.dead[id] = deadPeer{inc: p.Inc, at: now}
			n.m.deaths.WithLabelValues("silent").Inc()
			n.log.Info().Str("peer", id).Msg("peer dead: heartbeats stopped")
		}
	}
}

func (n *Node) onBeat(msg *nats.Msg) {
	var b beat
	if err := json.Unmarshal(msg.Data, &b); err != nil || b.ID == "" {
		n.m.badBeats.Inc()
		return
	}
	if b.ID == n.cfg.NodeID {
		if b.Inc != n.cfg.Incarnation {
			n.m.badBeats.Inc() // another process with our id
		}
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.paused {
		return
	}
	p, known := n.peers[b.ID]
	switch {
	case known && b.Inc < p.Inc:
		n.m.badBeats.Inc() // an older incarnation: stale
		return
	case b.Leaving:
		if known && b.Inc == p.Inc {
			delete(n.peers, b.ID)
			n.m.deaths.WithLabelValues("left").Inc()
			n.log.Info().Str("peer", b.ID).Msg("peer left")
		}
		return
	}
	if d, ok := n.dead[b.ID]; ok {
		// Back from the dead (it was paused, or cut off): the entries it
		// wrote before are stale — it fences those matches when it wakes
		// — and the bucket may have expired them without the watcher
		// hearing of it. Its live ones come back with its next renewal.
		delete(n.dead, b.ID)
		if d.inc == b.Inc {
			for id, e := range n.entries {
				if e.Node == b.ID {
					delete(n.entries, id)
				}
			}
		}
	}
	if !known || b.Inc > p.Inc {
		n.log.Info().Str("peer", b.ID).Uint64("incarnation", b.Inc).Str("url", b.URL).Msg("peer joined")
	}
	n.peers[b.ID] = &peer{beat: b, seen: time.Now()}
}

func (n *Node) onPing(msg *nats.Msg) {
	if data := n.beatData(); data != nil {
		_ = msg.Respond(data)
	}
}

// confirm asks a peer whether it is alive before a join is sent to it.
// "No responders" means its process is gone: it is forgotten at once. A
// timeout is a suspect peer: not used this time, not forgotten.
func (n *Node) confirm(ctx context.Context, p *peer) bool {
	ctx, cancel := context.WithTimeout(ctx, 250*time.Millisecond)
	defer cancel()
	reply, err := n.nc.RequestWithContext(ctx, n.pingSubject(p.ID), nil)
	if err == nil {
		var b beat
		if json.Unmarshal(reply.Data, &b) == nil && b.Inc == p.Inc {
			return true
		}
		err = fmt.Errorf("incarnation %d answered, %d expected", b.Inc, p.Inc)
	}
	if errors.Is(err, nats.ErrNoResponders) {
		n.mu.Lock()
		if q, ok := n.peers[p.ID]; ok && q.Inc == p.Inc {
			delete(n.peers, p.ID)
			n.dead[p.ID] = deadPeer{inc: p.Inc, at: time.Now()}
			n.m.deaths.WithLabelValues("no_responders").Inc()
			n.log.Info().Str("peer", p.ID).Msg("peer dead: no responders")
		}
		n.mu.Unlock()
		return false
	}
	n.log.Debug().Err(err).Str("peer", p.ID).Msg("peer did not confirm")
	return false
}

// livePeers returns copies of the live peers.
func (n *Node) livePeers() []peer {
	now := time.Now()
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]peer, 0, len(n.peers))
	for _, p := range n.peers {
		if now.Sub(p.seen) <= n.deadAfter() {
			out = append(out, *p)
		}
	}
	return out
}

// Peers lists the ids of the live peers.
func (n *Node) Peers() []string {
	ps := n.livePeers()
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}

// pause and unpause make the node behave as a stopped process and a woken
// one (SIGSTOP, SIGCONT): no heartbeats, no answers, no writes, no reads.
func (n *Node) pause(on bool) {
	n.mu.Lock()
	n.paused = on
	n.mu.Unlock()
	if !on {
		n.Kick()
	}
}

// wsURL turns a public base URL into its /play WebSocket URL.
func wsURL(base string) string {
	switch {
	case strings.HasPrefix(base, "https://"):
		return "wss://" + strings.TrimPrefix(base, "https://") + "/play"
	case strings.HasPrefix(base, "http://"):
		return "ws://" + strings.TrimPrefix(base, "http://") + "/play"
	}
	return base + "/play"
}
