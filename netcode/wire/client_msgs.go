package wire

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"

	"github.com/tickstream/tickstream/game"
)

// Client message types.
const (
	TypeJoin    = "join"
	TypeInput   = "input"
	TypePong    = "pong"
	TypeSuspend = "suspend"
	TypeResume  = "resume"
	TypeAck     = "ack"
)

// ClientMsg is every client → server message in one fixed struct: the
// decoder never allocates from a declared length, and every field is
// bounded by the frame size. Integers are decoded wide and range-checked.
type ClientMsg struct {
	T       string `msgpack:"t"`
	Name    string `msgpack:"name,omitempty"`
	Match   string `msgpack:"match,omitempty"`
	Seq     int64  `msgpack:"seq,omitempty"`
	MX      Number `msgpack:"mx"`
	MY      Number `msgpack:"my"`
	Aim     Number `msgpack:"aim"`
	Buttons int64  `msgpack:"buttons"`
	// Heartbeat and resume fields.
	ID    int64  `msgpack:"id,omitempty"`    // pong: the ping's id
	Time  Number `msgpack:"time,omitempty"`  // pong: the client's clock, Unix ms
	On    bool   `msgpack:"on,omitempty"`    // suspend: tab hidden
	Token string `msgpack:"token,omitempty"` // resume
	// Wire v2 acknowledgements and send rate.
	Ack   int64 `msgpack:"ack"`   // input: the newest tick applied
	View  int64 `msgpack:"view"`  // input: the tick shown when it was made
	Tick  int64 `msgpack:"tick"`  // ack: the newest tick applied
	Every int64 `msgpack:"every"` // join: a snapshot every N ticks
}

// Decoder decodes client frames. It reuses its buffers: one Decoder per
// session, not safe for concurrent use.
type Decoder struct {
	r   bytes.Reader
	dec *msgpack.Decoder
}

// NewDecoder returns a Decoder.
func NewDecoder() *Decoder {
	d := &Decoder{}
	d.dec = msgpack.NewDecoder(&d.r)
	return d
}

// Decode checks and decodes one client frame into m (which it resets). It
// returns an *Error with CloseBadMessage or CloseUnknownType when refused.
// A panic inside the msgpack decoder is recovered and refused too.
func (d *Decoder) Decode(frame []byte, m *ClientMsg) error {
	*m = ClientMsg{}
	if err := Check(frame, MaxDepth); err != nil {
		return refuse(CloseBadMessage, "malformed message: %v", err)
	}
	if frame[0]&0xf0 != 0x80 && frame[0] != 0xde && frame[0] != 0xdf {
		return refuse(CloseBadMessage, "malformed message: not a map")
	}
	if !decodeFast(frame, m) {
		*m = ClientMsg{}
		if err := d.decodeSlow(frame, m); err != nil {
			return err
		}
	}
	switch m.T {
	case TypeJoin, TypeInput, TypePong, TypeSuspend, TypeResume, TypeAck:
		return nil
	}
	// Quote, then shorten: quoting can make each byte four (\x00), and the
	// reason must stay within a close frame's 123 bytes.
	return refuse(CloseUnknownType, "unknown message type %s", shorten(strconv.Quote(m.T)))
}

// decodeSlow decodes a checked frame with the msgpack decoder (what
// decodeFast leaves), recovering a panic as a refusal.
func (d *Decoder) decodeSlow(frame []byte, m *ClientMsg) (err error) {
	defer func() {
		if r := recover(); r != nil {
			*m = ClientMsg{}
			err = refuse(CloseBadMessage, "malformed message")
		}
	}()
	d.r.Reset(frame)
	d.dec.Reset(&d.r)
	if err := d.dec.Decode(m); err != nil {
		return refuse(CloseBadMessage, "malformed message: %v", shorten(err.Error()))
	}
	return nil
}

// shorten keeps a reason inside a close frame's 123 bytes.
func shorten(s string) string {
	if len(s) <= 60 {
		return s
	}
	return strings.ToValidUTF8(s[:60], "") + "…"
}

// Input validates an input message and returns it as a game input.
func (m *ClientMsg) Input(p game.PlayerID) (game.Input, error) {
	switch {
	case m.Seq < 1 || m.Seq > math.MaxUint32:
		return game.Input{}, refuse(CloseBadInput, "bad input: seq must be 1…4294967295")
	case !inRange(float64(m.MX), -1, 1) || !inRange(float64(m.MY), -1, 1):
		return game.Input{}, refuse(CloseBadInput, "bad input: mx and my must be -1…1")
	case !inRange(float64(m.Aim), -math.Pi-0.001, math.Pi+0.001):
		return game.Input{}, refuse(CloseBadInput, "bad input: aim must be -π…π radians")
	case m.Buttons < 0 || m.Buttons&^int64(game.ButtonsMask) != 0:
		return game.Input{}, refuse(CloseBadInput, "bad input: unknown button bits")
	case m.View < 0 || m.View > MaxAckTick:
		return game.Input{}, refuse(CloseBadInput, "bad input: view must be 0…2^53")
	}
	aim := math.Max(-math.Pi, math.Min(math.Pi, float64(m.Aim)))
	return game.Input{
		Player: p, Seq: uint32(m.Seq),
		MoveX: float64(m.MX), MoveY: float64(m.MY), Aim: aim, Buttons: uint8(m.Buttons),
		ViewTick: uint64(m.View),
	}, nil
}

// MaxAckTick is the largest tick an acknowledgement (or an input's view)
// may name: 2^53, the largest integer every client language holds exactly.
const MaxAckTick = 1 << 53

// AckTick returns the tick acknowledged by an "ack" message (tick) or an
// input (ack); 0 means none. Out of 0…2^53 it refuses with CloseBadInput.
func (m *ClientMsg) AckTick() (uint64, error) {
	v := m.Ack
	if m.T == TypeAck {
		v = m.Tick
	}
	if v < 0 || v > MaxAckTick {
		return 0, refuse(CloseBadInput, "bad ack: tick must be 0…2^53")
	}
	return uint64(v), nil
}

// MaxEvery is the largest send divisor a join may ask for.
const MaxEvery = 60

// JoinEvery returns the send divisor a join asks for: absent or 0 means 1;
// 1…60 are accepted; anything else is refused with CloseBadMessage.
func (m *ClientMsg) JoinEvery() (int, error) {
	switch {
	case m.Every == 0:
		return 1, nil
	case m.Every < 1 || m.Every > MaxEvery:
		return 0, refuse(CloseBadMessage, "bad join: every must be 1…60")
	}
	return int(m.Every), nil
}

// inRange is false for NaN and infinities too.
func inRange(v, lo, hi float64) bool { return v >= lo && v <= hi }

// ValidName trims a display name and checks it: 1…MaxNameRunes characters,
// valid UTF-8, no control or format characters.
func ValidName(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", refuse(CloseBadName, "bad name: not valid UTF-8")
	}
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	switch {
	case n == 0:
		return "", refuse(CloseBadName, "bad name: empty")
	case n > MaxNameRunes:
		return "", refuse(CloseBadName, "bad name: longer than %d characters", MaxNameRunes)
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return "", refuse(CloseBadName, "bad name: control characters are not allowed")
		}
	}
	return s, nil
}

// Number is a float field of a client message that also accepts any msgpack
// integer, converting uint64 values exactly (msgpack's own float decoding
// wraps integers of 2^63 and more into negative numbers, which would turn an
// out-of-range value into an accepted one).
type Number float64

// DecodeMsgpack implements msgpack.CustomDecoder.
func (n *Number) DecodeMsgpack(d *msgpack.Decoder) error {
	c, err := d.PeekCode()
	if err != nil {
		return err
	}
	if c == msgpcode.Uint64 {
		v, err := d.DecodeUint64()
		*n = Number(float64(v))
		return err
	}
	f, err := d.DecodeFloat64()
	*n = Number(f)
	return err
}
