package netcode

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/tickstream/tickstream/netcode/wire"
)

// wsRaw is a player connection whose frames the server reads and writes
// itself, after coder/websocket's handshake: reads by a reactor
// (reactor_linux.go) that owns the socket's readiness, writes by the
// writer pool (writers.go) straight to the TCP connection: non-blocking,
// or blocking from the session's slow writer while the socket is full;
// the hello's answers, closes and pongs through writeFrame. Plain TCP on Linux
// only; TLS and other systems keep coder/websocket's reader (peer without
// ws).
//
// RFC 6455 as the server needs it: client frames must be masked, carry
// no reserved bits, have a known opcode; control frames are final and at
// most 125 bytes; a message may be fragmented (continuation frames) but
// its whole payload is at most wire.MaxClientFrame. Server frames are
// unmasked and final.
type wsRaw struct {
	tcp *net.TCPConn
	rc  syscall.RawConn

	// fd is a duplicate of the socket's descriptor, for the reactor's
	// reads and the writer pool's non-blocking writes: they hold it
	// through fdState (hold, release), a count kept in this struct,
	// instead of reaching the descriptor through RawConn.Control (three
	// objects away, and a reference count of their own) at every input
	// and every snapshot. The blocking writes and Close go through tcp.
	// drop closes both; fd closes when its last holder lets go.
	fd      int
	fdState atomic.Int64 // holders<<1 | closed

	wmu       sync.Mutex
	closeSent bool   // a close frame was written: no frame may follow (under wmu)
	pending   []byte // the rest of a frame a non-blocking write left (under wmu)

	recvOnce  sync.Once
	closeRecv chan struct{} // closed when the peer's close frame (or EOF) was read

	dropOnce sync.Once
	dropped  chan struct{} // closed when the TCP connection was closed
	dropMu   sync.Mutex
	onDrop   func() // run (on a goroutine of its own) once dropped
	isDown   bool   // dropped (under dropMu)

	pongBusy atomic.Bool // a pong to a WebSocket ping is being written
}

func newWSRaw(tcp *net.TCPConn) (*wsRaw, error) {
	rc, err := tcp.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd, err := dupFD(rc)
	if err != nil {
		return nil, err
	}
	return &wsRaw{tcp: tcp, rc: rc, fd: fd, closeRecv: make(chan struct{}), dropped: make(chan struct{})}, nil
}

// hold takes a hold on fd: it stays open (its number is not reused)
// until release. It fails once the connection is dropped.
func (w *wsRaw) hold() bool {
	for {
		st := w.fdState.Load()
		if st&1 != 0 {
			return false
		}
		if w.fdState.CompareAndSwap(st, st+2) {
			return true
		}
	}
}

// release lets go of a hold; the last one after a drop closes fd.
func (w *wsRaw) release() {
	if w.fdState.Add(-2) == 1 {
		_ = closeFD(w.fd)
	}
}

// closeDup closes fd at once, or when its last holder releases it.
func (w *wsRaw) closeDup() {
	if old := w.fdState.Or(1); old == 0 {
		_ = closeFD(w.fd)
	}
}

// WebSocket opcodes.
const (
	opCont   = 0x0
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA
)

// Sizes of the raw path's buffers. rawReadBuf (one per connection) holds
// several input frames and always one whole frame of the largest size
// accepted (14 bytes of header and wire.MaxClientFrame of payload).
// Writes up to rawWriteBuf go out in one write with their header, through
// a pooled buffer; larger ones as two buffers (writev).
const (
	rawReadBuf  = 640
	rawWriteBuf = 4096
)

// writeBufs lends write buffers: a few per process rather than one per
// connection.
var writeBufs = sync.Pool{New: func() any { b := make([]byte, 0, rawWriteBuf); return &b }}

// putWriteBuf gives a buffer back, unless a rare large frame grew it.
func putWriteBuf(b *[]byte) {
	if cap(*b) <= 4*rawWriteBuf {
		writeBufs.Put(b)
	}
}

var errCloseSent = errors.New("websocket: close frame already sent")

// frameHeader puts the header of a final, unmasked frame of n bytes in
// hdr and returns its length.
func frameHeader(hdr *[10]byte, op byte, n int) int {
	hdr[0] = 0x80 | op
	switch {
	case n < 126:
		hdr[1] = byte(n)
		return 2
	case n < 1<<16:
		hdr[1] = 126
		binary.BigEndian.PutUint16(hdr[2:], uint16(n))
		return 4
	default:
		hdr[1] = 127
		binary.BigEndian.PutUint64(hdr[2:], uint64(n))
		return 10
	}
}

// frameRoom is the room a buffer leaves before a payload for the header
// that framed puts there.
const frameRoom = 10

// framed turns b, a payload after frameRoom bytes of room, into a final,
// unmasked frame of opcode op: the header is written just before the
// payload and the frame returned.
func framed(b []byte, op byte) []byte {
	var hdr [10]byte
	h := frameHeader(&hdr, op, len(b)-frameRoom)
	f := b[frameRoom-h:]
	copy(f, hdr[:h])
	return f
}

// writeFrame writes one final, unmasked frame, after the rest of a frame
// the writer pool could not finish (pending). It blocks until the socket
// takes it.
func (w *wsRaw) writeFrame(op byte, p []byte) error {
	var hdr [10]byte
	h := frameHeader(&hdr, op, len(p))
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if w.closeSent {
		return errCloseSent
	}
	if err := w.flushLocked(); err != nil {
		return err
	}
	if op == opClose {
		w.closeSent = true
	}
	if h+len(p) <= rawWriteBuf {
		// Header and payload in one write, through a pooled buffer: a
		// few per process rather than one per connection.
		wb := writeBufs.Get().(*[]byte)
		*wb = append(append((*wb)[:0], hdr[:h]...), p...)
		_, err := w.tcp.Write(*wb)
		writeBufs.Put(wb)
		return err
	}
	bufs := net.Buffers{hdr[:h], p}
	_, err := bufs.WriteTo(w.tcp)
	return err
}

// flush writes what the writer pool left pending (blocking).
func (w *wsRaw) flush() error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	return w.flushLocked()
}

func (w *wsRaw) flushLocked() error {
	if len(w.pending) == 0 {
		return nil
	}
	_, err := w.tcp.Write(w.pending)
	w.pending = w.pending[:0]
	if cap(w.pending) > rawWriteBuf {
		w.pending = nil // a rare large frame: do not keep its buffer
	}
	return err
}

// sentClose reports whether a close frame was written (or is being
// written): its closeWithin drops the connection when done.
func (w *wsRaw) sentClose() bool {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	return w.closeSent
}

// writeClose writes a close frame (code 1005 is sent without a payload).
func (w *wsRaw) writeClose(code websocket.StatusCode, reason string) error {
	if code == websocket.StatusNoStatusRcvd {
		return w.writeFrame(opClose, nil)
	}
	if len(reason) > 123 {
		reason = reason[:123]
	}
	var b [125]byte
	binary.BigEndian.PutUint16(b[:], uint16(code))
	n := 2 + copy(b[2:], reason)
	return w.writeFrame(opClose, b[:n])
}

// gotClose records that the peer's close frame (or the end of its
// stream) was read: a close handshake waiting for it is over.
func (w *wsRaw) gotClose() { w.recvOnce.Do(func() { close(w.closeRecv) }) }

// drop closes the TCP connection once (reads and writes in progress fail;
// the reactor's own read holds the descriptor, so its number is never
// reused under it).
func (w *wsRaw) drop() {
	w.dropOnce.Do(func() {
		_ = w.tcp.Close()
		w.closeDup()
		close(w.dropped)
		w.dropMu.Lock()
		w.isDown = true
		f := w.onDrop
		w.dropMu.Unlock()
		if f != nil {
			go f()
		}
	})
}

// whenDropped runs f on a goroutine of its own once the connection is
// dropped (at once if it already is).
func (w *wsRaw) whenDropped(f func()) {
	w.dropMu.Lock()
	if !w.isDown {
		w.onDrop = f
		w.dropMu.Unlock()
		return
	}
	w.dropMu.Unlock()
	go f()
}

// closeWithin is peer.closeWithin on the raw path: the close frame, then
// the peer's reply (read by the reactor or the hello reader) or the
// deadline, then the connection is dropped.
func (w *wsRaw) closeWithin(code websocket.StatusCode, reason string, wait time.Duration) {
	t := time.AfterFunc(wait, w.drop)
	defer t.Stop()
	if err := w.writeClose(code, reason); err == nil || errors.Is(err, errCloseSent) {
		select {
		case <-w.closeRecv:
		case <-w.dropped:
		}
	}
	w.drop()
}

// readStatus is what nextMsg found in the read buffer.
type readStatus int

const (
	rsMore readStatus = iota // a partial frame (or nothing): read more
	rsMsg                    // a message was decoded into s.msg
	rsEnd                    // reading is over (close frame, protocol error while closing)
)

// rawIn is the session's read state on the raw path (reader-owned: the
// hello reader, then the reactor, never both at once).
type rawIn struct {
	buf      []byte // rawReadBuf bytes; buf[lo:hi] not yet parsed
	lo, hi   int
	fragOp   byte // opcode of the message being assembled (0: none)
	fragN    int  // its payload so far, in s.rbuf (allocated for the first fragmented message)
	skip     int  // payload bytes of a refused frame still to discard
	closing  bool // the session is closing: data messages are discarded
	async    bool // in the reactor: closes run on their own goroutine
	ended    bool // nothing more is read (close frame, EOF, error)
	detached bool // detached from its reactor
}

// compact moves the unparsed bytes to the start of the buffer.
func (in *rawIn) compact() {
	if in.lo == 0 {
		return
	}
	in.hi = copy(in.buf, in.buf[in.lo:in.hi])
	in.lo = 0
}

// nextMsg parses the frames buffered in s.in until a whole data message
// is decoded into s.msg (rsMsg), the buffer holds no whole frame (rsMore),
// or reading is over (rsEnd). Control frames are handled here: a ping is
// answered, a close frame ends reading (echoed if the server had not sent
// its own). A protocol violation closes the session (1002; 1009 for a
// frame over the limit; the refusals of readMsg for the message itself).
func (s *session) nextMsg() readStatus {
	in := &s.in
	for {
		if in.ended {
			return rsEnd
		}
		if in.skip > 0 {
			k := min(in.skip, in.hi-in.lo)
			in.lo += k
			in.skip -= k
			if in.skip > 0 {
				return rsMore
			}
		}
		b := in.buf[in.lo:in.hi]
		if len(b) < 2 {
			return rsMore
		}
		fin, rsv, op, masked := b[0]&0x80 != 0, b[0]&0x70, b[0]&0x0f, b[1]&0x80 != 0
		n, h := uint64(b[1]&0x7f), 2
		switch n {
		case 126:
			if len(b) < 4 {
				return rsMore
			}
			n, h = uint64(binary.BigEndian.Uint16(b[2:])), 4
		case 127:
			if len(b) < 10 {
				return rsMore
			}
			n, h = binary.BigEndian.Uint64(b[2:]), 10
		}
		switch {
		case rsv != 0:
			return s.protocolError(fmt.Sprintf("received header with unexpected rsv bits set: %v:%v:%v", rsv&0x40 != 0, rsv&0x20 != 0, rsv&0x10 != 0))
		case !masked:
			return s.protocolError("received unmasked frame from client")
		case op >= opClose && op <= opPong:
			if n > 125 {
				return s.protocolError(fmt.Sprintf("received control frame payload with invalid length: %d", n))
			}
			if !fin {
				return s.protocolError("received fragmented control frame")
			}
		case op > opBinary:
			return s.protocolError(fmt.Sprintf("received unknown opcode %v", op))
		case n > 1<<40:
			return s.protocolError("received frame payload with invalid length")
		case in.closing:
			// A data frame while closing: discarded below, whatever its size.
		case op == opCont && in.fragOp == 0:
			return s.protocolError("received continuation frame without text or binary frame")
		case op != opCont && in.fragOp != 0:
			return s.protocolError("received new data message without finishing the previous message")
		case n > wire.MaxClientFrame || uint64(in.fragN)+n > wire.MaxClientFrame:
			if len(b) < h+4 {
				return rsMore
			}
			in.lo += h + 4
			in.skip = int(n)
			in.fragOp, in.fragN = 0, 0
			s.refuseR(&wire.Error{Code: wire.CloseTooBig, Reason: fmt.Sprintf("frame over %d bytes", wire.MaxClientFrame)})
			continue
		}
		if in.closing && op <= opBinary && n > uint64(len(in.buf)-h-4) { // skip it as it comes
			if len(b) < h+4 {
				return rsMore
			}
			in.lo += h + 4
			in.skip = int(n)
			in.fragOp, in.fragN = 0, 0
			continue
		}
		end := h + 4 + int(n)
		if len(b) < end {
			return rsMore
		}
		key := b[h : h+4]
		p := b[h+4 : end]
		for i := range p {
			p[i] ^= key[i&3]
		}
		in.lo += end
		switch op {
		case opPing:
			s.answerPing(p)
			continue
		case opPong:
			continue
		case opClose:
			s.closeFrame(p)
			return rsEnd
		}
		if in.closing {
			in.fragOp, in.fragN = 0, 0
			continue
		}
		var msg []byte
		switch {
		case fin && op != opCont: // a whole message in one frame (the rule): decoded where it lies
			in.fragOp, msg = op, p
		default: // fragments are assembled in s.rbuf (allocated for the first)
			if op != opCont {
				in.fragOp, in.fragN = op, 0
			}
			if s.rbuf == nil {
				s.rbuf = make([]byte, wire.MaxClientFrame)
			}
			in.fragN += copy(s.rbuf[in.fragN:], p)
			if !fin {
				continue
			}
			msg = s.rbuf[:in.fragN]
		}
		typ := in.fragOp
		in.fragOp, in.fragN = 0, 0
		s.readAt = time.Now()
		s.touch(s.readAt)
		if typ != opBinary {
			s.refuseR(&wire.Error{Code: wire.CloseBadMessage, Reason: "text frames are not accepted"})
			continue
		}
		if err := s.dec.Decode(msg, &s.msg); err != nil {
			s.refuseR(err)
			continue
		}
		return rsMsg
	}
}

// protocolError closes the session with 1002 (as coder/websocket does; the
// end is counted as a lost connection, as there). While already closing,
// it only stops reading.
func (s *session) protocolError(text string) readStatus {
	if !s.in.closing {
		s.closeR(wire.CloseCode(websocket.StatusProtocolError), reasonLost, text)
	}
	s.in.ended = true
	s.conn.ws.gotClose() // nothing more is read: the close frame goes, then the connection
	return rsEnd
}

// answerPing answers a WebSocket ping with a pong. The reactor must not
// block on a write: the pong is written on its own goroutine, one at a
// time (a ping that arrives meanwhile goes unanswered, which RFC 6455
// allows: a pong answers the most recent ping).
func (s *session) answerPing(p []byte) {
	ws := s.conn.ws
	if !s.in.async {
		_ = ws.writeFrame(opPong, p)
		return
	}
	if !ws.pongBusy.CompareAndSwap(false, true) {
		return
	}
	b := append([]byte(nil), p...)
	go func() {
		defer ws.pongBusy.Store(false)
		_ = ws.writeFrame(opPong, b)
	}()
}

// closeFrame handles the peer's close frame: the end of the session's
// reading, classified as readFailed does (1000 and 1001 leave; any other
// code holds the seat), and echoed unless the server sent its close first.
func (s *session) closeFrame(p []byte) {
	s.in.ended = true
	ws := s.conn.ws
	code, reason := websocket.StatusNoStatusRcvd, ""
	switch {
	case len(p) == 1:
		s.protocolError("received invalid close payload: close payload must be 0 or at least 2 bytes")
		return
	case len(p) >= 2:
		code, reason = websocket.StatusCode(binary.BigEndian.Uint16(p)), string(p[2:])
		if !validCloseCode(code) || !utf8.ValidString(reason) {
			s.protocolError(fmt.Sprintf("received invalid close payload: invalid status code %v", code))
			return
		}
	}
	if code == websocket.StatusNormalClosure || code == websocket.StatusGoingAway {
		s.record(reasonClientClosed)
	} else {
		s.record(reasonClientAbnormal)
	}
	ws.gotClose()
	if s.in.async {
		go ws.closeWithin(code, reason, closeReplyWait)
	} else {
		ws.closeWithin(code, reason, closeReplyWait)
	}
}

// validCloseCode reports whether a close code may be sent on the wire.
func validCloseCode(c websocket.StatusCode) bool {
	switch {
	case c >= 1000 && c <= 1003, c >= 1007 && c <= 1014, c >= 3000 && c <= 4999:
		return true
	}
	return false
}

// closeR and refuseR are closeWith and refuse for the reader. On the raw
// path the close frame is written on its own goroutine (the reactor never
// waits on a socket) and the reader goes on reading, for the close reply
// (it alone reads the socket); the end reason is recorded at once. On
// coder/websocket's reader they are closeWith and refuse.
func (s *session) closeR(code wire.CloseCode, reason, text string) {
	if s.conn.ws == nil {
		s.closeWith(code, reason, text)
		return
	}
	s.in.closing = true
	s.in.fragOp, s.in.fragN = 0, 0
	if !s.closeNoted(code, reason, text) {
		return
	}
	go s.conn.ws.closeWithin(websocket.StatusCode(code), text, closeReplyWait)
}

func (s *session) refuseR(err error) {
	var we *wire.Error
	if !errors.As(err, &we) {
		we = &wire.Error{Code: wire.CloseBadMessage, Reason: "malformed message"}
	}
	s.closeR(we.Code, codeReasons[we.Code], we.Reason)
}

// readRaw is readMsg on the raw path before the reactor (hello): blocking
// reads on the connection until a message is decoded. It returns an error
// when the session is over.
func (s *session) readRaw() error {
	for {
		switch s.nextMsg() {
		case rsMsg:
			return nil
		case rsEnd:
			return errReadEnded
		}
		if s.in.closing {
			return errReadEnded
		}
		if !s.fill() {
			return errReadEnded
		}
	}
}

var errReadEnded = errors.New("read ended")

// fill reads once, blocking, into the read buffer; false when the
// connection is over (recorded as lost).
func (s *session) fill() bool {
	in := &s.in
	in.compact()
	n, err := s.conn.ws.tcp.Read(in.buf[in.hi:])
	in.hi += n
	if err != nil {
		s.readEOF()
		return n > 0
	}
	return true
}

// readEOF: the peer's stream ended (or the connection was dropped).
func (s *session) readEOF() {
	s.record(reasonLost)
	s.in.ended = true
	s.conn.ws.gotClose()
	s.conn.ws.drop()
}

// drainClose, after a hello that closed the session, reads until the
// peer's close reply or the end of the connection (bounded by the close's
// own deadline, which drops the connection).
func (s *session) drainClose() {
	for !s.in.ended {
		if s.nextMsg() == rsEnd {
			return
		}
		if !s.fill() {
			return
		}
	}
}
