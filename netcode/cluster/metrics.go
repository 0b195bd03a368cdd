package cluster

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	deaths     *prometheus.CounterVec // by how: silent, no_responders, left
	fenced     *prometheus.CounterVec // by why: lapsed, taken
	writes     *prometheus.CounterVec // by result: ok, conflict, error
	routes     *prometheus.CounterVec // by where: here, redirect
	badBeats   prometheus.Counter
	badEntries prometheus.Counter
	relists    prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		deaths: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tickstream_cluster_peer_deaths_total", Help: "Peers declared dead, by how: silent (heartbeats stopped), no_responders (a request found no one), left (it said so).",
		}, []string{"how"}),
		fenced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tickstream_cluster_fenced_total", Help: "Matches of this node closed because it no longer owns them, by why: lapsed (its lease ran out), taken (another writer holds the entry).",
		}, []string{"why"}),
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tickstream_cluster_directory_writes_total", Help: "Writes of this node's entries to the directory, by result (ok, conflict, error).",
		}, []string{"result"}),
		routes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tickstream_cluster_routes_total", Help: "Joins routed by the cluster directory, by where they went (here, redirect).",
		}, []string{"where"}),
		badBeats: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tickstream_cluster_stale_heartbeats_total", Help: "Heartbeats ignored: malformed, of an older incarnation, or of another process with this node's id.",
		}),
		badEntries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tickstream_cluster_bad_entries_total", Help: "Directory entries that could not be read.",
		}),
		relists: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tickstream_cluster_relists_total", Help: "Full re-reads of the directory.",
		}),
	}
	for _, l := range []string{"silent", "no_responders", "left"} {
		m.deaths.WithLabelValues(l)
	}
	for _, l := range []string{"lapsed", "taken"} {
		m.fenced.WithLabelValues(l)
	}
	for _, l := range []string{"ok", "conflict", "error"} {
		m.writes.WithLabelValues(l)
	}
	for _, l := range []string{"here", "redirect"} {
		m.routes.WithLabelValues(l)
	}
	return m
}

func (m *metrics) collectors(n *Node) []prometheus.Collector {
	return []prometheus.Collector{m.deaths, m.fenced, m.writes, m.routes, m.badBeats, m.badEntries, m.relists,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tickstream_cluster_peers", Help: "Live peers this node sees."},
			func() float64 { return float64(len(n.livePeers())) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tickstream_cluster_directory_matches", Help: "Live matches in the cluster directory, this node's included."},
			func() float64 { return float64(n.DirectorySize()) }),
	}
}
