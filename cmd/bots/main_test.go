package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode"
	"github.com/tickstream/tickstream/netcode/nettest"
)

func testServer(t *testing.T) string {
	t.Helper()
	srv := nettest.StartServer(t, netcode.Config{Logger: zerolog.Nop()}, game.DirectoryConfig{})
	return "ws://" + srv.Addr
}

// The command exits 0 when its thresholds hold and writes JSON and HTML;
// an impossible threshold makes it exit 1 naming the breach.
func TestExitCodeFollowsThresholds(t *testing.T) {
	url := testServer(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "report.json")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"-url", url, "-players", "4", "-spectators", "2", "-ramp-up", "300ms",
		"-duration", "2s", "-out", out, "-slo", "errors=0,connected>=4"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "PASS") || !strings.Contains(stdout.String(), "latency") {
		t.Fatalf("table:\n%s", stdout.String())
	}
	var rep map[string]any
	if b, err := os.ReadFile(out); err != nil || json.Unmarshal(b, &rep) != nil {
		t.Fatalf("JSON report: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "report.html")); err != nil || !bytes.Contains(b, []byte("<svg")) {
		t.Fatalf("HTML report: %v", err)
	}

	stdout.Reset()
	stderr.Reset()
	code = run(context.Background(), []string{"-url", url, "-players", "2", "-ramp-up", "100ms", "-duration", "1500ms",
		"-slo", "interarrival.p99<1us", "-out", ""}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "threshold breached: interarrival.p99") {
		t.Fatalf("impossible threshold: exit %d, stderr:\n%s", code, stderr.String())
	}
	if code := run(context.Background(), []string{"-slo", "nonsense<1"}, &stdout, &stderr); code != 2 {
		t.Fatalf("bad threshold: exit %d, want 2", code)
	}
}

// A scenario file gives the run; flags on the command line override it.
func TestScenarioFileAndOverrides(t *testing.T) {
	var stderr bytes.Buffer
	sc, _, _, err := parse([]string{"-scenario", "../../tests/scenarios/smoke.json", "-players", "7", "-url", "ws://x:1"}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Players != 7 || sc.Spectators != 50 || sc.URL != "ws://x:1" || time.Duration(sc.Duration) != 10*time.Second || sc.Mix["sse"] != 2 {
		t.Fatalf("scenario %+v", sc)
	}
	if _, _, _, err := parse([]string{"-scenario", "../../tests/scenarios/nope.json"}, &stderr); err == nil {
		t.Fatal("missing scenario file accepted")
	}
}
