package relay

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// BenchmarkRelayLatency measures what the relay adds: from the origin's
// Push of a tick to the edge's stream holding it (one embedded NATS on
// loopback, one edge). Ticks are pushed one at a time, each after the
// previous one arrived, so the figure is latency, not throughput. It
// reports the p50 and p99 in microseconds, for a match of 6 and of 64
// entities (about a third of them changing each tick).
func BenchmarkRelayLatency(b *testing.B) {
	for _, n := range []int{6, 64} {
		b.Run(fmt.Sprint("entities=", n), func(b *testing.B) { benchRelayLatency(b, n) })
	}
}

func benchRelayLatency(b *testing.B, n int) {
	url := natsURL(b)
	var l lookup
	m := newFakeMatchN("bench", 60, n)
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
