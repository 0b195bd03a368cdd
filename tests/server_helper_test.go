package tests

// Helpers shared by the end-to-end tests: build the server binary, run it as
// a real process on a free loopback port, wait until it is healthy, stop it.
// Keep this file free of browser dependencies; it has no build tag.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// buildTimeout bounds `go build ./cmd/server` (a warm cache takes seconds).
	buildTimeout = 90 * time.Second
	// healthyTimeout bounds the wait for GET /healthz to answer 200.
	healthyTimeout = 15 * time.Second
	// stopTimeout is how long a server gets to exit after SIGTERM before it
	// is killed.
	stopTimeout = 5 * time.Second
)

// moduleRoot is the directory of go.mod: the parent of this file's folder.
func moduleRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test source file")
	}
	root := filepath.Dir(filepath.Dir(file))
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root %s: %v", root, err)
	}
	return root
}

// serverBinary builds ./cmd/server into a temporary folder and returns its
// path. When $TICKSTREAM_SERVER_BIN names a binary, that one is used instead
// (no build).
func serverBinary(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv("TICKSTREAM_SERVER_BIN"); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("TICKSTREAM_SERVER_BIN: %v", err)
		}
		return bin
	}
	bin := filepath.Join(t.TempDir(), "server")
	start := time.Now()
	if err := buildServer(moduleRoot(t), bin); err != nil {
		t.Fatal(err)
	}
	t.Logf("built %s in %v", bin, time.Since(start).Round(time.Millisecond))
	return bin
}

// buildServer builds ./cmd/server of the module at root into bin.
func buildServer(root, bin string) error {
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/server")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/server: %w\n%s", err, out)
	}
	return nil
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// serverProcess is a server binary running as a child process.
type serverProcess struct {
	Addr string // host:port
	URL  string // http://host:port

	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{} // closed when the process has exited
	err  error         // exit error; read only after done is closed
}

// WSURL is the player WebSocket endpoint of the server.
func (s *serverProcess) WSURL() string { return "ws://" + s.Addr + "/play" }

// Output is what the process has written so far (stdout and stderr).
func (s *serverProcess) Output() string { return s.out.String() }

// startServer runs bin with -addr on a free loopback port and -log-level
// warn (plus args), waits until GET /healthz answers 200, and stops the
// process when the test ends: SIGTERM, then SIGKILL after stopTimeout. The
// server's output is logged at the end. It tries another port if the first
// one was taken in the meantime.
func startServer(t testing.TB, bin string, args ...string) *serverProcess {
	t.Helper()
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s, err := tryStartServer(t, bin, args)
		if err == nil {
			return s
		}
		lastErr = err
	}
	t.Fatalf("start server: %v", lastErr)
	return nil
}

func tryStartServer(t testing.TB, bin string, args []string) (*serverProcess, error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	s := &serverProcess{
		Addr: addr,
		URL:  "http://" + addr,
		out:  &lockedBuffer{},
		done: make(chan struct{}),
	}
	argv := append([]string{"-addr", addr, "-log-level", "warn", "-replay-dir", t.TempDir()}, args...)
	s.cmd = exec.Command(bin, argv...)
	s.cmd.Stdout = s.out
	s.cmd.Stderr = s.out
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("exec %s: %w", bin, err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() { s.stop(t) })

	ctx, cancel := context.WithTimeout(context.Background(), healthyTimeout)
	defer cancel()
	if err := waitHealthy(ctx, s.URL+"/healthz", s.done); err != nil {
		s.stop(t)
		return nil, fmt.Errorf("server on %s: %w", addr, err)
	}
	return s, nil
}

// waitHealthy polls url until it answers 200, the context ends, or exited is
// closed (the process died).
func waitHealthy(ctx context.Context, url string, exited <-chan struct{}) error {
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
		}
		last = err
		select {
		case <-exited:
			return errors.New("process exited before it was healthy")
		case <-ctx.Done():
			return fmt.Errorf("not healthy in time: %w (last: %v)", ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// stop ends the process (idempotent) and logs its output.
func (s *serverProcess) stop(t testing.TB) {
	select {
	case <-s.done:
	default:
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(stopTimeout):
			t.Errorf("server did not exit %v after SIGTERM; killing it", stopTimeout)
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	}
	if out := s.out.takeUnlogged(); out != "" {
		t.Logf("server %s output:\n%s", s.Addr, out)
	}
}

// lockedBuffer is a bytes.Buffer safe for the process's writers and the test.
type lockedBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	logged bool
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// takeUnlogged returns the whole output the first time, "" afterwards.
func (b *lockedBuffer) takeUnlogged() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.logged {
		return ""
	}
	b.logged = true
	return b.buf.String()
}
