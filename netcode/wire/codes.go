package wire

import "fmt"

// Subprotocol is the WebSocket subprotocol of this version of the protocol.
const Subprotocol = "tickstream.v2"

// Limits of client frames.
const (
	// MaxClientFrame is the read limit for a client frame, in bytes.
	MaxClientFrame = 512
	// MaxDepth is the deepest nesting of arrays and maps accepted.
	MaxDepth = 4
	// MaxNameRunes is the longest display name, in characters.
	MaxNameRunes = 24
)

// CloseCode is a WebSocket close status code.
type CloseCode int

// Close codes. See docs/protocol.md, "Close codes".
const (
	CloseNormal       CloseCode = 1000
	CloseGoingAway    CloseCode = 1001
	CloseTooBig       CloseCode = 1009
	CloseBadMessage   CloseCode = 4000
	CloseUnknownType  CloseCode = 4001
	CloseBadInput     CloseCode = 4002
	CloseBadName      CloseCode = 4003
	CloseNoSuchMatch  CloseCode = 4004
	CloseMatchFull    CloseCode = 4005
	CloseMatchEnded   CloseCode = 4006
	CloseTooSlow      CloseCode = 4007
	CloseProtocol     CloseCode = 4008
	CloseServerFull   CloseCode = 4009
	CloseHeartbeat    CloseCode = 4010
	CloseReplaced     CloseCode = 4011
	CloseResumeFailed CloseCode = 4012
	CloseTooManySeats CloseCode = 4013
	CloseFlooding     CloseCode = 4014
	// CloseRedirect follows a redirect message: the match is on another
	// node; connect to its url and join there.
	CloseRedirect CloseCode = 4015
)

// Error is a protocol refusal: the close code and the reason sent with it.
type Error struct {
	Code   CloseCode
	Reason string
}

func (e *Error) Error() string { return fmt.Sprintf("%d: %s", e.Code, e.Reason) }

func refuse(code CloseCode, format string, args ...any) *Error {
	return &Error{Code: code, Reason: fmt.Sprintf(format, args...)}
}
