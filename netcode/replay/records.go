package replay

import (
	"encoding/binary"
	"time"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode/wire"
)

// Header is a file's first record: what a reader needs before the first
// tick.
type Header struct {
	Match    string
	Rate     int        // ticks per second
	Quant    wire.Quant // the stream's quantization of the rows
	Started  time.Time  // the first tick's time (ms)
	KeyEvery uint64     // ticks between keyframes
	// Traced: every tick has an inputs record, and Seed and ScoreLimit
	// are the match's (what Rules.Init was given): the file can be
	// re-simulated (Verify).
	Traced     bool
	Seed       uint64
	ScoreLimit int
}

// Header field tags. Unknown tags are skipped (a later "seed" field,
// for instance, is a new tag).
const (
	hMatch    = 1
	hRate     = 2
	hQuantPos = 3
	hQuantAng = 4
	hStarted  = 5
	hKeyEvery = 6
	// Format 2.
	hSeed       = 7
	hScoreLimit = 8
	hTraced     = 9
)

func appendHeader(b []byte, h *Header) []byte {
	w := fieldWriter{b: b}
	w.str(hMatch, h.Match)
	w.uint(hRate, uint64(h.Rate))
	w.float(hQuantPos, h.Quant.Pos)
	w.uint(hQuantAng, uint64(h.Quant.AngleSteps))
	w.int(hStarted, h.Started.UnixMilli())
	w.uint(hKeyEvery, h.KeyEvery)
	if h.Traced {
		w.uint(hSeed, h.Seed)
		w.uint(hScoreLimit, uint64(h.ScoreLimit))
		w.uint(hTraced, 1)
	}
	return w.b
}

func parseHeader(p []byte) (Header, error) {
	var h Header
	d := dec{b: p}
	d.fields(func(tag uint64, v *dec) {
		switch tag {
		case hMatch:
			h.Match = v.text("match")
		case hRate:
			h.Rate = int(min(v.uvarint("rate"), 1<<16))
		case hQuantPos:
			h.Quant.Pos = v.float("quant")
		case hQuantAng:
			h.Quant.AngleSteps = int32(min(v.uvarint("quant"), 1<<30))
		case hStarted:
			h.Started = time.UnixMilli(v.varint("start"))
		case hKeyEvery:
			h.KeyEvery = v.uvarint("keyframe interval")
		case hSeed:
			h.Seed = v.uvarint("seed")
		case hScoreLimit:
			h.ScoreLimit = int(min(v.uvarint("score limit"), 1<<30))
		case hTraced:
			h.Traced = v.uvarint("traced") == 1
		}
	})
	switch {
	case d.err != nil:
		return h, d.err
	case h.Rate <= 0 || !(h.Quant.Pos > 0) || h.Quant.AngleSteps <= 0 || !validID(h.Match):
		return h, formatErr("header: bad match, rate or quantization")
	}
	return h, nil
}

// A roster record is a flag (1: the roster changed at the next tick; 0:
// restated at a segment start, so that a reader can start there), a
// count and (id, name) pairs.
func appendRoster(b []byte, changed bool, r []game.PlayerInfo) []byte {
	f := byte(0)
	if changed {
		f = 1
	}
	b = append(b, f)
	b = binary.AppendUvarint(b, uint64(len(r)))
	for _, p := range r {
		b = binary.AppendUvarint(b, uint64(p.ID))
		b = binary.AppendUvarint(b, uint64(len(p.Name)))
		b = append(b, p.Name...)
	}
	return b
}

func parseRoster(p []byte) (changed bool, r []game.PlayerInfo, err error) {
	if len(p) == 0 {
		return false, nil, formatErr("empty roster")
	}
	changed = p[0] == 1
	d := dec{b: p[1:]}
	n := d.count("roster", 2)
	r = make([]game.PlayerInfo, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		id := d.uvarint("player")
		r = append(r, game.PlayerInfo{ID: game.PlayerID(min(id, 1<<32-1)), Name: d.str("name")})
	}
	return changed, r, d.err
}

// An end record is the result: reason, winner, and the scores (player,
// name, kills, deaths).
func appendEnd(b []byte, r *game.Result) []byte {
	b = binary.AppendUvarint(b, uint64(len(r.Reason)))
	b = append(b, r.Reason...)
	b = binary.AppendUvarint(b, uint64(r.Winner))
	b = binary.AppendUvarint(b, uint64(len(r.Scores)))
	for _, s := range r.Scores {
		b = binary.AppendUvarint(b, uint64(s.Player))
		b = binary.AppendUvarint(b, uint64(len(s.Name)))
		b = append(b, s.Name...)
		b = binary.AppendVarint(b, int64(s.Kills))
		b = binary.AppendVarint(b, int64(s.Deaths))
	}
	return b
}

func parseEnd(p []byte) (*game.Result, error) {
	d := dec{b: p}
	r := &game.Result{Reason: d.str("reason"), Winner: game.PlayerID(min(d.uvarint("winner"), 1<<32-1))}
	n := d.count("scores", 4)
	r.Scores = make([]game.Score, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		r.Scores = append(r.Scores, game.Score{
			Player: game.PlayerID(min(d.uvarint("player"), 1<<32-1)), Name: d.str("name"),
			Kills: int(d.varint("kills")), Deaths: int(d.varint("deaths")),
		})
	}
	return r, d.err
}

// Keyframe is an entry of the index: a segment starts at Offset (its
// restated roster, then the keyframe of Tick).
type Keyframe struct {
	Tick   uint64
	Offset int64
}

// Player is a line of a replay's listing.
type Player struct {
	ID    uint32 `json:"id"`
	Name  string `json:"name"`
	Score int    `json:"score"`
}

// Summary is what the index record holds besides the keyframes, and what
// a scan of a file without one rebuilds.
type Summary struct {
	FirstTick, LastTick uint64
	FirstTime, LastTime time.Time // ms
	Players             []Player
	Winner              uint32
	Reason              string // the End's reason; "" without an End
	Complete            bool   // recorded to the end, without a failure
	Failure             string // why the recording stopped early ("" if it did not)
}

// Index field tags.
const (
	iFirstTick = 1
	iLastTick  = 2
	iFirstTime = 3
	iLastTime  = 4
	iPlayers   = 5
	iWinner    = 6
	iReason    = 7
	iComplete  = 8
	iFailure   = 9
	iKeyframes = 10
)

func appendIndex(b []byte, s *Summary, keys []Keyframe) []byte {
	w := fieldWriter{b: b}
	w.uint(iFirstTick, s.FirstTick)
	w.uint(iLastTick, s.LastTick)
	w.int(iFirstTime, s.FirstTime.UnixMilli())
	w.int(iLastTime, s.LastTime.UnixMilli())
	var pl []byte
	pl = binary.AppendUvarint(pl, uint64(len(s.Players)))
	for _, p := range s.Players {
		pl = binary.AppendUvarint(pl, uint64(p.ID))
		pl = binary.AppendUvarint(pl, uint64(len(p.Name)))
		pl = append(pl, p.Name...)
		pl = binary.AppendVarint(pl, int64(p.Score))
	}
	w.bytes(iPlayers, pl)
	w.uint(iWinner, uint64(s.Winner))
	w.str(iReason, s.Reason)
	c := uint64(0)
	if s.Complete {
		c = 1
	}
	w.uint(iComplete, c)
	w.str(iFailure, s.Failure)
	var kb []byte
	kb = binary.AppendUvarint(kb, uint64(len(keys)))
	var pt uint64
	var po int64
	for _, k := range keys { // ascending: deltas
		kb = binary.AppendUvarint(kb, k.Tick-pt)
		kb = binary.AppendUvarint(kb, uint64(k.Offset-po))
		pt, po = k.Tick, k.Offset
	}
	w.bytes(iKeyframes, kb)
	return w.b
}

func parseIndex(p []byte) (Summary, []Keyframe, error) {
	var s Summary
	var keys []Keyframe
	d := dec{b: p}
	d.fields(func(tag uint64, v *dec) {
		switch tag {
		case iFirstTick:
			s.FirstTick = v.uvarint("first tick")
		case iLastTick:
			s.LastTick = v.uvarint("last tick")
		case iFirstTime:
			s.FirstTime = time.UnixMilli(v.varint("first time"))
		case iLastTime:
			s.LastTime = time.UnixMilli(v.varint("last time"))
		case iPlayers:
			n := v.count("players", 3)
			s.Players = make([]Player, 0, n)
			for i := 0; i < n && v.err == nil; i++ {
				s.Players = append(s.Players, Player{ID: uint32(min(v.uvarint("player"), 1<<32-1)), Name: v.str("name"), Score: int(v.varint("score"))})
			}
		case iWinner:
			s.Winner = uint32(min(v.uvarint("winner"), 1<<32-1))
		case iReason:
			s.Reason = v.text("reason")
		case iComplete:
			s.Complete = v.uvarint("complete") == 1
		case iFailure:
			s.Failure = v.text("failure")
		case iKeyframes:
			n := v.count("keyframes", 2)
			keys = make([]Keyframe, 0, n)
			var t, o uint64
			for i := 0; i < n && v.err == nil; i++ {
				t += v.uvarint("keyframe tick")
				o += v.uvarint("keyframe offset")
				keys = append(keys, Keyframe{Tick: t, Offset: int64(min(o, 1<<62))})
			}
		}
	})
	if d.err == nil && (s.LastTick < s.FirstTick || s.FirstTick == 0) {
		d.fail("index ticks")
	}
	return s, keys, d.err
}

// validID reports whether id can name a replay file: 1–64 characters of
// letters, digits, '-' and '_' (match ids are 8 letters and digits).
func validID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
