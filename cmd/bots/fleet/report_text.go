package fleet

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
)

// WriteTable writes the report as a fixed-width table for a terminal: the
// scenario, what happened to connections, latency distributions (ms),
// traffic, CPU, and PASS or the thresholds not met (r.Breaches).
func (r *Report) WriteTable(w io.Writer) {
	bw := bufio.NewWriter(w)
	defer bw.Flush()

	const keyWidth = 15
	section := ""
	for _, f := range r.reportFacts() {
		if f.Section != section && section != "" {
			fmt.Fprintln(bw)
		}
		section = f.Section
		fmt.Fprintf(bw, "%-*s%s\n", keyWidth, f.Key, f.Value)
	}

	rows := r.reportLatencyRows()
	if len(rows) > 0 {
		nameWidth := len("latency (ms)")
		for _, row := range rows {
			nameWidth = max(nameWidth, len(row.Name))
		}
		fmt.Fprintln(bw)
		fmt.Fprintf(bw, "%-*s %10s %9s %9s %9s %9s %9s\n", nameWidth, "latency (ms)", "count", "mean", "p50", "p90", "p99", "max")
		for _, row := range rows {
			fmt.Fprintf(bw, "%-*s %10s %9s %9s %9s %9s %9s\n", nameWidth, row.Name, row.Count, row.Mean, row.P50, row.P90, row.P99, row.Max)
		}
	} else {
		fmt.Fprintf(bw, "\n%-*s%s\n", keyWidth, "latency", "no distributions recorded")
	}

	fmt.Fprintln(bw)
	pass, why := r.reportVerdict()
	if pass {
		fmt.Fprintf(bw, "PASS  %s\n", why)
		return
	}
	fmt.Fprintf(bw, "FAIL  %s:\n", why)
	for _, b := range r.Breaches {
		fmt.Fprintf(bw, "  - %s\n", reportPrintable(b))
	}
}

// WriteJSON writes the report as indented JSON. Values that JSON cannot
// carry (NaN, ±Inf, from a division by zero somewhere) are written as 0
// rather than failing the whole report.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // "rtt.p99<50ms" stays readable
	return enc.Encode(r.finiteCopy())
}

// finiteCopy returns r, or a copy with NaN and ±Inf floats replaced by 0.
func (r *Report) finiteCopy() *Report {
	bad := false
	check := func(vs ...float64) {
		for _, v := range vs {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				bad = true
			}
		}
	}
	sc := &r.Scenario
	check(sc.InputRate, sc.DropRate, sc.GarbageRate, sc.FreezeRatio, sc.SpectatorRate, sc.SpectatorDelay,
		r.Counts.SnapshotRatePct, r.Counts.SnapshotRateMean,
		r.Bytes.PerPlayer, r.Bytes.PerSpectator, r.Bytes.Total,
		r.CPU.Seconds, r.CPU.PerBotSecondUS, r.CPU.UtilizationPct, r.Failover.P50, r.Failover.P95, r.Failover.Max)
	for _, v := range sc.Mix {
		check(v)
	}
	for _, d := range r.Latencies {
		check(d.Mean, d.P50, d.P90, d.P99, d.Max)
	}
	if s := r.Server; s != nil {
		check(s.CPUSeconds, s.SnapshotsSent, s.CPUPerSnapshotUS, s.Sessions)
	}
	for _, s := range r.Series {
		check(s.T, s.SnapshotsPS, s.BytesPS, s.RTTP50, s.RTTP99, s.AckP99, s.InterP99, s.DeliveryP99)
	}
	if !bad {
		return r
	}

	c := *r
	fix := func(ps ...*float64) {
		for _, p := range ps {
			if math.IsNaN(*p) || math.IsInf(*p, 0) {
				*p = 0
			}
		}
	}
	sc = &c.Scenario
	fix(&sc.InputRate, &sc.DropRate, &sc.GarbageRate, &sc.FreezeRatio, &sc.SpectatorRate, &sc.SpectatorDelay,
		&c.Counts.SnapshotRatePct, &c.Counts.SnapshotRateMean,
		&c.Bytes.PerPlayer, &c.Bytes.PerSpectator, &c.Bytes.Total,
		&c.CPU.Seconds, &c.CPU.PerBotSecondUS, &c.CPU.UtilizationPct, &c.Failover.P50, &c.Failover.P95, &c.Failover.Max)
	if sc.Mix != nil {
		sc.Mix = make(map[string]float64, len(r.Scenario.Mix))
		for k, v := range r.Scenario.Mix {
			fix(&v)
			sc.Mix[k] = v
		}
	}
	c.Latencies = append([]Dist(nil), r.Latencies...)
	for i := range c.Latencies {
		d := &c.Latencies[i]
		fix(&d.Mean, &d.P50, &d.P90, &d.P99, &d.Max)
	}
	if r.Server != nil {
		s := *r.Server
		fix(&s.CPUSeconds, &s.SnapshotsSent, &s.CPUPerSnapshotUS, &s.Sessions)
		c.Server = &s
	}
	c.Series = append([]Sample(nil), r.Series...)
	for i := range c.Series {
		s := &c.Series[i]
		fix(&s.T, &s.SnapshotsPS, &s.BytesPS, &s.RTTP50, &s.RTTP99, &s.AckP99, &s.InterP99, &s.DeliveryP99)
	}
	return &c
}
