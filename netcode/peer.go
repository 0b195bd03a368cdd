package netcode

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/coder/websocket"
)

// peer is an accepted WebSocket and the TCP connection under it.
//
// coder/websocket's Close writes the close frame (waiting up to 5 s) and
// then waits up to 5 s for the peer's close reply; a CloseNow during that
// wait only waits with it. A peer declared dead never replies, and a peer
// too slow to read may not take the frame at all. closeWithin bounds the
// handshake by dropping the TCP connection itself, which coder/websocket
// does not expose: accept keeps it from the hijack.
//
// A player connection on the raw path (ws set, wsraw.go) is
// coder/websocket's only for the handshake: the server reads and writes
// its frames itself and the methods below take that path.
type peer struct {
	*websocket.Conn
	raw net.Conn // the hijacked connection (nil if unknown)
	ws  *wsRaw   // the raw path (nil: coder/websocket reads and writes)
	// carry: on the raw path, the bytes the client sent after its upgrade
	// request (read by net/http), handed to the session's reader.
	carry []byte
}

// Waits of a bounded close (closeWithin) after which the connection is
// dropped.
const (
	// closeReplyWait is for a live peer (refusal, too slow, match over,
	// shutdown): time to take the close frame and answer it.
	closeReplyWait = time.Second
	// deadCloseWait is for a peer declared dead: it will not answer; the
	// wait only lets the close frame leave (a half-open link that comes
	// back may still deliver it).
	deadCloseWait = 250 * time.Millisecond
)

// closeWithin sends a close frame and waits for the peer's reply for at
// most wait; then the TCP connection is dropped. It returns once the
// connection is closed (about wait at most).
func (p *peer) closeWithin(code websocket.StatusCode, reason string, wait time.Duration) {
	if p.ws != nil {
		p.ws.closeWithin(code, reason, wait)
		return
	}
	t := time.AfterFunc(wait, p.drop)
	defer t.Stop()
	_ = p.Close(code, reason)
}

// abort drops the connection without a close frame (a write that cannot
// complete: no frame can follow it).
func (p *peer) abort() {
	p.drop()
	if p.ws != nil {
		return
	}
	_ = p.CloseNow()
}

// drop closes the TCP connection under the WebSocket (under TLS too: the
// TLS close_notify would itself wait on a full send buffer), which fails
// every read and write the library has in progress.
func (p *peer) drop() {
	if p.ws != nil {
		p.ws.drop()
		return
	}
	c := p.raw
	for c != nil {
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		c = u.NetConn()
	}
	if c != nil {
		_ = c.Close()
	}
}

// closeNow drops the connection without a close frame.
func (p *peer) closeNow() {
	if p.ws != nil {
		p.ws.drop()
		return
	}
	_ = p.CloseNow()
}

// writeBinary writes one binary message.
func (p *peer) writeBinary(b []byte) error {
	if p.ws != nil {
		return p.ws.writeFrame(opBinary, b)
	}
	return p.Write(context.Background(), websocket.MessageBinary, b)
}

// hijackRecorder passes a ResponseWriter to websocket.Accept and keeps the
// connection that Accept hijacks. With small set, it hands the library
// small buffers instead of net/http's 4 KiB reader and writer (the
// library keeps both for the connection's life; coder/websocket uses the
// writer's buffer as its own): player frames are at most MaxClientFrame
// in and a few hundred bytes out, so 6 KiB of every player connection
// were idle.
type hijackRecorder struct {
	http.ResponseWriter
	conn  net.Conn
	small bool
	raw   bool   // the raw path is wanted (a plain TCP connection takes it)
	ws    *wsRaw // set when it was taken
	carry []byte // with ws: the bytes read past the request
}

// Small buffers for player connections: a reader that holds a few
// inputs, a writer that holds a delta snapshot (a larger frame is
// written through).
const (
	smallReadBuf  = 1024
	smallWriteBuf = 2048
)

func (h *hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return c, brw, err
	}
	h.conn = c
	if !h.small {
		return c, brw, nil
	}
	// Bytes the client sent after its request (its first frame, already
	// read by net/http) go first, buffered in the new reader: the library
	// takes what is buffered, then reads the connection.
	carry, _ := brw.Reader.Peek(brw.Reader.Buffered())
	if tc, ok := c.(*net.TCPConn); ok && h.raw {
		// The raw path reads the frames itself, from carry on; the
		// library keeps minimal buffers (it only writes the close of a
		// session refused before it starts).
		if ws, werr := newWSRaw(tc); werr == nil {
			h.ws, h.carry = ws, bytes.Clone(carry)
			return c, bufio.NewReadWriter(bufio.NewReaderSize(c, 16), bufio.NewWriterSize(c, 16)), nil
		}
	}
	if len(carry) > smallReadBuf {
		return c, brw, nil
	}
	carry = bytes.Clone(carry)
	r := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(carry), c), smallReadBuf)
	if _, err := r.Peek(len(carry)); err != nil {
		return c, brw, nil
	}
	return c, bufio.NewReadWriter(r, bufio.NewWriterSize(c, smallWriteBuf)), nil
}

// Unwrap lets http.ResponseController reach the server's writer.
func (h *hijackRecorder) Unwrap() http.ResponseWriter { return h.ResponseWriter }
