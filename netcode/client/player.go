package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickstream/tickstream/netcode/wire"
)

// PlayerOptions configure a Player. Zero fields take the documented default.
type PlayerOptions struct {
	URL   string // ws://host:port/play
	Name  string
	Match string // "" = auto
	// Every asks for a snapshot every Every ticks only (1…60); 0 or 1:
	// every tick.
	Every int
	Dial  *Options
	// MinBackoff and MaxBackoff bound the wait between resume attempts
	// (exponential, with full jitter); zero means 100 ms and 2 s.
	MinBackoff, MaxBackoff time.Duration
	// GiveUpAfter stops resuming after this long without a connection;
	// zero means 30 s (the server's grace is 20 s).
	GiveUpAfter time.Duration
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

// ErrBacklog means too many inputs wait for an acknowledgement.
var ErrBacklog = errors.New("too many unacknowledged inputs")

// PlayerStats count what happened to a Player's connection.
type PlayerStats struct {
	Drops, Resumes, ResumeFailures int
}

// Player is a seat that survives connection loss: it joins once; after a
// drop it dials again with backoff and jitter, resumes with its token, and
// sends again, in order, every input the server has not acknowledged, so
// that each input is applied exactly once. Input may be called from any
// goroutine while Run runs.
type Player struct {
	opts PlayerOptions

	mu      sync.Mutex
	c       *Client // nil while reconnecting
	welcome *wire.Welcome
	token   string
	seq     uint32
	pending []wire.InputMsg // seq order; not yet acknowledged
	stats   PlayerStats

	lastFrame atomic.Int64 // Unix ns of the last frame received
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
	if o.MaxPending == 0 {
		o.MaxPending = 4096
	}
	if o.Silence == 0 {
		o.Silence = 3 * time.Second
	}
	return &Player{opts: o}
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
	c, err := Dial(ctx, p.opts.URL, p.opts.Dial)
	if err != nil {
		return err
	}
	w, err := c.JoinEvery(ctx, p.opts.Name, p.opts.Match, p.opts.Every)
	if err != nil {
		c.CloseNow()
		return err
	}
	p.connected(c, w)
	p.state(StateConnected)
	handle(Message{Type: wire.TypeWelcome, Welcome: w})
	for {
		err := p.serve(ctx, c, handle)
		c.CloseNow()
		if ctx.Err() != nil {
			return nil
		}
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

// resume dials again with backoff and jitter until the seat is back.
func (p *Player) resume(ctx context.Context, handle func(Message)) (*Client, error) {
	p.mu.Lock()
	p.c = nil
	p.stats.Drops++
	token := p.token
	p.mu.Unlock()
	p.state(StateReconnecting)
	giveUp := time.Now().Add(p.opts.GiveUpAfter)
	for attempt := 0; ; attempt++ {
		wait := min(p.opts.MaxBackoff, p.opts.MinBackoff<<min(attempt, 16))
		wait = rand.N(wait + 1) // full jitter
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		if time.Now().After(giveUp) {
			p.fail()
			return nil, fmt.Errorf("%w: no connection for %v", ErrSeatLost, p.opts.GiveUpAfter)
		}
		attempt := p.opts.Silence
		if attempt <= 0 {
			attempt = 3 * time.Second
		}
		actx, cancel := context.WithTimeout(ctx, attempt)
		c, err := Dial(actx, p.opts.URL, p.opts.Dial)
		if err != nil {
			cancel()
			continue
		}
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
