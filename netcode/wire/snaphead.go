package wire

import (
	"encoding/binary"
	"errors"
)

// DecodeSnapHead decodes the head of a snap frame into s: ack, tick, time,
// state and left, skipping the entities and events (s.Ents and s.Ev are
// left nil). Bots that do not look at the world use it: it allocates
// nothing but the state string's conversion (interned for the three
// states) and reads no more than the frame's keys.
func DecodeSnapHead(frame []byte, s *Snap) error {
	if len(frame) == 0 {
		return errNotSnapHead
	}
	*s = Snap{T: TypeSnap} // every length is checked as it is read: walk skips the rest
	n, off, err := mapLen(frame)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		key, kn, err := readStr(frame[off:])
		if err != nil {
			return err
		}
		off += kn
		v := frame[off:]
		var used int
		switch string(key) { // no allocation: a switch on converted bytes
		case "ack":
			var u uint64
			u, used, err = readUint(v)
			s.Ack = uint32(u)
		case "tick":
			s.Tick, used, err = readUint(v)
		case "time":
			s.Time, used, err = readInt(v)
		case "left":
			s.Left, used, err = readInt(v)
		case "state":
			var st []byte
			st, used, err = readStr(v)
			s.State = internState(st)
		default:
			used, err = walk(v, 8)
		}
		if err != nil {
			return err
		}
		off += used
	}
	return nil
}

var errNotSnapHead = errors.New("wire: not a snap head")

func internState(b []byte) string {
	switch string(b) {
	case "waiting":
		return "waiting"
	case "running":
		return "running"
	case "ended":
		return "ended"
	}
	return string(b)
}

func mapLen(b []byte) (n, off int, err error) {
	switch c := b[0]; {
	case c&0xf0 == 0x80:
		return int(c & 0x0f), 1, nil
	case c == 0xde && len(b) >= 3:
		return int(binary.BigEndian.Uint16(b[1:])), 3, nil
	case c == 0xdf && len(b) >= 5:
		return int(binary.BigEndian.Uint32(b[1:])), 5, nil
	}
	return 0, 0, errNotSnapHead
}

// readStr reads a str's bytes (not copied).
func readStr(b []byte) ([]byte, int, error) {
	if len(b) == 0 {
		return nil, 0, errNotSnapHead
	}
	var l, h int
	switch c := b[0]; {
	case c&0xe0 == 0xa0:
		l, h = int(c&0x1f), 1
	case c == 0xd9 && len(b) >= 2:
		l, h = int(b[1]), 2
	case c == 0xda && len(b) >= 3:
		l, h = int(binary.BigEndian.Uint16(b[1:])), 3
	default:
		return nil, 0, errNotSnapHead
	}
	if len(b) < h+l {
		return nil, 0, errNotSnapHead
	}
	return b[h : h+l], h + l, nil
}

func readUint(b []byte) (uint64, int, error) {
	v, n, err := readInt(b)
	if err != nil || v < 0 {
		if err == nil && len(b) >= 9 && b[0] == 0xcf {
			return binary.BigEndian.Uint64(b[1:]), 9, nil
		}
		return 0, 0, errNotSnapHead
	}
	return uint64(v), n, nil
}

func readInt(b []byte) (int64, int, error) {
	if len(b) == 0 {
		return 0, 0, errNotSnapHead
	}
	c := b[0]
	switch {
	case c <= 0x7f:
		return int64(c), 1, nil
	case c >= 0xe0:
		return int64(int8(c)), 1, nil
	}
	var size int
	switch c {
	case 0xcc, 0xd0:
		size = 1
	case 0xcd, 0xd1:
		size = 2
	case 0xce, 0xd2:
		size = 4
	case 0xcf, 0xd3:
		size = 8
	}
	if size == 0 || len(b) < 1+size {
		return 0, 0, errNotSnapHead
	}
	p := b[1 : 1+size]
	switch c {
	case 0xcc:
		return int64(p[0]), 2, nil
	case 0xcd:
		return int64(binary.BigEndian.Uint16(p)), 3, nil
	case 0xce:
		return int64(binary.BigEndian.Uint32(p)), 5, nil
	case 0xcf:
		return int64(binary.BigEndian.Uint64(p)), 9, nil // may be negative: readUint handles it
	case 0xd0:
		return int64(int8(p[0])), 2, nil
	case 0xd1:
		return int64(int16(binary.BigEndian.Uint16(p))), 3, nil
	case 0xd2:
		return int64(int32(binary.BigEndian.Uint32(p))), 5, nil
	}
	return int64(binary.BigEndian.Uint64(p)), 9, nil
}
