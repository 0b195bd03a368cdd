package replay

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"sync"
	"unicode/utf8"
)

// The file format (docs/protocol.md, "Replays", has the full layout):
//
//	file    = magic "TSREPLAY" · version u16 LE · flags u16 LE · header record · segment* · [index record · tail]
//	record  = kind u8 · length u32 LE · payload · CRC-32C u32 LE of kind, length and payload
//	segment = a record of KindSegment whose payload is raw DEFLATE of its tick records
//	          (roster, end, keyframe, delta: each a record as above, CRC included)
//	          · [a record of KindInputsBlock: raw DEFLATE of the segment's inputs records]
//	tail    = offset u64 LE of the index record · "TSRI"
//
// A segment starts with a keyframe and is written whole, so a crash loses
// at most the segment being filled; the index holds each segment's
// offset. Version 1 files have the tick records at the top level, without
// segments; version 2 files have the inputs records inside the segment,
// each before its tick, with every input whole; version 3 moves them to
// the inputs block (playback skips it without inflating) and delta-codes
// the inputs (inputs.go). This package reads all three and writes version
// 3. A reader skips
// records of a kind it does not know, stops at the first record that is
// cut short or fails its checksum, and without a valid tail rebuilds the
// index by scanning.

// Magic starts every replay file.
const Magic = "TSREPLAY"

// Version is the format version this package writes (2: segments,
// inputs records; 3: inputs blocks, delta-coded inputs). A reader refuses
// a file of a newer version.
const Version = 3

// Ext is the file name extension of a replay: <match id>.tsr.
const Ext = ".tsr"

const (
	fileHeadLen   = len(Magic) + 4
	recHeadLen    = 5 // kind, length
	recTrailerLen = 4 // CRC-32C
	tailLen       = 12
	tailMagic     = "TSRI"
	// MaxRecord bounds a record's payload; a longer length is corruption.
	MaxRecord = 16 << 20
)

// Record kinds. A later kind gets a new number; old readers skip it.
const (
	KindHeader   byte = 1 // match id, rate, quantization, start, keyframe interval (fields)
	KindRoster   byte = 2 // the roster: changed at the next tick, or restated at a segment start
	KindKeyframe byte = 3 // a tick: wire snap body with base 0 (every row whole)
	KindDelta    byte = 4 // a tick: wire snap body against the tick before
	KindEnd      byte = 5 // the match's result
	KindIndex    byte = 6 // summary fields and the keyframe offsets (written at the end)
	KindInputs   byte = 7 // a tick: what its simulation was given, and its world checksum (format 2)
	KindSegment  byte = 8 // compressed tick records from a keyframe (format 2, top level only)
	// KindInputsBlock follows its segment (format 3, top level only): its
	// inputs records, compressed, each starting with its tick.
	KindInputsBlock byte = 9
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrFormat is wrapped by every refusal of a file that is not a readable
// replay (bad magic, newer version, no header record).
var ErrFormat = errors.New("replay: not a readable replay file")

func formatErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrFormat}, args...)...)
}

// appendFileHead appends the magic, the version and the flags.
func appendFileHead(b []byte) []byte {
	b = append(b, Magic...)
	b = binary.LittleEndian.AppendUint16(b, Version)
	return binary.LittleEndian.AppendUint16(b, 0)
}

// appendRecord appends one framed record.
func appendRecord(b []byte, kind byte, payload []byte) []byte {
	start := len(b)
	b = append(b, kind)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(payload)))
	b = append(b, payload...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

// parseRecord reads the record at the start of b. n is its whole length;
// ok is false when b holds no complete, intact record.
func parseRecord(b []byte) (kind byte, payload []byte, n int, ok bool) {
	if len(b) < recHeadLen+recTrailerLen {
		return 0, nil, 0, false
	}
	l := binary.LittleEndian.Uint32(b[1:5])
	if l > MaxRecord || uint64(len(b)) < uint64(recHeadLen+recTrailerLen)+uint64(l) {
		return 0, nil, 0, false
	}
	end := recHeadLen + int(l)
	if crc32.Checksum(b[:end], castagnoli) != binary.LittleEndian.Uint32(b[end:]) {
		return 0, nil, 0, false
	}
	return b[0], b[recHeadLen:end], end + recTrailerLen, true
}

// Fields are tag-length-value: uvarint tag, uvarint length, the bytes.
// Unknown tags are skipped, so a header or an index can grow fields (a
// seed, say) that old readers ignore.

type fieldWriter struct{ b []byte }

func (w *fieldWriter) bytes(tag uint64, v []byte) {
	w.b = binary.AppendUvarint(w.b, tag)
	w.b = binary.AppendUvarint(w.b, uint64(len(v)))
	w.b = append(w.b, v...)
}

func (w *fieldWriter) str(tag uint64, s string) { w.bytes(tag, []byte(s)) }

func (w *fieldWriter) uint(tag, v uint64) {
	var tmp [binary.MaxVarintLen64]byte
	w.bytes(tag, binary.AppendUvarint(tmp[:0], v))
}

func (w *fieldWriter) int(tag uint64, v int64) {
	var tmp [binary.MaxVarintLen64]byte
	w.bytes(tag, binary.AppendVarint(tmp[:0], v))
}

func (w *fieldWriter) float(tag uint64, v float64) { w.uint(tag, math.Float64bits(v)) }

// dec reads the values of a payload; the first error sticks and every
// later read returns zero values. Nothing is allocated from a declared
// length before it is checked against the bytes that remain.
type dec struct {
	b   []byte
	err error
}

func (d *dec) fail(what string) {
	if d.err == nil {
		d.err = formatErr("bad %s", what)
	}
}

func (d *dec) uvarint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail(what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// raw returns the next length-prefixed bytes (aliasing the payload).
func (d *dec) raw(what string) []byte {
	l := d.uvarint(what)
	if d.err != nil {
		return nil
	}
	if l > uint64(len(d.b)) {
		d.fail(what)
		return nil
	}
	v := d.b[:l]
	d.b = d.b[l:]
	return v
}

// str returns the next string; invalid UTF-8 is corruption.
func (d *dec) str(what string) string {
	v := d.raw(what)
	if !utf8.Valid(v) {
		d.fail(what)
		return ""
	}
	return string(v)
}

// count reads a count of items each at least min bytes long: a count the
// remaining bytes cannot hold is corruption.
func (d *dec) count(what string, min int) int {
	n := d.uvarint(what)
	if d.err == nil && n > uint64(len(d.b)/max(min, 1)) {
		d.fail(what)
		return 0
	}
	return int(n)
}

// fields calls fn for each field of a tag-length-value payload.
func (d *dec) fields(fn func(tag uint64, v *dec)) {
	for d.err == nil && len(d.b) > 0 {
		tag := d.uvarint("field tag")
		v := d.raw("field")
		if d.err != nil {
			return
		}
		fd := &dec{b: v}
		fn(tag, fd)
		if fd.err != nil {
			d.err = fd.err
		}
	}
}

func (d *dec) float(what string) float64 { return math.Float64frombits(d.uvarint(what)) }

// text returns the rest of a field's value as a string (a string field
// is its bytes, without a length of its own).
func (d *dec) text(what string) string {
	if d.err != nil {
		return ""
	}
	v := d.b
	d.b = nil
	if !utf8.Valid(v) {
		d.fail(what)
		return ""
	}
	return string(v)
}

// segmentLimit bounds a segment's uncompressed records: a recorder starts
// a new segment (a keyframe) when one grows past it, and a reader refuses
// a segment that inflates to more than MaxRecord.
const segmentLimit = 4 << 20

// deflater compresses segments. Its flate.Writer (about a megabyte of
// state) is taken from a pool for one segment and given back, so that a
// server recording many matches holds one per segment being compressed,
// not one per match.
type deflater struct {
	buf bytes.Buffer
}

var flateWriters sync.Pool

// compress returns the raw DEFLATE of p (valid until the next call).
func (z *deflater) compress(p []byte) []byte {
	z.buf.Reset()
	w, _ := flateWriters.Get().(*flate.Writer)
	if w == nil {
		w, _ = flate.NewWriter(&z.buf, flate.DefaultCompression) // the level is valid
	} else {
		w.Reset(&z.buf)
	}
	w.Write(p) // a bytes.Buffer does not fail
	w.Close()
	w.Reset(io.Discard) // drop the reference to this recording's buffer
	flateWriters.Put(w)
	return z.buf.Bytes()
}

// inflate appends the records of a segment's payload to dst; false when
// the payload is not valid DEFLATE or inflates past MaxRecord.
func inflate(dst, p []byte) ([]byte, bool) {
	zr := flate.NewReader(bytes.NewReader(p))
	defer zr.Close()
	buf := bytes.NewBuffer(dst[:0])
	n, err := buf.ReadFrom(io.LimitReader(zr, MaxRecord+1))
	if err != nil || n > MaxRecord {
		return dst, false
	}
	return buf.Bytes(), true
}
