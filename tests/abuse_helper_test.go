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
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickstream/tickstream/netcode/wire"
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

// rawWS is a WebSocket client written on a bare TCP connection, so that it
// can do what a library never does: stop reading, never answer a ping,
// never answer a close.
type rawWS struct {
	net.Conn
	br *bufio.Reader
}

// dialRaw upgrades path on addr over raw TCP with the tickstream subprotocol
// and extra headers ("Name: value"). It returns the response when the
// upgrade is refused (conn nil then).
func dialRaw(t *testing.T, addr, path string, headers ...string) (*rawWS, *http.Response) {
	t.Helper()
	return dialRawHost(t, addr, addr, path, headers...)
}

// dialRawHost is dialRaw with another Host header than the address.
func dialRawHost(t *testing.T, addr, host, path string, headers ...string) (*rawWS, *http.Response) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	req := "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Protocol: " + wire.Subprotocol + "\r\n"
	for _, h := range headers {
		req += h + "\r\n"
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		t.Fatalf("upgrade request: %v", err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		t.Fatalf("upgrade response: %v", err)
	}
	_ = conn.SetDeadline(time.Time{})
	if resp.StatusCode != http.StatusSwitchingProtocols {
		conn.Close()
		return nil, resp
	}
	t.Cleanup(func() { conn.Close() })
	return &rawWS{Conn: conn, br: br}, resp
}

// send writes one masked binary client frame (mask key zero: the payload is
// unchanged).
func (c *rawWS) send(payload []byte) error {
	return c.sendOp(0x2, payload)
}

func (c *rawWS) sendOp(op byte, payload []byte) error {
	hdr := []byte{0x80 | op}
	switch n := len(payload); {
	case n < 126:
		hdr = append(hdr, 0x80|byte(n))
	case n < 1<<16:
		hdr = append(hdr, 0x80|126, byte(n>>8), byte(n))
	default:
		return errors.New("frame too big for this helper")
	}
	hdr = append(hdr, 0, 0, 0, 0)
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Write(append(hdr, payload...))
	return err
}

// serverFrame is one frame from the server.
type serverFrame struct {
	op      byte
	payload []byte
}

// next reads one server frame (unmasked) before the deadline.
func (c *rawWS) next(deadline time.Time) (serverFrame, error) {
	_ = c.SetReadDeadline(deadline)
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return serverFrame{}, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return serverFrame{}, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return serverFrame{}, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 16<<20 {
		return serverFrame{}, fmt.Errorf("server frame of %d bytes", n)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(c.br, p); err != nil {
		return serverFrame{}, err
	}
	return serverFrame{op: h[0] & 0x0f, payload: p}, nil
}

// closeCode reads frames until the server's close frame and returns its
// code and reason; code 0 means the connection ended without one (error
// set).
func (c *rawWS) closeCode(deadline time.Time) (int, string, error) {
	for {
		f, err := c.next(deadline)
		if err != nil {
			return 0, "", err
		}
		if f.op == 0x8 {
			if len(f.payload) < 2 {
				return 1005, "", nil
			}
			return int(binary.BigEndian.Uint16(f.payload)), string(f.payload[2:]), nil
		}
	}
}

// waitEOF reads (and discards) until the server ends the TCP connection or
// the deadline passes; it reports when the connection ended.
func (c *rawWS) waitEOF(deadline time.Time) (time.Time, error) {
	_ = c.SetReadDeadline(deadline)
	_, err := io.Copy(io.Discard, c.br)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return time.Time{}, err
	}
	return time.Now(), nil
}
