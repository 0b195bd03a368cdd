// Package rawws is a WebSocket client written on a bare TCP connection, for
// tests and abuse runs: it does what a WebSocket library never does — stop
// reading, never answer a ping, never answer a close, shrink its receive
// buffer — so that it can play a frozen, dead or hostile peer. A library
// client answers pings whenever it reads, so it cannot play dead.
//
// A Conn has no goroutines of its own. One goroutine may read (Next,
// CloseCode, ReadToEnd, WaitEOF) while another writes (Send, SendOp).
package rawws

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/tickstream/tickstream/netcode/wire"
)

// Opcodes of the frames a test reads or writes.
const (
	OpText   = 0x1
	OpBinary = 0x2
	OpClose  = 0x8
	OpPing   = 0x9
	OpPong   = 0xA
)

// Options configure Dial. The zero value is usable.
type Options struct {
	// Host is the Host header; empty means the address dialled.
	Host string
	// Header lines sent with the upgrade, "Name: value" each.
	Header []string
	// RcvBuf > 0 sets SO_RCVBUF before connecting: a small one makes a
	// peer that stops reading block the server's writes quickly.
	RcvBuf int
	// Timeout bounds the dial and the upgrade; zero means 10 s.
	Timeout time.Duration
	// Early frames (binary payloads) are written with the upgrade request,
	// in the same write, before the response: a client that pipelines its
	// first message.
	Early [][]byte
}

// Conn is an upgraded connection. The embedded net.Conn is the socket.
type Conn struct {
	net.Conn
	br *bufio.Reader
}

// Dial upgrades path on addr with the tickstream subprotocol. When the
// server refuses the upgrade it returns a nil Conn and the response (its
// body readable, the socket closed with it).
func Dial(addr, path string, o Options) (*Conn, *http.Response, error) {
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Host == "" {
		o.Host = addr
	}
	d := net.Dialer{Timeout: o.Timeout, Control: func(_, _ string, rc syscall.RawConn) error {
		if o.RcvBuf <= 0 {
			return nil
		}
		return rc.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, o.RcvBuf)
		})
	}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	req := "GET " + path + " HTTP/1.1\r\nHost: " + o.Host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Protocol: " + wire.Subprotocol + "\r\n"
	for _, h := range o.Header {
		req += h + "\r\n"
	}
	_ = conn.SetDeadline(time.Now().Add(o.Timeout))
	out := []byte(req + "\r\n")
	for _, p := range o.Early {
		out = appendFrame(out, OpBinary, p)
	}
	if _, err := conn.Write(out); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("upgrade request: %w", err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("upgrade response: %w", err)
	}
	_ = conn.SetDeadline(time.Time{})
	if resp.StatusCode != http.StatusSwitchingProtocols {
		resp.Body = struct {
			io.Reader
			io.Closer
		}{resp.Body, conn}
		return nil, resp, nil
	}
	return &Conn{Conn: conn, br: br}, resp, nil
}

// Send writes one masked binary frame.
func (c *Conn) Send(payload []byte) error { return c.SendOp(OpBinary, payload) }

// SendOp writes one final, masked frame with the opcode (the mask key is
// zero, so the payload goes unchanged).
func (c *Conn) SendOp(op byte, payload []byte) error {
	_, err := c.Write(appendFrame(make([]byte, 0, 14+len(payload)), op, payload))
	return err
}

// appendFrame appends one final, masked frame (zero mask key).
func appendFrame(hdr []byte, op byte, payload []byte) []byte {
	hdr = append(hdr, 0x80|op)
	switch n := len(payload); {
	case n < 126:
		hdr = append(hdr, 0x80|byte(n))
	case n < 1<<16:
		hdr = append(hdr, 0x80|126, byte(n>>8), byte(n))
	default:
		hdr = append(hdr, 0x80|127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	hdr = append(hdr, 0, 0, 0, 0)
	return append(hdr, payload...)
}

// Frame is one frame from the server.
type Frame struct {
	Op      byte
	Payload []byte
}

// maxFrame bounds what Next accepts from the server.
const maxFrame = 16 << 20

// Next reads one server frame; a zero deadline means none.
func (c *Conn) Next(deadline time.Time) (Frame, error) {
	_ = c.SetReadDeadline(deadline)
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return Frame{}, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return Frame{}, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return Frame{}, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > maxFrame {
		return Frame{}, fmt.Errorf("server frame of %d bytes", n)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(c.br, p); err != nil {
		return Frame{}, err
	}
	return Frame{Op: h[0] & 0x0f, Payload: p}, nil
}

// CloseCode reads frames until the server's close frame and returns its
// code and reason; code 0 means the connection ended without one (err set).
func (c *Conn) CloseCode(deadline time.Time) (wire.CloseCode, string, error) {
	for {
		f, err := c.Next(deadline)
		if err != nil {
			return 0, "", err
		}
		if f.Op == OpClose {
			if len(f.Payload) < 2 {
				return 1005, "", nil
			}
			return wire.CloseCode(binary.BigEndian.Uint16(f.Payload)), string(f.Payload[2:]), nil
		}
	}
}

// ReadToEnd reads frames until the connection ends or the deadline passes;
// it returns the close frame's code (0 when none came) and the error that
// ended the read (io.EOF for an end, also one mid-frame).
func (c *Conn) ReadToEnd(deadline time.Time) (wire.CloseCode, error) {
	code := wire.CloseCode(0)
	for {
		f, err := c.Next(deadline)
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				err = io.EOF
			}
			return code, err
		}
		if f.Op == OpClose && len(f.Payload) >= 2 {
			code = wire.CloseCode(binary.BigEndian.Uint16(f.Payload))
		}
	}
}

// WaitEOF discards what arrives until the server ends the TCP connection
// and reports when; it fails when the deadline passes first.
func (c *Conn) WaitEOF(deadline time.Time) (time.Time, error) {
	_ = c.SetReadDeadline(deadline)
	_, err := io.Copy(io.Discard, c.br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return time.Time{}, err
	}
	return time.Now(), nil
}
