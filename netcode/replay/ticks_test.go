package replay

import (
	"errors"
	"slices"
	"testing"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode/wire"
)

// TestTickCodec: ticks written by a TickEncoder (a keyframe, then deltas,
// with roster changes and the end) decode to the same rows, roster and
// result; a delta after a missed tick is ErrNoBaseline and leaves the
// decoder able to go on from its last tick; a keyframe restarts it.
func TestTickCodec(t *testing.T) {
	snaps := arenaMatch(3, 4, 20, 120)
	q := wire.NewQuant(game.Precision{})
	var enc TickEncoder
	dec := NewTickDecoder("m1")
	var prevRows []wire.Row
	var prevTick uint64
	var roster []game.PlayerInfo
	rowsOf := map[uint64][]wire.Row{}
	var got []*Tick
	for i, s := range snaps {
		rows := q.AppendRows(nil, s.Entities)
		rowsOf[s.Tick] = rows
		if s.Roster != nil {
			roster = s.Roster
		}
		base := prevTick
		if i == 0 || i == 60 {
			base = 0 // keyframes
		}
		b := enc.Append(nil, s, rows, roster, base, prevRows)
		prevRows, prevTick = rows, s.Tick
		if i == 30 { // missed by the decoder
			continue
		}
		err := dec.Decode(b, func(t *Tick) { got = append(got, t) })
		switch {
		case i == 31:
			if !errors.Is(err, ErrNoBaseline) || !errors.Is(err, ErrTruncated) {
				t.Fatalf("tick %d after a gap: %v, want ErrNoBaseline", s.Tick, err)
			}
			if dec.Last() != snaps[29].Tick {
				t.Fatalf("after ErrNoBaseline Last = %d, want %d", dec.Last(), snaps[29].Tick)
			}
			// The missed tick and this one, late: the decoder goes on.
			miss := enc.Append(nil, snaps[30], rowsOf[snaps[30].Tick], roster, snaps[29].Tick, rowsOf[snaps[29].Tick])
			again := enc.Append(miss, s, rows, roster, snaps[30].Tick, rowsOf[snaps[30].Tick])
			if err := dec.Decode(again, func(t *Tick) { got = append(got, t) }); err != nil {
				t.Fatalf("catch-up after the gap: %v", err)
			}
		case err != nil:
			t.Fatalf("tick %d: %v", s.Tick, err)
		}
	}
	if len(got) != len(snaps) {
		t.Fatalf("decoded %d ticks, want %d", len(got), len(snaps))
	}
	var ended bool
	for i, g := range got {
		s := snaps[i]
		if g.Snap.Tick != s.Tick || g.Snap.Match != "m1" || g.Snap.State != s.State || g.Snap.Time.UnixMilli() != s.Time.UnixMilli() {
			t.Fatalf("tick %d: header %+v", s.Tick, g.Snap)
		}
		if !slices.Equal(g.Rows, rowsOf[s.Tick]) {
			t.Fatalf("tick %d: rows differ", s.Tick)
		}
		if (s.Roster != nil) != (g.Snap.Roster != nil) || (s.Roster != nil && !slices.Equal(s.Roster, g.Snap.Roster)) {
			t.Fatalf("tick %d: roster change %v, want %v", s.Tick, g.Snap.Roster, s.Roster)
		}
		if g.Keyframe != (i == 0 || i == 60) {
			t.Fatalf("tick %d: keyframe %v", s.Tick, g.Keyframe)
		}
		if s.End != nil {
			ended = g.Snap.End != nil && g.Snap.End.Reason == s.End.Reason
		}
	}
	if snaps[len(snaps)-1].End != nil && !ended {
		t.Fatal("the result was not decoded")
	}
	// A fresh decoder refuses a delta and takes a keyframe.
	d2 := NewTickDecoder("m1")
	last := snaps[len(snaps)-1]
	lr := rowsOf[last.Tick]
	if err := d2.Decode(enc.Append(nil, last, lr, roster, last.Tick-1, rowsOf[last.Tick-1]), func(*Tick) {}); !errors.Is(err, ErrNoBaseline) {
		t.Fatalf("a delta first: %v", err)
	}
	var k *Tick
	if err := d2.Decode(enc.Append(nil, last, lr, roster, 0, nil), func(t *Tick) { k = t }); err != nil || k == nil || !k.Keyframe || !slices.Equal(k.Roster, roster) {
		t.Fatalf("a keyframe: %v %+v", err, k)
	}
	d2.Reset()
	if d2.Last() != 0 {
		t.Fatal("Reset kept the last tick")
	}
	if err := d2.Decode([]byte{KindDelta, 1, 0}, func(*Tick) {}); err == nil || !errors.Is(err, ErrFormat) {
		t.Fatalf("a cut record: %v", err)
	}
}
