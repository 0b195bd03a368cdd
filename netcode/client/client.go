// Package client is the Go client of the Tickstream protocol: dial, join,
// send inputs, receive snapshots. The end-to-end tests and the load-testing
// bots use it, so it speaks exactly what docs/protocol.md documents.
//
// A Client may have one goroutine reading (Next) and one sending (Input,
// SendRaw) at the same time; Close may be called from any goroutine.
package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/coder/websocket"

	"github.com/tickstream/tickstream/netcode/wire"
)

// Options configure Dial. The zero value is usable.
type Options struct {
	// HTTPHeader is sent with the upgrade request (e.g. Origin).
	HTTPHeader http.Header
	// HTTPClient dials the connection; nil means http.DefaultClient.
	HTTPClient *http.Client
	// ReadLimit is the largest server frame accepted; zero means 1 MiB.
	ReadLimit int64
}

// Client is one player's connection.
type Client struct {
	conn *websocket.Conn
	dec  *wire.MessageDecoder // reader only

	mu   sync.Mutex // guards seq and wbuf (the sending side)
	seq  uint32
	wbuf []byte
}

// Dial opens a WebSocket to url (ws://host:port/play) with the protocol's
// subprotocol.
func Dial(ctx context.Context, url string, opts *Options) (*Client, error) {
	if opts == nil {
		opts = &Options{}
	}
	conn, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		Subprotocols: []string{wire.Subprotocol},
		HTTPHeader:   opts.HTTPHeader,
		HTTPClient:   opts.HTTPClient,
	})
	if err != nil {
		if resp != nil {
			return nil, &HTTPError{Status: resp.StatusCode, Err: err}
		}
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	if conn.Subprotocol() != wire.Subprotocol {
		conn.CloseNow()
		return nil, fmt.Errorf("dial %s: server did not accept subprotocol %s", url, wire.Subprotocol)
	}
	limit := opts.ReadLimit
	if limit == 0 {
		limit = 1 << 20
	}
	conn.SetReadLimit(limit)
	return &Client{conn: conn, dec: wire.NewMessageDecoder()}, nil
}

// HTTPError is a refused upgrade.
type HTTPError struct {
	Status int
	Err    error
}

func (e *HTTPError) Error() string { return fmt.Sprintf("upgrade refused: HTTP %d: %v", e.Status, e.Err) }
func (e *HTTPError) Unwrap() error { return e.Err }

// Join sends join (match "" = auto) and waits for the welcome.
func (c *Client) Join(ctx context.Context, name, match string) (*wire.Welcome, error) {
	if err := c.SendRaw(ctx, wire.EncodeJoin(name, match)); err != nil {
		return nil, err
	}
	m, err := c.Next(ctx)
	if err != nil {
		return nil, err
	}
	if m.Welcome == nil {
		return nil, fmt.Errorf("join: expected welcome, got %q", m.Type)
	}
	return m.Welcome, nil
}

// Input sends an input; a zero Seq takes the next sequence number. It
// returns the sequence number sent.
func (c *Client) Input(ctx context.Context, in wire.InputMsg) (uint32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if in.Seq == 0 {
		c.seq++
		in.Seq = c.seq
	} else if in.Seq > c.seq {
		c.seq = in.Seq
	}
	c.wbuf = wire.AppendInput(c.wbuf[:0], in)
	return in.Seq, c.conn.Write(ctx, websocket.MessageBinary, c.wbuf)
}

// SendRaw sends one binary frame as it is (tests use it for bad input).
func (c *Client) SendRaw(ctx context.Context, frame []byte) error {
	return c.conn.Write(ctx, websocket.MessageBinary, frame)
}

// SendText sends a text frame (which the server refuses).
func (c *Client) SendText(ctx context.Context, s string) error {
	return c.conn.Write(ctx, websocket.MessageText, []byte(s))
}

// Message is one decoded server message: Type names the field that is set.
type Message struct {
	Type    string
	Welcome *wire.Welcome
	Roster  *wire.Roster
	Snap    *wire.Snap
	End     *wire.End
}

// ErrUnknownMessage is returned for a server message type this client does
// not know (a newer server); the caller may skip it.
var ErrUnknownMessage = errors.New("client: unknown message type")

// Next reads and decodes the next server message.
func (c *Client) Next(ctx context.Context) (Message, error) {
	typ, b, err := c.conn.Read(ctx)
	if err != nil {
		return Message{}, err
	}
	if typ != websocket.MessageBinary {
		return Message{}, errors.New("client: text frame from server")
	}
	t, err := wire.PeekType(b)
	if err != nil {
		return Message{}, err
	}
	m := Message{Type: t}
	var v any
	switch t {
	case wire.TypeSnap:
		m.Snap = &wire.Snap{}
		v = m.Snap
	case wire.TypeWelcome:
		m.Welcome = &wire.Welcome{}
		v = m.Welcome
	case wire.TypeRoster:
		m.Roster = &wire.Roster{}
		v = m.Roster
	case wire.TypeEnd:
		m.End = &wire.End{}
		v = m.End
	default:
		return m, fmt.Errorf("%w %q", ErrUnknownMessage, t)
	}
	if err := c.dec.Decode(b, v); err != nil {
		return Message{}, fmt.Errorf("client: decode %s: %w", t, err)
	}
	return m, nil
}

// Close closes the connection normally.
func (c *Client) Close() error { return c.conn.Close(websocket.StatusNormalClosure, "bye") }

// CloseNow drops the connection without a close handshake.
func (c *Client) CloseNow() error { return c.conn.CloseNow() }

// CloseCode returns the close code in an error from Next, or -1.
func CloseCode(err error) wire.CloseCode { return wire.CloseCode(websocket.CloseStatus(err)) }

// CloseReason returns the reason in an error from Next, or "".
func CloseReason(err error) string {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Reason
	}
	return ""
}
