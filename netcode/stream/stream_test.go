package stream

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode/wire"
)

var testLayout = game.Layout{W: 1600, H: 900, Precision: game.Precision{Pos: 0.5, AngleSteps: 1024}, ViewRadius: 300}

// world is a random world that evolves tick by tick: entities appear,
// move (some fast, some teleport), change fields and disappear.
type world struct {
	rng  *rand.Rand
	tick uint64
	ents []game.Entity
	next uint32
}

func newWorld(seed uint64, players int) *world {
	w := &world{rng: rand.New(rand.NewPCG(seed, seed^0x9e37)), next: game.FirstObjectID}
	for i := 1; i <= players; i++ {
		w.ents = append(w.ents, game.Entity{ID: uint32(i), Kind: game.KindPlayer, X: w.coord(1600), Y: w.coord(900), HP: 100})
	}
	return w
}

func (w *world) coord(n float64) float32 { return float32(w.rng.Float64() * n) }

func (w *world) step() *game.Snapshot {
	w.tick++
	var evs []game.Event
	out := w.ents[:0]
	for _, e := range w.ents {
		switch r := w.rng.IntN(100); {
		case e.Kind == game.KindProjectile && r < 5:
			continue // gone
		case r < 3:
			e.X, e.Y = w.coord(1600), w.coord(900) // teleport (respawn)
			evs = append(evs, game.Event{Kind: game.EventRespawn, A: e.ID})
		case r < 80:
			e.X += float32(w.rng.NormFloat64() * 15)
			e.Y += float32(w.rng.NormFloat64() * 15)
			e.Angle = float32(math.Remainder(float64(e.Angle)+w.rng.NormFloat64()*0.3, 2*math.Pi))
		}
		if w.rng.IntN(50) == 0 {
			e.HP -= 25
			e.Flags ^= game.FlagProtected
		}
		out = append(out, e)
	}
	w.ents = out
	for i := w.rng.IntN(3); i > 0; i-- { // new projectiles
		w.ents = append(w.ents, game.Entity{ID: w.next, Kind: game.KindProjectile, X: w.coord(1600), Y: w.coord(900), Score: 1})
		evs = append(evs, game.Event{Kind: game.EventShot, A: 1, B: w.next})
		w.next++
	}
	return &game.Snapshot{Tick: w.tick, Time: time.UnixMilli(int64(1_700_000_000_000 + w.tick*50)), State: game.StateRunning,
		Entities: slices.Clone(w.ents), Events: evs}
}

// oracle is the view a player must hold at a tick: brute force over every
// entity (no grid), in wire units.
func oracle(q wire.Quant, ents []game.Entity, me uint32, radius float64) []wire.Row {
	rows := q.AppendRows(nil, ents)
	if radius == 0 {
		return rows
	}
	r := int64(radius/q.Pos + 0.5)
	i := slices.IndexFunc(rows, func(r wire.Row) bool { return r.ID == me })
	if i < 0 {
		return nil
	}
	var out []wire.Row
	for _, row := range rows {
		dx, dy := int64(row.F[wire.FieldX]-rows[i].F[wire.FieldX]), int64(row.F[wire.FieldY]-rows[i].F[wire.FieldY])
		if dx*dx+dy*dy <= r*r {
			out = append(out, row)
		}
	}
	return out
}

// TestPlayerViewsProperty drives a stream with random worlds and a player
// with a random ack pattern (drops, stale acks, long gaps, acks of ticks
// never sent): the view the client rebuilds from what it receives always
// equals the oracle's view for the tick, and never holds an entity outside
// the radius.
func TestPlayerViewsProperty(t *testing.T) {
	for _, radius := range []float64{0, 300, 1000} { // none, the grid, a world of few cells (a scan)
		for seed := uint64(1); seed <= 20; seed++ {
			layout := testLayout
			layout.ViewRadius = radius
			st := New(Config{Rate: 20, Keep: 2 * time.Second, Layout: layout})
			w := newWorld(seed, 12)
			rng := rand.New(rand.NewPCG(seed, 7))
			p := st.NewPlayer(1, 1+rng.IntN(3)*(int(seed)%2), 0)
			var views wire.Views
			var f wire.SnapFrame
			var buf []byte
			lastTick, keyframes, deltas := uint64(0), 0, 0
			for i := 0; i < 300; i++ {
				snap := w.step()
				st.Push(snap)
				if rng.IntN(10) == 0 { // the writer is late: ticks pile up
					continue
				}
				var ok bool
				if buf, ok = p.Next(buf[:0]); !ok {
					continue
				}
				if err := wire.DecodeSnap(buf, &f); err != nil {
					t.Fatalf("seed %d tick %d: decode: %v", seed, snap.Tick, err)
				}
				if f.Tick <= lastTick {
					t.Fatalf("seed %d: tick %d after %d", seed, f.Tick, lastTick)
				}
				lastTick = f.Tick
				if f.Base == 0 {
					keyframes++
				} else {
					deltas++
				}
				got, err := views.Apply(&f)
				if err != nil {
					t.Fatalf("seed %d tick %d base %d: apply: %v", seed, f.Tick, f.Base, err)
				}
				e := st.entry(f.Tick)
				if want := oracle(st.quant, e.snap.Entities, 1, radius); !slices.Equal(got, want) {
					t.Fatalf("seed %d tick %d (base %d): view differs:\n got %v\nwant %v", seed, f.Tick, f.Base, got, want)
				}
				switch a := rng.IntN(10); { // the client's ack pattern
				case a < 5:
					p.Ack(views.Newest(), time.Now(), 0)
				case a == 5:
					p.Ack(views.Newest()+1+uint64(rng.IntN(5)), time.Now(), 0) // never sent
				case a == 6:
					p.Ack(max(views.Newest(), 3)-2, time.Now(), 0) // stale or unsent
				case a == 7 && rng.IntN(20) == 0:
					for j := 0; j < 60; j++ { // a long gap: the baseline leaves the ring
						st.Push(w.step())
					}
				}
			}
			if deltas == 0 {
				t.Fatalf("seed %d: no delta in %d snapshots", seed, keyframes)
			}
		}
	}
}

// TestInterestEnterLeave: an entity entering the radius arrives as a whole
// row on the tick it enters, one leaving is in gone, and nothing outside
// the radius is ever sent.
func TestInterestEnterLeave(t *testing.T) {
	st := New(Config{Rate: 20, Keep: time.Second, Layout: testLayout})
	p := st.NewPlayer(1, 1, 0)
	q := st.Quant()
	me := game.Entity{ID: 1, Kind: game.KindPlayer, X: 100, Y: 100}
	var buf []byte
	var f wire.SnapFrame
	var views wire.Views
	push := func(tick uint64, other float32) *wire.SnapFrame {
		t.Helper()
		st.Push(&game.Snapshot{Tick: tick, Time: time.UnixMilli(int64(tick)), Entities: []game.Entity{me, {ID: 2, Kind: game.KindPlayer, X: other, Y: 100}}})
		var ok bool
		if buf, ok = p.Next(buf[:0]); !ok {
			t.Fatalf("tick %d: nothing sent", tick)
		}
		if err := wire.DecodeSnap(buf, &f); err != nil {
			t.Fatal(err)
		}
		if _, err := views.Apply(&f); err != nil {
			t.Fatal(err)
		}
		p.Ack(f.Tick, time.Now(), 0)
		return &f
	}
	if f := push(1, 1000); len(f.Rows) != 1 || f.Rows[0].ID != 1 || f.Base != 0 {
		t.Fatalf("far entity sent: %+v", f.Rows)
	}
	if f := push(2, 900); len(f.Rows) != 0 || len(f.Gone) != 0 {
		t.Fatalf("tick 2: nothing changed in view, got rows %+v gone %v", f.Rows, f.Gone)
	}
	f3 := push(3, 350) // 250 units away: inside 300
	if f3.Base != 2 || len(f3.Rows) != 1 || f3.Rows[0].ID != 2 || f3.Rows[0].Mask != wire.MaskWhole {
		t.Fatalf("entering entity not whole: base %d rows %+v", f3.Base, f3.Rows)
	}
	if got := q.Entity(wire.Row{ID: 2, F: [wire.NumFields]int32{int32(f3.Rows[0].V[0]), int32(f3.Rows[0].V[1]), int32(f3.Rows[0].V[2])}}); got.X != 350 || got.Y != 100 {
		t.Fatalf("entering entity at %v,%v", got.X, got.Y)
	}
	f4 := push(4, 360)
	if len(f4.Rows) != 1 || f4.Rows[0].Mask != 1<<wire.FieldX || f4.Rows[0].V[wire.FieldX] != 20 {
		t.Fatalf("moving entity: want a delta of x by 20 half-units, got %+v", f4.Rows)
	}
	f5 := push(5, 401) // 301 away: out
	if len(f5.Rows) != 0 || !slices.Equal(f5.Gone, []uint32{2}) {
		t.Fatalf("leaving entity: rows %+v gone %v", f5.Rows, f5.Gone)
	}
}

// TestSharedBodies: without interest, players with the same baseline get
// the same body bytes (one encoding), and their per-player ack differs.
func TestSharedBodies(t *testing.T) {
	layout := testLayout
	layout.ViewRadius = 0
	st := New(Config{Rate: 20, Keep: time.Second, Layout: layout})
	w := newWorld(3, 4)
	st.Push(w.step())
	a, b := st.NewPlayer(1, 1, 0), st.NewPlayer(2, 1, 0)
	fa, _ := a.Next(nil)
	fb, _ := b.Next(nil)
	e := st.entry(1)
	if len(e.bodies) != 1 {
		t.Fatalf("bodies cached: %d, want 1 shared", len(e.bodies))
	}
	body := e.bodies[bodyKey{0, 0}]
	if !slices.Equal(fa[len(fa)-len(body):], body) || !slices.Equal(fb[len(fb)-len(body):], body) {
		t.Fatal("frames do not end with the shared body")
	}
}

// TestPlayerNextAllocs: a player's writer encodes into its own buffer
// without allocating once warmed up, whatever the number of players: the
// allocations of a tick are the push's and the shared encodings' alone,
// the same with 10 players as with 50.
func TestPlayerNextAllocs(t *testing.T) {
	perTick := func(n int) float64 {
		st := New(Config{Rate: 20, Keep: time.Second, Layout: testLayout})
		w := newWorld(5, 50)
		players := make([]*Player, n)
		bufs := make([][]byte, n)
		for i := range players {
			players[i] = st.NewPlayer(game.PlayerID(i+1), 1, 0)
		}
		round := func() {
			st.Push(w.step())
			for i, p := range players {
				var ok bool
				bufs[i], ok = p.Next(bufs[i][:0])
				if ok {
					p.Ack(w.tick, time.Now(), 0)
				}
			}
		}
		for i := 0; i < 300; i++ { // the buffers reach their sizes
			round()
		}
		snaps := make([]*game.Snapshot, 200)
		for i := range snaps {
			snaps[i] = w.step()
		}
		i := 0
		return testing.AllocsPerRun(100, func() {
			for j, p := range players {
				var ok bool
				if bufs[j], ok = p.Next(bufs[j][:0]); ok {
					p.Ack(snaps[i].Tick-1, time.Now(), 0)
				}
			}
			st.Push(snaps[i])
			i++
		})
	}
	few, many := perTick(10), perTick(50)
	// The push allocates the entry, its rows and the notify channel; the
	// first player builds the tick's grid (items) and its row parts from
	// the baseline in use (offsets and bytes). Forty more players add
	// nothing.
	t.Logf("%.1f allocations per tick with 50 players, %.1f with 10", many, few)
	if many > few+0.5 || many > 12 {
		t.Fatalf("%.1f allocations per tick with 50 players, %.1f with 10: the writers allocate", many, few)
	}
}

// TestRingBounds: whatever the kept window (shorter than, equal to or
// longer than the ring), every tick between the oldest and the newest held
// is there, and the window holds what it should.
func TestRingBounds(t *testing.T) {
	for _, keep := range []time.Duration{0, time.Second, 2 * time.Second, 5 * time.Second} {
		st := New(Config{Rate: 10, Keep: keep})
		var held uint64
		for tick := uint64(1); tick <= 200; tick++ {
			st.Push(&game.Snapshot{Tick: tick, Time: time.UnixMilli(int64(tick) * 100)})
			if tick == 100 {
				st.Watch()
			}
			v := st.view()
			if v.last != tick {
				t.Fatalf("keep %v: last %d after pushing %d", keep, v.last, tick)
			}
			for u := v.first; u <= v.last; u++ {
				if e := st.entry(u); e == nil || e.snap.Tick != u {
					t.Fatalf("keep %v tick %d: entry %d missing (first %d)", keep, tick, u, v.first)
				}
			}
			limit := uint64(11) // 1 s at 10 Hz + 1 before watching
			if tick > 100 {
				limit = uint64(max(len(st.ring), 21)) // then it grows to the whole ring
			}
			want := min(held+1, limit)
			held = want
			if got := v.last - v.first + 1; got != want {
				t.Fatalf("keep %v tick %d: %d ticks held, want %d", keep, tick, got, want)
			}
		}
	}
}

// TestOldBaselineHoldsLonger: a stream holds 1 s of ticks while its players
// acknowledge promptly; a player whose baseline is more than half of that
// old makes it hold 2 s (for longFor), so that the baseline is still there
// for a delta.
func TestOldBaselineHoldsLonger(t *testing.T) {
	st := New(Config{Rate: 10, Layout: testLayout})
	w := newWorld(9, 3)
	p := st.NewPlayer(1, 1, 0)
	var buf []byte
	held := func() uint64 { v := st.view(); return v.last - v.first + 1 }
	for range 40 { // prompt acks: every tick is acknowledged at once
		st.Push(w.step())
		var ok bool
		if buf, ok = p.Next(buf[:0]); !ok {
			t.Fatalf("tick %d not sent", w.tick)
		}
		p.Ack(w.tick, time.Now(), 0)
	}
	if h := held(); h != 11 {
		t.Fatalf("with prompt acks the stream holds %d ticks, want 11 (1 s at 10 Hz)", h)
	}
	acked := w.tick
	for range 19 { // acks stop: the baseline stays at acked (under 2 s old)
		st.Push(w.step())
		var ok bool
		if buf, ok = p.Next(buf[:0]); !ok {
			t.Fatalf("tick %d not sent", w.tick)
		}
	}
	if h := held(); h != 21 {
		t.Fatalf("with a baseline %d ticks old the stream holds %d ticks, want 21 (2 s)", w.tick-acked, h)
	}
	if p.Keyframes != 1 {
		t.Fatalf("%d keyframes: the player's baselines were dropped", p.Keyframes)
	}
}

// TestPacing: acknowledgements that come back late (a link that queues)
// double the divisor once they have persisted for slowPersist, up to
// MaxLowered; a short burst of late ones (a busy client) does not; the
// writer then sends only multiples of the divisor.
func TestPacing(t *testing.T) {
	st := New(Config{Rate: 20, Keep: time.Second, Layout: testLayout})
	w := newWorld(9, 3)
	p := st.NewPlayer(1, 1, 0)
	var buf []byte
	send := func() uint64 {
		for {
			st.Push(w.step())
			var ok bool
			if buf, ok = p.Next(buf[:0]); ok {
				if w.tick%uint64(p.Every()) != 0 {
					t.Fatalf("tick %d sent with divisor %d", w.tick, p.Every())
				}
				return w.tick
			}
		}
	}
	now := time.Now()
	rtt := 10 * time.Millisecond
	p.Ack(send(), now, rtt) // timely
	if p.Every() != 1 {
		t.Fatalf("every %d after a timely ack", p.Every())
	}
	// A burst of late acks within half a second: a hiccup.
	at := now.Add(2 * time.Second)
	for i := 0; i < 5; i++ {
		p.Ack(send(), at.Add(time.Duration(i)*100*time.Millisecond), rtt)
	}
	if p.Every() != 1 {
		t.Fatalf("every %d after a burst of late acks", p.Every())
	}
	// Late acks every 100 ms for 3.5 s: a slow link. The divisor doubles
	// each second of it, up to MaxLowered.
	at = at.Add(2 * time.Second) // a gap: a new streak
	for i := 0; i <= 35; i++ {
		p.Ack(send(), at.Add(time.Duration(i)*100*time.Millisecond), rtt)
		want := 1 << min(i/10, 3)
		if p.Every() != want {
			t.Fatalf("after %d ms of late acks: every %d, want %d", i*100, p.Every(), want)
		}
	}
	if p.Lowerings() != 3 {
		t.Fatalf("%d lowerings, want 3", p.Lowerings())
	}
}

// TestInterestEvents: with a view radius, a player is sent the events of
// what it sees and its own, and every kill; a shot far away is not sent.
func TestInterestEvents(t *testing.T) {
	st := New(Config{Rate: 20, Keep: time.Second, Layout: testLayout})
	p := st.NewPlayer(1, 1, 0)
	far := uint32(game.FirstObjectID + 9)
	st.Push(&game.Snapshot{Tick: 1, Time: time.UnixMilli(1), Entities: []game.Entity{
		{ID: 1, Kind: game.KindPlayer, X: 100, Y: 100},
		{ID: 2, Kind: game.KindPlayer, X: 200, Y: 100},
		{ID: 3, Kind: game.KindPlayer, X: 1500, Y: 800},
		{ID: game.FirstObjectID + 1, Kind: game.KindProjectile, X: 120, Y: 100, Score: 1},
		{ID: far, Kind: game.KindProjectile, X: 1450, Y: 800, Score: 3},
	}, Events: []game.Event{
		{Kind: game.EventShot, A: 1, B: game.FirstObjectID + 1}, // mine
		{Kind: game.EventShot, A: 3, B: far},                    // far away
		{Kind: game.EventHit, A: 3, B: 2},                       // the victim is in view
		{Kind: game.EventKill, A: 3, B: 4},                      // a kill: everybody
	}})
	b, ok := p.Next(nil)
	if !ok {
		t.Fatal("nothing sent")
	}
	var f wire.SnapFrame
	if err := wire.DecodeSnap(b, &f); err != nil {
		t.Fatal(err)
	}
	want := []wire.EventRow{{Kind: game.EventShot, A: 1, B: game.FirstObjectID + 1}, {Kind: game.EventHit, A: 3, B: 2}, {Kind: game.EventKill, A: 3, B: 4}}
	if len(f.Ev) != len(want) {
		t.Fatalf("events %+v, want %+v", f.Ev, want)
	}
	for i := range want {
		if f.Ev[i].Kind != want[i].Kind || f.Ev[i].A != want[i].A || f.Ev[i].B != want[i].B {
			t.Fatalf("events %+v, want %+v", f.Ev, want)
		}
	}
}

// TestViewPartsMatchSnapBody: a view's body assembled from the tick's
// shared row parts is byte for byte wire.AppendSnapBody of the same views
// (the reference encoder of the golden vectors), for random worlds, views
// and baselines: entities entering, leaving, changed and unchanged.
func TestViewPartsMatchSnapBody(t *testing.T) {
	for seed := uint64(1); seed <= 30; seed++ {
		st := New(Config{Rate: 20, Keep: 2 * time.Second, Layout: testLayout})
		w := newWorld(seed, 20)
		rng := rand.New(rand.NewPCG(seed, 9))
		p := st.NewPlayer(1, 1, 0)
		for i := 0; i < 60; i++ {
			st.Push(w.step())
		}
		rows := func(e *entry, view []int32) []wire.Row {
			out := []wire.Row{}
			for _, i := range view {
				out = append(out, e.rows[i])
			}
			return out
		}
		for i := 0; i < 40; i++ {
			last, _ := st.Head()
			e := st.entry(last)
			be := st.entry(last - 1 - uint64(rng.IntN(20)))
			id := uint32(1 + rng.IntN(20))
			cur := e.viewOf(nil, id, st.radius)
			base := be.viewOf(nil, uint32(1+rng.IntN(20)), st.radius) // another player's: many enter and leave
			if rng.IntN(4) == 0 {
				base = be.viewOf(nil, id, st.radius)
			}
			evs := [][]game.Event{{{Kind: game.EventShot, A: id, B: 7}}}
			h := head(e.snap, be.snap.Tick)
			got := p.appendView(nil, h, e, be, base, cur, evs)
			want := wire.AppendSnapBody(nil, h, rows(be, base), rows(e, cur), evs)
			if !slices.Equal(got, want) {
				t.Fatalf("seed %d: parts body differs from AppendSnapBody:\n got %x\nwant %x", seed, got, want)
			}
			h.Base = 0
			if got, want := p.appendView(nil, h, e, nil, nil, cur, evs), wire.AppendSnapBody(nil, h, nil, rows(e, cur), evs); !slices.Equal(got, want) {
				t.Fatalf("seed %d: keyframe differs:\n got %x\nwant %x", seed, got, want)
			}
			st.Push(w.step())
		}
	}
}

// TestTickAccessor: Tick returns a held tick's snapshot, its rows (as
// Push quantized them) and the roster as of the tick, and nothing for a
// tick not held; Config is what New was given.
func TestTickAccessor(t *testing.T) {
	cfg := Config{Rate: 10, Keep: time.Second, Delay: 2 * time.Second, Layout: game.Layout{ViewRadius: 30}}
	st := New(cfg)
	if got := st.Config(); got.Rate != cfg.Rate || got.Delay != cfg.Delay || got.Layout.ViewRadius != 30 {
		t.Fatalf("config %+v", got)
	}
	if _, _, _, ok := st.Tick(1); ok {
		t.Fatal("a tick of an empty stream")
	}
	w := newWorld(5, 4)
	roster := []game.PlayerInfo{{ID: 1, Name: "a"}}
	var snaps []*game.Snapshot
	for i := 0; i < 100; i++ {
		s := w.step()
		if i == 3 {
			s.Roster = roster
		}
		snaps = append(snaps, s)
		st.Push(s)
	}
	first := snaps[0].Tick
	last := snaps[len(snaps)-1].Tick
	if _, _, _, ok := st.Tick(first); ok {
		t.Fatal("tick out of the ring still held")
	}
	if _, _, _, ok := st.Tick(last + 1); ok {
		t.Fatal("a tick not pushed yet")
	}
	snap, rows, ro, ok := st.Tick(last)
	if !ok || snap != snaps[len(snaps)-1] || len(ro) != 1 || ro[0] != roster[0] {
		t.Fatalf("last tick: %v %v %v", ok, snap == snaps[len(snaps)-1], ro)
	}
	want := st.Quant().AppendRows(nil, snap.Entities)
	if len(rows) != len(want) {
		t.Fatalf("rows %d, want %d", len(rows), len(want))
	}
	for i := range rows {
		if rows[i] != want[i] {
			t.Fatalf("row %d: %v, want %v", i, rows[i], want[i])
		}
	}
}

// TestPacingCalm: a lowered divisor is halved again after PaceCalm
// without a sign; a link lowered again soon after a raise (a relapse)
// needs twice the calm the next time, up to PaceCalmMax; a lowering long
// after the last raise starts again from PaceCalm.
func TestPacingCalm(t *testing.T) {
	st := New(Config{Rate: 20, Keep: time.Second, Layout: testLayout})
	w := newWorld(9, 3)
	p := st.NewPlayer(1, 1, 0)
	rtt := 10 * time.Millisecond
	type sent struct {
		tick uint64
		at   time.Time
	}
	var (
		buf      []byte
		out      []sent
		at       = time.Now()
		lastSign time.Time // the last sign of a slow link given
	)
	// step runs one tick (50 ms). A slow link acknowledges the newest
	// snapshot sent at least 600 ms ago (later than rtt + PaceSlack: a
	// sign); a good one acknowledges each snapshot at once.
	step := func(slow bool) {
		at = at.Add(50 * time.Millisecond)
		st.Push(w.step())
		var ok bool
		if buf, ok = p.NextAt(buf[:0], at); ok {
			out = append(out, sent{w.tick, at})
		}
		if !slow {
			if ok {
				p.Ack(w.tick, at, rtt)
			}
			return
		}
		for i := len(out) - 1; i >= 0; i-- {
			if at.Sub(out[i].at) >= 600*time.Millisecond {
				p.Ack(out[i].tick, at, rtt)
				lastSign = at
				break
			}
		}
	}
	// lower runs a slow link until the divisor is 2.
	lower := func() {
		t.Helper()
		for i := 0; p.Every() < 2; i++ {
			if i > 200 {
				t.Fatalf("a slow link for 10 s did not lower the rate")
			}
			step(true)
		}
	}
	// calmFor runs a good link until the divisor is 1 and returns how long
	// after the last sign that took.
	calmFor := func() time.Duration {
		t.Helper()
		for i := 0; p.Every() > 1; i++ {
			if i > 400 {
				t.Fatalf("20 s of a good link did not raise the rate")
			}
			step(false)
		}
		return at.Sub(lastSign)
	}
	near := func(what string, got, want time.Duration) {
		t.Helper()
		if got < want || got > want+200*time.Millisecond {
			t.Fatalf("%s: raised %v after the last sign, want %v (+ a tick or two)", what, got, want)
		}
	}
	lower()
	near("first lowering", calmFor(), PaceCalm)
	lower() // at once: a relapse
	near("a relapse", calmFor(), 2*PaceCalm)
	lower()
	near("a second relapse", calmFor(), 4*PaceCalm)
	for range 100 { // 5 s of a good link
		step(false)
	}
	lower() // long after the raise: not a relapse
	near("a new slow spell", calmFor(), PaceCalm)
	if p.Lowerings() != 4 {
		t.Fatalf("%d lowerings, want 4", p.Lowerings())
	}
}
