package netcode

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/tickstream/tickstream/game"
)

// A resume token lets a player whose connection dropped take its seat back.
// It is bound to a match, a player, the seat's epoch (which every resume
// advances, so a token works once) and an expiry, and signed with
// HMAC-SHA256 under the server's secret:
//
//	base64url( version(1) | expiry unix s (8) | player (4) | epoch (4) | match id | mac (16) )
const (
	tokenVersion = 1
	tokenMACLen  = 16
	tokenFixed   = 1 + 8 + 4 + 4
)

// Resume token refusals (each closes with 4012 and this text as reason).
var (
	errTokenInvalid = errors.New("invalid resume token")
	errTokenExpired = errors.New("resume token expired")
	errTokenUsed    = errors.New("resume token already used")
	errSeatGone     = errors.New("seat no longer held")
	errSuperseded   = errors.New("a newer connection took the seat")
	// errReplaced: not a token refusal; the session lost its seat to a
	// newer connection's resume before it was attached (closes with 4011).
	errReplaced = errors.New("replaced by a newer connection")
)

// resumeClaim is what a token says.
type resumeClaim struct {
	Match  string
	Player game.PlayerID
	Epoch  uint32
	Expiry time.Time
}

// tokenSigner issues and checks tokens. Safe for concurrent use.
type tokenSigner struct {
	key []byte
	ttl time.Duration
	now func() time.Time
}

func newTokenSigner(secret []byte, ttl time.Duration) (*tokenSigner, error) {
	if len(secret) == 0 {
		secret = make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return nil, fmt.Errorf("resume secret: %w", err)
		}
	}
	if len(secret) < 16 {
		return nil, errors.New("resume secret must be at least 16 bytes")
	}
	return &tokenSigner{key: secret, ttl: ttl, now: time.Now}, nil
}

func (ts *tokenSigner) mac(b []byte) []byte {
	h := hmac.New(sha256.New, ts.key)
	h.Write(b)
	return h.Sum(nil)[:tokenMACLen]
}

// issue returns a token for the seat.
func (ts *tokenSigner) issue(match string, p game.PlayerID, epoch uint32) string {
	b := make([]byte, 0, tokenFixed+len(match)+tokenMACLen)
	b = append(b, tokenVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(ts.now().Add(ts.ttl).Unix()))
	b = binary.BigEndian.AppendUint32(b, uint32(p))
	b = binary.BigEndian.AppendUint32(b, epoch)
	b = append(b, match...)
	b = append(b, ts.mac(b)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// check verifies a token's signature and expiry; the epoch is checked by
// the match (single use).
func (ts *tokenSigner) check(tok string) (resumeClaim, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || len(b) < tokenFixed+tokenMACLen+1 || b[0] != tokenVersion {
		return resumeClaim{}, errTokenInvalid
	}
	body, mac := b[:len(b)-tokenMACLen], b[len(b)-tokenMACLen:]
	if !hmac.Equal(mac, ts.mac(body)) {
		return resumeClaim{}, errTokenInvalid
	}
	c := resumeClaim{
		Expiry: time.Unix(int64(binary.BigEndian.Uint64(body[1:9])), 0),
		Player: game.PlayerID(binary.BigEndian.Uint32(body[9:13])),
		Epoch:  binary.BigEndian.Uint32(body[13:17]),
		Match:  string(body[17:]),
	}
	if !ts.now().Before(c.Expiry) {
		return c, errTokenExpired
	}
	return c, nil
}
