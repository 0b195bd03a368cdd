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
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode/wire"
)

// AckQuiet is how long a client waits after its last input before it
// acknowledges a newer snapshot with an "ack" message (inputs carry the
// ack themselves); it also spaces acks (at most 10 a second).
const AckQuiet = 100 * time.Millisecond

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
	// SnapHeadOnly decodes only the head of snapshots (ack, tick, base,
	// time, state, left): Snap.Ents, Snap.Rows and Snap.Ev stay nil. For
	// bots that do not look at the world. Such a client still acknowledges
	// every snapshot's tick as if it had applied it: it never needs a
	// baseline itself, and its acks make the server send it the deltas a
	// real client gets (the load it measures is then the real one).
	SnapHeadOnly bool
	// Redirects, when set, is added one for every redirect DialJoin
	// follows (bots count them with it).
	Redirects *atomic.Int64
}

// Client is one player's connection.
type Client struct {
	conn *websocket.Conn
	url  string               // as dialed
	dec  *wire.MessageDecoder // reader only

	mu       sync.Mutex // guards the sending side: seq, wbuf, the ack state
	seq      uint32
	wbuf     []byte
	ackSent  uint64      // newest tick acknowledged to the server
	lastSend time.Time   // of the last input or ack
	ackTimer *time.Timer // pending ack, nil if none
	closed   atomic.Bool // no more acks (Close and CloseNow take no lock: a write may hold it)

	// AutoPong answers pings inside Next (the default); tests that play a
	// dead client turn it off.
	AutoPong atomic.Bool
	// AutoAck sends an "ack" message when a newer snapshot was applied and
	// no input went for AckQuiet (the default); tests of the server's
	// baseline choice turn it off. Inputs carry the ack regardless.
	AutoAck   atomic.Bool
	rtt       atomic.Int64 // the server's smoothed RTT from the last ping, ns
	pings     atomic.Int64
	bytesRead *atomic.Int64 // optional
	headOnly  bool
	rbuf      []byte // reader only: the frame being read, reused

	// Reader only: the baselines of this connection and the decoding state.
	views wire.Views
	frame wire.SnapFrame
	quant wire.Quant
	// applied is the newest tick applied (acknowledged by the next input).
	applied atomic.Uint64
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
	c := &Client{conn: conn, url: url, dec: wire.NewMessageDecoder(), bytesRead: opts.BytesRead, headOnly: opts.SnapHeadOnly,
		quant: wire.NewQuant(game.Precision{})}
	c.AutoPong.Store(true)
	c.AutoAck.Store(true)
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

// JoinEvery is Join asking for a snapshot every every ticks only (1…60;
// 0 or 1: every tick).
func (c *Client) JoinEvery(ctx context.Context, name, match string, every int) (*wire.Welcome, error) {
	return c.hello(ctx, wire.EncodeJoinEvery(name, match, every))
}

// Resume asks for a seat back with the token of an earlier welcome and
// waits for the new welcome. Inputs the server has not acknowledged
// (seq > Welcome.Ack) should then be sent again, in order.
func (c *Client) Resume(ctx context.Context, token string) (*wire.Welcome, error) {
	return c.hello(ctx, wire.EncodeResume(token))
}

// URL is the URL the client dialed: after DialJoin, the node it ended on
// (the one to resume at).
func (c *Client) URL() string { return c.url }

// MaxRedirects is how many redirects in a row DialJoin follows.
const MaxRedirects = 3

// ErrTooManyRedirects is returned by DialJoin when a join is redirected
// more than MaxRedirects times in a row (a routing loop between nodes).
var ErrTooManyRedirects = errors.New("client: too many redirects: a join was redirected more than 3 times in a row")

// RedirectError is a join answered by a redirect message and the close
// 4015: the match is on another node. DialJoin follows it; Join returns it.
type RedirectError struct {
	URL   string // the /play URL to connect to, query included
	Match string // the match to ask for there ("": any)
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("client: redirected to %s (match %q)", e.URL, e.Match)
}

// DialJoin dials url and joins (match "" = auto; every as in JoinEvery),
// following redirects: on a redirect message and the close 4015 it dials
// the redirect's URL exactly as given (query included) and sends the join
// again with the redirect's match, the same name and every. It follows at
// most MaxRedirects in a row, then fails with ErrTooManyRedirects. The
// returned client's URL is the node it ended on.
func DialJoin(ctx context.Context, url, name, match string, every int, opts *Options) (*Client, *wire.Welcome, error) {
	for redirects := 0; ; redirects++ {
		c, err := Dial(ctx, url, opts)
		if err != nil {
			return nil, nil, err
		}
		w, err := c.JoinEvery(ctx, name, match, every)
		if err == nil {
			return c, w, nil
		}
		c.CloseNow()
		var red *RedirectError
		if !errors.As(err, &red) {
			return nil, nil, err
		}
		if redirects >= MaxRedirects {
			return nil, nil, fmt.Errorf("%w (last to %s)", ErrTooManyRedirects, red.URL)
		}
		if opts != nil && opts.Redirects != nil {
			opts.Redirects.Add(1)
		}
		url, match = red.URL, red.Match
	}
}

func (c *Client) hello(ctx context.Context, msg []byte) (*wire.Welcome, error) {
	if err := c.SendRaw(ctx, msg); err != nil {
		return nil, err
	}
	var red *wire.Redirect
	for {
		m, err := c.Next(ctx)
		if err != nil {
			if red != nil && CloseCode(err) == wire.CloseRedirect {
				return nil, &RedirectError{URL: red.URL, Match: red.Match}
			}
			return nil, err
		}
		if m.Ping != nil {
			continue
		}
		if m.Redirect != nil {
			red = m.Redirect // the close 4015 follows
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

// Input sends an input; a zero Seq takes the next sequence number. Its Ack
// is set to the newest tick applied on this connection (Applied), and so is
// a zero View (the tick on screen: a Go client "shows" the newest tick it
// applied; the server resolves the input's shot against it). It returns
// the sequence number sent.
func (c *Client) Input(ctx context.Context, in wire.InputMsg) (uint32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if in.Seq == 0 {
		c.seq++
		in.Seq = c.seq
	} else if in.Seq > c.seq {
		c.seq = in.Seq
	}
	in.Ack = c.applied.Load()
	if in.View == 0 {
		in.View = in.Ack
	}
	c.ackSent = max(c.ackSent, in.Ack)
	c.lastSend = time.Now()
	c.wbuf = wire.AppendInput(c.wbuf[:0], in)
	return in.Seq, c.conn.Write(ctx, websocket.MessageBinary, c.wbuf)
}

// Applied is the newest snapshot tick applied on this connection (0:
// none): what the client acknowledges.
func (c *Client) Applied() uint64 { return c.applied.Load() }

// Quant is the quantization of the welcome (the default before it).
// Reader only.
func (c *Client) Quant() wire.Quant { return c.quant }

// ackWriteTimeout bounds the write of an ack from the timer.
const ackWriteTimeout = 5 * time.Second

// noteApplied records a newly applied tick and acknowledges it when no
// input went for AckQuiet, at once or from a timer.
func (c *Client) noteApplied(tick uint64) {
	c.applied.Store(tick)
	if !c.AutoAck.Load() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ackLocked()
}

// ackLocked sends an ack if one is due, or arms the timer for when it is.
// c.mu held.
func (c *Client) ackLocked() {
	tick := c.applied.Load()
	if c.closed.Load() || tick <= c.ackSent || c.ackTimer != nil {
		return
	}
	if wait := AckQuiet - time.Since(c.lastSend); wait > 0 {
		c.ackTimer = time.AfterFunc(wait, c.ackFired)
		return
	}
	c.ackSent = tick
	c.lastSend = time.Now()
	c.wbuf = wire.AppendAck(c.wbuf[:0], tick)
	ctx, cancel := context.WithTimeout(context.Background(), ackWriteTimeout)
	_ = c.conn.Write(ctx, websocket.MessageBinary, c.wbuf) // a failed write shows on the reader
	cancel()
}

func (c *Client) ackFired() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ackTimer = nil
	if c.AutoAck.Load() {
		c.ackLocked()
	}
}

// stopAcks stops acknowledging; a timer armed fires once more and does
// nothing.
func (c *Client) stopAcks() { c.closed.Store(true) }

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
	Snap    *Snap
	End     *wire.End
	Ping    *wire.Ping // already answered when AutoPong is on
	// Redirect answers a join that belongs on another node (the close
	// 4015 follows); Join and DialJoin handle it.
	Redirect *wire.Redirect
}

// Snap is a snapshot applied to the client's baselines: the whole view at
// Tick. Its slices are the caller's (never reused by the client).
type Snap struct {
	Ack   uint32 // last input sequence applied for this player
	Tick  uint64
	Base  uint64 // the baseline the frame was a delta against (0: keyframe)
	Time  int64  // Unix ms
	State string // waiting, running, ended, closed
	Left  int64  // ms before the time limit
	// Ents is the view, dequantized with the welcome's precision, sorted by
	// id; nil with Options.SnapHeadOnly.
	Ents []game.Entity
	// Rows is the same view in wire units.
	Rows []wire.Row
	Ev   []wire.EventRow
}

// Entity returns the entity id of the view.
func (s *Snap) Entity(id uint32) (game.Entity, bool) {
	for _, e := range s.Ents {
		if e.ID == id {
			return e, true
		}
	}
	return game.Entity{}, false
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
		if m.Snap, err = c.snap(b); err != nil {
			return Message{}, fmt.Errorf("client: decode %s: %w", t, err)
		}
		return m, nil
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
	case wire.TypeRedirect:
		m.Redirect = &wire.Redirect{}
		v = m.Redirect
	default:
		return m, fmt.Errorf("%w %q", ErrUnknownMessage, t)
	}
	if err = c.dec.Decode(b, v); err != nil {
		return Message{}, fmt.Errorf("client: decode %s: %w", t, err)
	}
	if m.Welcome != nil {
		// A welcome starts a connection's snapshots: keyframe first.
		c.quant = m.Welcome.Quantizer()
		c.views.Reset()
		c.applied.Store(0)
	}
	if m.Ping != nil {
		if err := c.pinged(ctx, m.Ping); err != nil {
			return Message{}, err
		}
	}
	return m, nil
}

// snap decodes a snap frame and applies it to the connection's views (the
// head only with SnapHeadOnly), then acknowledges its tick.
func (c *Client) snap(b []byte) (*Snap, error) {
	f := &c.frame
	if c.headOnly {
		if err := wire.DecodeSnapHead(b, f); err != nil {
			return nil, err
		}
		if f.Tick > c.applied.Load() {
			c.noteApplied(f.Tick) // see Options.SnapHeadOnly
		}
		return c.snapHead(f), nil
	}
	if err := wire.DecodeSnap(b, f); err != nil {
		return nil, err
	}
	view, err := c.views.Apply(f)
	if err != nil {
		return nil, err
	}
	s := c.snapHead(f)
	s.Rows = slices.Clone(view)
	s.Ents = make([]game.Entity, len(view))
	for i, r := range view {
		s.Ents[i] = c.quant.Entity(r)
	}
	if len(f.Ev) > 0 {
		s.Ev = slices.Clone(f.Ev)
	}
	c.noteApplied(f.Tick)
	return s, nil
}

func (c *Client) snapHead(f *wire.SnapFrame) *Snap {
	return &Snap{Ack: f.Ack, Tick: f.Tick, Base: f.Base, Time: f.Time, State: game.State(f.State).String(), Left: f.Left}
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
func (c *Client) Close() error {
	c.stopAcks()
	return c.conn.Close(websocket.StatusNormalClosure, "bye")
}

// CloseNow drops the connection without a close handshake.
func (c *Client) CloseNow() error {
	c.stopAcks()
	return c.conn.CloseNow()
}

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
