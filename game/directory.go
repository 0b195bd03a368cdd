package game

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/rs/zerolog"
)

// DirectoryConfig configures a Directory. Zero fields take the documented
// default.
type DirectoryConfig struct {
	// Defaults fill the zero fields of every created match's config.
	Defaults MatchConfig
	// MaxMatches bounds the live matches; zero means 1000.
	MaxMatches int
	// Clock drives every match; nil means SystemClock.
	Clock Clock
	// NewRules makes the game of a new match; nil means NewArena.
	NewRules func() Rules
	// NewPublisher makes the publisher of a new match, given its final
	// config and its game's layout; nil discards snapshots.
	NewPublisher func(matchID string, cfg MatchConfig, layout Layout) Publisher
	// Logger is the parent logger; the zero value logs nothing.
	Logger zerolog.Logger
}

// Directory creates, finds and lists matches, and runs each match's
// goroutine. Its methods may be called concurrently.
type Directory struct {
	cfg    DirectoryConfig
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	matches map[string]*Match
	closed  bool
}

// NewDirectory validates cfg and returns an empty directory.
func NewDirectory(cfg DirectoryConfig) (*Directory, error) {
	if cfg.MaxMatches == 0 {
		cfg.MaxMatches = 1000
	}
	if cfg.MaxMatches < 0 {
		return nil, fmt.Errorf("max matches must be positive, got %d", cfg.MaxMatches)
	}
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.NewRules == nil {
		cfg.NewRules = func() Rules { return NewArena() }
	}
	if cfg.NewPublisher == nil {
		cfg.NewPublisher = func(string, MatchConfig, Layout) Publisher { return discardPublisher{} }
	}
	if err := cfg.Defaults.WithDefaults(MatchConfig{}).Validate(); err != nil {
		return nil, fmt.Errorf("match defaults: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Directory{cfg: cfg, ctx: ctx, cancel: cancel, matches: make(map[string]*Match)}, nil
}

// Create starts a new match; zero fields of cfg take the directory's
// defaults. It returns ErrServerFull at the match limit.
func (d *Directory) Create(cfg MatchConfig) (*Match, error) {
	cfg = cfg.WithDefaults(d.cfg.Defaults)
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Seed == 0 {
		cfg.Seed = randomSeed()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, ErrServerFull
	}
	if len(d.matches) >= d.cfg.MaxMatches {
		return nil, ErrServerFull
	}
	id := newMatchID()
	for d.matches[id] != nil {
		id = newMatchID()
	}
	rules := d.cfg.NewRules()
	m := newMatch(id, cfg, rules, d.cfg.NewPublisher(id, cfg, rules.Layout()), d.cfg.Clock, d.cfg.Logger)
	d.matches[id] = m
	ctx, stop := context.WithCancel(d.ctx)
	m.stop = stop
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer stop()
		m.run(ctx)
		d.mu.Lock()
		delete(d.matches, id)
		d.mu.Unlock()
	}()
	m.log.Info().Int("rate", cfg.TickRate).Int("max_players", cfg.MaxPlayers).Msg("match created")
	return m, nil
}

// Get returns a live match, or nil.
func (d *Directory) Get(id string) *Match {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.matches[id]
}

// List returns every live match, oldest first.
func (d *Directory) List() []MatchInfo {
	d.mu.Lock()
	out := make([]MatchInfo, 0, len(d.matches))
	for _, m := range d.matches {
		out = append(out, m.Info())
	}
	d.mu.Unlock()
	slices.SortFunc(out, func(a, b MatchInfo) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out
}

// Join seats a player. With an empty matchID it joins the fullest match
// that has a free seat, or creates one (join-or-create).
func (d *Directory) Join(ctx context.Context, matchID, name string) (*Match, JoinResult, error) {
	if matchID != "" {
		m := d.Get(matchID)
		if m == nil {
			return nil, JoinResult{}, ErrMatchNotFound
		}
		res, err := m.Join(ctx, name)
		return m, res, err
	}
	for _, info := range d.candidates() {
		m := d.Get(info.ID)
		if m == nil {
			continue
		}
		res, err := m.Join(ctx, name)
		switch {
		case err == nil:
			return m, res, nil
		case errors.Is(err, ErrMatchFull), errors.Is(err, ErrMatchEnded), errors.Is(err, ErrInboxFull):
			continue // raced with other joins: try the next one
		default:
			return nil, JoinResult{}, err
		}
	}
	m, err := d.Create(MatchConfig{})
	if err != nil {
		return nil, JoinResult{}, err
	}
	res, err := m.Join(ctx, name)
	return m, res, err
}

// candidates lists open matches with a free seat, fullest first.
func (d *Directory) candidates() []MatchInfo {
	all := d.List()
	open := all[:0]
	for _, i := range all {
		if i.State < StateEnded && i.Players < i.MaxPlayers {
			open = append(open, i)
		}
	}
	slices.SortStableFunc(open, func(a, b MatchInfo) int { return b.Players - a.Players })
	return open
}

// Close stops every match and waits for their goroutines. Idempotent.
func (d *Directory) Close() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.cancel()
	d.wg.Wait()
}

const idAlphabet = "abcdefghijkmnpqrstuvwxyz23456789"

func newMatchID() string {
	var b [8]byte
	rand.Read(b[:])
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b[:])
}

func randomSeed() uint64 {
	var b [8]byte
	rand.Read(b[:])
	var s uint64
	for _, x := range b {
		s = s<<8 | uint64(x)
	}
	return s | 1
}
