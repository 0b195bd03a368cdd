package fleet

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// reportFact is one line of the summary, shared by the table and the HTML
// page so that both show the same facts.
type reportFact struct {
	Section    string // Scenario, Connections, Traffic, CPU
	Key, Value string
}

// reportFacts is the report's facts, in order, without the latency table and
// the verdict.
func (r *Report) reportFacts() []reportFact {
	sc := r.Scenario
	c := r.Counts
	var f []reportFact
	section := ""
	add := func(k, format string, args ...any) {
		f = append(f, reportFact{section, k, fmt.Sprintf(format, args...)})
	}

	section = "Scenario"
	run := "duration " + reportOr(reportDur(sc.Duration), "default")
	if sc.RampUp > 0 {
		run += " after a " + reportDur(sc.RampUp) + " ramp-up"
	}
	add("scenario", "%d players, %d spectators, behaviour %s, %s, %s",
		c.Players, c.Spectators, reportOr(sc.Behaviour, "default"), run, reportOr(reportPrintable(sc.URL), "default URL"))
	var more []string
	if !r.Started.IsZero() {
		more = append(more, "started "+r.Started.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	if r.Elapsed > 0 {
		more = append(more, "elapsed "+reportDur(r.Elapsed))
	}
	if r.TickRate > 0 {
		more = append(more, fmt.Sprintf("tick rate %d Hz", r.TickRate))
	} else {
		more = append(more, "tick rate unknown")
	}
	if sc.Spread != "" {
		more = append(more, "spread "+reportPrintable(sc.Spread))
	}
	if sc.InputRate > 0 {
		more = append(more, "inputs "+reportNum(sc.InputRate)+"/s per player")
	}
	if len(sc.Mix) > 0 {
		more = append(more, "spectators over "+reportMix(sc.Mix))
	}
	if sc.Seed != 0 {
		more = append(more, "seed "+strconv.FormatUint(sc.Seed, 10))
	}
	add("", "%s", strings.Join(more, ", "))
	if sc.Behaviour == "chaos" {
		add("chaos", "drop %s/s, garbage %s/s per player, %s%% frozen readers; garbage sent %s, readers frozen %s",
			reportNum(sc.DropRate), reportNum(sc.GarbageRate), reportNum(sc.FreezeRatio*100), reportInt(int64(c.GarbageSent)), reportInt(int64(c.Frozen)))
	}
	if sc.SLO != "" {
		add("slo", "%s", reportPrintable(sc.SLO))
	}

	section = "Connections"
	add("connected", "%s/%s players, %s failed, %s/%s spectators ok",
		reportInt(int64(c.Connected)), reportInt(int64(c.Players)), reportInt(int64(c.Failed)),
		reportInt(int64(c.SpectatorsOK)), reportInt(int64(c.Spectators)))
	add("disconnects", "%s", reportDisconnectText(c.Disconnects))
	add("resumes", "%s ok, %s failed", reportInt(int64(c.ResumesOK)), reportInt(int64(c.ResumesFailed)))
	fo := r.Failover
	if fo.Failovers > 0 || fo.Redirects > 0 {
		line := fmt.Sprintf("%s failovers, %s recovered", reportInt(int64(fo.Failovers)), reportInt(int64(fo.Recovered)))
		if fo.Recovered > 0 {
			line += fmt.Sprintf("; socket error to first snapshot p50 %s ms, p95 %s ms, max %s ms",
				reportMS(fo.P50), reportMS(fo.P95), reportMS(fo.Max))
		}
		add("failovers", "%s; %s redirects followed", line, reportInt(fo.Redirects))
	}
	add("errors", "%s", reportInt(int64(c.Errors)))
	add("messages", "%s snapshots, %s spectator events received; %s inputs sent",
		reportInt(c.Snapshots), reportInt(c.SpectatorEvents), reportInt(c.Inputs))

	section = "Traffic"
	add("bytes/s", "%s per player, %s per spectator, %s in all",
		reportBytesPS(r.Bytes.PerPlayer), reportBytesPS(r.Bytes.PerSpectator), reportBytesPS(r.Bytes.Total))
	rate := "mean " + reportNum(c.SnapshotRateMean) + "/s"
	if r.TickRate > 0 {
		rate += fmt.Sprintf(" (%s%% of %d Hz)", reportNum(c.SnapshotRateMean*100/float64(r.TickRate)), r.TickRate)
	}
	rate += ", worst player " + reportNum(c.SnapshotRatePct) + "% of the tick rate"
	add("snapshot rate", "%s", rate)

	section = "CPU"
	add("bots cpu", "%s s, %s µs per bot-second, %s%% of a core",
		reportNum(r.CPU.Seconds), reportNum(r.CPU.PerBotSecondUS), reportNum(r.CPU.UtilizationPct))
	if s := r.Server; s != nil {
		add("server cpu", "%s µs per delivered snapshot (%s s CPU, %s snapshots sent, %s sessions)",
			reportNum(s.CPUPerSnapshotUS), reportNum(s.CPUSeconds), reportInt(int64(s.SnapshotsSent)), reportInt(int64(s.Sessions)))
	}
	return f
}

// reportLatencyRow is one line of the latency table, formatted in ms.
type reportLatencyRow struct {
	Name                     string
	Count                    string
	Mean, P50, P90, P99, Max string
	Empty                    bool
}

func (r *Report) reportLatencyRows() []reportLatencyRow {
	rows := make([]reportLatencyRow, 0, len(r.Latencies))
	for _, d := range r.Latencies {
		row := reportLatencyRow{Name: reportPrintable(d.Name), Count: reportInt(d.Count)}
		if d.Count == 0 {
			row.Empty = true
			row.Mean, row.P50, row.P90, row.P99, row.Max = "-", "-", "-", "-", "-"
		} else {
			row.Mean, row.P50, row.P90, row.P99, row.Max = reportMS(d.Mean), reportMS(d.P50), reportMS(d.P90), reportMS(d.P99), reportMS(d.Max)
		}
		rows = append(rows, row)
	}
	return rows
}

// reportVerdict is "PASS" or "FAIL" and a short explanation.
func (r *Report) reportVerdict() (pass bool, line string) {
	if n := len(r.Breaches); n > 0 {
		if n == 1 {
			return false, "1 threshold not met"
		}
		return false, fmt.Sprintf("%d thresholds not met", n)
	}
	if r.Scenario.SLO == "" {
		return true, "no thresholds set"
	}
	return true, "all thresholds met"
}

func reportDisconnectText(m map[string]int) string {
	total := reportDisconnects(m)
	if total == 0 {
		return "none"
	}
	type kv struct {
		k string
		n int
	}
	var kvs []kv
	for k, n := range m {
		if n != 0 {
			kvs = append(kvs, kv{k, n})
		}
	}
	sort.Slice(kvs, func(i, j int) bool {
		if kvs[i].n != kvs[j].n {
			return kvs[i].n > kvs[j].n
		}
		return kvs[i].k < kvs[j].k
	})
	parts := make([]string, len(kvs))
	for i, e := range kvs {
		parts[i] = fmt.Sprintf("%s %s", reportOr(reportPrintable(e.k), `""`), reportInt(int64(e.n)))
	}
	return fmt.Sprintf("%s (%s)", reportInt(int64(total)), strings.Join(parts, ", "))
}

func reportMix(mix map[string]float64) string {
	keys := make([]string, 0, len(mix))
	for k := range mix {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = reportPrintable(k) + " " + reportNum(mix[k])
	}
	return strings.Join(parts, ", ")
}

func reportDur(d Duration) string {
	if d <= 0 {
		return ""
	}
	t := time.Duration(d)
	if t >= time.Second {
		t = t.Round(100 * time.Millisecond)
	}
	return t.String()
}

func reportOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// reportPrintable replaces control characters (which could garble a terminal) in
// text from the scenario or the server.
func reportPrintable(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }) < 0 {
		return s
	}
	q := strconv.QuoteToGraphic(s)
	return q[1 : len(q)-1]
}

// reportMS formats milliseconds for the latency table: 0.153, 4.27, 73.2, 1240.
func reportMS(v float64) string {
	a := math.Abs(v)
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return fmt.Sprint(v)
	case a == 0:
		return "0"
	case a < 1:
		return strconv.FormatFloat(v, 'f', 3, 64)
	case a < 10:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case a < 1000:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
}

// reportInt formats an integer with thousands separators: 1,234,567.
func reportInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// reportBytesPS formats bytes per second with SI prefixes: 812 B/s, 12.4 kB/s.
func reportBytesPS(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e9:
		return reportSig(v/1e9) + " GB/s"
	case a >= 1e6:
		return reportSig(v/1e6) + " MB/s"
	case a >= 1e3:
		return reportSig(v/1e3) + " kB/s"
	default:
		return reportPrec(v, 0) + " B/s"
	}
}

// reportSig formats with three significant digits (for 1 ≤ |v| < 1000): 1.23, 12.3, 123.
func reportSig(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}
