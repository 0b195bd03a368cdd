package wire

import (
	"math"

	"github.com/tickstream/tickstream/game"
)

// NumFields is the number of fields of an entity row in wire units.
const NumFields = 7

// Field indexes of a Row, in wire order.
const (
	FieldKind = iota
	FieldX
	FieldY
	FieldAngle
	FieldHP
	FieldScore
	FieldFlags
)

// MaskWhole is the mask of a whole row: every field follows, absolute.
// Masks 1…127 name the fields that follow as differences (bit i = field i).
const MaskWhole = 0x80

// Row is an entity in wire units: its id and the NumFields fields, in the
// order of the Field constants. A view is a []Row sorted by id, ids unique.
type Row struct {
	ID uint32
	F  [NumFields]int32
}

// Quant converts entities to rows and back with a game's precision.
type Quant struct {
	Pos        float64 // world units per wire step of X and Y
	AngleSteps int32   // wire steps per full turn
}

// NewQuant returns the quantizer of p (p.OrDefault()).
func NewQuant(p game.Precision) Quant {
	p = p.OrDefault()
	return Quant{Pos: p.Pos, AngleSteps: int32(p.AngleSteps)}
}

// clamp32 converts an integral float to int32: NaN and infinities are 0,
// finite values out of range take the nearest bound.
func clamp32(v float64) int32 {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return 0
	case v >= math.MaxInt32:
		return math.MaxInt32
	case v <= math.MinInt32:
		return math.MinInt32
	}
	return int32(v)
}

// pos quantizes a coordinate: round half away from zero of v/Pos.
func (q Quant) pos(v float32) int32 {
	return clamp32(math.Round(float64(v) / q.Pos))
}

// angle quantizes an angle in radians to steps in [-AngleSteps/2, AngleSteps/2).
func (q Quant) angle(v float32) int32 {
	steps := float64(q.AngleSteps)
	a := math.Round(float64(v) / (2 * math.Pi) * steps)
	if math.IsNaN(a) || math.IsInf(a, 0) {
		return 0
	}
	a = math.Mod(a, steps) // exact for integral floats; in (-steps, steps)
	half := steps / 2
	if a >= half {
		a -= steps
	} else if a < -half {
		a += steps
	}
	return int32(a)
}

// Row quantizes e.
func (q Quant) Row(e *game.Entity) Row {
	return Row{ID: e.ID, F: [NumFields]int32{
		FieldKind:  int32(e.Kind),
		FieldX:     q.pos(e.X),
		FieldY:     q.pos(e.Y),
		FieldAngle: q.angle(e.Angle),
		FieldHP:    int32(e.HP),
		FieldScore: e.Score,
		FieldFlags: int32(e.Flags),
	}}
}

// AppendRows appends the rows of ents (in their order: a snapshot's
// entities are sorted by id, so the result is a view).
func (q Quant) AppendRows(dst []Row, ents []game.Entity) []Row {
	for i := range ents {
		dst = append(dst, q.Row(&ents[i]))
	}
	return dst
}

// Entity dequantizes r. Fields wider than the entity's (kind, hp, flags
// out of their range: never sent by a server) are truncated.
func (q Quant) Entity(r Row) game.Entity {
	steps := float64(q.AngleSteps)
	if steps == 0 {
		steps = float64(game.DefaultPrecision.AngleSteps)
	}
	return game.Entity{
		ID:    r.ID,
		Kind:  uint8(r.F[FieldKind]),
		X:     float32(float64(r.F[FieldX]) * q.Pos),
		Y:     float32(float64(r.F[FieldY]) * q.Pos),
		Angle: float32(float64(r.F[FieldAngle]) * 2 * math.Pi / steps),
		HP:    int16(r.F[FieldHP]),
		Score: r.F[FieldScore],
		Flags: uint8(r.F[FieldFlags]),
	}
}
