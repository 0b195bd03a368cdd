package fleet

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// sampleLoop takes one sample a second for the time series, prints the
// progress line, and drops player connections that have been silent for
// 3 s (the fleet's one liveness watchdog).
func (r *runner) sampleLoop(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var lastSnaps, lastBytes int64
	lastPrint := time.Time{}
	for {
		select {
		case <-ctx.Done():
			if r.out.Progress != nil && r.out.Terminal {
				fmt.Fprintln(r.out.Progress)
			}
			return
		case now := <-t.C:
			snaps := r.c.snapshots.Load()
			bytes := r.c.playerBytes.Load() + r.c.specBytes.Load()
			rtt, ack := merge(&r.rtt.sec, true), merge(&r.ack.sec, true)
			inter, del := merge(&r.inter.sec, true), merge(&r.delivery.sec, true)
			merge(&r.specDelay.sec, true)
			s := Sample{
				T:           now.Sub(r.start).Seconds(),
				Connected:   int(r.c.connected.Load()),
				Spectators:  int(r.c.spectatorsLive.Load()),
				SnapshotsPS: float64(snaps - lastSnaps),
				BytesPS:     float64(bytes - lastBytes),
				RTTP50:      ms(rtt.ValueAtQuantile(50)),
				RTTP99:      ms(rtt.ValueAtQuantile(99)),
				AckP99:      ms(ack.ValueAtQuantile(99)),
				InterP99:    ms(inter.ValueAtQuantile(99)),
				DeliveryP99: ms(del.ValueAtQuantile(99)),
				Errors:      int(r.c.errors.Load()),
			}
			lastSnaps, lastBytes = snaps, bytes
			r.series = append(r.series, s)
			r.watchdog(now)
			r.progress(s, now, &lastPrint)
		}
	}
}

// watchdog drops players whose connection has been silent for 3 s: a
// half-open link never errors on its own. The player then resumes.
func (r *runner) watchdog(now time.Time) {
	for _, b := range r.snapshotPlayers() {
		if b.silentSince(now) > 3*time.Second {
			b.player().Drop()
		}
	}
}

func (r *runner) progress(s Sample, now time.Time, last *time.Time) {
	if r.out.Progress == nil {
		return
	}
	if !r.out.Terminal && now.Sub(*last) < 5*time.Second {
		return
	}
	*last = now
	total := time.Duration(r.sc.RampUp) + time.Duration(r.sc.Duration)
	line := fmt.Sprintf("connected %d/%d · spectators %d/%d · snapshots/s %.0f · rtt p99 %.1fms · errors %d · %s/%s",
		s.Connected, r.sc.Players, s.Spectators, r.sc.Spectators, s.SnapshotsPS, s.RTTP99, s.Errors,
		fmtDur(now.Sub(r.start)), fmtDur(total))
	if r.out.Terminal {
		fmt.Fprintf(r.out.Progress, "\r\033[K%s", line)
	} else {
		fmt.Fprintln(r.out.Progress, line)
	}
}

func fmtDur(d time.Duration) string {
	d = d.Round(time.Second)
	return fmt.Sprintf("%02d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}

// report builds the report of the measured window (everything but the
// series, the CPU figures and the breaches, which the run adds).
func (r *runner) report(window time.Duration) *Report {
	rep := &Report{
		Scenario: r.sc, Started: r.start, Elapsed: Duration(time.Since(r.start)),
		TickRate: int(r.tickRate.Load()),
	}
	for _, l := range []*latency{r.rtt, r.ack, r.inter, r.delivery, r.specDelay} {
		rep.Latencies = append(rep.Latencies, distOf(l.name, merge(&l.total, false)))
	}
	c := &r.c
	c.mu.Lock()
	disc := make(map[string]int, len(c.disconnects))
	for k, v := range c.disconnects {
		disc[k] = v
	}
	c.mu.Unlock()
	rep.Counts = Counts{
		Players: r.sc.Players, Spectators: r.sc.Spectators,
		Connected: int(c.connected.Load()), SpectatorsOK: int(c.spectatorsOK.Load()),
		Failed: int(c.failed.Load()), Disconnects: disc,
		ResumesOK: int(c.resumesOK.Load()), ResumesFailed: int(c.resumesFailed.Load()),
		Snapshots: c.snapshots.Load(), SpectatorEvents: c.specEvents.Load(), Inputs: c.inputs.Load(),
		GarbageSent: int(c.garbage.Load()), Frozen: int(c.frozen.Load()), Errors: int(c.errors.Load()),
	}
	sec := window.Seconds()
	var rates []float64
	for _, b := range r.snapshotPlayers() {
		if b.frozen.Load() {
			continue
		}
		rates = append(rates, float64(b.windowSnaps.Load())/sec)
	}
	if len(rates) > 0 {
		sort.Float64s(rates)
		var sum float64
		for _, v := range rates {
			sum += v
		}
		rep.Counts.SnapshotRateMean = sum / float64(len(rates))
		if rep.TickRate > 0 {
			rep.Counts.SnapshotRatePct = rates[0] / float64(rep.TickRate) * 100
		}
	}
	if r.sc.Players > 0 {
		rep.Bytes.PerPlayer = float64(c.playerBytes.Load()) / float64(r.sc.Players) / time.Since(r.start).Seconds()
	}
	if r.sc.Spectators > 0 {
		rep.Bytes.PerSpectator = float64(c.specBytes.Load()) / float64(r.sc.Spectators) / time.Since(r.start).Seconds()
	}
	fo := merge(&r.failover.total, false)
	rep.Failover = Failover{
		Failovers: int(c.failovers.Load()), Recovered: int(c.recovered.Load()), Redirects: c.redirects.Load(),
		P50: ms(fo.ValueAtQuantile(50)), P95: ms(fo.ValueAtQuantile(95)), Max: ms(fo.Max()),
	}
	rep.Bytes.Total = float64(c.playerBytes.Load()+c.specBytes.Load()) / time.Since(r.start).Seconds()
	return rep
}
