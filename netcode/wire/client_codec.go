package wire

import (
	"bytes"
	"errors"
	"math"

	"github.com/vmihailenco/msgpack/v5"
)

// This file is the client side of the codec: what the Go client and the
// bots send, and how they read server frames.

// EncodeJoin encodes a join message; match "" means auto. "every" is
// omitted: the server sends every tick.
func EncodeJoin(name, match string) []byte {
	b := []byte{0x83}
	b = appendStr(b, "t")
	b = appendStr(b, TypeJoin)
	b = appendStr(b, "name")
	b = appendStr(b, name)
	b = appendStr(b, "match")
	return appendStr(b, match)
}

// EncodeJoinEvery encodes a join that asks for a snapshot every every
// ticks only. 0 and 1 write the plain join of EncodeJoin; other values are
// written as they are (the server refuses those out of 1…60).
func EncodeJoinEvery(name, match string, every int) []byte {
	if every == 1 || every == 0 {
		return EncodeJoin(name, match)
	}
	b := []byte{0x84}
	b = appendStr(b, "t")
	b = appendStr(b, TypeJoin)
	b = appendStr(b, "name")
	b = appendStr(b, name)
	b = appendStr(b, "match")
	b = appendStr(b, match)
	b = appendStr(b, "every")
	return appendInt(b, int64(every))
}

// InputMsg is what a client sends each frame. Ack is the newest tick the
// client has applied (0: none), the baseline the server may diff against.
// View is the tick whose state the client was showing when the input was
// made (0: none): the server resolves the input's shot against it (lag
// compensation).
type InputMsg struct {
	Seq     uint32
	MX, MY  float64
	Aim     float64
	Buttons uint8
	Ack     uint64
	View    uint64
}

// AppendAck appends an acknowledgement: {t: "ack", tick}. A client sends it
// when it applied a newer snapshot and sent no input for 100 ms.
func AppendAck(dst []byte, tick uint64) []byte {
	dst = append(dst, 0x82)
	dst = appendStr(dst, "t")
	dst = appendStr(dst, TypeAck)
	dst = appendStr(dst, "tick")
	return appendUint(dst, tick)
}

// AppendInput appends an encoded input message to dst (with "ack" and
// "view").
func AppendInput(dst []byte, in InputMsg) []byte {
	dst = append(dst, 0x88)
	dst = appendStr(dst, "t")
	dst = appendStr(dst, TypeInput)
	dst = appendStr(dst, "seq")
	dst = appendUint(dst, uint64(in.Seq))
	dst = appendStr(dst, "mx")
	dst = appendFloat64(dst, in.MX)
	dst = appendStr(dst, "my")
	dst = appendFloat64(dst, in.MY)
	dst = appendStr(dst, "aim")
	dst = appendFloat64(dst, in.Aim)
	dst = appendStr(dst, "buttons")
	dst = appendUint(dst, uint64(in.Buttons))
	dst = appendStr(dst, "ack")
	dst = appendUint(dst, in.Ack)
	dst = appendStr(dst, "view")
	return appendUint(dst, in.View)
}

func appendFloat64(b []byte, f float64) []byte {
	b = append(b, 0xcb)
	u := math.Float64bits(f)
	return append(b, byte(u>>56), byte(u>>48), byte(u>>40), byte(u>>32), byte(u>>24), byte(u>>16), byte(u>>8), byte(u))
}

// ErrNoType is returned for a server frame without a "t" key first.
var ErrNoType = errors.New("wire: message has no type")

// PeekType returns the "t" of a frame whose first key is "t" (every server
// message is encoded so), without decoding the rest. It does not allocate.
func PeekType(frame []byte) (string, error) {
	var off int
	switch c := frame; {
	case len(c) == 0:
		return "", ErrNoType
	case c[0]&0xf0 == 0x80:
		off = 1
	case c[0] == 0xde:
		off = 3
	case c[0] == 0xdf:
		off = 5
	default:
		return "", ErrNoType
	}
	if len(frame) < off+3 || frame[off] != 0xa1 || frame[off+1] != 't' {
		return "", ErrNoType
	}
	c := frame[off+2]
	if c&0xe0 != 0xa0 {
		return "", ErrNoType
	}
	n := int(c & 0x1f)
	if len(frame) < off+3+n {
		return "", ErrNoType
	}
	switch s := frame[off+3 : off+3+n]; string(s) { // no allocation for a switch on string(bytes)
	case TypeSnap:
		return TypeSnap, nil
	case TypeWelcome:
		return TypeWelcome, nil
	case TypeRoster:
		return TypeRoster, nil
	case TypeEnd:
		return TypeEnd, nil
	case TypePing:
		return TypePing, nil
	default:
		return string(s), nil
	}
}

// MessageDecoder decodes server frames for a client, with the same guard
// as the server's decoder. One per connection; not safe for concurrent use.
type MessageDecoder struct {
	r   bytes.Reader
	dec *msgpack.Decoder
}

// NewMessageDecoder returns a decoder.
func NewMessageDecoder() *MessageDecoder {
	d := &MessageDecoder{}
	d.dec = msgpack.NewDecoder(&d.r)
	return d
}

// Decode checks frame and decodes it into v (a *Welcome, *Roster, …; snapshots go through DecodeSnap). The
// server's frames are bounded by their content; the depth limit is looser
// than for client frames.
func (d *MessageDecoder) Decode(frame []byte, v any) error {
	if err := Check(frame, 8); err != nil {
		return err
	}
	d.r.Reset(frame)
	d.dec.Reset(&d.r)
	return d.dec.Decode(v)
}

// AppendPong appends the answer to a ping: its id and the client's clock.
func AppendPong(dst []byte, id uint32, clientMS int64) []byte {
	dst = append(dst, 0x83)
	dst = appendStr(dst, "t")
	dst = appendStr(dst, TypePong)
	dst = appendStr(dst, "id")
	dst = appendUint(dst, uint64(id))
	dst = appendStr(dst, "time")
	return appendInt(dst, clientMS)
}

// EncodeSuspend tells the server the client's tab is hidden (on) or shown.
func EncodeSuspend(on bool) []byte {
	b := []byte{0x82}
	b = appendStr(b, "t")
	b = appendStr(b, TypeSuspend)
	b = appendStr(b, "on")
	if on {
		return append(b, 0xc3)
	}
	return append(b, 0xc2)
}

// EncodeResume asks for a seat back with a resume token.
func EncodeResume(token string) []byte {
	b := []byte{0x82}
	b = appendStr(b, "t")
	b = appendStr(b, TypeResume)
	b = appendStr(b, "token")
	return appendStr(b, token)
}
