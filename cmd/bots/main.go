// Command bots load-tests a Tickstream server: thousands of player and
// spectator bots, a live progress line, a report (table on stdout, JSON
// in -out (report.json), self-contained HTML beside it or in -html), and thresholds (-slo) that
// decide the exit code: 0 pass, 1 a threshold was breached, 2 the run
// could not happen.
//
//	go run ./cmd/bots -url ws://127.0.0.1:8080 -players 2000 -spectators 500 -duration 60s -out report.json
//	go run ./cmd/bots -url ws://10.0.0.1:8080,ws://10.0.0.2:8080 -players 2000   # a cluster's entry nodes
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/tickstream/tickstream/cmd/bots/fleet"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	sc, out, htmlPath, err := parse(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "bots:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	progress := fleet.Output{Progress: stderr}
	if f, ok := stderr.(*os.File); ok {
		progress.Terminal = isatty.IsTerminal(f.Fd())
	}
	rep, err := fleet.Run(ctx, sc, progress)
	if err != nil {
		fmt.Fprintln(stderr, "bots:", err)
		return 2
	}
	rep.WriteTable(stdout)
	if out != "" {
		if err := writeFile(out, rep.WriteJSON); err != nil {
			fmt.Fprintln(stderr, "bots:", err)
			return 2
		}
		if htmlPath == "" {
			htmlPath = strings.TrimSuffix(out, ".json") + ".html"
		}
	}
	if htmlPath != "" {
		if err := writeFile(htmlPath, rep.WriteHTML); err != nil {
			fmt.Fprintln(stderr, "bots:", err)
			return 2
		}
		fmt.Fprintln(stderr, "report:", htmlPath)
	}
	if len(rep.Breaches) > 0 {
		for _, b := range rep.Breaches {
			fmt.Fprintln(stderr, "bots: threshold breached:", b)
		}
		return 1
	}
	return 0
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// parse reads the scenario file (if any), then the flags given on the
// command line on top of it.
func parse(args []string, stderr io.Writer) (fleet.Scenario, string, string, error) {
	var (
		sc                   fleet.Scenario
		file, out, html, mix string
		rampUp, duration     time.Duration
	)
	fs := flag.NewFlagSet("bots", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&file, "scenario", "", "scenario file (JSON); flags given as well override it")
	fs.StringVar(&sc.URL, "url", "ws://127.0.0.1:8080", "server base URL (ws:// or wss://), or a comma-separated list of a cluster's entry nodes: "+
		"each bot joins through one, round-robin, and follows redirects; one whose node dies (no connection for 2 s, resume refused, match gone, node shutting down) "+
		"joins anew through the entry nodes in turn, with backoff (100 ms…2 s, full jitter, 10 attempts); the report counts failovers and their time. "+
		"The API (per-match spread, spectators, /metrics) uses the first")
	fs.IntVar(&sc.Players, "players", 10, "player bots")
	fs.IntVar(&sc.Spectators, "spectators", 0, "spectator bots")
	fs.StringVar(&mix, "mix", "sse=1", "spectator transports as weights, e.g. ws=1,sse=2,poll=1")
	fs.StringVar(&sc.Spread, "spread", "auto", "auto, match:<id> or per-match:<N>")
	fs.IntVar(&sc.TickRate, "tick-rate", 0, "tick rate of the matches the bots create (per-match); 0: server default")
	fs.IntVar(&sc.Every, "every", 1, "players ask for a snapshot every N ticks only (join's every, 1…60)")
	fs.DurationVar(&rampUp, "ramp-up", 5*time.Second, "connect everyone over this long")
	fs.DurationVar(&duration, "duration", 30*time.Second, "measured run after the ramp-up")
	fs.Float64Var(&sc.InputRate, "input-rate", 10, "inputs per second per player")
	fs.StringVar(&sc.Behaviour, "behaviour", "wander", "idle, wander, chase or chaos")
	fs.Float64Var(&sc.DropRate, "drop-rate", 0.05, "chaos: link drops per second per player (resumed)")
	fs.Float64Var(&sc.GarbageRate, "garbage-rate", 0.01, "chaos: garbage frames per second per player")
	fs.Float64Var(&sc.FreezeRatio, "freeze-ratio", 0.01, "chaos: fraction of players whose reader freezes")
	fs.Uint64Var(&sc.Seed, "seed", 1, "random seed")
	fs.StringVar(&sc.SLO, "slo", "", "thresholds, e.g. 'rtt.p99<50ms,interarrival.p99<2tick,errors=0'")
	fs.Float64Var(&sc.SpectatorRate, "spectator-rate", 0, "spectator updates per second (0: every tick)")
	fs.Float64Var(&sc.SpectatorDelay, "spectator-delay", 0, "extra spectator delay, seconds")
	fs.BoolVar(&sc.SpectateReplays, "spectate-replays", false, "spectators watch finished matches (GET /api/replays) instead of live ones")
	fs.Float64Var(&sc.ReplaySpeed, "replay-speed", 1, "replay spectators' playback speed, 0.25…8")
	fs.StringVar(&out, "out", "report.json", "write the report as JSON here (and HTML beside it); empty: no files")
	fs.StringVar(&html, "html", "", "write the HTML report here (default: -out with .html)")
	if err := fs.Parse(args); err != nil {
		return sc, "", "", err
	}
	if fs.NArg() > 0 {
		return sc, "", "", fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	flagSC := sc
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return sc, "", "", err
		}
		var fileSC fleet.Scenario
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&fileSC); err != nil {
			return sc, "", "", fmt.Errorf("scenario %s: %w", file, err)
		}
		sc = fileSC
		overlay(&sc, flagSC, set)
	}
	if file == "" || set["ramp-up"] {
		sc.RampUp = fleet.Duration(rampUp)
	}
	if file == "" || set["duration"] {
		sc.Duration = fleet.Duration(duration)
	}
	if file == "" || set["mix"] {
		m, err := parseMix(mix)
		if err != nil {
			return sc, "", "", err
		}
		sc.Mix = m
	}
	return sc, out, html, nil
}

// overlay copies the flags given on the command line over a scenario file.
func overlay(sc *fleet.Scenario, f fleet.Scenario, set map[string]bool) {
	if set["url"] {
		sc.URL = f.URL
	}
	if set["players"] {
		sc.Players = f.Players
	}
	if set["spectators"] {
		sc.Spectators = f.Spectators
	}
	if set["spread"] {
		sc.Spread = f.Spread
	}
	if set["tick-rate"] {
		sc.TickRate = f.TickRate
	}
	if set["every"] {
		sc.Every = f.Every
	}
	if set["input-rate"] {
		sc.InputRate = f.InputRate
	}
	if set["behaviour"] {
		sc.Behaviour = f.Behaviour
	}
	if set["drop-rate"] {
		sc.DropRate = f.DropRate
	}
	if set["garbage-rate"] {
		sc.GarbageRate = f.GarbageRate
	}
	if set["freeze-ratio"] {
		sc.FreezeRatio = f.FreezeRatio
	}
	if set["seed"] {
		sc.Seed = f.Seed
	}
	if set["slo"] {
		sc.SLO = f.SLO
	}
	if set["spectator-rate"] {
		sc.SpectatorRate = f.SpectatorRate
	}
	if set["spectator-delay"] {
		sc.SpectatorDelay = f.SpectatorDelay
	}
	if set["spectate-replays"] {
		sc.SpectateReplays = f.SpectateReplays
	}
	if set["replay-speed"] {
		sc.ReplaySpeed = f.ReplaySpeed
	}
}

func parseMix(s string) (map[string]float64, error) {
	m := map[string]float64{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		var w float64
		if _, err := fmt.Sscanf(v, "%g", &w); !ok || err != nil {
			return nil, fmt.Errorf("mix %q: want transport=weight,… (ws, sse, poll)", s)
		}
		m[k] = w
	}
	return m, nil
}
