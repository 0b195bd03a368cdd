package netcode

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the server's Prometheus metrics, on a registry of its own so
// that several servers can live in one process (tests).
type metrics struct {
	reg           *prometheus.Registry
	sessions      prometheus.Gauge
	refusals      *prometheus.CounterVec // by reason
	disconnects   *prometheus.CounterVec // by reason
	snapshotsSent prometheus.Counter
	inputs        *prometheus.CounterVec // by result
	ticksLate     prometheus.Counter
	ticksSkipped  prometheus.Counter
	ticks         prometheus.Counter
}

func newMetrics(matches func() float64) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tickstream_sessions", Help: "Player sessions connected now.",
		}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tickstream_refusals_total", Help: "Requests and messages refused, by reason.",
		}, []string{"reason"}),
		disconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tickstream_disconnects_total", Help: "Player sessions ended, by reason.",
		}, []string{"reason"}),
		snapshotsSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tickstream_snapshots_sent_total", Help: "Snapshot frames written to players.",
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
	m.reg.MustRegister(m.sessions, m.refusals, m.disconnects, m.snapshotsSent, m.inputs,
		m.ticks, m.ticksLate, m.ticksSkipped,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tickstream_matches", Help: "Live matches."}, matches),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
