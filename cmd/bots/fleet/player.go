package fleet

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode/client"
	"github.com/tickstream/tickstream/netcode/wire"
)

// playerBot is one player: the client package's resuming Player, a reader
// (Run's handler) that measures, and an input loop paced by the fleet's
// ticker.
type playerBot struct {
	r     *runner
	id    int
	match string // asked for ("" = auto)
	rng   *rand.Rand
	p     atomic.Pointer[client.Player] // the current one (the sampler's watchdog reads it)

	// failingOver is when the link of a player that is failing over was
	// lost (zero: not failing over). Run's goroutine only.
	failingOver time.Time

	joined      atomic.Value // string: the match id from the welcome
	frozen      atomic.Bool
	windowSnaps atomic.Int64
	garbageSent atomic.Bool // a 4000 close is then expected

	mu        sync.Mutex // guards sent (input loop writes, reader reads)
	sent      [256]sentInput
	lastAck   uint32
	lastSnap  time.Time // reader only
	offsetMS  float64   // server clock − ours, ms; reader only
	haveOff   bool
	dirX      atomic.Uint64 // chase: direction to the nearest player (float64 bits)
	dirY      atomic.Uint64
	haveDir   atomic.Bool
	connected bool // reader only: counted in r.c.connected
}

type sentInput struct {
	seq uint32
	at  time.Time
}

func newPlayerBot(r *runner, id int, match string, seed uint64) *playerBot {
	return &playerBot{r: r, id: id, match: match, rng: rand.New(rand.NewPCG(seed, uint64(id)))}
}

func (b *playerBot) matchID() string {
	if v, ok := b.joined.Load().(string); ok {
		return v
	}
	return ""
}

func (b *playerBot) windowStart() { b.windowSnaps.Store(0) }

// player is the current client.Player (nil before the first).
func (b *playerBot) player() *client.Player { return b.p.Load() }

func (b *playerBot) silentSince(now time.Time) time.Duration {
	p := b.player()
	if b.frozen.Load() || p == nil {
		return 0
	}
	last := p.LastFrame()
	if last.Unix() <= 0 {
		return 0
	}
	return now.Sub(last)
}

// Failover policy: a player that cannot resume on its node (see
// nodeLost) joins anew through the entry nodes. Its client.Player does
// the joining: entry nodes in turn, backoff from failoverMinBackoff to
// failoverMaxBackoff with full jitter, failoverAttempts attempts.
const (
	failoverUnreachable = 2 * time.Second // of failed connections before a node counts as dead
	failoverMinBackoff  = 100 * time.Millisecond
	failoverMaxBackoff  = 2 * time.Second
	failoverAttempts    = 10
)

// run plays until ctx ends, joining again when the seat is lost or the
// match ends. Joins go through the entry nodes round-robin: bot i starts
// at entry i, and each new join starts at the next one.
func (b *playerBot) run(ctx context.Context) {
	r := b.r
	freeze := b.r.sc.Behaviour == "chaos" && float64(b.id) < b.r.sc.FreezeRatio*float64(b.r.sc.Players)
	next := b.id
	for ctx.Err() == nil {
		urls := make([]string, len(r.entries))
		for i := range urls {
			urls[i] = r.entries[(next+i)%len(r.entries)] + "/play"
		}
		next++
		match := b.match
		if !b.failingOver.IsZero() {
			match = "" // the match died with its node: any match
		}
		p := client.NewPlayer(client.PlayerOptions{
			URLs: urls, Name: fmt.Sprintf("bot%05d", b.id), Match: match, Every: r.sc.Every,
			Dial:    &client.Options{BytesRead: &r.c.playerBytes, SnapHeadOnly: r.sc.Behaviour != "chase", Redirects: &r.c.redirects},
			Silence: -1, UnreachableAfter: failoverUnreachable, JoinAttempts: failoverAttempts,
			MinBackoff: failoverMinBackoff, MaxBackoff: failoverMaxBackoff,
			OnState: func(s client.State) {
				if s == client.StateResumed {
					r.c.resumesOK.Add(1)
				}
			},
		})
		b.p.Store(p)
		pctx, stop := context.WithCancel(ctx)
		inputsDone := make(chan struct{})
		go func() {
			defer close(inputsDone)
			b.inputLoop(pctx, freeze)
		}()
		err := p.Run(pctx, func(m client.Message) { b.handle(pctx, m) })
		stop()
		<-inputsDone // the next player's loop shares b.rng
		if b.connected {
			r.c.connected.Add(-1)
			b.connected = false
		}
		if ctx.Err() != nil {
			return
		}
		if nodeLost(err) && p.Welcome() != nil {
			// Its node is gone or going: join anew at once (the Player's
			// join backs off between attempts).
			r.c.failovers.Add(1)
			r.c.disconnect(failoverReason(err))
			if b.failingOver.IsZero() {
				b.failingOver = p.LostAt()
				if b.failingOver.IsZero() {
					b.failingOver = time.Now()
				}
			}
			continue
		}
		b.ended(err)
		sleepUntil(ctx, time.Now().Add(time.Second))
	}
}

// nodeLost reports whether Run ended because the player's node cannot
// take it back: unreachable for failoverUnreachable, the resume refused
// (4012, the seat is not held there), the match gone (4004) or the node
// shutting down (1001).
func nodeLost(err error) bool {
	code := client.CloseCode(err)
	return errors.Is(err, client.ErrSeatLost) || code == wire.CloseNoSuchMatch || code == wire.CloseGoingAway
}

// failoverReason is the disconnect label of a failover.
func failoverReason(err error) string {
	switch code := client.CloseCode(err); {
	case errors.Is(err, client.ErrNodeUnreachable):
		return "failover_unreachable"
	case errors.Is(err, client.ErrSeatLost):
		return "failover_seat_lost"
	case code > 0:
		return fmt.Sprintf("failover_close_%d", code)
	}
	return "failover"
}

// ended counts why a Run returned.
func (b *playerBot) ended(err error) {
	r := b.r
	code := client.CloseCode(err)
	switch {
	case err == nil:
		r.c.disconnect("match_over")
	case errors.Is(err, client.ErrSeatLost):
		r.c.disconnect("seat_lost")
		r.c.resumesFailed.Add(1)
		r.c.errors.Add(1)
	case code == wire.CloseBadMessage && b.garbageSent.Load():
		r.c.disconnect("garbage_refused") // expected: chaos sent it
		b.garbageSent.Store(false)
	case code > 0:
		r.c.disconnect(fmt.Sprintf("close_%d", code))
		r.c.errors.Add(1)
	case b.matchID() == "":
		r.c.failed.Add(1)
		r.c.errors.Add(1)
	default:
		r.c.disconnect("error")
		r.c.errors.Add(1)
	}
}

// handle runs on the reader: it measures what arrives.
func (b *playerBot) handle(ctx context.Context, m client.Message) {
	r := b.r
	now := time.Now()
	measuring := r.measure.Load()
	switch {
	case m.Welcome != nil:
		if !b.connected {
			b.connected = true
			r.c.connected.Add(1)
		}
		b.joined.Store(m.Welcome.Match)
		r.tickRate.CompareAndSwap(0, int64(m.Welcome.Rate))
		b.lastSnap = time.Time{}
	case m.Ping != nil:
		rtt := m.Ping.RTT
		if rtt > 0 {
			// The server's clock at our receive time is its ping time plus
			// half the RTT: that gives the offset of its clock to ours.
			off := float64(m.Ping.Time) + rtt/2 - float64(now.UnixNano())/1e6
			if !b.haveOff {
				b.offsetMS, b.haveOff = off, true
			} else {
				b.offsetMS += (off - b.offsetMS) / 8
			}
			if measuring {
				r.rtt.record(b.id, time.Duration(rtt*float64(time.Millisecond)))
			}
		}
	case m.Snap != nil:
		if !b.failingOver.IsZero() {
			r.failover.record(b.id, now.Sub(b.failingOver))
			r.c.recovered.Add(1)
			b.failingOver = time.Time{}
		}
		if b.frozen.Load() {
			<-ctx.Done() // a frozen reader: stop reading
			return
		}
		r.c.snapshots.Add(1)
		if measuring {
			b.windowSnaps.Add(1)
			if !b.lastSnap.IsZero() {
				r.inter.record(b.id, now.Sub(b.lastSnap))
			}
			if b.haveOff {
				lat := float64(now.UnixNano())/1e6 + b.offsetMS - float64(m.Snap.Time)
				r.delivery.record(b.id, time.Duration(math.Max(lat, 0)*float64(time.Millisecond)))
			}
		}
		b.lastSnap = now
		b.acked(m.Snap.Ack, now, measuring)
		if b.r.sc.Behaviour == "chase" {
			b.aim(m.Snap)
		}
	}
}

// acked records input→ack latency for every input newly acknowledged.
func (b *playerBot) acked(ack uint32, now time.Time, measuring bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ack <= b.lastAck {
		return
	}
	from := b.lastAck + 1
	if ack-from > 255 {
		from = ack - 255
	}
	for s := from; s <= ack; s++ {
		if e := b.sent[s%256]; e.seq == s && measuring {
			b.r.ack.record(b.id, now.Sub(e.at))
		}
	}
	b.lastAck = ack
}

// aim points a chaser at the nearest other player.
func (b *playerBot) aim(s *client.Snap) {
	me := b.player().Welcome()
	if me == nil {
		return
	}
	var mx, my float32
	found := false
	for _, e := range s.Ents {
		if e.ID == me.Player {
			mx, my, found = e.X, e.Y, true
		}
	}
	if !found {
		return
	}
	best := float32(math.MaxFloat32)
	var tx, ty float32
	for _, e := range s.Ents {
		if e.Kind != game.KindPlayer || e.ID == me.Player || e.Flags&game.FlagDead != 0 {
			continue
		}
		if d := (e.X-mx)*(e.X-mx) + (e.Y-my)*(e.Y-my); d < best {
			best, tx, ty = d, e.X-mx, e.Y-my
		}
	}
	if best == math.MaxFloat32 {
		b.haveDir.Store(false)
		return
	}
	b.dirX.Store(math.Float64bits(float64(tx)))
	b.dirY.Store(math.Float64bits(float64(ty)))
	b.haveDir.Store(true)
}

// inputLoop sends an input at every beat of the fleet's ticker.
func (b *playerBot) inputLoop(ctx context.Context, freeze bool) {
	r := b.r
	if r.sc.Behaviour == "idle" || r.sc.InputRate == 0 {
		return
	}
	heading := b.rng.Float64() * 2 * math.Pi
	beat := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.paceCh():
		}
		beat++
		if freeze && r.measure.Load() && !b.frozen.Load() {
			b.frozen.Store(true)
			r.c.frozen.Add(1)
		}
		in := wire.InputMsg{}
		switch r.sc.Behaviour {
		case "wander", "chaos":
			if b.rng.Float64() < 1/r.sc.InputRate { // turn about once a second
				heading = b.rng.Float64() * 2 * math.Pi
			}
			in.MX, in.MY, in.Aim = math.Cos(heading), math.Sin(heading), math.Remainder(heading, 2*math.Pi)
			if beat%4 == 0 {
				in.Buttons = 1
			}
		case "chase":
			if b.haveDir.Load() {
				x, y := math.Float64frombits(b.dirX.Load()), math.Float64frombits(b.dirY.Load())
				a := math.Atan2(y, x)
				in.MX, in.MY, in.Aim, in.Buttons = math.Cos(a), math.Sin(a), a, 1
			}
		}
		seq, err := b.player().Input(context.Background(), in) // no per-write AfterFunc; a dead link is closed by the watchdog
		if err == nil {
			b.mu.Lock()
			b.sent[seq%256] = sentInput{seq: seq, at: time.Now()}
			b.mu.Unlock()
			r.c.inputs.Add(1)
		}
		if r.sc.Behaviour == "chaos" && !b.frozen.Load() {
			b.chaos(ctx)
		}
	}
}

// chaos drops the link (to be resumed) or sends a garbage frame, at the
// scenario's rates.
func (b *playerBot) chaos(ctx context.Context) {
	r := b.r
	if b.rng.Float64() < r.sc.DropRate/r.sc.InputRate {
		b.player().Drop()
	}
	if b.rng.Float64() < r.sc.GarbageRate/r.sc.InputRate {
		b.garbageSent.Store(true)
		r.c.garbage.Add(1)
		_ = b.player().SendRaw(ctx, []byte{0xc1, 0xff, 0x00})
	}
}
