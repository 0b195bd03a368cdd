package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tickstream/tickstream/netcode/wire"
)

// PlayerOptions configure a Player. Zero fields take the documented default.
type PlayerOptions struct {
	URL string // ws://host:port/play
	// URLs, when set, are entry nodes used instead of URL: join attempt i
	// goes through URLs[i % len(URLs)] (a redirect may then place the
	// player on another node). Resumes go to the node the player ended on.
	URLs  []string
	Name  string
	Match string // "" = auto
	// Every asks for a snapshot every Every ticks only (1…60); 0 or 1:
	// every tick.
	Every int
	Dial  *Options
	// MinBackoff and MaxBackoff bound the wait between resume attempts,
	// and between join attempts (exponential, with full jitter); zero
	// means 100 ms and 2 s.
	MinBackoff, MaxBackoff time.Duration
	// JoinAttempts bounds the attempts of the first join; zero means 6.
	// Retried, after a backoff and through the next entry node: a failed
	// connection, an upgrade refused with 429 or 503, a close 4009 (server
	// full or busy: the node's join admission limit) and 1001 (a node
	// shutting down). Other refusals end Run at once.
	JoinAttempts int
	// GiveUpAfter stops resuming after this long without a connection;
	// zero means 30 s (the server's grace is 20 s).
	GiveUpAfter time.Duration
	// UnreachableAfter stops resuming sooner when the node cannot be
	// connected to at all (refused, unreachable, timed out) for this long:
	// a node that died holds no seat (Run returns ErrSeatLost wrapping
	// ErrNodeUnreachable). Zero means GiveUpAfter. Two connections refused
	// in a row (nothing listens on the port: the process is gone, and its
	// seats with it) end the resume at once.
	UnreachableAfter time.Duration
	// MaxPending bounds the inputs kept until acknowledged; zero means
	// 4096. Input returns ErrBacklog when it is full.
	MaxPending int
	// Silence is how long the player waits without any frame from the
	// server (no snapshot, no ping) before it treats the connection as
	// lost; zero means 3 s. Negative turns the player's own watchdog off
	// (a fleet of bots watches all its players with one ticker instead,
	// with LastFrame and Drop).
	Silence time.Duration
	// OnState is told about connection changes (optional).
	OnState func(State)
}

// State is a Player's connection state.
type State int

const (
	StateConnected State = iota
	StateReconnecting
	StateResumed
)

// ErrSeatLost means the seat could not be resumed (the refusal says why).
var ErrSeatLost = errors.New("seat lost")

// ErrNodeUnreachable means the node the player was on could not be
// connected to for PlayerOptions.UnreachableAfter (wrapped with
// ErrSeatLost): it is gone, and its matches with it; join anew.
var ErrNodeUnreachable = errors.New("node unreachable")

// ErrBacklog means too many inputs wait for an acknowledgement.
var ErrBacklog = errors.New("too many unacknowledged inputs")

// PlayerStats count what happened to a Player's connection.
type PlayerStats struct {
	Drops, Resumes, ResumeFailures int
	// JoinRetries counts join attempts retried (see JoinAttempts).
	JoinRetries int
}

// Player is a seat that survives connection loss: it joins once; after a
// drop it dials again with backoff and jitter, resumes with its token, and
// sends again, in order, every input the server has not acknowledged, so
// that each input is applied exactly once. Input may be called from any
// goroutine while Run runs.
type Player struct {
	opts PlayerOptions

	mu      sync.Mutex
	url     string  // the node joined (after redirects): where resumes go
	c       *Client // nil while reconnecting
	welcome *wire.Welcome
	token   string
	seq     uint32
	pending []wire.InputMsg // seq order; not yet acknowledged
	stats   PlayerStats

	lastFrame atomic.Int64 // Unix ns of the last frame received
	lostAt    atomic.Int64 // Unix ns of the last connection loss (0: none)
}

// NewPlayer returns a player; Run connects it.
func NewPlayer(o PlayerOptions) *Player {
	if o.MinBackoff == 0 {
		o.MinBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = 2 * time.Second
	}
	if o.GiveUpAfter == 0 {
		o.GiveUpAfter = 30 * time.Second
	}
	if o.UnreachableAfter == 0 {
		o.UnreachableAfter = o.GiveUpAfter
	}
	if o.JoinAttempts == 0 {
		o.JoinAttempts = 6
	}
	if len(o.URLs) == 0 {
		o.URLs = []string{o.URL}
	}
	if o.MaxPending == 0 {
		o.MaxPending = 4096
	}
	if o.Silence == 0 {
		o.Silence = 3 * time.Second
	}
	return &Player{opts: o}
}

// URL is the node the player joined, after redirects ("" before): where
// it resumes.
func (p *Player) URL() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.url
}

// LostAt is when the player's connection was last lost (the socket
// error), or the zero time.
func (p *Player) LostAt() time.Time {
	if ns := p.lostAt.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// Welcome returns the latest welcome (nil before the first).
func (p *Player) Welcome() *wire.Welcome {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.welcome
}

// Stats returns the counters.
func (p *Player) Stats() PlayerStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Pending returns how many inputs wait for an acknowledgement.
func (p *Player) Pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pending)
}

// Input numbers an input, keeps it until acknowledged and sends it now if
// connected (else after the resume). A zero View is set to the newest tick
// applied when the input is taken, so that a resent input keeps the view it
// was made with. It returns the sequence number.
func (p *Player) Input(ctx context.Context, in wire.InputMsg) (uint32, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.pending) >= p.opts.MaxPending {
		return 0, ErrBacklog
	}
	p.seq++
	in.Seq = p.seq
	if in.View == 0 && p.c != nil {
		in.View = p.c.Applied()
	}
	p.pending = append(p.pending, in)
	if p.c != nil {
		_, _ = p.c.Input(ctx, in) // a failed write is resent after the resume
	}
	return in.Seq, nil
}

// SendRaw sends a frame as it is on the current connection (chaos bots
// send garbage with it); it does nothing while reconnecting.
func (p *Player) SendRaw(ctx context.Context, frame []byte) error {
	p.mu.Lock()
	c := p.c
	p.mu.Unlock()
	if c == nil {
		return nil
	}
	return c.SendRaw(ctx, frame)
}

// Drop closes the current connection without a close handshake, as a
// network failure would (tests and chaos bots use it).
func (p *Player) Drop() {
	p.mu.Lock()
	c := p.c
	p.mu.Unlock()
	if c != nil {
		c.CloseNow()
	}
}

// Run joins and then serves messages to handle (from this goroutine) until
// ctx ends (nil), the match is over and the server closed normally (nil),
// the server refused the player (the close error), or the seat is lost
// (ErrSeatLost).
func (p *Player) Run(ctx context.Context, handle func(Message)) error {
	c, w, err := p.join(ctx)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.url = c.URL()
	p.mu.Unlock()
	p.connected(c, w)
	p.state(StateConnected)
	handle(Message{Type: wire.TypeWelcome, Welcome: w})
	for {
		err := p.serve(ctx, c, handle)
		c.CloseNow()
		if ctx.Err() != nil {
			return nil
		}
		p.lostAt.Store(time.Now().UnixNano())
		switch code := CloseCode(err); {
		case code == wire.CloseNormal:
			return nil
		case code == wire.CloseGoingAway:
			return err // the server is going away: its matches too
		case code >= 4000 && code != wire.CloseHeartbeat && code != wire.CloseTooSlow:
			return err // refused or replaced: resuming would not help
		}
		if c, err = p.resume(ctx, handle); err != nil {
			return err
		}
	}
}

// join dials and joins through the entry nodes in turn, following
// redirects, retrying what JoinAttempts says with backoff and full jitter.
func (p *Player) join(ctx context.Context) (*Client, *wire.Welcome, error) {
	var err error
	for attempt := 0; attempt < p.opts.JoinAttempts; attempt++ {
		if attempt > 0 {
			if !p.backoff(ctx, attempt-1) {
				return nil, nil, ctx.Err()
			}
			p.mu.Lock()
			p.stats.JoinRetries++
			p.mu.Unlock()
		}
		url := p.opts.URLs[attempt%len(p.opts.URLs)]
		var c *Client
		var w *wire.Welcome
		c, w, err = DialJoin(ctx, url, p.opts.Name, p.opts.Match, p.opts.Every, p.opts.Dial)
		if err == nil {
			return c, w, nil
		}
		if ctx.Err() != nil || !RetryJoin(err) {
			return nil, nil, err
		}
	}
	return nil, nil, fmt.Errorf("join: %d attempts: %w", p.opts.JoinAttempts, err)
}

// RetryJoin reports whether a failed join may succeed if tried again
// later, possibly through another node: the connection failed, the
// upgrade was refused with 429 or 503, or the server closed with 4009
// (full, or busy: its join admission limit) or 1001 (shutting down).
func RetryJoin(err error) bool {
	var he *HTTPError
	switch code := CloseCode(err); {
	case errors.As(err, &he):
		return he.Status == 429 || he.Status == 503
	case code == wire.CloseServerFull || code == wire.CloseGoingAway:
		return true
	case code != -1:
		return false
	case errors.Is(err, ErrTooManyRedirects):
		return false
	}
	var re *RedirectError
	return !errors.As(err, &re) && !errors.Is(err, ErrUnknownMessage)
}

// backoff waits the attempt-th backoff (exponential from MinBackoff, at
// most MaxBackoff, full jitter); false if ctx ended.
func (p *Player) backoff(ctx context.Context, attempt int) bool {
	wait := min(p.opts.MaxBackoff, p.opts.MinBackoff<<min(attempt, 16))
	wait = rand.N(wait + 1)
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (p *Player) state(s State) {
	if p.opts.OnState != nil {
		p.opts.OnState(s)
	}
}

// connected installs a connection after a welcome and sends again every
// input above the welcome's ack, in order.
func (p *Player) connected(c *Client, w *wire.Welcome) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.c, p.welcome, p.token = c, w, w.Token
	p.trim(w.Ack)
	for _, in := range p.pending {
		if _, err := c.Input(context.Background(), in); err != nil {
			break // lost again: the next resume sends them
		}
	}
}

// trim forgets acknowledged inputs. p.mu held.
func (p *Player) trim(ack uint32) {
	i := 0
	for i < len(p.pending) && p.pending[i].Seq <= ack {
		i++
	}
	p.pending = append(p.pending[:0], p.pending[i:]...)
}

func (p *Player) serve(ctx context.Context, c *Client, handle func(Message)) error {
	// A watchdog drops the connection after Silence without a frame: a
	// half-open link never errors on its own.
	last := &p.lastFrame
	last.Store(time.Now().UnixNano())
	stop := make(chan struct{})
	defer close(stop)
	if p.opts.Silence > 0 {
		go p.watch(c, last, stop)
	}
	// Reads take no context (a cancellable one costs coder/websocket a
	// context.AfterFunc per message): ctx closes the connection instead.
	unhook := context.AfterFunc(ctx, func() { c.CloseNow() })
	defer unhook()
	for {
		m, err := c.Next(context.Background())
		last.Store(time.Now().UnixNano())
		if err != nil {
			if errors.Is(err, ErrUnknownMessage) {
				continue
			}
			return err
		}
		if m.Snap != nil {
			p.mu.Lock()
			p.trim(m.Snap.Ack)
			p.mu.Unlock()
		}
		handle(m)
	}
}

// LastFrame is when the current connection last received a frame.
func (p *Player) LastFrame() time.Time { return time.Unix(0, p.lastFrame.Load()) }

// watch closes c after Silence without a frame.
func (p *Player) watch(c *Client, last *atomic.Int64, stop <-chan struct{}) {
	t := time.NewTicker(p.opts.Silence / 4)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			if now.UnixNano()-last.Load() > int64(p.opts.Silence) {
				c.CloseNow()
				return
			}
		}
	}
}

// refusedIsGone is how many connections refused in a row (the host
// answers, nothing listens on the port: the process is gone) end the
// resume at once, without waiting for UnreachableAfter. A link that blinks
// times out; it is not refused.
const refusedIsGone = 2

// resume dials again with backoff and jitter until the seat is back.
func (p *Player) resume(ctx context.Context, handle func(Message)) (*Client, error) {
	p.mu.Lock()
	p.c = nil
	p.stats.Drops++
	token, url := p.token, p.url
	p.mu.Unlock()
	p.state(StateReconnecting)
	start := time.Now()
	giveUp := start.Add(p.opts.GiveUpAfter)
	var unreachableSince time.Time // of the current run of failed connections
	refused := 0                   // connections refused in a row: nothing listens there
	for attempt := 0; ; attempt++ {
		if !p.backoff(ctx, attempt) {
			return nil, ctx.Err()
		}
		now := time.Now()
		if now.After(giveUp) {
			p.fail()
			return nil, fmt.Errorf("%w: no connection for %v", ErrSeatLost, p.opts.GiveUpAfter)
		}
		if !unreachableSince.IsZero() && (now.Sub(unreachableSince) >= p.opts.UnreachableAfter || refused >= refusedIsGone) {
			p.fail()
			return nil, fmt.Errorf("%w: %w: no connection to %s for %v", ErrSeatLost, ErrNodeUnreachable, url,
				now.Sub(unreachableSince).Round(time.Millisecond))
		}
		attempt := p.opts.Silence
		if attempt <= 0 {
			attempt = 3 * time.Second
		}
		actx, cancel := context.WithTimeout(ctx, attempt)
		c, err := Dial(actx, url, p.opts.Dial)
		if err != nil {
			cancel()
			var he *HTTPError
			if errors.As(err, &he) {
				unreachableSince, refused = time.Time{}, 0 // the node answers
			} else if unreachableSince.IsZero() {
				unreachableSince = start // unreachable since the link was lost
			}
			if errors.Is(err, syscall.ECONNREFUSED) {
				refused++
			} else {
				refused = 0
			}
			continue
		}
		unreachableSince = time.Time{}
		w, err := c.Resume(actx, token)
		cancel()
		if err != nil {
			c.CloseNow()
			if CloseCode(err) == wire.CloseResumeFailed {
				p.fail()
				return nil, fmt.Errorf("%w: %s", ErrSeatLost, CloseReason(err))
			}
			continue
		}
		p.mu.Lock()
		p.stats.Resumes++
		p.mu.Unlock()
		p.connected(c, w)
		p.state(StateResumed)
		handle(Message{Type: wire.TypeWelcome, Welcome: w})
		return c, nil
	}
}

func (p *Player) fail() {
	p.mu.Lock()
	p.stats.ResumeFailures++
	p.mu.Unlock()
}
