package relay

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

const subjectPrefix = "tickstream.relay."

// Reply headers of a key request.
const (
	hdrError  = "Ts-Error"
	hdrRate   = "Ts-Rate"
	hdrDelay  = "Ts-Delay"
	hdrPos    = "Ts-Pos"
	hdrAngle  = "Ts-Angle"
	hdrRadius = "Ts-Radius"
	hdrClosed = "Ts-Closed"
)

const msgHead = 16 // tick u64, sent i64

// ErrUnknownMatch is returned by Edge.Open when the owner does not have
// the match (it ended, or it never was there).
var ErrUnknownMatch = errors.New("relay: the owner has no such match")

func tickSubject(node, match string) string {
	return subjectPrefix + token(node) + "." + token(match)
}
func keySubject(node, match string) string      { return tickSubject(node, match) + ".key" }
func interestSubject(node, match string) string { return tickSubject(node, match) + ".interest" }

// token makes s one token of a subject: as it is when it can be (match
// ids and usual node ids), else "~" and its bytes in hex (an id with a
// '.', say).
func token(s string) string {
	if s != "" && !strings.HasPrefix(s, "~") && !strings.ContainsAny(s, ".*> \t\r\n") {
		return s
	}
	return "~" + hex.EncodeToString([]byte(s))
}

// untoken is the id a token stands for.
func untoken(t string) string {
	if h, ok := strings.CutPrefix(t, "~"); ok {
		if b, err := hex.DecodeString(h); err == nil {
			return string(b)
		}
	}
	return t
}

// matchOf returns the match id of a key or interest subject.
func matchOf(subject string) string {
	parts := strings.Split(subject, ".")
	if len(parts) != 5 {
		return ""
	}
	return untoken(parts[3])
}

func appendMsgHead(b []byte, tick uint64, sent time.Time) []byte {
	b = binary.LittleEndian.AppendUint64(b, tick)
	return binary.LittleEndian.AppendUint64(b, uint64(sent.UnixNano()))
}

func parseMsg(b []byte) (tick uint64, sent time.Time, records []byte, err error) {
	if len(b) < msgHead {
		return 0, time.Time{}, nil, fmt.Errorf("relay: message of %d bytes", len(b))
	}
	return binary.LittleEndian.Uint64(b), time.Unix(0, int64(binary.LittleEndian.Uint64(b[8:]))), b[msgHead:], nil
}
