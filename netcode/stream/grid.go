package stream

import (
	"slices"

	"github.com/tickstream/tickstream/netcode/wire"
)

// grid is a tick's spatial index for interest queries: the entities
// bucketed by square cells of the interest radius, so that a query looks
// at the 3×3 cells around a point instead of every entity. Built once per
// tick, by the first player that needs it, and shared.
type grid struct {
	cells []cellItem // sorted by (cell, index)
	n     int        // distinct cells
}

type cellItem struct {
	cell uint64
	idx  int32
}

func cellOf(x, y int32, r int64) (int64, int64) {
	return floorDiv(int64(x), r), floorDiv(int64(y), r)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && (a < 0) {
		q--
	}
	return q
}

func cellKey(cx, cy int64) uint64 { return uint64(uint32(int32(cx)))<<32 | uint64(uint32(int32(cy))) }

func (e *entry) gridFor(r int64) *grid {
	e.gridOnce.Do(func() {
		items := make([]cellItem, len(e.rows))
		for i := range e.rows {
			cx, cy := cellOf(e.rows[i].F[wire.FieldX], e.rows[i].F[wire.FieldY], r)
			items[i] = cellItem{cell: cellKey(cx, cy), idx: int32(i)}
		}
		slices.SortFunc(items, func(a, b cellItem) int {
			switch {
			case a.cell < b.cell:
				return -1
			case a.cell > b.cell:
				return 1
			}
			return int(a.idx - b.idx)
		})
		e.grid.cells = items
		for i := range items {
			if i == 0 || items[i].cell != items[i-1].cell {
				e.grid.n++
			}
		}
	})
	return &e.grid
}

// viewOf appends to dst the indices (into e.rows, ascending, so in id
// order) of the rows that player id sees at this tick: every entity within
// r (wire units, Euclidean, r > 0) of its avatar, which is always
// included. A player without an avatar sees nothing.
func (e *entry) viewOf(dst []int32, id uint32, r int64) []int32 {
	me, ok := findRow(e.rows, id)
	if !ok {
		return dst
	}
	g := e.gridFor(r)
	px, py := int64(e.rows[me].F[wire.FieldX]), int64(e.rows[me].F[wire.FieldY])
	r2 := r * r
	if g.n <= 9 {
		// The whole world lies in no more cells than a query visits (a
		// small world for its radius): the same entities, in id order,
		// without the lookups and the sort.
		for i := range e.rows {
			ddx, ddy := int64(e.rows[i].F[wire.FieldX])-px, int64(e.rows[i].F[wire.FieldY])-py
			if ddx*ddx+ddy*ddy <= r2 {
				dst = append(dst, int32(i))
			}
		}
		return dst
	}
	cx, cy := cellOf(int32(px), int32(py), r)
	start := len(dst)
	for dx := int64(-1); dx <= 1; dx++ {
		for dy := int64(-1); dy <= 1; dy++ {
			k := cellKey(cx+dx, cy+dy)
			i, _ := slices.BinarySearchFunc(g.cells, k, func(c cellItem, k uint64) int {
				switch {
				case c.cell < k:
					return -1
				case c.cell > k:
					return 1
				}
				return 0
			})
			for ; i < len(g.cells) && g.cells[i].cell == k; i++ {
				row := &e.rows[g.cells[i].idx]
				ddx, ddy := int64(row.F[wire.FieldX])-px, int64(row.F[wire.FieldY])-py
				if ddx*ddx+ddy*ddy <= r2 {
					dst = append(dst, g.cells[i].idx)
				}
			}
		}
	}
	slices.Sort(dst[start:])
	return dst
}

// inView reports whether the view (indices into rows, ascending) holds id.
func inView(rows []wire.Row, view []int32, id uint32) bool {
	_, ok := slices.BinarySearchFunc(view, id, func(i int32, id uint32) int {
		switch {
		case rows[i].ID < id:
			return -1
		case rows[i].ID > id:
			return 1
		}
		return 0
	})
	return ok
}

// findRow finds id in rows sorted by id.
func findRow(rows []wire.Row, id uint32) (int, bool) {
	return slices.BinarySearchFunc(rows, id, func(r wire.Row, id uint32) int {
		switch {
		case r.ID < id:
			return -1
		case r.ID > id:
			return 1
		}
		return 0
	})
}
