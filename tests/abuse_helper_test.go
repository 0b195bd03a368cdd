package tests

// The abuse suite (abuse_test.go) attacks a real server the way a hostile
// client or a broken network would, and asserts the documented refusal or
// bound. By default it starts the server binary here with short timeouts;
// an operator can aim it at a deployment instead:
//
//	TICKSTREAM_TARGET=http://game.example.com:8080 go test -run Abuse -v ./tests/
//
// Against a deployment the suite assumes the server's documented defaults
// (docs/protocol.md, "Defaults" and "Limits") and takes longer, since it
// waits out the real timeouts.

import (
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickstream/tickstream/tests/rawws"
)

// abuseTarget is the server under attack.
type abuseTarget struct {
	URL  string // http://host:port
	Addr string // host:port
	// Settings the suite relies on: the spawned server's flags, or the
	// documented defaults for a deployment.
	DeadAfter    time.Duration
	JoinTimeout  time.Duration
	WriteTimeout time.Duration
	external     bool
	proc         *serverProcess
}

var (
	abuseBinOnce sync.Once
	abuseBin     string
	abuseBinErr  error
)

// abuseServerBinary builds the server once for the whole suite.
func abuseServerBinary(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("TICKSTREAM_SERVER_BIN"); bin != "" {
		return bin
	}
	abuseBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tickstream-abuse-")
		if err != nil {
			abuseBinErr = err
			return
		}
		abuseBin = dir + "/server"
		abuseBinErr = buildServer(moduleRoot(t), abuseBin)
	})
	if abuseBinErr != nil {
		t.Fatalf("build the server: %v", abuseBinErr)
	}
	return abuseBin
}

// target returns the server to attack: $TICKSTREAM_TARGET, or a fresh
// server process started with the suite's short timeouts plus extra flags.
// Flags only apply to a spawned server; a deployment keeps its own.
func target(t *testing.T, extra ...string) *abuseTarget {
	t.Helper()
	if u := os.Getenv("TICKSTREAM_TARGET"); u != "" {
		pu, err := url.Parse(u)
		if err != nil || pu.Host == "" {
			t.Fatalf("TICKSTREAM_TARGET=%q: want http://host:port", u)
		}
		return &abuseTarget{URL: strings.TrimSuffix(u, "/"), Addr: pu.Host, external: true,
			DeadAfter: 5 * time.Second, JoinTimeout: 10 * time.Second, WriteTimeout: 5 * time.Second}
	}
	// Short, but not so short that a busy machine (the suite runs in
	// parallel) starves a live client for a whole dead-after; the join
	// timeout exceeds dead-after so that 4008 and 4010 stay apart.
	tg := &abuseTarget{DeadAfter: 3 * time.Second, JoinTimeout: 5 * time.Second, WriteTimeout: 2 * time.Second}
	args := append([]string{
		"-heartbeat-interval", "250ms", "-dead-after", tg.DeadAfter.String(),
		"-join-timeout", tg.JoinTimeout.String(), "-write-timeout", tg.WriteTimeout.String(),
		"-shutdown-grace", "2s",
	}, extra...)
	tg.proc = startServer(t, abuseServerBinary(t), args...)
	tg.URL, tg.Addr = tg.proc.URL, tg.proc.Addr
	return tg
}

// dialRaw upgrades path on addr over raw TCP (tests/rawws: a client that
// can stop reading, never answer a ping or a close) with extra headers
// ("Name: value"). It returns the response when the upgrade is refused
// (conn nil then).
func dialRaw(t *testing.T, addr, path string, headers ...string) (*rawws.Conn, *http.Response) {
	t.Helper()
	return dialRawHost(t, addr, addr, path, headers...)
}

// dialRawHost is dialRaw with another Host header than the address.
func dialRawHost(t *testing.T, addr, host, path string, headers ...string) (*rawws.Conn, *http.Response) {
	t.Helper()
	c, resp, err := rawws.Dial(addr, path, rawws.Options{Host: host, Header: headers})
	if err != nil {
		t.Fatal(err)
	}
	if c != nil {
		t.Cleanup(func() { c.Close() })
	} else {
		t.Cleanup(func() { resp.Body.Close() })
	}
	return c, resp
}
