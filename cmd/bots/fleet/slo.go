package fleet

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Threshold is one service-level objective checked against a Report, parsed
// from text like "rtt.p99<50ms" or "errors=0" (see ParseSLO).
type Threshold struct {
	Text   string  // as written, trimmed: "rtt.p99 < 50ms"
	Metric string  // "rtt", "errors", "bytes.per_player", ...
	Stat   string  // for latency metrics: p50, p90, p99, max, mean or count; "" otherwise
	Op     string  // <, <=, >, >= or = ("==" is read as "=")
	Value  float64 // in the metric's unit (ms for latencies, bytes/s, µs, ...); in ticks if Unit is "tick"
	Unit   string  // the unit as written ("ms", "tick", "KB", ...); "" for plain numbers
	Raw    string  // the value as written: "50ms", "2tick"
}

// String is the threshold in canonical form: "rtt.p99<50ms".
func (t Threshold) String() string { return t.Name() + t.Op + t.Raw }

// Name is the metric with its stat: "rtt.p99", "errors".
func (t Threshold) Name() string {
	if t.Stat != "" {
		return t.Metric + "." + t.Stat
	}
	return t.Metric
}

// sloLatencyMetrics are the Dist names thresholds can name (with a stat).
var sloLatencyMetrics = map[string]bool{
	"rtt": true, "ack": true, "interarrival": true, "delivery": true, "spectator_delay": true,
}

var sloLatencyStats = map[string]bool{
	"p50": true, "p90": true, "p99": true, "max": true, "mean": true, "count": true,
}

// sloKind says which units a plain (stat-less) metric takes.
type sloKind int

const (
	sloKindCount   sloKind = iota // plain number
	sloKindPercent                // plain number or "%"
	sloKindBytes                  // bytes/s: plain, B, KB/kB, MB, KiB, MiB
	sloKindMicros                 // µs: plain, or a time unit (converted to µs)
)

// sloPlainMetrics are the metrics without a stat, and how to read them.
var sloPlainMetrics = map[string]struct {
	kind sloKind
	get  func(r *Report) (float64, string) // value, or "" and why it is missing
}{
	"errors":                {sloKindCount, func(r *Report) (float64, string) { return float64(r.Counts.Errors), "" }},
	"connected":             {sloKindCount, func(r *Report) (float64, string) { return float64(r.Counts.Connected), "" }},
	"failed":                {sloKindCount, func(r *Report) (float64, string) { return float64(r.Counts.Failed), "" }},
	"spectators_ok":         {sloKindCount, func(r *Report) (float64, string) { return float64(r.Counts.SpectatorsOK), "" }},
	"resumes_ok":            {sloKindCount, func(r *Report) (float64, string) { return float64(r.Counts.ResumesOK), "" }},
	"resumes_failed":        {sloKindCount, func(r *Report) (float64, string) { return float64(r.Counts.ResumesFailed), "" }},
	"snapshots":             {sloKindCount, func(r *Report) (float64, string) { return float64(r.Counts.Snapshots), "" }},
	"disconnects":           {sloKindCount, func(r *Report) (float64, string) { return float64(reportDisconnects(r.Counts.Disconnects)), "" }},
	"snapshot_rate_pct":     {sloKindPercent, func(r *Report) (float64, string) { return r.Counts.SnapshotRatePct, "" }},
	"snapshot_rate_mean":    {sloKindCount, func(r *Report) (float64, string) { return r.Counts.SnapshotRateMean, "" }},
	"bytes.per_player":      {sloKindBytes, func(r *Report) (float64, string) { return r.Bytes.PerPlayer, "" }},
	"bytes.per_spectator":   {sloKindBytes, func(r *Report) (float64, string) { return r.Bytes.PerSpectator, "" }},
	"cpu.per_bot_second_us": {sloKindMicros, func(r *Report) (float64, string) { return r.CPU.PerBotSecondUS, "" }},
	"server.cpu_per_snapshot_us": {sloKindMicros, func(r *Report) (float64, string) {
		if r.Server == nil {
			return 0, "no server metrics (the server's /metrics was not read)"
		}
		return r.Server.CPUPerSnapshotUS, ""
	}},
}

// SLOMetrics lists the metric names a threshold can use, for help texts.
func SLOMetrics() []string {
	var names []string
	for m := range sloLatencyMetrics {
		names = append(names, m+".{p50,p90,p99,max,mean,count}")
	}
	for m := range sloPlainMetrics {
		names = append(names, m)
	}
	sort.Strings(names)
	return names
}

// sloTimeUnits are latency units in milliseconds.
var sloTimeUnits = map[string]float64{
	"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "μs": 1e-3, "ms": 1, "s": 1000,
}

var sloByteUnits = map[string]float64{
	"b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30,
}

// ParseSLO reads comma-separated thresholds, each "metric[.stat] op value[unit]":
//
//	rtt.p99<50ms,interarrival.p99<2tick,errors=0,ack.p50<=30ms,snapshot_rate_pct>=95,connected>=190
//
// Latency metrics (rtt, ack, interarrival, delivery, spectator_delay) need a
// stat (p50, p90, p99, max, mean, count) and, except for count, a unit: ns,
// us, µs, ms, s, or tick (one tick interval of the report's tick rate).
// Plain metrics: errors, connected, failed, spectators_ok, resumes_ok,
// resumes_failed, snapshots, disconnects (all reasons), snapshot_rate_pct
// (optionally with "%"), snapshot_rate_mean, bytes.per_player and
// bytes.per_spectator (bytes/s; B, KB, MB, KiB, MiB allowed),
// cpu.per_bot_second_us and server.cpu_per_snapshot_us (µs, or a time unit).
// Operators: <, <=, >, >=, = (or ==). An empty string is no thresholds.
func ParseSLO(s string) ([]Threshold, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var ts []Threshold
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, fmt.Errorf("slo: empty threshold in %q", s)
		}
		t, err := sloParseThreshold(part)
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	return ts, nil
}

func sloParseThreshold(part string) (Threshold, error) {
	t := Threshold{Text: part}
	i := strings.IndexAny(part, "<>=!")
	if i < 0 {
		return t, fmt.Errorf("slo: no operator (<, <=, >, >=, =) in %q", part)
	}
	j := i + 1
	for j < len(part) && strings.IndexByte("<>=!", part[j]) >= 0 {
		j++
	}
	switch op := part[i:j]; op {
	case "<", "<=", ">", ">=", "=":
		t.Op = op
	case "==":
		t.Op = "="
	default:
		return t, fmt.Errorf("slo: bad operator %q in %q (want <, <=, >, >=, =)", op, part)
	}
	name := strings.TrimSpace(part[:i])
	t.Raw = strings.TrimSpace(part[j:])
	if name == "" {
		return t, fmt.Errorf("slo: no metric in %q", part)
	}
	if t.Raw == "" {
		return t, fmt.Errorf("slo: no value in %q", part)
	}

	// The metric: a plain one (some have a dot), or latency.stat.
	var kind sloKind
	latency := false
	if pm, ok := sloPlainMetrics[name]; ok {
		t.Metric, kind = name, pm.kind
	} else if base, stat, hasDot := strings.Cut(name, "."); sloLatencyMetrics[base] {
		if !hasDot || stat == "" {
			return t, fmt.Errorf("slo: %s needs a stat (%s.p50, .p90, .p99, .max, .mean or .count) in %q", base, base, part)
		}
		if !sloLatencyStats[stat] {
			return t, fmt.Errorf("slo: unknown stat %q of %s in %q (want p50, p90, p99, max, mean or count)", stat, base, part)
		}
		t.Metric, t.Stat, latency = base, stat, stat != "count"
	} else {
		return t, fmt.Errorf("slo: unknown metric %q in %q", sloUnknownName(name), part)
	}

	num, unit := sloSplitNumber(t.Raw)
	v, err := strconv.ParseFloat(num, 64)
	if num == "" || err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return t, fmt.Errorf("slo: bad number %q in %q", t.Raw, part)
	}
	t.Unit = unit
	badUnit := func(want string) error {
		if unit == "" {
			return fmt.Errorf("slo: %s needs a unit (%s) in %q", t.Name(), want, part)
		}
		return fmt.Errorf("slo: unknown unit %q for %s in %q (want %s)", unit, t.Name(), part, want)
	}
	switch {
	case latency:
		if unit == "tick" || unit == "ticks" {
			t.Unit, t.Value = "tick", v // converted at evaluation, with the report's tick rate
		} else if f, ok := sloTimeUnits[unit]; ok {
			t.Value = v * f
		} else {
			return t, badUnit("ns, us, µs, ms, s or tick")
		}
	case kind == sloKindPercent && (unit == "" || unit == "%"):
		t.Value = v
	case kind == sloKindBytes && unit == "":
		t.Value = v
	case kind == sloKindBytes:
		f, ok := sloByteUnits[strings.ToLower(strings.TrimSuffix(unit, "/s"))]
		if !ok {
			return t, badUnit("a number of bytes/s, or B, KB, MB, KiB, MiB")
		}
		t.Value = v * f
	case kind == sloKindMicros && unit == "":
		t.Value = v
	case kind == sloKindMicros:
		f, ok := sloTimeUnits[unit]
		if !ok {
			return t, badUnit("a number of µs, or ns, us, ms, s")
		}
		t.Value = v * f * 1000
	case unit != "":
		return t, fmt.Errorf("slo: %s is a plain number, not %q, in %q", t.Name(), unit, part)
	default:
		t.Value = v
	}
	return t, nil
}

// sloUnknownName is the part of an unknown metric name to complain about: the
// whole name if its first part is a known prefix ("bytes.per_playr"), else
// the first part ("rtx" of "rtx.p99").
func sloUnknownName(name string) string {
	base, _, ok := strings.Cut(name, ".")
	if !ok {
		return name
	}
	for m := range sloPlainMetrics {
		if strings.HasPrefix(m, base+".") {
			return name
		}
	}
	return base
}

// sloSplitNumber splits "50ms" into "50" and "ms", "1.5e3us" into "1.5e3" and "us".
func sloSplitNumber(s string) (num, unit string) {
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c == '.':
		case (c == '+' || c == '-') && (i == 0 || s[i-1] == 'e' || s[i-1] == 'E'):
		case (c == 'e' || c == 'E') && i > 0 && i+1 < len(s) &&
			(s[i+1] >= '0' && s[i+1] <= '9' || s[i+1] == '+' || s[i+1] == '-'):
		default:
			return s[:i], strings.TrimSpace(s[i:])
		}
		i++
	}
	return s, ""
}

// Evaluate checks the report against the thresholds and returns one
// human-readable line per threshold not met, e.g.
// "rtt.p99 = 73.2ms, want < 50ms". A latency threshold over a distribution
// with no samples is not met ("rtt.p99: no samples"), nor is a threshold in
// ticks when the report's tick rate is unknown.
func Evaluate(r *Report, ts []Threshold) []string {
	var out []string
	for _, t := range ts {
		if msg := sloEvaluate(r, t); msg != "" {
			out = append(out, msg)
		}
	}
	return out
}

func sloEvaluate(r *Report, t Threshold) string {
	want := "want " + sloOpText(t.Op) + " " + t.Raw
	if t.Stat == "" {
		pm, ok := sloPlainMetrics[t.Metric]
		if !ok {
			return fmt.Sprintf("%s: unknown metric", t.Name())
		}
		v, missing := pm.get(r)
		if missing != "" {
			return fmt.Sprintf("%s: %s", t.Name(), missing)
		}
		if sloCompare(v, t.Op, t.Value) {
			return ""
		}
		return fmt.Sprintf("%s = %s, %s", t.Name(), sloPlainValue(v, t), want)
	}

	d, ok := reportDist(r.Latencies, t.Metric)
	if t.Stat == "count" {
		v := float64(d.Count) // 0 if absent
		if sloCompare(v, t.Op, t.Value) {
			return ""
		}
		return fmt.Sprintf("%s = %d, %s", t.Name(), d.Count, want)
	}
	if !ok || d.Count == 0 {
		return fmt.Sprintf("%s: no samples, %s", t.Name(), want)
	}
	v := sloStat(d, t.Stat)
	limit := t.Value
	if t.Unit == "tick" {
		if r.TickRate <= 0 {
			return fmt.Sprintf("%s: cannot check %s: the tick rate of the run is unknown (tick_rate 0); use a time unit such as ms", t.Name(), t.String())
		}
		tickMS := 1000 / float64(r.TickRate)
		limit = t.Value * tickMS
		if sloCompare(v, t.Op, limit) {
			return ""
		}
		return fmt.Sprintf("%s = %stick (%sms), %s (%sms at %d Hz)", t.Name(),
			sloDistinct(v/tickMS, t.Value), sloDistinct(v, limit), want, reportNum(limit), r.TickRate)
	}
	if math.IsNaN(v) {
		return fmt.Sprintf("%s: not a number, %s", t.Name(), want)
	}
	if sloCompare(v, t.Op, limit) {
		return ""
	}
	// The measured value in the unit the threshold was written in.
	f := sloTimeUnits[t.Unit]
	return fmt.Sprintf("%s = %s%s, %s", t.Name(), sloDistinct(v/f, t.Value/f), t.Unit, want)
}

func sloPlainValue(v float64, t Threshold) string {
	switch sloPlainMetrics[t.Metric].kind {
	case sloKindPercent:
		return sloDistinct(v, t.Value) + "%"
	case sloKindBytes:
		if t.Unit != "" {
			f := sloByteUnits[strings.ToLower(strings.TrimSuffix(t.Unit, "/s"))]
			return sloDistinct(v/f, t.Value/f) + t.Unit
		}
	case sloKindMicros:
		if t.Unit != "" {
			f := sloTimeUnits[t.Unit] * 1000
			return sloDistinct(v/f, t.Value/f) + t.Unit
		}
	}
	return sloDistinct(v, t.Value)
}

func sloCompare(v float64, op string, limit float64) bool {
	switch op {
	case "<":
		return v < limit
	case "<=":
		return v <= limit
	case ">":
		return v > limit
	case ">=":
		return v >= limit
	case "=", "==":
		return v == limit
	}
	return false
}

func sloOpText(op string) string {
	if op == "==" {
		return "="
	}
	return op
}

func reportDist(ds []Dist, name string) (Dist, bool) {
	for _, d := range ds {
		if d.Name == name {
			return d, true
		}
	}
	return Dist{Name: name}, false
}

func sloStat(d Dist, stat string) float64 {
	switch stat {
	case "p50":
		return d.P50
	case "p90":
		return d.P90
	case "p99":
		return d.P99
	case "max":
		return d.Max
	case "mean":
		return d.Mean
	case "count":
		return float64(d.Count)
	}
	return math.NaN()
}

func reportDisconnects(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// reportNum formats v with a precision that suits its size: 73.2, 0.153, 1240.
func reportNum(v float64) string { return reportPrec(v, reportPrecFor(v)) }

func reportPrecFor(v float64) int {
	a := math.Abs(v)
	switch {
	case a == math.Trunc(a) || a >= 1000:
		return 0
	case a >= 100:
		return 1
	case a >= 10:
		return 1
	case a >= 1:
		return 2
	default:
		return 3
	}
}

func reportPrec(v float64, prec int) string {
	s := strconv.FormatFloat(v, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// sloDistinct formats v like reportNum, with more digits if it would otherwise
// read the same as the limit it is compared with ("50ms, want < 50ms").
func sloDistinct(v, limit float64) string {
	if v == limit {
		return strconv.FormatFloat(v, 'f', -1, 64) // "73.25ms, want < 73.25ms"
	}
	p := reportPrecFor(v)
	s := reportPrec(v, p)
	for v != limit && s == reportPrec(limit, p) && p < 9 {
		p++
		s = reportPrec(v, p)
	}
	return s
}
