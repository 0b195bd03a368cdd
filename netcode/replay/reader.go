package replay

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode/wire"
)

// ErrTruncated is returned by Scan when it stopped at a record that is
// cut short, fails its checksum or does not decode: every tick delivered
// before it is good, nothing after it is read.
var ErrTruncated = errors.New("replay: file cut short or corrupted")

// Tick is one tick read back from a file: what the live stream held.
type Tick struct {
	// Snap has the tick, time (ms), state, time left, events, the roster
	// where it changed and the result on the tick the match ended; its
	// Entities are nil (Rows holds them).
	Snap *game.Snapshot
	// Rows are the entities in wire units, sorted by id.
	Rows []wire.Row
	// Keyframe: the tick was stored whole (a segment starts here).
	Keyframe bool
	// Roster is the roster as of this tick.
	Roster []game.PlayerInfo
	// Checksum is the recorded game.Checksum of the tick's world, valid
	// when Snap.Trace (what the tick's simulation was given) is non-nil.
	Checksum uint64
}

// Reader reads one replay file: Open (or NewReader) reads the header and
// the index (or rebuilds them by a scan when the file has no index: a
// recording cut short by a crash), Scan reads ticks from a keyframe. A
// Reader is not safe for concurrent use.
type Reader struct {
	ra        io.ReaderAt
	closer    io.Closer
	size      int64
	dataStart int64 // the first record after the header
	dataEnd   int64 // the index record's offset, or the size
	version   uint16

	Header    Header
	Summary   Summary
	Keyframes []Keyframe
	// Indexed reports whether the file ends with a valid index (it was
	// closed by its recorder); otherwise Summary and Keyframes come from a
	// scan, and Summary.Complete is false.
	Indexed bool
	// Records counts the records read by this reader, if set (Open's
	// caller may share one counter between readers).
	Records *atomic.Int64
}

// Open opens a replay file.
func Open(path string) (*Reader, error) {
	r, err := openFile(path, nil)
	var pe *fs.PathError
	if err != nil && !errors.As(err, &pe) { // a path error names the file already
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, err
}

// openFile opens a replay file whose reader counts its records in records
// (nil: not counted).
func openFile(path string, records *atomic.Int64) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	r := &Reader{ra: f, closer: f, size: st.Size(), Records: records}
	if err := r.init(); err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

// NewReader reads the replay in ra, size bytes long.
func NewReader(ra io.ReaderAt, size int64) (*Reader, error) {
	r := &Reader{ra: ra, size: size}
	if err := r.init(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Reader) init() error {
	ra, size := r.ra, r.size
	r.dataEnd = size
	head := make([]byte, fileHeadLen+recHeadLen)
	if size < int64(len(head)) {
		return formatErr("too short")
	}
	if _, err := ra.ReadAt(head, 0); err != nil {
		return err
	}
	if string(head[:len(Magic)]) != Magic {
		return formatErr("bad magic")
	}
	if v := binary.LittleEndian.Uint16(head[len(Magic):]); v == 0 || v > Version {
		return formatErr("version %d (this reader knows %d)", v, Version)
	} else {
		r.version = v
	}
	kind, payload, n, err := r.recordAt(int64(fileHeadLen), size)
	if err != nil {
		return err
	}
	if kind != KindHeader {
		return formatErr("no header record")
	}
	if r.Header, err = parseHeader(payload); err != nil {
		return err
	}
	r.dataStart = int64(fileHeadLen) + int64(n)
	if r.readIndex() {
		return nil
	}
	return r.rebuild()
}

// Close closes the file Open opened.
func (r *Reader) Close() error {
	if r.closer != nil {
		return r.closer.Close()
	}
	return nil
}

// Size is the file's length in bytes.
func (r *Reader) Size() int64 { return r.size }

// recordAt reads the record at off, which must end by end.
func (r *Reader) recordAt(off, end int64) (byte, []byte, int, error) {
	var h [recHeadLen]byte
	if end-off < recHeadLen+recTrailerLen {
		return 0, nil, 0, ErrTruncated
	}
	if _, err := r.ra.ReadAt(h[:], off); err != nil {
		return 0, nil, 0, ErrTruncated
	}
	l := int64(binary.LittleEndian.Uint32(h[1:]))
	if l > MaxRecord || l > end-off-recHeadLen-recTrailerLen {
		return 0, nil, 0, ErrTruncated
	}
	b := make([]byte, recHeadLen+l+recTrailerLen)
	if _, err := r.ra.ReadAt(b, off); err != nil {
		return 0, nil, 0, ErrTruncated
	}
	kind, payload, n, ok := parseRecord(b)
	if !ok {
		return 0, nil, 0, ErrTruncated
	}
	r.count()
	return kind, payload, n, nil
}

func (r *Reader) count() {
	if r.Records != nil {
		r.Records.Add(1)
	}
}

// readIndex reads the tail and the index record it points at.
func (r *Reader) readIndex() bool {
	if r.size < r.dataStart+tailLen {
		return false
	}
	var t [tailLen]byte
	if _, err := r.ra.ReadAt(t[:], r.size-tailLen); err != nil || string(t[8:]) != tailMagic {
		return false
	}
	off := binary.LittleEndian.Uint64(t[:8])
	if off < uint64(r.dataStart) || off > uint64(r.size-tailLen) {
		return false
	}
	kind, payload, n, err := r.recordAt(int64(off), r.size-tailLen)
	if err != nil || kind != KindIndex || int64(off)+int64(n) != r.size-tailLen {
		return false
	}
	s, keys, err := parseIndex(payload)
	if err != nil {
		return false
	}
	for i, k := range keys {
		if k.Offset < r.dataStart || k.Offset >= int64(off) || (i > 0 && (k.Tick <= keys[i-1].Tick || k.Offset <= keys[i-1].Offset)) {
			return false
		}
	}
	r.Summary, r.Keyframes, r.Indexed, r.dataEnd = s, keys, true, int64(off)
	return true
}

// rebuild scans the whole file for the summary and the keyframes: the
// file was not closed by its recorder.
func (r *Reader) rebuild() error {
	var sum summer
	err := r.scan(r.dataStart, false, func(t *Tick, off int64) bool {
		if t.Keyframe {
			r.Keyframes = append(r.Keyframes, Keyframe{Tick: t.Snap.Tick, Offset: off})
		}
		sum.add(t)
		return true
	})
	if err != nil && !errors.Is(err, ErrTruncated) {
		return err
	}
	if sum.ticks == 0 {
		return formatErr("no complete tick")
	}
	r.Summary = sum.summary()
	return nil
}

// Scan calls fn with every tick from the segment that holds tick from
// (the last keyframe at or before it; from 0 or before the first
// keyframe: the start) to the end, until fn returns false. It returns nil
// at the end of the recording, ErrTruncated where a damaged record
// stopped it (the ticks delivered are good), or a read error.
func (r *Reader) Scan(from uint64, fn func(*Tick) bool) error {
	off := r.dataStart
	if i, ok := slices.BinarySearchFunc(r.Keyframes, from, func(k Keyframe, t uint64) int {
		switch {
		case k.Tick < t:
			return -1
		case k.Tick > t:
			return 1
		}
		return 0
	}); ok {
		off = r.Keyframes[i].Offset
	} else if i > 0 {
		off = r.Keyframes[i-1].Offset
	}
	return r.scan(off, true, func(t *Tick, _ int64) bool { return fn(t) })
}

// scanPlayback is Scan without the inputs: in a version 3 file their
// blocks are skipped without being inflated (Tick.Snap.Trace stays nil).
func (r *Reader) scanPlayback(fn func(*Tick) bool) error {
	return r.scan(r.dataStart, false, func(t *Tick, _ int64) bool { return fn(t) })
}

// scan reads records from off to dataEnd. fn gets each tick and the
// offset of its segment's start (for a keyframe: where its segment record
// begins, or in a version 1 file its roster record; -1 for a delta).
// inputs: the ticks get their inputs records (in a version 3 file, from
// the block after their segment; without it, inputs blocks are skipped
// unread).
func (r *Reader) scan(off int64, inputs bool, fn func(*Tick, int64) bool) error {
	br := bufio.NewReaderSize(io.NewSectionReader(r.ra, off, r.dataEnd-off), 64<<10)
	ts := tickScanner{r: r, fn: fn, segStart: off, inline: r.version < 3}
	// A segment and its inputs block are read as one: when the block is
	// damaged or cut short, the segment's ticks are not delivered either.
	inputs = inputs && r.Header.Traced
	var (
		pos       = off
		rec       []byte
		inner     []byte
		block     []byte
		remaining = r.dataEnd - off
		peeked    bool // h holds the head of the next record, already read
		h         [recHeadLen]byte
	)
	// next reads the next top-level record into rec; skip: an inputs block
	// is discarded unchecked. It returns the kind, the payload (nil when
	// skipped) and the record's offset; io.EOF at the end.
	next := func(skipBlocks bool) (byte, []byte, int64, error) {
		if !peeked {
			n, err := io.ReadFull(br, h[:])
			if err == io.EOF && n == 0 {
				return 0, nil, 0, io.EOF
			}
			if err != nil {
				return 0, nil, 0, ErrTruncated
			}
		}
		peeked = false
		l := int64(binary.LittleEndian.Uint32(h[1:]))
		if l > MaxRecord || l+recHeadLen+recTrailerLen > remaining {
			return 0, nil, 0, ErrTruncated
		}
		recOff := pos
		pos += recHeadLen + l + recTrailerLen
		remaining -= recHeadLen + l + recTrailerLen
		if skipBlocks && h[0] == KindInputsBlock {
			if _, err := br.Discard(int(l) + recTrailerLen); err != nil {
				return 0, nil, 0, ErrTruncated
			}
			return h[0], nil, recOff, nil
		}
		rec = append(rec[:0], h[:]...)
		rec = slices.Grow(rec, int(l)+recTrailerLen)[:recHeadLen+int(l)+recTrailerLen]
		if _, err := io.ReadFull(br, rec[recHeadLen:]); err != nil {
			return 0, nil, 0, ErrTruncated
		}
		end0 := recHeadLen + int(l)
		if crc32.Checksum(rec[:end0], castagnoli) != binary.LittleEndian.Uint32(rec[end0:]) {
			return 0, nil, 0, ErrTruncated
		}
		r.count()
		return h[0], rec[recHeadLen:end0], recOff, nil
	}
	if !inputs {
		return ts.playback(next, &pos)
	}
	for {
		kind, payload, recOff, err := next(!inputs)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if kind == KindInputsBlock {
			continue // read with its segment, or not wanted
		}
		if kind != KindSegment {
			if stop, err := ts.record(kind, payload, pos); stop || err != nil {
				return err
			}
			continue
		}
		// A segment: its records, inflated, each framed and checked.
		var ok bool
		if inner, ok = inflate(inner, payload); !ok {
			return ErrTruncated
		}
		ts.segStart = recOff
		ts.block = ts.block[:0]
		if inputs && !ts.inline {
			// Its inputs block, if the next record is one.
			n, err := io.ReadFull(br, h[:])
			switch {
			case err == nil:
				peeked = true
			case !(err == io.EOF && n == 0):
				return ErrTruncated
			}
			if peeked && h[0] == KindInputsBlock {
				_, bp, _, err := next(false)
				if err != nil {
					return err
				}
				if block, ok = inflate(block, bp); !ok {
					return ErrTruncated
				}
				if err := ts.readBlock(block); err != nil {
					return err
				}
			}
		}
		for b := inner; len(b) > 0; {
			kind, payload, n, ok := parseRecord(b)
			if !ok || kind == KindSegment || kind == KindInputsBlock {
				return ErrTruncated
			}
			b = b[n:]
			r.count()
			if stop, err := ts.record(kind, payload, -1); stop || err != nil {
				return err
			}
		}
		ts.segStart = pos
	}
}

// playback is scan's loop without inputs, in two stages: a goroutine
// reads the records and inflates the segments while this one decodes the
// ticks of the previous segment (on two cores a cold load takes about the
// longer of the two instead of their sum). next and pos are scan's reader
// and position, owned by that goroutine from here on.
func (s *tickScanner) playback(next func(bool) (byte, []byte, int64, error), pos *int64) error {
	type item struct {
		kind        byte
		payload     []byte // a segment: its records, inflated; else the record's payload
		recOff, end int64
		err         error
	}
	items := make(chan item, 4)
	done := make(chan struct{})
	defer close(done)
	go func() {
		defer close(items)
		for {
			kind, payload, recOff, err := next(true)
			it := item{kind: kind, recOff: recOff, end: *pos, err: err}
			if err == nil && kind != KindInputsBlock {
				if kind == KindSegment {
					var ok bool
					if it.payload, ok = inflate(nil, payload); !ok {
						it.err = ErrTruncated
					}
				} else {
					it.payload = bytes.Clone(payload)
				}
			}
			select {
			case items <- it:
			case <-done:
				return
			}
			if it.err != nil {
				return
			}
		}
	}()
	for it := range items {
		switch {
		case it.err == io.EOF:
			return nil
		case it.err != nil:
			return it.err
		case it.kind == KindInputsBlock:
			continue
		case it.kind != KindSegment:
			if stop, err := s.record(it.kind, it.payload, it.end); stop || err != nil {
				return err
			}
			continue
		}
		s.segStart = it.recOff
		s.block = s.block[:0]
		for b := it.payload; len(b) > 0; {
			kind, payload, n, ok := parseRecord(b)
			if !ok || kind == KindSegment || kind == KindInputsBlock {
				return ErrTruncated
			}
			b = b[n:]
			s.r.count()
			if stop, err := s.record(kind, payload, -1); stop || err != nil {
				return err
			}
		}
		s.segStart = it.end
	}
	return nil
}

// blockInputs is one inputs record of a version 3 inputs block.
type blockInputs struct {
	tick, sum uint64
	trace     *game.Trace
}

// readBlock parses the inputs records of a segment's inputs block.
func (s *tickScanner) readBlock(b []byte) error {
	prev := inputPrev{}
	for len(b) > 0 {
		kind, payload, n, ok := parseRecord(b)
		if !ok {
			return ErrTruncated
		}
		b = b[n:]
		s.r.count()
		if kind != KindInputs {
			continue // a later kind
		}
		tick, sum, tr, err := parseInputs(payload, prev)
		if err != nil || (len(s.block) > 0 && tick <= s.block[len(s.block)-1].tick) {
			return ErrTruncated
		}
		s.block = append(s.block, blockInputs{tick: tick, sum: sum, trace: tr})
	}
	return nil
}

// tickScanner turns records into ticks.
type tickScanner struct {
	r        *Reader
	fn       func(*Tick, int64) bool
	segStart int64 // where the next keyframe's segment starts
	frame    wire.SnapFrame
	buf      []byte
	roster   []game.PlayerInfo
	changed  bool
	end      *game.Result
	trace    *game.Trace
	sum      uint64
	prev     *Tick
	inline   bool          // version 1 or 2: inputs records among the tick records
	block    []blockInputs // version 3: the segment's inputs, by tick
	noBase   error         // returned for a delta without its baseline (nil: ErrTruncated)
}

// record handles one record; next is the offset after it at the top level
// (a version 1 file: where the next tick's records start), -1 inside a
// segment. stop: fn asked to stop (err nil) or the record is bad.
func (s *tickScanner) record(kind byte, payload []byte, next int64) (stop bool, err error) {
	switch kind {
	case KindRoster:
		c, ro, err := parseRoster(payload)
		if err != nil {
			return true, ErrTruncated
		}
		s.roster, s.changed = ro, s.changed || c
	case KindEnd:
		res, err := parseEnd(payload)
		if err != nil {
			return true, ErrTruncated
		}
		s.end = res
	case KindInputs:
		if !s.inline {
			return true, ErrTruncated // version 3: only in inputs blocks
		}
		_, sum, tr, err := parseInputs(payload, nil)
		if err != nil {
			return true, ErrTruncated
		}
		s.sum, s.trace = sum, tr
	case KindKeyframe, KindDelta:
		key := kind == KindKeyframe
		s.buf = wire.AppendSnapPrefix(s.buf[:0], 0)
		s.buf = append(s.buf, payload...)
		frame := &s.frame
		if wire.DecodeSnap(s.buf, frame) != nil || frame.Keyframe() != key {
			return true, ErrTruncated
		}
		var base []wire.Row
		prev := s.prev
		switch {
		case key:
		case prev == nil || frame.Base != prev.Snap.Tick || frame.Tick != frame.Base+1:
			if s.noBase != nil {
				return true, s.noBase
			}
			return true, ErrTruncated // a delta without its baseline
		default:
			base = prev.Rows
		}
		if prev != nil && frame.Tick <= prev.Snap.Tick {
			return true, ErrTruncated
		}
		for len(s.block) > 0 && s.block[0].tick < frame.Tick {
			s.block = s.block[1:] // inputs of no tick in the segment: ignored
		}
		if len(s.block) > 0 && s.block[0].tick == frame.Tick {
			s.sum, s.trace = s.block[0].sum, s.block[0].trace
			s.block = s.block[1:]
		}
		rows, err := wire.ApplyRows(make([]wire.Row, 0, len(frame.Rows)+len(base)), base, frame.Rows, frame.Gone)
		if err != nil {
			return true, ErrTruncated
		}
		snap := &game.Snapshot{
			Match: s.r.Header.Match, Tick: frame.Tick, Time: time.UnixMilli(frame.Time),
			State: game.State(frame.State), Left: time.Duration(frame.Left) * time.Millisecond, End: s.end,
			Trace: s.trace,
		}
		if len(frame.Ev) > 0 {
			snap.Events = make([]game.Event, len(frame.Ev))
			for i, e := range frame.Ev {
				snap.Events[i] = game.Event{Kind: e.Kind, A: e.A, B: e.B}
			}
		}
		if s.changed {
			snap.Roster = s.roster
		}
		t := &Tick{Snap: snap, Rows: rows, Keyframe: key, Roster: s.roster, Checksum: s.sum}
		so := s.segStart
		if !key {
			so = -1
		}
		if !s.fn(t, so) {
			return true, nil
		}
		s.prev, s.changed, s.end, s.trace, s.sum = t, false, nil, nil, 0
		if next >= 0 {
			s.segStart = next // version 1: the next tick's records start here
		}
	case KindHeader, KindIndex, KindSegment:
		return true, ErrTruncated // only first and last; segments only at the top level
	default:
		// A kind this reader does not know: skipped.
	}
	return false, nil
}

// summer accumulates a summary from ticks.
type summer struct {
	ticks       int
	first, last *Tick
	end         *game.Result
}

func (s *summer) add(t *Tick) {
	if s.ticks == 0 {
		s.first = t
	}
	s.ticks++
	s.last = t
	if t.Snap.End != nil {
		s.end = t.Snap.End
	}
}

func (s *summer) summary() Summary {
	sum := Summary{FirstTick: s.first.Snap.Tick, LastTick: s.last.Snap.Tick, FirstTime: s.first.Snap.Time, LastTime: s.last.Snap.Time}
	sum.Players, sum.Winner, sum.Reason = players(s.last.Roster, s.last.Rows, s.end)
	return sum
}

// players is a replay's listing of players: the result's scores (kills)
// when the match ended, else the last roster with each avatar's score.
func players(roster []game.PlayerInfo, rows []wire.Row, end *game.Result) ([]Player, uint32, string) {
	if end != nil {
		out := make([]Player, len(end.Scores))
		for i, s := range end.Scores {
			out[i] = Player{ID: uint32(s.Player), Name: s.Name, Score: s.Kills}
		}
		return out, uint32(end.Winner), end.Reason
	}
	out := make([]Player, len(roster))
	for i, p := range roster {
		out[i] = Player{ID: uint32(p.ID), Name: p.Name}
		if j, ok := slices.BinarySearchFunc(rows, uint32(p.ID), func(r wire.Row, id uint32) int { return int(r.ID) - int(id) }); ok {
			out[i].Score = int(rows[j].F[wire.FieldScore])
		}
	}
	return out, 0, ""
}
