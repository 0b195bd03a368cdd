package fleet

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// reportExample is a synthetic run: 200 players and 20 spectators over a
// minute, with a latency spike in the middle and a few breaches.
func reportExample(t testing.TB) *Report {
	r := &Report{
		Scenario: Scenario{
			URL: "ws://127.0.0.1:8080", Players: 200, Spectators: 20,
			Mix:    map[string]float64{"sse": 1, "ws": 1},
			Spread: "per-match:8", TickRate: 20, RampUp: Duration(5 * time.Second), Duration: Duration(55 * time.Second),
			InputRate: 10, Behaviour: "chaos", DropRate: 0.01, GarbageRate: 0.002, FreezeRatio: 0.05, Seed: 42,
			SLO: "rtt.p99<50ms,interarrival.p99<2tick,errors=0,ack.p50<=30ms,snapshot_rate_pct>=95,connected>=190",
		},
		Started:  time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC),
		Elapsed:  Duration(60*time.Second + 250*time.Millisecond),
		TickRate: 20,
		Counts: Counts{
			Players: 200, Spectators: 20, Connected: 196, SpectatorsOK: 20, Failed: 4,
			Disconnects: map[string]int{"connection_lost": 7, "too_slow": 2, "heartbeat_timeout": 2},
			ResumesOK:   31, ResumesFailed: 2,
			Snapshots: 230812, SpectatorEvents: 23950, Inputs: 117600,
			GarbageSent: 12, Frozen: 10, Errors: 6,
			SnapshotRatePct: 91.5, SnapshotRateMean: 19.62,
		},
		Latencies: []Dist{
			{Name: "rtt", Count: 11760, Mean: 14.31, P50: 11.2, P90: 28.4, P99: 73.25, Max: 212.7},
			{Name: "ack", Count: 117480, Mean: 21.5, P50: 18.9, P90: 34.1, P99: 61.3, Max: 240.2},
			{Name: "interarrival", Count: 230616, Mean: 50.1, P50: 49.8, P90: 58.3, P99: 121.4, Max: 512},
			{Name: "delivery", Count: 230812, Mean: 6.4, P50: 4.1, P90: 12.7, P99: 38.9, Max: 190.3},
			{Name: "spectator_delay", Count: 0},
		},
		Bytes:    Bytes{PerPlayer: 3412.5, PerSpectator: 9120, Total: 3412.5*196 + 9120*20},
		CPU:      CPU{Seconds: 9.82, PerBotSecondUS: 744.2, UtilizationPct: 16.3},
		Server:   &Server{CPUSeconds: 21.4, SnapshotsSent: 231000, CPUPerSnapshotUS: 92.6, Sessions: 196},
		Failover: Failover{Failovers: 12, Recovered: 11, P50: 812.5, P95: 2210, Max: 3120.4, Redirects: 40},
	}
	for i := 0; i < 60; i++ {
		s := Sample{T: float64(i + 1)}
		ramp := math.Min(1, float64(i+1)/5)
		s.Connected = int(math.Round(196 * ramp))
		if i >= 30 && i < 34 {
			s.Connected -= 5 // chaos drops
		}
		s.Spectators = int(math.Round(20 * ramp))
		s.SnapshotsPS = float64(s.Connected) * (19.5 + math.Sin(float64(i)/3)/2)
		s.BytesPS = float64(s.Connected)*3412.5 + float64(s.Spectators)*9120 + 4000*math.Sin(float64(i)/5)
		spike := 0.0
		if i >= 28 && i < 36 {
			spike = 60 * math.Sin(float64(i-28)/8*math.Pi)
		}
		s.RTTP50 = 10 + 2*math.Sin(float64(i)/4) + spike/6
		s.RTTP99 = 30 + 6*math.Sin(float64(i)/3) + spike
		s.AckP99 = 40 + 5*math.Cos(float64(i)/4) + spike*1.2
		s.InterP99 = 60 + 8*math.Sin(float64(i)/2) + spike
		s.DeliveryP99 = 15 + 4*math.Sin(float64(i)/5) + spike/2
		if i >= 31 { // a running total, as the runner samples it
			s.Errors = 3 * min(2, i-30)
		}
		r.Series = append(r.Series, s)
	}
	ts, err := ParseSLO(r.Scenario.SLO)
	if err != nil {
		t.Fatal(err)
	}
	r.Breaches = Evaluate(r, ts)
	return r
}

func TestReportExampleBreaches(t *testing.T) {
	r := reportExample(t)
	want := []string{
		"rtt.p99 = 73.2ms, want < 50ms",
		"interarrival.p99 = 2.43tick (121.4ms), want < 2tick (100ms at 20 Hz)",
		"errors = 6, want = 0",
		"snapshot_rate_pct = 91.5%, want >= 95",
	}
	if !reflect.DeepEqual(r.Breaches, want) {
		t.Errorf("breaches:\n%q\nwant\n%q", r.Breaches, want)
	}
}

func TestReportTable(t *testing.T) {
	r := reportExample(t)
	var b strings.Builder
	r.WriteTable(&b)
	out := b.String()
	t.Log("\n" + out)
	for _, want := range []string{
		"200 players, 20 spectators, behaviour chaos, duration 55s after a 5s ramp-up, ws://127.0.0.1:8080",
		"tick rate 20 Hz",
		"196/200 players, 4 failed, 20/20 spectators ok",
		"11 (connection_lost 7, heartbeat_timeout 2, too_slow 2)",
		"31 ok, 2 failed",
		"errors         6",
		"230,812 snapshots",
		"3.41 kB/s per player, 9.12 kB/s per spectator",
		"mean 19.6/s (98.1% of 20 Hz), worst player 91.5% of the tick rate",
		"9.82 s, 744.2 µs per bot-second, 16.3% of a core",
		"92.6 µs per delivered snapshot",
		"failovers      12 failovers, 11 recovered; socket error to first snapshot p50 812.5 ms, p95 2210 ms, max 3120 ms; 40 redirects followed",
		"FAIL  4 thresholds not met:",
		"  - rtt.p99 = 73.2ms, want < 50ms",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q", want)
		}
	}
	// The latency table: one line per distribution, in ms.
	for _, re := range [][]string{
		{"rtt", "11,760", "14.3", "11.2", "28.4", "73.2", "212.7"},
		{"interarrival", "230,616", "50.1", "49.8", "58.3", "121.4", "512.0"},
		{"spectator_delay", "0", "-", "-", "-", "-", "-"},
	} {
		found := false
		for _, line := range strings.Split(out, "\n") {
			if reflect.DeepEqual(strings.Fields(line), re) {
				found = true
			}
		}
		if !found {
			t.Errorf("no latency line %q", re)
		}
	}

	// Passing, and with no thresholds at all.
	r.Breaches = nil
	b.Reset()
	r.WriteTable(&b)
	if !strings.Contains(b.String(), "PASS  all thresholds met") || strings.Contains(b.String(), "FAIL") {
		t.Errorf("pass table:\n%s", b.String())
	}
	r.Scenario.SLO = ""
	b.Reset()
	r.WriteTable(&b)
	if !strings.Contains(b.String(), "PASS  no thresholds set") {
		t.Errorf("no-threshold table:\n%s", b.String())
	}
}

func TestReportTableEmpty(t *testing.T) {
	var b strings.Builder
	(&Report{}).WriteTable(&b)
	for _, want := range []string{"0 players", "tick rate unknown", "disconnects    none", "no distributions recorded", "PASS"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("empty report table lacks %q:\n%s", want, b.String())
		}
	}
}

func TestReportJSONRoundTrip(t *testing.T) {
	r := reportExample(t)
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "\n  \"scenario\": {") || !strings.Contains(b.String(), `"rtt.p99<50ms,`) {
		t.Errorf("not indented JSON with readable thresholds:\n%.400s", b.String())
	}
	var got Report
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if !got.Started.Equal(r.Started) {
		t.Errorf("started %v, want %v", got.Started, r.Started)
	}
	got.Started, r.Started = time.Time{}, time.Time{}
	if !reflect.DeepEqual(&got, r) {
		a, _ := json.Marshal(got)
		w, _ := json.Marshal(r)
		t.Errorf("round trip differs:\n%s\n%s", a, w)
	}
}

func TestReportJSONNotFinite(t *testing.T) {
	r := reportExample(t)
	r.Counts.SnapshotRatePct = math.NaN()
	r.Latencies[0].Mean = math.Inf(1)
	r.Series[3].RTTP99 = math.NaN()
	r.Failover.P95 = math.Inf(1)
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatalf("WriteJSON with NaN: %v", err)
	}
	var got Report
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Counts.SnapshotRatePct != 0 || got.Latencies[0].Mean != 0 || got.Series[3].RTTP99 != 0 || got.Latencies[0].P99 != 73.25 ||
		got.Failover.P95 != 0 || got.Failover.P50 != 812.5 {
		t.Errorf("non-finite values not written as 0: %+v %+v", got.Counts, got.Latencies[0])
	}
	if !math.IsNaN(r.Counts.SnapshotRatePct) || !math.IsNaN(r.Series[3].RTTP99) {
		t.Error("WriteJSON changed the report")
	}
	if err := r.WriteHTML(io.Discard); err != nil {
		t.Errorf("WriteHTML with NaN: %v", err)
	}
}

func reportHTMLOf(t *testing.T, r *Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := r.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	reportWellFormed(t, b.String())
	return b.String()
}

// reportWellFormed parses the page as XML: every element closed and nested
// properly, attributes quoted, no stray '<' or '&'.
func reportWellFormed(t *testing.T, page string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(page))
	d.Strict = true
	var stack []string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("page is not well-formed: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			stack = append(stack, tok.Name.Local)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) != 0 {
		t.Fatalf("unclosed elements %v", stack)
	}
}

func TestReportHTML(t *testing.T) {
	r := reportExample(t)
	page := reportHTMLOf(t, r)
	if !strings.HasPrefix(page, "<!DOCTYPE html>") || !strings.HasSuffix(strings.TrimSpace(page), "</html>") {
		t.Errorf("not a whole page: %.80q ... %q", page, page[max(0, len(page)-80):])
	}
	for _, want := range []string{
		"<style>", `class="card verdict fail"`, ">FAIL<",
		"<li>rtt.p99 = 73.2ms, want &lt; 50ms</li>",
		"196/200", "11,760", "73.2", "92.6 µs per delivered snapshot",
		"Latency percentiles per second", "Connected players and spectators",
		"Bytes received per second", "Snapshots received per second", "expected: connected players × 20 Hz",
		"Errors (running total)", "ramp-up ends",
		"SLO rtt.p99&lt;50ms", "SLO interarrival.p99&lt;2tick", "players asked for (200)",
		"time since start (s)", ">kB/s<", ">ms<",
		"12 failovers, 11 recovered; socket error to first snapshot p50 812.5 ms, p95 2210 ms",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if n := strings.Count(page, "<svg class=\"plot\""); n != 5 {
		t.Errorf("%d charts, want 5", n)
	}
	// 5 latency lines, players + spectators, bytes, snapshots + expected, errors.
	if n := strings.Count(page, "<polyline "); n != 11 {
		t.Errorf("%d polylines, want 11", n)
	}
	if i := strings.Index(page, `points="`); i < 0 || strings.Count(page[i:i+2000], ",") < 50 {
		t.Errorf("polyline without points: %.200s", page[i:])
	}
	for _, bad := range []string{"http://", "https://", "<script", "<link", "@import", "url(", " src="} {
		if strings.Contains(page, bad) {
			t.Errorf("page contains %q (must be self-contained)", bad)
		}
	}

	r.Breaches = nil
	page = reportHTMLOf(t, r)
	if !strings.Contains(page, `class="card verdict pass"`) || strings.Contains(page, ">FAIL<") {
		t.Error("passing report not shown as PASS")
	}
}

func TestReportHTMLEscapes(t *testing.T) {
	r := reportExample(t)
	hostile := `"><script>alert(1)</script><img onerror=x>`
	r.Scenario.URL = "ws://host/" + hostile
	r.Scenario.Behaviour = hostile
	r.Scenario.Spread = "match:" + hostile
	r.Scenario.SLO = hostile
	r.Counts.Disconnects[hostile] = 1
	r.Latencies[0].Name = hostile
	r.Breaches = append(r.Breaches, hostile)
	page := reportHTMLOf(t, r)
	for _, bad := range []string{"<script", "<img", "alert(1)</"} {
		if strings.Contains(page, bad) {
			t.Errorf("hostile text not escaped: page contains %q", bad)
		}
	}
	if !strings.Contains(page, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("hostile text missing (escaped) from the page")
	}
}

func TestReportHTMLEmptySeries(t *testing.T) {
	r := reportExample(t)
	r.Series = nil
	page := reportHTMLOf(t, r)
	if strings.Contains(page, "<polyline") || strings.Contains(page, `class="plot"`) {
		t.Error("charts drawn without samples")
	}
	if !strings.Contains(page, "No time series") {
		t.Error("no note for the missing series")
	}

	// One sample: dots, not lines; an empty report renders too.
	r.Series = reportExample(t).Series[:1]
	page = reportHTMLOf(t, r)
	if !strings.Contains(page, "<circle ") {
		t.Error("a single sample is not drawn")
	}
	reportHTMLOf(t, &Report{})
}

func TestReportChartAxes(t *testing.T) {
	r := reportExample(t)
	cs := r.reportCharts()
	lat := cs[0]
	// The data peak at ~117 ms: the axis is 0..125 with round ticks, the 50 ms and
	// 100 ms (2 ticks) thresholds on it, the ack p50 threshold (no line) absent.
	var labels []string
	for _, tk := range lat.YTicks {
		labels = append(labels, tk.Label)
	}
	if got := strings.Join(labels, " "); got != "0 25 50 75 100 125" {
		t.Errorf("latency y ticks %q", got)
	}
	if len(lat.Rules) != 2 {
		t.Errorf("latency rules %+v", lat.Rules)
	}
	labels = nil
	for _, tk := range lat.XTicks {
		labels = append(labels, tk.Label)
	}
	if got := strings.Join(labels, " "); got != "0 10 20 30 40 50 60" {
		t.Errorf("x ticks %q", got)
	}
	// A long run: whole minutes on the time axis.
	long := &Report{Series: []Sample{{T: 1, RTTP99: 5}, {T: 1800, RTTP99: 7}, {T: 3600, RTTP99: 6}}}
	labels = nil
	for _, tk := range long.reportCharts()[0].XTicks {
		labels = append(labels, tk.Label)
	}
	if got := strings.Join(labels, " "); got != "0:00 10:00 20:00 30:00 40:00 50:00 60:00" {
		t.Errorf("long run x ticks %q", got)
	}
	if bs := cs[2]; bs.YLabel != "kB/s" {
		t.Errorf("bytes chart in %q", bs.YLabel)
	}
	for _, c := range cs {
		for _, l := range c.Lines {
			for _, p := range strings.Fields(l.Points) {
				var x, y float64
				if _, err := reportParsePoint(p, &x, &y); err != nil || x < c.L-0.1 || x > c.R+0.1 || y < c.T-0.1 || y > c.B+0.1 {
					t.Fatalf("%s: point %q outside the plot (%v)", c.Title, p, err)
				}
			}
		}
	}
}

func reportParsePoint(p string, x, y *float64) (int, error) {
	xs, ys, _ := strings.Cut(p, ",")
	if err := json.Unmarshal([]byte(xs), x); err != nil {
		return 0, err
	}
	return 2, json.Unmarshal([]byte(ys), y)
}

// TestReportWriteExample writes the example report's table, JSON and HTML
// to $BOTS_REPORT_DIR, to look at them: BOTS_REPORT_DIR=/tmp go test -run WriteExample.
func TestReportWriteExample(t *testing.T) {
	dir := os.Getenv("BOTS_REPORT_DIR")
	if dir == "" {
		t.Skip("BOTS_REPORT_DIR not set")
	}
	r := reportExample(t)
	var table, js, page bytes.Buffer
	r.WriteTable(&table)
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"report.txt": table.Bytes(), "report.json": js.Bytes(), "report.html": page.Bytes()} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
