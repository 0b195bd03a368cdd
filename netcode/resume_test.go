package netcode_test

import (
	"context"
	"encoding/base64"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode"
	"github.com/tickstream/tickstream/netcode/client"
	"github.com/tickstream/tickstream/netcode/wire"
)

// inputLog is a Rules wrapper that records, per player, every input
// sequence number the match applied, in order.
type inputLog struct {
	*game.Arena
	mu      *sync.Mutex
	applied map[game.PlayerID][]uint32
}

func (r inputLog) Step(info game.StepInfo, in []game.Input) {
	r.mu.Lock()
	for _, i := range in {
		if i.Seq != 0 { // 0: the match's own neutral input for a lost seat
			r.applied[i.Player] = append(r.applied[i.Player], i.Seq)
		}
	}
	r.mu.Unlock()
	r.Arena.Step(info, in)
}

func newInputLog() (func() game.Rules, func(game.PlayerID) []uint32) {
	var mu sync.Mutex
	applied := map[game.PlayerID][]uint32{}
	return func() game.Rules {
			return inputLog{Arena: game.NewArena(), mu: &mu, applied: applied}
		}, func(p game.PlayerID) []uint32 {
			mu.Lock()
			defer mu.Unlock()
			return slices.Clone(applied[p])
		}
}

func resumeRefusal(t *testing.T, ctx context.Context, url, token string) (wire.CloseCode, string) {
	t.Helper()
	c, err := client.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	return resumeRefusalOn(t, ctx, c, token)
}

func resumeRefusalOn(t *testing.T, ctx context.Context, c *client.Client, token string) (wire.CloseCode, string) {
	t.Helper()
	_, err := c.Resume(ctx, token)
	if err == nil {
		t.Fatal("resume accepted")
	}
	return client.CloseCode(err), client.CloseReason(err)
}

func TestResumeWithinGraceKeepsSeat(t *testing.T) {
	ts := newTestServer(t, netcode.Config{})
	ctx := testCtx(t, 20*time.Second)
	c, w := ts.join(t, ctx, "blinker", "")
	if w.Token == "" || w.Resumed || w.Ack != 0 {
		t.Fatalf("welcome %+v", w)
	}
	for i := 0; i < 5; i++ {
		if _, err := c.Input(ctx, wire.InputMsg{MX: 1}); err != nil {
			t.Fatal(err)
		}
	}
	var before game.Entity
	for {
		s := nextSnap(t, ctx, c)
		if s.Ack == 5 {
			// The last input still moves the avatar: stop it first.
			break
		}
	}
	if _, err := c.Input(ctx, wire.InputMsg{}); err != nil {
		t.Fatal(err)
	}
	for {
		s := nextSnap(t, ctx, c)
		if s.Ack == 6 {
			before, _ = entity(s, w.Player)
			break
		}
	}
	c.CloseNow() // the link drops
	m := ts.matchOf(t, w.Match)
	eventually(t, ctx, "the seat to turn disconnected", func() bool { return m.Info().Disconnected == 1 })

	c2, err := client.Dial(ctx, ts.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.CloseNow()
	w2, err := c2.Resume(ctx, w.Token)
	if err != nil {
		t.Fatalf("resume: %v (close %d %q)", err, client.CloseCode(err), client.CloseReason(err))
	}
	if !w2.Resumed || w2.Player != w.Player || w2.Match != w.Match || w2.Ack != 6 || w2.Token == w.Token {
		t.Fatalf("resumed welcome %+v (first was %+v)", w2, w)
	}
	s := nextSnap(t, ctx, c2)
	after, ok := entity(s, w.Player)
	if !ok || after.X != before.X || after.Y != before.Y || after.Flags&game.FlagDisconnected != 0 {
		t.Fatalf("after resume: %+v, before %+v", after, before)
	}
	if len(s.Ents) == 0 || s.Ack != 6 {
		t.Fatalf("first snapshot after resume: ack %d, %d entities", s.Ack, len(s.Ents))
	}
	// Until the client sends something, the old token would still work (the
	// welcome may not have reached it); after that, it is spent.
	if _, err := c2.Input(ctx, wire.InputMsg{}); err != nil {
		t.Fatal(err)
	}
	for nextSnap(t, ctx, c2).Ack != 7 {
	}
	if code, reason := resumeRefusal(t, ctx, ts.url, w.Token); code != wire.CloseResumeFailed || !strings.Contains(reason, "already used") {
		t.Fatalf("reused token: %d %q", code, reason)
	}
	if counter(t, ts, "tickstream_resumes_total", "ok") != 1 || counter(t, ts, "tickstream_resumes_total", "used") != 1 {
		t.Fatal("resume results not counted")
	}
}

func TestResumeRefusals(t *testing.T) {
	ts := newTestServerDir(t, netcode.Config{
		ResumeSecret: []byte("0123456789abcdef0123"),
	}, game.DirectoryConfig{Defaults: game.MatchConfig{Grace: 300 * time.Millisecond}})
	other := newTestServer(t, netcode.Config{ResumeSecret: []byte("another-secret-of-this-size")})
	short := newTestServer(t, netcode.Config{ResumeTTL: time.Nanosecond})
	ctx := testCtx(t, 20*time.Second)

	victim, w := ts.join(t, ctx, "victim", "")
	_, wo := other.join(t, ctx, "foreigner", "")
	_, ws := short.join(t, ctx, "expiring", "")

	raw, err := base64.RawURLEncoding.DecodeString(w.Token)
	if err != nil {
		t.Fatal(err)
	}
	forged := slices.Clone(raw)
	forged[12] ^= 1 // another player id
	crossMatch := append(slices.Clone(raw[:17]), []byte("otherid1")...)
	crossMatch = append(crossMatch, raw[len(raw)-16:]...)

	for _, tc := range []struct {
		name, url, token, reason string
	}{
		{"forged", ts.url, base64.RawURLEncoding.EncodeToString(forged), "invalid resume token"},
		{"cross-match", ts.url, base64.RawURLEncoding.EncodeToString(crossMatch), "invalid resume token"},
		{"another server's", ts.url, wo.Token, "invalid resume token"},
		{"garbage", ts.url, "not a token", "invalid resume token"},
		{"expired", short.url, ws.Token, "expired"},
	} {
		if code, reason := resumeRefusal(t, ctx, tc.url, tc.token); code != wire.CloseResumeFailed || !strings.Contains(reason, tc.reason) {
			t.Errorf("%s token: close %d %q, want %d containing %q", tc.name, code, reason, wire.CloseResumeFailed, tc.reason)
		}
	}

	// After the grace the seat is gone.
	m := ts.matchOf(t, w.Match)
	victim.CloseNow()
	eventually(t, ctx, "the seat to be freed", func() bool { return m.Info().Players == 0 })
	if code, reason := resumeRefusal(t, ctx, ts.url, w.Token); code != wire.CloseResumeFailed || !strings.Contains(reason, "no longer held") {
		t.Fatalf("resume after the grace: %d %q", code, reason)
	}
}

func TestSecondConnectionReplacesFirst(t *testing.T) {
	ts := newTestServer(t, netcode.Config{})
	ctx := testCtx(t, 20*time.Second)
	old, w := ts.join(t, ctx, "twin", "")
	oldDone := readAll(ctx, old)
	c2, err := client.Dial(ctx, ts.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.CloseNow()
	w2, err := c2.Resume(ctx, w.Token)
	if err != nil || w2.Player != w.Player {
		t.Fatalf("resume over a live connection: %+v %v", w2, err)
	}
	if err := <-oldDone; client.CloseCode(err) != wire.CloseReplaced {
		t.Fatalf("old connection closed with %v, want %d replaced", err, wire.CloseReplaced)
	}
	// The new one plays on: the replaced session's end did not free the seat.
	if _, err := c2.Input(ctx, wire.InputMsg{MX: 1}); err != nil {
		t.Fatal(err)
	}
	for nextSnap(t, ctx, c2).Ack != w2.Ack+1 {
	}
	if info := ts.matchOf(t, w.Match).Info(); info.Players != 1 || info.Disconnected != 0 {
		t.Fatalf("after replacement: %+v", info)
	}
}

// A client's first reconnection was cut after its resume left; it opened a
// second and resumed there. The server reads the first one's resume last:
// it is refused, and the second connection keeps the seat.
func TestDelayedResumeOfOlderConnectionRefused(t *testing.T) {
	ts := newTestServer(t, netcode.Config{})
	ctx := testCtx(t, 20*time.Second)
	c, w := ts.join(t, ctx, "blinker", "")
	c.CloseNow()
	m := ts.matchOf(t, w.Match)
	eventually(t, ctx, "the seat to turn disconnected", func() bool { return m.Info().Disconnected == 1 })

	first, err := client.Dial(ctx, ts.url, nil) // opened first…
	if err != nil {
		t.Fatal(err)
	}
	defer first.CloseNow()
	second, err := client.Dial(ctx, ts.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer second.CloseNow()
	w2, err := second.Resume(ctx, w.Token) // …but its resume is read last
	if err != nil || w2.Player != w.Player {
		t.Fatalf("resume on the newer connection: %+v %v", w2, err)
	}
	if code, reason := resumeRefusalOn(t, ctx, first, w.Token); code != wire.CloseResumeFailed || !strings.Contains(reason, "newer connection") {
		t.Fatalf("late resume on the older connection: %d %q", code, reason)
	}
	if _, err := second.Input(ctx, wire.InputMsg{MX: 1}); err != nil {
		t.Fatal(err)
	}
	for nextSnap(t, ctx, second).Ack != w2.Ack+1 {
	}
	if info := m.Info(); info.Players != 1 || info.Disconnected != 0 {
		t.Fatalf("after the refused resume: %+v", info)
	}
	if counter(t, ts, "tickstream_resumes_total", "superseded") != 1 {
		t.Fatal("the refused resume was not counted as superseded")
	}
}

// Property: a client sends a numbered input stream while its link is cut
// and restored at random points; in the end the server applied every input
// exactly once, in order.
func TestInputsExactlyOnceAcrossCuts(t *testing.T) {
	rules, applied := newInputLog()
	ts := newTestServerDir(t, netcode.Config{}, game.DirectoryConfig{NewRules: rules})
	proxy, url := proxied(t, ts)
	ctx := testCtx(t, 60*time.Second)
	rng := rand.New(rand.NewPCG(7, 11))

	p := client.NewPlayer(client.PlayerOptions{URL: url, Name: "stubborn", MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	var lastAck struct {
		sync.Mutex
		v uint32
	}
	runDone := make(chan error, 1)
	go func() {
		runDone <- p.Run(ctx, func(m client.Message) {
			if m.Snap != nil {
				lastAck.Lock()
				lastAck.v = m.Snap.Ack
				lastAck.Unlock()
			}
		})
	}()
	eventually(t, ctx, "the welcome", func() bool { return p.Welcome() != nil })

	const total = 600
	cuts := 0
	for i := 1; i <= total; i++ {
		if _, err := p.Input(ctx, wire.InputMsg{MX: rng.Float64()*2 - 1, MY: rng.Float64()*2 - 1}); err != nil {
			t.Fatal(err)
		}
		if rng.IntN(40) == 0 {
			proxy.Cut()
			cuts++
		}
		time.Sleep(10 * time.Millisecond) // 100 inputs/s: under the server's rate limit
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		lastAck.Lock()
		v := lastAck.v
		lastAck.Unlock()
		if v == total {
			break
		}
		if wctx.Err() != nil {
			t.Fatalf("last ack %d of %d; player %+v, %d pending, run: %v", v, total, p.Stats(), p.Pending(), ctxErr(runDone))
		}
		time.Sleep(10 * time.Millisecond)
	}
	got := applied(game.PlayerID(p.Welcome().Player))
	want := make([]uint32, total)
	for i := range want {
		want[i] = uint32(i + 1)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("applied %d inputs (first diff at %d), want 1…%d exactly once in order", len(got), firstDiff(got, want), total)
	}
	st := p.Stats()
	t.Logf("%d cuts, %d drops seen, %d resumes", cuts, st.Drops, st.Resumes)
	if cuts < 5 || st.Resumes < cuts/2 {
		t.Fatalf("%d cuts but only %d resumes: the link was not really cut", cuts, st.Resumes)
	}
	if err := ctxErr(runDone); err != nil {
		t.Fatalf("player stopped: %v", err)
	}
}

func firstDiff(a, b []uint32) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// ctxErr returns the player's error if it has already stopped.
func ctxErr(done <-chan error) error {
	select {
	case err := <-done:
		if err == nil {
			return errors.New("Run returned early")
		}
		return err
	default:
		return nil
	}
}

// A player whose link is down for 10 s (a half-open blackhole: the server
// declares it dead after 5 s) is back in the same seat without losing an
// input, with the default settings.
func TestTenSecondOutage(t *testing.T) {
	t.Parallel()
	rules, applied := newInputLog()
	ts := newTestServerDir(t, netcode.Config{}, game.DirectoryConfig{NewRules: rules})
	proxy, url := proxied(t, ts)
	ctx := testCtx(t, 60*time.Second)
	p := client.NewPlayer(client.PlayerOptions{URL: url, Name: "tunnel"})
	go p.Run(ctx, func(client.Message) {})
	eventually(t, ctx, "the welcome", func() bool { return p.Welcome() != nil })
	first := p.Welcome()
	send := func(n int) {
		for range n {
			if _, err := p.Input(ctx, wire.InputMsg{MX: 0.5}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	send(20)
	proxy.Blackhole(true)
	send(50) // one second of inputs into the void
	time.Sleep(9 * time.Second)
	proxy.Blackhole(false)
	eventually(t, ctx, "the resume", func() bool { return p.Stats().Resumes >= 1 })
	send(20)
	eventually(t, ctx, "every input acknowledged", func() bool { return p.Pending() == 0 })
	w := p.Welcome()
	if w.Player != first.Player || w.Match != first.Match || !w.Resumed {
		t.Fatalf("after the outage: %+v, before %+v", w, first)
	}
	got := applied(game.PlayerID(w.Player))
	if len(got) != 90 || got[0] != 1 || got[89] != 90 || !slices.IsSorted(got) {
		t.Fatalf("applied %v, want 1…90 once each", got)
	}
}
