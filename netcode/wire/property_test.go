package wire

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/tickstream/tickstream/game"
)

// world is a random world that changes from tick to tick: entities
// appear, move, change fields and disappear, with ids across the whole
// uint32 range and field values at their extremes.
type world struct {
	rng  *rand.Rand
	ents []game.Entity // sorted by id
}

func (w *world) randID() uint32 {
	switch w.rng.IntN(6) {
	case 0:
		return uint32(w.rng.IntN(64)) // small, dense
	case 1:
		return game.FirstObjectID + uint32(w.rng.IntN(1000))
	case 2:
		return math.MaxUint32 - uint32(w.rng.IntN(4))
	case 3:
		return game.FirstObjectID - 1 - uint32(w.rng.IntN(4))
	}
	return w.rng.Uint32()
}

func (w *world) randFloat() float32 {
	switch w.rng.IntN(12) {
	case 0:
		return float32(math.NaN())
	case 1:
		return float32(math.Inf(1 - 2*w.rng.IntN(2)))
	case 2:
		return float32((w.rng.Float64()*2 - 1) * 1e12) // clamped
	case 3:
		return float32(w.rng.NormFloat64() * 1e9)
	case 4:
		return 0
	}
	return float32(w.rng.Float64()*4000 - 2000)
}

func (w *world) randEntity(id uint32) game.Entity {
	e := game.Entity{ID: id, Kind: uint8(w.rng.IntN(3))}
	w.change(&e, 0xff)
	return e
}

// change randomizes the fields of e chosen by the bits of which.
func (w *world) change(e *game.Entity, which int) {
	r := w.rng
	if which&1 != 0 {
		e.Kind = uint8(r.IntN(256))
	}
	if which&2 != 0 {
		if r.IntN(3) == 0 {
			e.X += float32(r.NormFloat64() * 3) // a small move
		} else {
			e.X = w.randFloat()
		}
	}
	if which&4 != 0 {
		e.Y = w.randFloat()
	}
	if which&8 != 0 {
		switch r.IntN(4) {
		case 0:
			e.Angle = float32(r.Float64()*2*math.Pi - math.Pi)
		case 1:
			e.Angle = float32(r.NormFloat64() * 100)
		case 2:
			e.Angle = w.randFloat()
		default:
			e.Angle += 0.01
		}
	}
	if which&16 != 0 {
		e.HP = int16([]int{0, -1, 100, math.MinInt16, math.MaxInt16, r.IntN(65536) - 32768}[r.IntN(6)])
	}
	if which&32 != 0 {
		e.Score = int32([]int64{0, 1, -1, math.MinInt32, math.MaxInt32, int64(r.Int32()) - int64(r.Int32())}[r.IntN(6)])
	}
	if which&64 != 0 {
		e.Flags = uint8(r.IntN(256))
	}
}

// step moves the world on by one tick.
func (w *world) step() {
	r := w.rng
	switch r.IntN(40) {
	case 0:
		w.ents = w.ents[:0] // empty
	case 1: // churn: a whole new population
		w.ents = w.ents[:0]
		for i := r.IntN(30); i > 0; i-- {
			w.ents = append(w.ents, w.randEntity(w.randID()))
		}
	}
	out := w.ents[:0]
	for _, e := range w.ents {
		if r.IntN(20) == 0 {
			continue // gone
		}
		if r.IntN(3) == 0 {
			w.change(&e, 1<<r.IntN(7)|r.IntN(128)*r.IntN(2))
		}
		out = append(out, e)
	}
	w.ents = out
	for i := r.IntN(4); i > 0; i-- {
		w.ents = append(w.ents, w.randEntity(w.randID()))
	}
	slices.SortStableFunc(w.ents, func(a, b game.Entity) int { return cmpU32(a.ID, b.ID) })
	w.ents = slices.CompactFunc(w.ents, func(a, b game.Entity) bool { return a.ID == b.ID })
}

func cmpU32(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (w *world) events() []game.Event {
	evs := make([]game.Event, w.rng.IntN(3))
	for i := range evs {
		evs[i] = game.Event{Kind: uint8(w.rng.IntN(256)), A: w.rng.Uint32(), B: uint32(w.rng.IntN(100))}
	}
	return evs
}

type sentView struct {
	tick uint64
	rows []Row
}

// server is one connection's sending side as the protocol describes it: a
// ring of the last 64 views sent, the newest valid ack. An ack is valid if
// its tick was sent on this connection, is not older than the ack held and
// not older than the last keyframe sent: a client drops every view older
// than a keyframe it applies, so an ack that was on its way when the
// keyframe left names a view the client no longer has.
type server struct {
	ring  [64]sentView
	n     int // sends on this connection
	acked uint64
	floor uint64 // the tick of the last keyframe sent
	sent  map[uint64]bool
	stats *serverStats
}

type serverStats struct{ keyframes, deltas, staleAcks, unsentAcks int }

func newServer(st *serverStats) *server { return &server{sent: map[uint64]bool{}, stats: st} }

func (s *server) ack(tick uint64) {
	switch {
	case !s.sent[tick]:
		s.stats.unsentAcks++
	case tick < s.acked || tick < s.floor:
		// Older than the ack held, or than the last keyframe sent: the
		// client dropped every view before that keyframe.
		s.stats.staleAcks++
	default:
		s.acked = tick
	}
}

// base returns the baseline of the next snap: the newest valid ack if its
// view is still in the ring.
func (s *server) base() (uint64, []Row) {
	if s.acked == 0 {
		return 0, nil
	}
	for i := range s.ring {
		if v := &s.ring[i]; v.tick == s.acked && v.rows != nil {
			return v.tick, v.rows
		}
	}
	return 0, nil
}

func (s *server) record(tick uint64, rows []Row) {
	s.ring[s.n%len(s.ring)] = sentView{tick, slices.Clone(rows)}
	s.n++
	s.sent[tick] = true
}

// TestSnapProperty drives a server and a client through random worlds, a
// random interest filter, skipped ticks, random acknowledgements (lost,
// late, stale, of ticks never sent) and reconnections: the client's view
// must equal the server's quantized view at every tick it receives, and
// every frame must be minimal (entering ids whole, unchanged rows absent,
// leaving ids gone).
func TestSnapProperty(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { snapProperty(t, seed, seed%2 == 0) })
	}
}

func snapProperty(t *testing.T, seed uint64, subset bool) {
	rng := rand.New(rand.NewPCG(seed, 99))
	q := []Quant{{Pos: 0.5, AngleSteps: 1024}, NewQuant(game.Precision{}), {Pos: 3, AngleSteps: 7}}[seed%3]
	w := &world{rng: rng}
	stats := &serverStats{}
	srv := newServer(stats)
	var views Views
	var f SnapFrame
	var head SnapFrame
	var buf []byte
	var evSince [][]game.Event
	type inflight struct {
		tick uint64
		due  int
	}
	var acks []inflight // FIFO: the client's acks on their way to the server
	tick := uint64(rng.IntN(1000)) + 1
	if seed%5 == 0 {
		tick = 1<<40 + 7 // beyond 32 bits
	}
	ackMode := 0
	for step := 0; step < 1500; step++ {
		tick++
		w.step()
		evSince = append(evSince, w.events())
		if step%100 == 0 {
			ackMode = rng.IntN(5)
		}
		// Acks that arrived by now.
		for len(acks) > 0 && acks[0].due <= step {
			srv.ack(acks[0].tick)
			acks = acks[1:]
		}
		if rng.IntN(4) == 0 && ackMode != 4 {
			continue // a tick not sent (every > 1, a slow link)
		}
		if rng.IntN(300) == 0 { // a new connection: both sides start over
			srv = newServer(stats)
			views.Reset()
			acks = acks[:0]
		}
		// The server's view for this client.
		var cur []Row
		for i := range w.ents {
			if subset && rng.IntN(10) < 3 {
				continue // out of interest this tick
			}
			cur = append(cur, q.Row(&w.ents[i]))
		}
		baseTick, base := srv.base()
		h := SnapHead{Tick: tick, Base: baseTick, Time: int64(tick)*33 + 1<<41, State: game.State(rng.IntN(4)), Left: int64(rng.IntN(1<<20)) - 1000}
		ack := rng.Uint32()
		buf = AppendSnapBody(AppendSnapPrefix(buf[:0], ack), h, base, cur, evSince)
		srv.record(tick, cur)
		if baseTick == 0 {
			srv.floor = tick
			srv.stats.keyframes++
		} else {
			srv.stats.deltas++
		}

		// The client.
		if err := Check(buf, 8); err != nil {
			t.Fatalf("tick %d: frame does not check: %v", tick, err)
		}
		if err := DecodeSnap(buf, &f); err != nil {
			t.Fatalf("tick %d: DecodeSnap: %v", tick, err)
		}
		if err := DecodeSnapHead(buf, &head); err != nil {
			t.Fatalf("tick %d: DecodeSnapHead: %v", tick, err)
		}
		if f.Ack != ack || f.Tick != tick || f.Base != baseTick || f.Time != h.Time || f.State != uint8(h.State) || f.Left != h.Left {
			t.Fatalf("tick %d: head %+v, want ack %d %+v", tick, f, ack, h)
		}
		if head.Ack != f.Ack || head.Tick != f.Tick || head.Base != f.Base || head.Time != f.Time || head.State != f.State || head.Left != f.Left ||
			len(head.Rows)+len(head.Gone)+len(head.Ev) != 0 {
			t.Fatalf("tick %d: DecodeSnapHead %+v, DecodeSnap %+v", tick, head, f)
		}
		checkMinimal(t, tick, base, cur, &f)
		var wantEv []EventRow
		for _, e := range evSince {
			for _, ev := range e {
				wantEv = append(wantEv, EventRow{Kind: ev.Kind, A: ev.A, B: ev.B})
			}
		}
		if !slices.Equal(f.Ev, wantEv) {
			t.Fatalf("tick %d: events %v, want %v", tick, f.Ev, wantEv)
		}
		evSince = evSince[:0]
		got, err := views.Apply(&f)
		if err != nil {
			t.Fatalf("tick %d (base %d): Apply: %v; mode %d views %v acked %d", tick, f.Base, err, ackMode, views.ticks, srv.acked)
		}
		if !slices.Equal(got, cur) {
			t.Fatalf("tick %d (base %d): client view\n%v\nserver view\n%v", tick, f.Base, got, cur)
		}
		if views.Newest() != tick {
			t.Fatalf("Newest = %d, want %d", views.Newest(), tick)
		}
		if views.Len() > MaxViews {
			t.Fatalf("%d views kept", views.Len())
		}

		// The client's acknowledgement, per the pattern of the moment.
		due := step
		if len(acks) > 0 {
			due = acks[len(acks)-1].due
		}
		switch ackMode {
		case 0: // every snap, at once
			acks = append(acks, inflight{views.Newest(), step})
		case 1: // lossy and late
			if rng.IntN(3) > 0 {
				acks = append(acks, inflight{views.Newest(), max(due, step+rng.IntN(8))})
			}
		case 2: // silent for long stretches (the ring runs out: keyframes)
			if rng.IntN(90) == 0 {
				acks = append(acks, inflight{views.Newest(), step + 1})
			}
		case 3: // hostile: stale acks and acks of ticks never sent
			switch rng.IntN(4) {
			case 0:
				acks = append(acks, inflight{tick + 1 + uint64(rng.IntN(3)), step})
			case 1:
				acks = append(acks, inflight{tick - uint64(rng.IntN(50)), step})
			case 2:
				acks = append(acks, inflight{rng.Uint64N(1 << 53), step})
			default:
				acks = append(acks, inflight{views.Newest(), step})
			}
		case 4: // every tick sent, acks in a burst now and then
			if rng.IntN(10) == 0 {
				acks = append(acks, inflight{views.Newest(), step + 2})
			}
		}
	}
	if stats.deltas < 100 || stats.keyframes < 2 || stats.staleAcks+stats.unsentAcks == 0 {
		t.Fatalf("degenerate run: %+v", *stats)
	}
}

// checkMinimal: rows of ids new to the baseline are whole, rows of ids in
// it carry exactly the changed fields, unchanged ids are absent and gone
// lists exactly the ids that left.
func checkMinimal(t *testing.T, tick uint64, base, cur []Row, f *SnapFrame) {
	t.Helper()
	inBase := map[uint32]*Row{}
	for i := range base {
		inBase[base[i].ID] = &base[i]
	}
	inCur := map[uint32]bool{}
	sent := map[uint32]bool{}
	for _, r := range cur {
		inCur[r.ID] = true
	}
	for _, d := range f.Rows {
		sent[d.ID] = true
		b, ok := inBase[d.ID]
		if !ok {
			if d.Mask != MaskWhole {
				t.Fatalf("tick %d: id %d entered with mask %#x", tick, d.ID, d.Mask)
			}
			continue
		}
		if d.Mask == MaskWhole {
			t.Fatalf("tick %d: id %d in the baseline sent whole", tick, d.ID)
		}
		i, _ := slices.BinarySearchFunc(cur, d.ID, func(r Row, id uint32) int { return cmpU32(r.ID, id) })
		if d.Mask != changeMask(b, &cur[i]) {
			t.Fatalf("tick %d: id %d mask %#x, changed %#x", tick, d.ID, d.Mask, changeMask(b, &cur[i]))
		}
	}
	for i := range cur {
		if b, ok := inBase[cur[i].ID]; ok && *b == cur[i] && sent[cur[i].ID] {
			t.Fatalf("tick %d: unchanged id %d sent", tick, cur[i].ID)
		}
		if !sent[cur[i].ID] && (inBase[cur[i].ID] == nil || *inBase[cur[i].ID] != cur[i]) {
			t.Fatalf("tick %d: id %d changed or new but not sent", tick, cur[i].ID)
		}
	}
	var wantGone []uint32
	for _, r := range base {
		if !inCur[r.ID] {
			wantGone = append(wantGone, r.ID)
		}
	}
	if !slices.Equal(f.Gone, wantGone) && len(f.Gone)+len(wantGone) > 0 {
		t.Fatalf("tick %d: gone %v, want %v", tick, f.Gone, wantGone)
	}
}

// specEvent is a spectator keyframe or delta as another language decodes
// it (encoding/json, or msgpack into generic types).
type specEvent struct {
	T     string          `json:"t" msgpack:"t"`
	Tick  uint64          `json:"tick" msgpack:"tick"`
	Base  *uint64         `json:"base" msgpack:"base"`
	Time  int64           `json:"time" msgpack:"time"`
	State string          `json:"state" msgpack:"state"`
	Left  int64           `json:"left" msgpack:"left"`
	Quant *WireQuant      `json:"quant" msgpack:"quant"`
	Ents  [][]int64       `json:"ents" msgpack:"ents"`
	Gone  []uint64        `json:"gone" msgpack:"gone"`
	Ev    [][3]uint64     `json:"ev" msgpack:"ev"`
	Ros   json.RawMessage `json:"roster" msgpack:"-"`
	RosMP []any           `json:"-" msgpack:"roster"`
}

// specRows converts the decoded ents and gone of a spectator event into
// the decoder's rows (running sums of id deltas), refusing bad shapes.
func specRows(ents [][]int64, gone []uint64) ([]RowDelta, []uint32, error) {
	var rows []RowDelta
	var id int64
	for i, e := range ents {
		if len(e) < 2 || e[0] < 0 || (i > 0 && e[0] == 0) || e[1] <= 0 || e[1] > MaskWhole {
			return nil, nil, fmt.Errorf("bad row %v", e)
		}
		id += e[0]
		if id > math.MaxUint32 {
			return nil, nil, fmt.Errorf("id beyond uint32")
		}
		d := RowDelta{ID: uint32(id), Mask: uint8(e[1])}
		vals := e[2:]
		if d.Mask == MaskWhole {
			if len(vals) != NumFields {
				return nil, nil, fmt.Errorf("whole row %v", e)
			}
			copy(d.V[:], vals)
		} else {
			if len(vals) != popcount7(d.Mask) {
				return nil, nil, fmt.Errorf("delta row %v", e)
			}
			for k := 0; k < NumFields; k++ {
				if d.Mask&(1<<k) != 0 {
					d.V[k], vals = vals[0], vals[1:]
				}
			}
		}
		rows = append(rows, d)
	}
	var gs []uint32
	var g uint64
	for i, d := range gone {
		if i > 0 && d == 0 {
			return nil, nil, fmt.Errorf("gone not increasing")
		}
		g += d
		if g > math.MaxUint32 {
			return nil, nil, fmt.Errorf("gone beyond uint32")
		}
		gs = append(gs, uint32(g))
	}
	return rows, gs, nil
}

// TestSpecProperty: a spectator receives a keyframe then deltas against
// the event sent before (with keyframes now and then), in JSON and in
// msgpack; decoded with generic decoders and applied, every event gives
// the server's view.
func TestSpecProperty(t *testing.T) {
	for seed := uint64(1); seed <= 12; seed++ {
		for _, f := range []Format{FormatJSON, FormatMsgpack} {
			t.Run(fmt.Sprint(seed, f), func(t *testing.T) { specProperty(t, seed, f) })
		}
	}
}

func specProperty(t *testing.T, seed uint64, format Format) {
	rng := rand.New(rand.NewPCG(seed, 7))
	q := Quant{Pos: 0.5, AngleSteps: 1024}
	w := &world{rng: rng}
	var prev []Row
	var prevTick uint64
	var view []Row
	roster := []game.PlayerInfo{{ID: 1, Name: "a\"b"}, {ID: 1<<24 - 1, Name: "Zoë"}}
	var buf []byte
	var evs [][]game.Event
	for tick := uint64(1 << 33); tick < 1<<33+600; tick++ {
		w.step()
		evs = append(evs, w.events())
		if rng.IntN(3) == 0 {
			continue // a spectator rate below the tick rate
		}
		cur := q.AppendRows(nil, w.ents)
		h := SnapHead{Tick: tick, Base: prevTick, Time: 1_700_000_000_000 + int64(tick), State: game.StateRunning, Left: 5}
		key := prevTick == 0 || rng.IntN(25) == 0
		var ros []game.PlayerInfo
		if key || rng.IntN(5) == 0 {
			ros = roster
		}
		if key {
			buf = AppendSpecKeyframe(buf[:0], format, h, q, cur, evs, ros)
		} else {
			buf = AppendSpecDelta(buf[:0], format, h, prev, cur, evs, ros)
		}
		var ev specEvent
		var err error
		if format == FormatJSON {
			if !json.Valid(buf) {
				t.Fatalf("invalid JSON %s", buf)
			}
			err = json.Unmarshal(buf, &ev)
		} else {
			if err := Check(buf, 8); err != nil {
				t.Fatal(err)
			}
			err = msgpack.Unmarshal(buf, &ev)
			want := SpecDelta
			if key {
				want = SpecKeyframe
			}
			if typ, _ := PeekType(buf); typ != want || ev.T != want {
				t.Fatalf("t = %q / %q, want %q", typ, ev.T, want)
			}
		}
		if err != nil {
			t.Fatalf("%s: %v", buf, err)
		}
		if ev.Tick != tick || ev.Time != h.Time || ev.State != "running" || ev.Left != 5 {
			t.Fatalf("head %+v", ev)
		}
		hasRoster := ev.Ros != nil || ev.RosMP != nil
		if hasRoster != (ros != nil) {
			t.Fatalf("roster present %v, sent %v", hasRoster, ros != nil)
		}
		var base []Row
		if key {
			if ev.Quant == nil || *ev.Quant != (WireQuant{Pos: 0.5, Angle: 1024}) || ev.Base != nil || ev.Gone != nil {
				t.Fatalf("keyframe %s", buf)
			}
		} else {
			if ev.Base == nil || *ev.Base != prevTick || ev.Quant != nil {
				t.Fatalf("delta %s", buf)
			}
			base = view
		}
		rows, gone, err := specRows(ev.Ents, ev.Gone)
		if err != nil {
			t.Fatalf("%v in %s", err, buf)
		}
		if key {
			for _, r := range rows {
				if r.Mask != MaskWhole {
					t.Fatalf("keyframe row %+v", r)
				}
			}
		}
		view, err = ApplyRows(nil, base, rows, gone)
		if err != nil {
			t.Fatalf("ApplyRows: %v", err)
		}
		if !slices.Equal(view, cur) {
			t.Fatalf("tick %d: spectator view %v, want %v", tick, view, cur)
		}
		n := 0
		for _, e := range evs {
			n += len(e)
		}
		if len(ev.Ev) != n {
			t.Fatalf("%d events, want %d", len(ev.Ev), n)
		}
		evs = evs[:0]
		prev, prevTick = cur, tick
	}
}
