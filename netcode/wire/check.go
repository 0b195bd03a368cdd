package wire

import (
	"encoding/binary"
	"errors"
)

var (
	errTruncated = errors.New("truncated")
	errTooDeep   = errors.New("nested too deep")
	errBadCode   = errors.New("invalid msgpack code")
	errExt       = errors.New("ext types are not accepted")
	errTrailing  = errors.New("trailing bytes after the message")
)

// Check verifies that b holds exactly one msgpack object whose declared
// lengths all fit the bytes present, nested at most maxDepth deep, with no
// ext types. It allocates nothing and runs in time linear in len(b).
func Check(b []byte, maxDepth int) error {
	n, err := walk(b, maxDepth)
	if err != nil {
		return err
	}
	if n != len(b) {
		return errTrailing
	}
	return nil
}

// walk returns the length of the msgpack object at the start of b.
func walk(b []byte, depth int) (int, error) {
	if len(b) == 0 {
		return 0, errTruncated
	}
	c := b[0]
	switch {
	case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3: // fixint, nil, bool
		return 1, nil
	case c >= 0x80 && c <= 0x8f: // fixmap
		return items(b, 1, 2*int(c&0x0f), depth)
	case c >= 0x90 && c <= 0x9f: // fixarray
		return items(b, 1, int(c&0x0f), depth)
	case c >= 0xa0 && c <= 0xbf: // fixstr
		return need(b, 1+int(c&0x1f))
	}
	switch c {
	case 0xcc, 0xd0:
		return need(b, 2)
	case 0xcd, 0xd1:
		return need(b, 3)
	case 0xca, 0xce, 0xd2:
		return need(b, 5)
	case 0xcb, 0xcf, 0xd3:
		return need(b, 9)
	case 0xc4, 0xd9: // bin8, str8
		l, err := length(b, 1)
		if err != nil {
			return 0, err
		}
		return need(b, 2+l)
	case 0xc5, 0xda: // bin16, str16
		l, err := length(b, 2)
		if err != nil {
			return 0, err
		}
		return need(b, 3+l)
	case 0xc6, 0xdb: // bin32, str32
		l, err := length(b, 4)
		if err != nil {
			return 0, err
		}
		return need(b, 5+l)
	case 0xdc: // array16
		l, err := length(b, 2)
		if err != nil {
			return 0, err
		}
		return items(b, 3, l, depth)
	case 0xdd: // array32
		l, err := length(b, 4)
		if err != nil {
			return 0, err
		}
		return items(b, 5, l, depth)
	case 0xde: // map16
		l, err := length(b, 2)
		if err != nil {
			return 0, err
		}
		return items(b, 3, 2*l, depth)
	case 0xdf: // map32
		l, err := length(b, 4)
		if err != nil {
			return 0, err
		}
		return items(b, 5, 2*l, depth)
	case 0xc7, 0xc8, 0xc9, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return 0, errExt
	}
	return 0, errBadCode
}

// length reads a big-endian length of size bytes after the code byte.
func length(b []byte, size int) (int, error) {
	if len(b) < 1+size {
		return 0, errTruncated
	}
	switch size {
	case 1:
		return int(b[1]), nil
	case 2:
		return int(binary.BigEndian.Uint16(b[1:])), nil
	}
	// No object can hold more items or bytes than the frame has; refusing
	// here also keeps int(n) from turning negative where int is 32 bits.
	n := binary.BigEndian.Uint32(b[1:])
	if uint64(n) > uint64(len(b)) {
		return 0, errTruncated
	}
	return int(n), nil
}

func need(b []byte, n int) (int, error) {
	if n > len(b) {
		return 0, errTruncated
	}
	return n, nil
}

// items walks count objects after a header of hdr bytes. Every object is at
// least one byte, so a count larger than the bytes left is refused before
// anything is walked.
func items(b []byte, hdr, count, depth int) (int, error) {
	if depth <= 0 {
		return 0, errTooDeep
	}
	if hdr > len(b) || count > len(b)-hdr {
		return 0, errTruncated
	}
	off := hdr
	for i := 0; i < count; i++ {
		n, err := walk(b[off:], depth-1)
		if err != nil {
			return 0, err
		}
		off += n
	}
	return off, nil
}
