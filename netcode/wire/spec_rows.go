package wire

import "math"

// SpecRows turns the `ents` and `gone` of a spectator keyframe or delta,
// already parsed into integers (JSON or msgpack), into rows for ApplyRows:
// id deltas summed, values placed by the mask. It refuses what the snap
// decoder refuses (mask, row length, ids not strictly increasing, ranges).
func SpecRows(ents [][]int64, gone []int64, rows []RowDelta, ids []uint32) ([]RowDelta, []uint32, error) {
	rows, ids = rows[:0], ids[:0]
	var id uint64
	for i, e := range ents {
		if len(e) < 2 || e[0] < 0 || e[0] > math.MaxUint32 || (i > 0 && e[0] == 0) || e[1] <= 0 || e[1] > MaskWhole {
			return rows, ids, badSnap("row %d: bad id delta or mask", i)
		}
		if id += uint64(e[0]); id > math.MaxUint32 {
			return rows, ids, badSnap("id beyond uint32")
		}
		d := RowDelta{ID: uint32(id), Mask: uint8(e[1])}
		vals := e[2:]
		if d.Mask == MaskWhole {
			if len(vals) != NumFields {
				return rows, ids, badSnap("whole row of %d values", len(vals))
			}
			copy(d.V[:], vals)
		} else {
			n := 0
			for f := 0; f < NumFields; f++ {
				if d.Mask&(1<<f) != 0 {
					if n == len(vals) {
						return rows, ids, badSnap("row shorter than its mask")
					}
					d.V[f] = vals[n]
					n++
				}
			}
			if n != len(vals) {
				return rows, ids, badSnap("row longer than its mask")
			}
		}
		rows = append(rows, d)
	}
	id = 0
	for i, g := range gone {
		if g < 0 || g > math.MaxUint32 || (i > 0 && g == 0) {
			return rows, ids, badSnap("gone %d: bad id delta", i)
		}
		if id += uint64(g); id > math.MaxUint32 {
			return rows, ids, badSnap("id beyond uint32")
		}
		ids = append(ids, uint32(id))
	}
	return rows, ids, nil
}
