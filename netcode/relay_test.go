package netcode_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode"
	"github.com/tickstream/tickstream/netcode/cluster"
	"github.com/tickstream/tickstream/netcode/relay"
	"github.com/tickstream/tickstream/netcode/wire"
)

// oneMatchRouter is a cluster of one other node owning one match.
type oneMatchRouter struct{ rm netcode.RemoteMatch }

func (r oneMatchRouter) Route(context.Context, string, bool) (*netcode.Redirect, error) {
	return nil, nil
}
func (r oneMatchRouter) Remote() []netcode.RemoteMatch { return []netcode.RemoteMatch{r.rm} }
func (r oneMatchRouter) Lookup(id string) (netcode.RemoteMatch, bool) {
	return r.rm, id == r.rm.ID
}

// A spectator on server B of a match on server A, through the relay over
// NATS: SSE from B starts with a keyframe, resumes with Last-Event-ID
// against B's ring without a gap or a duplicate, and the state rebuilt
// from B's deltas equals a keyframe of the same tick from A.
func TestRelaySSEAcrossNodes(t *testing.T) {
	ctx := testCtx(t, 60*time.Second)
	ns, err := cluster.Embed("127.0.0.1:0", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	conn := func(name string) *nats.Conn {
		nc, err := nats.Connect(ns.ClientURL(), nats.Name(name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)

	a := newTestServer(t, netcode.Config{Node: "A"})
	m := a.postMatch(t, `{"min_players": 1}`)
	a.movers(t, ctx, m.ID, 2)
	origin, err := relay.NewOrigin(conn("A"), "A", a.MatchStream, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(origin.Close)
	if err := a.Register(origin.Collectors()...); err != nil {
		t.Fatal(err)
	}

	edge := relay.NewEdge(conn("B"), relay.EdgeConfig{Node: "B", Logger: log})
	t.Cleanup(edge.Close)
	rm := netcode.RemoteMatch{MatchInfo: game.MatchInfo{ID: m.ID, TickRate: m.Rate}, Node: "A", URL: a.http.URL}
	b := newTestServer(t, netcode.Config{Node: "B", Router: oneMatchRouter{rm}, Relay: edge})
	if err := b.Register(edge.Collectors()...); err != nil {
		t.Fatal(err)
	}

	seen := map[uint64]int{}
	var st specState
	sctx, cancel := context.WithCancel(ctx)
	r, _ := b.sseStream(t, sctx, m.ID, "", "")
	for i := 0; i < 30; i++ {
		ev, d := readSpec(t, r)
		if i == 0 && ev.Event != wire.SpecKeyframe {
			t.Fatalf("first event on B %q, want a keyframe", ev.Event)
		}
		if ev.Event == wire.SpecDelta || ev.Event == wire.SpecKeyframe {
			if strconv.FormatUint(d.Tick, 10) != ev.ID {
				t.Fatalf("event id %q for tick %d", ev.ID, d.Tick)
			}
			seen[d.Tick]++
			st.apply(t, ev.Event, d)
		}
	}
	last := r.LastEventID()
	cancel()
	time.Sleep(300 * time.Millisecond) // ticks go on while the spectator is away

	r2, _ := b.sseStream(t, ctx, m.ID, "", last)
	for i := 0; i < 30; i++ {
		ev, d := readSpec(t, r2)
		if i == 0 && ev.Event != wire.SpecDelta {
			t.Fatalf("first event after resume on B %q, want a delta (no gap)", ev.Event)
		}
		if ev.Event == wire.SpecDelta || ev.Event == wire.SpecKeyframe {
			seen[d.Tick]++
			st.apply(t, ev.Event, d)
		}
	}
	var first uint64
	for k := range seen {
		if first == 0 || k < first {
			first = k
		}
	}
	for tick := first; tick <= st.tick; tick++ {
		if seen[tick] != 1 {
			t.Fatalf("tick %d seen %d times on B (ticks %d…%d)", tick, seen[tick], first, st.tick)
		}
	}
	// B's state equals A's keyframe of the same tick.
	r3, _ := a.sseStream(t, ctx, m.ID, "", "")
	ev, key := readSpec(t, r3)
	if ev.Event != wire.SpecKeyframe {
		t.Fatalf("A's stream starts with %q", ev.Event)
	}
	for i := 0; st.tick < key.Tick && i < 1000; i++ {
		ev, d := readSpec(t, r2)
		st.apply(t, ev.Event, d)
	}
	var fresh specState
	fresh.apply(t, ev.Event, key)
	if st.tick != key.Tick || !slices.Equal(st.ents, fresh.ents) {
		t.Fatalf("B's state at tick %d differs from A's keyframe of tick %d:\n%v\n%v", st.tick, key.Tick, st.ents, fresh.ents)
	}
}
