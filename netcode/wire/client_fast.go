package wire

import (
	"encoding/binary"
	"math"
)

// decodeFast decodes a checked client frame (Check passed) into m without
// reflection or allocation for the messages clients send many times a
// second (input, ack, pong): a map of string keys with the value types of
// ClientMsg's fields. It gives exactly what the msgpack decoder gives for
// the frames it accepts (same field semantics: nil is zero, integers of
// any width, an int64 field wraps a uint64 as msgpack does, floats from
// any number, unknown keys skipped, a repeated key's last value wins) and
// returns false for anything else — a long map, a non-string key, a value
// of another type — which Decode then hands to the msgpack decoder, so
// that odd frames get the same result or the same refusal as before.
// FuzzDecodeFast holds the two decoders to that.
func decodeFast(b []byte, m *ClientMsg) bool {
	if len(b) == 0 || b[0]&0xf0 != 0x80 {
		return false
	}
	n := int(b[0] & 0x0f)
	off := 1
	for i := 0; i < n; i++ {
		if off >= len(b) || b[off]&0xe0 != 0xa0 { // fixstr keys only
			return false
		}
		kl := int(b[off] & 0x1f)
		off++
		if off+kl > len(b) {
			return false
		}
		key := b[off : off+kl]
		off += kl
		var ok bool
		switch string(key) { // no allocation for a switch on string(bytes)
		case "t":
			var s []byte
			if s, off, ok = fastStr(b, off); ok {
				m.T = messageType(s)
			}
		case "name", "match", "token":
			dst := &m.Name
			if key[0] == 'm' {
				dst = &m.Match
			} else if key[0] == 't' {
				dst = &m.Token
			}
			var s []byte
			if s, off, ok = fastStr(b, off); ok {
				*dst = string(s)
			}
		case "seq":
			m.Seq, off, ok = fastInt(b, off)
		case "buttons":
			m.Buttons, off, ok = fastInt(b, off)
		case "id":
			m.ID, off, ok = fastInt(b, off)
		case "ack":
			m.Ack, off, ok = fastInt(b, off)
		case "tick":
			m.Tick, off, ok = fastInt(b, off)
		case "view":
			m.View, off, ok = fastInt(b, off)
		case "every":
			m.Every, off, ok = fastInt(b, off)
		case "mx":
			m.MX, off, ok = fastNumber(b, off)
		case "my":
			m.MY, off, ok = fastNumber(b, off)
		case "aim":
			m.Aim, off, ok = fastNumber(b, off)
		case "time":
			m.Time, off, ok = fastNumber(b, off)
		case "on":
			if off < len(b) {
				switch b[off] {
				case 0xc0, 0xc2:
					m.On, off, ok = false, off+1, true
				case 0xc3:
					m.On, off, ok = true, off+1, true
				}
			}
		default: // msgpack skips unknown keys
			var l int
			var err error
			if l, err = walk(b[off:], MaxDepth); err == nil {
				off, ok = off+l, true
			}
		}
		if !ok {
			return false
		}
	}
	return off == len(b)
}

// messageType returns the client message type named by s, without
// allocating for the known ones.
func messageType(s []byte) string {
	switch string(s) {
	case TypeInput:
		return TypeInput
	case TypeAck:
		return TypeAck
	case TypePong:
		return TypePong
	case TypeJoin:
		return TypeJoin
	case TypeResume:
		return TypeResume
	case TypeSuspend:
		return TypeSuspend
	}
	return string(s)
}

// fastStr reads a string field: nil (""), str or bin of any width.
func fastStr(b []byte, off int) ([]byte, int, bool) {
	if off >= len(b) {
		return nil, off, false
	}
	c := b[off]
	var l, h int
	switch {
	case c == 0xc0:
		return nil, off + 1, true
	case c&0xe0 == 0xa0:
		l, h = int(c&0x1f), 1
	case c == 0xd9 || c == 0xc4:
		if off+2 > len(b) {
			return nil, off, false
		}
		l, h = int(b[off+1]), 2
	case c == 0xda || c == 0xc5:
		if off+3 > len(b) {
			return nil, off, false
		}
		l, h = int(binary.BigEndian.Uint16(b[off+1:])), 3
	case c == 0xdb || c == 0xc6:
		if off+5 > len(b) {
			return nil, off, false
		}
		l, h = int(binary.BigEndian.Uint32(b[off+1:])), 5
	default:
		return nil, off, false
	}
	if l > len(b)-off-h {
		return nil, off, false
	}
	return b[off+h : off+h+l], off + h + l, true
}

// fastInt reads an integer field as msgpack's int64 decoding does: nil is
// 0, a uint64 above MaxInt64 wraps.
func fastInt(b []byte, off int) (int64, int, bool) {
	if off < len(b) && b[off] == 0xc0 {
		return 0, off + 1, true
	}
	mag, neg, n := msgpackInt(b[min(off, len(b)):])
	if n == 0 {
		return 0, off, false
	}
	if neg {
		return -int64(mag), off + n, true // MinInt64 included: -(1<<63) wraps to itself
	}
	return int64(mag), off + n, true
}

// fastNumber reads a Number field: float32, float64, a uint64 converted
// exactly, or any other integer (nil is 0).
func fastNumber(b []byte, off int) (Number, int, bool) {
	if off >= len(b) {
		return 0, off, false
	}
	switch b[off] {
	case 0xca:
		if off+5 > len(b) {
			return 0, off, false
		}
		return Number(math.Float32frombits(binary.BigEndian.Uint32(b[off+1:]))), off + 5, true
	case 0xcb:
		if off+9 > len(b) {
			return 0, off, false
		}
		return Number(math.Float64frombits(binary.BigEndian.Uint64(b[off+1:]))), off + 9, true
	case 0xcf:
		if off+9 > len(b) {
			return 0, off, false
		}
		return Number(float64(binary.BigEndian.Uint64(b[off+1:]))), off + 9, true
	}
	v, next, ok := fastInt(b, off)
	return Number(float64(v)), next, ok
}
