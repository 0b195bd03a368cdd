package wire

import (
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/tickstream/tickstream/game"
)

// Spectator frames: the same content in two formats, JSON (SSE and long
// polling) and msgpack (WebSocket spectators). See docs/protocol.md,
// "Spectators".

// Format is a spectator encoding.
type Format int

const (
	FormatJSON Format = iota
	FormatMsgpack
	NumFormats
)

// Spectator message kinds: the SSE event names, and "t" in msgpack frames.
const (
	SpecKeyframe = "keyframe"
	SpecDelta    = "delta"
	SpecMatch    = "match"
	SpecEnd      = "end"
	SpecError    = "error"
)

// treeWriter writes nested maps and arrays in one format.
type treeWriter interface {
	beginMap(n int)
	key(k string)
	endMap()
	beginArray(n int)
	endArray()
	str(s string)
	uint(u uint64)
	int(i int64)
	float(v float32)
	float64(v float64)
	bytes() []byte
}

func newTreeWriter(f Format, dst []byte) treeWriter {
	if f == FormatJSON {
		return &jsonWriter{b: dst}
	}
	return &mpWriter{b: dst}
}

type mpWriter struct{ b []byte }

func (w *mpWriter) beginMap(n int) {
	switch {
	case n < 16:
		w.b = append(w.b, 0x80|byte(n))
	default:
		w.b = append(w.b, 0xde, byte(n>>8), byte(n))
	}
}
func (w *mpWriter) key(k string)      { w.b = appendStr(w.b, k) }
func (w *mpWriter) endMap()           {}
func (w *mpWriter) beginArray(n int)  { w.b = appendArrayLen(w.b, n) }
func (w *mpWriter) endArray()         {}
func (w *mpWriter) str(s string)      { w.b = appendStr(w.b, s) }
func (w *mpWriter) uint(u uint64)     { w.b = appendUint(w.b, u) }
func (w *mpWriter) int(i int64)       { w.b = appendInt(w.b, i) }
func (w *mpWriter) float(v float32)   { w.b = appendFloat32(w.b, v) }
func (w *mpWriter) float64(v float64) { w.b = appendFloat64(w.b, v) }
func (w *mpWriter) bytes() []byte     { return w.b }

// jsonWriter writes compact JSON; comma tracks whether the current
// container needs a comma before its next element.
type jsonWriter struct {
	b     []byte
	comma []bool
	inKey bool
}

func (w *jsonWriter) sep() {
	if w.inKey {
		w.inKey = false
		return
	}
	if n := len(w.comma); n > 0 {
		if w.comma[n-1] {
			w.b = append(w.b, ',')
		}
		w.comma[n-1] = true
	}
}
func (w *jsonWriter) beginMap(int) { w.sep(); w.b = append(w.b, '{'); w.comma = append(w.comma, false) }
func (w *jsonWriter) key(k string) {
	w.sep()
	w.b = appendJSONString(w.b, k)
	w.b = append(w.b, ':')
	w.inKey = true
}
func (w *jsonWriter) endMap() { w.comma = w.comma[:len(w.comma)-1]; w.b = append(w.b, '}') }
func (w *jsonWriter) beginArray(int) {
	w.sep()
	w.b = append(w.b, '[')
	w.comma = append(w.comma, false)
}
func (w *jsonWriter) endArray()     { w.comma = w.comma[:len(w.comma)-1]; w.b = append(w.b, ']') }
func (w *jsonWriter) str(s string)  { w.sep(); w.b = appendJSONString(w.b, s) }
func (w *jsonWriter) uint(u uint64) { w.sep(); w.b = strconv.AppendUint(w.b, u, 10) }
func (w *jsonWriter) int(i int64)   { w.sep(); w.b = strconv.AppendInt(w.b, i, 10) }
func (w *jsonWriter) float(v float32) {
	w.sep()
	if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
		w.b = append(w.b, '0')
		return
	}
	w.b = strconv.AppendFloat(w.b, float64(v), 'f', -1, 32)
}
func (w *jsonWriter) float64(v float64) {
	w.sep()
	if math.IsNaN(v) || math.IsInf(v, 0) {
		w.b = append(w.b, '0')
		return
	}
	w.b = strconv.AppendFloat(w.b, v, 'g', -1, 64)
}
func (w *jsonWriter) bytes() []byte { return w.b }

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string (invalid UTF-8 replaced).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, "\\ufffd"...)
		} else if r == '\u2028' || r == '\u2029' {
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

func writeRoster(w treeWriter, r []game.PlayerInfo) {
	w.beginArray(len(r))
	for _, p := range r {
		w.beginArray(2)
		w.uint(uint64(p.ID))
		w.str(p.Name)
		w.endArray()
	}
	w.endArray()
}

func writeEvents(w treeWriter, evs [][]game.Event) {
	n := 0
	for _, e := range evs {
		n += len(e)
	}
	w.beginArray(n)
	for _, e := range evs {
		for _, ev := range e {
			w.beginArray(3)
			w.uint(uint64(ev.Kind))
			w.uint(uint64(ev.A))
			w.uint(uint64(ev.B))
			w.endArray()
		}
	}
	w.endArray()
}

// beginEvent opens an event's map of n keys; msgpack frames carry one
// more, "t" = kind, first (JSON events are named by the SSE event line).
func beginEvent(w treeWriter, f Format, kind string, n int) {
	if f != FormatMsgpack {
		w.beginMap(n)
		return
	}
	w.beginMap(n + 1)
	w.key("t")
	w.str(kind)
}

// writeHead writes the keys every keyframe and delta has.
func writeHead(w treeWriter, h *SnapHead) {
	w.key("tick")
	w.uint(h.Tick)
	w.key("time")
	w.int(h.Time)
	w.key("state")
	w.str(h.State.String())
	w.key("left")
	w.int(h.Left)
}

// writeRows writes "ents" and, unless keyframe, "gone": the rows of cur
// against base in the one row codec of the protocol (the same as snap
// frames: [idDelta, mask, values…], ids as running sums).
func writeRows(w treeWriter, base, cur []Row, keyframe bool) {
	if keyframe {
		base = nil
	}
	nrows, ngone := diffRowCounts(base, cur)
	w.key("ents")
	w.beginArray(nrows)
	d := rowDiff{base: base, cur: cur}
	var prev uint32
	for {
		c, b, mask, ok := d.nextRow()
		if !ok {
			break
		}
		if mask == MaskWhole {
			w.beginArray(2 + NumFields)
			w.uint(uint64(c.ID - prev))
			w.uint(MaskWhole)
			for _, v := range c.F {
				w.int(int64(v))
			}
		} else {
			w.beginArray(2 + popcount7(mask))
			w.uint(uint64(c.ID - prev))
			w.uint(uint64(mask))
			for i := 0; i < NumFields; i++ {
				if mask&(1<<i) != 0 {
					w.int(int64(c.F[i]) - int64(b.F[i]))
				}
			}
		}
		w.endArray()
		prev = c.ID
	}
	w.endArray()
	if keyframe {
		return
	}
	w.key("gone")
	w.beginArray(ngone)
	d = rowDiff{base: base, cur: cur}
	prev = 0
	for {
		id, ok := d.nextGone()
		if !ok {
			break
		}
		w.uint(uint64(id - prev))
		prev = id
	}
	w.endArray()
}

// AppendSpecKeyframe appends a keyframe: the head h (h.Base is not
// written), the quantization, the whole view cur, the events evs (of one
// or more ticks, flattened in order) and the full roster.
func AppendSpecKeyframe(dst []byte, f Format, h SnapHead, q Quant, cur []Row, evs [][]game.Event, roster []game.PlayerInfo) []byte {
	w := newTreeWriter(f, dst)
	beginEvent(w, f, SpecKeyframe, 8)
	writeHead(w, &h)
	w.key("quant")
	w.beginMap(2)
	w.key("pos")
	w.float64(q.Pos)
	w.key("angle")
	w.int(int64(q.AngleSteps))
	w.endMap()
	writeRows(w, nil, cur, true)
	w.key("ev")
	writeEvents(w, evs)
	w.key("roster")
	writeRoster(w, roster)
	w.endMap()
	return w.bytes()
}

// AppendSpecDelta appends the changes from the view base (at h.Base, the
// tick this spectator was sent before) to cur: rows new or changed, ids
// gone, the events of every tick after h.Base up to h.Tick (evs), and the
// roster when it changed in between (nil: unchanged, the key is omitted).
func AppendSpecDelta(dst []byte, f Format, h SnapHead, base, cur []Row, evs [][]game.Event, roster []game.PlayerInfo) []byte {
	w := newTreeWriter(f, dst)
	n := 8
	if roster != nil {
		n++
	}
	beginEvent(w, f, SpecDelta, n)
	writeHead(w, &h)
	w.key("base")
	w.uint(h.Base)
	writeRows(w, base, cur, false)
	w.key("ev")
	writeEvents(w, evs)
	if roster != nil {
		w.key("roster")
		writeRoster(w, roster)
	}
	w.endMap()
	return w.bytes()
}

// AppendSpecMatch appends a match event: the match's state and roster at
// tick s.
func AppendSpecMatch(dst []byte, f Format, s *game.Snapshot, roster []game.PlayerInfo) []byte {
	w := newTreeWriter(f, dst)
	beginEvent(w, f, SpecMatch, 3)
	w.key("tick")
	w.uint(s.Tick)
	w.key("state")
	w.str(s.State.String())
	w.key("roster")
	writeRoster(w, roster)
	w.endMap()
	return w.bytes()
}

// AppendSpecEnd appends the end of a match: results at tick.
func AppendSpecEnd(dst []byte, f Format, tick uint64, r *game.Result) []byte {
	w := newTreeWriter(f, dst)
	beginEvent(w, f, SpecEnd, 4)
	w.key("tick")
	w.uint(tick)
	w.key("reason")
	w.str(r.Reason)
	w.key("winner")
	w.uint(uint64(r.Winner))
	w.key("scores")
	w.beginArray(len(r.Scores))
	for _, sc := range r.Scores {
		w.beginArray(4)
		w.uint(uint64(sc.Player))
		w.str(sc.Name)
		w.int(int64(sc.Kills))
		w.int(int64(sc.Deaths))
		w.endArray()
	}
	w.endArray()
	w.endMap()
	return w.bytes()
}

// AppendSpecError appends an error event (the stream ends after it).
func AppendSpecError(dst []byte, f Format, code CloseCode, reason string) []byte {
	w := newTreeWriter(f, dst)
	beginEvent(w, f, SpecError, 2)
	w.key("code")
	w.int(int64(code))
	w.key("reason")
	w.str(reason)
	w.endMap()
	return w.bytes()
}
