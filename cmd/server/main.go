// Command server runs a Tickstream game server: the play page, the player
// WebSocket, the HTTP API, health and metrics, on one port.
//
// Every flag may also be set as an environment variable TICKSTREAM_<NAME>
// (upper case, dashes as underscores); a flag on the command line wins.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode"
	"github.com/tickstream/tickstream/static"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

// config is every setting of the server, parsed once.
type config struct {
	addr           string
	allowedOrigins string
	tickRate       int
	maxPlayers     int
	minPlayers     int
	maxMatches     int
	timeLimit      time.Duration
	scoreLimit     int
	emptyTimeout   time.Duration
	writeTimeout   time.Duration
	shutdownGrace  time.Duration
	logLevel       string
	hbInterval     time.Duration
	deadAfter      time.Duration
	suspendedDead  time.Duration
	grace          time.Duration
	resumeSecret   string
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
	fs.DurationVar(&c.shutdownGrace, "shutdown-grace", 10*time.Second, "how long a shutdown waits for sessions to close")
	fs.StringVar(&c.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.DurationVar(&c.hbInterval, "heartbeat-interval", time.Second, "time between heartbeat pings")
	fs.DurationVar(&c.deadAfter, "dead-after", 5*time.Second, "a session that sends nothing for this long is dead")
	fs.DurationVar(&c.suspendedDead, "suspended-dead-after", 60*time.Second, "the same, while the client says its tab is hidden")
	fs.DurationVar(&c.grace, "grace", 20*time.Second, "how long a lost player's seat is held for a resume")
	fs.StringVar(&c.resumeSecret, "resume-secret", "", "secret that signs resume tokens (at least 16 bytes; empty: random per process)")
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
	return c, nil
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

	var origins []string
	for _, o := range strings.Split(cfg.allowedOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			origins = append(origins, o)
		}
	}
	srv, err := netcode.NewServer(netcode.Config{
		Directory: game.DirectoryConfig{
			MaxMatches: cfg.maxMatches,
			Defaults: game.MatchConfig{
				TickRate: cfg.tickRate, MaxPlayers: cfg.maxPlayers, MinPlayers: cfg.minPlayers,
				TimeLimit: cfg.timeLimit, ScoreLimit: cfg.scoreLimit, EmptyTimeout: cfg.emptyTimeout,
				Grace: cfg.grace,
			},
		},
		Heartbeat: netcode.HeartbeatConfig{
			Interval: cfg.hbInterval, DeadAfter: cfg.deadAfter, SuspendedDeadAfter: cfg.suspendedDead,
		},
		ResumeSecret:   []byte(cfg.resumeSecret),
		AllowedOrigins: origins,
		WriteTimeout:   cfg.writeTimeout,
		Static:         static.Handler(),
		Logger:         log,
	})
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	ln = netcode.TuneListener(ln) // bounded kernel send buffers: a slow reader gets the latest snapshot, not a backlog
	httpSrv := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	serveErr := make(chan error, 1)
	go func() { serveErr <- httpSrv.Serve(ln) }()
	log.Info().Str("addr", ln.Addr().String()).Int("tick_rate", cfg.tickRate).Msg("tickstream listening")

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info().Msg("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownGrace)
	defer cancel()
	// Drain first: readiness turns 503, new requests are refused, the
	// hijacked WebSockets (which http.Server.Shutdown does not track) close
	// with 1001, spectator streams end, matches stop. Then the HTTP server
	// waits for its remaining handlers.
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn().Err(err).Msg("sessions did not all close in time")
	}
	httpErr := httpSrv.Shutdown(sctx)
	if httpErr != nil && !errors.Is(httpErr, context.DeadlineExceeded) {
		return fmt.Errorf("http shutdown: %w", httpErr)
	}
	log.Info().Msg("stopped")
	return nil
}
