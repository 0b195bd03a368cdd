package netcode

import (
	"fmt"
	"net/http"
	"path"
	"time"

	"github.com/rs/zerolog"

	"github.com/tickstream/tickstream/game"
)

// Config configures a Server. Zero fields take the documented default.
type Config struct {
	// Directory configures the match directory; its NewPublisher is set by
	// the server.
	Directory game.DirectoryConfig
	// AllowedOrigins are host patterns (path.Match syntax, e.g.
	// "*.example.com") allowed to open /play from a browser besides the
	// server's own origin. Empty means same origin only.
	AllowedOrigins []string
	// WriteTimeout is the deadline of every frame write; zero means 5 s.
	WriteTimeout time.Duration
	// JoinTimeout is how long a new socket may take to send join; zero
	// means 10 s.
	JoinTimeout time.Duration
	// InputRate is the sustained inputs per second per seat; zero means
	// 120. InputBurst is the burst; zero means 60.
	InputRate  float64
	InputBurst int
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
	c.Spectators = c.Spectators.withDefaults()
	switch {
	case c.WriteTimeout < 0 || c.JoinTimeout < 0:
		return c, fmt.Errorf("timeouts must be positive")
	case c.InputRate < 0 || c.InputBurst < 0 || c.ReliableQueue < 0:
		return c, fmt.Errorf("rates and queue sizes must be positive")
	}
	for _, p := range c.AllowedOrigins {
		if _, err := path.Match(p, ""); err != nil {
			return c, fmt.Errorf("allowed origin pattern %q: %w", p, err)
		}
	}
	return c, nil
}
