package fleet_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tickstream/tickstream/cmd/bots/fleet"
	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode"
	"github.com/tickstream/tickstream/netcode/nettest"
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
