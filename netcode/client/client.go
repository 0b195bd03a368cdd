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
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

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
	// BytesRead, when set, is added the size of every frame received
	// (bots count their traffic with it).
	BytesRead *atomic.Int64
	// SnapHeadOnly decodes only the head of snapshots (ack, tick, time,
	// state, left): Snap.Ents and Snap.Ev stay nil. Ten times cheaper;
	// for bots that do not look at the world.
	SnapHeadOnly bool
}

// Client is one player's connection.
type Client struct {
	conn *websocket.Conn
	dec  *wire.MessageDecoder // reader only

	mu   sync.Mutex // guards seq and wbuf (the sending side)
	seq  uint32
	wbuf []byte

	// AutoPong answers pings inside Next (the default); tests that play a
	// dead client turn it off.
	AutoPong  atomic.Bool
	rtt       atomic.Int64 // the server's smoothed RTT from the last ping, ns
	pings     atomic.Int64
	bytesRead *atomic.Int64 // optional
	headOnly  bool
	rbuf      []byte // reader only: the frame being read, reused
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
	c := &Client{conn: conn, dec: wire.NewMessageDecoder(), bytesRead: opts.BytesRead, headOnly: opts.SnapHeadOnly}
	c.AutoPong.Store(true)
	return c, nil
}

// HTTPError is a refused upgrade.
type HTTPError struct {
	Status int
	Err    error
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("upgrade refused: HTTP %d: %v", e.Status, e.Err)
}
func (e *HTTPError) Unwrap() error { return e.Err }

// Join sends join (match "" = auto) and waits for the welcome.
func (c *Client) Join(ctx context.Context, name, match string) (*wire.Welcome, error) {
	return c.hello(ctx, wire.EncodeJoin(name, match))
}

// Resume asks for a seat back with the token of an earlier welcome and
// waits for the new welcome. Inputs the server has not acknowledged
// (seq > Welcome.Ack) should then be sent again, in order.
func (c *Client) Resume(ctx context.Context, token string) (*wire.Welcome, error) {
	return c.hello(ctx, wire.EncodeResume(token))
}

func (c *Client) hello(ctx context.Context, msg []byte) (*wire.Welcome, error) {
	if err := c.SendRaw(ctx, msg); err != nil {
		return nil, err
	}
	for {
		m, err := c.Next(ctx)
		if err != nil {
			return nil, err
		}
		if m.Ping != nil {
			continue
		}
		if m.Welcome == nil {
			return nil, fmt.Errorf("expected welcome, got %q", m.Type)
		}
		c.mu.Lock()
		c.seq = max(c.seq, m.Welcome.Ack)
		c.mu.Unlock()
		return m.Welcome, nil
	}
}

// Suspend tells the server that the client is hidden (a longer heartbeat
// timeout applies) or visible again.
func (c *Client) Suspend(ctx context.Context, on bool) error {
	return c.SendRaw(ctx, wire.EncodeSuspend(on))
}

// RTT is the smoothed round-trip time the server measured, as reported in
// its last ping (0 before the first).
func (c *Client) RTT() time.Duration { return time.Duration(c.rtt.Load()) }

// Pings is the number of pings received.
func (c *Client) Pings() int64 { return c.pings.Load() }

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
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn.Write(ctx, websocket.MessageBinary, frame)
}

func (c *Client) pong(ctx context.Context, id uint32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wbuf = wire.AppendPong(c.wbuf[:0], id, time.Now().UnixMilli())
	return c.conn.Write(ctx, websocket.MessageBinary, c.wbuf)
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
	Ping    *wire.Ping // already answered when AutoPong is on
}

// ErrUnknownMessage is returned for a server message type this client does
// not know (a newer server); the caller may skip it.
var ErrUnknownMessage = errors.New("client: unknown message type")

// Next reads and decodes the next server message.
func (c *Client) Next(ctx context.Context) (Message, error) {
	typ, b, err := c.read(ctx)
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
	case wire.TypePing:
		m.Ping = &wire.Ping{}
		v = m.Ping
	default:
		return m, fmt.Errorf("%w %q", ErrUnknownMessage, t)
	}
	if m.Snap != nil && c.headOnly {
		err = wire.DecodeSnapHead(b, m.Snap)
	} else {
		err = c.dec.Decode(b, v)
	}
	if err != nil {
		return Message{}, fmt.Errorf("client: decode %s: %w", t, err)
	}
	if m.Ping != nil {
		if err := c.pinged(ctx, m.Ping); err != nil {
			return Message{}, err
		}
	}
	return m, nil
}

// pinged notes a ping's RTT and answers it when AutoPong is on.
func (c *Client) pinged(ctx context.Context, p *wire.Ping) error {
	c.pings.Add(1)
	c.rtt.Store(int64(p.RTT * float64(time.Millisecond)))
	if c.AutoPong.Load() {
		return c.pong(ctx, p.ID)
	}
	return nil
}

// read reads one frame into the client's reused buffer.
func (c *Client) read(ctx context.Context) (websocket.MessageType, []byte, error) {
	typ, r, err := c.conn.Reader(ctx)
	if err != nil {
		return 0, nil, err
	}
	b := c.rbuf[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, nil, err
		}
	}
	c.rbuf = b
	if c.bytesRead != nil {
		c.bytesRead.Add(int64(len(b)))
	}
	return typ, b, nil
}

// NextRaw reads the next frame and returns its type ("t") and bytes
// without decoding the rest (spectator streams, bots that only count).
// The bytes are valid until the next call. Pings are answered when
// AutoPong is on, and returned as "ping".
func (c *Client) NextRaw(ctx context.Context) (string, []byte, error) {
	_, b, err := c.read(ctx)
	if err != nil {
		return "", nil, err
	}
	t, err := wire.PeekType(b)
	if err != nil {
		return "", b, err
	}
	if t == wire.TypePing {
		var p wire.Ping
		if err := c.dec.Decode(b, &p); err != nil {
			return t, b, err
		}
		if err := c.pinged(ctx, &p); err != nil {
			return t, b, err
		}
	}
	return t, b, nil
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
