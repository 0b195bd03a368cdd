package fleet_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tickstream/tickstream/cmd/bots/fleet"
	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode"
	"github.com/tickstream/tickstream/netcode/nettest"
	"github.com/tickstream/tickstream/netcode/replay"
	"github.com/tickstream/tickstream/tests/faultproxy"
)

// server starts an in-process Tickstream server on loopback.
func server(t *testing.T) string {
	t.Helper()
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.ErrorLevel)
	return nettest.StartServer(t, netcode.Config{Logger: log}, game.DirectoryConfig{}).Addr
}

func run(t *testing.T, sc fleet.Scenario) *fleet.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := fleet.Run(ctx, sc, fleet.Output{})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func dist(r *fleet.Report, name string) fleet.Dist {
	for _, d := range r.Latencies {
		if d.Name == name {
			return d
		}
	}
	return fleet.Dist{}
}

// A short scenario against a healthy server passes its thresholds, and
// every measure has samples.
func TestShortScenarioPasses(t *testing.T) {
	addr := server(t)
	rep := run(t, fleet.Scenario{
		URL: "ws://" + addr, Players: 20, Spectators: 6, Mix: map[string]float64{"ws": 1, "sse": 1, "poll": 1},
		RampUp: fleet.Duration(time.Second), Duration: fleet.Duration(3 * time.Second), Behaviour: "chase",
		SLO: "errors=0,connected>=20,spectators_ok>=6,rtt.count>0,ack.count>0,interarrival.count>0,delivery.count>0,spectator_delay.count>0",
	})
	if len(rep.Breaches) != 0 {
		t.Fatalf("breaches: %v", rep.Breaches)
	}
	if rep.TickRate != 30 || rep.Counts.Snapshots == 0 || rep.Counts.Inputs == 0 || rep.Bytes.PerPlayer == 0 || rep.Bytes.PerSpectator == 0 {
		t.Fatalf("report: %+v", rep.Counts)
	}
	if len(rep.Series) < 3 || rep.Server == nil || rep.Server.CPUPerSnapshotUS <= 0 {
		t.Fatalf("series %d samples, server %+v", len(rep.Series), rep.Server)
	}
}

// An impossible threshold fails, naming itself.
func TestImpossibleThresholdBreaches(t *testing.T) {
	addr := server(t)
	rep := run(t, fleet.Scenario{
		URL: "ws://" + addr, Players: 3, RampUp: fleet.Duration(200 * time.Millisecond),
		Duration: fleet.Duration(2 * time.Second), SLO: "rtt.p99<1us,errors=0",
	})
	if len(rep.Breaches) != 1 || !strings.Contains(rep.Breaches[0], "rtt.p99") {
		t.Fatalf("breaches %v, want one naming rtt.p99", rep.Breaches)
	}
}

// Ground truth: 25 ms of added latency each way (a fault proxy) moves the
// measured RTT up by 50 ms.
func TestRTTMatchesInjectedLatency(t *testing.T) {
	addr := server(t)
	p, err := faultproxy.New(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.SetLatency(25 * time.Millisecond)
	sc := fleet.Scenario{Players: 4, RampUp: fleet.Duration(200 * time.Millisecond), Duration: fleet.Duration(4 * time.Second), Behaviour: "idle"}
	sc.URL = "ws://" + addr
	direct := dist(run(t, sc), "rtt")
	sc.URL = "ws://" + p.Addr()
	delayed := dist(run(t, sc), "rtt")
	moved := delayed.P50 - direct.P50
	t.Logf("rtt p50 direct %.2f ms, through the proxy %.2f ms: +%.2f ms", direct.P50, delayed.P50, moved)
	if direct.Count == 0 || delayed.Count == 0 || moved < 45 || moved > 65 {
		t.Fatalf("rtt moved by %.2f ms (direct %+v, delayed %+v), want about 50", moved, direct, delayed)
	}
}

// Replay spectators: a first run plays a match; its players leave, the
// emptied match closes and its replay is listed. A second run's spectators
// (-spectate-replays, at 8×, over all three transports) pick it from GET
// /api/replays and receive its events; a replay played to its end starts
// again (replay_end), which is not an error.
func TestReplaySpectators(t *testing.T) {
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.ErrorLevel)
	srv := nettest.StartServer(t, netcode.Config{Logger: log, Replays: replay.Config{Dir: t.TempDir()}},
		game.DirectoryConfig{Defaults: game.MatchConfig{EmptyTimeout: 200 * time.Millisecond, Grace: 100 * time.Millisecond}})
	base := "http://" + srv.Addr

	played := run(t, fleet.Scenario{
		URL: "ws://" + srv.Addr, Players: 2, Spread: "per-match:2",
		RampUp: fleet.Duration(200 * time.Millisecond), Duration: fleet.Duration(2 * time.Second),
	})
	if played.Counts.Connected != 2 || played.Counts.Snapshots == 0 {
		t.Fatalf("the first run did not play: %+v", played.Counts)
	}
	var replays []struct {
		ID        string `json:"id"`
		FirstTick uint64 `json:"first_tick"`
		LastTick  uint64 `json:"last_tick"`
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for len(replays) == 0 {
		if ctx.Err() != nil {
			t.Fatal("no replay listed within 30 s of the match's end")
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/replays", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&replays)
			resp.Body.Close()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("replays: %+v", replays)

	rep := run(t, fleet.Scenario{
		URL: "ws://" + srv.Addr, Spectators: 6, Mix: map[string]float64{"ws": 1, "sse": 1, "poll": 1},
		SpectateReplays: true, ReplaySpeed: 8,
		RampUp: fleet.Duration(300 * time.Millisecond), Duration: fleet.Duration(2 * time.Second),
		SLO: "errors=0,spectators_ok>=6",
	})
	c := rep.Counts
	t.Logf("replay spectators: %+v", c)
	if len(rep.Breaches) != 0 {
		t.Fatalf("breaches: %v (counts %+v)", rep.Breaches, c)
	}
	// Every tick of a 2 s match at 8× takes about 0.3 s: in 2.3 s each
	// spectator gets at least one replay's worth of events.
	ticks := int64(replays[0].LastTick - replays[0].FirstTick + 1)
	if c.SpectatorEvents < 6*ticks || c.Disconnects["replay_end"] < 6 {
		t.Fatalf("%d replay events (the replay has %d ticks) and %d replays played out by 6 spectators; want each to have played it at least once",
			c.SpectatorEvents, ticks, c.Disconnects["replay_end"])
	}
	if d := dist(rep, "spectator_delay"); d.Count != 0 {
		t.Errorf("spectator delay measured on replays (%d samples): their times are the match's", d.Count)
	}
}

// toA redirects every join that did not come through a redirect to A's
// /play?seat=local while A is up; then it seats joins on its own node.
type toA struct {
	url string
	up  atomic.Bool
}

func (r *toA) Route(_ context.Context, _ string, local bool) (*netcode.Redirect, error) {
	if local || !r.up.Load() {
		return nil, nil
	}
	return &netcode.Redirect{URL: r.url, Node: "a"}, nil
}
func (r *toA) Remote() []netcode.RemoteMatch             { return nil }
func (r *toA) Lookup(string) (netcode.RemoteMatch, bool) { return netcode.RemoteMatch{}, false }

// Failover: the fleet's entry nodes are A and B; B redirects joins to A,
// so every bot plays on A (half of them through a redirect). A then dies
// hard (listener and connections cut, no drain): each bot fails to resume
// there, joins anew through the entry nodes, and plays in a match on B.
// The report counts one failover per player, each recovered (a snapshot
// of the new match), and the redirects followed.
func TestFailoverWhenNodeDies(t *testing.T) {
	const players = 4
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.ErrorLevel)
	dcfg := game.DirectoryConfig{Defaults: game.MatchConfig{MinPlayers: 1}}
	var lnA *nettest.KillableListener
	a := nettest.StartServerWith(t, netcode.Config{Logger: log}, dcfg, nettest.Options{
		Listener: func(l net.Listener) net.Listener { lnA = &nettest.KillableListener{Listener: l}; return lnA },
	})
	rt := &toA{url: a.WSURL + "?seat=local"}
	rt.up.Store(true)
	b := nettest.StartServer(t, netcode.Config{Logger: log, Router: rt}, dcfg)
	seated := func(s *nettest.Server) int {
		n := 0
		for _, m := range s.Dir.List() {
			n += m.Players - m.Disconnected
		}
		return n
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan *fleet.Report, 1)
	go func() {
		rep, err := fleet.Run(ctx, fleet.Scenario{
			URL: "ws://" + a.Addr + ", ws://" + b.Addr, Players: players, Behaviour: "wander",
			RampUp: fleet.Duration(200 * time.Millisecond), Duration: fleet.Duration(9 * time.Second),
		}, fleet.Output{})
		if err != nil {
			t.Error(err)
		}
		done <- rep
	}()
	for seated(a) < players {
		if ctx.Err() != nil {
			t.Fatalf("%d players on A, want %d", seated(a), players)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := seated(b); n != 0 {
		t.Fatalf("%d players on B before the failover", n)
	}
	rt.up.Store(false)
	lnA.Kill()
	for seated(b) < players {
		if ctx.Err() != nil {
			t.Fatalf("%d players on B after A died, want %d", seated(b), players)
		}
		time.Sleep(20 * time.Millisecond)
	}
	rep := <-done
	if rep == nil {
		t.FailNow()
	}
	fo := rep.Failover
	t.Logf("failover: %+v; disconnects %v", fo, rep.Counts.Disconnects)
	if fo.Failovers != players || fo.Recovered != players || fo.Redirects != players/2 || fo.P50 <= 0 || fo.Max < fo.P50 {
		t.Fatalf("failover report %+v, want %d failovers, all recovered, %d redirects", fo, players, players/2)
	}
	if rep.Counts.Disconnects["failover_unreachable"] != players || rep.Counts.Errors != 0 {
		t.Fatalf("disconnects %v, errors %d; want %d failover_unreachable, no errors", rep.Counts.Disconnects, rep.Counts.Errors, players)
	}
	var tb strings.Builder
	rep.WriteTable(&tb)
	if !strings.Contains(tb.String(), fmt.Sprintf("%d failovers, %d recovered; socket error to first snapshot p50", players, players)) {
		t.Fatalf("the table does not report the failovers:\n%s", tb.String())
	}
}
