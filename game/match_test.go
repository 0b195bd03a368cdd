package game

import (
	"context"
	"errors"
	"math"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// recordingPublisher keeps every snapshot and, when signal is set, also
// hands each one to the test so that it can wait for exactly one tick.
type recordingPublisher struct {
	signal chan *Snapshot // nil: record only

	mu     sync.Mutex
	snaps  []*Snapshot
	closes int
}

func newRecordingPublisher(signal bool) *recordingPublisher {
	p := &recordingPublisher{}
	if signal {
		// The harness takes one snapshot per tick it grants; the room is
		// for the final snapshot of a cancelled match, which nobody waits
		// for.
		p.signal = make(chan *Snapshot, 4)
	}
	return p
}

func (p *recordingPublisher) Publish(s *Snapshot) {
	p.mu.Lock()
	p.snaps = append(p.snaps, s)
	p.mu.Unlock()
	if p.signal != nil {
		p.signal <- s
	}
}

func (p *recordingPublisher) Close() {
	p.mu.Lock()
	p.closes++
	p.mu.Unlock()
}

func (p *recordingPublisher) all() []*Snapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*Snapshot(nil), p.snaps...)
}

func (p *recordingPublisher) closeCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closes
}

// recordingRules wraps a Rules and keeps the inputs of every Step. It is
// touched by the match goroutine during a tick and by the test between
// ticks only.
type recordingRules struct {
	Rules
	inputs [][]Input
}

func (r *recordingRules) Step(info StepInfo, in []Input) {
	r.inputs = append(r.inputs, append([]Input(nil), in...))
	r.Rules.Step(info, in)
}

// matchHarness runs one match goroutine on a manual clock: nothing happens
// in the match unless the test grants a tick.
type matchHarness struct {
	t      *testing.T
	clock  *manualClock
	pub    *recordingPublisher
	rules  *recordingRules
	m      *Match
	cancel context.CancelFunc
}

func testLogger(t *testing.T) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
}

func startMatch(t *testing.T, cfg MatchConfig) *matchHarness {
	t.Helper()
	cfg = cfg.WithDefaults(MatchConfig{Seed: 1})
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h := &matchHarness{
		t:     t,
		clock: newManualClock(),
		pub:   newRecordingPublisher(true),
		rules: &recordingRules{Rules: NewArena()},
	}
	h.m = newMatch("m1", cfg, h.rules, h.pub, h.clock, testLogger(t))
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go h.m.run(ctx)
	t.Cleanup(func() {
		cancel()
		<-h.m.Done()
	})
	h.clock.waitSleepers(1) // parked before slot 0
	return h
}

// tick grants one tick and returns its snapshot once the tick is over:
// the match goroutine is parked again (or has closed).
func (h *matchHarness) tick() *Snapshot {
	h.t.Helper()
	h.clock.grant()
	return h.settle()
}

func (h *matchHarness) settle() *Snapshot {
	s := <-h.pub.signal
	if s.State == StateClosed {
		<-h.m.Done()
	} else {
		h.clock.waitSleepers(1)
	}
	return s
}

// ticks runs n ticks and returns their snapshots.
func (h *matchHarness) ticks(n int) []*Snapshot {
	h.t.Helper()
	out := make([]*Snapshot, 0, n)
	for range n {
		out = append(out, h.tick())
	}
	return out
}

// join calls Match.Join as a client would, on a live match, and runs the
// tick that answers it. The match is parked, so the test can take the
// queued command out of the inbox (that is how it knows the join is
// queued), check it and put it back: the join lands on the next tick.
func (h *matchHarness) join(ctx context.Context, name string) (JoinResult, error) {
	h.t.Helper()
	done := make(chan joinReply, 1)
	go func() {
		res, err := h.m.Join(ctx, name)
		done <- joinReply{res: res, err: err}
	}()
	select {
	case r := <-done: // refused without a tick
		return r.res, r.err
	case c := <-h.m.cmds:
		if c.kind != cmdJoin || c.name != name {
			h.t.Fatalf("inbox held %+v, want the join of %q", c, name)
		}
		h.m.cmds <- c
	}
	s := h.tick()
	r := <-done
	if r.err == nil && r.res.Tick != s.Tick {
		h.t.Fatalf("join of %q applied at tick %d, want %d", name, r.res.Tick, s.Tick)
	}
	return r.res, r.err
}

// mustJoin joins and fails the test on an error.
func (h *matchHarness) mustJoin(name string) JoinResult {
	h.t.Helper()
	res, err := h.join(context.Background(), name)
	if err != nil {
		h.t.Fatalf("join %q: %v", name, err)
	}
	return res
}

// queueJoin puts a join straight into the command inbox, so that it lands
// exactly on the next tick (scripted runs need that).
func (h *matchHarness) queueJoin(name string) <-chan joinReply {
	reply := make(chan joinReply, 1)
	h.m.cmds <- command{kind: cmdJoin, name: name, reply: reply}
	return reply
}

// arena returns the match's world; only touch it between ticks.
func (h *matchHarness) arena() *Arena { return h.rules.Rules.(*Arena) }

func entityOf(s *Snapshot, id uint32) (Entity, bool) {
	for _, e := range s.Entities {
		if e.ID == id {
			return e, true
		}
	}
	return Entity{}, false
}

func TestMatchJoinAndRoster(t *testing.T) {
	h := startMatch(t, MatchConfig{MaxPlayers: 3, MinPlayers: 3})
	h.ticks(2)

	names := []string{"ann", "bob", "cid"}
	var results []JoinResult
	for i, name := range names {
		res := h.mustJoin(name)
		wantID := PlayerID(i + 1)
		if res.Player != wantID || res.Match != "m1" || res.TickRate != DefaultTickRate {
			t.Fatalf("join %q: %+v, want player %d of m1 at %d Hz", name, res, wantID, DefaultTickRate)
		}
		var wantRoster []PlayerInfo
		for j := range i + 1 {
			wantRoster = append(wantRoster, PlayerInfo{ID: PlayerID(j + 1), Name: names[j]})
		}
		if !reflect.DeepEqual(res.Roster, wantRoster) {
			t.Fatalf("join %q: roster %+v, want %+v", name, res.Roster, wantRoster)
		}
		if !reflect.DeepEqual(res.Layout, NewArena().Layout()) {
			t.Fatalf("join %q: layout %+v", name, res.Layout)
		}
		results = append(results, res)
		h.ticks(1)
	}
	if _, err := h.join(context.Background(), "dan"); !errors.Is(err, ErrMatchFull) {
		t.Fatalf("fourth join: %v, want ErrMatchFull", err)
	}
	h.ticks(2)

	// The roster is in the snapshot of exactly the ticks where a join
	// landed, equal to what the joiner got; the refused join changed
	// nothing.
	rosterAt := map[uint64][]PlayerInfo{}
	for _, r := range results {
		rosterAt[r.Tick] = r.Roster
	}
	for _, s := range h.pub.all() {
		want, changed := rosterAt[s.Tick]
		if !changed && s.Roster != nil {
			t.Errorf("tick %d carries roster %+v without a change", s.Tick, s.Roster)
		}
		if changed && !reflect.DeepEqual(s.Roster, want) {
			t.Errorf("tick %d roster %+v, want %+v", s.Tick, s.Roster, want)
		}
		if changed {
			if _, ok := entityOf(s, uint32(want[len(want)-1].ID)); !ok {
				t.Errorf("tick %d: the new player has no entity", s.Tick)
			}
		}
	}
	if info := h.m.Info(); info.Players != 3 || info.MaxPlayers != 3 || info.ID != "m1" {
		t.Fatalf("info %+v, want 3/3 players", info)
	}
}

func TestMatchInputsAckedInOrder(t *testing.T) {
	h := startMatch(t, MatchConfig{MinPlayers: 1})
	p1 := h.mustJoin("ann").Player
	p2 := h.mustJoin("bob").Player

	in := func(p PlayerID, seq uint32) Input { return Input{Player: p, Seq: seq, MoveX: float64(seq) / 10} }
	steps := func() [][]Input { return h.rules.inputs }

	// Three inputs queued before a tick are all applied at that tick, in
	// order, and acknowledged.
	for seq := uint32(1); seq <= 3; seq++ {
		if !h.m.Input(in(p1, seq)) {
			t.Fatalf("input %d refused", seq)
		}
	}
	h.m.Input(Input{Player: 99, Seq: 1}) // nobody's seat: ignored
	s := h.tick()
	if got, want := steps()[len(steps())-1], []Input{in(p1, 1), in(p1, 2), in(p1, 3)}; !reflect.DeepEqual(got, want) {
		t.Fatalf("step inputs %+v, want %+v", got, want)
	}
	if s.AckFor(p1) != 3 || s.AckFor(p2) != 0 || s.AckFor(99) != 0 {
		t.Fatalf("acks %+v, want p1=3, p2=0", s.Acks)
	}

	// A repeated or older sequence number is dropped and counted.
	h.m.Input(in(p1, 3))
	h.m.Input(in(p1, 2))
	h.m.Input(in(p2, 1))
	s = h.tick()
	if got, want := steps()[len(steps())-1], []Input{in(p2, 1)}; !reflect.DeepEqual(got, want) {
		t.Fatalf("step inputs %+v, want %+v", got, want)
	}
	if s.AckFor(p1) != 3 || s.AckFor(p2) != 1 {
		t.Fatalf("acks %+v, want p1=3, p2=1", s.Acks)
	}
	if n := h.m.Stats().DuplicateInputs; n != 2 {
		t.Fatalf("duplicate inputs %d, want 2", n)
	}

	// Out of order within a tick: the newer one wins, the older is a
	// duplicate.
	h.m.Input(in(p1, 5))
	h.m.Input(in(p1, 4))
	s = h.tick()
	if got, want := steps()[len(steps())-1], []Input{in(p1, 5)}; !reflect.DeepEqual(got, want) {
		t.Fatalf("step inputs %+v, want %+v", got, want)
	}
	if s.AckFor(p1) != 5 || h.m.Stats().DuplicateInputs != 3 {
		t.Fatalf("ack %d, duplicates %d; want 5, 3", s.AckFor(p1), h.m.Stats().DuplicateInputs)
	}
	if want := []Ack{{p1, 5}, {p2, 1}}; !reflect.DeepEqual(s.Acks, want) {
		t.Fatalf("acks %+v, want %+v", s.Acks, want)
	}

	// The inputs reach the world: p1 moves at the last stick, 0.5.
	e0, _ := entityOf(s, uint32(p1))
	s = h.tick()
	if e1, _ := entityOf(s, uint32(p1)); e1.X <= e0.X {
		t.Fatalf("player did not move right: x %v → %v", e0.X, e1.X)
	}
}

func TestMatchInputInboxFull(t *testing.T) {
	h := startMatch(t, MatchConfig{MinPlayers: 1, InputQueue: 2})
	p := h.mustJoin("ann").Player
	for seq, want := range []bool{true, true, false, false} {
		if got := h.m.Input(Input{Player: p, Seq: uint32(seq + 1)}); got != want {
			t.Fatalf("input %d: %v, want %v", seq+1, got, want)
		}
	}
	if n := h.m.Stats().DroppedInputs; n != 2 {
		t.Fatalf("dropped %d, want 2", n)
	}
	if s := h.tick(); s.AckFor(p) != 2 {
		t.Fatalf("ack %d, want 2", s.AckFor(p))
	}
	// The tick emptied the inbox; a later seq is accepted again.
	if !h.m.Input(Input{Player: p, Seq: 5}) {
		t.Fatal("input refused after the inbox was drained")
	}
	if s := h.tick(); s.AckFor(p) != 5 {
		t.Fatalf("ack %d, want 5", s.AckFor(p))
	}
}

// A match waits for MinPlayers, runs for TimeLimit, reports its end on one
// tick, lingers for EndLinger, then closes.
func TestMatchLifecycle(t *testing.T) {
	const rate = 10
	dt := 100 * time.Millisecond
	h := startMatch(t, MatchConfig{TickRate: rate, MinPlayers: 2, MaxPlayers: 4, TimeLimit: 10 * time.Second, EndLinger: time.Second})
	if s := h.tick(); s.State != StateWaiting || s.Left != 0 {
		t.Fatalf("first tick: %v, left %v; want waiting, 0", s.State, s.Left)
	}
	h.mustJoin("ann")
	if info := h.m.Info(); info.State != StateWaiting || info.Players != 1 {
		t.Fatalf("with one player: %+v, want waiting", info)
	}
	start := h.mustJoin("bob").Tick
	endTick := start + 100 // 10 s at 10 Hz
	closeTick := endTick + 10
	if info := h.m.Info(); info.State != StateRunning || info.Players != 2 {
		t.Fatalf("with two players: %+v, want running", info)
	}

	for s := h.tick(); s.State != StateClosed; s = h.tick() {
		if s.Tick == endTick+2 {
			// A join during the linger is refused.
			if _, err := h.join(context.Background(), "late"); !errors.Is(err, ErrMatchEnded) {
				t.Fatalf("join while ended: %v, want ErrMatchEnded", err)
			}
		}
		if s.Tick > closeTick {
			t.Fatalf("tick %d: still %v, want closed at %d", s.Tick, s.State, closeTick)
		}
	}

	var ends []*Snapshot
	for _, s := range h.pub.all() {
		var wantState State
		var wantLeft time.Duration
		switch {
		case s.Tick < start:
			wantState = StateWaiting
		case s.Tick < endTick:
			wantState, wantLeft = StateRunning, time.Duration(endTick-s.Tick)*dt
		case s.Tick < closeTick:
			wantState = StateEnded
		default:
			wantState = StateClosed
		}
		if s.State != wantState || s.Left != wantLeft {
			t.Errorf("tick %d: %v, left %v; want %v, left %v", s.Tick, s.State, s.Left, wantState, wantLeft)
		}
		if s.End != nil {
			ends = append(ends, s)
		}
	}
	if len(ends) != 1 || ends[0].Tick != endTick {
		t.Fatalf("%d snapshots carry an End, want one at tick %d", len(ends), endTick)
	}
	want := &Result{Reason: "time", Winner: 0, Scores: []Score{{Player: 1, Name: "ann"}, {Player: 2, Name: "bob"}}} // a tie: no winner
	if !reflect.DeepEqual(ends[0].End, want) {
		t.Fatalf("end %+v, want %+v", ends[0].End, want)
	}
	if last := h.pub.all(); last[len(last)-1].Tick != closeTick {
		t.Fatalf("last snapshot at tick %d, want %d", last[len(last)-1].Tick, closeTick)
	}

	select {
	case <-h.m.Done():
	default:
		t.Fatal("Done not closed after the closing tick")
	}
	if n := h.pub.closeCount(); n != 1 {
		t.Fatalf("Publisher.Close called %d times, want 1", n)
	}
	if info := h.m.Info(); info.State != StateClosed {
		t.Fatalf("info %+v, want closed", info)
	}
	if _, err := h.m.Join(context.Background(), "later"); !errors.Is(err, ErrMatchEnded) {
		t.Fatalf("join after close: %v, want ErrMatchEnded", err)
	}
	if h.m.Input(Input{Player: 1, Seq: 100}) {
		t.Fatal("input accepted by a closed match")
	}
}

// placeDuel puts two players of a match 200 units apart, facing each
// other along y = 450, without spawn protection. Between ticks only.
func placeDuel(h *matchHarness, shooter, victim PlayerID) {
	a := h.arena()
	s, v := a.find(shooter), a.find(victim)
	s.x, s.y, s.protectUntil = 200, 450, 0
	v.x, v.y, v.protectUntil = 400, 450, 0
}

func TestMatchScoreLimitEnds(t *testing.T) {
	h := startMatch(t, MatchConfig{MinPlayers: 2, ScoreLimit: 1})
	p1, p2 := h.mustJoin("ann").Player, h.mustJoin("bob").Player
	placeDuel(h, p1, p2)
	var end *Snapshot
	for seq := uint32(1); seq < 300 && end == nil; seq++ {
		h.m.Input(Input{Player: p1, Seq: seq, Buttons: ButtonFire})
		if s := h.tick(); s.End != nil {
			end = s
		}
	}
	if end == nil {
		t.Fatal("no end after 300 ticks of fire")
	}
	want := &Result{Reason: "score", Winner: p1, Scores: []Score{{Player: p1, Name: "ann", Kills: 1}, {Player: p2, Name: "bob", Deaths: 1}}}
	if end.State != StateEnded || !reflect.DeepEqual(end.End, want) {
		t.Fatalf("end %v %+v, want ended %+v", end.State, end.End, want)
	}
	if e, _ := entityOf(end, uint32(p1)); e.Score != 1 {
		t.Fatalf("killer entity score %d, want 1", e.Score)
	}
}

// Kills while the match waits for players do not count.
func TestMatchNoScoreWhileWaiting(t *testing.T) {
	h := startMatch(t, MatchConfig{MinPlayers: 3, ScoreLimit: 1})
	p1, p2 := h.mustJoin("ann").Player, h.mustJoin("bob").Player
	placeDuel(h, p1, p2)
	kills := 0
	for seq := uint32(1); seq < 120; seq++ {
		h.m.Input(Input{Player: p1, Seq: seq, Buttons: ButtonFire})
		s := h.tick()
		kills += countEvents(s.Events, EventKill)
		if s.State != StateWaiting || s.End != nil {
			t.Fatalf("tick %d: %v, end %+v; want still waiting", s.Tick, s.State, s.End)
		}
	}
	if kills == 0 {
		t.Fatal("no kill happened: the test proves nothing")
	}
}

func TestMatchEmptyTimeout(t *testing.T) {
	cfg := MatchConfig{TickRate: 10, MinPlayers: 1, EmptyTimeout: time.Second}
	t.Run("never joined", func(t *testing.T) {
		h := startMatch(t, cfg)
		// Empty from tick 1; closed 10 ticks (1 s at 10 Hz) later.
		snaps := h.ticks(11)
		for _, s := range snaps[:10] {
			if s.State != StateWaiting {
				t.Fatalf("tick %d: %v, want waiting", s.Tick, s.State)
			}
		}
		if last := snaps[10]; last.State != StateClosed || last.End != nil {
			t.Fatalf("tick 11: %v end %+v, want closed without a result", last.State, last.End)
		}
		<-h.m.Done()
		if n := h.pub.closeCount(); n != 1 {
			t.Fatalf("Close called %d times", n)
		}
	})
	t.Run("everyone left", func(t *testing.T) {
		h := startMatch(t, cfg)
		p := h.mustJoin("ann").Player
		h.ticks(30) // a running match with a player stays
		h.m.Leave(p, 1)
		left := h.tick()
		if left.State != StateRunning || left.Roster == nil || len(left.Roster) != 0 {
			t.Fatalf("leave tick: %v roster %+v, want running with an empty roster", left.State, left.Roster)
		}
		var s *Snapshot
		for s = h.tick(); s.State != StateClosed; s = h.tick() {
			if s.Tick > left.Tick+10 {
				t.Fatalf("tick %d: still %v", s.Tick, s.State)
			}
		}
		if s.Tick != left.Tick+10 {
			t.Fatalf("closed at tick %d, want %d", s.Tick, left.Tick+10)
		}
	})
}

func TestMatchLeaveFreesSeat(t *testing.T) {
	h := startMatch(t, MatchConfig{MaxPlayers: 1, MinPlayers: 1})
	p := h.mustJoin("ann").Player
	if _, err := h.join(context.Background(), "bob"); !errors.Is(err, ErrMatchFull) {
		t.Fatalf("second join: %v, want ErrMatchFull", err)
	}
	h.m.Leave(p, 1)
	if s := h.tick(); s.Roster == nil || len(s.Roster) != 0 || len(s.Entities) != 0 {
		t.Fatalf("after leave: roster %+v, entities %+v; want both empty", s.Roster, s.Entities)
	}
	if n := h.m.Info().Players; n != 0 {
		t.Fatalf("info players %d after leave", n)
	}
	res := h.mustJoin("bob")
	if res.Player != p+1 {
		t.Fatalf("new player id %d, want %d (ids are not reused)", res.Player, p+1)
	}
	if !reflect.DeepEqual(res.Roster, []PlayerInfo{{ID: p + 1, Name: "bob"}}) {
		t.Fatalf("roster %+v", res.Roster)
	}
}

// A Join whose context ends before the tick still takes the seat at the
// tick, then gives it back with a Leave.
func TestMatchJoinCancelledGivesSeatBack(t *testing.T) {
	h := startMatch(t, MatchConfig{MaxPlayers: 1, MinPlayers: 1})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// The match is parked until a tick is granted, so the join is queued
	// and Join returns on the context.
	if _, err := h.m.Join(ctx, "ghost"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Join = %v, want context.Canceled", err)
	}
	s := h.tick()
	if !reflect.DeepEqual(s.Roster, []PlayerInfo{{ID: 1, Name: "ghost"}}) {
		t.Fatalf("roster %+v, want the ghost seated", s.Roster)
	}
	// The match is parked: the only writer of the command inbox now is the
	// goroutine that gives the seat back. Wait for its Leave, check it,
	// and put it back.
	c := <-h.m.cmds
	if c.kind != cmdLeave || c.player != 1 {
		t.Fatalf("queued command %+v, want the leave of player 1", c)
	}
	h.m.cmds <- c
	if s := h.tick(); s.Roster == nil || len(s.Roster) != 0 {
		t.Fatalf("roster %+v, want empty", s.Roster)
	}
	if res := h.mustJoin("real"); res.Player != 2 {
		t.Fatalf("join after the give-back: player %d, want 2", res.Player)
	}
}

// Cancelling a match from outside (server shutdown) publishes a last
// snapshot in state closed, then closes the publisher once. A match that
// had not ended gets the result "closed"; one that had ended (and is
// lingering) keeps the result it published: End is on one snapshot only.
func TestMatchCancel(t *testing.T) {
	cases := []struct {
		name    string
		ended   bool
		wantEnd string // reason of the last snapshot's End, "" for none
	}{
		{name: "running", wantEnd: "closed"},
		{name: "lingering", ended: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := startMatch(t, MatchConfig{TickRate: 10, MinPlayers: 1, TimeLimit: 10 * time.Second})
			h.mustJoin("ann")
			last := h.tick()
			for tc.ended && last.State != StateEnded {
				last = h.tick()
			}
			h.cancel()
			s := <-h.pub.signal
			<-h.m.Done()
			if s.State != StateClosed {
				t.Fatalf("final snapshot state %v, want closed", s.State)
			}
			switch {
			case tc.wantEnd == "" && s.End != nil:
				t.Fatalf("final snapshot carries a second result %+v", s.End)
			case tc.wantEnd != "" && (s.End == nil || s.End.Reason != tc.wantEnd || s.End.Winner != 0):
				t.Fatalf("final snapshot result %+v, want reason %q and no winner", s.End, tc.wantEnd)
			}
			if s.Tick < last.Tick {
				t.Fatalf("final snapshot tick %d before %d", s.Tick, last.Tick)
			}
			ends := 0
			for _, s := range h.pub.all() {
				if s.End != nil {
					ends++
				}
			}
			if ends != 1 {
				t.Fatalf("%d snapshots carry a result, want 1", ends)
			}
			if n := h.pub.closeCount(); n != 1 {
				t.Fatalf("Close called %d times, want 1", n)
			}
			if info := h.m.Info(); info.State != StateClosed {
				t.Fatalf("info %+v, want closed", info)
			}
		})
	}
}

// duelScript plays a scripted match: two players join at tick 1, then each
// tick both aim at each other and fire, closing in when far. The inputs are
// a function of the previous snapshot only.
func duelScript(t *testing.T, seed uint64, ticks int) []*Snapshot {
	t.Helper()
	h := startMatch(t, MatchConfig{Seed: seed, MinPlayers: 2, MaxPlayers: 2})
	replies := []<-chan joinReply{h.queueJoin("a"), h.queueJoin("b")}
	snaps := []*Snapshot{h.tick()}
	for i, r := range replies {
		if rep := <-r; rep.err != nil || rep.res.Player != PlayerID(i+1) {
			t.Fatalf("scripted join %d: %+v", i, rep)
		}
	}
	for i := 1; i < ticks; i++ {
		prev := snaps[len(snaps)-1]
		for p := uint32(1); p <= 2; p++ {
			me, ok1 := entityOf(prev, p)
			them, ok2 := entityOf(prev, 3-p)
			if !ok1 || !ok2 {
				t.Fatalf("tick %d: players missing", prev.Tick)
			}
			dx, dy := float64(them.X-me.X), float64(them.Y-me.Y)
			aim := math.Atan2(dy, dx)
			// Close in when far (sliding along whatever is in the way),
			// stand and shoot when near.
			var mx, my float64
			if math.Hypot(dx, dy) > 200 {
				mx, my = math.Cos(aim+0.3), math.Sin(aim+0.3)
			}
			h.m.Input(Input{
				Player: PlayerID(p), Seq: uint32(i),
				MoveX: mx, MoveY: my, Aim: aim, Buttons: ButtonFire,
			})
		}
		snaps = append(snaps, h.tick())
	}
	return snaps
}

func TestMatchDeterminism(t *testing.T) {
	const ticks = 300
	a := duelScript(t, 12345, ticks)
	b := duelScript(t, 12345, ticks)
	for i := range a {
		if !reflect.DeepEqual(a[i], b[i]) {
			t.Fatalf("tick %d differs:\n%+v\n%+v", a[i].Tick, a[i], b[i])
		}
	}
	var hits, kills int
	for _, s := range a {
		hits += countEvents(s.Events, EventHit)
		kills += countEvents(s.Events, EventKill)
	}
	if hits == 0 || kills == 0 {
		t.Fatalf("the script produced %d hits and %d kills: it must exercise combat", hits, kills)
	}
	t.Logf("%d ticks, %d hits, %d kills", ticks, hits, kills)

	// Another seed spawns the players elsewhere.
	c := duelScript(t, 54321, 1)
	if reflect.DeepEqual(a[0].Entities, c[0].Entities) {
		t.Fatalf("seeds 12345 and 54321 spawn the same: %+v", a[0].Entities)
	}
}
