package fleet

import "time"

// Report is the outcome of a run: what the table, the JSON (-out) and the
// HTML page show, and what thresholds (-slo) are checked against.
type Report struct {
	Scenario  Scenario  `json:"scenario"`
	Started   time.Time `json:"started"`
	Elapsed   Duration  `json:"elapsed"`
	TickRate  int       `json:"tick_rate"` // of the matches joined (0 if unknown)
	Counts    Counts    `json:"counts"`
	Latencies []Dist    `json:"latencies"` // rtt, ack, interarrival, delivery, spectator_delay
	Bytes     Bytes     `json:"bytes"`
	CPU       CPU       `json:"cpu"`
	Server    *Server   `json:"server,omitempty"` // from the server's /metrics, when reachable
	Failover  Failover  `json:"failover"`         // players whose node died, and redirects
	Series    []Sample  `json:"series"`           // one sample per second
	Breaches  []string  `json:"breaches"`         // thresholds not met (empty: pass)
}

// Counts are what happened to connections.
type Counts struct {
	Players          int            `json:"players"`            // asked for
	Spectators       int            `json:"spectators"`         // asked for
	Connected        int            `json:"connected"`          // players that got a welcome
	SpectatorsOK     int            `json:"spectators_ok"`      // spectators that got a first event
	Failed           int            `json:"failed"`             // could not connect or join
	Disconnects      map[string]int `json:"disconnects"`        // by close reason
	ResumesOK        int            `json:"resumes_ok"`         // chaos drops that resumed
	ResumesFailed    int            `json:"resumes_failed"`     // seats lost
	Snapshots        int64          `json:"snapshots"`          // received by players
	SpectatorEvents  int64          `json:"spectator_events"`   // keyframes + deltas received
	Inputs           int64          `json:"inputs"`             // sent
	GarbageSent      int            `json:"garbage_sent"`       // chaos: bad frames sent on purpose
	Frozen           int            `json:"frozen"`             // chaos: readers frozen on purpose
	Errors           int            `json:"errors"`             // unexpected: failed + unexpected disconnects + decode errors
	SnapshotRatePct  float64        `json:"snapshot_rate_pct"`  // worst player's received snapshots/s as % of the tick rate
	SnapshotRateMean float64        `json:"snapshot_rate_mean"` // mean player snapshots/s
}

// Failover is what happened to players whose node went away: a match
// cannot move between nodes, so a player that cannot resume (its node is
// unreachable, the resume was refused, the match is gone, the node shut
// down) joins anew through the entry nodes and gets a new match.
type Failover struct {
	Failovers int `json:"failovers"` // players that lost their node and joined anew
	Recovered int `json:"recovered"` // of those, got a snapshot of their new match
	// Time from the socket error to the first snapshot of the new match,
	// over the recovered failovers, in milliseconds.
	P50       float64 `json:"p50_ms"`
	P95       float64 `json:"p95_ms"`
	Max       float64 `json:"max_ms"`
	Redirects int64   `json:"redirects"` // redirects followed by joins (cluster routing)
}

// Dist is a latency distribution, in milliseconds.
type Dist struct {
	Name  string  `json:"name"` // rtt, ack, interarrival, delivery, spectator_delay
	Count int64   `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

// Bytes are received bytes per second.
type Bytes struct {
	PerPlayer    float64 `json:"per_player_per_s"`
	PerSpectator float64 `json:"per_spectator_per_s"`
	Total        float64 `json:"total_per_s"`
}

// CPU is the bots process's own CPU use.
type CPU struct {
	Seconds        float64 `json:"seconds"`           // user + system
	PerBotSecondUS float64 `json:"per_bot_second_us"` // µs of CPU per bot per second of run
	UtilizationPct float64 `json:"utilization_pct"`   // of one core
}

// Server is read from the server's /metrics before and after the run.
type Server struct {
	CPUSeconds       float64 `json:"cpu_seconds"`
	SnapshotsSent    float64 `json:"snapshots_sent"`
	CPUPerSnapshotUS float64 `json:"cpu_per_snapshot_us"`
	Sessions         float64 `json:"sessions"`
}

// Sample is one second of the run.
type Sample struct {
	T           float64 `json:"t"` // seconds since start
	Connected   int     `json:"connected"`
	Spectators  int     `json:"spectators"`
	SnapshotsPS float64 `json:"snapshots_per_s"`
	BytesPS     float64 `json:"bytes_per_s"`
	RTTP50      float64 `json:"rtt_p50_ms"`
	RTTP99      float64 `json:"rtt_p99_ms"`
	AckP99      float64 `json:"ack_p99_ms"`
	InterP99    float64 `json:"interarrival_p99_ms"`
	DeliveryP99 float64 `json:"delivery_p99_ms"`
	Errors      int     `json:"errors"`
}

// Duration is a time.Duration that reads and writes as "1.5s" in JSON.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Duration(d).String() + `"`), nil
}

func (d *Duration) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(s) >= 2 && s[0] == '"' {
		s = s[1 : len(s)-1]
	}
	v, err := time.ParseDuration(s)
	*d = Duration(v)
	return err
}
