package netcode_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode"
	"github.com/tickstream/tickstream/netcode/client"
	"github.com/tickstream/tickstream/netcode/nettest"
	"github.com/tickstream/tickstream/netcode/wire"
	"github.com/tickstream/tickstream/tests/rawws"
)

// readers are the two read paths of a player connection: the epoll
// reactor (the default on Linux for plain TCP) and coder/websocket's
// goroutine reader (TLS, other systems, -goroutine-reader).
var readers = []struct {
	name      string
	goroutine bool
}{{"reactor", false}, {"goroutine", true}}

// rawFrame is one client frame with every bit chosen: fin, rsv (the three
// reserved bits, 0x70), opcode, masked (with a non-zero key, so the
// server must unmask).
func rawFrame(fin bool, rsv, op byte, masked bool, payload []byte) []byte {
	b0 := rsv | op
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	var m byte
	if masked {
		m = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		out = append(out, m|byte(n))
	case n < 1<<16:
		out = append(out, m|126, byte(n>>8), byte(n))
	default:
		out = append(out, m|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if !masked {
		return append(out, payload...)
	}
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	out = append(out, key[:]...)
	for i, c := range payload {
		out = append(out, c^key[i&3])
	}
	return out
}

// rawJoin dials with rawws and joins match; it returns the connection
// after the welcome.
func rawJoin(t *testing.T, ts *testServer, name, match string) *rawws.Conn {
	t.Helper()
	c, resp, err := rawws.Dial(addrOf(ts), "/play", rawws.Options{})
	if err != nil || c == nil {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Send(wire.EncodeJoin(name, match)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		f, err := c.Next(deadline)
		if err != nil {
			t.Fatalf("%s: no welcome: %v", name, err)
		}
		if typ, _ := wire.PeekType(f.Payload); f.Op == rawws.OpBinary && typ == wire.TypeWelcome {
			return c
		}
		if f.Op == rawws.OpClose {
			t.Fatalf("%s: closed before the welcome: %x", name, f.Payload)
		}
	}
}

// untilAck reads c's frames until a snapshot acknowledges seq.
func untilRawAck(t *testing.T, c *rawws.Conn, seq uint32) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var snap wire.SnapFrame
	for {
		f, err := c.Next(deadline)
		if err != nil {
			t.Fatalf("no snapshot acknowledging input %d: %v", seq, err)
		}
		if f.Op == rawws.OpClose {
			t.Fatalf("closed before input %d was acknowledged: %x", seq, f.Payload)
		}
		if typ, _ := wire.PeekType(f.Payload); f.Op != rawws.OpBinary || typ != wire.TypeSnap {
			continue
		}
		if err := wire.DecodeSnapHead(f.Payload, &snap); err != nil {
			t.Fatal(err)
		}
		if snap.Ack >= seq {
			return
		}
	}
}

// TestStalledPartialFrameBlocksNoOne: players that send the first bytes of
// a frame and stall (more of them than there are reactors, so every
// reactor holds some) block no one: a healthy player's inputs keep being
// applied and acknowledged meanwhile. When the stalled players send the
// rest of their frames, the inputs in them are applied: a partial frame is
// kept, not lost.
func TestStalledPartialFrameBlocksNoOne(t *testing.T) {
	for _, rd := range readers {
		t.Run(rd.name, func(t *testing.T) {
			ts := newTestServer(t, netcode.Config{GoroutineReader: rd.goroutine,
				Heartbeat: netcode.HeartbeatConfig{BehindAfter: time.Minute, SlowAfter: time.Minute, DeadAfter: time.Minute}})
			ctx := testCtx(t, 30*time.Second)
			healthy, _ := ts.join(t, ctx, "healthy", "")
			stalled := 2*runtime.GOMAXPROCS(0) + 2 // reactors: one per GOMAXPROCS, sockets dealt in turn
			var rest [][]byte
			var conns []*rawws.Conn
			for i := range stalled {
				c := rawJoin(t, ts, fmt.Sprintf("stall%d", i), "") // any match: the reactors are the server's
				f := rawFrame(true, 0, rawws.OpBinary, true, wire.AppendInput(nil, wire.InputMsg{Seq: 1, MX: 1}))
				cut := 3 + i%6 // inside the header, the mask key or the payload
				if _, err := c.Write(f[:cut]); err != nil {
					t.Fatal(err)
				}
				conns, rest = append(conns, c), append(rest, f[cut:])
			}
			var last uint32
			for range 5 {
				seq, err := healthy.Input(ctx, wire.InputMsg{MX: -1})
				if err != nil {
					t.Fatal(err)
				}
				last = seq
				for nextSnap(t, ctx, healthy).Ack < seq {
				}
			}
			if last != 5 {
				t.Fatalf("healthy player's last input %d, want 5", last)
			}
			for i, c := range conns {
				if _, err := c.Write(rest[i]); err != nil {
					t.Fatal(err)
				}
			}
			for _, c := range conns {
				untilRawAck(t, c, 1)
			}
		})
	}
}

// TestHostileFramesBothReaders: frames that break RFC 6455 get the same
// answer on both read paths (the reactor parses frames itself): 1002 for a
// protocol violation, 1009 for a message over the limit, 4000 for a text
// message; a fragmented binary message is assembled and applied; a
// WebSocket ping is answered with a pong carrying its payload; a close
// frame from the client is echoed with its code.
func TestHostileFramesBothReaders(t *testing.T) {
	in := wire.AppendInput(nil, wire.InputMsg{Seq: 1, MX: 1})
	cases := []struct {
		name   string
		frames [][]byte
		code   wire.CloseCode // 0: no close frame, the connection ends (see unmaskedOK)
		reason string
	}{
		{"reserved bit", [][]byte{rawFrame(true, 0x40, rawws.OpBinary, true, in)}, 1002, "rsv"},
		{"unknown opcode", [][]byte{rawFrame(true, 0, 0x3, true, in)}, 1002, "opcode"},
		{"fragmented ping", [][]byte{rawFrame(false, 0, rawws.OpPing, true, []byte("p"))}, 1002, "fragmented control"},
		{"long ping", [][]byte{rawFrame(true, 0, rawws.OpPing, true, make([]byte, 126))}, 1002, "control frame"},
		{"lone continuation", [][]byte{rawFrame(true, 0, 0x0, true, in)}, 1002, "continuation"},
		{"new message mid-message", [][]byte{rawFrame(false, 0, rawws.OpBinary, true, in[:2]), rawFrame(true, 0, rawws.OpBinary, true, in)}, 1002, "finishing"},
		{"text", [][]byte{rawFrame(true, 0, rawws.OpText, true, []byte(`{"t":"input"}`))}, wire.CloseBadMessage, "text frames"},
		{"over the limit in fragments", [][]byte{rawFrame(false, 0, rawws.OpBinary, true, make([]byte, 300)), rawFrame(true, 0, 0x0, true, make([]byte, 300))}, wire.CloseTooBig, ""},
		{"over the limit in one frame", [][]byte{rawFrame(true, 0, rawws.OpBinary, true, make([]byte, 2000))}, wire.CloseTooBig, ""},
	}
	for _, rd := range readers {
		t.Run(rd.name, func(t *testing.T) {
			ts := newTestServer(t, netcode.Config{GoroutineReader: rd.goroutine})
			ctx := testCtx(t, 60*time.Second)
			_, w := ts.join(t, ctx, "host", "")
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					c := rawJoin(t, ts, "hostile", w.Match)
					for _, f := range tc.frames {
						if _, err := c.Write(f); err != nil {
							t.Fatal(err)
						}
					}
					code, reason, err := c.CloseCode(time.Now().Add(10 * time.Second))
					if err != nil || code != tc.code || !strings.Contains(reason, tc.reason) {
						t.Fatalf("close %d %q (%v), want %d mentioning %q", code, reason, err, tc.code, tc.reason)
					}
				})
			}
			t.Run("unmasked", func(t *testing.T) {
				c := rawJoin(t, ts, "hostile", w.Match)
				if _, err := c.Write(rawFrame(true, 0, rawws.OpBinary, false, in)); err != nil {
					t.Fatal(err)
				}
				// coder/websocket ends the connection without a close frame;
				// the reactor sends 1002 first. Either way it ends.
				code, err := c.ReadToEnd(time.Now().Add(10 * time.Second))
				if !errors.Is(err, io.EOF) {
					t.Fatalf("connection not ended: %v", err)
				}
				if !rd.goroutine && code != 1002 {
					t.Fatalf("close code %d, want 1002", code)
				}
			})
			t.Run("fragmented input", func(t *testing.T) {
				c := rawJoin(t, ts, "frag", w.Match)
				for _, f := range [][]byte{
					rawFrame(false, 0, rawws.OpBinary, true, in[:3]),
					rawFrame(true, 0, rawws.OpPing, true, []byte("mid")), // control frames may come between fragments
					rawFrame(false, 0, 0x0, true, in[3:5]),
					rawFrame(true, 0, 0x0, true, in[5:]),
				} {
					if _, err := c.Write(f); err != nil {
						t.Fatal(err)
					}
				}
				untilRawAck(t, c, 1)
			})
			t.Run("ping", func(t *testing.T) {
				c := rawJoin(t, ts, "ping", w.Match)
				if _, err := c.Write(rawFrame(true, 0, rawws.OpPing, true, []byte("hello"))); err != nil {
					t.Fatal(err)
				}
				deadline := time.Now().Add(10 * time.Second)
				for {
					f, err := c.Next(deadline)
					if err != nil {
						t.Fatalf("no pong: %v", err)
					}
					if f.Op == rawws.OpPong {
						if string(f.Payload) != "hello" {
							t.Fatalf("pong %q, want %q", f.Payload, "hello")
						}
						return
					}
				}
			})
			for _, code := range []uint16{1000, 4321} {
				t.Run("client close "+string(rune('0'+code/1000)), func(t *testing.T) {
					c := rawJoin(t, ts, "closer", w.Match)
					if _, err := c.Write(rawFrame(true, 0, rawws.OpClose, true, binary.BigEndian.AppendUint16(nil, code))); err != nil {
						t.Fatal(err)
					}
					got, _, err := c.CloseCode(time.Now().Add(10 * time.Second))
					if err != nil || got != wire.CloseCode(code) {
						t.Fatalf("close echo %d (%v), want %d", got, err, code)
					}
					if _, err := c.WaitEOF(time.Now().Add(10 * time.Second)); err != nil {
						t.Fatalf("connection not dropped after the close echo: %v", err)
					}
				})
			}
			// A session counts its end when its goroutine has finished,
			// which may be after the client saw the connection end.
			for _, reason := range []string{"client_closed", "client_closed_abnormally", "too_big"} {
				eventually(t, ctx, "disconnect reason "+reason+" counted", func() bool {
					return counter(t, ts, "tickstream_disconnects_total", reason) > 0
				})
			}
		})
	}
}

// TestReactorNoGoroutinePerPlayer: on the reactor a seated player
// connection costs no goroutine (the reactors read, the writer pool and
// kicks write); on the goroutine reader two (reader and writer). This
// also proves which path each server took.
func TestReactorNoGoroutinePerPlayer(t *testing.T) {
	const players = 12
	for _, rd := range readers {
		t.Run(rd.name, func(t *testing.T) {
			ts := newTestServer(t, netcode.Config{GoroutineReader: rd.goroutine,
				Heartbeat: netcode.HeartbeatConfig{BehindAfter: time.Minute, SlowAfter: time.Minute, DeadAfter: time.Minute}})
			ctx := testCtx(t, 30*time.Second)
			_, w := ts.join(t, ctx, "host", "")
			settle := func() int {
				// Goroutines that end on their own (handshake, join timers)
				// get a few chances to; the count is the lowest seen.
				low := runtime.NumGoroutine()
				for range 20 {
					time.Sleep(10 * time.Millisecond)
					low = min(low, runtime.NumGoroutine())
				}
				return low
			}
			before := settle()
			for i := range players {
				rawJoin(t, ts, "p"+string(rune('a'+i)), w.Match)
			}
			per := float64(settle()-before) / players
			switch {
			case !rd.goroutine && per > 0.5:
				t.Fatalf("reactor: %.2f goroutines per player, want 0", per)
			case rd.goroutine && per < 1.9:
				t.Fatalf("goroutine reader: %.2f goroutines per player, want 2", per)
			}
		})
	}
}

// TestBurstLargerThanReadBuffer: a client that writes more frames at once
// than a connection's read buffer holds (40 inputs, about 1.4 KB, in one
// write) and then nothing more has every one of them applied: the reactor
// reads again while its reads fill the buffer (its sockets are
// edge-triggered: no further event would come for bytes already there).
func TestBurstLargerThanReadBuffer(t *testing.T) {
	for _, rd := range readers {
		t.Run(rd.name, func(t *testing.T) {
			ts := newTestServer(t, netcode.Config{GoroutineReader: rd.goroutine})
			ctx := testCtx(t, 20*time.Second)
			_, w := ts.join(t, ctx, "host", "")
			c := rawJoin(t, ts, "burst", w.Match)
			var burst []byte
			const n = 40
			for seq := uint32(1); seq <= n; seq++ {
				burst = append(burst, rawFrame(true, 0, rawws.OpBinary, true, wire.AppendInput(nil, wire.InputMsg{Seq: seq, MX: 1}))...)
			}
			if len(burst) < 1024 {
				t.Fatalf("burst of %d bytes: not over the read buffer", len(burst))
			}
			if _, err := c.Write(burst); err != nil {
				t.Fatal(err)
			}
			untilRawAck(t, c, n)
		})
	}
}

// FuzzRawFrames: whatever bytes a seated player sends, the reactor (which
// parses them itself) neither panics nor stops serving: the next player
// still joins. The seeds are the hostile frames above, cut anywhere.
func FuzzRawFrames(f *testing.F) {
	in := wire.AppendInput(nil, wire.InputMsg{Seq: 1, MX: 1})
	seeds := [][]byte{
		rawFrame(true, 0, rawws.OpBinary, true, in),
		rawFrame(true, 0x40, rawws.OpBinary, true, in),
		rawFrame(false, 0, rawws.OpPing, true, []byte("p")),
		rawFrame(true, 0, rawws.OpClose, true, []byte{3, 232, 'b', 'y', 'e'}),
		rawFrame(true, 0, rawws.OpClose, true, []byte{1}),
		rawFrame(true, 0, rawws.OpBinary, true, make([]byte, 70000)),
		append(rawFrame(false, 0, rawws.OpBinary, true, in[:2]), rawFrame(true, 0, 0x0, true, in[2:])...),
		{0x82, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0},
		{0x82, 0xfe, 0x01},
	}
	for _, s := range seeds {
		f.Add(s)
		f.Add(s[:len(s)/2])
	}
	s := nettest.StartServerWith(f, netcode.Config{Logger: zerolog.Nop()},
		game.DirectoryConfig{Defaults: game.MatchConfig{MinPlayers: 1, MaxPlayers: 64, Grace: time.Millisecond, EmptyTimeout: time.Second}},
		nettest.Options{Listener: netcode.TuneListener})
	addr := strings.TrimPrefix(s.HTTP.URL, "http://")
	f.Fuzz(func(t *testing.T, data []byte) {
		c, resp, err := rawws.Dial(addr, "/play", rawws.Options{})
		if err != nil || c == nil {
			t.Fatalf("upgrade: %v %v", resp, err)
		}
		defer c.Close()
		if err := c.Send(wire.EncodeJoin("fuzz", "")); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			fr, err := c.Next(deadline)
			if err != nil {
				t.Fatalf("no welcome: %v", err)
			}
			if typ, _ := wire.PeekType(fr.Payload); fr.Op == rawws.OpBinary && typ == wire.TypeWelcome {
				break
			}
		}
		if _, err := c.Write(data); err != nil {
			t.Fatal(err)
		}
		// Whatever came of it, the connection ends or stays up; the server
		// must answer the next join (the next input's dial) either way.
		_, _ = c.ReadToEnd(time.Now().Add(20 * time.Millisecond))
	})
}

// extendedFrame is a masked, final binary frame whose payload length is
// written in the 16-bit (size 4) or 64-bit (size 10) form whatever the
// payload's size: RFC 6455 asks senders for the shortest form, and a
// reader that takes the longer ones parses both length fields.
func extendedFrame(size int, payload []byte) []byte {
	out := []byte{0x80 | rawws.OpBinary}
	if size == 4 {
		out = append(out, 0x80|126)
		out = binary.BigEndian.AppendUint16(out, uint16(len(payload)))
	} else {
		out = append(out, 0x80|127)
		out = binary.BigEndian.AppendUint64(out, uint64(len(payload)))
	}
	key := [4]byte{0x5a, 0x01, 0xc3, 0x77}
	out = append(out, key[:]...)
	for i, c := range payload {
		out = append(out, c^key[i&3])
	}
	return out
}

// TestReactorExtendedLengths: frames with a 16-bit and a 64-bit length
// field, each arriving a few bytes at a time (the reactor's buffer then
// holds a partial header, then a partial payload), are parsed and applied.
func TestReactorExtendedLengths(t *testing.T) {
	ts := newTestServer(t, netcode.Config{})
	c := rawJoin(t, ts, "long", "")
	var stream []byte
	stream = append(stream, extendedFrame(4, wire.AppendInput(nil, wire.InputMsg{Seq: 1, MX: 1}))...)
	stream = append(stream, extendedFrame(10, wire.AppendInput(nil, wire.InputMsg{Seq: 2, MY: 1}))...)
	for len(stream) > 0 {
		n := min(3, len(stream))
		if _, err := c.Write(stream[:n]); err != nil {
			t.Fatal(err)
		}
		stream = stream[n:]
		time.Sleep(2 * time.Millisecond) // separate reads
	}
	untilRawAck(t, c, 2)
}

// TestSnapshotsBatchedWithIOURing: by default, where the kernel allows
// io_uring, the writer pool sends a tick's snapshots in io_uring batches
// (counted); with NoIOURing, one write(2) each and none counted. Either
// way every player gets its snapshots in tick order.
func TestSnapshotsBatchedWithIOURing(t *testing.T) {
	for _, tc := range []struct {
		name string
		off  bool
	}{{"io_uring", false}, {"write", true}} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, netcode.Config{NoIOURing: tc.off})
			ctx := testCtx(t, 20*time.Second)
			var cs []*client.Client
			for i := range 3 {
				c, _ := ts.join(t, ctx, fmt.Sprint("p", i), "")
				cs = append(cs, c)
			}
			for i, c := range cs {
				last := uint64(0)
				for range 30 {
					s := nextSnap(t, ctx, c)
					if s.Tick <= last {
						t.Fatalf("player %d: tick %d after %d", i, s.Tick, last)
					}
					last = s.Tick
				}
			}
			sent := counter(t, ts, "tickstream_snapshots_sent_total", "")
			batched := counter(t, ts, "tickstream_snapshots_batched_total", "")
			t.Logf("sent %v, batched %v (io_uring available: %v)", sent, batched, netcode.IOURingAvailable())
			switch {
			case sent < 90:
				t.Fatalf("%v snapshots sent, want at least the 90 read", sent)
			case batched > sent:
				t.Fatalf("%v batched of %v sent", batched, sent)
			case tc.off && batched != 0:
				t.Fatalf("NoIOURing: %v snapshots batched, want 0", batched)
			case !tc.off && netcode.IOURingAvailable() && batched == 0:
				t.Fatalf("io_uring: none of %v snapshots batched", sent)
			}
		})
	}
}

// TestDroppedConnectionsCloseTheirDescriptors: the raw path reads and
// writes a duplicate of each socket's descriptor, and a connection's end
// must close both. Players that leave (the client closes its socket) and
// players the server closes (a protocol error, whose close frame the
// client never answers) each see their TCP connection end, and the
// process's open descriptors come back to what they were before them.
func TestDroppedConnectionsCloseTheirDescriptors(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the raw path and /proc/self/fd are Linux's")
	}
	ts := newTestServer(t, netcode.Config{})
	ctx := testCtx(t, 30*time.Second)
	_, w := ts.join(t, ctx, "host", "")
	open := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	before := open()
	const n = 6
	var kicked []*rawws.Conn
	for i := range n {
		c := rawJoin(t, ts, fmt.Sprintf("leaver%d", i), w.Match)
		c.Close()
		kicked = append(kicked, rawJoin(t, ts, fmt.Sprintf("kicked%d", i), w.Match))
	}
	if during := open(); during < before+n {
		t.Fatalf("%d descriptors open with %d players joined, %d before: the count does not see them", during, n, before)
	}
	for _, c := range kicked {
		if _, err := c.Write(rawFrame(true, 0, 0x2, false, []byte{0x80})); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range kicked {
		code, _, err := c.CloseCode(time.Now().Add(5 * time.Second))
		if err != nil || code != 1002 {
			t.Fatalf("kicked%d: close %d (%v), want 1002", i, code, err)
		}
		// No close reply: the server drops the connection after its wait.
		if _, err := c.WaitEOF(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatalf("kicked%d: the connection did not end: %v", i, err)
		}
		c.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for open() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d descriptors open after the players' connections ended, %d before them", open(), before)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
