package stream

import (
	"sync"

	"github.com/tickstream/tickstream/netcode/wire"
)

// parts is a tick's entity rows pre-encoded (wire.AppendRowPart) against
// one baseline: part i is row i of the entry's rows as a change from the
// baseline's row of the same id (empty when unchanged, or when the
// baseline has no such id: an entity new to a view is written whole, by
// the view). A player's view is then a merge of two index lists and a copy
// per row: each entity's difference is computed once per (tick, baseline),
// not once per player.
type parts struct {
	off []uint32 // part i is buf[off[i]:off[i+1]]
	buf []byte
}

func (p *parts) part(i int32) []byte { return p.buf[p.off[i]:p.off[i+1]] }

// partsCache holds an entry's parts, one set per baseline in use (usually
// one or two: clients that keep up acknowledge the same recent ticks), the
// first ones inline so that a tick allocates only their bytes.
type partsCache struct {
	mu    sync.Mutex
	n     int // inline sets in use
	first [2]baseParts
	more  []*baseParts
}

type baseParts struct {
	base uint64
	parts
}

// partsFrom returns the entry's rows as changes from the baseline entry be.
// The first reader with a new baseline encodes them under the cache's lock
// (the others with that baseline would wait for the same bytes anyway).
func (e *entry) partsFrom(be *entry) *parts {
	base := be.snap.Tick
	c := &e.parts
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := 0; i < c.n; i++ {
		if c.first[i].base == base {
			return &c.first[i].parts
		}
	}
	for _, bp := range c.more {
		if bp.base == base {
			return &bp.parts
		}
	}
	bp := baseParts{base: base, parts: encodeParts(e.rows, be.rows)}
	if c.n < len(c.first) {
		c.first[c.n] = bp
		c.n++
		return &c.first[c.n-1].parts
	}
	c.more = append(c.more, &bp)
	return &bp.parts
}

// scratch is where parts are encoded before they are copied, at their
// exact size, to the entry.
var scratch = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// encodeParts encodes rows against base (both sorted by id).
func encodeParts(rows, base []wire.Row) parts {
	sp := scratch.Get().(*[]byte)
	buf := (*sp)[:0]
	off := make([]uint32, len(rows)+1)
	j := 0
	for i := range rows {
		for j < len(base) && base[j].ID < rows[i].ID {
			j++
		}
		if j < len(base) && base[j].ID == rows[i].ID {
			buf = wire.AppendRowPart(buf, &rows[i], &base[j])
		}
		off[i+1] = uint32(len(buf))
	}
	p := parts{off: off, buf: append([]byte(nil), buf...)}
	*sp = buf
	scratch.Put(sp)
	return p
}
