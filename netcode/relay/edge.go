package relay

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode"
	"github.com/tickstream/tickstream/netcode/replay"
	"github.com/tickstream/tickstream/netcode/stream"
)

// EdgeConfig configures an edge. Zero fields take the documented default.
type EdgeConfig struct {
	// Node is this node's id (sent with its interest; the origin counts
	// edges by it). Empty: the NATS connection's name, or "edge".
	Node string
	// History is how much of a remote match the edge's stream keeps for
	// resuming (Last-Event-ID, after=); zero means 10 s (the server's
	// SpectatorConfig.History default).
	History time.Duration
	// Linger is how long a remote match's stream is kept after its last
	// spectator leaves (a reconnect resumes against it); zero means 5 s.
	Linger time.Duration
	// Interest is the interval of the interest messages; zero means 2 s.
	Interest time.Duration
	// Timeout bounds a key request; zero means 2 s.
	Timeout time.Duration
	// Stale is how long without a message from the origin before the edge
	// asks for a catch-up (a match ticks, so silence is loss); zero means
	// 3 s. An origin that does not answer then ends the stream.
	Stale time.Duration
	// Buffer is how many tick messages may wait for one remote match;
	// beyond, NATS drops them (a slow consumer) and the edge resyncs.
	// Zero means 1024.
	Buffer int
	// Logger logs at Debug per match, Warn on failures.
	Logger zerolog.Logger
}

func (c EdgeConfig) withDefaults(nc *nats.Conn) EdgeConfig {
	if c.Node == "" {
		c.Node = nc.Opts.Name
	}
	if c.Node == "" {
		c.Node = "edge"
	}
	if c.History <= 0 {
		c.History = 10 * time.Second
	}
	if c.Linger <= 0 {
		c.Linger = 5 * time.Second
	}
	if c.Interest <= 0 {
		c.Interest = 2 * time.Second
	}
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Second
	}
	if c.Stale <= 0 {
		c.Stale = 3 * time.Second
	}
	if c.Buffer <= 0 {
		c.Buffer = 1024
	}
	return c
}

// Edge feeds local streams of remote matches for local spectators. It
// implements netcode.Relay.
type Edge struct {
	nc  *nats.Conn
	cfg EdgeConfig
	log zerolog.Logger
	m   edgeMetrics

	mu     sync.Mutex
	feeds  map[string]*feed // by node + "." + match
	closed bool
	wg     sync.WaitGroup

	// dropHook, set by tests before Open, is asked about every tick
	// message received; true drops it (a lost message).
	dropHook func(match string, tick uint64) bool
}

var _ netcode.Relay = (*Edge)(nil)

// NewEdge returns an edge on nc.
func NewEdge(nc *nats.Conn, cfg EdgeConfig) *Edge {
	cfg = cfg.withDefaults(nc)
	return &Edge{nc: nc, cfg: cfg, log: cfg.Logger.With().Str("relay", "edge").Logger(), m: newEdgeMetrics(), feeds: map[string]*feed{}}
}

// Collectors are the edge's metrics, for Server.Register.
func (e *Edge) Collectors() []prometheus.Collector {
	return []prometheus.Collector{e.m.received, e.m.keyReqs, e.m.resyncs, e.m.lag, e.m.matches}
}

// feed is one remote match: its subscription, its decoder and the local
// stream they feed.
type feed struct {
	e            *Edge
	key          string
	node, match  string
	log          zerolog.Logger
	ready        chan struct{} // closed when st or err is set
	st           *stream.Stream
	err          error
	users        int         // Edge.mu
	linger       *time.Timer // Edge.mu
	stop         chan struct{}
	stopOnce     sync.Once
	msgs         chan *nats.Msg
	sub          *nats.Subscription
	dec          *replay.TickDecoder
	roster       []game.PlayerInfo
	ended        bool
	lastReceived time.Time
}

// Open implements netcode.Relay: the shared local stream of match, made
// (subscription, key request) by the first spectator; release ends one
// spectator's use of it. An unknown match (or an owner that does not
// answer) is an error.
func (e *Edge) Open(ctx context.Context, rm netcode.RemoteMatch) (*stream.Stream, func(), error) {
	if rm.Node == "" || rm.ID == "" {
		return nil, nil, fmt.Errorf("%w (no node or match id)", ErrUnknownMatch)
	}
	key := rm.Node + "." + rm.ID
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil, nil, errors.New("relay: edge closed")
	}
	f := e.feeds[key]
	if f == nil {
		f = &feed{
			e: e, key: key, node: rm.Node, match: rm.ID, ready: make(chan struct{}), stop: make(chan struct{}),
			msgs: make(chan *nats.Msg, e.cfg.Buffer), dec: replay.NewTickDecoder(rm.ID),
			log: e.log.With().Str("match", rm.ID).Str("node", rm.Node).Logger(),
		}
		e.feeds[key] = f
		e.m.matches.Inc()
		e.wg.Add(1)
		go f.start()
	}
	f.users++
	if f.linger != nil {
		f.linger.Stop()
		f.linger = nil
	}
	e.mu.Unlock()
	var once sync.Once
	release := func() { once.Do(func() { e.release(f) }) }
	select {
	case <-f.ready:
	case <-ctx.Done():
		release()
		return nil, nil, ctx.Err()
	}
	if f.err != nil {
		release()
		return nil, nil, f.err
	}
	return f.st, release, nil
}

// release ends one use of f; the last one starts its linger.
func (e *Edge) release(f *feed) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f.users--
	if f.users > 0 || e.feeds[f.key] != f {
		return
	}
	f.linger = time.AfterFunc(e.cfg.Linger, func() {
		e.mu.Lock()
		if f.users > 0 || e.feeds[f.key] != f {
			e.mu.Unlock()
			return
		}
		e.forget(f)
		e.mu.Unlock()
		f.shut()
	})
}

// forget removes f from the feeds. Called with mu held.
func (e *Edge) forget(f *feed) {
	if e.feeds[f.key] == f {
		delete(e.feeds, f.key)
		e.m.matches.Dec()
	}
}

// Close ends every remote match's stream and waits for their goroutines.
func (e *Edge) Close() {
	e.mu.Lock()
	e.closed = true
	var fs []*feed
	for _, f := range e.feeds {
		fs = append(fs, f)
		e.forget(f)
	}
	e.mu.Unlock()
	for _, f := range fs {
		f.shut()
	}
	e.wg.Wait()
}

func (f *feed) shut() { f.stopOnce.Do(func() { close(f.stop) }) }

// start subscribes, asks for a keyframe and the config, makes the stream
// and runs the feed.
func (f *feed) start() {
	e := f.e
	defer e.wg.Done()
	fail := func(err error) {
		f.err = err
		close(f.ready)
		e.mu.Lock()
		e.forget(f)
		e.mu.Unlock()
		if f.sub != nil {
			f.sub.Unsubscribe()
		}
		f.log.Debug().Err(err).Msg("relay open failed")
	}
	var err error
	// Subscribe before asking: every tick after the reply's is then here.
	if f.sub, err = e.nc.ChanSubscribe(tickSubject(f.node, f.match), f.msgs); err != nil {
		fail(fmt.Errorf("relay: subscribe: %w", err))
		return
	}
	f.sub.SetPendingLimits(-1, -1) // the channel is the bound
	m, err := f.request(0, "open")
	if err != nil {
		fail(err)
		return
	}
	cfg, closed, err := parseConfig(m.Header)
	if err != nil {
		fail(err)
		return
	}
	cfg.Keep = e.cfg.History
	f.st = stream.New(cfg)
	f.st.Watch()
	f.lastReceived = time.Now()
	if err := f.apply(m.Data, false); err != nil {
		f.st.Close()
		fail(err)
		return
	}
	close(f.ready)
	f.log.Debug().Uint64("tick", f.dec.Last()).Msg("relay feed opened")
	if closed {
		f.end()
		<-f.stop
		return
	}
	f.run()
}

// request asks the origin for the ticks after from (0: a keyframe).
func (f *feed) request(from uint64, reason string) (*nats.Msg, error) {
	f.e.m.keyReqs.WithLabelValues(reason).Inc()
	b := binary.LittleEndian.AppendUint64(nil, from)
	b = append(b, f.e.cfg.Node...)
	ctx, cancel := context.WithTimeout(context.Background(), f.e.cfg.Timeout)
	defer cancel()
	m, err := f.e.nc.RequestWithContext(ctx, keySubject(f.node, f.match), b)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return nil, fmt.Errorf("%w (node %s, match %s: no origin)", ErrUnknownMatch, f.node, f.match)
	case err != nil:
		return nil, fmt.Errorf("relay: key request: %w", err)
	case m.Header.Get(hdrError) != "":
		return nil, fmt.Errorf("%w (node %s, match %s: %s)", ErrUnknownMatch, f.node, f.match, m.Header.Get(hdrError))
	}
	return m, nil
}

func parseConfig(h nats.Header) (stream.Config, bool, error) {
	rate, err1 := strconv.Atoi(h.Get(hdrRate))
	delay, err2 := strconv.ParseInt(h.Get(hdrDelay), 10, 64)
	pos, err3 := strconv.ParseFloat(h.Get(hdrPos), 64)
	angle, err4 := strconv.Atoi(h.Get(hdrAngle))
	radius, err5 := strconv.ParseFloat(h.Get(hdrRadius), 64)
	if err := errors.Join(err1, err2, err3, err4, err5); err != nil || rate <= 0 || !(pos > 0) || angle <= 0 {
		return stream.Config{}, false, fmt.Errorf("relay: bad key reply config: %v", err)
	}
	return stream.Config{
		Rate: rate, Delay: time.Duration(delay),
		Layout: game.Layout{Precision: game.Precision{Pos: pos, AngleSteps: angle}, ViewRadius: radius},
	}, h.Get(hdrClosed) == "1", nil
}

// apply decodes a message's (or a reply's) ticks into the stream; live:
// a tick message (its lag is observed).
func (f *feed) apply(data []byte, live bool) error {
	tick, sent, recs, err := parseMsg(data)
	if err != nil {
		return err
	}
	if live && len(recs) == 0 {
		if tick > f.dec.Last() { // ticks before the end were missed: try to get them
			f.resync("gap")
		}
		f.end()
		return nil
	}
	if len(recs) == 0 || (tick <= f.dec.Last()) {
		return nil // nothing new (a reply or a tick this edge has)
	}
	if live {
		f.e.m.lag.Observe(time.Since(sent).Seconds())
	}
	return f.dec.Decode(recs, f.push)
}

// push records a decoded tick. A keyframe's restated roster becomes a
// roster change when it differs from the edge's (a first keyframe, or one
// after missed ticks).
func (f *feed) push(t *replay.Tick) {
	snap := t.Snap
	if snap.Roster == nil && t.Keyframe && (f.roster == nil || !slices.Equal(t.Roster, f.roster)) {
		snap.Roster = t.Roster
		if snap.Roster == nil {
			snap.Roster = []game.PlayerInfo{}
		}
	}
	if snap.Roster != nil {
		f.roster = snap.Roster
	}
	f.st.PushRows(snap, t.Rows)
	kind := "delta"
	if t.Keyframe {
		kind = "keyframe"
	}
	f.e.m.received.WithLabelValues(kind).Inc()
}

// end closes the stream: the match's stream closed on the origin.
func (f *feed) end() {
	if !f.ended {
		f.ended = true
		f.sub.Unsubscribe()
		f.st.Close()
		f.log.Debug().Uint64("last", f.dec.Last()).Msg("relay: remote match ended")
	}
}

// resync asks for the ticks after the last one held and applies them; an
// origin that no longer has the match ends the stream.
func (f *feed) resync(reason string) {
	m, err := f.request(f.dec.Last(), reason)
	if err != nil {
		if errors.Is(err, ErrUnknownMatch) {
			f.log.Info().Err(err).Msg("relay: the origin lost the match; ending its stream")
			f.end()
		} else {
			f.log.Warn().Err(err).Str("reason", reason).Msg("relay resync failed; retrying")
		}
		return
	}
	last := f.dec.Last()
	err = f.apply(m.Data, false)
	if f.dec.Last() != last { // the reply brought ticks: a resync
		f.e.m.resyncs.Inc()
	}
	if err != nil {
		f.log.Warn().Err(err).Msg("relay: bad resync reply")
		return
	}
	if m.Header.Get(hdrClosed) == "1" {
		f.end()
	}
}

// run feeds the stream from the subscription until the match ends or the
// feed is shut.
func (f *feed) run() {
	e := f.e
	interest := time.NewTicker(e.cfg.Interest)
	defer interest.Stop()
	stale := time.NewTicker(min(max(e.cfg.Stale/3, 10*time.Millisecond), time.Second))
	defer stale.Stop()
	isubj := interestSubject(f.node, f.match)
	var dropped int
	defer func() {
		if !f.ended {
			f.sub.Unsubscribe()
			f.st.Close()
		}
	}()
	for !f.ended {
		select {
		case m := <-f.msgs:
			f.lastReceived = time.Now()
			if e.dropHook != nil && len(m.Data) >= 8 && e.dropHook(f.match, binary.LittleEndian.Uint64(m.Data)) {
				continue
			}
			if err := f.apply(m.Data, true); err != nil {
				reason := "gap"
				if !errors.Is(err, replay.ErrNoBaseline) {
					f.log.Warn().Err(err).Msg("relay: bad tick message")
					reason = "bad"
				}
				f.resync(reason)
			}
		case now := <-stale.C:
			if d, _ := f.sub.Dropped(); d > dropped {
				// NATS dropped messages (a slow consumer): the next tick
				// would show the gap, but the match may be quiet.
				dropped = d
				f.resync("dropped")
			} else if now.Sub(f.lastReceived) >= e.cfg.Stale {
				f.lastReceived = now
				f.resync("stale")
			}
		case <-interest.C:
			if err := e.nc.Publish(isubj, []byte(e.cfg.Node)); err != nil {
				f.log.Warn().Err(err).Msg("relay interest publish failed")
			}
		case <-f.stop:
			return
		}
	}
	<-f.stop // ended: the stream stays for its spectators until the linger ends
}
