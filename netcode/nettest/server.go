package nettest

import (
	"context"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode"
)

// Server is an in-process Tickstream server on a loopback listener,
// started by StartServer.
//
// nettest imports netcode, so netcode's internal tests (package netcode)
// cannot use it; its external tests (package netcode_test) can.
type Server struct {
	*netcode.Server
	// Dir is the server's directory (what Server.Directory returns), with
	// its concrete type.
	Dir *game.Directory
	// HTTP is the httptest server in front of the server's handler.
	HTTP *httptest.Server
	// URL is the base URL, "http://127.0.0.1:port".
	URL string
	// WSURL is the player endpoint, "ws://127.0.0.1:port/play".
	WSURL string
	// Addr is the listener's "127.0.0.1:port".
	Addr string
}

// Options changes how StartServerWith serves. The zero value is what
// StartServer does.
type Options struct {
	// HTTP, when set, makes the http.Server netcode.NewHTTPServer's with
	// these options (timeouts, as cmd/server does). By default it is
	// httptest's plain http.Server, without timeouts.
	HTTP *netcode.HTTPOptions
	// Listener, when set, wraps the loopback listener before the server
	// starts accepting (e.g. netcode.TuneListener, as cmd/server does).
	Listener func(net.Listener) net.Listener
	// Cluster, when set, makes the server a node of a cluster: it is
	// called with the server's directory and base URL before the server
	// is built, and its Router and Relay go into the server's config
	// (PublicURL is set to the base URL; set Node in the config).
	Cluster func(dir *game.Directory, baseURL string) (netcode.Router, netcode.Relay)
}

// StartServer starts netcode.NewServer(cfg, …) with a local game.Directory
// configured by dcfg (its NewPublisher is the server's hook, its Logger is
// cfg.Logger), serving on a loopback listener. The test's cleanup shuts the
// server down (Shutdown, 10 s to drain; a failed drain fails the test) and
// then closes the listener. It fails the test if the server cannot be built.
func StartServer(t testing.TB, cfg netcode.Config, dcfg game.DirectoryConfig) *Server {
	t.Helper()
	return StartServerWith(t, cfg, dcfg, Options{})
}

// StartServerWith is StartServer with opts.
func StartServerWith(t testing.TB, cfg netcode.Config, dcfg game.DirectoryConfig, opts Options) *Server {
	t.Helper()
	dcfg.Logger = cfg.Logger
	// The directory first, with the server's publisher hook filled in
	// when the server is built (before any match exists), as cmd/server
	// does: a cluster node needs the directory before the server.
	var publish netcode.NewPublisher
	dcfg.NewPublisher = func(id string, mc game.MatchConfig, l game.Layout) game.Publisher { return publish(id, mc, l) }
	dir, err := game.NewDirectory(dcfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(nil)
	if opts.Cluster != nil {
		cfg.PublicURL = "http://" + hs.Listener.Addr().String()
		cfg.Router, cfg.Relay = opts.Cluster(dir, cfg.PublicURL)
	}
	srv, err := netcode.NewServer(cfg, func(p netcode.NewPublisher) (netcode.Directory, error) {
		publish = p
		return dir, nil
	})
	if err != nil {
		dir.Close()
		t.Fatal(err)
	}
	hs.Config.Handler = srv.Handler()
	if opts.HTTP != nil {
		hs.Config = netcode.NewHTTPServer(srv.Handler(), *opts.HTTP)
	}
	if opts.Listener != nil {
		hs.Listener = opts.Listener(hs.Listener)
	}
	hs.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		hs.Close()
	})
	return &Server{
		Server: srv,
		Dir:    dir,
		HTTP:   hs,
		URL:    hs.URL,
		WSURL:  "ws" + strings.TrimPrefix(hs.URL, "http") + "/play",
		Addr:   hs.Listener.Addr().String(),
	}
}

// LocalDirectory is the directory constructor cmd/server passes to
// netcode.NewServer: an in-memory game.Directory configured by dcfg around
// the server's publisher hook.
func LocalDirectory(dcfg game.DirectoryConfig) netcode.NewDirectory {
	return func(publish netcode.NewPublisher) (netcode.Directory, error) {
		dcfg.NewPublisher = publish
		return game.NewDirectory(dcfg)
	}
}

// KillableListener wraps a listener so that every connection it accepted
// (hijacked WebSockets included) can be cut at once with it: a node dying
// without a drain. Use it as Options.Listener.
type KillableListener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

// Accept implements net.Listener.
func (l *KillableListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

// Kill closes the listener and every connection, without a close frame,
// as a dying process would: each TCP connection is shut down both ways
// first (the server's raw path reads and writes a duplicate of the
// descriptor, which closing this one alone would leave open).
func (l *KillableListener) Kill() {
	_ = l.Listener.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.CloseRead()
			_ = tc.CloseWrite()
		}
		_ = c.Close()
	}
}
