package relay

import "github.com/prometheus/client_golang/prometheus"

// originMetrics are an origin's collectors.
type originMetrics struct {
	encodes   prometheus.Counter
	published prometheus.Counter
	keyReqs   *prometheus.CounterVec
	matches   prometheus.Gauge
	edges     prometheus.Gauge
}

func newOriginMetrics() originMetrics {
	return originMetrics{
		encodes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tickstream_relay_encodes_total",
			Help: "Ticks encoded by this node's relay origin for publishing (one per tick published, whatever the number of edges).",
		}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tickstream_relay_ticks_published_total",
			Help: "Tick messages this node's relay origin published.",
		}),
		keyReqs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tickstream_relay_keyframes_served_total",
			Help: "Key requests this node's relay origin answered, by reply: keyframe, catchup (deltas from the edge's last tick), none (nothing new), unknown (no such match).",
		}, []string{"reply"}),
		matches: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tickstream_relay_published_matches",
			Help: "Matches of this node being published to edges.",
		}),
		edges: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tickstream_relay_edges_served",
			Help: "(edge, match) pairs with live interest in this node's matches.",
		}),
	}
}

// edgeMetrics are an edge's collectors.
type edgeMetrics struct {
	received *prometheus.CounterVec
	keyReqs  *prometheus.CounterVec
	resyncs  prometheus.Counter
	lag      prometheus.Histogram
	matches  prometheus.Gauge
}

func newEdgeMetrics() edgeMetrics {
	return edgeMetrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tickstream_relay_ticks_received_total",
			Help: "Ticks this node's relay edge pushed into its streams of remote matches, by kind: keyframe, delta.",
		}, []string{"kind"}),
		keyReqs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tickstream_relay_keyframe_requests_total",
			Help: "Key requests this node's relay edge made, by reason: open (first spectator), gap (a missed tick), dropped (NATS dropped messages: a slow consumer), stale (no message for a while), bad (a message that did not decode).",
		}, []string{"reason"}),
		resyncs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tickstream_relay_resyncs_total",
			Help: "Key requests of this node's relay edge (after a missed tick, a drop, a silence) whose reply brought ticks.",
		}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tickstream_relay_lag_seconds",
			Help:    "Receive time on this edge minus the origin's publish time of each tick message (the two clocks must agree).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
		matches: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tickstream_relay_relayed_matches",
			Help: "Remote matches this node's relay edge holds a stream of.",
		}),
	}
}
