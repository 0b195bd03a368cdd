package game

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"
)

// dirHarness runs a Directory whose matches all sleep on one manual clock:
// no match ticks unless the test grants it.
type dirHarness struct {
	t     *testing.T
	clock *manualClock
	d     *Directory

	mu   sync.Mutex
	pubs map[string]*recordingPublisher
}

func newDirHarness(t *testing.T, cfg DirectoryConfig) *dirHarness {
	t.Helper()
	h := &dirHarness{t: t, clock: newManualClock(), pubs: map[string]*recordingPublisher{}}
	cfg.Clock = h.clock
	cfg.Logger = testLogger(t)
	cfg.NewPublisher = func(id string, _ MatchConfig, _ Layout) Publisher {
		p := newRecordingPublisher(false)
		h.mu.Lock()
		h.pubs[id] = p
		h.mu.Unlock()
		return p
	}
	d, err := NewDirectory(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.d = d
	t.Cleanup(d.Close)
	return h
}

func (h *dirHarness) pub(id string) *recordingPublisher {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pubs[id]
}

// create makes a match and waits until its goroutine is parked; the clock
// then moves one second so that matches have distinct creation times.
func (h *dirHarness) create(cfg MatchConfig) *Match {
	h.t.Helper()
	m, err := h.d.Create(cfg)
	if err != nil {
		h.t.Fatalf("create: %v", err)
	}
	h.settle()
	h.clock.advance(time.Second)
	return m
}

// liveMatches counts the matches in the directory.
func (h *dirHarness) liveMatches() int {
	h.d.mu.Lock()
	defer h.d.mu.Unlock()
	return len(h.d.matches)
}

// settle waits until every live match is parked between ticks, so that
// listings reflect the ticks that ran.
func (h *dirHarness) settle() { h.clock.waitSleepers(h.liveMatches()) }

// round ticks every live match exactly once: it waits until all are
// parked, and one grant releases them all.
func (h *dirHarness) round() {
	n := h.liveMatches()
	h.clock.waitSleepers(n)
	h.clock.grant()
	h.clock.waitSleepers(n)
}

// join calls Directory.Join and runs a round of ticks whenever a match
// holds a queued command, until Join returns: each join costs one round.
// The joining goroutine's progress cannot be observed otherwise, so
// between checks the test goroutine yields (no sleep, no timing
// assumption).
func (h *dirHarness) join(matchID, name string) (*Match, JoinResult, error) {
	h.t.Helper()
	type result struct {
		m   *Match
		res JoinResult
		err error
	}
	done := make(chan result, 1)
	go func() {
		m, res, err := h.d.Join(context.Background(), matchID, name)
		done <- result{m, res, err}
	}()
	for {
		select {
		case r := <-done:
			h.settle()
			return r.m, r.res, r.err
		default:
		}
		if h.commandQueued() {
			h.round()
		} else {
			runtime.Gosched()
		}
	}
}

// commandQueued reports whether a live match has a command in its inbox.
func (h *dirHarness) commandQueued() bool {
	h.d.mu.Lock()
	defer h.d.mu.Unlock()
	for _, m := range h.d.matches {
		if len(m.cmds) > 0 {
			return true
		}
	}
	return false
}

func (h *dirHarness) mustJoin(matchID, name string) *Match {
	h.t.Helper()
	m, res, err := h.join(matchID, name)
	if err != nil {
		h.t.Fatalf("join %q %q: %v", matchID, name, err)
	}
	if res.Match != m.ID() {
		h.t.Fatalf("join result for match %q from match %q", res.Match, m.ID())
	}
	return m
}

type listing struct {
	id      string
	players int
	state   State
}

func (h *dirHarness) checkList(want ...listing) {
	h.t.Helper()
	got := h.d.List()
	if len(got) != len(want) {
		h.t.Fatalf("List has %d matches (%+v), want %d", len(got), got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.ID != w.id || g.Players != w.players || g.State != w.state {
			h.t.Errorf("List[%d] = %s %d players %v, want %s %d players %v", i, g.ID, g.Players, g.State, w.id, w.players, w.state)
		}
	}
}

func TestDirectoryJoinOrCreate(t *testing.T) {
	h := newDirHarness(t, DirectoryConfig{Defaults: MatchConfig{MaxPlayers: 3, MinPlayers: 3}})
	a := h.create(MatchConfig{})
	b := h.create(MatchConfig{})
	h.mustJoin(a.ID(), "a1")
	h.mustJoin(b.ID(), "b1")
	h.mustJoin(b.ID(), "b2")
	h.checkList(listing{a.ID(), 1, StateWaiting}, listing{b.ID(), 2, StateWaiting})

	// The fullest match with a free seat comes first, even though it is
	// the younger one: b (2/3), then a.
	for i, want := range []*Match{b, a, a} {
		if got := h.mustJoin("", "auto"); got != want {
			t.Fatalf("auto join %d went to %s, want %s", i, got.ID(), want.ID())
		}
	}
	h.checkList(listing{a.ID(), 3, StateRunning}, listing{b.ID(), 3, StateRunning})

	// Every seat is taken: a new match is created, with the defaults.
	c := h.mustJoin("", "overflow")
	if c == a || c == b {
		t.Fatalf("auto join went to a full match %s", c.ID())
	}
	if cfg := c.Config(); cfg.MaxPlayers != 3 || cfg.MinPlayers != 3 || cfg.TickRate != DefaultTickRate || cfg.Seed == 0 {
		t.Fatalf("created match config %+v, want the directory defaults and a seed", cfg)
	}
	h.checkList(listing{a.ID(), 3, StateRunning}, listing{b.ID(), 3, StateRunning}, listing{c.ID(), 1, StateWaiting})
	if h.d.Get(c.ID()) != c {
		t.Fatal("Get does not find the created match")
	}
}

// Matches that ended are not candidates for join-or-create.
func TestDirectoryJoinSkipsEndedMatch(t *testing.T) {
	h := newDirHarness(t, DirectoryConfig{Defaults: MatchConfig{TickRate: 10, MinPlayers: 1, MaxPlayers: 4, TimeLimit: 10 * time.Second}})
	a := h.create(MatchConfig{})
	h.mustJoin(a.ID(), "a1")
	for a.Info().State != StateEnded { // 10 s at 10 Hz
		h.round()
	}
	if m := h.mustJoin("", "auto"); m == a {
		t.Fatal("auto join went to an ended match")
	}
	if _, _, err := h.join(a.ID(), "late"); !errors.Is(err, ErrMatchEnded) {
		t.Fatalf("explicit join of an ended match: %v, want ErrMatchEnded", err)
	}
}

func TestDirectoryCreateInvalid(t *testing.T) {
	h := newDirHarness(t, DirectoryConfig{})
	for _, tc := range []struct {
		name string
		cfg  MatchConfig
		is   error
	}{
		{"rate 9", MatchConfig{TickRate: 9}, ErrTickRate},
		{"rate 129", MatchConfig{TickRate: 129}, ErrTickRate},
		{"65 seats", MatchConfig{MaxPlayers: 65}, nil},
		{"negative min players", MatchConfig{MinPlayers: -1}, nil},
		{"short time limit", MatchConfig{TimeLimit: time.Second}, nil},
		{"score limit", MatchConfig{ScoreLimit: MaxScoreLimit + 1}, nil},
		{"negative linger", MatchConfig{EndLinger: -time.Second}, nil},
	} {
		m, err := h.d.Create(tc.cfg)
		if err == nil || m != nil {
			t.Errorf("%s: Create returned a match: %v, err %v; want refused", tc.name, m != nil, err)
		}
		if tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.is)
		}
	}
	h.checkList()

	for _, cfg := range []DirectoryConfig{
		{MaxMatches: -1},
		{Defaults: MatchConfig{TickRate: 9}},
		{Defaults: MatchConfig{MaxPlayers: 100}},
	} {
		if _, err := NewDirectory(cfg); err == nil {
			t.Errorf("NewDirectory(%+v) accepted", cfg)
		}
	}
}

func TestDirectoryServerFull(t *testing.T) {
	h := newDirHarness(t, DirectoryConfig{MaxMatches: 2, Defaults: MatchConfig{MaxPlayers: 1, MinPlayers: 1}})
	a := h.create(MatchConfig{})
	b := h.create(MatchConfig{})
	if _, err := h.d.Create(MatchConfig{}); !errors.Is(err, ErrServerFull) {
		t.Fatalf("third Create: %v, want ErrServerFull", err)
	}
	h.mustJoin(a.ID(), "a")
	h.mustJoin(b.ID(), "b")
	// Join-or-create: every seat taken and no room for a new match.
	if _, _, err := h.join("", "c"); !errors.Is(err, ErrServerFull) {
		t.Fatalf("join-or-create: %v, want ErrServerFull", err)
	}
	if _, _, err := h.join(a.ID(), "c"); !errors.Is(err, ErrMatchFull) {
		t.Fatalf("join a full match: %v, want ErrMatchFull", err)
	}
}

func TestDirectoryUnknownMatch(t *testing.T) {
	h := newDirHarness(t, DirectoryConfig{})
	h.create(MatchConfig{})
	if _, _, err := h.d.Join(context.Background(), "nosuchid", "x"); !errors.Is(err, ErrMatchNotFound) {
		t.Fatalf("Join unknown: %v, want ErrMatchNotFound", err)
	}
	if m := h.d.Get("nosuchid"); m != nil {
		t.Fatalf("Get unknown = %v", m)
	}
}

// List is sorted by creation time, whatever the (random) ids.
func TestDirectoryListOldestFirst(t *testing.T) {
	h := newDirHarness(t, DirectoryConfig{})
	var want []listing
	var created []time.Time
	for range 6 {
		m := h.create(MatchConfig{MaxPlayers: 4})
		want = append(want, listing{m.ID(), 0, StateWaiting})
		created = append(created, m.Info().Created)
	}
	h.checkList(want...)
	for i, info := range h.d.List() {
		if !info.Created.Equal(created[i]) || info.MaxPlayers != 4 || info.TickRate != DefaultTickRate {
			t.Errorf("List[%d] = %+v", i, info)
		}
	}
}

func TestDirectoryClose(t *testing.T) {
	h := newDirHarness(t, DirectoryConfig{Defaults: MatchConfig{MinPlayers: 1}})
	var ms []*Match
	for range 3 {
		ms = append(ms, h.create(MatchConfig{}))
	}
	h.mustJoin(ms[0].ID(), "ann")

	h.d.Close()
	for _, m := range ms {
		select {
		case <-m.Done():
		default:
			t.Fatalf("match %s still running after Close", m.ID())
		}
		p := h.pub(m.ID())
		snaps := p.all()
		last := snaps[len(snaps)-1]
		if last.State != StateClosed || last.End == nil || last.End.Reason != "closed" {
			t.Errorf("match %s: last snapshot %v %+v, want closed with reason \"closed\"", m.ID(), last.State, last.End)
		}
		if n := p.closeCount(); n != 1 {
			t.Errorf("match %s: Publisher.Close called %d times", m.ID(), n)
		}
	}
	h.checkList()
	h.d.Close() // idempotent
	if _, err := h.d.Create(MatchConfig{}); !errors.Is(err, ErrServerFull) {
		t.Fatalf("Create after Close: %v, want ErrServerFull", err)
	}
	for _, m := range ms {
		if n := h.pub(m.ID()).closeCount(); n != 1 {
			t.Errorf("match %s: Publisher.Close called %d times after a second Close", m.ID(), n)
		}
	}
}

func TestMatchCloseEndsOneMatch(t *testing.T) {
	d, err := NewDirectory(DirectoryConfig{Defaults: MatchConfig{TickRate: 50}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	a, err := d.Create(MatchConfig{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := d.Create(MatchConfig{})
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	select {
	case <-a.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("closed match still running after 5 s")
	}
	deadline := time.Now().Add(5 * time.Second)
	for d.Get(a.ID()) != nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if d.Get(a.ID()) != nil {
		t.Fatal("closed match still in the directory")
	}
	if d.Get(b.ID()) == nil {
		t.Fatal("the other match was closed too")
	}
	if _, err := a.Join(context.Background(), "late"); err == nil {
		t.Fatal("joined a closed match")
	}
}
