package netcode

import (
	"net"
)

// Kernel buffer bounds that TuneListener sets on every accepted TCP
// connection. A write "succeeds" as soon as its bytes are in the socket's
// send buffer, which Linux otherwise autotunes up to 4 MiB: a slow reader
// then receives every old snapshot, seconds late, and no write deadline
// ever fires. With these bounds, what a peer has not yet taken blocks the
// writer within a few snapshots, and the session's latest-wins slot (not
// the kernel) decides what is sent next.
const (
	// SendBuffer is SO_SNDBUF (Linux doubles it for its bookkeeping and
	// stops autotuning the socket).
	SendBuffer = 64 << 10
	// NotSentLowat is TCP_NOTSENT_LOWAT: at most this many bytes that TCP
	// has not yet sent wait in the kernel (Linux; elsewhere only SendBuffer
	// applies).
	NotSentLowat = 16 << 10
)

// TuneListener returns ln with every accepted TCP connection's kernel send
// buffer bounded (SendBuffer, NotSentLowat). Serve the server's handler on
// it: http.Server.Serve(netcode.TuneListener(ln)), or for tests
// hs := httptest.NewUnstartedServer(h); hs.Listener = netcode.TuneListener(hs.Listener).
// Connections are returned unwrapped (a *net.TCPConn stays one); a socket
// option that cannot be set is ignored, the connection is kept.
func TuneListener(ln net.Listener) net.Listener { return tunedListener{ln} }

type tunedListener struct{ net.Listener }

func (l tunedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tuneConn(tc)
	}
	return c, err
}

// tuneConn bounds one connection's send buffer and unsent bytes.
func tuneConn(tc *net.TCPConn) error {
	if err := tc.SetWriteBuffer(SendBuffer); err != nil {
		return err
	}
	return setNotSentLowat(tc, NotSentLowat)
}
