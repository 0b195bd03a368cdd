package fleet

// Scenario is one repeatable run: flags or a JSON file (tests/scenarios/).
// Zero fields take the documented default.
type Scenario struct {
	// URL is ws://host:port (the /play and /api paths are added), or a
	// comma-separated list of a cluster's entry nodes: players join through
	// them round-robin, follow redirects, and fail over through them when
	// their node dies; the API calls (spread, spectators, /metrics) use the
	// first. Default ws://127.0.0.1:8080.
	URL        string `json:"url"`
	Players    int    `json:"players"`    // player bots
	Spectators int    `json:"spectators"` // spectator bots
	// Mix of spectator transports, as weights: {"ws":1,"sse":1,"poll":0}; default all SSE.
	Mix map[string]float64 `json:"mix,omitempty"`
	// Spread: "auto" (join-or-create, the default), "match:<id>" (all in one
	// given match), or "per-match:<N>" (create matches and put N players in each).
	Spread   string `json:"spread"`
	TickRate int    `json:"tick_rate"` // for matches the bots create (per-match); 0: the server's default
	// Every asks the server for a snapshot every Every ticks only (the
	// join's "every", 1…60); 0 or 1: every tick.
	Every    int      `json:"every,omitempty"`
	RampUp   Duration `json:"ramp_up"`  // connect everyone over this long; default 5s
	Duration Duration `json:"duration"` // measured run after the ramp-up; default 30s
	// InputRate is inputs per second per player; default 10.
	InputRate float64 `json:"input_rate"`
	// Behaviour: "idle", "wander" (default), "chase", "chaos".
	Behaviour string `json:"behaviour"`
	// Chaos knobs (behaviour "chaos"): per second per player, the chance to
	// drop the link and resume, and to send a garbage frame; the fraction of
	// players whose reader freezes.
	DropRate    float64 `json:"drop_rate"`
	GarbageRate float64 `json:"garbage_rate"`
	FreezeRatio float64 `json:"freeze_ratio"`
	Seed        uint64  `json:"seed"`
	// SLO are thresholds, e.g. "rtt.p99<50ms,interarrival.p99<2tick,errors=0".
	SLO string `json:"slo"`
	// Spectator options passed to the server.
	SpectatorRate  float64 `json:"spectator_rate"`  // updates/s; 0: every tick
	SpectatorDelay float64 `json:"spectator_delay"` // extra delay, seconds (live only)
	// SpectateReplays makes the spectators watch finished matches (picked
	// round-robin from GET /api/replays, newest first) instead of live
	// ones, at ReplaySpeed; one that reaches a replay's end starts the next.
	SpectateReplays bool    `json:"spectate_replays,omitempty"`
	ReplaySpeed     float64 `json:"replay_speed,omitempty"` // 0.25…8; 0: 1 (real time)
}
