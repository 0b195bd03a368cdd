package wire

import "github.com/tickstream/tickstream/game"

// Wire v2 player snapshots: a per-player prefix (the map, "t": "snap",
// "d" and the positional array's first element, ack) and a body shared by
// every player with the same tick, baseline, view and events. See
// docs/protocol.md, "snap".

// SnapHead is the head of a snapshot: tick, baseline (0 = keyframe), tick
// time (Unix ms), match state and ms left before the time limit.
type SnapHead struct {
	Tick, Base uint64
	Time       int64
	State      game.State
	Left       int64
}

// AppendSnapPrefix appends the per-player head of a snap frame:
// 0x82 "t" "snap" "d" 0x99 ack. The body from AppendSnapBody follows it.
func AppendSnapPrefix(dst []byte, ack uint32) []byte {
	dst = append(dst, 0x82, 0xa1, 't', 0xa4, 's', 'n', 'a', 'p', 0xa1, 'd', 0x99)
	return appendUint(dst, uint64(ack))
}

// AppendSnapBody appends the shared body of a snap frame: tick, base, time,
// state, left, ents, gone and ev. cur is the view to send; base the view at
// h.Base (both sorted by id, ids unique). h.Base == 0 makes a keyframe:
// base is ignored and every row is whole. evs are the events of every tick
// since the previous snap, written in order as one list. Into a buffer
// with room, it allocates nothing.
func AppendSnapBody(dst []byte, h SnapHead, base, cur []Row, evs [][]game.Event) []byte {
	if h.Base == 0 {
		base = nil
	}
	dst = appendUint(dst, h.Tick)
	dst = appendUint(dst, h.Base)
	dst = appendInt(dst, h.Time)
	dst = appendUint(dst, uint64(h.State))
	dst = appendInt(dst, h.Left)

	nrows, ngone := diffRowCounts(base, cur)
	dst = appendArrayLen(dst, nrows)
	d := rowDiff{base: base, cur: cur}
	var prev uint32
	for {
		c, b, mask, ok := d.nextRow()
		if !ok {
			break
		}
		dst = appendRow(dst, c.ID-prev, c, b, mask)
		prev = c.ID
	}
	dst = appendArrayLen(dst, ngone)
	d = rowDiff{base: base, cur: cur}
	prev = 0
	for {
		id, ok := d.nextGone()
		if !ok {
			break
		}
		dst = appendUint(dst, uint64(id-prev))
		prev = id
	}
	n := 0
	for _, e := range evs {
		n += len(e)
	}
	dst = appendArrayLen(dst, n)
	for _, e := range evs {
		for _, ev := range e {
			dst = append(dst, 0x93)
			dst = appendUint(dst, uint64(ev.Kind))
			dst = appendUint(dst, uint64(ev.A))
			dst = appendUint(dst, uint64(ev.B))
		}
	}
	return dst
}

// appendRow appends [idDelta, mask, values…]: the whole row c, or the
// fields of mask as differences from b. It is writeRows' row (spectator.go)
// written straight into msgpack bytes: the players' path encodes per
// player per tick and must not allocate, which the treeWriter interface
// would (measured: +1 allocation and +20 % per body). The golden vectors
// and the snap and spectator property tests hold the two to one layout.
func appendRow(dst []byte, idDelta uint32, c, b *Row, mask uint8) []byte {
	if mask == MaskWhole {
		dst = append(dst, 0x90|(2+NumFields))
		dst = appendUint(dst, uint64(idDelta))
		dst = append(dst, 0xcc, MaskWhole) // the shortest form of 128
		for _, v := range c.F {
			dst = appendInt(dst, int64(v))
		}
		return dst
	}
	dst = append(dst, 0x90|byte(2+popcount7(mask)))
	dst = appendUint(dst, uint64(idDelta))
	dst = appendUint(dst, uint64(mask))
	for i := 0; i < NumFields; i++ {
		if mask&(1<<i) != 0 {
			dst = appendInt(dst, int64(c.F[i])-int64(b.F[i]))
		}
	}
	return dst
}

func popcount7(m uint8) int {
	n := 0
	for i := 0; i < NumFields; i++ {
		n += int(m >> i & 1)
	}
	return n
}

// changeMask is the mask of the fields that differ between b and c.
func changeMask(b, c *Row) uint8 {
	var m uint8
	for i := 0; i < NumFields; i++ {
		if b.F[i] != c.F[i] {
			m |= 1 << i
		}
	}
	return m
}

// rowDiff walks two views sorted by id. nextRow yields the rows to send
// (whole for an id not in base, a change mask for one that differs) and
// nextGone the ids of base missing from cur; use one walker for each.
type rowDiff struct {
	base, cur []Row
	i, j      int
}

func (d *rowDiff) nextRow() (c, b *Row, mask uint8, ok bool) {
	for d.j < len(d.cur) {
		c = &d.cur[d.j]
		for d.i < len(d.base) && d.base[d.i].ID < c.ID {
			d.i++
		}
		d.j++
		if d.i < len(d.base) && d.base[d.i].ID == c.ID {
			b = &d.base[d.i]
			d.i++
			if *b == *c {
				continue
			}
			return c, b, changeMask(b, c), true
		}
		return c, nil, MaskWhole, true
	}
	return nil, nil, 0, false
}

func (d *rowDiff) nextGone() (uint32, bool) {
	for d.i < len(d.base) {
		id := d.base[d.i].ID
		d.i++
		for d.j < len(d.cur) && d.cur[d.j].ID < id {
			d.j++
		}
		if d.j < len(d.cur) && d.cur[d.j].ID == id {
			continue
		}
		return id, true
	}
	return 0, false
}

// diffRowCounts counts the rows and the gone ids of base → cur in one
// merge of the two views.
func diffRowCounts(base, cur []Row) (rows, gone int) {
	i, j := 0, 0
	for i < len(base) || j < len(cur) {
		switch {
		case j == len(cur) || (i < len(base) && base[i].ID < cur[j].ID):
			gone++
			i++
		case i == len(base) || cur[j].ID < base[i].ID:
			rows++
			j++
		default:
			if base[i] != cur[j] {
				rows++
			}
			i++
			j++
		}
	}
	return rows, gone
}
