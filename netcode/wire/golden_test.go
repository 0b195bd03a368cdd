package wire

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"math"
	"os"
	"slices"
	"testing"

	"github.com/tickstream/tickstream/game"
)

var update = flag.Bool("update", false, "rewrite testdata/golden_v2.json")

const goldenPath = "testdata/golden_v2.json"

// The golden file is shared with the TypeScript client's tests: frames
// (hex) with the view they give, spectator JSON events, and frames every
// decoder must refuse. Rows are [id, kind, x, y, angle, hp, score, flags]
// in wire units.
type goldenFile struct {
	Quant     WireQuant    `json:"quant"`
	Cases     []goldenCase `json:"cases"`
	Spectator []goldenSpec `json:"spectator"`
	Bad       []goldenBad  `json:"bad"`
}

type goldenRow [1 + NumFields]int64

type goldenCase struct {
	Name string      `json:"name"`
	Base []goldenRow `json:"base"` // null: keyframe
	Hex  string      `json:"hex"`
	Want goldenWant  `json:"want"`
}

type goldenWant struct {
	Ack   uint32      `json:"ack"`
	Tick  uint64      `json:"tick"`
	Base  uint64      `json:"base"`
	Time  int64       `json:"time"`
	State uint8       `json:"state"`
	Left  int64       `json:"left"`
	Ents  []goldenRow `json:"ents"`
	Ev    [][3]uint32 `json:"ev"`
}

type goldenSpec struct {
	Name     string      `json:"name"`
	Base     []goldenRow `json:"base"`
	JSON     string      `json:"json"`
	WantEnts []goldenRow `json:"want_ents"`
}

type goldenBad struct {
	Name string      `json:"name"`
	Base []goldenRow `json:"base"`
	Hex  string      `json:"hex"`
}

func toGolden(rows []Row) []goldenRow {
	out := make([]goldenRow, len(rows))
	for i, r := range rows {
		out[i][0] = int64(r.ID)
		for k, v := range r.F {
			out[i][1+k] = int64(v)
		}
	}
	return out
}

func fromGolden(rows []goldenRow) []Row {
	if rows == nil {
		return nil
	}
	out := make([]Row, len(rows))
	for i, g := range rows {
		out[i].ID = uint32(g[0])
		for k := range out[i].F {
			out[i].F[k] = int32(g[1+k])
		}
	}
	return out
}

func row(id uint32, f ...int32) Row {
	r := Row{ID: id}
	copy(r.F[:], f)
	return r
}

// raw builds a snap frame by hand: rows and gone as written (id deltas,
// masks and values as given), every integer in its shortest form unless
// wide is set (then every integer of the body takes its widest form).
type raw struct {
	ack                  uint64
	tick, base           uint64
	time                 int64
	state                uint64
	left                 int64
	ents                 [][]int64
	gone                 []int64
	ev                   [][]int64
	wide                 bool
	dLen                 int // 0: 9
	truncate, trailing   int
	mapHeader16, dFirst  bool
	extraKey             bool
	stateWide, ackSigned bool
}

func (r raw) bytes() []byte {
	in := func(b []byte, v int64) []byte {
		if r.wide {
			if v < 0 {
				return append(append(b, 0xd3), byte(v>>56), byte(v>>48), byte(v>>40), byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
			}
			u := uint64(v)
			return append(append(b, 0xcf), byte(u>>56), byte(u>>48), byte(u>>40), byte(u>>32), byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
		}
		return appendInt(b, v)
	}
	var b []byte
	keys := byte(2)
	if r.extraKey {
		keys++
	}
	if r.mapHeader16 {
		b = append(b, 0xde, 0, keys)
	} else {
		b = append(b, 0x80|keys)
	}
	tKey := func(b []byte) []byte { return append(b, 0xa1, 't', 0xa4, 's', 'n', 'a', 'p') }
	if !r.dFirst {
		b = tKey(b)
	}
	if r.extraKey {
		b = appendStr(b, "x")
		b = append(b, 0x92, 0xc0, 0xa1, 'y')
	}
	b = append(b, 0xa1, 'd')
	n := r.dLen
	if n == 0 {
		n = 9
	}
	b = appendArrayLen(b, n)
	if r.ackSigned {
		b = append(b, 0xd2, byte(r.ack>>24), byte(r.ack>>16), byte(r.ack>>8), byte(r.ack))
	} else {
		b = in(b, int64(r.ack))
	}
	b = in(b, int64(r.tick))
	b = in(b, int64(r.base))
	b = in(b, r.time)
	b = in(b, int64(r.state))
	b = in(b, r.left)
	if n >= 7 {
		b = appendArrayLen(b, len(r.ents))
		for _, e := range r.ents {
			b = appendArrayLen(b, len(e))
			for _, v := range e {
				b = in(b, v)
			}
		}
	}
	if n >= 8 {
		b = appendArrayLen(b, len(r.gone))
		for _, g := range r.gone {
			b = in(b, g)
		}
	}
	if n >= 9 {
		b = appendArrayLen(b, len(r.ev))
		for _, e := range r.ev {
			b = appendArrayLen(b, len(e))
			for _, v := range e {
				b = in(b, v)
			}
		}
	}
	for i := 9; i < n; i++ {
		b = append(b, 0xc0)
	}
	if r.dFirst {
		b = tKey(b)
	}
	b = b[:len(b)-r.truncate]
	for i := 0; i < r.trailing; i++ {
		b = append(b, 0xc0)
	}
	return b
}

func whole(idDelta int64, f ...int64) []int64 { return append([]int64{idDelta, MaskWhole}, f...) }

func buildGolden() goldenFile {
	q := Quant{Pos: 0.5, AngleSteps: 1024}
	g := goldenFile{Quant: WireQuant{Pos: q.Pos, Angle: q.AngleSteps}}
	evs := [][]game.Event{{{Kind: 1, A: 3, B: 1<<24 + 5}}, {{Kind: 3, A: 3, B: 7}, {Kind: 4, A: 7, B: 0}}}

	k0 := []Row{
		row(3, 1, 3200, -1800, -512, 100, 2, 0),
		row(7, 1, -5, 0, 511, 0, 0, 1),
		row(1<<24+5, 2, 1599, 1799, 256, 0, 3, 0),
	}
	k1 := []Row{ // moved and turned
		row(3, 1, 3202, -1790, -500, 100, 2, 0),
		row(7, 1, -5, 0, 511, 0, 0, 1),
		row(1<<24+5, 2, 1639, 1800, 256, 0, 3, 0),
	}
	k2 := []Row{ // hit, fell back, scored down, a flag
		row(3, 1, 3150, -1800, -512, 75, -1, 4),
		row(7, 1, -70000, -2, 511, -20, 0, 1),
		row(1<<24+5, 2, 1639, 1800, 256, 0, 3, 0),
	}
	k3 := append(slices.Clone(k2[:2]), row(9, 1, 10, 10, 0, 100, 0, 4), k2[2], row(1<<24+6, 2, 3150, -1800, -512, 0, 3, 0))
	k4 := []Row{k3[1], k3[2], k3[4]} // 3 and 1<<24+5 gone
	big0 := []Row{row(1<<24, 2, 1, 1, 1, 1, 1, 1), row(1<<31, 2, 0, 0, 0, 0, 0, 0), row(math.MaxUint32, 2, -1, -1, -1, -1, -1, -1)}
	big1 := []Row{row(1<<24, 2, 2, 1, 1, 1, 1, 1), row(1<<31+1, 2, 0, 0, 0, 0, 0, 0), row(math.MaxUint32, 2, -1, -1, -1, -1, -1, 0)}
	ext0 := []Row{row(1, 255, math.MinInt32, math.MaxInt32, -512, math.MinInt16, math.MinInt32, 255)}
	ext1 := []Row{row(1, 0, math.MaxInt32, math.MinInt32, 511, math.MaxInt16, math.MaxInt32, 0)}

	type gc struct {
		name      string
		ack       uint32
		h         SnapHead
		base, cur []Row
		evs       [][]game.Event
	}
	const t0 = 1000
	const ms = 1_732_600_000_123
	cases := []gc{
		{"keyframe", 7, SnapHead{Tick: t0, Time: ms, State: game.StateRunning, Left: 299_967}, nil, k0, evs},
		{"delta: changed fields", 8, SnapHead{Tick: t0 + 1, Base: t0, Time: ms + 33, State: game.StateRunning, Left: 299_934}, k0, k1, nil},
		{"delta: negative differences", 8, SnapHead{Tick: t0 + 2, Base: t0 + 1, Time: ms + 66, State: game.StateRunning, Left: 299_900}, k1, k2, evs[1:]},
		{"delta: new entities", 9, SnapHead{Tick: t0 + 4, Base: t0 + 2, Time: ms + 133, State: game.StateRunning, Left: 299_834}, k2, k3, nil},
		{"delta: gone", 9, SnapHead{Tick: t0 + 5, Base: t0 + 4, Time: ms + 166, State: game.StateEnded}, k3, k4, nil},
		{"delta: nothing changed", 9, SnapHead{Tick: t0 + 6, Base: t0 + 5, Time: ms + 200, State: game.StateEnded}, k4, k4, nil},
		{"delta: everything gone", 9, SnapHead{Tick: t0 + 7, Base: t0 + 6, Time: ms + 233, State: game.StateClosed}, k4, nil, nil},
		{"keyframe: big ids", 1 << 31, SnapHead{Tick: 5, Time: 1, State: game.StateWaiting}, nil, big0, nil},
		{"delta: big ids", math.MaxUint32, SnapHead{Tick: 6, Base: 5, Time: 2, State: game.StateWaiting}, big0, big1, nil},
		{"big tick and time", 0, SnapHead{Tick: 1<<40 + 5, Base: 1<<40 + 3, Time: 1 << 42, State: game.StateRunning, Left: -1}, k0, k1, nil},
		{"keyframe: empty", 0, SnapHead{Tick: 1}, nil, nil, nil},
		{"keyframe: extreme values", 1, SnapHead{Tick: 2, Time: -1 << 40, Left: math.MinInt32}, nil, ext0, nil},
		{"delta: extreme differences", 1, SnapHead{Tick: 3, Base: 2, Time: -1<<40 + 1}, ext0, ext1, nil},
		{"delta: extreme differences back", 1, SnapHead{Tick: 4, Base: 3}, ext1, ext0, nil},
	}
	for _, c := range cases {
		frame := AppendSnapBody(AppendSnapPrefix(nil, c.ack), c.h, c.base, c.cur, c.evs)
		w := goldenWant{Ack: c.ack, Tick: c.h.Tick, Base: c.h.Base, Time: c.h.Time, State: uint8(c.h.State), Left: c.h.Left,
			Ents: toGolden(c.cur), Ev: [][3]uint32{}}
		for _, e := range c.evs {
			for _, ev := range e {
				w.Ev = append(w.Ev, [3]uint32{uint32(ev.Kind), ev.A, ev.B})
			}
		}
		var base []goldenRow
		if c.h.Base != 0 {
			base = toGolden(c.base)
		}
		g.Cases = append(g.Cases, goldenCase{Name: c.name, Base: base, Hex: hex.EncodeToString(frame), Want: w})
	}
	// Hand-made frames an encoder of ours does not write but decoders accept.
	hand := []struct {
		name      string
		base, cur []Row
		r         raw
	}{
		{"whole row for an id in the baseline replaces it", k0, []Row{k0[0], row(7, 2, 1, 2, 3, 4, 5, 6), k0[2]},
			raw{ack: 1, tick: 20, base: 10, ents: [][]int64{whole(7, 2, 1, 2, 3, 4, 5, 6)}}},
		{"integers in their widest forms", k0, []Row{row(3, 1, 3190, -1800, -512, 100, 2, 0), k0[2]},
			raw{ack: 5, tick: 20, base: 10, time: 7, state: 1, left: -3, wide: true,
				ents: [][]int64{{3, 2, -10}}, gone: []int64{7}, ev: [][]int64{{1, 2, 3}}}},
		{"map16 header, d before t, an unknown key, id 0", nil, []Row{row(0, 1, 2, 3, 4, 5, 6, 7)},
			raw{ack: 5, tick: 20, mapHeader16: true, dFirst: true, extraKey: true, ents: [][]int64{whole(0, 1, 2, 3, 4, 5, 6, 7)}}},
		{"ack as a signed int32", nil, nil, raw{ack: 5, tick: 20, ackSigned: true}},
	}
	for _, h := range hand {
		rr := h.r
		frame := rr.bytes()
		var f SnapFrame
		if err := DecodeSnap(frame, &f); err != nil {
			panic(h.name + ": " + err.Error())
		}
		w := goldenWant{Ack: f.Ack, Tick: f.Tick, Base: f.Base, Time: f.Time, State: f.State, Left: f.Left, Ents: toGolden(h.cur), Ev: [][3]uint32{}}
		for _, e := range f.Ev {
			w.Ev = append(w.Ev, [3]uint32{uint32(e.Kind), e.A, e.B})
		}
		var base []goldenRow
		if rr.base != 0 {
			base = toGolden(h.base)
		}
		g.Cases = append(g.Cases, goldenCase{Name: h.name, Base: base, Hex: hex.EncodeToString(frame), Want: w})
	}

	// Spectator events (JSON).
	ros := []game.PlayerInfo{{ID: 3, Name: "bob"}, {ID: 7, Name: "Zoë \"z\""}}
	spec := []struct {
		name      string
		key       bool
		h         SnapHead
		base, cur []Row
		ros       []game.PlayerInfo
	}{
		{"keyframe", true, SnapHead{Tick: t0, Time: ms, State: game.StateRunning, Left: 299_967}, nil, k0, ros},
		{"delta: changed fields", false, SnapHead{Tick: t0 + 1, Base: t0, Time: ms + 33, State: game.StateRunning, Left: 299_934}, k0, k1, nil},
		{"delta: negative differences, roster", false, SnapHead{Tick: t0 + 2, Base: t0 + 1, Time: ms + 66, State: game.StateRunning}, k1, k2, ros[:1]},
		{"delta: new entities", false, SnapHead{Tick: t0 + 4, Base: t0 + 2, Time: ms + 133, State: game.StateRunning}, k2, k3, nil},
		{"delta: gone", false, SnapHead{Tick: t0 + 5, Base: t0 + 4, Time: ms + 166, State: game.StateEnded}, k3, k4, nil},
		{"delta: big ids", false, SnapHead{Tick: 6, Base: 5, Time: 2}, big0, big1, nil},
		{"delta: extreme differences", false, SnapHead{Tick: 3, Base: 2}, ext0, ext1, nil},
		{"keyframe: empty", true, SnapHead{Tick: 1, Time: 5}, nil, nil, []game.PlayerInfo{}},
	}
	for _, s := range spec {
		var b []byte
		var base []goldenRow
		if s.key {
			b = AppendSpecKeyframe(nil, FormatJSON, s.h, q, s.cur, evs[:1], s.ros)
		} else {
			b = AppendSpecDelta(nil, FormatJSON, s.h, s.base, s.cur, nil, s.ros)
			base = toGolden(s.base)
		}
		g.Spectator = append(g.Spectator, goldenSpec{Name: s.name, Base: base, JSON: string(b), WantEnts: toGolden(s.cur)})
	}

	// Frames every decoder must refuse (with the baseline given, if any).
	good := AppendSnapBody(AppendSnapPrefix(nil, 1), SnapHead{Tick: t0 + 1, Base: t0}, k0, k1, nil)
	maxID := int64(math.MaxUint32)
	bad := []struct {
		name string
		base []Row
		b    []byte
	}{
		{"mask 0", k0, raw{tick: 20, base: 10, ents: [][]int64{{3, 0}}}.bytes()},
		{"mask 129: whole with another bit", k0, raw{tick: 20, base: 10, ents: [][]int64{{3, 129, 1, 2, 3, 4, 5, 6, 7, 8}}}.bytes()},
		{"mask 200", k0, raw{tick: 20, base: 10, ents: [][]int64{{3, 200, 1, 2, 3}}}.bytes()},
		{"delta row for an id not in the baseline", k0, raw{tick: 20, base: 10, ents: [][]int64{{4, 2, 1}}}.bytes()},
		{"delta row in a keyframe", nil, raw{tick: 20, ents: [][]int64{{3, 2, 1}}}.bytes()},
		{"ids not strictly increasing", k0, raw{tick: 20, base: 10, ents: [][]int64{{3, 2, 1}, {0, 2, 1}}}.bytes()},
		{"ids decreasing (negative id delta)", k0, raw{tick: 20, base: 10, ents: [][]int64{{7, 2, 1}, {-4, 2, 1}}}.bytes()},
		{"gone id not in the baseline", k0, raw{tick: 20, base: 10, gone: []int64{4}}.bytes()},
		{"gone id that also has a row", k0, raw{tick: 20, base: 10, ents: [][]int64{{3, 2, 1}}, gone: []int64{3}}.bytes()},
		{"gone ids not strictly increasing", k0, raw{tick: 20, base: 10, gone: []int64{3, 0}}.bytes()},
		{"gone id in a keyframe", nil, raw{tick: 20, gone: []int64{3}}.bytes()},
		{"whole row of 6 values", nil, raw{tick: 20, ents: [][]int64{whole(1, 1, 2, 3, 4, 5, 6)}}.bytes()},
		{"whole row of 8 values", nil, raw{tick: 20, ents: [][]int64{whole(1, 1, 2, 3, 4, 5, 6, 7, 8)}}.bytes()},
		{"delta row missing a value", k0, raw{tick: 20, base: 10, ents: [][]int64{{3, 3, 1}}}.bytes()},
		{"delta row with a value too many", k0, raw{tick: 20, base: 10, ents: [][]int64{{3, 1, 1, 2}}}.bytes()},
		{"row of one element", k0, raw{tick: 20, base: 10, ents: [][]int64{{3}}}.bytes()},
		{"sum overflows int32", []Row{row(1, 0, math.MaxInt32)}, raw{tick: 20, base: 10, ents: [][]int64{{1, 2, 1}}}.bytes()},
		{"sum underflows int32", []Row{row(1, 0, math.MinInt32)}, raw{tick: 20, base: 10, ents: [][]int64{{1, 2, -1}}}.bytes()},
		{"whole value beyond int32", nil, raw{tick: 20, ents: [][]int64{whole(1, 1, math.MaxInt32+1, 3, 4, 5, 6, 7)}}.bytes()},
		{"id overflows uint32", nil, raw{tick: 20, ents: [][]int64{whole(maxID, 1, 2, 3, 4, 5, 6, 7), whole(1, 1, 2, 3, 4, 5, 6, 7)}}.bytes()},
		{"gone id overflows uint32", []Row{row(math.MaxUint32)}, raw{tick: 20, base: 10, gone: []int64{maxID, 1}}.bytes()},
		{"d of 8 elements", nil, raw{tick: 20, dLen: 8}.bytes()},
		{"d of 10 elements", nil, raw{tick: 20, dLen: 10}.bytes()},
		{"truncated by one byte", k0, good[:len(good)-1]},
		{"truncated inside a row", k0, good[:len(good)-8]},
		{"ack beyond uint32", nil, raw{ack: 1 << 32, tick: 20}.bytes()},
		{"t is not snap", nil, append([]byte{0x82, 0xa1, 't', 0xa4, 's', 'n', 'a', 'q'}, raw{tick: 20}.bytes()[8:]...)},
	}
	for _, c := range bad {
		var base []goldenRow
		if c.base != nil {
			base = toGolden(c.base)
		}
		g.Bad = append(g.Bad, goldenBad{Name: c.name, Base: base, Hex: hex.EncodeToString(c.b)})
	}
	return g
}

// marshalGolden writes one case per line.
func marshalGolden(g goldenFile) []byte {
	var b bytes.Buffer
	list := func(name string, n int, item func(i int) any, last bool) {
		b.WriteString("\"" + name + "\": [\n")
		for i := 0; i < n; i++ {
			j, err := json.Marshal(item(i))
			if err != nil {
				panic(err)
			}
			b.Write(j)
			if i < n-1 {
				b.WriteString(",")
			}
			b.WriteString("\n")
		}
		b.WriteString("]")
		if !last {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	q, _ := json.Marshal(g.Quant)
	b.WriteString("{\n\"quant\": " + string(q) + ",\n")
	list("cases", len(g.Cases), func(i int) any { return g.Cases[i] }, false)
	list("spectator", len(g.Spectator), func(i int) any { return g.Spectator[i] }, false)
	list("bad", len(g.Bad), func(i int) any { return g.Bad[i] }, true)
	b.WriteString("}\n")
	return b.Bytes()
}

// TestGolden checks testdata/golden_v2.json byte for byte against what the
// encoders write now (go test -run TestGolden -update rewrites it), then
// checks the file's content with the decoders alone: every case decodes
// and applies to its want, every spectator event to its want_ents, and
// every bad frame is refused.
func TestGolden(t *testing.T) {
	gen := marshalGolden(buildGolden())
	if *update {
		if err := os.WriteFile(goldenPath, gen, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	file, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("%v (go test ./netcode/wire -run TestGolden -update writes it)", err)
	}
	if !bytes.Equal(file, gen) {
		t.Fatalf("%s differs from what the encoders write now: run go test ./netcode/wire -run TestGolden -update if the change is intended", goldenPath)
	}
	var g goldenFile
	if err := json.Unmarshal(file, &g); err != nil {
		t.Fatal(err)
	}
	if g.Quant != (WireQuant{Pos: 0.5, Angle: 1024}) || len(g.Cases) < 8 || len(g.Bad) < 6 || len(g.Spectator) < 2 {
		t.Fatalf("golden file too small: %d cases, %d bad, %d spectator", len(g.Cases), len(g.Bad), len(g.Spectator))
	}
	for _, c := range g.Cases {
		frame, err := hex.DecodeString(c.Hex)
		if err != nil {
			t.Fatal(err)
		}
		var f SnapFrame
		if err := DecodeSnap(frame, &f); err != nil {
			t.Errorf("%s: DecodeSnap: %v", c.Name, err)
			continue
		}
		got, err := ApplyRows(nil, fromGolden(c.Base), f.Rows, f.Gone)
		if err != nil {
			t.Errorf("%s: ApplyRows: %v", c.Name, err)
			continue
		}
		w := goldenWant{Ack: f.Ack, Tick: f.Tick, Base: f.Base, Time: f.Time, State: f.State, Left: f.Left, Ents: toGolden(got), Ev: [][3]uint32{}}
		for _, e := range f.Ev {
			w.Ev = append(w.Ev, [3]uint32{uint32(e.Kind), e.A, e.B})
		}
		wj, _ := json.Marshal(w)
		cj, _ := json.Marshal(c.Want)
		if !bytes.Equal(wj, cj) {
			t.Errorf("%s: decoded %s\nwant %s", c.Name, wj, cj)
		}
		if (c.Base == nil) != (f.Base == 0) {
			t.Errorf("%s: base rows given %v, frame base %d", c.Name, c.Base != nil, f.Base)
		}
	}
	for _, s := range g.Spectator {
		var ev specEvent
		if err := json.Unmarshal([]byte(s.JSON), &ev); err != nil {
			t.Errorf("%s: %v", s.Name, err)
			continue
		}
		rows, gone, err := specRows(ev.Ents, ev.Gone)
		if err == nil {
			var got []Row
			got, err = ApplyRows(nil, fromGolden(s.Base), rows, gone)
			if err == nil && !slices.Equal(got, fromGolden(s.WantEnts)) && len(got)+len(s.WantEnts) > 0 {
				t.Errorf("%s: view %v, want %v", s.Name, got, s.WantEnts)
			}
		}
		if err != nil {
			t.Errorf("%s: %v", s.Name, err)
		}
	}
	for _, c := range g.Bad {
		frame, err := hex.DecodeString(c.Hex)
		if err != nil {
			t.Fatal(err)
		}
		var f SnapFrame
		err = DecodeSnap(frame, &f)
		if err == nil {
			_, err = ApplyRows(nil, fromGolden(c.Base), f.Rows, f.Gone)
		}
		if err == nil {
			t.Errorf("bad case %q accepted: %+v", c.Name, f)
		}
	}
}
