package nettest

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

const sample = `# HELP tickstream_spectator_disconnects_total Spectator streams ended.
# TYPE tickstream_spectator_disconnects_total counter
tickstream_spectator_disconnects_total{reason="too_slow",transport="sse"} 3
tickstream_spectator_disconnects_total{reason="too_slow",transport="ws"} 2
tickstream_spectator_disconnects_total{reason="shutdown",transport="ws"} 7
tickstream_spectator_disconnects_total_extra{reason="too_slow"} 100
tickstream_snapshot_rate_lowered_total 4
tickstream_rtt_seconds_bucket{le="0.005"} 9
tickstream_rtt_seconds_count 1.5e+01 1700000000000
tickstream_odd{reason="a\"b\\c",x="too_slow"} 1
`

func TestValue(t *testing.T) {
	for _, c := range []struct {
		name, label string
		want        float64
	}{
		{"tickstream_spectator_disconnects_total", "too_slow", 5},
		{"tickstream_spectator_disconnects_total", "ws", 9},
		{"tickstream_spectator_disconnects_total", "", 12},
		{"tickstream_spectator_disconnects_total", "absent", 0},
		{"tickstream_snapshot_rate_lowered_total", "", 4},
		{"tickstream_rtt_seconds_count", "", 15},
		{"tickstream_rtt_seconds", "", 0},
		{"tickstream_odd", `a"b\c`, 1},
		{"tickstream_odd", "too_slow", 1},
		{"tickstream_missing", "", 0},
	} {
		if got := Value(sample, c.name, c.label); got != c.want {
			t.Errorf("Value(%s, %q) = %v, want %v", c.name, c.label, got, c.want)
		}
	}
}

func TestScrape(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(sample))
	}))
	defer hs.Close()
	if got := Scrape(t, hs.URL+"/metrics", "tickstream_spectator_disconnects_total", "sse"); got != 3 {
		t.Fatalf("Scrape = %v, want 3", got)
	}
}
