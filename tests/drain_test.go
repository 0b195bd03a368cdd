package tests

// Shutdown of the real server process: a clean drain exits 0; a drain cut
// by -shutdown-grace or by a second SIGTERM exits 1 and logs what it cut.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tickstream/tickstream/netcode/client"
	"github.com/tickstream/tickstream/netcode/nettest"
	"github.com/tickstream/tickstream/netcode/wire"
)

// exitTimeout bounds every wait for the process to exit.
const exitTimeout = 20 * time.Second

// drainProc is a server process started on 127.0.0.1:0 with info logs;
// its address comes from its "tickstream listening" log line.
type drainProc struct {
	addr  string
	cmd   *exec.Cmd
	out   *lockedBuffer
	lines chan map[string]any // every JSON log line, in order
	done  chan struct{}
	err   error
}

func startDrainProc(t *testing.T, bin string, args ...string) *drainProc {
	t.Helper()
	p := &drainProc{out: &lockedBuffer{}, lines: make(chan map[string]any, 256), done: make(chan struct{})}
	p.cmd = exec.Command(bin, append([]string{"-addr", "127.0.0.1:0", "-log-level", "info", "-min-players", "1", "-replay-dir", t.TempDir()}, args...)...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(io.TeeReader(stderr, p.out))
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				select {
				case p.lines <- m:
				default: // the test stopped looking
				}
			}
		}
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		t.Logf("server output:\n%s", p.out.String())
	})
	p.addr = p.waitLog(t, "tickstream listening")["addr"].(string)
	return p
}

// waitLog returns the next log line with message msg (or one of more).
func (p *drainProc) waitLog(t *testing.T, msg string, more ...string) map[string]any {
	t.Helper()
	timeout := time.After(exitTimeout)
	for {
		select {
		case m := <-p.lines:
			if m["message"] == msg {
				return m
			}
			for _, alt := range more {
				if m["message"] == alt {
					return m
				}
			}
		case <-p.done:
			t.Fatalf("process exited before logging %q", msg)
		case <-timeout:
			t.Fatalf("no %q log line", msg)
		}
	}
}

// exitCode waits for the process to exit and returns its status.
func (p *drainProc) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(exitTimeout):
		t.Fatal("process did not exit")
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatalf("wait: %v", p.err)
	}
	return 0
}

func (p *drainProc) signal(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
}

// stuckPlayer upgrades /play over raw TCP and then never reads nor
// answers the close handshake: only the drain deadline ends it.
func stuckPlayer(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, resp := dialRaw(t, addr, "/play")
	if c == nil {
		t.Fatalf("raw upgrade refused: %s", resp.Status)
	}
	// Seated before the test signals: the 101 is written before the
	// server registers the session, and on a busy machine a signal in
	// between would find nothing to cut.
	if err := c.Send(wire.EncodeJoin("stuck", "")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(exitTimeout)
	for nettest.Scrape(t, "http://"+addr+"/metrics", "tickstream_sessions", "connected") < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the stuck player was never seated")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return c.Conn
}

func TestDrain(t *testing.T) {
	bin := serverBinary(t)

	// Cooperating clients: a player and an SSE spectator. SIGTERM → the
	// player is closed with 1001, the stream ends, the process exits 0.
	t.Run("clean", func(t *testing.T) {
		p := startDrainProc(t, bin)
		ctx, cancel := context.WithTimeout(context.Background(), exitTimeout)
		defer cancel()
		c, err := client.Dial(ctx, "ws://"+p.addr+"/play", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		w, err := c.Join(ctx, "drainer", "")
		if err != nil {
			t.Fatal(err)
		}
		playerEnd := make(chan error, 1)
		go func() {
			for {
				if _, err := c.Next(ctx); err != nil {
					playerEnd <- err
					return
				}
			}
		}()
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+p.addr+"/api/matches/"+w.Match+"/events", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("SSE: %v %v", resp, err)
		}
		defer resp.Body.Close()
		sse := client.NewSSEReader(resp.Body)
		if _, err := sse.Next(); err != nil {
			t.Fatalf("first SSE event: %v", err)
		}
		sseEnd := make(chan error, 1)
		go func() {
			for {
				if _, err := sse.Next(); err != nil {
					sseEnd <- err
					return
				}
			}
		}()

		p.signal(t)
		if err := <-playerEnd; client.CloseCode(err) != wire.CloseGoingAway {
			t.Errorf("player: %v, want close %d", err, wire.CloseGoingAway)
		}
		if err := <-sseEnd; !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("SSE stream: %v, want its end", err)
		}
		if code := p.exitCode(t); code != 0 {
			t.Fatalf("exit status %d after a clean drain, want 0", code)
		}
		if strings.Contains(p.out.String(), "drain cut") {
			t.Fatal("a clean drain logged cut connections")
		}
	})

	// A player that never answers the close handshake holds its socket for
	// the bounded close (1 s): a shorter grace cuts it, the process logs
	// the count and exits 1.
	t.Run("grace cuts a stuck player", func(t *testing.T) {
		p := startDrainProc(t, bin, "-shutdown-grace", "300ms")
		stuckPlayer(t, p.addr)
		p.signal(t)
		cut := p.waitLog(t, "drain cut connections")
		if cut["sessions_cut"] != 1.0 || cut["grace"] != "300ms" {
			t.Errorf("cut log line %v, want sessions_cut 1, grace 300ms", cut)
		}
		if code := p.exitCode(t); code != 1 {
			t.Fatalf("exit status %d after a cut drain, want 1", code)
		}
	})

	// A second SIGTERM stops at once, long before the 60 s grace.
	t.Run("second signal", func(t *testing.T) {
		p := startDrainProc(t, bin, "-shutdown-grace", "60s")
		stuckPlayer(t, p.addr)
		// A request whose body never comes holds the HTTP server's drain
		// until its 10 s read timeout: the second signal must not wait.
		slow, err := net.Dial("tcp", p.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer slow.Close()
		fmt.Fprintf(slow, "POST /api/matches HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{", p.addr)
		p.signal(t)
		p.waitLog(t, "shutting down")
		p.signal(t)
		// Cut while the sessions drain, or while the HTTP requests do.
		cut := p.waitLog(t, "drain cut connections", "drain cut http requests still open")
		if !strings.Contains(fmt.Sprint(cut["cause"]), "second signal") {
			t.Errorf("cut log line %v, want the second signal as cause", cut)
		}
		if code := p.exitCode(t); code != 1 {
			t.Fatalf("exit status %d after a second signal, want 1", code)
		}
	})
}
