package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// The client side of wire v2 snapshots: a hand-written reader over the
// frame's bytes. Every length is checked against the bytes present before
// it is used, nothing is allocated from a declared length (the frame's
// slices grow only with rows actually read) and no input can make it
// panic.

// RowDelta is one decoded row of "ents": whole (Mask == MaskWhole: V holds
// the absolute fields) or a delta (Mask 1…127: V[i] holds new − base for
// every set bit i, 0 elsewhere). V is int64: the difference of two int32
// fields needs 33 bits.
type RowDelta struct {
	ID   uint32
	Mask uint8
	V    [NumFields]int64
}

// SnapFrame is a decoded snap frame. Its slices are reused by the next
// decode into it.
type SnapFrame struct {
	Ack   uint32
	Tick  uint64
	Base  uint64 // 0: keyframe
	Time  int64  // Unix ms
	State uint8  // game.State
	Left  int64  // ms
	Rows  []RowDelta
	Gone  []uint32
	Ev    []EventRow
}

// Keyframe reports whether the frame applies to an empty view.
func (f *SnapFrame) Keyframe() bool { return f.Base == 0 }

// ErrBadSnap is wrapped by every refusal of DecodeSnap, DecodeSnapHead
// and ApplyRows.
var ErrBadSnap = errors.New("wire: bad snap")

func badSnap(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadSnap}, args...)...)
}

var errShort = badSnap("truncated or not the expected type")

// reader reads msgpack values from b; the first error sticks.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// integer reads any msgpack integer as a magnitude and a sign.
func (r *reader) integer() (mag uint64, neg bool) {
	if r.err != nil {
		return 0, false
	}
	mag, neg, n := msgpackInt(r.b[r.off:])
	if n == 0 {
		r.fail(errShort)
		return 0, false
	}
	r.off += n
	return mag, neg
}

// msgpackInt reads the msgpack integer (any width, signed or not) at the
// start of b as a magnitude and a sign, and its length; n is 0 when b
// does not start with a whole integer.
func msgpackInt(b []byte) (mag uint64, neg bool, n int) {
	if len(b) == 0 {
		return 0, false, 0
	}
	c := b[0]
	switch {
	case c <= 0x7f:
		return uint64(c), false, 1
	case c >= 0xe0:
		return uint64(-int64(int8(c))), true, 1
	}
	var size int
	switch c {
	case 0xcc, 0xd0:
		size = 1
	case 0xcd, 0xd1:
		size = 2
	case 0xce, 0xd2:
		size = 4
	case 0xcf, 0xd3:
		size = 8
	default:
		return 0, false, 0
	}
	if len(b) < 1+size {
		return 0, false, 0
	}
	p := b[1 : 1+size]
	var u uint64
	switch size {
	case 1:
		u = uint64(p[0])
	case 2:
		u = uint64(binary.BigEndian.Uint16(p))
	case 4:
		u = uint64(binary.BigEndian.Uint32(p))
	default:
		u = binary.BigEndian.Uint64(p)
	}
	if c >= 0xd0 { // signed forms: sign-extend
		var s int64
		switch size {
		case 1:
			s = int64(int8(u))
		case 2:
			s = int64(int16(u))
		case 4:
			s = int64(int32(u))
		default:
			s = int64(u)
		}
		if s < 0 {
			return uint64(-(s + 1)) + 1, true, 1 + size // |s| without overflow at MinInt64
		}
		return uint64(s), false, 1 + size
	}
	return u, false, 1 + size
}

// uint reads a non-negative integer not above max.
func (r *reader) uint(max uint64, what string) uint64 {
	u, neg := r.integer()
	if r.err == nil && (neg && u != 0 || u > max) {
		r.fail(badSnap("%s out of range", what))
	}
	return u
}

// intIn reads an integer within [lo, hi] (lo > MinInt64).
func (r *reader) intIn(lo, hi int64, what string) int64 {
	u, neg := r.integer()
	if r.err != nil {
		return 0
	}
	if neg {
		if u > uint64(-lo) {
			r.fail(badSnap("%s out of range", what))
			return 0
		}
		return -int64(u)
	}
	if u > uint64(hi) {
		r.fail(badSnap("%s out of range", what))
		return 0
	}
	return int64(u)
}

// int64 reads any integer that fits an int64.
func (r *reader) int64() int64 {
	u, neg := r.integer()
	if r.err != nil {
		return 0
	}
	switch {
	case neg && u == 1<<63:
		return math.MinInt64
	case u > math.MaxInt64:
		r.fail(badSnap("integer out of range"))
		return 0
	case neg:
		return -int64(u)
	}
	return int64(u)
}

// arrayLen reads an array header; the count cannot exceed the bytes left
// (every element takes at least one).
func (r *reader) arrayLen() int { return r.containerLen(0x90, 0xdc, 0xdd, 1) }

// mapLen reads a map header (every pair takes at least two bytes).
func (r *reader) mapLen() int { return r.containerLen(0x80, 0xde, 0xdf, 2) }

// containerLen reads an array or map header: the fix form (fix|n), the
// 16-bit form (c16) or the 32-bit form (c32); per is the fewest bytes an
// element takes.
func (r *reader) containerLen(fix, c16, c32 byte, per int) int {
	if r.err != nil {
		return 0
	}
	b := r.b[r.off:]
	var n, h int
	switch {
	case len(b) == 0:
	case b[0]&0xf0 == fix:
		n, h = int(b[0]&0x0f), 1
	case b[0] == c16 && len(b) >= 3:
		n, h = int(binary.BigEndian.Uint16(b[1:])), 3
	case b[0] == c32 && len(b) >= 5:
		u := binary.BigEndian.Uint32(b[1:])
		if uint64(u) <= uint64(len(b)) {
			n, h = int(u), 5
		}
	}
	if h == 0 || n > (len(b)-h)/per {
		r.fail(errShort)
		return 0
	}
	r.off += h
	return n
}

// str reads a string's bytes (not copied).
func (r *reader) str() []byte {
	if r.err != nil {
		return nil
	}
	s, n, err := readStr(r.b[r.off:])
	if err != nil {
		r.fail(errShort)
		return nil
	}
	r.off += n
	return s
}

// skip steps over one value of any type.
func (r *reader) skip() {
	if r.err != nil {
		return
	}
	n, err := walk(r.b[r.off:], 8)
	if err != nil {
		r.fail(badSnap("%v", err))
		return
	}
	r.off += n
}

// DecodeSnap decodes a whole snap frame into f, reusing f's slices. It
// refuses (with an error wrapping ErrBadSnap) everything the protocol says
// decoders refuse that can be seen without the baseline: a mask of 0,
// above 128 or 128 with other bits; a row of the wrong length; ids not
// strictly increasing or beyond uint32 (rows and gone); a whole value
// beyond int32 or a difference no int32 baseline can absorb; a delta row
// or a gone id in a keyframe. ApplyRows checks the rest against the
// baseline. The frame is the map {t: "snap", d: [9 elements]}; its keys
// may come in any order and unknown keys are skipped. On error f holds
// partial content.
func DecodeSnap(frame []byte, f *SnapFrame) error {
	return decodeSnap(frame, f, false)
}

// DecodeSnapHead decodes only ack, tick, base, time, state and left into
// f (Rows, Gone and Ev are emptied) and steps over the rest: for bots that
// do not track the world. It allocates nothing.
func DecodeSnapHead(frame []byte, f *SnapFrame) error {
	return decodeSnap(frame, f, true)
}

func decodeSnap(frame []byte, f *SnapFrame, headOnly bool) error {
	f.Rows, f.Gone, f.Ev = f.Rows[:0], f.Gone[:0], f.Ev[:0]
	r := reader{b: frame}
	n := r.mapLen()
	var gotT, gotD bool
	for i := 0; i < n && r.err == nil; i++ {
		switch string(r.str()) {
		case "t":
			if string(r.str()) != TypeSnap && r.err == nil {
				r.fail(badSnap("t is not %q", TypeSnap))
			}
			gotT = true
		case "d":
			if gotD {
				r.fail(badSnap("two d keys"))
			}
			r.body(f, headOnly)
			gotD = true
		default:
			r.skip()
		}
	}
	switch {
	case r.err != nil:
		return r.err
	case !gotT || !gotD:
		return badSnap("missing t or d")
	case r.off != len(frame):
		return badSnap("trailing bytes")
	}
	return nil
}

func (r *reader) body(f *SnapFrame, headOnly bool) {
	if r.arrayLen() != 9 && r.err == nil {
		r.fail(badSnap("d must have 9 elements"))
	}
	f.Ack = uint32(r.uint(math.MaxUint32, "ack"))
	f.Tick = r.uint(math.MaxUint64, "tick")
	f.Base = r.uint(math.MaxUint64, "base")
	f.Time = r.int64()
	f.State = uint8(r.uint(math.MaxUint8, "state"))
	f.Left = r.int64()
	if headOnly {
		r.skip()
		r.skip()
		r.skip()
		return
	}
	key := f.Base == 0
	n := r.arrayLen()
	var id uint64
	for i := 0; i < n && r.err == nil; i++ {
		l := r.arrayLen()
		if l < 2 && r.err == nil {
			r.fail(badSnap("row of %d elements", l))
		}
		id = r.nextID(id, i == 0)
		var d RowDelta
		d.ID = uint32(id)
		m := r.uint(math.MaxUint8, "mask")
		d.Mask = uint8(m)
		switch {
		case r.err != nil:
		case m == MaskWhole:
			if l != 2+NumFields {
				r.fail(badSnap("whole row of %d elements", l))
			}
			for k := range d.V {
				d.V[k] = r.intIn(math.MinInt32, math.MaxInt32, "field")
			}
		case m == 0 || m > MaskWhole:
			r.fail(badSnap("mask %d", m))
		case key:
			r.fail(badSnap("delta row in a keyframe"))
		default:
			if l != 2+popcount7(uint8(m)) {
				r.fail(badSnap("row of %d elements for mask %#x", l, m))
			}
			for k := 0; k < NumFields; k++ {
				if m&(1<<k) != 0 {
					d.V[k] = r.intIn(-math.MaxUint32, math.MaxUint32, "difference")
				}
			}
		}
		f.Rows = append(f.Rows, d)
	}
	n = r.arrayLen()
	if n > 0 && key && r.err == nil {
		r.fail(badSnap("gone ids in a keyframe"))
	}
	id = 0
	for i := 0; i < n && r.err == nil; i++ {
		id = r.nextID(id, i == 0)
		f.Gone = append(f.Gone, uint32(id))
	}
	n = r.arrayLen()
	for i := 0; i < n && r.err == nil; i++ {
		if r.arrayLen() != 3 && r.err == nil {
			r.fail(badSnap("event of the wrong length"))
		}
		e := EventRow{Kind: uint8(r.uint(math.MaxUint8, "event kind"))}
		e.A = uint32(r.uint(math.MaxUint32, "event value"))
		e.B = uint32(r.uint(math.MaxUint32, "event value"))
		f.Ev = append(f.Ev, e)
	}
}

// nextID reads an id delta and returns the running sum.
func (r *reader) nextID(prev uint64, first bool) uint64 {
	d := r.uint(math.MaxUint32, "id delta")
	if r.err != nil {
		return 0
	}
	if !first && d == 0 {
		r.fail(badSnap("ids not strictly increasing"))
	}
	if prev+d > math.MaxUint32 {
		r.fail(badSnap("id beyond uint32"))
	}
	return prev + d
}

// readStr reads a str's bytes (not copied).
func readStr(b []byte) ([]byte, int, error) {
	if len(b) == 0 {
		return nil, 0, errShort
	}
	var l, h int
	switch c := b[0]; {
	case c&0xe0 == 0xa0:
		l, h = int(c&0x1f), 1
	case c == 0xd9 && len(b) >= 2:
		l, h = int(b[1]), 2
	case c == 0xda && len(b) >= 3:
		l, h = int(binary.BigEndian.Uint16(b[1:])), 3
	case c == 0xdb && len(b) >= 5:
		u := binary.BigEndian.Uint32(b[1:])
		if uint64(u) > uint64(len(b)) {
			return nil, 0, errShort
		}
		l, h = int(u), 5
	default:
		return nil, 0, errShort
	}
	if l > len(b)-h {
		return nil, 0, errShort
	}
	return b[h : h+l], h + l, nil
}
