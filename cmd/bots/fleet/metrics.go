package fleet

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latency distributions are HDR histograms (1 µs … 2 min, 3 significant
// digits), sharded so that thousands of bots record without contending on
// one lock. Each records into the whole run's histogram and into the
// current second's, which the sampler swaps out for the time series.

const shards = 32

type latency struct {
	name  string
	total [shards]shard
	sec   [shards]shard
}

type shard struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
}

func newHDR() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, int64(2*time.Minute/time.Microsecond), 3)
}

func newLatency(name string) *latency {
	l := &latency{name: name}
	for i := range l.total {
		l.total[i].h = newHDR()
		l.sec[i].h = newHDR()
	}
	return l
}

// record adds a sample from bot id.
func (l *latency) record(id int, d time.Duration) {
	us := d.Microseconds()
	if us < 1 {
		us = 1
	}
	for _, s := range [2]*shard{&l.total[id%shards], &l.sec[id%shards]} {
		s.mu.Lock()
		_ = s.h.RecordValue(us)
		s.mu.Unlock()
	}
}

func merge(ss *[shards]shard, reset bool) *hdrhistogram.Histogram {
	out := newHDR()
	for i := range ss {
		s := &ss[i]
		s.mu.Lock()
		out.Merge(s.h)
		if reset {
			s.h.Reset()
		}
		s.mu.Unlock()
	}
	return out
}

func ms(us int64) float64 { return float64(us) / 1000 }

func distOf(name string, h *hdrhistogram.Histogram) Dist {
	return Dist{
		Name: name, Count: h.TotalCount(), Mean: h.Mean() / 1000,
		P50: ms(h.ValueAtQuantile(50)), P90: ms(h.ValueAtQuantile(90)),
		P99: ms(h.ValueAtQuantile(99)), Max: ms(h.Max()),
	}
}

// counters are the run's atomic counts.
type counters struct {
	connected, spectatorsLive, spectatorsOK, failed atomic.Int64
	snapshots, specEvents, inputs                   atomic.Int64
	playerBytes, specBytes                          atomic.Int64
	resumesOK, resumesFailed, garbage, frozen       atomic.Int64
	errors                                          atomic.Int64
	failovers, recovered, redirects                 atomic.Int64

	mu          sync.Mutex
	disconnects map[string]int
}

func (c *counters) disconnect(reason string) {
	c.mu.Lock()
	if c.disconnects == nil {
		c.disconnects = map[string]int{}
	}
	c.disconnects[reason]++
	c.mu.Unlock()
}
