package fleet

import (
	"reflect"
	"strings"
	"testing"
)

func TestSLOParse(t *testing.T) {
	th := func(metric, stat, op string, value float64, unit, raw string) Threshold {
		return Threshold{Metric: metric, Stat: stat, Op: op, Value: value, Unit: unit, Raw: raw}
	}
	for _, tc := range []struct {
		in   string
		want []Threshold
	}{
		{"", nil},
		{"  ", nil},
		{"rtt.p99<50ms,interarrival.p99<2tick,errors=0,ack.p50<=30ms,snapshot_rate_pct>=95,connected>=190", []Threshold{
			th("rtt", "p99", "<", 50, "ms", "50ms"),
			th("interarrival", "p99", "<", 2, "tick", "2tick"),
			th("errors", "", "=", 0, "", "0"),
			th("ack", "p50", "<=", 30, "ms", "30ms"),
			th("snapshot_rate_pct", "", ">=", 95, "", "95"),
			th("connected", "", ">=", 190, "", "190"),
		}},
		{" rtt.p99 < 50 ms , errors == 0 ", []Threshold{th("rtt", "p99", "<", 50, "ms", "50 ms"), th("errors", "", "=", 0, "", "0")}},
		{"rtt.max<1.5s", []Threshold{th("rtt", "max", "<", 1500, "s", "1.5s")}},
		{"rtt.mean<500us", []Threshold{th("rtt", "mean", "<", 0.5, "us", "500us")}},
		{"ack.p90<250µs", []Threshold{th("ack", "p90", "<", 0.25, "µs", "250µs")}},
		{"ack.p90<250μs", []Threshold{th("ack", "p90", "<", 0.25, "μs", "250μs")}}, // Greek mu
		{"delivery.p50>2000000ns", []Threshold{th("delivery", "p50", ">", 2, "ns", "2000000ns")}},
		{"spectator_delay.p99<1.5e3ms", []Threshold{th("spectator_delay", "p99", "<", 1500, "ms", "1.5e3ms")}},
		{"interarrival.max<=3ticks", []Threshold{th("interarrival", "max", "<=", 3, "tick", "3ticks")}},
		{"delivery.count>=1000", []Threshold{th("delivery", "count", ">=", 1000, "", "1000")}},
		{"snapshot_rate_pct>=95%", []Threshold{th("snapshot_rate_pct", "", ">=", 95, "%", "95%")}},
		{"snapshot_rate_mean>19.5", []Threshold{th("snapshot_rate_mean", "", ">", 19.5, "", "19.5")}},
		{"disconnects<=10,failed=0,spectators_ok>=20,resumes_failed<1,resumes_ok>0,snapshots>0", []Threshold{
			th("disconnects", "", "<=", 10, "", "10"),
			th("failed", "", "=", 0, "", "0"),
			th("spectators_ok", "", ">=", 20, "", "20"),
			th("resumes_failed", "", "<", 1, "", "1"),
			th("resumes_ok", "", ">", 0, "", "0"),
			th("snapshots", "", ">", 0, "", "0"),
		}},
		{"bytes.per_player<20KB", []Threshold{th("bytes.per_player", "", "<", 20000, "KB", "20KB")}},
		{"bytes.per_player<20kB/s", []Threshold{th("bytes.per_player", "", "<", 20000, "kB/s", "20kB/s")}},
		{"bytes.per_spectator<=1MiB", []Threshold{th("bytes.per_spectator", "", "<=", 1<<20, "MiB", "1MiB")}},
		{"bytes.per_spectator<=5000", []Threshold{th("bytes.per_spectator", "", "<=", 5000, "", "5000")}},
		{"cpu.per_bot_second_us<500", []Threshold{th("cpu.per_bot_second_us", "", "<", 500, "", "500")}},
		{"cpu.per_bot_second_us<1ms", []Threshold{th("cpu.per_bot_second_us", "", "<", 1000, "ms", "1ms")}},
		{"server.cpu_per_snapshot_us<=100", []Threshold{th("server.cpu_per_snapshot_us", "", "<=", 100, "", "100")}},
	} {
		got, err := ParseSLO(tc.in)
		if err != nil {
			t.Errorf("ParseSLO(%q): %v", tc.in, err)
			continue
		}
		for i := range got {
			got[i].Text = "" // checked below
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseSLO(%q) =\n%+v\nwant\n%+v", tc.in, got, tc.want)
		}
	}

	ts, err := ParseSLO(" rtt.p99 < 50ms ,errors==0")
	if err != nil {
		t.Fatal(err)
	}
	if ts[0].Text != "rtt.p99 < 50ms" || ts[0].String() != "rtt.p99<50ms" || ts[0].Name() != "rtt.p99" ||
		ts[1].String() != "errors=0" || ts[1].Name() != "errors" {
		t.Errorf("text %q, string %q %q, names %q %q", ts[0].Text, ts[0].String(), ts[1].String(), ts[0].Name(), ts[1].Name())
	}
}

func TestSLOParseErrors(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"rtx.p99<5ms", `slo: unknown metric "rtx" in "rtx.p99<5ms"`},
		{"errors=0,rtx.p99<5ms", `slo: unknown metric "rtx" in "rtx.p99<5ms"`},
		{"latency<5ms", `slo: unknown metric "latency" in "latency<5ms"`},
		{"bytes.per_playr<5", `slo: unknown metric "bytes.per_playr" in "bytes.per_playr<5"`},
		{"Errors=0", `unknown metric "Errors"`},
		{"rtt.p95<5ms", `slo: unknown stat "p95" of rtt in "rtt.p95<5ms"`},
		{"rtt<5ms", `slo: rtt needs a stat`},
		{"rtt.<5ms", `slo: rtt needs a stat`},
		{"rtt.p99<50", `slo: rtt.p99 needs a unit (ns, us, µs, ms, s or tick) in "rtt.p99<50"`},
		{"rtt.p99<50xs", `slo: unknown unit "xs" for rtt.p99 in "rtt.p99<50xs"`},
		{"rtt.p99<50m", `unknown unit "m"`},
		{"rtt.count<5ms", `slo: rtt.count is a plain number, not "ms", in "rtt.count<5ms"`},
		{"errors=0ms", `slo: errors is a plain number, not "ms"`},
		{"connected>=190%", `connected is a plain number, not "%"`},
		{"cpu.per_bot_second_us<2tick", `unknown unit "tick" for cpu.per_bot_second_us`},
		{"bytes.per_player<5parsecs", `unknown unit "parsecs" for bytes.per_player`},
		{"errors!=0", `slo: bad operator "!=" in "errors!=0"`},
		{"errors=<0", `slo: bad operator "=<"`},
		{"errors<>0", `slo: bad operator "<>"`},
		{"errors 0", `slo: no operator (<, <=, >, >=, =) in "errors 0"`},
		{"<5ms", `slo: no metric in "<5ms"`},
		{"errors=", `slo: no value in "errors="`},
		{"errors=abc", `slo: bad number "abc" in "errors=abc"`},
		{"errors=1.2.3", `slo: bad number "1.2.3"`},
		{"rtt.p99<NaNms", `slo: bad number "NaNms"`},
		{"rtt.p99<ms", `slo: bad number "ms"`},
		{"rtt.p99<50ms,,errors=0", `slo: empty threshold in "rtt.p99<50ms,,errors=0"`},
		{"rtt.p99<50ms,", `slo: empty threshold`},
	} {
		ts, err := ParseSLO(tc.in)
		if err == nil {
			t.Errorf("ParseSLO(%q) = %+v, want an error", tc.in, ts)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseSLO(%q) error\n%s\nwant it to contain\n%s", tc.in, err, tc.want)
		}
	}
}

func sloTestReport() *Report {
	return &Report{
		TickRate: 20,
		Counts: Counts{
			Players: 200, Connected: 196, Failed: 4, Spectators: 20, SpectatorsOK: 20, Errors: 6,
			Disconnects: map[string]int{"connection_lost": 7, "too_slow": 4},
			ResumesOK:   31, ResumesFailed: 2, Snapshots: 230812,
			SnapshotRatePct: 91.5, SnapshotRateMean: 19.62,
		},
		Latencies: []Dist{
			{Name: "rtt", Count: 11760, Mean: 14.31, P50: 11.2, P90: 28.4, P99: 73.25, Max: 212.7},
			{Name: "ack", Count: 117480, Mean: 21.5, P50: 18.9, P90: 34.1, P99: 50.04, Max: 240.2},
			{Name: "interarrival", Count: 230616, Mean: 50.1, P50: 49.8, P90: 58.3, P99: 121.4, Max: 512},
			{Name: "delivery", Count: 0},
		},
		Bytes: Bytes{PerPlayer: 3412.5, PerSpectator: 9120},
		CPU:   CPU{PerBotSecondUS: 744.2},
	}
}

func TestSLOEvaluate(t *testing.T) {
	for _, tc := range []struct {
		slo  string
		want string // "" when met
	}{
		{"rtt.p99<50ms", "rtt.p99 = 73.2ms, want < 50ms"},
		{"rtt.p99<100ms", ""},
		{"rtt.p99<=73.25ms", ""},
		{"rtt.p99<73.25ms", "rtt.p99 = 73.25ms, want < 73.25ms"},
		{"rtt.p99>=73.3ms", "rtt.p99 = 73.2ms, want >= 73.3ms"},
		{"ack.p99<50ms", "ack.p99 = 50.04ms, want < 50ms"}, // not "50ms, want < 50ms"
		{"rtt.p99<1s", ""},
		{"rtt.max<0.2s", "rtt.max = 0.213s, want < 0.2s"},
		{"rtt.p99<50000us", "rtt.p99 = 73250us, want < 50000us"},
		{"rtt.p50>12ms", "rtt.p50 = 11.2ms, want > 12ms"},
		{"rtt.p90=28.4ms", ""},
		{"rtt.mean<=14ms", "rtt.mean = 14.3ms, want <= 14ms"},
		{"rtt.count>=20000", "rtt.count = 11760, want >= 20000"},
		{"rtt.count>1000", ""},
		{"interarrival.p99<2tick", "interarrival.p99 = 2.43tick (121.4ms), want < 2tick (100ms at 20 Hz)"},
		{"interarrival.p99<3tick", ""},
		{"interarrival.p50<=1ticks", ""},
		{"interarrival.p50>=1ticks", "interarrival.p50 = 0.996tick (49.8ms), want >= 1ticks (50ms at 20 Hz)"},
		{"delivery.p99<50ms", "delivery.p99: no samples, want < 50ms"},
		{"spectator_delay.p50<1s", "spectator_delay.p50: no samples, want < 1s"},
		{"delivery.count>0", "delivery.count = 0, want > 0"},
		{"spectator_delay.count=0", ""},
		{"errors=0", "errors = 6, want = 0"},
		{"errors==0", "errors = 6, want = 0"},
		{"errors<=6", ""},
		{"connected>=190", ""},
		{"connected>=197", "connected = 196, want >= 197"},
		{"failed<1", "failed = 4, want < 1"},
		{"spectators_ok>=20", ""},
		{"resumes_ok>=40", "resumes_ok = 31, want >= 40"},
		{"resumes_failed=0", "resumes_failed = 2, want = 0"},
		{"snapshots>=300000", "snapshots = 230812, want >= 300000"},
		{"disconnects<=10", "disconnects = 11, want <= 10"},
		{"snapshot_rate_pct>=95", "snapshot_rate_pct = 91.5%, want >= 95"},
		{"snapshot_rate_pct>=95%", "snapshot_rate_pct = 91.5%, want >= 95%"},
		{"snapshot_rate_mean>=19.6", ""},
		{"snapshot_rate_mean>=19.7", "snapshot_rate_mean = 19.6, want >= 19.7"},
		{"bytes.per_player<3KB", "bytes.per_player = 3.41KB, want < 3KB"},
		{"bytes.per_player<3000", "bytes.per_player = 3412, want < 3000"},
		{"bytes.per_spectator<10KiB", ""},
		{"cpu.per_bot_second_us<500", "cpu.per_bot_second_us = 744.2, want < 500"},
		{"cpu.per_bot_second_us<0.5ms", "cpu.per_bot_second_us = 0.744ms, want < 0.5ms"},
		{"server.cpu_per_snapshot_us<100", "server.cpu_per_snapshot_us: no server metrics (the server's /metrics was not read)"},
	} {
		ts, err := ParseSLO(tc.slo)
		if err != nil {
			t.Errorf("ParseSLO(%q): %v", tc.slo, err)
			continue
		}
		got := Evaluate(sloTestReport(), ts)
		var want []string
		if tc.want != "" {
			want = []string{tc.want}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %q, want %q", tc.slo, got, want)
		}
	}
}

func TestSLOEvaluateMany(t *testing.T) {
	r := sloTestReport()
	r.Server = &Server{CPUPerSnapshotUS: 92.6}
	ts, err := ParseSLO("rtt.p99<50ms,interarrival.p99<2tick,errors=0,ack.p50<=30ms,snapshot_rate_pct>=95,connected>=190,server.cpu_per_snapshot_us<100")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"rtt.p99 = 73.2ms, want < 50ms",
		"interarrival.p99 = 2.43tick (121.4ms), want < 2tick (100ms at 20 Hz)",
		"errors = 6, want = 0",
		"snapshot_rate_pct = 91.5%, want >= 95",
	}
	if got := Evaluate(r, ts); !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	if got := Evaluate(r, nil); got != nil {
		t.Errorf("no thresholds: %q", got)
	}
}

func TestSLOEvaluateTickRateUnknown(t *testing.T) {
	r := sloTestReport()
	r.TickRate = 0
	ts, err := ParseSLO("interarrival.p99<2tick,rtt.p99<100ms")
	if err != nil {
		t.Fatal(err)
	}
	got := Evaluate(r, ts)
	if len(got) != 1 || !strings.Contains(got[0], "interarrival.p99: cannot check interarrival.p99<2tick: the tick rate of the run is unknown") {
		t.Errorf("got %q", got)
	}
	// No samples is reported before the tick rate: that is the bigger problem.
	r.Latencies = nil
	if got := Evaluate(r, ts[:1]); len(got) != 1 || got[0] != "interarrival.p99: no samples, want < 2tick" {
		t.Errorf("got %q", got)
	}
}

func TestSLOMetrics(t *testing.T) {
	got := strings.Join(SLOMetrics(), " ")
	for _, want := range []string{"rtt.{p50,p90,p99,max,mean,count}", "errors", "bytes.per_player", "server.cpu_per_snapshot_us"} {
		if !strings.Contains(got, want) {
			t.Errorf("SLOMetrics lacks %q: %s", want, got)
		}
	}
	// Every listed plain metric parses.
	for _, m := range SLOMetrics() {
		if strings.Contains(m, "{") {
			continue
		}
		if _, err := ParseSLO(m + ">=0"); err != nil {
			t.Errorf("%s: %v", m, err)
		}
	}
}
