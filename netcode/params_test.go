package netcode

import (
	"encoding/json"
	"math"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode/stream"
	"github.com/tickstream/tickstream/netcode/wire"
)

// hugeDigits is a number no integer type holds.
var hugeDigits = strings.Repeat("9", 400)

func TestParseMillis(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"8", 8000, true},
		{"0.5", 500, true},
		{"1.25", 1250, true},
		{"007.5", 7500, true},
		{"0.001", 1, true},
		{"0.0009", 0, true},     // below a millisecond: truncated
		{"1.23456", 1234, true}, // further decimals ignored
		{"9223372036854775807", milliCap, true},
		{hugeDigits, milliCap, true},
		{hugeDigits + "." + hugeDigits, milliCap, true},
		{"", 0, false},
		{".5", 0, false},
		{"5.", 0, false},
		{"-0", 0, false},
		{"+1", 0, false},
		{"-1", 0, false},
		{"1e10", 0, false},
		{"9.3e9", 0, false},
		{"1e-300", 0, false},
		{"0x10", 0, false},
		{"NaN", 0, false},
		{"Inf", 0, false},
		{"+Inf", 0, false},
		{" 1", 0, false},
		{"1 ", 0, false},
		{"1_000", 0, false},
		{"1.2.3", 0, false},
		{"١", 0, false}, // an Arabic-Indic digit is not a digit here
	} {
		got, ok := parseMillis(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseMillis(%.30q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseSpectatorQuery(t *testing.T) {
	const maxDelay = 8 * time.Second
	for _, tc := range []struct {
		query, lastID string
		tickRate      int
		want          spectatorRequest
		err           string // "" when accepted
	}{
		{"", "", 30, spectatorRequest{k: 1}, ""},
		{"delay=0.5&rate=10&after=42", "", 30, spectatorRequest{after: 42, k: 3, delay: 500 * time.Millisecond}, ""},
		{"delay=8", "", 30, spectatorRequest{k: 1, delay: maxDelay}, ""},
		{"delay=8.001", "", 30, spectatorRequest{}, "delay must be a decimal number of seconds from 0 to 8"},
		{"delay=1e10", "", 30, spectatorRequest{}, "delay must be"},
		{"delay=9.3e9", "", 30, spectatorRequest{}, "delay must be"},
		{"delay=9300000000", "", 30, spectatorRequest{}, "delay must be"},
		{"delay=" + hugeDigits, "", 30, spectatorRequest{}, "delay must be"},
		{"delay=-0", "", 30, spectatorRequest{}, "delay must be"},
		{"delay=-1", "", 30, spectatorRequest{}, "delay must be"},
		{"delay=NaN", "", 30, spectatorRequest{}, "delay must be"},
		{"delay=Inf", "", 30, spectatorRequest{}, "delay must be"},
		{"delay=0x10", "", 30, spectatorRequest{}, "delay must be"},
		{"delay=1&delay=2", "", 30, spectatorRequest{}, "delay is given 2 times"},
		{"rate=1e-300", "", 128, spectatorRequest{}, "rate must be"},
		{"rate=0.0001", "", 128, spectatorRequest{}, "rate must be"},
		{"rate=0", "", 30, spectatorRequest{}, "rate must be"},
		{"rate=0x10", "", 30, spectatorRequest{}, "rate must be"},
		{"rate=Inf", "", 30, spectatorRequest{}, "rate must be"},
		{"rate=0.1", "", 128, spectatorRequest{k: 1280}, ""},
		{"rate=0.1", "", 10, spectatorRequest{k: 100}, ""},
		{"rate=7", "", 30, spectatorRequest{k: 5}, ""}, // ⌈30/7⌉: at most 7 a second
		{"rate=30", "", 30, spectatorRequest{k: 1}, ""},
		{"rate=1000", "", 30, spectatorRequest{k: 1}, ""}, // above the tick rate: every tick
		{"rate=" + hugeDigits, "", 128, spectatorRequest{k: 1}, ""},
		{"after=18446744073709551615", "", 30, spectatorRequest{after: math.MaxUint64, k: 1}, ""},
		{"after=18446744073709551616", "", 30, spectatorRequest{}, "after (or Last-Event-ID) must be a tick number"},
		{"after=-1", "", 30, spectatorRequest{}, "after"},
		{"after=1", "77", 30, spectatorRequest{after: 77, k: 1}, ""}, // Last-Event-ID wins
		{"", "0x10", 30, spectatorRequest{}, "Last-Event-ID"},
	} {
		q, err := url.ParseQuery(tc.query)
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseSpectatorQuery(q, tc.lastID, tc.tickRate, maxDelay)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%q: refused: %v", tc.query, err)
		case tc.err == "" && got != tc.want:
			t.Errorf("%q: %+v, want %+v", tc.query, got, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want one containing %q", tc.query, err, tc.err)
		}
	}
}

// tickStep never overflows nor gives 0, whatever the rate.
func TestTickStep(t *testing.T) {
	for hz := game.MinTickRate; hz <= game.MaxTickRate; hz++ {
		for _, r := range []int64{minSpectatorRate, 101, 999, 1000, int64(hz) * 1000, int64(hz)*1000 + 1, milliCap} {
			k := tickStep(hz, r)
			want := uint64(math.Ceil(float64(hz) * 1000 / float64(r)))
			if k != max(want, 1) {
				t.Fatalf("tickStep(%d, %d) = %d, want %d", hz, r, k, want)
			}
		}
	}
	for _, tc := range [][2]int64{{0, 100}, {-1, 100}, {30, 0}, {30, -5}} {
		if k := tickStep(int(tc[0]), tc[1]); k != 1 {
			t.Errorf("tickStep(%d, %d) = %d, want 1", tc[0], tc[1], k)
		}
	}
}

// FuzzParseSpectatorQuery checks the invariants of every accepted query:
// the delay within 0…max, the step k within 1…10 × the tick rate, and
// values that agree with what a float parse of the same text would give.
func FuzzParseSpectatorQuery(f *testing.F) {
	for _, s := range []string{"", "0", "0.5", "8", "8.001", "1e10", "9.3e9", "-0", "NaN", "Inf", "-Inf",
		"1e-300", "0x10", "0.1", "128", "18446744073709551615", "18446744073709551616", hugeDigits,
		"1." + hugeDigits, "٣", " 1", "1\x00"} {
		f.Add(s, s, s, "", uint8(30))
		f.Add("1", s, "0", s, uint8(128))
	}
	f.Fuzz(func(t *testing.T, after, rate, delay, lastID string, hz uint8) {
		tickRate := game.MinTickRate + int(hz)%(game.MaxTickRate-game.MinTickRate+1)
		const maxDelay = 8 * time.Second
		q := url.Values{}
		for k, v := range map[string]string{"after": after, "rate": rate, "delay": delay} {
			if v != "" {
				q.Set(k, v)
			}
		}
		sr, err := parseSpectatorQuery(q, lastID, tickRate, maxDelay)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("a refusal without a reason")
			}
			return
		}
		if sr.delay < 0 || sr.delay > maxDelay {
			t.Fatalf("delay %q accepted as %v", delay, sr.delay)
		}
		if sr.k < 1 || sr.k > uint64(tickRate)*10 {
			t.Fatalf("rate %q on %d Hz accepted as k=%d", rate, tickRate, sr.k)
		}
		if delay != "" {
			v, err := strconv.ParseFloat(delay, 64)
			if err != nil || math.Abs(v*1000-float64(sr.delay.Milliseconds())) >= 1.001 {
				t.Fatalf("delay %q: accepted as %v; float parse %v, %v", delay, sr.delay, v, err)
			}
		}
		if rate != "" {
			v, err := strconv.ParseFloat(rate, 64)
			if err != nil || v < 0.1 {
				t.Fatalf("rate %q accepted (float parse %v, %v)", rate, v, err)
			}
		}
		if id := lastID; id != "" || after != "" {
			if id == "" {
				id = after
			}
			if v, err := strconv.ParseUint(id, 10, 64); err != nil || v != sr.after {
				t.Fatalf("after %q / Last-Event-ID %q accepted as %d", after, lastID, sr.after)
			}
		}
	})
}

// FuzzCreateRequest decodes a POST /api/matches body as the handler does:
// whatever it holds, an accepted config has every field in its documented
// range (zero meaning the server's default).
func FuzzCreateRequest(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"rate": 60, "max_players": 4}`, `{"time_limit": 1e12}`, `{"time_limit": 9223372036854775807}`,
		`{"time_limit": 1e30}`, `{"time_limit": -9223372036854775808}`, `{"min_players": 5, "max_players": 4}`,
		`{"rate": "30"}`, `{"rate": 30.0}`, `{"rate": null}`, `{"spectator_delay": 1e10}`, `{"spectator_delay": 60.0001}`,
		`{"spectator_delay": -0}`, `{"spectator_delay": 0.25}`, `{"score_limit": [1]}`, `{"max_players": {"a": 1}}`,
		`{"time_limit": ` + hugeDigits + `}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req createRequest
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		if dec.Decode(&req) != nil {
			return
		}
		cfg, err := req.config()
		if err != nil {
			return
		}
		in := func(v, lo, hi int) bool { return v == 0 || (lo <= v && v <= hi) }
		inD := func(v, lo, hi time.Duration) bool { return v == 0 || (lo <= v && v <= hi) }
		if !in(cfg.TickRate, game.MinTickRate, game.MaxTickRate) || !in(cfg.MaxPlayers, 1, game.MaxSeats) ||
			!in(cfg.MinPlayers, 1, game.MaxSeats) || !in(cfg.ScoreLimit, 1, game.MaxScoreLimit) ||
			!inD(cfg.TimeLimit, game.MinTimeLimit, game.MaxTimeLimit) || !inD(cfg.SpectatorDelay, 0, game.MaxSpectatorDelay) ||
			(cfg.MaxPlayers != 0 && cfg.MinPlayers > cfg.MaxPlayers) {
			t.Fatalf("%s accepted as %+v", body, cfg)
		}
	})
}

func TestCreateRequestConfig(t *testing.T) {
	for _, tc := range []struct {
		body string
		err  string // "" when accepted
		want game.MatchConfig
	}{
		{`{}`, "", game.MatchConfig{}},
		{`{"rate": null, "time_limit": null}`, "", game.MatchConfig{}},
		{`{"rate": 128, "max_players": 64, "min_players": 64, "time_limit": 3600, "score_limit": 1000, "spectator_delay": 60}`, "",
			game.MatchConfig{TickRate: 128, MaxPlayers: 64, MinPlayers: 64, TimeLimit: time.Hour, ScoreLimit: 1000, SpectatorDelay: time.Minute}},
		{`{"rate": 10, "max_players": 1, "min_players": 1, "time_limit": 10, "score_limit": 1, "spectator_delay": 0.25}`, "",
			game.MatchConfig{TickRate: 10, MaxPlayers: 1, MinPlayers: 1, TimeLimit: 10 * time.Second, ScoreLimit: 1, SpectatorDelay: 250 * time.Millisecond}},
		{`{"rate": 9}`, "rate must be an integer from 10 to 128, got 9", game.MatchConfig{}},
		{`{"rate": 129}`, "rate must be", game.MatchConfig{}},
		{`{"rate": "30"}`, `rate must be an integer from 10 to 128, got "30"`, game.MatchConfig{}},
		{`{"rate": 30.0}`, "rate must be", game.MatchConfig{}},
		{`{"rate": 3e1}`, "rate must be", game.MatchConfig{}},
		{`{"max_players": 0}`, "max_players must be an integer from 1 to 64", game.MatchConfig{}},
		{`{"max_players": 65}`, "max_players must be", game.MatchConfig{}},
		{`{"min_players": 0}`, "min_players must be", game.MatchConfig{}},
		{`{"min_players": 5, "max_players": 4}`, "min_players must be from 1 to max_players (4), got 5", game.MatchConfig{}},
		{`{"time_limit": 9}`, "time_limit must be an integer from 10 to 3600", game.MatchConfig{}},
		{`{"time_limit": 3601}`, "time_limit must be", game.MatchConfig{}},
		{`{"time_limit": 1e12}`, "time_limit must be", game.MatchConfig{}},
		{`{"time_limit": 1000000000000}`, "time_limit must be", game.MatchConfig{}},
		{`{"time_limit": 9223372036854775807}`, "time_limit must be", game.MatchConfig{}},
		{`{"time_limit": 1e30}`, "time_limit must be", game.MatchConfig{}},
		{`{"time_limit": -60}`, "time_limit must be", game.MatchConfig{}},
		{`{"score_limit": 1001}`, "score_limit must be an integer from 1 to 1000", game.MatchConfig{}},
		{`{"score_limit": true}`, "score_limit must be", game.MatchConfig{}},
		{`{"spectator_delay": 60.001}`, "spectator_delay must be a number of seconds from 0 to 60", game.MatchConfig{}},
		{`{"spectator_delay": 1e10}`, "spectator_delay must be", game.MatchConfig{}},
		{`{"spectator_delay": -1}`, "spectator_delay must be", game.MatchConfig{}},
	} {
		var req createRequest
		if err := json.Unmarshal([]byte(tc.body), &req); err != nil {
			t.Fatalf("%s: %v", tc.body, err)
		}
		cfg, err := req.config()
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.body, err)
		case tc.err == "" && cfg != tc.want:
			t.Errorf("%s: %+v, want %+v", tc.body, cfg, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want one containing %q", tc.body, err, tc.err)
		}
	}
}

// The match's broadcast delay is a floor: a spectator's delay adds to it,
// and the first keyframe is never newer than the combined delay permits.
// The history is synthetic (30 ticks a second from t0), so the check is on
// tick numbers, not on a clock.
func TestSpectatorDelayFloor(t *testing.T) {
	const hz = 30
	t0 := time.Unix(1_700_000_000, 0)
	tickTime := func(tick uint64) time.Time { return t0.Add(time.Duration(tick) * time.Second / hz) }
	st := stream.New(stream.Config{Rate: hz, Keep: 10 * time.Second, Delay: time.Second})
	const last = 10 * hz // the newest tick: 10 s after t0
	for tick := uint64(1); tick <= last; tick++ {
		st.Push(&game.Snapshot{Match: "m", Tick: tick, Time: tickTime(tick), State: game.StateRunning})
	}
	now := tickTime(last)
	for _, tc := range []struct {
		query string
		delay time.Duration // the cursor's, in all
	}{
		{"", time.Second},
		{"delay=0", time.Second},
		{"delay=0.5", 1500 * time.Millisecond},
		{"delay=8&rate=1", 9 * time.Second},
	} {
		q, _ := url.ParseQuery(tc.query)
		sr, err := parseSpectatorQuery(q, "", hz, 8*time.Second)
		if err != nil {
			t.Fatalf("%q: %v", tc.query, err)
		}
		c := st.NewCursor(wire.FormatJSON, sr.k, sr.delay, sr.after)
		evs, _ := c.Step(now, nil)
		if len(evs) == 0 || evs[0].Kind != wire.SpecKeyframe {
			t.Fatalf("%q: first events %+v, want a keyframe", tc.query, evs)
		}
		newest := last - uint64(tc.delay*hz/time.Second) // the newest tick the delay permits
		if got := evs[0].ID; got > newest || got+sr.k <= newest {
			t.Fatalf("%q: first keyframe of tick %d; the delay permits up to %d (k=%d)", tc.query, got, newest, sr.k)
		}
	}
}
