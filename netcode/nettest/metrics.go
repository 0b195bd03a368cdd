// Package nettest holds helpers shared by the tests of the server and its
// tools. It is imported by tests only, never by the server or a command.
package nettest

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Scrape GETs url, a Prometheus /metrics endpoint, and returns Value of its
// body for name and label. It fails the test if the endpoint cannot be
// read.
func Scrape(t testing.TB, url, name, label string) float64 {
	t.Helper()
	code, body := Get(t, url)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d", url, code)
	}
	return Value(body, name, label)
}

// Get GETs url (10 s at most) and returns the status and the body; it
// fails the test if the request fails.
func Get(t testing.TB, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// Value reads the metric name from text (the Prometheus text exposition
// format): the sum of its samples that carry a label whose value is label
// (e.g. every transport of one reason), or, with an empty label, of all its
// samples. 0 when there is none. name is a sample name as written, e.g.
// "tickstream_rtt_seconds_count" for a histogram's count.
func Value(text, name, label string) float64 {
	sum := 0.0
	for _, line := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != '{' && rest[0] != ' ') {
			continue // a comment, another metric, or a longer name
		}
		var values []string
		if rest[0] == '{' {
			if values, rest, ok = labelValues(rest[1:]); !ok {
				continue
			}
		}
		f := strings.Fields(rest) // value, then an optional timestamp
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		if label == "" {
			sum += v
			continue
		}
		for _, lv := range values {
			if lv == label {
				sum += v
				break
			}
		}
	}
	return sum
}

// labelValues parses `k="v",k2="v2"}` (after the opening brace) and returns
// the unescaped values and the text after the closing brace.
func labelValues(s string) (values []string, rest string, ok bool) {
	for {
		s = strings.TrimLeft(s, " ,")
		if strings.HasPrefix(s, "}") {
			return values, s[1:], true
		}
		eq := strings.Index(s, `="`)
		if eq < 0 {
			return nil, "", false
		}
		s = s[eq+2:]
		var v strings.Builder
		for {
			if s == "" {
				return nil, "", false
			}
			c := s[0]
			s = s[1:]
			if c == '"' {
				break
			}
			if c == '\\' && s != "" {
				switch s[0] {
				case 'n':
					c = '\n'
				default:
					c = s[0] // \\ or \"
				}
				s = s[1:]
			}
			v.WriteByte(c)
		}
		values = append(values, v.String())
	}
}
