package wire

import "math"

// ApplyRows applies a decoded snapshot to the view base and appends the
// new view to dst (which must not share memory with base): base without
// the gone ids, whole rows inserted or replacing, delta rows added to the
// base row's fields. It refuses (wrapping ErrBadSnap) a delta row for an id
// not in base, a gone id not in base or that also has a row, rows or gone
// ids not strictly increasing, a bad mask, and a field that would leave
// int32. On error the returned slice is dst[:len(dst)] unchanged in length.
func ApplyRows(dst, base []Row, rows []RowDelta, gone []uint32) ([]Row, error) {
	start := len(dst)
	i, j, k := 0, 0, 0
	for i < len(base) || j < len(rows) {
		if j > 0 && j < len(rows) && rows[j].ID <= rows[j-1].ID {
			return dst[:start], badSnap("row ids not strictly increasing")
		}
		if k < len(gone) {
			if k > 0 && gone[k] <= gone[k-1] {
				return dst[:start], badSnap("gone ids not strictly increasing")
			}
			if i == len(base) || gone[k] < base[i].ID {
				return dst[:start], badSnap("gone id %d not in the baseline", gone[k])
			}
		}
		switch {
		case j == len(rows) || (i < len(base) && base[i].ID < rows[j].ID):
			if k < len(gone) && gone[k] == base[i].ID {
				k++
			} else {
				dst = append(dst, base[i])
			}
			i++
		case i == len(base) || rows[j].ID < base[i].ID:
			d := &rows[j]
			if d.Mask != MaskWhole {
				return dst[:start], badSnap("delta row for id %d not in the baseline", d.ID)
			}
			row, err := wholeRow(d)
			if err != nil {
				return dst[:start], err
			}
			dst = append(dst, row)
			j++
		default: // same id
			d := &rows[j]
			if k < len(gone) && gone[k] == d.ID {
				return dst[:start], badSnap("id %d both gone and sent", d.ID)
			}
			var row Row
			var err error
			if d.Mask == MaskWhole {
				row, err = wholeRow(d)
			} else {
				row, err = deltaRow(&base[i], d)
			}
			if err != nil {
				return dst[:start], err
			}
			dst = append(dst, row)
			i++
			j++
		}
	}
	if k < len(gone) {
		return dst[:start], badSnap("gone id %d not in the baseline", gone[k])
	}
	return dst, nil
}

func wholeRow(d *RowDelta) (Row, error) {
	r := Row{ID: d.ID}
	for i, v := range d.V {
		if v < math.MinInt32 || v > math.MaxInt32 {
			return Row{}, badSnap("field of id %d beyond int32", d.ID)
		}
		r.F[i] = int32(v)
	}
	return r, nil
}

func deltaRow(b *Row, d *RowDelta) (Row, error) {
	if d.Mask == 0 || d.Mask > MaskWhole {
		return Row{}, badSnap("mask %d", d.Mask)
	}
	r := *b
	for i := 0; i < NumFields; i++ {
		if d.Mask&(1<<i) == 0 {
			continue
		}
		v := d.V[i]
		if v < -math.MaxUint32 || v > math.MaxUint32 {
			return Row{}, badSnap("difference of id %d out of range", d.ID)
		}
		v += int64(b.F[i])
		if v < math.MinInt32 || v > math.MaxInt32 {
			return Row{}, badSnap("field of id %d leaves int32", d.ID)
		}
		r.F[i] = int32(v)
	}
	return r, nil
}

// MaxViews bounds the baselines a Views keeps: a server picks its baseline
// among the last ticks it sent (a ring far shorter than this), so a
// client never needs more; the oldest go first beyond it.
const MaxViews = 256

// Views are a client's baselines: the views it applied, by tick. Following
// the protocol's client rule it keeps every view from the baseline of the
// newest delta onward (a keyframe drops none). Not safe for concurrent
// use.
type Views struct {
	ticks []uint64 // increasing
	views [][]Row  // views[i] is the view at ticks[i]
	free  [][]Row  // pruned views, reused
}

// Reset drops every view (a new connection: the server starts again from
// a keyframe).
func (v *Views) Reset() {
	for _, r := range v.views {
		v.free = append(v.free, r[:0])
	}
	v.ticks, v.views = v.ticks[:0], v.views[:0]
}

// Newest returns the newest tick applied (0: none): the tick to
// acknowledge.
func (v *Views) Newest() uint64 {
	if len(v.ticks) == 0 {
		return 0
	}
	return v.ticks[len(v.ticks)-1]
}

// View returns the view at tick, if kept.
func (v *Views) View(tick uint64) ([]Row, bool) {
	for i, t := range v.ticks {
		if t == tick {
			return v.views[i], true
		}
	}
	return nil, false
}

// Len is the number of views kept.
func (v *Views) Len() int { return len(v.ticks) }

// Apply applies f to the view at f.Base (an empty one for a keyframe),
// stores the result at f.Tick, drops the views older than f.Base (a
// delta's; a keyframe drops none, MaxViews bounds them) and
// returns the new view, valid until the next Apply or Reset. It refuses a
// frame whose baseline it does not hold, a tick not newer than the newest
// applied, a baseline not older than the tick, and whatever ApplyRows
// refuses; the views are then unchanged.
func (v *Views) Apply(f *SnapFrame) ([]Row, error) {
	if f.Tick == 0 || f.Tick <= v.Newest() {
		return nil, badSnap("tick %d not after the newest applied (%d)", f.Tick, v.Newest())
	}
	if f.Base >= f.Tick {
		return nil, badSnap("baseline %d not before tick %d", f.Base, f.Tick)
	}
	var base []Row
	if f.Base != 0 {
		var ok bool
		if base, ok = v.View(f.Base); !ok {
			return nil, badSnap("no view at baseline %d", f.Base)
		}
	}
	var buf []Row
	if n := len(v.free); n > 0 {
		buf, v.free = v.free[n-1], v.free[:n-1]
	}
	cur, err := ApplyRows(buf[:0], base, f.Rows, f.Gone)
	if err != nil {
		v.free = append(v.free, buf[:0])
		return nil, err
	}
	// Keep the views from the baseline onward: the server's baselines
	// never go back. A keyframe drops nothing: the server may still base
	// the next delta on a tick acknowledged before it sent the keyframe.
	keep := f.Base
	drop := 0
	for drop < len(v.ticks) && (v.ticks[drop] < keep || len(v.ticks)-drop >= MaxViews) {
		v.free = append(v.free, v.views[drop][:0])
		drop++
	}
	if drop > 0 {
		n := copy(v.ticks, v.ticks[drop:])
		copy(v.views, v.views[drop:])
		clear(v.views[n:])
		v.ticks, v.views = v.ticks[:n], v.views[:n]
	}
	v.ticks = append(v.ticks, f.Tick)
	v.views = append(v.views, cur)
	return cur, nil
}
