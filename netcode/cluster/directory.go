package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/tickstream/tickstream/game"
)

// entry is a match's directory entry (the KV value, JSON).
type entry struct {
	ID           string    `json:"id"`
	Node         string    `json:"node"`
	Inc          uint64    `json:"inc"`
	URL          string    `json:"url"`
	Players      int       `json:"players"`
	Disconnected int       `json:"disconnected"`
	Max          int       `json:"max"`
	Min          int       `json:"min"`
	State        int       `json:"state"`
	Rate         int       `json:"rate"`
	Created      time.Time `json:"created"`
	Spectators   int64     `json:"spectators"`
	DelayMS      int64     `json:"delay_ms"`
}

func (e entry) info() game.MatchInfo {
	return game.MatchInfo{
		ID: e.ID, Players: e.Players, Disconnected: e.Disconnected, MaxPlayers: e.Max, MinPlayers: e.Min,
		State: game.State(e.State), TickRate: e.Rate, Created: e.Created,
	}
}

// lease is this node's hold on one of its matches' entries.
type lease struct {
	rev     uint64    // the revision this node last wrote
	renewed time.Time // when the last successful write was sent
	fenced  bool      // the lease lapsed or was taken: the match is closed
	// unsure: while rev is 0, when the first write whose reply never came
	// was sent. It may have been stored (others then list the match), so
	// the lease counts from it: a node paused past TTL after such a write
	// must not create the entry again on waking.
	unsure time.Time
}

// lapsed reports whether the lease ran out (under n.mu).
func (l *lease) lapsed(ttl time.Duration) bool {
	switch {
	case l.rev != 0:
		return time.Since(l.renewed) > ttl
	case !l.unsure.IsZero():
		return time.Since(l.unsure) > ttl
	}
	return false
}

// watchLoop keeps the directory from a KV watcher, and re-lists it every
// Relist: entries that expired (which a watcher is not told about) leave
// the cache then; listings filter by the owner's heartbeat long before.
func (n *Node) watchLoop() {
	defer n.wg.Done()
	relist := time.NewTicker(n.cfg.Relist)
	defer relist.Stop()
	var updates <-chan jetstream.KeyValueEntry
	var w jetstream.KeyWatcher
	defer func() {
		if w != nil {
			_ = w.Stop()
		}
	}()
	for {
		if w != nil && n.watchOff() {
			_ = w.Stop()
			w, updates = nil, nil
		}
		if w == nil && !n.watchOff() {
			var err error
			if w, err = n.kv.WatchAll(n.ctx, jetstream.UpdatesOnly()); err == nil {
				updates = w.Updates()
			} else {
				n.log.Debug().Err(err).Msg("directory watcher not started")
			}
		}
		select {
		case <-n.ctx.Done():
			return
		case e, ok := <-updates:
			if !ok {
				w, updates = nil, nil
				continue
			}
			if e != nil && !n.watchOff() {
				n.apply(e)
			}
		case <-relist.C:
			if !n.watchOff() {
				n.relist(n.ctx)
			}
		}
	}
}

func (n *Node) isPaused() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.paused
}

func (n *Node) watchOff() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.paused || n.noWatch
}

func (n *Node) apply(e jetstream.KeyValueEntry) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		delete(n.entries, e.Key())
		return
	}
	var v entry
	if json.Unmarshal(e.Value(), &v) != nil || v.ID != e.Key() {
		n.m.badEntries.Inc()
		return
	}
	n.entries[v.ID] = v
}

// relist reads the whole directory again and replaces the cache.
func (n *Node) relist(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	w, err := n.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		n.log.Debug().Err(err).Msg("directory re-list failed")
		return
	}
	defer func() { _ = w.Stop() }()
	fresh := make(map[string]entry)
	for {
		select {
		case <-ctx.Done():
			n.log.Debug().Msg("directory re-list timed out")
			return
		case e := <-w.Updates():
			if e == nil { // the initial values are all in
				n.mu.Lock()
				n.entries = fresh
				n.mu.Unlock()
				n.m.relists.Inc()
				return
			}
			var v entry
			if json.Unmarshal(e.Value(), &v) == nil && v.ID == e.Key() {
				fresh[v.ID] = v
			} else {
				n.m.badEntries.Inc()
			}
		}
	}
}

// renewLoop writes this node's matches' entries every TTL/3 (and when
// kicked), deletes the entries of its closed matches, and fences the
// matches whose lease lapsed.
func (n *Node) renewLoop() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.TTL / 3)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		case <-n.kick:
		}
		if !n.isPaused() {
			n.renew(n.ctx)
		}
	}
}

// renewConcurrency bounds the directory writes of one renewal pass in
// flight at once.
const renewConcurrency = 32

func (n *Node) renew(ctx context.Context) {
	list := n.local.List()
	live := make(map[string]bool, len(list))
	// Concurrently, a bounded number at a time: a pass must not outlast
	// the leases because writes are slow one after another.
	sem := make(chan struct{}, renewConcurrency)
	var wg sync.WaitGroup
	for _, info := range list {
		live[info.ID] = true
		if info.State >= game.StateClosed {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			n.renewOne(ctx, info)
		}()
	}
	wg.Wait()
	n.mu.Lock()
	var gone []string
	var revs []uint64
	for id, l := range n.leases {
		if !live[id] {
			if !l.fenced {
				gone, revs = append(gone, id), append(revs, l.rev)
			}
			delete(n.leases, id)
		}
	}
	n.mu.Unlock()
	for i, id := range gone {
		wctx, cancel := context.WithTimeout(ctx, time.Second)
		err := n.kv.Delete(wctx, id, jetstream.LastRevision(revs[i]))
		cancel()
		n.m.writes.WithLabelValues(result(err)).Inc()
	}
}

func result(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, jetstream.ErrKeyExists):
		return "conflict"
	}
	return "error"
}

// renewOne writes one of this node's matches' entry, at the revision it
// last wrote, or fences the match.
func (n *Node) renewOne(ctx context.Context, info game.MatchInfo) {
	n.mu.Lock()
	l := n.leases[info.ID]
	if l == nil {
		l = &lease{}
		n.leases[info.ID] = l
	}
	fenced, rev, renewed, lapsed := l.fenced, l.rev, l.renewed, l.lapsed(n.cfg.TTL)
	n.mu.Unlock()
	if fenced {
		return
	}
	if lapsed {
		n.fence(info.ID, "lapsed")
		return
	}
	e := entry{
		ID: info.ID, Node: n.cfg.NodeID, Inc: n.cfg.Incarnation, URL: n.cfg.PublicURL,
		Players: info.Players, Disconnected: info.Disconnected, Max: info.MaxPlayers, Min: info.MinPlayers,
		State: int(info.State), Rate: info.TickRate, Created: info.Created,
	}
	if n.cfg.Spectators != nil {
		sp, delay := n.cfg.Spectators(info.ID)
		e.Spectators, e.DelayMS = sp, delay.Milliseconds()
	}
	val, err := json.Marshal(e)
	if err != nil {
		return
	}
	wctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	sent := time.Now()
	var newRev uint64
	if rev == 0 {
		newRev, err = n.kv.Create(wctx, info.ID, val)
		if errors.Is(err, jetstream.ErrKeyExists) {
			// Ours, if an earlier Create's reply was lost.
			newRev, err = n.recover(wctx, info.ID, val, sent)
		}
	} else {
		newRev, err = n.kv.Update(wctx, info.ID, val, rev)
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyNotFound) {
			newRev, err = n.recover(wctx, info.ID, val, renewed)
		}
	}
	n.m.writes.WithLabelValues(result(err)).Inc()
	switch {
	case err == nil:
		n.mu.Lock()
		if !l.fenced {
			l.rev, l.renewed, l.unsure = newRev, sent, time.Time{}
		}
		n.mu.Unlock()
	case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, errTaken):
		n.fence(info.ID, "taken")
	default:
		// NATS unreachable or slow: try again at the next renewal; the
		// lease lapses if this lasts TTL.
		if rev == 0 && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout)) {
			n.mu.Lock()
			if l.unsure.IsZero() {
				l.unsure = sent // the Create may have been stored
			}
			n.mu.Unlock()
		}
		n.log.Debug().Err(err).Str("match", info.ID).Msg("directory entry not renewed")
	}
}

var errTaken = errors.New("the entry belongs to another node or incarnation")

// recover handles an Update refused because the entry changed or vanished
// since this node wrote it. Vanished while the lease still holds (the NATS
// server restarted and lost its memory storage): create it again. Written
// by someone else: the match is taken.
func (n *Node) recover(ctx context.Context, id string, val []byte, renewed time.Time) (uint64, error) {
	cur, err := n.kv.Get(ctx, id)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
		if time.Since(renewed) > n.cfg.TTL {
			return 0, errTaken
		}
		return n.kv.Create(ctx, id, val)
	case err != nil:
		return 0, err
	}
	var v entry
	if json.Unmarshal(cur.Value(), &v) == nil && v.Node == n.cfg.NodeID && v.Inc == n.cfg.Incarnation {
		return n.kv.Update(ctx, id, val, cur.Revision()) // our own write, its reply lost
	}
	return 0, errTaken
}

// fence gives up a match: no more players are accepted in it, and it is
// closed (its players are told the match ended and join anew).
func (n *Node) fence(id, why string) {
	n.mu.Lock()
	l := n.leases[id]
	if l == nil || l.fenced {
		n.mu.Unlock()
		return
	}
	l.fenced = true
	n.mu.Unlock()
	n.m.fenced.WithLabelValues(why).Inc()
	n.log.Warn().Str("match", id).Str("why", why).Msg("match fenced: this node no longer owns it; closing it")
	if m := n.local.Get(id); m != nil {
		m.Close()
	}
}

// fenced reports whether a local match is fenced (or its lease lapsed
// without the renewal having noticed yet).
func (n *Node) fenced(id string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	l := n.leases[id]
	return l != nil && (l.fenced || l.lapsed(n.cfg.TTL))
}
