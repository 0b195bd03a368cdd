package netcode

import (
	"errors"
	"fmt"
	"mime"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Parameters that arrive from the network (query strings, headers, JSON
// bodies) are parsed here, once, into integer units with explicit ranges.
// Nothing is converted from a float: seconds and rates are read as decimal
// text into thousandths, with a saturating accumulator, so that no input
// ("1e10", "9.3e9", a thousand digits) can overflow into a negative or tiny
// value that passes a "≤ max" check.

// milliCap is where parseMillis saturates: far above every range checked
// here, far below what an int64 holds (no step can overflow).
const milliCap = int64(1) << 50

// parseMillis parses s, a non-negative decimal number: one or more digits,
// optionally a point and one or more digits ("2", "0.25", "007.5"); no
// sign, exponent, hex, space, NaN or Inf. It returns the value in
// thousandths: digits after the third decimal are ignored (truncated), and
// values at or above milliCap give milliCap.
func parseMillis(s string) (int64, bool) {
	var n int64
	i, intDigits := 0, 0
	for ; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
		n = min(n*10+int64(s[i]-'0'), milliCap)
		intDigits++
	}
	if intDigits == 0 {
		return 0, false
	}
	n = min(n*1000, milliCap)
	if i == len(s) {
		return n, true
	}
	if s[i] != '.' || i+1 == len(s) {
		return 0, false
	}
	i++
	for scale, j := int64(100), i; j < len(s); j++ {
		if s[j] < '0' || s[j] > '9' {
			return 0, false
		}
		if scale > 0 {
			n = min(n+int64(s[j]-'0')*scale, milliCap)
			scale /= 10
		}
	}
	return n, true
}

// parseSeconds parses a duration given in decimal seconds, in 0…hi, with
// millisecond precision.
func parseSeconds(name, s string, hi time.Duration) (time.Duration, error) {
	ms, ok := parseMillis(s)
	if !ok || ms > hi.Milliseconds() {
		return 0, fmt.Errorf("%s must be a decimal number of seconds from 0 to %s, got %.24q", name, fmtSeconds(hi), s)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

func fmtSeconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }

// minSpectatorRate is the lowest rate a spectator may ask for, in
// thousandths of an update per second (0.1/s: one update every 10 s).
const minSpectatorRate = 100

// parseRate parses a spectator's rate (decimal updates per second, at
// least 0.1) on a match of tickRate Hz, and returns the step k: every k-th
// tick is sent, k = ⌈tickRate / rate⌉ ≥ 1. A rate at or above the tick
// rate means every tick.
func parseRate(s string, tickRate int) (uint64, error) {
	mr, ok := parseMillis(s)
	if !ok || mr < minSpectatorRate {
		return 0, fmt.Errorf("rate must be a decimal number of updates per second, at least 0.1 (%d or more: every tick of this %d Hz match), got %.24q",
			tickRate, tickRate, s)
	}
	return tickStep(tickRate, mr), nil
}

// tickStep is ⌈tickRate / (rate/1000)⌉, at least 1, for rate in
// thousandths of an update per second. It cannot overflow: tickRate is at
// most a few hundred and rate at most milliCap.
func tickStep(tickRate int, rate int64) uint64 {
	if tickRate <= 0 || rate <= 0 {
		return 1
	}
	num := int64(tickRate) * 1000
	return uint64(max((num+rate-1)/rate, 1))
}

// queryValue returns the one value of name in q ("" when absent or
// empty); a parameter given twice is refused rather than guessed at.
func queryValue(q url.Values, name string) (string, error) {
	switch vs := q[name]; len(vs) {
	case 0:
		return "", nil
	case 1:
		return vs[0], nil
	default:
		return "", fmt.Errorf("%s is given %d times", name, len(vs))
	}
}

// spectatorRequest is what a spectator asks for, from the query string.
type spectatorRequest struct {
	after uint64        // resume after this tick (0: start with a keyframe)
	k     uint64        // send every k-th tick (≥ 1)
	delay time.Duration // extra broadcast delay, 0…maxDelay, added to the match's
}

// parseSpectatorQuery checks a spectator's query (after, rate, delay) and
// Last-Event-ID against the match's tick rate and the longest extra delay.
// Every error is a reason to answer 400 with.
func parseSpectatorQuery(q url.Values, lastEventID string, tickRate int, maxDelay time.Duration) (spectatorRequest, error) {
	sr := spectatorRequest{k: 1}
	after, err := queryValue(q, "after")
	if err != nil {
		return sr, err
	}
	if lastEventID != "" {
		after = lastEventID // a browser's reconnection wins over the first URL's value
	}
	if after != "" {
		v, err := strconv.ParseUint(after, 10, 64)
		if err != nil {
			return sr, errors.New("after (or Last-Event-ID) must be a tick number (0…18446744073709551615)")
		}
		sr.after = v
	}
	rate, err := queryValue(q, "rate")
	if err != nil {
		return sr, err
	}
	if rate != "" {
		if sr.k, err = parseRate(rate, tickRate); err != nil {
			return sr, err
		}
	}
	delay, err := queryValue(q, "delay")
	if err != nil {
		return sr, err
	}
	if delay != "" {
		if sr.delay, err = parseSeconds("delay", delay, maxDelay); err != nil {
			return sr, err
		}
	}
	return sr, nil
}

// isJSONContent reports whether a Content-Type header names JSON
// (application/json, with any parameters such as charset).
func isJSONContent(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

// bodyNumber is an optional number field of a JSON body, kept as the JSON
// literal it arrived as ("" when absent or null) so that its range is
// checked before any conversion: 1e30 or 9223372036854775808 is out of
// range, not an overflow, and "30" (a string) is refused.
type bodyNumber string

// UnmarshalJSON keeps the literal; the decoder has checked its syntax.
func (n *bodyNumber) UnmarshalJSON(b []byte) error {
	if string(b) != "null" {
		*n = bodyNumber(b)
	}
	return nil
}

// intIn parses an integer literal in lo…hi (lo ≥ 0).
func (n bodyNumber) intIn(name string, lo, hi int) (int, error) {
	s := string(n)
	v, ok := parseMillis(s)
	if !ok || strings.IndexByte(s, '.') >= 0 || v < int64(lo)*1000 || v > int64(hi)*1000 {
		return 0, fmt.Errorf("%s must be an integer from %d to %d, got %.24s", name, lo, hi, s)
	}
	return int(v / 1000), nil
}

// secondsIn parses a number of seconds in 0…hi, millisecond precision.
func (n bodyNumber) secondsIn(name string, hi time.Duration) (time.Duration, error) {
	ms, ok := parseMillis(string(n))
	if !ok || ms > hi.Milliseconds() {
		return 0, fmt.Errorf("%s must be a number of seconds from 0 to %s, got %.24s", name, fmtSeconds(hi), string(n))
	}
	return time.Duration(ms) * time.Millisecond, nil
}
