// Package fleet is Tickstream's load-testing fleet: thousands of player and
// spectator bots in one process, built on the same Go client the tests
// use, with a live progress line, a report (table, JSON, self-contained
// HTML) and thresholds that decide the exit code. cmd/bots is its main.
//
// Cost per bot is kept low: one reader goroutine per connection, inputs
// paced by one shared ticker (not a timer per bot), liveness watched by one
// sampler for all players, latencies in sharded HDR histograms.
package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Output is where the live progress goes.
type Output struct {
	Progress io.Writer // nil: no progress
	Terminal bool      // rewrite one line (\r) instead of printing lines
}

// runner is one run's shared state.
type runner struct {
	sc       Scenario
	base     string   // http://host:port
	wsBase   string   // ws://host:port of the first entry node
	entries  []string // ws://host:port of every entry node (-url's list)
	out      Output
	slo      []Threshold
	start    time.Time
	measure  atomic.Bool // past the ramp-up: latencies count
	tickRate atomic.Int64

	rtt, ack, inter, delivery, specDelay *latency
	failover                             *latency // socket error → first snapshot of the new match
	c                                    counters

	// pace is closed and replaced at every input tick: all player bots
	// wait on it (one ticker for the fleet).
	paceMu sync.Mutex
	pace   chan struct{}

	playersMu sync.Mutex
	players   []*playerBot
	matchesMu sync.Mutex
	matches   []string // matches the players are in (for spectators)
	replays   []string // finished matches (SpectateReplays), newest first

	series []Sample
}

func (sc *Scenario) defaults() error {
	if sc.URL == "" {
		sc.URL = "ws://127.0.0.1:8080"
	}
	if sc.RampUp == 0 {
		sc.RampUp = Duration(5 * time.Second)
	}
	if sc.Duration == 0 {
		sc.Duration = Duration(30 * time.Second)
	}
	if sc.InputRate == 0 {
		sc.InputRate = 10
	}
	if sc.Behaviour == "" {
		sc.Behaviour = "wander"
	}
	if sc.Spread == "" {
		sc.Spread = "auto"
	}
	if sc.Seed == 0 {
		sc.Seed = 1
	}
	if len(sc.Mix) == 0 {
		sc.Mix = map[string]float64{"sse": 1}
	}
	switch {
	case sc.Players < 0 || sc.Spectators < 0:
		return errors.New("players and spectators must not be negative")
	case sc.InputRate < 0 || sc.InputRate > 120:
		return errors.New("input rate must be 0…120 per second")
	case time.Duration(sc.Duration) <= 0:
		return errors.New("duration must be positive")
	case sc.ReplaySpeed != 0 && (sc.ReplaySpeed < 0.25 || sc.ReplaySpeed > 8):
		return errors.New("replay speed must be 0.25…8")
	}
	switch sc.Behaviour {
	case "idle", "wander", "chase", "chaos":
	default:
		return fmt.Errorf("unknown behaviour %q (idle, wander, chase, chaos)", sc.Behaviour)
	}
	for k, v := range sc.Mix {
		if (k != "ws" && k != "sse" && k != "poll") || v < 0 {
			return fmt.Errorf("spectator mix: %q=%v (ws, sse, poll with weights ≥ 0)", k, v)
		}
	}
	if sc.Spread != "auto" && !strings.HasPrefix(sc.Spread, "match:") && !strings.HasPrefix(sc.Spread, "per-match:") {
		return fmt.Errorf("spread %q: auto, match:<id> or per-match:<N>", sc.Spread)
	}
	return nil
}

// Run runs a scenario to its end and returns the report; its Breaches say
// which thresholds failed. An error means the run itself could not happen.
func Run(ctx context.Context, sc Scenario, out Output) (*Report, error) {
	if err := sc.defaults(); err != nil {
		return nil, err
	}
	slo, err := ParseSLO(sc.SLO)
	if err != nil {
		return nil, err
	}
	entries, err := parseEntries(sc.URL)
	if err != nil {
		return nil, err
	}
	u, _ := url.Parse(entries[0])
	r := &runner{
		sc: sc, out: out, slo: slo,
		wsBase: entries[0], entries: entries,
		base: map[string]string{"ws": "http", "wss": "https"}[u.Scheme] + "://" + u.Host,
		rtt:  newLatency("rtt"), ack: newLatency("ack"), inter: newLatency("interarrival"),
		delivery: newLatency("delivery"), specDelay: newLatency("spectator_delay"),
		failover: newLatency("failover"),
		pace:     make(chan struct{}),
	}
	return r.run(ctx)
}

// parseEntries reads the scenario's URL: one or more entry nodes,
// comma-separated, each ws://host:port or wss://host:port.
func parseEntries(list string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			return nil, fmt.Errorf("url %q: want ws://host:port (or a comma-separated list of them)", s)
		}
		out = append(out, u.Scheme+"://"+u.Host)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("url %q: want ws://host:port", list)
	}
	return out, nil
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

func (r *runner) run(ctx context.Context) (*Report, error) {
	ramp, dur := time.Duration(r.sc.RampUp), time.Duration(r.sc.Duration)
	ctx, cancel := context.WithTimeout(ctx, ramp+dur+30*time.Second)
	defer cancel()
	serverBefore := r.scrape(ctx)
	cpu0 := cpuSeconds()
	r.start = time.Now()
	botCtx, stopBots := context.WithCancel(ctx)
	var wg sync.WaitGroup

	go r.paceLoop(botCtx)
	sampleDone := make(chan struct{})
	go func() { defer close(sampleDone); r.sampleLoop(botCtx) }()

	// Ramp up: players first, spreading their starts over the ramp-up;
	// spectators once players are in.
	rng := rand.New(rand.NewPCG(r.sc.Seed, 2))
	matchFor, err := r.spread(ctx)
	if err != nil {
		stopBots()
		return nil, err
	}
	total := r.sc.Players + r.sc.Spectators
	gap := time.Duration(0)
	if total > 0 {
		gap = ramp / time.Duration(total)
	}
	launch := time.Now()
	for i := 0; i < r.sc.Players && botCtx.Err() == nil; i++ {
		m, err := matchFor(i)
		if err != nil {
			r.c.failed.Add(1)
			r.c.errors.Add(1)
			continue
		}
		b := newPlayerBot(r, i, m, rng.Uint64())
		r.playersMu.Lock()
		r.players = append(r.players, b)
		r.playersMu.Unlock()
		wg.Add(1)
		go func() { defer wg.Done(); b.run(botCtx) }()
		sleepUntil(botCtx, launch.Add(gap*time.Duration(i+1)))
	}
	if r.sc.SpectateReplays {
		r.waitForReplays(botCtx)
	} else {
		r.waitForMatches(botCtx)
	}
	for i := 0; i < r.sc.Spectators && botCtx.Err() == nil; i++ {
		var s *spectatorBot
		if r.sc.SpectateReplays {
			s = newReplaySpectatorBot(r, i, r.transportFor(rng))
		} else {
			s = newSpectatorBot(r, i, r.transportFor(rng), r.matchFor(i))
		}
		wg.Add(1)
		go func() { defer wg.Done(); s.run(botCtx) }()
		sleepUntil(botCtx, launch.Add(gap*time.Duration(r.sc.Players+i+1)))
	}
	sleepUntil(botCtx, r.start.Add(ramp))
	r.measure.Store(true)
	for _, b := range r.snapshotPlayers() {
		b.windowStart()
	}
	measureStart := time.Now()
	sleepUntil(botCtx, measureStart.Add(dur))
	window := time.Since(measureStart)
	rep := r.report(window)
	stopBots()
	waitTimeout(&wg, 10*time.Second)
	<-sampleDone
	rep.Series = r.series
	rep.CPU.Seconds = cpuSeconds() - cpu0
	if bots := r.sc.Players + r.sc.Spectators; bots > 0 {
		el := time.Since(r.start).Seconds()
		rep.CPU.PerBotSecondUS = rep.CPU.Seconds / (float64(bots) * el) * 1e6
		rep.CPU.UtilizationPct = rep.CPU.Seconds / el * 100
	}
	if after := r.scrape(ctx); serverBefore != nil && after != nil {
		s := &Server{
			CPUSeconds:    after.CPUSeconds - serverBefore.CPUSeconds,
			SnapshotsSent: after.SnapshotsSent - serverBefore.SnapshotsSent,
			Sessions:      after.Sessions,
		}
		if s.SnapshotsSent > 0 {
			s.CPUPerSnapshotUS = s.CPUSeconds / s.SnapshotsSent * 1e6
		}
		rep.Server = s
	}
	rep.Breaches = Evaluate(rep, r.slo)
	return rep, nil
}

func sleepUntil(ctx context.Context, t time.Time) {
	d := time.Until(t)
	if d <= 0 {
		return
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
	case <-ctx.Done():
	}
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// paceLoop is the fleet's one input ticker.
func (r *runner) paceLoop(ctx context.Context) {
	if r.sc.InputRate == 0 {
		return
	}
	t := time.NewTicker(time.Duration(float64(time.Second) / r.sc.InputRate))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.paceMu.Lock()
			close(r.pace)
			r.pace = make(chan struct{})
			r.paceMu.Unlock()
		}
	}
}

func (r *runner) paceCh() <-chan struct{} {
	r.paceMu.Lock()
	defer r.paceMu.Unlock()
	return r.pace
}

func (r *runner) snapshotPlayers() []*playerBot {
	r.playersMu.Lock()
	defer r.playersMu.Unlock()
	return append([]*playerBot(nil), r.players...)
}

// spread returns which match player i joins ("" = auto).
func (r *runner) spread(ctx context.Context) (func(int) (string, error), error) {
	switch {
	case strings.HasPrefix(r.sc.Spread, "match:"):
		id := strings.TrimPrefix(r.sc.Spread, "match:")
		return func(int) (string, error) { return id, nil }, nil
	case strings.HasPrefix(r.sc.Spread, "per-match:"):
		n, err := strconv.Atoi(strings.TrimPrefix(r.sc.Spread, "per-match:"))
		if err != nil || n < 1 || n > 64 {
			return nil, fmt.Errorf("spread %q: N must be 1…64", r.sc.Spread)
		}
		var mu sync.Mutex
		ids := map[int]string{}
		return func(i int) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			if id, ok := ids[i/n]; ok {
				return id, nil
			}
			id, err := r.createMatch(ctx, n)
			if err == nil {
				ids[i/n] = id
			}
			return id, err
		}, nil
	}
	return func(int) (string, error) { return "", nil }, nil
}

func (r *runner) createMatch(ctx context.Context, seats int) (string, error) {
	body := fmt.Sprintf(`{"max_players": %d, "min_players": %d`, seats, min(2, seats))
	if r.sc.TickRate > 0 {
		body += fmt.Sprintf(`, "rate": %d`, r.sc.TickRate)
	}
	body += "}"
	req, _ := http.NewRequestWithContext(ctx, "POST", r.base+"/api/matches", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var m struct {
		ID    string `json:"id"`
		Error string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("create match: %d %s", resp.StatusCode, m.Error)
	}
	return m.ID, nil
}

// waitForMatches lets spectators know which matches the players are in.
func (r *runner) waitForMatches(ctx context.Context) {
	if r.sc.Spectators == 0 {
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		seen := map[string]bool{}
		for _, b := range r.snapshotPlayers() {
			if m := b.matchID(); m != "" {
				seen[m] = true
			}
		}
		if len(seen) > 0 || r.sc.Players == 0 {
			ids := make([]string, 0, len(seen))
			for id := range seen {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			if len(ids) == 0 {
				ids = r.listMatches(ctx)
			}
			r.matchesMu.Lock()
			r.matches = ids
			r.matchesMu.Unlock()
			if len(ids) > 0 {
				return
			}
		}
		sleepUntil(ctx, time.Now().Add(100*time.Millisecond))
	}
}

func (r *runner) listMatches(ctx context.Context) []string {
	req, _ := http.NewRequestWithContext(ctx, "GET", r.base+"/api/matches", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var l struct {
		Matches []struct{ ID string } `json:"matches"`
	}
	json.NewDecoder(resp.Body).Decode(&l)
	var ids []string
	for _, m := range l.Matches {
		ids = append(ids, m.ID)
	}
	return ids
}

// waitForReplays lists the finished matches for replay spectators (up to
// 10 s for a first one to appear).
func (r *runner) waitForReplays(ctx context.Context) {
	if r.sc.Spectators == 0 {
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		if ids := r.listReplays(ctx); len(ids) > 0 {
			r.matchesMu.Lock()
			r.replays = ids
			r.matchesMu.Unlock()
			return
		}
		sleepUntil(ctx, time.Now().Add(200*time.Millisecond))
	}
}

// listReplays is GET /api/replays: the ids, newest first.
func (r *runner) listReplays(ctx context.Context) []string {
	req, _ := http.NewRequestWithContext(ctx, "GET", r.base+"/api/replays", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var l []struct {
		ID string `json:"id"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&l) != nil {
		return nil
	}
	ids := make([]string, 0, len(l))
	for _, x := range l {
		ids = append(ids, x.ID)
	}
	return ids
}

// replayFor is the replay spectator i watches for its n-th time (0 first):
// round-robin over the listing, each bot moving on to the next one.
func (r *runner) replayFor(i, n int) string {
	r.matchesMu.Lock()
	defer r.matchesMu.Unlock()
	if len(r.replays) == 0 {
		return ""
	}
	return r.replays[(i+n)%len(r.replays)]
}

func (r *runner) matchFor(i int) string {
	r.matchesMu.Lock()
	defer r.matchesMu.Unlock()
	if len(r.matches) == 0 {
		return ""
	}
	return r.matches[i%len(r.matches)]
}

func (r *runner) transportFor(rng *rand.Rand) string {
	var sum float64
	keys := []string{"ws", "sse", "poll"}
	for _, k := range keys {
		sum += r.sc.Mix[k]
	}
	x := rng.Float64() * sum
	for _, k := range keys {
		if x < r.sc.Mix[k] {
			return k
		}
		x -= r.sc.Mix[k]
	}
	return "sse"
}

// scrape reads the server's CPU and snapshot counters from /metrics.
func (r *runner) scrape(ctx context.Context) *Server {
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(cctx, "GET", r.base+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	var s Server
	found := false
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "process_cpu_seconds_total":
			s.CPUSeconds, found = v, true
		case "tickstream_snapshots_sent_total":
			s.SnapshotsSent = v
		case `tickstream_sessions{state="connected"}`:
			s.Sessions = v
		}
	}
	if !found {
		return nil
	}
	return &s
}
