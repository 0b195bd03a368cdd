//go:build load

package tests

// A load test of the spectator fan-out, run by `make load` without the race
// detector (`go test -tags load -run Load ./tests/`): 1,000 SSE spectators
// on one 20 Hz match, plus one frozen spectator that never reads.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode"
	"github.com/tickstream/tickstream/netcode/client"
	"github.com/tickstream/tickstream/netcode/nettest"
	"github.com/tickstream/tickstream/netcode/wire"
)

// smallSendBuffers makes accepted connections' send buffers small, so that
// a spectator that stops reading blocks the server's writes within a second.
type smallSendBuffers struct{ net.Listener }

func (l smallSendBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(8 << 10)
	}
	return c, err
}

// spectatorStats counts one SSE spectator's ticks.
type spectatorStats struct {
	first, last, events atomic.Uint64
	err                 atomic.Value
}

func watchSSE(ctx context.Context, hc *http.Client, url string, st *spectatorStats) {
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := hc.Do(req)
	if err != nil {
		st.err.Store(err.Error())
		return
	}
	defer resp.Body.Close()
	r := client.NewSSEReader(resp.Body)
	for {
		ev, err := r.Next()
		if err != nil {
			if ctx.Err() == nil {
				st.err.Store(err.Error())
			}
			return
		}
		if ev.Event != wire.SpecKeyframe && ev.Event != wire.SpecDelta {
			continue
		}
		id, _ := strconv.ParseUint(ev.ID, 10, 64)
		st.first.CompareAndSwap(0, id)
		st.last.Store(id)
		st.events.Add(1)
	}
}

// frozenSSE opens the stream over raw TCP with a tiny receive buffer and
// never reads it.
func frozenSSE(t *testing.T, addr, path string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048) })
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n", path, addr)
	if _, err := http.ReadResponse(bufio.NewReader(io.LimitReader(c, 512)), nil); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLoadThousandSSESpectators(t *testing.T) {
	const spectators = 1000
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.ErrorLevel)
	srv := nettest.StartServerWith(t, netcode.Config{
		WriteTimeout: 500 * time.Millisecond,
		Logger:       log,
	}, game.DirectoryConfig{
		NewRules: func() game.Rules { return busyRules{Arena: game.NewArena()} },
	}, nettest.Options{Listener: func(ln net.Listener) net.Listener { return smallSendBuffers{ln} }})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	m, err := srv.Directory().Create(game.MatchConfig{TickRate: 20, MinPlayers: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Two players that move, so that every delta has content.
	wsURL := srv.WSURL
	for i := 0; i < 2; i++ {
		p := client.NewPlayer(client.PlayerOptions{URL: wsURL, Name: fmt.Sprintf("p%d", i), Match: m.ID()})
		go p.Run(ctx, func(client.Message) {})
		go func() {
			tk := time.NewTicker(50 * time.Millisecond)
			defer tk.Stop()
			for n := 0; ctx.Err() == nil; n++ {
				<-tk.C
				p.Input(ctx, wire.InputMsg{MX: float64(n%20)/10 - 1, MY: 0.5})
			}
		}()
	}

	hc := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 0, MaxIdleConnsPerHost: spectators, DisableCompression: true}}
	url := srv.URL + "/api/matches/" + m.ID() + "/events"
	stats := make([]spectatorStats, spectators)
	var wg sync.WaitGroup
	sctx, stop := context.WithCancel(ctx)
	for i := range stats {
		wg.Add(1)
		go func() { defer wg.Done(); watchSSE(sctx, hc, url, &stats[i]) }()
	}
	time.Sleep(2 * time.Second) // everyone connected and streaming
	lateBefore := m.Stats().Late
	frozenSSE(t, srv.Addr, "/api/matches/"+m.ID()+"/events")
	for i := range stats { // measure from here
		stats[i].first.Store(0)
		stats[i].events.Store(0)
	}
	time.Sleep(4 * time.Second)
	stop()
	wg.Wait()

	ticks := 4 * 20
	worst, failed, gappy := ticks, 0, 0
	for i := range stats {
		st := &stats[i]
		if e := st.err.Load(); e != nil {
			failed++
			t.Logf("spectator %d: %v", i, e)
			continue
		}
		n := int(st.events.Load())
		span := int(st.last.Load() - st.first.Load() + 1)
		if n != span {
			gappy++
		}
		worst = min(worst, n)
	}
	late := m.Stats().Late - lateBefore
	slow := nettest.Scrape(t, srv.URL+"/metrics", "tickstream_spectator_disconnects_total", "too_slow")
	t.Logf("%d spectators: %d ended early, %d with gaps, the rest got ≥ %d of ~%d ticks in 4 s; late ticks: %d; too_slow disconnects: %v",
		spectators, failed, gappy, worst, ticks, late, slow)
	if failed == spectators {
		t.Fatal("every spectator stream failed")
	}
	if slow < 1 {
		t.Fatal("the frozen spectator was never ended as too slow")
	}
	loadCheck(t, failed == 0 && gappy == 0, "%d spectators ended early, %d had gaps", failed, gappy)
	loadCheck(t, worst >= ticks*8/10, "a spectator got only %d of ~%d ticks", worst, ticks)
	loadCheck(t, late <= uint64(ticks/10), "%d late ticks while 1,000 spectators watched and one froze", late)
	loadCheck(t, slow == 1, "frozen spectator: %v too_slow disconnects, want 1", slow)
}

// busyRules adds 200 static objects to the arena, so that keyframes are
// big enough to fill a frozen reader's buffers quickly.
type busyRules struct{ *game.Arena }

func (r busyRules) AppendSnapshot(ents []game.Entity, evs []game.Event) ([]game.Entity, []game.Event) {
	ents, evs = r.Arena.AppendSnapshot(ents, evs)
	for i := 0; i < 200; i++ {
		ents = append(ents, game.Entity{ID: uint32(2*game.FirstObjectID + i), Kind: 3, X: float32(i * 8), Y: 450})
	}
	return ents, evs
}
