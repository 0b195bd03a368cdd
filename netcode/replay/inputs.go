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

// appendInputs appends an inputs record's payload: format 2's when prev
// is nil, else format 3's (tick first, inputs delta-coded against prev).
func appendInputs(b []byte, tick, sum uint64, t *game.Trace, prev inputPrev) []byte {
	if prev != nil {
		b = binary.AppendUvarint(b, tick)
	}
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
		var in []byte
		if prev != nil {
			in = appendDeltaInput(tmp[:0], &t.Inputs[i], prev)
		} else {
			in = appendInput(tmp[:0], &t.Inputs[i])
		}
		b = binary.AppendUvarint(b, uint64(len(in)))
		b = append(b, in...)
	}
	return b
}

// parseInputs reads an inputs record's payload: format 2's when prev is
// nil (tick is then 0), else format 3's against prev.
func parseInputs(p []byte, prev inputPrev) (tick, sum uint64, t *game.Trace, err error) {
	if prev != nil {
		d := dec{b: p}
		tick = d.uvarint("inputs tick")
		if d.err != nil {
			return 0, 0, nil, d.err
		}
		p = d.b
	}
	if len(p) < 9 {
		return 0, 0, nil, formatErr("short inputs record")
	}
	sum = binary.LittleEndian.Uint64(p)
	f := p[8]
	d := dec{b: p[9:]}
	t = &game.Trace{Stepped: f&inStepped != 0, Start: f&inStart != 0}
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
		var in game.Input
		var err error
		if prev != nil {
			in, err = parseDeltaInput(d.raw("input"), prev)
		} else {
			in, err = parseInput(d.raw("input"))
		}
		if err != nil && d.err == nil {
			d.err = err
		}
		t.Inputs = append(t.Inputs, in)
	}
	return tick, sum, t, d.err
}

// Format 3 stores a segment's inputs records apart from its playback
// records, in an inputs block (KindInputsBlock) right after the segment
// record, and delta-codes the inputs. An inputs record there is
//
//	tick uvarint (the tick it belongs to) · the format 2 layout up to the inputs
//	· inputs uvarint · (length uvarint · player uvarint · mask uvarint · fields)*
//
// where the fields are those of the mask's bits, in this order, and each
// field missing from the mask is predicted from the previous input of the
// same player in the block (the zero input for the first):
//
//	1 seq       varint of seq − prediction (prediction: previous seq + 1)
//	2 move x    float (as in format 2)
//	4 move y    float
//	8 aim       float
//	16 buttons  uvarint
//	32 epoch    uvarint
//	64 view tick varint of view tick − prediction (prediction: previous
//	            view tick + 1, or 0 when that was 0)
//
// Floats keep their exact bits. The recorder writes the first input of
// each player in a block whole (every bit set), so a block decodes on its
// own. Unknown higher mask bits are fields of a later format: the rest of
// the input is skipped.

const (
	mSeq = 1 << iota
	mMoveX
	mMoveY
	mAim
	mButtons
	mEpoch
	mViewTick
	mAll = 1<<iota - 1
)

// inputPrev holds the previous input of each player in a block.
type inputPrev map[game.PlayerID]game.Input

func predViewTick(prev uint64) uint64 {
	if prev == 0 {
		return 0
	}
	return prev + 1
}

// appendDeltaInput appends in as a change against the player's previous
// input in prev (whole when there is none) and records it there.
func appendDeltaInput(b []byte, in *game.Input, prev inputPrev) []byte {
	p, seen := prev[in.Player]
	var mask uint64 = mAll
	if seen {
		mask = 0
		if in.Seq != p.Seq+1 {
			mask |= mSeq
		}
		if math.Float64bits(in.MoveX) != math.Float64bits(p.MoveX) {
			mask |= mMoveX
		}
		if math.Float64bits(in.MoveY) != math.Float64bits(p.MoveY) {
			mask |= mMoveY
		}
		if math.Float64bits(in.Aim) != math.Float64bits(p.Aim) {
			mask |= mAim
		}
		if in.Buttons != p.Buttons {
			mask |= mButtons
		}
		if in.Epoch != p.Epoch {
			mask |= mEpoch
		}
		if in.ViewTick != predViewTick(p.ViewTick) {
			mask |= mViewTick
		}
	}
	b = binary.AppendUvarint(b, uint64(in.Player))
	b = binary.AppendUvarint(b, mask)
	if mask&mSeq != 0 {
		b = binary.AppendVarint(b, int64(int32(in.Seq-(p.Seq+1))))
	}
	if mask&mMoveX != 0 {
		b = appendFloat(b, in.MoveX)
	}
	if mask&mMoveY != 0 {
		b = appendFloat(b, in.MoveY)
	}
	if mask&mAim != 0 {
		b = appendFloat(b, in.Aim)
	}
	if mask&mButtons != 0 {
		b = binary.AppendUvarint(b, uint64(in.Buttons))
	}
	if mask&mEpoch != 0 {
		b = binary.AppendUvarint(b, uint64(in.Epoch))
	}
	if mask&mViewTick != 0 {
		b = binary.AppendVarint(b, int64(in.ViewTick-predViewTick(p.ViewTick)))
	}
	prev[in.Player] = *in
	return b
}

// parseDeltaInput reads an input of a format 3 inputs record against
// prev, and records it there.
func parseDeltaInput(p []byte, prev inputPrev) (game.Input, error) {
	d := dec{b: p}
	player := game.PlayerID(min(d.uvarint("input player"), 1<<32-1))
	mask := d.uvarint("input mask")
	if d.err != nil {
		return game.Input{}, d.err
	}
	in := prev[player] // the zero input for the first
	in.Player = player
	in.Seq++
	in.ViewTick = predViewTick(in.ViewTick)
	if mask&mSeq != 0 {
		in.Seq += uint32(d.varint("input seq"))
	}
	if mask&mMoveX != 0 {
		in.MoveX = d.rfloat("input move")
	}
	if mask&mMoveY != 0 {
		in.MoveY = d.rfloat("input move")
	}
	if mask&mAim != 0 {
		in.Aim = d.rfloat("input aim")
	}
	if mask&mButtons != 0 {
		in.Buttons = uint8(min(d.uvarint("input buttons"), 255))
	}
	if mask&mEpoch != 0 {
		in.Epoch = uint32(min(d.uvarint("input epoch"), 1<<32-1))
	}
	if mask&mViewTick != 0 {
		in.ViewTick += uint64(d.varint("input view tick"))
	}
	if d.err != nil {
		return game.Input{}, d.err
	}
	prev[player] = in
	return in, nil
}
