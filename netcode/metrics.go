package netcode

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/tickstream/tickstream/netcode/replay"
)

// metrics are the server's Prometheus metrics, on a registry of its own so
// that several servers can live in one process (tests).
type metrics struct {
	reg           *prometheus.Registry
	sessions      *prometheus.GaugeVec   // by state: connected, suspended
	resumes       *prometheus.CounterVec // by result
	rtt           prometheus.Histogram
	jitter        prometheus.Histogram
	clockOffset   prometheus.Histogram
	spectators    *prometheus.GaugeVec   // by transport
	specEnds      *prometheus.CounterVec // by transport and reason
	refusals      *prometheus.CounterVec // by reason
	disconnects   *prometheus.CounterVec // by reason
	snapshotsSent prometheus.Counter
	batched       prometheus.Counter
	redirects     prometheus.Counter
	snapshots     *prometheus.CounterVec // by kind: keyframe, delta
	snapshotBytes *prometheus.CounterVec // by kind
	acks          *prometheus.CounterVec // by result: ok, stale, unsent, rate_limited
	lowered       prometheus.Counter
	held          prometheus.Counter
	inputs        *prometheus.CounterVec // by result
	ticksLate     prometheus.Counter
	ticksSkipped  prometheus.Counter
	ticks         prometheus.Counter

	replaysRecorded  prometheus.Counter
	replayFailures   *prometheus.CounterVec // by reason
	replayBytes      prometheus.Counter
	replaySpectators *prometheus.GaugeVec // by transport
}

// replayEvents counts the replay store's events (replay.Events).
type replayEvents struct{ m *metrics }

func (e replayEvents) Recorded()            { e.m.replaysRecorded.Inc() }
func (e replayEvents) Failed(reason string) { e.m.replayFailures.WithLabelValues(reason).Inc() }
func (e replayEvents) Wrote(n int)          { e.m.replayBytes.Add(float64(n)) }

func newMetrics(matches, lostSeats, replayRecordsRead func() float64) *metrics {
	m := &metrics{
		replaysRecorded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tickstream_replays_recorded_total", Help: "Match recordings finished complete.",
		}),
		replayFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tickstream_replay_failures_total", Help: "Match recordings stopped early, by reason (overflow, create_error, write_error, size_limit, interrupted).",
		}, []string{"reason"}),
		replayBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tickstream_replay_bytes_written_total", Help: "Bytes written to replay files.",
		}),
		replaySpectators: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tickstream_replay_spectators", Help: "Replay spectators watching now, by transport (ws, sse, poll).",
		}, []string{"transport"}),
		reg: prometheus.NewRegistry(),
		sessions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tickstream_sessions", Help: "Player sessions now, by state (connected, suspended).",
		}, []string{"state"}),
		resumes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tickstream_resumes_total", Help: "Resume attempts by result (ok, invalid, expired, used, gone).",
		}, []string{"result"}),
		spectators: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tickstream_spectators", Help: "Spectators watching now, by transport (ws, sse, poll).",
		}, []string{"transport"}),
		specEnds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tickstream_spectator_disconnects_total", Help: "Spectator streams ended, by transport and reason.",
		}, []string{"transport", "reason"}),
		rtt: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "tickstream_rtt_seconds", Help: "Round-trip times measured by the heartbeat (each pong, matched to any unanswered ping).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		jitter: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "tickstream_rtt_jitter_seconds", Help: "The connection's smoothed RTT variation (RFC 6298 rttvar), observed at each pong.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		clockOffset: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "tickstream_clock_offset_seconds", Help: "Absolute value of the connection's smoothed client clock offset (client clock minus server clock), observed at each pong.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10, 60, 600, 3600},
		}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tickstream_refusals_total", Help: "Requests and messages refused, by reason.",
		}, []string{"reason"}),
		disconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tickstream_disconnects_total", Help: "Player sessions ended, by reason.",
		}, []string{"reason"}),
		redirects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tickstream_redirects_total", Help: "Joins redirected to another node of the cluster.",
		}),
		snapshotsSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tickstream_snapshots_sent_total", Help: "Snapshot frames written to players.",
		}),
		batched: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tickstream_snapshots_batched_total", Help: "Snapshot frames sent in io_uring batches by the writer pool (the rest of snapshots_sent went with one write each).",
		}),
		snapshots: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tickstream_snapshots_total", Help: "Snapshot frames written to players, by kind (keyframe, delta).",
		}, []string{"kind"}),
		snapshotBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tickstream_snapshot_bytes_total", Help: "Bytes of snapshot frames written to players (WebSocket payload), by kind (keyframe, delta).",
		}, []string{"kind"}),
		acks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tickstream_acks_total", Help: "Snapshot acknowledgements received, by result (ok, stale, unsent, rate_limited).",
		}, []string{"result"}),
		lowered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tickstream_snapshot_rate_lowered_total", Help: "Times a session's snapshot rate was halved because its link could not carry it.",
		}),
		held: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tickstream_snapshots_held_total", Help: "Due snapshots a session's flow control held back (its link still carried earlier ones).",
		}),
		inputs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tickstream_inputs_total", Help: "Player inputs received, by result (queued, rate_limited, dropped).",
		}, []string{"result"}),
		ticks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tickstream_ticks_total", Help: "Match ticks run (counted when a match closes).",
		}),
		ticksLate: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tickstream_ticks_late_total", Help: "Ticks that started late (counted when a match closes).",
		}),
		ticksSkipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tickstream_ticks_skipped_total", Help: "Tick slots skipped to catch up (counted when a match closes).",
		}),
	}
	for _, st := range []string{"connected", "suspended"} {
		m.sessions.WithLabelValues(st).Set(0)
	}
	m.zero()
	m.reg.MustRegister(m.sessions, m.resumes, m.rtt, m.jitter, m.clockOffset, m.spectators, m.specEnds, m.refusals, m.disconnects, m.redirects, m.snapshotsSent, m.batched, m.snapshots, m.snapshotBytes, m.acks, m.lowered, m.held, m.inputs,
		m.ticks, m.ticksLate, m.ticksSkipped, m.replaysRecorded, m.replayFailures, m.replayBytes, m.replaySpectators,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "tickstream_replay_records_read_total", Help: "Records read from replay files (a replay is read once for all its spectators while it stays loaded).",
		}, replayRecordsRead),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tickstream_matches", Help: "Live matches."}, matches),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tickstream_seats_disconnected", Help: "Seats held for a player whose connection was lost.",
		}, lostSeats),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// zero creates every labelled series the server can count, at zero, so
// that dashboards and alerts see them before the first event.
func (m *metrics) zero() {
	for _, r := range refusalReasons() {
		m.refusals.WithLabelValues(r)
	}
	for _, r := range sessionEndReasons() {
		m.disconnects.WithLabelValues(r)
	}
	for _, tr := range []string{"ws", "sse", "poll"} {
		m.spectators.WithLabelValues(tr)
		m.replaySpectators.WithLabelValues(tr)
	}
	for _, r := range replay.FailReasons {
		m.replayFailures.WithLabelValues(r)
	}
	for _, tr := range []string{"ws", "sse"} {
		for _, r := range spectatorEndReasons {
			m.specEnds.WithLabelValues(tr, r)
		}
	}
	for _, r := range []string{"ok", "invalid", "expired", "used", "gone"} {
		m.resumes.WithLabelValues(r)
	}
	for _, k := range []string{"keyframe", "delta"} {
		m.snapshots.WithLabelValues(k)
		m.snapshotBytes.WithLabelValues(k)
	}
	for _, r := range []string{"ok", "stale", "unsent", reasonRateLimited} {
		m.acks.WithLabelValues(r)
	}
	for _, r := range []string{"queued", "dropped", reasonRateLimited} {
		m.inputs.WithLabelValues(r)
	}
}
