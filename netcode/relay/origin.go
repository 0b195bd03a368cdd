package relay

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/tickstream/tickstream/netcode/replay"
	"github.com/tickstream/tickstream/netcode/stream"
)

// OriginConfig tunes an origin. Zero fields take the documented default.
type OriginConfig struct {
	// KeyEvery is the interval between the keyframes published among the
	// deltas; zero means 1 s.
	KeyEvery time.Duration
	// Interest is how long an edge's interest lasts without renewal; zero
	// means 6 s (edges renew it every 2 s).
	Interest time.Duration
	// CatchUp is the longest catch-up a key request gets as deltas (from
	// the edge's last tick); further behind it gets a keyframe. Zero means
	// 2 s of ticks.
	CatchUp time.Duration
}

func (c OriginConfig) withDefaults() OriginConfig {
	if c.KeyEvery <= 0 {
		c.KeyEvery = time.Second
	}
	if c.Interest <= 0 {
		c.Interest = 6 * time.Second
	}
	if c.CatchUp <= 0 {
		c.CatchUp = 2 * time.Second
	}
	return c
}

// Origin publishes this node's matches to the edges that ask for them.
type Origin struct {
	nc     *nats.Conn
	node   string
	lookup func(match string) *stream.Stream
	log    zerolog.Logger
	cfg    OriginConfig
	m      originMetrics

	subs []*nats.Subscription
	done chan struct{}
	wg   sync.WaitGroup

	mu     sync.Mutex
	pubs   map[string]*publisher
	closed bool
}

// publisher publishes one match.
type publisher struct {
	match string
	st    *stream.Stream
	from  uint64               // the head when it started (no later than any key reply's)
	edges map[string]time.Time // edge node id → interest expiry (Origin.mu)
}

// NewOrigin serves node's matches (lookup returns a live match's stream,
// or nil: Server.MatchStream) to edges, with the default OriginConfig.
func NewOrigin(nc *nats.Conn, node string, lookup func(match string) *stream.Stream, log zerolog.Logger) (*Origin, error) {
	return NewOriginWith(nc, node, lookup, log, OriginConfig{})
}

// NewOriginWith is NewOrigin with cfg.
func NewOriginWith(nc *nats.Conn, node string, lookup func(match string) *stream.Stream, log zerolog.Logger, cfg OriginConfig) (*Origin, error) {
	if node == "" {
		return nil, fmt.Errorf("relay: no node id")
	}
	o := &Origin{
		nc: nc, node: node, lookup: lookup, log: log.With().Str("relay", "origin").Logger(),
		cfg: cfg.withDefaults(), m: newOriginMetrics(), done: make(chan struct{}), pubs: map[string]*publisher{},
	}
	for subj, h := range map[string]nats.MsgHandler{
		subjectPrefix + token(node) + ".*.key":      o.onKey,
		subjectPrefix + token(node) + ".*.interest": o.onInterest,
	} {
		sub, err := nc.Subscribe(subj, h)
		if err != nil {
			o.Close()
			return nil, fmt.Errorf("relay: subscribe %s: %w", subj, err)
		}
		o.subs = append(o.subs, sub)
	}
	if err := nc.Flush(); err != nil { // the subscriptions are in place on return
		o.Close()
		return nil, fmt.Errorf("relay: %w", err)
	}
	return o, nil
}

// Collectors are the origin's metrics, for Server.Register.
func (o *Origin) Collectors() []prometheus.Collector {
	return []prometheus.Collector{o.m.encodes, o.m.published, o.m.keyReqs, o.m.matches, o.m.edges}
}

// Close stops serving and publishing, and waits for the publishers.
func (o *Origin) Close() {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return
	}
	o.closed = true
	close(o.done)
	o.mu.Unlock()
	for _, s := range o.subs {
		s.Unsubscribe()
	}
	o.wg.Wait()
}

// interested records edge's interest in match and starts publishing it if
// it was not; nil when there is no such match.
func (o *Origin) interested(match, edge string) *stream.Stream {
	if edge == "" {
		edge = "?"
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return nil
	}
	p := o.pubs[match]
	if p == nil {
		st := o.lookup(match)
		if st == nil {
			return nil
		}
		p = &publisher{match: match, st: st, edges: map[string]time.Time{}}
		p.from, _ = st.Head()
		o.pubs[match] = p
		o.m.matches.Inc()
		o.wg.Add(1)
		go o.publish(p)
	}
	if _, ok := p.edges[edge]; !ok {
		o.m.edges.Inc()
	}
	p.edges[edge] = time.Now().Add(o.cfg.Interest)
	return p.st
}

// expire drops the edges whose interest lapsed; true (and p is
// forgotten) when none is left.
func (o *Origin) expire(p *publisher, now time.Time, force bool) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for e, exp := range p.edges {
		if force || now.After(exp) {
			delete(p.edges, e)
			o.m.edges.Dec()
		}
	}
	if len(p.edges) > 0 {
		return false
	}
	delete(o.pubs, p.match)
	o.m.matches.Dec()
	return true
}

func (o *Origin) onInterest(m *nats.Msg) {
	o.interested(matchOf(m.Subject), string(m.Data))
}

// onKey answers a key request: the stream's config and a keyframe of its
// head, or the ticks after the edge's last one as deltas.
func (o *Origin) onKey(m *nats.Msg) {
	match := matchOf(m.Subject)
	var from uint64
	var edge string
	if len(m.Data) >= 8 {
		from, edge = binary.LittleEndian.Uint64(m.Data), string(m.Data[8:])
	}
	reply := nats.NewMsg(m.Reply)
	st := o.interested(match, edge)
	if st == nil {
		o.m.keyReqs.WithLabelValues("unknown").Inc()
		reply.Header.Set(hdrError, "no such match")
		m.RespondMsg(reply)
		return
	}
	cfg := st.Config()
	q := st.Quant()
	reply.Header.Set(hdrRate, strconv.Itoa(st.Rate()))
	reply.Header.Set(hdrDelay, strconv.FormatInt(int64(st.Delay()), 10))
	reply.Header.Set(hdrPos, strconv.FormatFloat(q.Pos, 'g', -1, 64))
	reply.Header.Set(hdrAngle, strconv.Itoa(int(q.AngleSteps)))
	reply.Header.Set(hdrRadius, strconv.FormatFloat(cfg.Layout.ViewRadius, 'g', -1, 64))
	head, closed := st.Head()
	if closed {
		reply.Header.Set(hdrClosed, "1")
	}
	var enc replay.TickEncoder
	b, kind := catchUp(&enc, appendMsgHead(nil, head, time.Now()), st, from, head, uint64(o.cfg.CatchUp)*uint64(st.Rate())/uint64(time.Second))
	o.m.keyReqs.WithLabelValues(kind).Inc()
	reply.Data = b
	if err := m.RespondMsg(reply); err != nil {
		o.log.Debug().Err(err).Str("match", match).Msg("relay key reply failed")
	}
}

// catchUp appends the ticks (from, head] as deltas when they are all held
// and at most limit, else a keyframe of head (nothing when from >= head or
// head is 0), and says which.
func catchUp(enc *replay.TickEncoder, b []byte, st *stream.Stream, from, head, limit uint64) ([]byte, string) {
	if head == 0 || from >= head {
		return b, "none"
	}
	if from != 0 && head-from <= limit {
		if _, prev, _, ok := st.Tick(from); ok {
			n := len(b)
			t := from + 1
			for ; t <= head; t++ {
				snap, rows, roster, ok := st.Tick(t)
				if !ok {
					break
				}
				b = enc.Append(b, snap, rows, roster, t-1, prev)
				prev = rows
			}
			if t > head {
				return b, "catchup"
			}
			b = b[:n]
		}
	}
	for t := head; t > 0; t-- { // the head, or the newest tick still held
		if snap, rows, roster, ok := st.Tick(t); ok {
			binary.LittleEndian.PutUint64(b[:8], t)
			return enc.Append(b, snap, rows, roster, 0, nil), "keyframe"
		}
		if head-t > 8 {
			break
		}
	}
	return b, "none"
}

// publish is a match's publisher: every tick once, as a delta from the
// one before (a keyframe every KeyEvery, or after a tick it could not
// read), until the stream closes (the edges are told) or no edge is
// interested any more.
func (o *Origin) publish(p *publisher) {
	defer o.wg.Done()
	st := p.st
	log := o.log.With().Str("match", p.match).Logger()
	subject := tickSubject(o.node, p.match)
	keyEvery := max(uint64(o.cfg.KeyEvery)*uint64(st.Rate())/uint64(time.Second), 1)
	check := time.NewTicker(min(o.cfg.Interest/3, time.Second))
	defer check.Stop()
	var (
		enc     replay.TickEncoder
		buf     []byte
		failing bool
		// From the tick after p.from: a key request gave the edges that
		// one or a later one.
		sent, lastKey = p.from, p.from
	)
	_, prev, _, havePrev := st.Tick(sent)
	log.Debug().Uint64("from", sent).Msg("relay publishing")
	for {
		ch := st.Changed()
		head, closed := st.Head()
		for t := sent + 1; t <= head; t++ {
			snap, rows, roster, ok := st.Tick(t)
			if !ok {
				havePrev = false
				continue // fell out of the ring: the next one is a keyframe
			}
			var base uint64
			if havePrev && t == sent+1 && t-lastKey < keyEvery {
				base = sent
			} else {
				lastKey = t
			}
			buf = enc.Append(appendMsgHead(buf[:0], t, time.Now()), snap, rows, roster, base, prev)
			o.m.encodes.Inc()
			if err := o.nc.Publish(subject, buf); err != nil {
				if !failing { // once per run of failures, not per tick
					log.Warn().Err(err).Msg("relay publish failed")
				}
				failing = true
			} else {
				o.m.published.Inc()
				failing = false
			}
			sent, prev, havePrev = t, rows, true
		}
		if closed {
			if err := o.nc.Publish(subject, appendMsgHead(buf[:0], sent, time.Now())); err != nil {
				log.Warn().Err(err).Msg("relay end publish failed")
			}
			o.expire(p, time.Time{}, true)
			log.Debug().Uint64("last", sent).Msg("relay: match ended")
			return
		}
		select {
		case <-ch:
		case now := <-check.C:
			if o.expire(p, now, false) {
				log.Debug().Msg("relay: no edge left")
				return
			}
		case <-o.done:
			o.expire(p, time.Time{}, true)
			return
		}
	}
}
