//go:build load

package tests

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tickstream/tickstream/cmd/bots/fleet"
	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode"
	"github.com/tickstream/tickstream/netcode/nettest"
)

// The committed smoke scenario (200 players, 50 spectators over the three
// transports, 10 s) against an in-process server passes its thresholds.
func TestLoadBotsSmokeScenario(t *testing.T) {
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.ErrorLevel)
	srv := nettest.StartServer(t, netcode.Config{Logger: log}, game.DirectoryConfig{})

	b, err := os.ReadFile(moduleRoot(t) + "/tests/scenarios/smoke.json")
	if err != nil {
		t.Fatal(err)
	}
	var sc fleet.Scenario
	if err := json.Unmarshal(b, &sc); err != nil {
		t.Fatal(err)
	}
	sc.URL = "ws://" + srv.Addr
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := fleet.Run(ctx, sc, fleet.Output{})
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	rep.WriteTable(&table)
	t.Log("\n" + table.String())
	if rep.Counts.Snapshots == 0 {
		t.Fatal("no snapshot reached the bots")
	}
	loadCheck(t, len(rep.Breaches) == 0, "thresholds breached: %v", rep.Breaches)
	if dir := os.Getenv("TEST_ARTIFACTS"); dir != "" {
		f, err := os.Create(dir + "/bots-smoke.html")
		if err == nil {
			rep.WriteHTML(f)
			f.Close()
		}
	}
}
