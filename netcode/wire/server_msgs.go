package wire

import (
	"encoding/binary"
	"math"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/tickstream/tickstream/game"
)

// Server message types.
const (
	TypeWelcome  = "welcome"
	TypeRoster   = "roster"
	TypeSnap     = "snap"
	TypeEnd      = "end"
	TypePing     = "ping"
	TypeRedirect = "redirect"
)

// Redirect answers a join that belongs on another node; the socket then
// closes with CloseRedirect. The client connects to URL (query included)
// and sends its join again with Match in place of the match it asked for.
type Redirect struct {
	T     string `msgpack:"t"`
	URL   string `msgpack:"url"`
	Match string `msgpack:"match"`
}

// Welcome answers a join.
type Welcome struct {
	T      string        `msgpack:"t"`
	Player uint32        `msgpack:"player"`
	Match  string        `msgpack:"match"`
	Rate   int           `msgpack:"rate"`
	Tick   uint64        `msgpack:"tick"`
	Arena  Arena         `msgpack:"arena"`
	Roster []RosterEntry `msgpack:"roster"`
	// Token resumes this seat after a disconnection (single use; every
	// welcome carries a fresh one).
	Token string `msgpack:"token"`
	// Resumed is true when this welcome answers a resume.
	Resumed bool `msgpack:"resumed"`
	// Ack is the last input sequence applied for this seat.
	Ack uint32 `msgpack:"ack"`
	// Quant is the wire precision of entity rows.
	Quant WireQuant `msgpack:"quant"`
	// Radius is the interest radius in world units (0: everything).
	Radius float64 `msgpack:"radius"`
	// Every is the send divisor: a snapshot every Every ticks.
	Every int `msgpack:"every"`
	// Min is how many players the match waits for before it runs.
	Min int `msgpack:"min"`
}

// WireQuant is the precision of entity rows in a welcome: world units per
// step of x and y, steps per turn of angle.
type WireQuant struct {
	Pos   float64 `msgpack:"pos" json:"pos"`
	Angle int32   `msgpack:"angle" json:"angle"`
}

// Quantizer returns the quantizer the welcome declares.
func (w *Welcome) Quantizer() Quant {
	return NewQuant(game.Precision{Pos: w.Quant.Pos, AngleSteps: int(w.Quant.Angle)})
}

// Arena is the static layout in a welcome.
type Arena struct {
	W         float64      `msgpack:"w"`
	H         float64      `msgpack:"h"`
	Obstacles [][4]float64 `msgpack:"obstacles"`
}

// RosterEntry is [id, name].
type RosterEntry struct {
	_msgpack struct{} `msgpack:",as_array"`
	ID       uint32
	Name     string
}

// Roster is sent reliably when the roster changes.
type Roster struct {
	T       string        `msgpack:"t"`
	Players []RosterEntry `msgpack:"players"`
}

// End is sent reliably when a match ends.
type End struct {
	T      string     `msgpack:"t"`
	Reason string     `msgpack:"reason"`
	Winner uint32     `msgpack:"winner"`
	Scores []ScoreRow `msgpack:"scores"`
}

// ScoreRow is [id, name, kills, deaths].
type ScoreRow struct {
	_msgpack struct{} `msgpack:",as_array"`
	ID       uint32
	Name     string
	Kills    int
	Deaths   int
}

// EventRow is [kind, a, b].
type EventRow struct {
	_msgpack struct{} `msgpack:",as_array"`
	Kind     uint8
	A, B     uint32
}

func rosterEntries(r []game.PlayerInfo) []RosterEntry {
	out := make([]RosterEntry, len(r))
	for i, p := range r {
		out[i] = RosterEntry{ID: uint32(p.ID), Name: p.Name}
	}
	return out
}

// EncodeWelcome encodes the answer to a join or a resume, for a session
// sent every tick.
func EncodeWelcome(res game.JoinResult, token string, resumed bool) []byte {
	return EncodeWelcomeEvery(res, token, resumed, 1)
}

// EncodeWelcomeEvery encodes the answer to a join or a resume for a
// session sent a snapshot every every ticks.
func EncodeWelcomeEvery(res game.JoinResult, token string, resumed bool, every int) []byte {
	q := NewQuant(res.Layout.Precision)
	w := Welcome{
		T: TypeWelcome, Player: uint32(res.Player), Match: res.Match, Rate: res.TickRate, Tick: res.Tick,
		Token: token, Resumed: resumed, Ack: res.LastSeq,
		Quant: WireQuant{Pos: q.Pos, Angle: q.AngleSteps}, Radius: res.Layout.ViewRadius, Every: every, Min: res.MinPlayers,
		Arena:  Arena{W: res.Layout.W, H: res.Layout.H, Obstacles: make([][4]float64, len(res.Layout.Obstacles))},
		Roster: rosterEntries(res.Roster),
	}
	for i, o := range res.Layout.Obstacles {
		w.Arena.Obstacles[i] = [4]float64{o.X, o.Y, o.W, o.H}
	}
	return mustMarshal(w)
}

// EncodeRoster encodes a roster message.
func EncodeRoster(r []game.PlayerInfo) []byte {
	return mustMarshal(Roster{T: TypeRoster, Players: rosterEntries(r)})
}

// EncodeEnd encodes the end of a match.
func EncodeEnd(r *game.Result) []byte {
	e := End{T: TypeEnd, Reason: r.Reason, Winner: uint32(r.Winner), Scores: make([]ScoreRow, len(r.Scores))}
	for i, s := range r.Scores {
		e.Scores[i] = ScoreRow{ID: uint32(s.Player), Name: s.Name, Kills: s.Kills, Deaths: s.Deaths}
	}
	return mustMarshal(e)
}

func mustMarshal(v any) []byte {
	b, err := msgpack.Marshal(v)
	if err != nil {
		panic("wire: encoding a server message: " + err.Error()) // only fixed types: a bug
	}
	return b
}

// The append helpers write the shortest msgpack form.

func appendStr(b []byte, s string) []byte {
	switch n := len(s); {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n < 256:
		b = append(b, 0xd9, byte(n))
	case n <= math.MaxUint16:
		b = append(b, 0xda, byte(n>>8), byte(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
	}
	return append(b, s...)
}

func appendArrayLen(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x90|byte(n))
	case n <= math.MaxUint16:
		return append(b, 0xdc, byte(n>>8), byte(n))
	}
	return binary.BigEndian.AppendUint32(append(b, 0xdd), uint32(n))
}

func appendUint(b []byte, n uint64) []byte {
	switch {
	case n <= 0x7f:
		return append(b, byte(n))
	case n <= math.MaxUint8:
		return append(b, 0xcc, byte(n))
	case n <= math.MaxUint16:
		return append(b, 0xcd, byte(n>>8), byte(n))
	case n <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xcf), n)
}

func appendInt(b []byte, n int64) []byte {
	switch {
	case n >= 0:
		return appendUint(b, uint64(n))
	case n >= -32:
		return append(b, byte(n))
	case n >= math.MinInt8:
		return append(b, 0xd0, byte(n))
	case n >= math.MinInt16:
		return append(b, 0xd1, byte(n>>8), byte(n))
	case n >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(b, 0xd2), uint32(n))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(n))
}

func appendFloat32(b []byte, f float32) []byte {
	return binary.BigEndian.AppendUint32(append(b, 0xca), math.Float32bits(f))
}

// Ping is the server's heartbeat; answer it at once with a pong.
type Ping struct {
	T    string  `msgpack:"t"`
	ID   uint32  `msgpack:"id"`
	Time int64   `msgpack:"time"`
	RTT  float64 `msgpack:"rtt"`
	// Every is the session's current send divisor (net stats).
	Every int `msgpack:"every"`
}

// AppendPing appends a ping frame: id, the server's clock (Unix ms), the
// smoothed RTT measured so far (ms, 0 before the first pong) and the
// session's current send divisor.
func AppendPing(dst []byte, id uint32, serverMS int64, rttMS float64, every int) []byte {
	dst = append(dst, 0x85)
	dst = appendStr(dst, "t")
	dst = appendStr(dst, TypePing)
	dst = appendStr(dst, "id")
	dst = appendUint(dst, uint64(id))
	dst = appendStr(dst, "time")
	dst = appendInt(dst, serverMS)
	dst = appendStr(dst, "rtt")
	dst = appendFloat64(dst, rttMS)
	dst = appendStr(dst, "every")
	return appendInt(dst, int64(every))
}
