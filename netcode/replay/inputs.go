package replay

import (
	"encoding/binary"
	"math"
	"math/bits"
	"time"

	"github.com/tickstream/tickstream/game"
)

// An inputs record (format 2) is what a tick's simulation was given
// (game.Trace) and the checksum of the world after it (game.Checksum of
// the snapshot's entities and events); it belongs to the tick record that
// follows it:
//
//	checksum u64 LE · flags u8 (1 stepped, 2 start, 4 scoring)
//	· [stepped: tick uvarint · dt uvarint (ns)]
//	· ops uvarint · (op u8 (0 join, 1 leave) · player uvarint · [join: name len-prefixed])*
//	· inputs uvarint · (length uvarint · input fields)*
//
// An input's fields follow game.Input's order: player, seq (uvarint),
// move x, move y, aim (floats), buttons, epoch (uvarint). A float is the
// uvarint of its IEEE-754 bits byte-reversed, so that round values (0, ±1,
// ½) take 1–3 bytes. An input may hold fewer fields (the rest are zero)
// or more (a later format's, skipped): game.Input can grow at its end.

const (
	inStepped = 1 << iota
	inStart
	inScoring
)

// inputFields is how many fields of game.Input the records hold; a test
// fails when game.Input has another.
const inputFields = 8

func appendFloat(b []byte, v float64) []byte {
	return binary.AppendUvarint(b, bits.ReverseBytes64(math.Float64bits(v)))
}

func (d *dec) rfloat(what string) float64 {
	return math.Float64frombits(bits.ReverseBytes64(d.uvarint(what)))
}

func appendInput(b []byte, in *game.Input) []byte {
	b = binary.AppendUvarint(b, uint64(in.Player))
	b = binary.AppendUvarint(b, uint64(in.Seq))
	b = appendFloat(b, in.MoveX)
	b = appendFloat(b, in.MoveY)
	b = appendFloat(b, in.Aim)
	b = binary.AppendUvarint(b, uint64(in.Buttons))
	b = binary.AppendUvarint(b, uint64(in.Epoch))
	return binary.AppendUvarint(b, in.ViewTick)
}

func parseInput(p []byte) (game.Input, error) {
	d := dec{b: p}
	var in game.Input
	// Fields in order; the input may end after any of them.
	if len(d.b) > 0 {
		in.Player = game.PlayerID(min(d.uvarint("input player"), 1<<32-1))
	}
	if len(d.b) > 0 {
		in.Seq = uint32(min(d.uvarint("input seq"), 1<<32-1))
	}
	if len(d.b) > 0 {
		in.MoveX = d.rfloat("input move")
	}
	if len(d.b) > 0 {
		in.MoveY = d.rfloat("input move")
	}
	if len(d.b) > 0 {
		in.Aim = d.rfloat("input aim")
	}
	if len(d.b) > 0 {
		in.Buttons = uint8(min(d.uvarint("input buttons"), 255))
	}
	if len(d.b) > 0 {
		in.Epoch = uint32(min(d.uvarint("input epoch"), 1<<32-1))
	}
	if len(d.b) > 0 {
		in.ViewTick = d.uvarint("input view tick")
	}
	return in, d.err
}

func appendInputs(b []byte, sum uint64, t *game.Trace) []byte {
	b = binary.LittleEndian.AppendUint64(b, sum)
	var f byte
	if t.Stepped {
		f |= inStepped
	}
	if t.Start {
		f |= inStart
	}
	if t.Info.Scoring {
		f |= inScoring
	}
	b = append(b, f)
	if t.Stepped {
		b = binary.AppendUvarint(b, t.Info.Tick)
		b = binary.AppendUvarint(b, uint64(t.Info.Dt))
	}
	b = binary.AppendUvarint(b, uint64(len(t.Ops)))
	for _, op := range t.Ops {
		if op.Leave {
			b = append(b, 1)
			b = binary.AppendUvarint(b, uint64(op.Player))
			continue
		}
		b = append(b, 0)
		b = binary.AppendUvarint(b, uint64(op.Player))
		b = binary.AppendUvarint(b, uint64(len(op.Name)))
		b = append(b, op.Name...)
	}
	b = binary.AppendUvarint(b, uint64(len(t.Inputs)))
	var tmp [8 + 5*binary.MaxVarintLen64 + 3*binary.MaxVarintLen64]byte
	for i := range t.Inputs {
		in := appendInput(tmp[:0], &t.Inputs[i])
		b = binary.AppendUvarint(b, uint64(len(in)))
		b = append(b, in...)
	}
	return b
}

func parseInputs(p []byte) (uint64, *game.Trace, error) {
	if len(p) < 9 {
		return 0, nil, formatErr("short inputs record")
	}
	sum := binary.LittleEndian.Uint64(p)
	f := p[8]
	d := dec{b: p[9:]}
	t := &game.Trace{Stepped: f&inStepped != 0, Start: f&inStart != 0}
	if t.Stepped {
		t.Info.Tick = d.uvarint("step tick")
		t.Info.Dt = time.Duration(min(d.uvarint("step dt"), uint64(time.Hour)))
		t.Info.Scoring = f&inScoring != 0
	}
	n := d.count("ops", 2)
	if n > 0 {
		t.Ops = make([]game.RosterOp, 0, n)
	}
	for i := 0; i < n && d.err == nil; i++ {
		if len(d.b) == 0 {
			d.fail("op")
			break
		}
		leave := d.b[0] == 1
		d.b = d.b[1:]
		op := game.RosterOp{Player: game.PlayerID(min(d.uvarint("op player"), 1<<32-1)), Leave: leave}
		if !leave {
			op.Name = d.str("op name")
		}
		t.Ops = append(t.Ops, op)
	}
	n = d.count("inputs", 1)
	if n > 0 {
		t.Inputs = make([]game.Input, 0, n)
	}
	for i := 0; i < n && d.err == nil; i++ {
		in, err := parseInput(d.raw("input"))
		if err != nil && d.err == nil {
			d.err = err
		}
		t.Inputs = append(t.Inputs, in)
	}
	return sum, t, d.err
}
