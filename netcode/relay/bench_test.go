package relay

import (
	"slices"
	"testing"
	"time"
)

// BenchmarkRelayLatency measures what the relay adds: from the origin's
// Push of a tick to the edge's stream holding it (one embedded NATS on
// loopback, one edge). Ticks are pushed one at a time, each after the
// previous one arrived, so the figure is latency, not throughput. It
// reports the p50 and p99 in microseconds.
func BenchmarkRelayLatency(b *testing.B) {
	url := natsURL(b)
	var l lookup
	m := newFakeMatch("bench", 60)
	l.add(m)
	m.step(3, false)
	newOrigin(b, connect(b, url, "A"), &l, OriginConfig{})
	e := newEdge(b, connect(b, url, "B"), "B", EdgeConfig{})
	st, release := open(b, e, m.id)
	defer release()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		ch := st.Changed()
		start := time.Now()
		m.step(1, false)
		want := m.tick
		for headOf(st) < want {
			select {
			case <-ch:
				ch = st.Changed()
			case <-time.After(5 * time.Second):
				b.Fatalf("tick %d did not reach the edge in 5 s", want)
			}
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e3 }
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(0, "ns/op")
}
