package game

import (
	"context"
	"errors"
	"testing"
	"time"
)

// resume calls Match.Resume on the parked match and runs the tick that
// answers it.
func (h *matchHarness) resume(p PlayerID, epoch uint32) (JoinResult, error) {
	h.t.Helper()
	return h.resumeFrom(p, epoch, 0)
}

// resumeFrom is resume from the connection numbered order.
func (h *matchHarness) resumeFrom(p PlayerID, epoch uint32, order uint64) (JoinResult, error) {
	h.t.Helper()
	done := make(chan joinReply, 1)
	go func() {
		res, err := h.m.Resume(context.Background(), p, epoch, order)
		done <- joinReply{res: res, err: err}
	}()
	c := <-h.m.cmds
	if c.kind != cmdResume {
		h.t.Fatalf("inbox held %+v, want a resume", c)
	}
	h.m.cmds <- c
	h.tick()
	r := <-done
	return r.res, r.err
}

func TestSeatDisconnectResumeKeepsEntityAndScore(t *testing.T) {
	h := startMatch(t, MatchConfig{MinPlayers: 1, Grace: 2 * time.Second}) // 60 ticks
	ann := h.mustJoin("ann")
	bob := h.mustJoin("bob")
	if ann.Epoch != 1 {
		t.Fatalf("join epoch %d, want 1", ann.Epoch)
	}
	// Ann moves right with input 5, then loses her connection.
	h.m.Input(Input{Player: ann.Player, Seq: 5, MoveX: 1})
	h.arena().find(ann.Player).kills = 3
	before, _ := entityOf(h.tick(), uint32(ann.Player))
	h.m.Disconnect(ann.Player, ann.Epoch)
	s := h.tick()
	away, _ := entityOf(s, uint32(ann.Player))
	if away.Flags&FlagDisconnected == 0 {
		t.Fatalf("disconnected avatar not flagged: %+v", away)
	}
	if e, _ := entityOf(s, uint32(bob.Player)); e.Flags&FlagDisconnected != 0 {
		t.Fatal("the connected player is flagged disconnected")
	}
	if h.m.Info().Disconnected != 1 {
		t.Fatalf("info: %+v", h.m.Info())
	}
	// Away, she stands still, and inputs of the lost connection are not applied.
	h.m.Input(Input{Player: ann.Player, Seq: 6, MoveX: -1})
	still, _ := entityOf(h.ticks(10)[9], uint32(ann.Player))
	if still.X != away.X || away.X < before.X {
		t.Fatalf("x while away: %v → %v → %v", before.X, away.X, still.X)
	}

	// Resume within the grace: same entity, score, and the ack of input 5.
	res, err := h.resume(ann.Player, ann.Epoch)
	if err != nil {
		t.Fatal(err)
	}
	if res.Epoch != 2 || res.LastSeq != 5 || res.Player != ann.Player {
		t.Fatalf("resume result %+v", res)
	}
	back, _ := entityOf(h.tick(), uint32(ann.Player))
	if back.Flags&FlagDisconnected != 0 || back.Score != 3 || back.X != still.X {
		t.Fatalf("after resume: %+v (was %+v)", back, still)
	}
	// Input 6 sent again after the resume is applied once.
	h.m.Input(Input{Player: ann.Player, Seq: 6, MoveX: -1})
	h.m.Input(Input{Player: ann.Player, Seq: 6, MoveX: -1})
	if s := h.tick(); s.AckFor(ann.Player) != 6 {
		t.Fatalf("ack %d after resending 6", s.AckFor(ann.Player))
	}
	if h.m.Stats().DuplicateInputs != 1 {
		t.Fatalf("duplicates %d, want 1", h.m.Stats().DuplicateInputs)
	}

	// Until the client confirms (its welcome may have been lost), the
	// previous epoch's token still works; once confirmed, it is spent.
	again, err := h.resume(ann.Player, ann.Epoch)
	if err != nil || again.Epoch != 3 {
		t.Fatalf("unconfirmed resume with epoch 1 again: %+v %v", again, err)
	}
	if again, err = h.resume(ann.Player, ann.Epoch); err != nil || again.Epoch != 4 {
		t.Fatalf("a third resume with epoch 1, none confirmed: %+v %v", again, err)
	}
	h.m.Confirm(ann.Player, again.Epoch)
	h.tick()
	for _, e := range []uint32{ann.Epoch, res.Epoch} {
		if _, err := h.resume(ann.Player, e); !errors.Is(err, ErrStaleSeat) {
			t.Fatalf("resume with spent epoch %d: %v, want ErrStaleSeat", e, err)
		}
	}
	// A replaced connection's leave or disconnect does not act on the seat.
	h.m.Leave(ann.Player, ann.Epoch)
	h.m.Disconnect(ann.Player, res.Epoch)
	if s := h.tick(); len(s.Acks) != 2 {
		t.Fatal("a stale leave freed the seat")
	} else if e, _ := entityOf(s, uint32(ann.Player)); e.Flags&FlagDisconnected != 0 {
		t.Fatal("a stale disconnect flagged the seat")
	}
}

func TestSeatFreedAfterGrace(t *testing.T) {
	h := startMatch(t, MatchConfig{MinPlayers: 1, Grace: time.Second}) // 30 ticks
	ann := h.mustJoin("ann")
	h.mustJoin("bob")
	h.m.Disconnect(ann.Player, ann.Epoch)
	h.tick() // lost at this tick
	snaps := h.ticks(30)
	if _, ok := entityOf(snaps[28], uint32(ann.Player)); !ok {
		t.Fatal("seat freed before the grace ran out")
	}
	last := snaps[29]
	if _, ok := entityOf(last, uint32(ann.Player)); ok || last.Roster == nil || len(last.Roster) != 1 {
		t.Fatalf("seat not freed after the grace: roster %+v", last.Roster)
	}
	if _, err := h.resume(ann.Player, ann.Epoch); !errors.Is(err, ErrSeatGone) {
		t.Fatalf("resume after the grace: %v, want ErrSeatGone", err)
	}
}

// Two connections of one client resume with the same (unconfirmed) token;
// the resume of the connection opened later arrives first. The older one's
// late resume is refused: it must not take the seat back.
func TestSeatResumeFromOlderConnectionRefused(t *testing.T) {
	h := startMatch(t, MatchConfig{MinPlayers: 1, Grace: 2 * time.Second})
	ann := h.mustJoin("ann")
	h.m.Disconnect(ann.Player, ann.Epoch)
	h.tick()
	newer, err := h.resumeFrom(ann.Player, ann.Epoch, 7)
	if err != nil || newer.Epoch != 2 {
		t.Fatalf("resume from connection 7: %+v %v", newer, err)
	}
	if _, err := h.resumeFrom(ann.Player, ann.Epoch, 6); !errors.Is(err, ErrSuperseded) {
		t.Fatalf("late resume from connection 6: %v, want ErrSuperseded", err)
	}
	// The seat is still the newer connection's: its leave frees it.
	if again, err := h.resumeFrom(ann.Player, ann.Epoch, 8); err != nil || again.Epoch != 3 {
		t.Fatalf("resume from connection 8 (token still unconfirmed): %+v %v", again, err)
	}
	h.m.Leave(ann.Player, 3)
	h.tick()
	if h.m.Info().Players != 0 {
		t.Fatalf("after the leave: %+v", h.m.Info())
	}
}
