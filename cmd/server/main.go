// Command server runs a Tickstream game server: the play page, the player
// WebSocket, the HTTP API, health and metrics, on one port.
//
// Every flag may also be set as an environment variable TICKSTREAM_<NAME>
// (upper case, dashes as underscores); a flag on the command line wins.
//
// "server replay verify FILE" re-simulates a recorded match from its
// inputs and compares every tick's world checksum with the recorded one:
// exit status 0 when all match, 1 at the first tick that differs, 2 when
// the file cannot be read or has no inputs.
//
// Exit status of the server: 0 after a clean drain (every session closed within
// -shutdown-grace) or -h; 1 when the server cannot start or serve, and
// when a shutdown had to cut connections: the grace deadline passed, or a
// second SIGTERM/SIGINT asked to stop at once. A log line then says how
// many sessions and spectator streams were cut.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode"
	"github.com/tickstream/tickstream/netcode/replay"
	"github.com/tickstream/tickstream/static"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "replay" {
		os.Exit(replayMain(os.Args[2:], os.Stdout, os.Stderr))
	}
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

// config is every setting of the server, parsed once.
type config struct {
	addr            string
	allowedOrigins  string
	tickRate        int
	maxPlayers      int
	minPlayers      int
	maxMatches      int
	timeLimit       time.Duration
	scoreLimit      int
	emptyTimeout    time.Duration
	writeTimeout    time.Duration
	goroutineReader bool
	ioURing         bool
	viewRadius      float64
	joinTimeout     time.Duration
	shutdownGrace   time.Duration
	logLevel        string
	hbInterval      time.Duration
	deadAfter       time.Duration
	suspendedDead   time.Duration
	behindAfter     time.Duration
	slowAfter       time.Duration
	grace           time.Duration
	resumeSecret    string
	publicOrigin    string
	trustedProxies  string
	apiToken        string
	maxConns        int
	maxSeats        int
	createsPerMin   int
	limitLoopback   bool
	joinRate        float64
	joinBurst       int
	tlsCert         string
	tlsKey          string
	replayDir       string
	replayMaxBytes  int64
	replayMaxAge    time.Duration
	cluster         clusterConfig
}

func parseConfig(args []string, getenv func(string) string) (config, error) {
	var c config
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.StringVar(&c.addr, "addr", ":8080", "listen address")
	fs.StringVar(&c.allowedOrigins, "allowed-origins", "", "comma-separated host patterns allowed to open /play cross-origin (same origin is always allowed)")
	fs.IntVar(&c.tickRate, "tick-rate", game.DefaultTickRate, "tick rate of auto-created matches, Hz (10-128)")
	fs.IntVar(&c.maxPlayers, "max-players", 16, "players per match (1-64)")
	fs.IntVar(&c.minPlayers, "min-players", 2, "players a match waits for before it runs")
	fs.IntVar(&c.maxMatches, "max-matches", 1000, "live matches per server")
	fs.DurationVar(&c.timeLimit, "time-limit", 5*time.Minute, "length of a running match")
	fs.IntVar(&c.scoreLimit, "score-limit", 20, "kills that end a match")
	fs.DurationVar(&c.emptyTimeout, "empty-timeout", 30*time.Second, "an empty match closes after this long")
	fs.DurationVar(&c.writeTimeout, "write-timeout", 5*time.Second, "deadline of every frame write")
	fs.BoolVar(&c.ioURing, "io-uring", true, "send each tick's snapshots to up to 64 players in one io_uring submission (Linux, the epoll reactor's connections; without io_uring the server falls back to one write per snapshot)")
	fs.BoolVar(&c.goroutineReader, "goroutine-reader", false, "read every player socket on a goroutine of its own (coder/websocket's reader) instead of the epoll reactor (Linux, plain TCP; TLS always uses the goroutine reader)")
	fs.DurationVar(&c.joinTimeout, "join-timeout", 10*time.Second, "a new player socket must send join or resume within this long (else close 4008)")
	fs.DurationVar(&c.shutdownGrace, "shutdown-grace", 10*time.Second, "how long a shutdown waits for sessions to close")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.DurationVar(&c.hbInterval, "heartbeat-interval", time.Second, "time between heartbeat pings")
	fs.DurationVar(&c.deadAfter, "dead-after", 5*time.Second, "a session that sends nothing for this long is dead")
	fs.DurationVar(&c.suspendedDead, "suspended-dead-after", 60*time.Second, "the same, while the client says its tab is hidden")
	fs.Float64Var(&c.viewRadius, "view-radius", 0, "interest radius in world units: a player is sent the entities within it (0: the game's, 450 in the arena; -1: off, everything to everyone)")
	fs.DurationVar(&c.behindAfter, "behind-after", 2*time.Second, "a client whose oldest unanswered ping is this old gets no snapshots until it catches up")
	fs.DurationVar(&c.slowAfter, "slow-after", 5*time.Second, "a client behind for this long is closed with 4007 too slow")
	fs.DurationVar(&c.grace, "grace", 20*time.Second, "how long a lost player's seat is held for a resume")
	fs.StringVar(&c.resumeSecret, "resume-secret", "", "secret that signs resume tokens (at least 16 bytes; empty: random per process)")
	fs.StringVar(&c.publicOrigin, "public-origin", "", "comma-separated origins browsers reach the server at, e.g. https://game.example.com (required on a DNS name; empty: same origin on an IP address or localhost only)")
	fs.StringVar(&c.trustedProxies, "trusted-proxies", "", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For identifies the client (empty: X-Forwarded-For is ignored)")
	fs.StringVar(&c.apiToken, "api-token", "", "when set, POST /api/matches requires Authorization: Bearer <token> (and is then not rate-limited)")
	fs.IntVar(&c.maxConns, "max-conns-per-client", 64, "concurrent player and spectator connections per client address (0: no cap)")
	fs.IntVar(&c.maxSeats, "max-seats-per-client", 8, "joined player sessions per client address (0: no cap)")
	fs.IntVar(&c.createsPerMin, "creates-per-minute", 10, "matches one client address may create per minute without the API token (0: no limit)")
	fs.Float64Var(&c.joinRate, "join-rate", 200, "joins this node seats per second, over all clients (a token bucket; over it: close 4009 \"server busy, retry\"); 0: no limit")
	fs.IntVar(&c.joinBurst, "join-burst", 100, "burst of -join-rate")
	fs.BoolVar(&c.limitLoopback, "limit-loopback", false, "apply the per-client limits to loopback addresses too (by default 127.0.0.1 and ::1 are exempt)")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "PEM certificate chain file: serve HTTPS and wss (with -tls-key)")
	fs.StringVar(&c.tlsKey, "tls-key", "", "PEM private key file of -tls-cert")
	fs.StringVar(&c.replayDir, "replay-dir", "replays", `directory of match recordings (replays), created if missing; "" records nothing`)
	fs.Int64Var(&c.replayMaxBytes, "replay-max-bytes", 1<<30, "total size of the replay files: the oldest go first beyond it")
	fs.DurationVar(&c.replayMaxAge, "replay-max-age", 7*24*time.Hour, "replay files older than this are removed")
	c.cluster.flags(fs)
	// Environment variables first, so that flags on the command line win.
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := "TICKSTREAM_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" && envErr == nil {
			if err := f.Value.Set(v); err != nil {
				envErr = fmt.Errorf("%s=%q: %w", name, v, err)
			}
		}
	})
	if envErr != nil {
		return c, envErr
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return c, errors.New("-tls-cert and -tls-key go together: set both or neither")
	}
	if c.shutdownGrace <= 0 {
		return c, errors.New("-shutdown-grace must be positive")
	}
	if c.joinRate < 0 || c.joinBurst < 1 {
		return c, errors.New("-join-rate must be ≥ 0 and -join-burst ≥ 1")
	}
	if c.replayMaxBytes <= 0 || c.replayMaxAge <= 0 {
		return c, errors.New("-replay-max-bytes and -replay-max-age must be positive")
	}
	return c, nil
}

// tlsConfig loads the certificate and key; nil without TLS.
func (c config) tlsConfig() (*tls.Config, error) {
	if c.tlsCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.tlsCert, c.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, logOut *os.File) error {
	cfg, err := parseConfig(args, getenv)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	level, err := zerolog.ParseLevel(cfg.logLevel)
	if err != nil {
		return fmt.Errorf("log level: %w", err)
	}
	log := zerolog.New(logOut).Level(level).With().Timestamp().Logger()
	tlsConf, err := cfg.tlsConfig()
	if err != nil {
		return err
	}

	var origins []string
	for _, o := range strings.Split(cfg.allowedOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			origins = append(origins, o)
		}
	}
	proxies, err := parsePrefixes(cfg.trustedProxies)
	if err != nil {
		return fmt.Errorf("trusted proxies: %w", err)
	}
	// The match directory: in memory, this process's matches. The server
	// hands it its publisher hook (before any match exists) and owns it
	// from then on. In a cluster, the node publishes its matches to the
	// cluster directory and routes joins; a new match is published at once.
	var publish netcode.NewPublisher
	var cn *clusterNode
	dir, err := game.NewDirectory(game.DirectoryConfig{
		MaxMatches: cfg.maxMatches,
		Defaults: game.MatchConfig{
			TickRate: cfg.tickRate, MaxPlayers: cfg.maxPlayers, MinPlayers: cfg.minPlayers,
			TimeLimit: cfg.timeLimit, ScoreLimit: cfg.scoreLimit, EmptyTimeout: cfg.emptyTimeout,
			Grace: cfg.grace,
		},
		NewPublisher: func(id string, mc game.MatchConfig, l game.Layout) game.Publisher {
			if cn != nil {
				cn.node.Kick()
			}
			return publish(id, mc, l)
		},
		Logger: log,
	})
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	localDirectory := func(p netcode.NewPublisher) (netcode.Directory, error) {
		publish = p
		return dir, nil
	}
	if cn, err = startCluster(ctx, cfg.cluster, cfg.addr, cfg.maxMatches, dir, log); err != nil {
		dir.Close()
		return err
	}
	var router netcode.Router
	var rel netcode.Relay
	var nodeID, publicURL string
	if cn != nil {
		defer cn.close()
		router, rel, nodeID, publicURL = cn.node, cn.edge, cn.node.ID(), cn.node.URL()
	}
	srv, err := netcode.NewServer(netcode.Config{
		Node:      nodeID,
		PublicURL: publicURL,
		Router:    router,
		Relay:     rel,
		Heartbeat: netcode.HeartbeatConfig{
			Interval: cfg.hbInterval, DeadAfter: cfg.deadAfter, SuspendedDeadAfter: cfg.suspendedDead,
			BehindAfter: cfg.behindAfter, SlowAfter: cfg.slowAfter,
		},
		ResumeSecret:   []byte(cfg.resumeSecret),
		AllowedOrigins: origins,
		PublicOrigins:  splitList(cfg.publicOrigin),
		TrustedProxies: proxies,
		APIToken:       cfg.apiToken,
		Limits: netcode.LimitsConfig{
			ConnsPerClient:   offIfZero(cfg.maxConns),
			SeatsPerClient:   offIfZero(cfg.maxSeats),
			CreatesPerMinute: offIfZero(cfg.createsPerMin),
			LimitLoopback:    cfg.limitLoopback,
			JoinRate:         joinRate(cfg.joinRate),
			JoinBurst:        cfg.joinBurst,
		},
		WriteTimeout:    cfg.writeTimeout,
		GoroutineReader: cfg.goroutineReader,
		NoIOURing:       !cfg.ioURing,
		JoinTimeout:     cfg.joinTimeout,
		ViewRadius:      cfg.viewRadius,
		Replays:         replay.Config{Dir: cfg.replayDir, MaxBytes: cfg.replayMaxBytes, MaxAge: cfg.replayMaxAge},
		Static:          static.Handler(),
		Logger:          log,
	}, localDirectory)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if cn != nil {
		if err := cn.attach(srv, log); err != nil {
			return fmt.Errorf("cluster metrics: %w", err)
		}
	}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	ln = netcode.TuneListener(ln) // bounded kernel send buffers: a slow reader gets the latest snapshot, not a backlog
	// Ordinary requests get the read and write timeouts; the streaming
	// endpoints lift them and keep their own deadlines.
	httpSrv := netcode.NewHTTPServer(srv.Handler(), netcode.HTTPOptions{TLS: tlsConf})
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	serveErr := make(chan error, 1)
	go func() {
		if tlsConf != nil {
			serveErr <- httpSrv.ServeTLS(ln, "", "") // the certificate is in TLSConfig
		} else {
			serveErr <- httpSrv.Serve(ln)
		}
	}()
	log.Info().Str("addr", ln.Addr().String()).Bool("tls", tlsConf != nil).Int("tick_rate", cfg.tickRate).
		Str("shutdown_grace", cfg.shutdownGrace.String()).Msg("tickstream listening")

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	if cn != nil {
		cn.node.SetDraining(true) // peers stop sending joins here
	}
	return shutdown(log, srv, httpSrv, cfg.shutdownGrace)
}

// errGraceOver and errSecondSignal are why a drain stopped waiting.
var (
	errGraceOver    = errors.New("shutdown grace deadline passed")
	errSecondSignal = errors.New("second signal: stopping at once")
)

// shutdown drains srv and then httpSrv within grace; a second SIGTERM or
// SIGINT cuts the wait short. It returns an error when connections had to
// be cut, after logging how many.
func shutdown(log zerolog.Logger, srv *netcode.Server, httpSrv *http.Server, grace time.Duration) error {
	start := time.Now()
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	ctx, cancelGrace := context.WithTimeoutCause(ctx, grace, errGraceOver)
	defer cancelGrace()
	force := make(chan os.Signal, 1)
	signal.Notify(force, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(force)
	go func() {
		select {
		case sig := <-force:
			log.Warn().Str("signal", sig.String()).Msg("second signal: stopping at once")
			cancel(errSecondSignal)
		case <-ctx.Done():
		}
	}()
	log.Info().Str("grace", grace.String()).Msg("shutting down")

	// Drain first: readiness turns 503, new streams are refused, the
	// hijacked WebSockets (which http.Server.Shutdown does not track) close
	// with 1001, spectator streams end, matches stop. Then the HTTP server
	// waits for its remaining handlers.
	drainErr := srv.Shutdown(ctx)
	httpErr := httpSrv.Shutdown(ctx)
	if httpErr != nil {
		_ = httpSrv.Close() // cut what is left (streams stuck in a write, slow requests)
	}
	elapsed := time.Since(start).Round(time.Millisecond).String()
	var de *netcode.DrainError
	switch {
	case errors.As(drainErr, &de):
		log.Error().Int("sessions_cut", de.Sessions).Int("spectators_cut", de.Spectators).
			Str("cause", de.Err.Error()).Str("grace", grace.String()).Str("duration", elapsed).
			Msg("drain cut connections")
		return fmt.Errorf("shutdown: %w", de)
	case drainErr != nil:
		return fmt.Errorf("shutdown: %w", drainErr)
	case httpErr != nil:
		cause := context.Cause(ctx)
		if cause == nil {
			cause = httpErr
		}
		log.Error().Int("sessions_cut", 0).Str("cause", cause.Error()).Str("grace", grace.String()).
			Str("duration", elapsed).Msg("drain cut http requests still open")
		return fmt.Errorf("shutdown: http requests still open: %w", cause)
	}
	log.Info().Str("duration", elapsed).Msg("stopped")
	return nil
}

// splitList splits a comma-separated flag, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// parsePrefixes parses comma-separated CIDRs; a bare address is one host.
func parsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range splitList(s) {
		if !strings.Contains(v, "/") {
			a, err := netip.ParseAddr(v)
			if err != nil {
				return nil, err
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// joinRate maps -join-rate's 0 ("no limit") to the config's negative.
func joinRate(r float64) float64 {
	if r == 0 {
		return -1
	}
	return r
}

// offIfZero maps a flag's 0 ("off") to the config's negative ("no limit";
// zero there means the default).
func offIfZero(n int) int {
	if n == 0 {
		return -1
	}
	return n
}
