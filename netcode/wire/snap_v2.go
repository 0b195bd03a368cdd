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
	dst = AppendSnapHead(dst, h)
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
	return AppendSnapEvents(dst, evs)
}

// AppendSnapHead appends the first five fields of a snap body: tick, base,
// time, state and left. AppendSnapBody is AppendSnapHead, the rows
// (AppendRowFromPart after an array header), the gone ids
// (AppendGone) and AppendSnapEvents; a writer that caches row parts
// assembles the same bytes from these pieces.
func AppendSnapHead(dst []byte, h SnapHead) []byte {
	dst = appendUint(dst, h.Tick)
	dst = appendUint(dst, h.Base)
	dst = appendInt(dst, h.Time)
	dst = appendUint(dst, uint64(h.State))
	return appendInt(dst, h.Left)
}

// AppendArrayLen appends a msgpack array header of n elements (the
// shortest form).
func AppendArrayLen(dst []byte, n int) []byte { return appendArrayLen(dst, n) }

// AppendGone appends the gone list: the ids (ascending) as differences.
func AppendGone(dst []byte, ids []uint32) []byte {
	dst = appendArrayLen(dst, len(ids))
	var prev uint32
	for _, id := range ids {
		dst = appendUint(dst, uint64(id-prev))
		prev = id
	}
	return dst
}

// AppendSnapEvents appends the ev list: the events of every tick in evs,
// in order, as one list.
func AppendSnapEvents(dst []byte, evs [][]game.Event) []byte {
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

// AppendRowPart appends the part of an entity row that does not depend on
// the previous id in the list: the row's array header, then the mask and
// the values — the whole row c when b is nil, else the fields that differ
// from b as differences; nothing when c equals b (the row is not sent).
// Parts depend only on (c, b), so a stream encodes each entity once per
// (tick, baseline) and every view that holds it copies the part
// (AppendRowFromPart).
func AppendRowPart(dst []byte, c, b *Row) []byte {
	mask := uint8(MaskWhole)
	if b != nil {
		if mask = changeMask(b, c); mask == 0 {
			return dst
		}
	}
	dst = append(dst, rowHeader(mask))
	return appendRowTail(dst, c, b, mask)
}

// AppendRowWhole appends the whole row c: [idDelta, 128, values…].
func AppendRowWhole(dst []byte, idDelta uint32, c *Row) []byte {
	return appendRow(dst, idDelta, c, nil, MaskWhole)
}

// AppendRowFromPart appends the row [idDelta, mask, values…] made of a
// part from AppendRowPart (non-empty).
func AppendRowFromPart(dst []byte, idDelta uint32, part []byte) []byte {
	dst = append(dst, part[0])
	dst = appendUint(dst, uint64(idDelta))
	return append(dst, part[1:]...)
}

// appendRow appends [idDelta, mask, values…]: the whole row c, or the
// fields of mask as differences from b. It is writeRows' row (spectator.go)
// written straight into msgpack bytes: the players' path encodes per
// player per tick and must not allocate, which the treeWriter interface
// would (measured: +1 allocation and +20 % per body). The golden vectors
// and the snap and spectator property tests hold the two to one layout.
func appendRow(dst []byte, idDelta uint32, c, b *Row, mask uint8) []byte {
	dst = append(dst, rowHeader(mask))
	dst = appendUint(dst, uint64(idDelta))
	return appendRowTail(dst, c, b, mask)
}

// rowHeader is the array header of a row with this mask.
func rowHeader(mask uint8) byte {
	if mask == MaskWhole {
		return 0x90 | (2 + NumFields)
	}
	return 0x90 | byte(2+popcount7(mask))
}

// appendRowTail appends a row's mask and values: the whole row c, or the
// fields of mask as differences from b.
func appendRowTail(dst []byte, c, b *Row, mask uint8) []byte {
	if mask == MaskWhole {
		dst = append(dst, 0xcc, MaskWhole) // the shortest form of 128
		for _, v := range c.F {
			dst = appendInt(dst, int64(v))
		}
		return dst
	}
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
