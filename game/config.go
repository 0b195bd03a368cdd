package game

import (
	"fmt"
	"time"
)

// MatchConfig configures one match. Zero fields take the documented default.
type MatchConfig struct {
	// TickRate in Hz; zero means DefaultTickRate (30). MinTickRate…MaxTickRate.
	TickRate int
	// MaxPlayers is the number of seats; zero means 16. 1…64.
	MaxPlayers int
	// MinPlayers is how many players a waiting match needs to start
	// running, 1…MaxPlayers; zero means the default (2), lowered to
	// MaxPlayers when that is smaller. A non-zero value above MaxPlayers is
	// an error, never silently lowered.
	MinPlayers int
	// TimeLimit is how long a running match lasts, MinTimeLimit…
	// MaxTimeLimit; zero means 5 minutes.
	TimeLimit time.Duration
	// ScoreLimit is the kill count that ends a match, 1…MaxScoreLimit;
	// zero means 20.
	ScoreLimit int
	// EmptyTimeout closes a match that has had no players for this long;
	// zero means 30 s.
	EmptyTimeout time.Duration
	// EndLinger is how long an ended match stays before it closes; zero
	// means 5 s.
	EndLinger time.Duration
	// Grace is how long a seat whose connection was lost is held for a
	// resume; zero means 20 s.
	Grace time.Duration
	// SpectatorDelay is the minimum broadcast delay of the match's
	// spectator streams (0…MaxSpectatorDelay); zero means none. The game
	// does not use it: it travels with the match to the publisher.
	SpectatorDelay time.Duration
	// InputQueue bounds the match's input inbox; zero means 4096.
	InputQueue int
	// Seed makes a match reproducible; zero means random.
	Seed uint64
}

// Limits of MatchConfig values accepted from users.
const (
	MaxSeats      = 64
	MinTimeLimit  = 10 * time.Second
	MaxTimeLimit  = time.Hour
	MaxScoreLimit = 1000
	// MaxSpectatorDelay bounds a match's broadcast delay.
	MaxSpectatorDelay = time.Minute
	commandQueueLen   = 256
)

// WithDefaults returns c with zero fields taken from def, then from the
// package defaults.
func (c MatchConfig) WithDefaults(def MatchConfig) MatchConfig {
	pick := func(v, d, fallback int) int {
		if v != 0 {
			return v
		}
		if d != 0 {
			return d
		}
		return fallback
	}
	pickD := func(v, d, fallback time.Duration) time.Duration {
		if v != 0 {
			return v
		}
		if d != 0 {
			return d
		}
		return fallback
	}
	out := c
	out.TickRate = pick(c.TickRate, def.TickRate, DefaultTickRate)
	out.MaxPlayers = pick(c.MaxPlayers, def.MaxPlayers, 16)
	out.MinPlayers = c.MinPlayers
	if out.MinPlayers == 0 { // only a default is lowered to fit the seats
		out.MinPlayers = min(pick(0, def.MinPlayers, 2), out.MaxPlayers)
	}
	out.TimeLimit = pickD(c.TimeLimit, def.TimeLimit, 5*time.Minute)
	out.ScoreLimit = pick(c.ScoreLimit, def.ScoreLimit, 20)
	out.EmptyTimeout = pickD(c.EmptyTimeout, def.EmptyTimeout, 30*time.Second)
	out.EndLinger = pickD(c.EndLinger, def.EndLinger, 5*time.Second)
	out.Grace = pickD(c.Grace, def.Grace, 20*time.Second)
	out.InputQueue = pick(c.InputQueue, def.InputQueue, 4096)
	if out.SpectatorDelay == 0 {
		out.SpectatorDelay = def.SpectatorDelay
	}
	if out.Seed == 0 {
		out.Seed = def.Seed
	}
	return out
}

// Validate checks a config after WithDefaults.
func (c MatchConfig) Validate() error {
	if err := ValidateTickRate(c.TickRate); err != nil {
		return err
	}
	switch {
	case c.MaxPlayers < 1 || c.MaxPlayers > MaxSeats:
		return fmt.Errorf("max players must be 1…%d, got %d", MaxSeats, c.MaxPlayers)
	case c.MinPlayers < 1 || c.MinPlayers > c.MaxPlayers:
		return fmt.Errorf("min players must be 1…%d (the max players), got %d", c.MaxPlayers, c.MinPlayers)
	case c.TimeLimit < MinTimeLimit || c.TimeLimit > MaxTimeLimit:
		return fmt.Errorf("time limit must be %v…%v, got %v", MinTimeLimit, MaxTimeLimit, c.TimeLimit)
	case c.ScoreLimit < 1 || c.ScoreLimit > MaxScoreLimit:
		return fmt.Errorf("score limit must be 1…%d, got %d", MaxScoreLimit, c.ScoreLimit)
	case c.SpectatorDelay < 0 || c.SpectatorDelay > MaxSpectatorDelay:
		return fmt.Errorf("spectator delay must be 0…%v, got %v", MaxSpectatorDelay, c.SpectatorDelay)
	case c.EmptyTimeout < 0 || c.EndLinger < 0 || c.Grace < 0:
		return fmt.Errorf("timeouts must not be negative")
	case c.InputQueue < 1:
		return fmt.Errorf("input queue must be positive")
	}
	return nil
}
