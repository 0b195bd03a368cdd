package netcode

import (
	"fmt"
	"net/http"
	"net/netip"
	"path"
	"time"

	"github.com/rs/zerolog"

	"github.com/tickstream/tickstream/netcode/replay"
)

// Config configures a Server. Zero fields take the documented default.
type Config struct {
	// AllowedOrigins are host patterns (path.Match syntax, e.g.
	// "*.example.com") allowed to open /play from a browser besides the
	// server's own origin. Empty means same origin only.
	AllowedOrigins []string
	// PublicOrigins are the full origins the server is reached at by
	// browsers ("https://game.example.com", "http://10.0.0.5:8080"). When
	// set, a browser's Origin must equal one of them (or match
	// AllowedOrigins). Empty means: an Origin equal to the request's Host
	// is accepted only when that host is an IP literal or "localhost" (a
	// DNS-rebinding page has a DNS name), so a deployment on a DNS name
	// must set it.
	PublicOrigins []string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed when identifying a client for the per-client limits. Empty
	// means none: the client is the peer address and X-Forwarded-For is
	// ignored.
	TrustedProxies []netip.Prefix
	// APIToken, when set, is required as "Authorization: Bearer <token>"
	// by POST /api/matches (401 otherwise); requests with it are exempt
	// from the per-client creation limit. Empty means anyone may create
	// matches, within Limits.CreatesPerMinute.
	APIToken string
	// Limits are the per-client and per-connection limits.
	Limits LimitsConfig
	// WriteTimeout is the deadline of every frame write; zero means 5 s.
	WriteTimeout time.Duration
	// GoroutineReader keeps coder/websocket's goroutine reader for every
	// player connection. By default, on Linux, a plain-TCP player
	// connection is read by the epoll reactor after its hello (wsraw.go,
	// reactor_linux.go); TLS connections and other systems always use the
	// goroutine reader.
	GoroutineReader bool
	// NoIOURing writes each snapshot of the raw path with its own
	// write(2). By default, where the kernel allows io_uring, the writer
	// pool sends a tick's snapshots (up to 64 sessions) in one io_uring
	// submission; without io_uring it falls back to write(2) by itself.
	NoIOURing bool
	// JoinTimeout is how long a new socket may take to send join; zero
	// means 10 s.
	JoinTimeout time.Duration
	// InputRate is the sustained inputs per second per seat; zero means
	// 120. InputBurst is the burst; zero means 60.
	InputRate  float64
	InputBurst int
	// ViewRadius overrides the game's interest radius (world units): a
	// player is sent the entities within it. Zero keeps the game's
	// (game.Layout.ViewRadius); negative turns interest management off
	// (every player is sent every entity).
	ViewRadius float64
	// ReliableQueue bounds each session's queue of reliable messages; zero
	// means 16.
	ReliableQueue int
	// Heartbeat configures pings and dead-session detection.
	Heartbeat HeartbeatConfig
	// ResumeSecret signs resume tokens (at least 16 bytes); empty means a
	// random secret per process (tokens do not survive a restart, and
	// neither do matches).
	ResumeSecret []byte
	// ResumeTTL bounds a resume token's life; zero means 1 h.
	ResumeTTL time.Duration
	// Spectators configures the spectator streams.
	Spectators SpectatorConfig
	// Replays configures match recording and replay serving (package
	// replay: the directory, its size and age limits, the recorder's
	// queue). An empty Replays.Dir (the zero value) records nothing, and
	// /api/replays lists nothing. Events and Logger are set by the server.
	Replays replay.Config
	// Node is this server's node id in a cluster (listed with its matches);
	// PublicURL is its base URL as clients reach it (http://host:port).
	// Both are empty on a single node.
	Node      string
	PublicURL string
	// Router routes joins across the nodes of a cluster (package
	// netcode/cluster); nil seats every join here.
	Router Router
	// Relay serves spectators of matches owned by other nodes (package
	// netcode/relay); nil answers 404 for them.
	Relay Relay
	// Static serves GET / and the browser client; nil serves nothing there.
	Static http.Handler
	// Logger is the parent logger; the zero value logs nothing.
	Logger zerolog.Logger
}

func (c Config) withDefaults() (Config, error) {
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 5 * time.Second
	}
	if c.JoinTimeout == 0 {
		c.JoinTimeout = 10 * time.Second
	}
	if c.InputRate == 0 {
		c.InputRate = 120
	}
	if c.InputBurst == 0 {
		c.InputBurst = 60
	}
	if c.ReliableQueue == 0 {
		c.ReliableQueue = 16
	}
	if c.ResumeTTL == 0 {
		c.ResumeTTL = time.Hour
	}
	c.Heartbeat = c.Heartbeat.withDefaults()
	c.Limits = c.Limits.withDefaults()
	c.Spectators = c.Spectators.withDefaults()
	switch {
	case c.WriteTimeout < 0 || c.JoinTimeout < 0:
		return c, fmt.Errorf("timeouts must be positive")
	case c.InputRate < 0 || c.InputBurst < 0 || c.ReliableQueue < 0:
		return c, fmt.Errorf("rates and queue sizes must be positive")
	}
	public := make([]string, 0, len(c.PublicOrigins))
	for _, o := range c.PublicOrigins {
		n, err := normalizeOrigin(o)
		if err != nil {
			return c, fmt.Errorf("public origin %q: %w", o, err)
		}
		public = append(public, n)
	}
	c.PublicOrigins = public
	for _, p := range c.AllowedOrigins {
		if _, err := path.Match(p, ""); err != nil {
			return c, fmt.Errorf("allowed origin pattern %q: %w", p, err)
		}
	}
	return c, nil
}
