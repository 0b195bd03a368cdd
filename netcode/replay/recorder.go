package replay

import (
	"bufio"
	"encoding/binary"
	"io"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode/wire"
)

// Recording failure reasons (Events.Failed, Summary.Failure).
const (
	FailOverflow    = "overflow"     // the queue was full: the writer could not keep up
	FailCreate      = "create_error" // the file could not be created
	FailWrite       = "write_error"  // a write failed
	FailSizeLimit   = "size_limit"   // the file outgrew the store's MaxBytes
	FailInterrupted = "interrupted"  // the store closed before the recording ended
)

// FailReasons lists every failure reason.
var FailReasons = []string{FailOverflow, FailCreate, FailWrite, FailSizeLimit, FailInterrupted}

// Recording records one match. Offer and Close are called from the
// match's publisher (its goroutine) and never block; the file is written
// by the recording's own goroutine.
type Recording struct {
	st    *Store
	match string
	rate  int
	quant wire.Quant
	log   zerolog.Logger
	// traced: the snapshots carry traces; seed and scoreLimit are the
	// match's (the header's, for a re-simulation).
	traced     bool
	seed       uint64
	scoreLimit int

	ch        chan *game.Snapshot
	done      chan struct{}
	closeOnce sync.Once
	closed    atomic.Bool // Close was called (by the publisher, or the store)
	failed    atomic.Pointer[string]

	// Owned by the recording's goroutine.
	w        io.WriteCloser
	bw       *bufio.Writer
	off      int64 // bytes written (the next record's offset)
	flushed  int64 // bytes reported to Events.Wrote
	keys     []Keyframe
	seg      []byte    // the segment being filled: its records, uncompressed
	inSeg    []byte    // its inputs records (the inputs block), uncompressed
	inPrev   inputPrev // each player's last input in the segment
	segTick  uint64    // its keyframe's tick
	pend     Summary   // its first and last ticks and times
	z        deflater
	rows     []wire.Row
	prev     []wire.Row
	prevTick uint64
	lastKey  uint64
	keyEvery uint64
	roster   []game.PlayerInfo
	end      *game.Result
	sum      Summary
	rec      []byte
	body     []byte
	enc      TickEncoder
}

// Offer queues a tick for the file. It never blocks: when the queue is
// full the recording ends (reason FailOverflow) and the match goes on.
// Called from the match goroutine.
func (r *Recording) Offer(snap *game.Snapshot) {
	if r == nil || r.failed.Load() != nil {
		return
	}
	select {
	case r.ch <- snap:
	default:
		r.fail(FailOverflow, nil)
	}
}

// Close ends the recording after the ticks already offered. It does not
// wait for the file to be written (Store.Close does).
func (r *Recording) Close() {
	if r != nil {
		r.closeOnce.Do(func() {
			r.closed.Store(true)
			close(r.done)
		})
	}
}

// Failure returns why the recording stopped early ("" if it has not).
func (r *Recording) Failure() string {
	if p := r.failed.Load(); p != nil {
		return *p
	}
	return ""
}

// fail records the first failure: logged once and counted.
func (r *Recording) fail(reason string, err error) {
	if !r.failed.CompareAndSwap(nil, &reason) {
		return
	}
	ev := r.log.Warn().Str("reason", reason)
	if err != nil {
		ev = ev.Err(err)
	}
	ev.Msg("replay recording stopped; the match goes on")
	if r.st.cfg.Events != nil {
		r.st.cfg.Events.Failed(reason)
	}
}

func (r *Recording) run() {
	defer r.st.recordingDone(r)
	for {
		select {
		case snap := <-r.ch:
			r.write(snap)
		case <-r.done:
			for {
				select {
				case snap := <-r.ch:
					r.write(snap)
					continue
				default:
				}
				r.finish()
				return
			}
		}
		if r.failed.Load() != nil {
			r.finish()
			<-r.done // the publisher still closes us; nothing more is written
			return
		}
	}
}

// write appends one tick to the segment being filled: a new segment
// (restated roster, keyframe) every keyEvery ticks, otherwise a delta from
// the tick before; a changed roster and the result go just before their
// tick, the tick's inputs (delta-coded against the segment's earlier
// inputs) in the segment's inputs block. A segment is compressed and
// written whole when the next one starts (a crash loses at most the one
// being filled).
func (r *Recording) write(snap *game.Snapshot) {
	if r.failed.Load() != nil {
		return
	}
	if r.w == nil && !r.create(snap) {
		return
	}
	r.rows = r.quant.AppendRows(r.rows[:0], snap.Entities) // as stream.Push does: the same rows
	key := r.prevTick == 0 || snap.Tick != r.prevTick+1 || snap.Tick-r.lastKey >= r.keyEvery ||
		len(r.seg) >= segmentLimit || len(r.inSeg) >= segmentLimit
	if key {
		if !r.emit() {
			return
		}
		r.segTick = snap.Tick
		r.lastKey = snap.Tick
		if r.inPrev == nil {
			r.inPrev = inputPrev{}
		}
		clear(r.inPrev) // a block decodes on its own
	}
	if snap.Roster != nil {
		r.roster = snap.Roster
	}
	if snap.End != nil {
		r.end = snap.End
	}
	if r.traced && snap.Trace != nil {
		sum := game.Checksum(snap.Entities, snap.Events)
		r.inSeg = appendRecord(r.inSeg, KindInputs, appendInputs(r.body[:0], snap.Tick, sum, snap.Trace, r.inPrev))
	}
	var base uint64
	if !key {
		base = r.prevTick
	}
	// The roster, the result and the tick: the records a relay sends too.
	r.seg = r.enc.Append(r.seg, snap, r.rows, r.roster, base, r.prev)
	if r.pend.FirstTick == 0 {
		r.pend.FirstTick, r.pend.FirstTime = snap.Tick, snap.Time
	}
	r.pend.LastTick, r.pend.LastTime = snap.Tick, snap.Time
	r.prev, r.rows = r.rows, r.prev
	r.prevTick = snap.Tick
}

// emit compresses the segment being filled into one record, writes it and
// flushes the file: every segment before the next is on disk. Its inputs
// records, if any, follow it in a compressed block of their own. False
// when the recording failed.
func (r *Recording) emit() bool {
	if len(r.seg) > 0 {
		rec := appendRecord(r.rec[:0], KindSegment, r.z.compress(r.seg))
		if len(r.inSeg) > 0 {
			rec = appendRecord(rec, KindInputsBlock, r.z.compress(r.inSeg))
		}
		r.rec = rec
		if r.off+int64(len(rec)) > r.st.cfg.MaxBytes {
			r.fail(FailSizeLimit, nil)
			return false
		}
		if _, err := r.bw.Write(rec); err != nil {
			r.fail(FailWrite, err)
			return false
		}
		r.keys = append(r.keys, Keyframe{Tick: r.segTick, Offset: r.off})
		r.off += int64(len(rec))
		if r.sum.FirstTick == 0 {
			r.sum.FirstTick, r.sum.FirstTime = r.pend.FirstTick, r.pend.FirstTime
		}
		r.sum.LastTick, r.sum.LastTime = r.pend.LastTick, r.pend.LastTime
		r.pend = Summary{}
		r.seg, r.inSeg = r.seg[:0], r.inSeg[:0]
	}
	if err := r.bw.Flush(); err != nil {
		r.fail(FailWrite, err)
		return false
	}
	r.report()
	return true
}

// create opens the file and writes its head and header.
func (r *Recording) create(snap *game.Snapshot) bool {
	w, err := r.st.create(r.match)
	if err != nil {
		r.fail(FailCreate, err)
		return false
	}
	r.w = w
	r.bw = bufio.NewWriterSize(w, 8<<10) // a segment is written whole, then flushed
	b := appendFileHead(nil)
	b = appendRecord(b, KindHeader, appendHeader(nil, &Header{
		Match: r.match, Rate: r.rate, Quant: r.quant, Started: snap.Time, KeyEvery: r.keyEvery,
		Traced: r.traced, Seed: r.seed, ScoreLimit: r.scoreLimit,
	}))
	if _, err := r.bw.Write(b); err != nil {
		r.fail(FailWrite, err)
		return false
	}
	r.off = int64(len(b))
	return true
}

// report tells Events the bytes flushed since the last report.
func (r *Recording) report() {
	if r.st.cfg.Events != nil && r.off > r.flushed {
		r.st.cfg.Events.Wrote(int(r.off - r.flushed))
	}
	r.flushed = r.off
}

// finish writes the index and the tail and closes the file.
func (r *Recording) finish() {
	if r.w == nil {
		return
	}
	defer func() { r.w = nil }()
	if f := r.Failure(); f != FailWrite && f != FailSizeLimit {
		r.emit() // the last segment (a failure here is recorded and counted)
	}
	if r.sum.FirstTick != 0 {
		s := r.sum
		s.Players, s.Winner, s.Reason = players(r.roster, r.prev, r.end)
		s.Failure = r.Failure()
		s.Complete = s.Failure == ""
		b := appendRecord(nil, KindIndex, appendIndex(nil, &s, r.keys))
		b = binary.LittleEndian.AppendUint64(b, uint64(r.off))
		b = append(b, tailMagic...)
		if _, err := r.bw.Write(b); err == nil {
			r.off += int64(len(b))
		}
	}
	err := r.bw.Flush()
	if cerr := r.w.Close(); err == nil {
		err = cerr
	}
	r.report()
	if err != nil {
		r.fail(FailWrite, err)
		return
	}
	if r.Failure() == "" {
		if r.st.cfg.Events != nil {
			r.st.cfg.Events.Recorded()
		}
		r.log.Debug().Int64("bytes", r.off).Uint64("ticks", r.sum.LastTick-r.sum.FirstTick+1).Msg("replay recorded")
	}
}
