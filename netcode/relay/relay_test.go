package relay

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode"
	"github.com/tickstream/tickstream/netcode/cluster"
	"github.com/tickstream/tickstream/netcode/stream"
	"github.com/tickstream/tickstream/netcode/wire"
)

// natsURL starts an embedded NATS server for the test.
func natsURL(t testing.TB) string {
	t.Helper()
	ns, err := cluster.Embed("127.0.0.1:0", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	return ns.ClientURL()
}

func connect(t testing.TB, url, name string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.Name(name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// fakeMatch is a match goroutine's side of a stream: it pushes ticks with
// a few moving entities, events, a roster change now and then, and the end.
type fakeMatch struct {
	id   string
	st   *stream.Stream
	tick uint64
	rng  *rand.Rand
	ents []game.Entity
}

func newFakeMatch(id string, rate int) *fakeMatch { return newFakeMatchN(id, rate, 6) }

// newFakeMatchN is newFakeMatch with n entities.
func newFakeMatchN(id string, rate, n int) *fakeMatch {
	m := &fakeMatch{id: id, rng: rand.New(rand.NewPCG(uint64(len(id)), 9)),
		st: stream.New(stream.Config{Rate: rate, Keep: 10 * time.Second, Layout: game.Layout{ViewRadius: 50}})}
	for i := range n {
		m.ents = append(m.ents, game.Entity{ID: uint32(i + 1), Kind: 1, X: float32(10 * i), Y: float32(5 * (i % 7)), HP: 100})
	}
	m.st.Watch()
	return m
}

// step pushes n ticks; the last one ends the match when end is set.
func (m *fakeMatch) step(n int, end bool) {
	for i := range n {
		m.tick++
		ents := slices.Clone(m.ents)
		for j := range ents {
			if m.rng.IntN(3) == 0 {
				ents[j].X += float32(m.rng.IntN(7) - 3)
				ents[j].Angle = float32(m.rng.Float64() * 6)
			}
		}
		m.ents = ents
		snap := &game.Snapshot{Match: m.id, Tick: m.tick, Time: time.Now(), State: game.StateRunning, Entities: ents, Left: time.Minute}
		if m.tick%7 == 0 {
			snap.Events = []game.Event{{Kind: game.EventShot, A: 1, B: 2}}
		}
		if m.tick == 1 || m.tick%40 == 0 {
			snap.Roster = []game.PlayerInfo{{ID: 1, Name: "a"}, {ID: game.PlayerID(2 + m.tick%3), Name: fmt.Sprint("b", m.tick)}}
		}
		if end && i == n-1 {
			snap.State = game.StateEnded
			snap.End = &game.Result{Reason: "time", Winner: 1, Scores: []game.Score{{Player: 1, Name: "a", Kills: 3}}}
		}
		m.st.Push(snap)
	}
}

type lookup struct {
	mu sync.Mutex
	m  map[string]*stream.Stream
}

func (l *lookup) add(m *fakeMatch) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]*stream.Stream{}
	}
	l.m[m.id] = m.st
}

func (l *lookup) get(id string) *stream.Stream {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m[id]
}

func quiet(t testing.TB) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
}

func newOrigin(t testing.TB, nc *nats.Conn, l *lookup, cfg OriginConfig) *Origin {
	t.Helper()
	o, err := NewOriginWith(nc, "A", l.get, quiet(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.Close)
	return o
}

func newEdge(t testing.TB, nc *nats.Conn, node string, cfg EdgeConfig) *Edge {
	cfg.Node = node
	cfg.Logger = quiet(t)
	e := NewEdge(nc, cfg)
	t.Cleanup(e.Close)
	return e
}

func open(t testing.TB, e *Edge, match string) (*stream.Stream, func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, release, err := e.Open(ctx, netcode.RemoteMatch{MatchInfo: game.MatchInfo{ID: match, TickRate: 20}, Node: "A"})
	if err != nil {
		t.Fatalf("open %s: %v", match, err)
	}
	return st, release
}

// waitFor polls cond every 5 ms for at most 10 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 2000; i++ {
		if cond() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func headOf(st *stream.Stream) uint64 { h, _ := st.Head(); return h }

// sameTicks checks that edge holds ticks from..to with the origin's rows,
// time (ms), state, events and roster.
func sameTicks(t testing.TB, origin, edge *stream.Stream, from, to uint64) {
	t.Helper()
	for tk := from; tk <= to; tk++ {
		os, orows, oroster, ok1 := origin.Tick(tk)
		es, erows, eroster, ok2 := edge.Tick(tk)
		if !ok1 || !ok2 {
			t.Fatalf("tick %d: held by origin %v, by edge %v", tk, ok1, ok2)
		}
		if !slices.Equal(orows, erows) {
			t.Fatalf("tick %d: rows differ", tk)
		}
		if os.Time.UnixMilli() != es.Time.UnixMilli() || os.State != es.State || len(os.Events) != len(es.Events) || !slices.Equal(oroster, eroster) {
			t.Fatalf("tick %d: origin %+v %v, edge %+v %v", tk, os, oroster, es, eroster)
		}
		if (os.End != nil) != (es.End != nil) {
			t.Fatalf("tick %d: end %v vs %v", tk, os.End, es.End)
		}
	}
}

// Encode once: the origin encodes and publishes each tick once whether one
// or three edges take the match, and every edge's stream has the origin's
// ticks.
func TestEncodeOnce(t *testing.T) {
	url := natsURL(t)
	for _, edges := range []int{1, 3} {
		t.Run(fmt.Sprint(edges, "edges"), func(t *testing.T) {
			var l lookup
			m := newFakeMatch(fmt.Sprint("m", edges), 20)
			l.add(m)
			m.step(5, false)
			o := newOrigin(t, connect(t, url, "A"), &l, OriginConfig{KeyEvery: time.Hour})
			var sts []*stream.Stream
			for i := range edges {
				e := newEdge(t, connect(t, url, fmt.Sprint("B", i)), fmt.Sprint("B", i), EdgeConfig{})
				st, release := open(t, e, m.id)
				defer release()
				sts = append(sts, st)
			}
			start := headOf(m.st)
			const n = 60
			for range n / 10 {
				m.step(10, false)
				time.Sleep(5 * time.Millisecond)
			}
			for i, st := range sts {
				waitFor(t, fmt.Sprint("edge ", i, " at the head"), func() bool { return headOf(st) == headOf(m.st) })
				sameTicks(t, m.st, st, start, headOf(m.st))
			}
			enc, pub := value(o.m.encodes), value(o.m.published)
			if enc != n || pub != n {
				t.Fatalf("%d edges: %v encodes, %v published for %d ticks; want one each", edges, enc, pub, n)
			}
			if got := value(o.m.edges); got != float64(edges) {
				t.Fatalf("edges served %v, want %d", got, edges)
			}
		})
	}
}

// A late edge starts with a keyframe of the head, then gets deltas.
func TestLateEdgeKeyframe(t *testing.T) {
	url := natsURL(t)
	var l lookup
	m := newFakeMatch("late", 20)
	l.add(m)
	m.step(3, false)
	o := newOrigin(t, connect(t, url, "A"), &l, OriginConfig{KeyEvery: time.Hour})
	e1 := newEdge(t, connect(t, url, "B"), "B", EdgeConfig{})
	st1, rel1 := open(t, e1, m.id)
	defer rel1()
	m.step(50, false)
	waitFor(t, "first edge", func() bool { return headOf(st1) == headOf(m.st) })

	e2 := newEdge(t, connect(t, url, "C"), "C", EdgeConfig{})
	head := headOf(m.st)
	st2, rel2 := open(t, e2, m.id)
	defer rel2()
	if first, _ := st2.Head(); first != head {
		t.Fatalf("late edge starts at %d, want the head %d", first, head)
	}
	if _, _, _, ok := st2.Tick(head - 1); ok {
		t.Fatal("late edge holds a tick before its keyframe")
	}
	if got := value(e2.m.received.WithLabelValues("keyframe")); got != 1 {
		t.Fatalf("late edge got %v keyframes, want 1", got)
	}
	if got := value(o.m.keyReqs.WithLabelValues("keyframe")); got != 2 {
		t.Fatalf("origin served %v keyframes, want 2 (one per edge)", got)
	}
	m.step(30, false)
	waitFor(t, "late edge at the head", func() bool { return headOf(st2) == headOf(m.st) })
	sameTicks(t, m.st, st2, head, headOf(m.st))
	if got := value(e2.m.received.WithLabelValues("delta")); got != 30 {
		t.Fatalf("late edge got %v deltas, want 30", got)
	}
	// Its spectators start with a keyframe of that tick.
	evs, _ := st2.NewCursor(wire.FormatJSON, 1, 0, 0).Step(time.Now(), nil)
	if len(evs) == 0 || evs[0].Kind != wire.SpecKeyframe {
		t.Fatalf("first spectator event %+v", evs)
	}
}

// A gapped edge (tick messages lost) asks for a catch-up and ends with
// every tick, as the origin has them; one too far behind gets a keyframe.
func TestGapResync(t *testing.T) {
	url := natsURL(t)
	var l lookup
	m := newFakeMatch("gap", 20)
	l.add(m)
	m.step(3, false)
	o := newOrigin(t, connect(t, url, "A"), &l, OriginConfig{KeyEvery: time.Hour, CatchUp: time.Second})
	e := newEdge(t, connect(t, url, "B"), "B", EdgeConfig{})
	var dropped atomic.Int64
	e.dropHook = func(_ string, tick uint64) bool {
		if tick >= 10 && tick <= 12 || tick >= 30 && tick <= 60 { // 3 ticks; then 31 (more than CatchUp's 20)
			dropped.Add(1)
			return true
		}
		return false
	}
	st, release := open(t, e, m.id)
	defer release()
	from := headOf(st)
	for range 3 { // to tick 27
		m.step(8, false)
		time.Sleep(5 * time.Millisecond)
	}
	waitFor(t, "edge at the head", func() bool { return headOf(st) == headOf(m.st) })
	// The short gap was filled by a catch-up: every tick is there.
	sameTicks(t, m.st, st, from, headOf(m.st))
	if got := value(o.m.keyReqs.WithLabelValues("catchup")); got != 1 {
		t.Fatalf("%v catch-ups served, want 1", got)
	}
	for range 5 {
		m.step(10, false)
		time.Sleep(5 * time.Millisecond)
	}
	waitFor(t, "edge at the head", func() bool { return headOf(st) == headOf(m.st) })
	if dropped.Load() != 34 {
		t.Fatalf("%d messages dropped, want 34", dropped.Load())
	}
	if got := value(e.m.resyncs); got != 2 {
		t.Fatalf("%v resyncs, want 2", got)
	}
	if got := value(o.m.keyReqs.WithLabelValues("keyframe")); got != 2 {
		t.Fatalf("%v keyframes served, want 2 (open, the long gap)", got)
	}
	// The long gap restarts the ring at a keyframe.
	for tk := uint64(30); tk <= 60; tk++ {
		if _, _, _, ok := st.Tick(tk); ok {
			t.Fatalf("tick %d held after a keyframe resync past it", tk)
		}
	}
	k := uint64(61)
	for ; k < headOf(st); k++ {
		if _, _, _, ok := st.Tick(k); ok {
			break
		}
	}
	sameTicks(t, m.st, st, k, headOf(m.st))
	if got := value(e.m.keyReqs.WithLabelValues("gap")); got != 2 {
		t.Fatalf("%v gap requests, want 2", got)
	}
}

// The end of the match reaches the edge: its stream has the result and is
// closed; after the linger the match is unknown there.
func TestMatchEndClosesEdge(t *testing.T) {
	url := natsURL(t)
	var l lookup
	m := newFakeMatch("end", 20)
	l.add(m)
	m.step(3, false)
	o := newOrigin(t, connect(t, url, "A"), &l, OriginConfig{})
	e := newEdge(t, connect(t, url, "B"), "B", EdgeConfig{Linger: 50 * time.Millisecond})
	st, release := open(t, e, m.id)
	m.step(20, true)
	m.st.Close()
	l.mu.Lock()
	delete(l.m, m.id)
	l.mu.Unlock()
	waitFor(t, "edge stream closed", func() bool { _, closed := st.Head(); return closed })
	if headOf(st) != headOf(m.st) {
		t.Fatalf("edge ends at %d, origin at %d", headOf(st), headOf(m.st))
	}
	snap, _, _, _ := st.Tick(headOf(st))
	if snap.End == nil || snap.End.Reason != "time" {
		t.Fatalf("last tick has no result: %+v", snap)
	}
	waitFor(t, "origin stops publishing", func() bool { return value(o.m.matches) == 0 })
	release()
	waitFor(t, "edge forgets the match", func() bool { return value(e.m.matches) == 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, _, err := e.Open(ctx, netcode.RemoteMatch{MatchInfo: game.MatchInfo{ID: m.id}, Node: "A"}); !errors.Is(err, ErrUnknownMatch) {
		t.Fatalf("open of the ended match: %v", err)
	}
	if _, _, err := e.Open(ctx, netcode.RemoteMatch{MatchInfo: game.MatchInfo{ID: "x"}, Node: "Z"}); !errors.Is(err, ErrUnknownMatch) {
		t.Fatalf("open on a node that is not there: %v", err)
	}
}

// Interest: the origin publishes while an edge renews its interest and
// stops once none does; a spectator coming back makes it start again.
func TestInterestExpires(t *testing.T) {
	url := natsURL(t)
	var l lookup
	m := newFakeMatch("int", 20)
	l.add(m)
	m.step(3, false)
	o := newOrigin(t, connect(t, url, "A"), &l, OriginConfig{Interest: 300 * time.Millisecond})
	e := newEdge(t, connect(t, url, "B"), "B", EdgeConfig{Interest: 50 * time.Millisecond, Linger: 20 * time.Millisecond})
	st, release := open(t, e, m.id)
	for range 10 { // 0.5 s: more than the interest lasts without renewal
		m.step(1, false)
		time.Sleep(50 * time.Millisecond)
	}
	waitFor(t, "edge at the head", func() bool { return headOf(st) == headOf(m.st) })
	if value(o.m.matches) != 1 {
		t.Fatal("origin stopped publishing while the edge was interested")
	}
	release()
	waitFor(t, "origin stops", func() bool { return value(o.m.matches) == 0 && value(o.m.edges) == 0 })
	if _, closed := st.Head(); !closed {
		t.Fatal("the edge's stream outlived its linger")
	}
	st2, release2 := open(t, e, m.id)
	defer release2()
	m.step(5, false)
	waitFor(t, "edge at the head again", func() bool { return headOf(st2) == headOf(m.st) })
}

// value is a counter's or a gauge's value.
func value(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		panic(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

// A slow edge: its feed stalls while a burst of ticks arrives, NATS drops
// what its small buffer cannot hold (a slow consumer), and the edge
// resyncs and ends with the origin's ticks.
func TestSlowEdgeResyncs(t *testing.T) {
	url := natsURL(t)
	var l lookup
	m := newFakeMatch("slow", 20)
	l.add(m)
	m.step(3, false)
	newOrigin(t, connect(t, url, "A"), &l, OriginConfig{KeyEvery: time.Hour})
	nc, err := nats.Connect(url, nats.Name("B"), nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	e := newEdge(t, nc, "B", EdgeConfig{Buffer: 4})
	stalled := make(chan struct{})
	var once sync.Once
	e.dropHook = func(_ string, tick uint64) bool {
		if tick == 5 {
			once.Do(func() { <-stalled }) // the feed goroutine stalls here
		}
		return false
	}
	st, release := open(t, e, m.id)
	defer release()
	m.step(2, false) // tick 5 reaches the hook and stalls the feed
	e.mu.Lock()
	sub := e.feeds["A."+m.id].sub
	e.mu.Unlock()
	for i := 0; i < 200; i++ { // 40 ticks at least, until NATS drops some (the buffer holds 4)
		m.step(1, false)
		if d, _ := sub.Dropped(); d > 0 && i >= 40 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if d, _ := sub.Dropped(); d == 0 {
		t.Fatal("NATS dropped nothing")
	}
	close(stalled)
	// The match is quiet: the drop is seen from the subscription's count.
	waitFor(t, "edge at the head", func() bool { return headOf(st) == headOf(m.st) })
	if got := value(e.m.resyncs); got < 1 {
		t.Fatalf("%v resyncs after dropped messages", got)
	}
	if got := value(e.m.keyReqs.WithLabelValues("stale")); got != 0 {
		t.Fatalf("%v stale requests: the drop should have been noticed first", got)
	}
	// Every tick is there: the catch-up filled the drop.
	sameTicks(t, m.st, st, 3, headOf(m.st))
	m.step(10, false)
	waitFor(t, "edge follows", func() bool { return headOf(st) == headOf(m.st) })
}

// Ids that cannot be subject tokens as they are (a node id with dots)
// are escaped, the same way on both sides.
func TestTokens(t *testing.T) {
	for _, id := range []string{"abcd1234", "node-1.example.org", "~7e", "a b", "x>y*"} {
		tok := token(id)
		if tok == "" || strings.ContainsAny(tok, ".*> ") || untoken(tok) != id {
			t.Fatalf("%q: token %q, back %q", id, tok, untoken(tok))
		}
		if got := matchOf(keySubject("n.1", id)); got != id {
			t.Fatalf("match of %q's key subject: %q", id, got)
		}
	}
	url := natsURL(t)
	var l lookup
	m := newFakeMatch("dots", 20)
	l.add(m)
	m.step(3, false)
	o, err := NewOrigin(connect(t, url, "A"), "node-a.example.org", l.get, quiet(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.Close)
	e := newEdge(t, connect(t, url, "B"), "B", EdgeConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, release, err := e.Open(ctx, netcode.RemoteMatch{MatchInfo: game.MatchInfo{ID: m.id}, Node: "node-a.example.org"})
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	m.step(5, false)
	waitFor(t, "edge at the head", func() bool { return headOf(st) == headOf(m.st) })
}
