package replay

import (
	"fmt"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode/wire"
)

// Tick records outside a file.
//
// A recording's segment is a run of tick records: for each tick, the
// roster (when it changed at the tick, or restated before a keyframe), the
// result (on the tick the match ended) and the tick itself (a keyframe, or
// a delta from the tick before). TickEncoder writes these records and
// TickDecoder reads them back, with no file around them: the spectator
// relay (netcode/relay) sends live ticks between nodes in this encoding,
// so that a match's ticks have one encoding whether they go to a file or
// to another node.

// ErrNoBaseline is returned by TickDecoder.Decode for a delta whose
// baseline is not the tick decoded before it (a tick was missed). It wraps
// ErrTruncated.
var ErrNoBaseline = fmt.Errorf("%w: a delta without its baseline", ErrTruncated)

// TickEncoder appends ticks as tick records. The zero value is ready; it
// keeps a scratch buffer between calls, so one goroutine uses it.
type TickEncoder struct {
	body []byte
}

// Append appends the records of one tick to dst and returns it: rows are
// the tick's entities in wire units (sorted by id), roster the roster as
// of the tick. base 0 makes a keyframe (the roster restated first);
// otherwise the tick is a delta from tick base, whose rows are baseRows.
// A changed roster (snap.Roster) and the result (snap.End) go before the
// tick, as in a recording.
func (e *TickEncoder) Append(dst []byte, snap *game.Snapshot, rows []wire.Row, roster []game.PlayerInfo, base uint64, baseRows []wire.Row) []byte {
	if snap.Roster != nil {
		dst = appendRecord(dst, KindRoster, appendRoster(e.body[:0], true, snap.Roster))
	} else if base == 0 {
		dst = appendRecord(dst, KindRoster, appendRoster(e.body[:0], false, roster))
	}
	if snap.End != nil {
		dst = appendRecord(dst, KindEnd, appendEnd(e.body[:0], snap.End))
	}
	h := wire.SnapHead{Tick: snap.Tick, Base: base, Time: snap.Time.UnixMilli(), State: snap.State, Left: snap.Left.Milliseconds()}
	kind := KindDelta
	if base == 0 {
		kind, baseRows = KindKeyframe, nil
	}
	e.body = wire.AppendSnapBody(e.body[:0], h, baseRows, rows, [][]game.Event{snap.Events})
	return appendRecord(dst, kind, e.body)
}

// TickDecoder reads tick records that a TickEncoder (or a recording)
// wrote, for one match, keeping what a delta needs: the tick before and
// the roster. One goroutine uses it.
type TickDecoder struct {
	r  Reader
	ts tickScanner
}

// NewTickDecoder returns a decoder of match's ticks (the snapshots it
// returns carry match as their Match).
func NewTickDecoder(match string) *TickDecoder {
	d := &TickDecoder{r: Reader{Header: Header{Match: match}}}
	d.ts = tickScanner{r: &d.r, segStart: -1, noBase: ErrNoBaseline}
	return d
}

// Decode reads the records in b and calls fn with each tick, in order.
// A delta whose baseline is not the tick decoded before it stops it with
// ErrNoBaseline, and the decoder is as it was before the call (a keyframe,
// or a delta from its last tick, continues); any other bad record stops it
// with an error wrapping ErrTruncated. The ticks given to fn before an
// error are good. A Tick and its rows are fn's to keep.
func (d *TickDecoder) Decode(b []byte, fn func(*Tick)) error {
	ts := &d.ts
	roster, changed, end := ts.roster, ts.changed, ts.end
	ts.fn = func(t *Tick, _ int64) bool { fn(t); return true }
	defer func() { ts.fn = nil }()
	for len(b) > 0 {
		kind, payload, n, ok := parseRecord(b)
		if !ok || kind == KindSegment || kind == KindInputsBlock {
			return formatErr("bad tick record")
		}
		b = b[n:]
		prev := ts.prev
		if _, err := ts.record(kind, payload, -1); err != nil {
			if err == ErrNoBaseline && ts.prev == prev {
				ts.roster, ts.changed, ts.end = roster, changed, end
			}
			return err
		}
		if ts.prev != prev {
			roster, changed, end = ts.roster, ts.changed, ts.end
		}
	}
	return nil
}

// Last is the last tick decoded (0: none since the start or Reset).
func (d *TickDecoder) Last() uint64 {
	if d.ts.prev == nil {
		return 0
	}
	return d.ts.prev.Snap.Tick
}

// Reset forgets the ticks decoded: the next tick must be a keyframe.
func (d *TickDecoder) Reset() {
	d.ts.prev, d.ts.changed, d.ts.end, d.ts.trace, d.ts.sum = nil, false, nil, nil, 0
}
