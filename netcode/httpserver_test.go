package netcode_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tickstream/tickstream/netcode"
	"github.com/tickstream/tickstream/netcode/client"
	"github.com/tickstream/tickstream/netcode/wire"
)

// shortTimeouts are server timeouts far below what the streams below last.
var shortTimeouts = netcode.HTTPOptions{ReadHeaderTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second}

// outlive is how long a stream must keep going: three times the timeouts.
const outlive = 3 * time.Second

// A POST whose body never arrives is closed by the server (ReadTimeout),
// instead of holding a connection forever.
func TestSlowBodyIsClosed(t *testing.T) {
	ts := newTestServerHTTP(t, netcode.Config{}, shortTimeouts)
	conn, err := net.Dial("tcp", ts.http.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = io.WriteString(conn, "POST /api/matches HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"+
		"Content-Length: 100\r\n\r\n{")
	if err != nil {
		t.Fatal(err)
	}
	// Our own bound, well past the server's: only it may fail the test.
	_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	_, err = io.Copy(io.Discard, conn)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("the server kept a request whose body never came")
	}
}

// Every stream outlives the server's read and write timeouts: SSE, a
// player's WebSocket, a WebSocket spectator, and a long poll that waits.
func TestStreamsOutliveServerTimeouts(t *testing.T) {
	ts := newTestServerHTTP(t, netcode.Config{}, shortTimeouts)
	ctx := testCtx(t, 30*time.Second)
	m := ts.postMatch(t, `{"min_players": 1}`)
	ts.movers(t, ctx, m.ID, 1)

	t.Run("sse", func(t *testing.T) {
		t.Parallel()
		r, _ := ts.sseStream(t, ctx, m.ID, "?rate=5", "")
		for end := time.Now().Add(outlive); time.Now().Before(end); {
			readSpec(t, r)
		}
		readSpec(t, r) // still alive
	})
	t.Run("player", func(t *testing.T) {
		t.Parallel()
		c, _ := ts.join(t, ctx, "stayer", m.ID)
		for end := time.Now().Add(outlive); time.Now().Before(end); {
			nextSnap(t, ctx, c)
		}
		seq, err := c.Input(ctx, wire.InputMsg{MX: 1})
		if err != nil {
			t.Fatalf("input after the timeouts: %v", err)
		}
		for i := 0; nextSnap(t, ctx, c).Ack < seq; i++ {
			if i > 300 {
				t.Fatal("input after the timeouts never acknowledged")
			}
		}
	})
	t.Run("watch", func(t *testing.T) {
		t.Parallel()
		c, err := client.Dial(ctx, "ws"+ts.http.URL[4:]+"/api/matches/"+m.ID+"/watch?rate=5", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		for end := time.Now().Add(outlive); time.Now().Before(end); {
			if _, _, err := c.NextRaw(ctx); err != nil {
				t.Fatalf("watch: %v", err)
			}
		}
		if _, _, err := c.NextRaw(ctx); err != nil {
			t.Fatalf("watch after the timeouts: %v", err)
		}
	})
	t.Run("poll", func(t *testing.T) {
		t.Parallel()
		// A fresh match with a 3 s broadcast delay shows nothing for 3 s:
		// the request waits.
		dm := ts.postMatch(t, `{"min_players": 1, "spectator_delay": 3}`)
		// A fresh connection: on a reused one, net/http's client would
		// retry a GET that failed with EOF, and the retry (after the
		// delay) would pass.
		hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 20 * time.Second}
		resp, err := hc.Get(ts.http.URL + "/api/matches/" + dm.ID + "/poll?wait=10")
		if err != nil {
			t.Fatalf("poll: %v", err)
		}
		defer resp.Body.Close()
		var ans struct {
			Events []json.RawMessage `json:"events"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&ans); resp.StatusCode != http.StatusOK || err != nil || len(ans.Events) == 0 {
			t.Fatalf("poll: %d, %d events, %v", resp.StatusCode, len(ans.Events), err)
		}
	})
}

// What net/http does with a hijacked connection's deadlines (Go 1.26:
// Hijack clears them): a handler that hijacks after the server's read and
// write timeouts have passed can still read and write. The streaming
// handlers lift the timeouts before upgrading anyway (streamDeadlines), so
// they do not depend on this; the test records the fact.
func TestHijackedConnKeepsNoServerDeadline(t *testing.T) {
	hs := &http.Server{ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			conn, brw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			time.Sleep(time.Second) // past both timeouts
			if _, err := brw.WriteString("ready\n"); err != nil || brw.Flush() != nil {
				return
			}
			line, err := brw.ReadString('\n')
			if err != nil {
				return
			}
			_, _ = brw.WriteString("echo " + line)
			_ = brw.Flush()
		})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go hs.Serve(ln)
	defer hs.Close()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	if line, err := br.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("hijacked write after the write timeout: %q %v", line, err)
	}
	time.Sleep(500 * time.Millisecond)
	if _, err := io.WriteString(conn, "hi\n"); err != nil {
		t.Fatal(err)
	}
	if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "echo hi") {
		t.Fatalf("hijacked read after the read timeout: %q %v", line, err)
	}
}

// During a drain a late SSE request gets a stream an EventSource can use
// (200, retry, an error event with 1001) and a late long poll a 503 with
// Retry-After.
func TestLateSpectatorsDuringDrain(t *testing.T) {
	ts := newTestServerHTTP(t, netcode.Config{}, netcode.HTTPOptions{})
	m := ts.postMatch(t, `{"min_players": 1}`)
	ctx := testCtx(t, 10*time.Second)
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(ts.http.URL + "/api/matches/" + m.ID + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("late SSE: %d %v", resp.StatusCode, resp.Header)
	}
	r := client.NewSSEReader(resp.Body)
	ev, err := r.Next()
	if err != nil || ev.Event != wire.SpecError || !strings.Contains(ev.Data, `"code":1001`) || r.Retry != 2*time.Second {
		t.Fatalf("late SSE event %+v (retry %v): %v", ev, r.Retry, err)
	}
	if _, err := r.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("late SSE did not end: %v", err)
	}
	poll, err := http.Get(ts.http.URL + "/api/matches/" + m.ID + "/poll")
	if err != nil {
		t.Fatal(err)
	}
	poll.Body.Close()
	if poll.StatusCode != http.StatusServiceUnavailable || poll.Header.Get("Retry-After") != "2" {
		t.Fatalf("late poll: %d %v", poll.StatusCode, poll.Header)
	}
}
