package wire

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tickstream/tickstream/game"
)

func TestWelcomeRoundTrip(t *testing.T) {
	res := game.JoinResult{
		Player: 7, Match: "k3v9q2xa", TickRate: 30, Tick: 123456789012,
		Layout:  game.Layout{W: 1600, H: 900, Obstacles: []game.Rect{{X: 100, Y: 200, W: 50, H: 60.5}, {X: 0.25, Y: 800, W: 1e3, H: 1}}},
		Roster:  []game.PlayerInfo{{ID: 7, Name: "bob"}, {ID: 1<<24 - 1, Name: "Zoë 🎮"}, {ID: 1, Name: strings.Repeat("x", 24)}},
		LastSeq: 41,
	}
	want := Welcome{
		T: TypeWelcome, Player: 7, Match: "k3v9q2xa", Rate: 30, Tick: 123456789012,
		Arena:  Arena{W: 1600, H: 900, Obstacles: [][4]float64{{100, 200, 50, 60.5}, {0.25, 800, 1e3, 1}}},
		Roster: []RosterEntry{{ID: 7, Name: "bob"}, {ID: 1<<24 - 1, Name: "Zoë 🎮"}, {ID: 1, Name: strings.Repeat("x", 24)}},
		Token:  "tok-en_1", Resumed: true, Ack: 41,
		Quant: WireQuant{Pos: 1.0 / 16, Angle: 4096}, Every: 1,
	}
	frame := EncodeWelcome(res, "tok-en_1", true)
	var got Welcome
	if err := NewMessageDecoder().Decode(frame, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("welcome round trip:\n got %+v\nwant %+v", got, want)
	}
	if typ, err := PeekType(frame); err != nil || typ != TypeWelcome {
		t.Fatalf("PeekType = %q, %v", typ, err)
	}

	// An arena without obstacles and an empty roster still decode.
	frame = EncodeWelcome(game.JoinResult{Player: 1, Match: "m", TickRate: 128, Layout: game.Layout{W: 10, H: 10}}, "", false)
	got = Welcome{}
	if err := NewMessageDecoder().Decode(frame, &got); err != nil {
		t.Fatal(err)
	}
	if got.T != TypeWelcome || got.Player != 1 || got.Rate != 128 || len(got.Arena.Obstacles) != 0 || len(got.Roster) != 0 {
		t.Fatalf("empty welcome = %+v", got)
	}
}

func TestRosterRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 15, 16, 64} {
		r := make([]game.PlayerInfo, n)
		want := Roster{T: TypeRoster, Players: make([]RosterEntry, n)}
		for i := range r {
			id := game.PlayerID(i*262143 + 1)
			name := fmt.Sprintf("p%d-日本", i)
			r[i] = game.PlayerInfo{ID: id, Name: name}
			want.Players[i] = RosterEntry{ID: uint32(id), Name: name}
		}
		frame := EncodeRoster(r)
		var got Roster
		if err := NewMessageDecoder().Decode(frame, &got); err != nil {
			t.Fatalf("%d players: %v", n, err)
		}
		if got.T != want.T || len(got.Players) != n || (n > 0 && !reflect.DeepEqual(got, want)) {
			t.Fatalf("%d players:\n got %+v\nwant %+v", n, got, want)
		}
		if typ, err := PeekType(frame); err != nil || typ != TypeRoster {
			t.Fatalf("PeekType = %q, %v", typ, err)
		}
	}
}

func TestEndRoundTrip(t *testing.T) {
	res := &game.Result{Reason: "score", Winner: 7, Scores: []game.Score{
		{Player: 7, Name: "bob", Kills: 20, Deaths: 3},
		{Player: 1<<24 - 1, Name: "Zoë", Kills: 0, Deaths: 70000},
		{Player: 2, Name: "x", Kills: -1, Deaths: 0},
	}}
	want := End{T: TypeEnd, Reason: "score", Winner: 7, Scores: []ScoreRow{
		{ID: 7, Name: "bob", Kills: 20, Deaths: 3},
		{ID: 1<<24 - 1, Name: "Zoë", Kills: 0, Deaths: 70000},
		{ID: 2, Name: "x", Kills: -1, Deaths: 0},
	}}
	frame := EncodeEnd(res)
	var got End
	if err := NewMessageDecoder().Decode(frame, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("end round trip:\n got %+v\nwant %+v", got, want)
	}
	if typ, err := PeekType(frame); err != nil || typ != TypeEnd {
		t.Fatalf("PeekType = %q, %v", typ, err)
	}

	frame = EncodeEnd(&game.Result{Reason: "closed"})
	got = End{}
	if err := NewMessageDecoder().Decode(frame, &got); err != nil {
		t.Fatal(err)
	}
	if got.T != TypeEnd || got.Reason != "closed" || got.Winner != 0 || len(got.Scores) != 0 {
		t.Fatalf("empty end = %+v", got)
	}
}

// testSnapshot is a snapshot with players and projectiles at the edges of
// their field types, and events.
func testSnapshot(players, projectiles, events int) *game.Snapshot {
	hps := []int16{100, 0, -1, -25, math.MinInt16, math.MaxInt16, 75}
	scores := []int32{0, 5, -3, math.MaxInt32, math.MinInt32, 200, -200, 70000}
	s := &game.Snapshot{
		Match: "k3v9q2xa", Tick: 1<<40 + 3,
		Time:  time.UnixMilli(1_732_600_000_123).Add(456_789 * time.Nanosecond),
		State: game.StateRunning, Left: 95*time.Second + 250*time.Millisecond + 999*time.Microsecond,
	}
	for i := 0; i < players; i++ {
		id := uint32(i + 1)
		if i == players-1 {
			id = game.FirstObjectID - 1
		}
		s.Entities = append(s.Entities, game.Entity{
			ID: id, Kind: game.KindPlayer,
			X: float32(i)*26.5 - 3.25, Y: -float32(i) * 0.125, Angle: float32(math.Pi) * float32(i%7-3) / 3,
			HP: hps[i%len(hps)], Score: scores[i%len(scores)], Flags: uint8(i % 8),
		})
	}
	for i := 0; i < projectiles; i++ {
		id := uint32(game.FirstObjectID + i*1000)
		if i == projectiles-1 {
			id = math.MaxUint32
		}
		s.Entities = append(s.Entities, game.Entity{
			ID: id, Kind: game.KindProjectile,
			X: 1600 - float32(i)*0.3, Y: 899.99, Angle: -float32(math.Pi) / float32(i+1),
			Score: int32(i%max(players, 1) + 1),
		})
	}
	for i := 0; i < events; i++ {
		ev := game.Event{Kind: uint8(i%4 + 1), A: uint32(i + 1), B: uint32(game.FirstObjectID + i)}
		if i == events-1 {
			ev.A, ev.B = math.MaxUint32, 0
		}
		s.Events = append(s.Events, ev)
	}
	return s
}

func TestPeekType(t *testing.T) {
	frames := map[string][]byte{
		TypeWelcome: EncodeWelcome(game.JoinResult{Player: 1, Match: "m"}, "t", false),
		TypePing:    AppendPing(nil, 1, 2, 3.5, 2),
		TypeRoster:  EncodeRoster([]game.PlayerInfo{{ID: 1, Name: "a"}}),
		TypeEnd:     EncodeEnd(&game.Result{Reason: "time"}),
		TypeSnap:    AppendSnapBody(AppendSnapPrefix(nil, 1), SnapHead{Tick: 1}, nil, nil, nil),
		TypeJoin:    EncodeJoin("bob", ""),
		TypeInput:   AppendInput(nil, InputMsg{Seq: 1}),
		"dance":     mp(map[string]any{"t": "dance"}),
	}
	for want, f := range frames {
		if got, err := PeekType(f); err != nil || got != want {
			t.Errorf("PeekType(%s) = %q, %v", want, got, err)
		}
	}
	// map16 and map32 headers.
	if got, err := PeekType(cat(hx("de 00 01 a1 74 a3"), []byte("end"))); err != nil || got != TypeEnd {
		t.Errorf("PeekType(map16) = %q, %v", got, err)
	}
	if got, err := PeekType(cat(hx("df 00 00 00 01 a1 74 a4"), []byte("snap"), hx("00"))); err != nil || got != TypeSnap {
		t.Errorf("PeekType(map32) = %q, %v", got, err)
	}
	// Known types do not allocate.
	for typ, f := range frames {
		if typ != TypeWelcome && typ != TypeRoster && typ != TypeEnd && typ != TypeSnap {
			continue // only server types are promised not to allocate
		}
		if allocs := testing.AllocsPerRun(100, func() { _, _ = PeekType(f) }); allocs != 0 {
			t.Errorf("PeekType(%s) allocates %v times", typ, allocs)
		}
	}

	garbage := [][]byte{
		nil, {}, hx("c1"), hx("80"), hx("81"), hx("81 a1"), hx("81 a1 74"), hx("81 a1 75 a4 73 6e 61 70"),
		hx("81 a2 74 74 a3 65 6e 64"), hx("81 a1 74 01"), hx("81 a1 74 c0"), hx("81 a1 74 d9 03 65 6e 64"),
		hx("81 a1 74 a4 73 6e"), hx("de"), hx("de 00"), hx("de 00 01 a1 74"), hx("df 00 00 00"), hx("df 00 00 00 01 a1 74"),
		hx("91 a1 74"), hx("a1 74"), hx("01"), []byte("snap"), []byte(`{"t":"snap"}`), pitfalls["map32(4G)"],
		pitfalls["array32(4G)"], pitfalls["map{k: array32(4G)}"],
	}
	for _, g := range garbage {
		if got, err := PeekType(g); !errors.Is(err, ErrNoType) || got != "" {
			t.Errorf("PeekType(% x) = %q, %v, want ErrNoType", g, got, err)
		}
	}
	// No panic on any one- or two-byte frame, nor on any prefix of a real frame.
	for i := 0; i < 1<<16; i++ {
		_, _ = PeekType([]byte{byte(i)})
		_, _ = PeekType([]byte{byte(i >> 8), byte(i)})
	}
	for _, f := range frames {
		for i := range f {
			_, _ = PeekType(f[:i])
		}
	}
}

func TestInputRoundTrip(t *testing.T) {
	ins := []InputMsg{
		{Seq: 1},
		{Seq: 2, MX: 1, MY: -1, Aim: math.Pi, Buttons: 1},
		{Seq: 127, MX: -1, MY: 1, Aim: -math.Pi},
		{Seq: 128, MX: 0.123456789, MY: -0.987654321, Aim: 1e-300},
		{Seq: 65536, MX: math.SmallestNonzeroFloat64, MY: math.Copysign(0, -1), Aim: math.Pi / 2},
		{Seq: math.MaxUint32, MX: math.Sqrt2 / 2, MY: -math.Sqrt2 / 2, Aim: -math.Pi / 4, Buttons: game.ButtonFire},
	}
	d := NewDecoder()
	for _, in := range ins {
		frame := AppendInput([]byte("prefix"), in)
		if string(frame[:6]) != "prefix" {
			t.Fatal("AppendInput does not append")
		}
		var m ClientMsg
		if err := d.Decode(frame[6:], &m); err != nil {
			t.Fatalf("Decode(AppendInput(%+v)) = %v", in, err)
		}
		want := ClientMsg{T: TypeInput, Seq: int64(in.Seq), MX: Number(in.MX), MY: Number(in.MY), Aim: Number(in.Aim), Buttons: int64(in.Buttons)}
		if m != want || math.Signbit(float64(m.MY)) != math.Signbit(in.MY) {
			t.Fatalf("round trip of %+v = %+v", in, m)
		}
		gi, err := m.Input(5)
		if err != nil {
			t.Fatalf("Input() of %+v = %v", in, err)
		}
		if wantIn := (game.Input{Player: 5, Seq: in.Seq, MoveX: in.MX, MoveY: in.MY, Aim: in.Aim, Buttons: in.Buttons}); gi != wantIn {
			t.Fatalf("Input() = %+v, want %+v", gi, wantIn)
		}
	}
	// Values out of range survive the encoding unchanged, to be refused.
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), 1.0000001, -math.MaxFloat64} {
		var m ClientMsg
		if err := d.Decode(AppendInput(nil, InputMsg{Seq: 1, Aim: f}), &m); err != nil {
			t.Fatal(err)
		}
		if math.Float64bits(float64(m.Aim)) != math.Float64bits(f) {
			t.Fatalf("aim %v decoded as %v", f, m.Aim)
		}
		if _, err := m.Input(1); err == nil && math.Abs(f) > math.Pi+0.001 || math.IsNaN(f) && err == nil {
			t.Fatalf("aim %v accepted", f)
		}
	}
}

func TestJoinRoundTrip(t *testing.T) {
	d := NewDecoder()
	for _, n := range []int{0, 1, 31, 32, 255, 256, 65535, 65536, 70000} {
		name := strings.Repeat("n", n)
		frame := EncodeJoin(name, "k3v9q2xa")
		if err := Check(frame, MaxDepth); err != nil {
			t.Fatalf("EncodeJoin(%d-byte name) does not check: %v", n, err)
		}
		var m ClientMsg
		if err := d.Decode(frame, &m); err != nil {
			t.Fatalf("EncodeJoin(%d-byte name): %v", n, err)
		}
		if m.T != TypeJoin || m.Name != name || m.Match != "k3v9q2xa" {
			t.Fatalf("EncodeJoin(%d-byte name) decodes to t=%q, %d-byte name, match %q", n, m.T, len(m.Name), m.Match)
		}
	}
}
