package netcode_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode"
	"github.com/tickstream/tickstream/netcode/client"
	"github.com/tickstream/tickstream/netcode/wire"
)

func TestTwoPlayersSeeEachOtherMove(t *testing.T) {
	ts := newTestServer(t, netcode.Config{ViewRadius: -1}) // they may spawn out of each other's view
	ctx := testCtx(t, 20*time.Second)
	a, wa := ts.join(t, ctx, "alice", "")
	b, wb := ts.join(t, ctx, "bob", "")
	if wa.Match != wb.Match {
		t.Fatalf("auto join put players in %s and %s; want the same match", wa.Match, wb.Match)
	}
	if wa.Rate != 30 || wa.Player == wb.Player {
		t.Fatalf("welcomes: %+v %+v", wa, wb)
	}
	if len(wb.Roster) != 2 {
		t.Fatalf("bob's welcome roster = %v, want both players", wb.Roster)
	}

	// Each moves until the other sees it 20 units from where it was.
	seesMove(t, ctx, a, b, wa.Player, "bob to see alice move")
	seesMove(t, ctx, b, a, wb.Player, "alice to see bob move")
}

// seesMove has mover's player walk right, left, down or up in turn (a
// spawn against a wall or an obstacle blocks one direction, never all
// four: a fixed direction failed about one run in 40) until watcher's
// snapshots show it more than 20 units from where it was. Both clients
// are read meanwhile, so that neither misses its heartbeat.
func seesMove(t *testing.T, ctx context.Context, mover, watcher *client.Client, id uint32, what string) {
	t.Helper()
	start, ok := entity(nextSnap(t, ctx, watcher), id)
	if !ok {
		t.Fatalf("%s: the player is not in the watcher's snapshot", what)
	}
	for _, d := range [][2]float64{{1, 0}, {-1, 0}, {0, 1}, {0, -1}} {
		for end := time.Now().Add(time.Second); time.Now().Before(end); {
			if _, err := mover.Input(ctx, wire.InputMsg{MX: d[0], MY: d[1]}); err != nil {
				t.Fatal(err)
			}
			nextSnap(t, ctx, mover)
			if e, ok := entity(nextSnap(t, ctx, watcher), id); ok && math.Hypot(float64(e.X-start.X), float64(e.Y-start.Y)) > 20 {
				return
			}
		}
	}
	t.Fatalf("%s: never seen 20 units from %.0f,%.0f", what, start.X, start.Y)
}

func TestInputsAppliedInOrderAndAcknowledged(t *testing.T) {
	ts := newTestServer(t, netcode.Config{})
	ctx := testCtx(t, 20*time.Second)
	c, w := ts.join(t, ctx, "carol", "")
	before, _ := entity(nextSnap(t, ctx, c), w.Player)

	// Ten inputs moving left then one that stops: the last applied one wins.
	var last uint32
	for i := 0; i < 10; i++ {
		seq, err := c.Input(ctx, wire.InputMsg{MX: -1})
		if err != nil {
			t.Fatal(err)
		}
		if seq != last+1 {
			t.Fatalf("client seq %d after %d", seq, last)
		}
		last = seq
	}
	untilAck := func(seq uint32) *client.Snap {
		var prev uint32
		for {
			snap := nextSnap(t, ctx, c)
			if snap.Ack < prev {
				t.Fatalf("ack went backwards: %d then %d", prev, snap.Ack)
			}
			prev = snap.Ack
			if snap.Ack == seq {
				return snap
			}
		}
	}
	left, _ := entity(untilAck(last), w.Player)
	if left.X >= before.X && !obstacleLeftOf(before) {
		t.Fatalf("x %v → %v: the left inputs were not applied", before.X, left.X)
	}
	// A duplicate (old seq) must be ignored: it would move right.
	if _, err := c.Input(ctx, wire.InputMsg{Seq: 3, MX: 1}); err != nil {
		t.Fatal(err)
	}
	stop, err := c.Input(ctx, wire.InputMsg{MX: 0})
	if err != nil {
		t.Fatal(err)
	}
	after, _ := entity(untilAck(stop), w.Player)
	if after.X > left.X {
		t.Fatalf("x %v → %v: the duplicate input moved the player", left.X, after.X)
	}
	// Stopped: the next snapshots keep the position.
	still, _ := entity(nextSnap(t, ctx, c), w.Player)
	if still.X != after.X {
		t.Fatalf("player kept moving after the stop input: %v → %v", after.X, still.X)
	}
	if dup := ts.matchOf(t, w.Match).Stats().DuplicateInputs; dup != 1 {
		t.Fatalf("duplicate inputs counted = %d, want 1", dup)
	}
}

func TestSnapshotsOncePerTick(t *testing.T) {
	ts := newTestServer(t, netcode.Config{})
	ctx := testCtx(t, 20*time.Second)
	resp := ts.postMatch(t, `{"rate": 10}`)
	c, _ := ts.join(t, ctx, "dave", resp.ID)
	prev := nextSnap(t, ctx, c).Tick
	gaps := 0
	for i := 0; i < 30; i++ {
		s := nextSnap(t, ctx, c)
		if s.Tick <= prev {
			t.Fatalf("tick %d after %d: duplicate or out of order", s.Tick, prev)
		}
		if s.Tick != prev+1 {
			gaps++ // latest-wins may skip when this reader is descheduled
		}
		prev = s.Tick
	}
	if gaps > 2 {
		t.Fatalf("%d gaps in 30 snapshots of a 10 Hz match: snapshots are not sent every tick", gaps)
	}
}

// obstacleLeftOf reports whether an arena obstacle stops a player at e from
// moving left at once (a random spawn may touch one).
func obstacleLeftOf(e game.Entity) bool {
	for _, o := range game.NewArena().Layout().Obstacles {
		x, y := float64(e.X), float64(e.Y)
		if y+game.PlayerRadius > o.Y && y-game.PlayerRadius < o.Y+o.H && x-game.PlayerRadius-o.X-o.W < 12 && x > o.X {
			return true
		}
	}
	return float64(e.X) < game.PlayerRadius+12
}
