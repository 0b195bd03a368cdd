package game

import (
	"math"
	"time"
)

// Lag compensation of the arena.
//
// A client draws a state that is already old when its input reaches the
// server: the input carries the tick it was showing (Input.ViewTick). A shot
// is resolved against the players as that shooter saw them, by catching the
// projectile up through the recent past on the tick it is fired: it starts
// at the shooter's muzzle at the view tick and flies one tick of its flight
// per tick from there to now, each tested against the players' recorded
// positions of that tick; from then on it flies in the present like any
// other. Its age a is therefore always tested against the players at view
// tick + a + 1, which is what the shooter's screen shows (docs/architecture.md
// says why this design and what it costs).

const (
	// MaxRewind caps how far back a shot is resolved: a view older than
	// this is resolved this far back (the shot still happens). In whole
	// ticks, rounded down: 7 ticks (233 ms) at 30 Hz, 15 at 60 Hz.
	MaxRewind = 250 * time.Millisecond
	// LagHistory is how much of the past the arena keeps, per tick, for
	// lag compensation: twice MaxRewind, so that the cap may be raised up
	// to it without touching the ring. In whole ticks, rounded up.
	LagHistory = 500 * time.Millisecond
)

// lagRow is one player as the snapshot of a past tick showed it.
type lagRow struct {
	id        PlayerID
	life      uint32 // the player's life then (Arena spawns count lives)
	x, y      float64
	dead      bool
	protected bool
}

// lagFrame is the players of one past tick, sorted by id.
type lagFrame struct {
	tick uint64 // 0: never written
	rows []lagRow
}

// lagHistory is a ring of the last len(frames) ticks. Each frame's rows are
// reused, so recording a tick allocates nothing once every frame has held
// as many players as the match has.
type lagHistory struct {
	frames []lagFrame
}

// record writes the players as they stand after tick's step (what the
// tick's snapshot shows) over the oldest frame.
func (h *lagHistory) record(tick uint64, players []*arenaPlayer) {
	f := &h.frames[tick%uint64(len(h.frames))]
	f.tick = tick
	f.rows = f.rows[:0]
	for _, p := range players {
		f.rows = append(f.rows, lagRow{
			id: p.id, life: p.life, x: p.x, y: p.y, dead: p.dead, protected: tick < p.protectUntil,
		})
	}
}

// at returns the frame of tick, or nil when the ring no longer (or never)
// held it.
func (h *lagHistory) at(tick uint64) *lagFrame {
	if len(h.frames) == 0 {
		return nil
	}
	if f := &h.frames[tick%uint64(len(h.frames))]; f.tick == tick && tick != 0 {
		return f
	}
	return nil
}

// wholeTicks is the number of whole ticks within d at rate: ⌊d·rate⌋.
func wholeTicks(d time.Duration, rate int) uint64 {
	if d <= 0 {
		return 0
	}
	return uint64(d) * uint64(rate) / uint64(time.Second)
}

// rewind returns how many ticks back a shot fired at the current tick with
// view tick v is resolved: the ticks between the newest state the server
// held when it applied the input (tick−1) and the one the shooter saw, at
// most maxRewind, and no further back than the history holds. A view of 0
// (unknown) or not older than the current tick (the future: a lie or a bug)
// means none.
func (a *Arena) rewind(v uint64) uint64 {
	if v == 0 || v >= a.tick {
		return 0
	}
	n := min(a.tick-1-v, a.maxRewind)
	for n > 0 && a.history.at(a.tick-n) == nil {
		n--
	}
	return n
}

// catchUp flies a shot fired with a rewind through the ticks its shooter
// was behind, each against the players as they were at that tick. It
// returns false when the projectile is gone.
func (a *Arena) catchUp(s *projectile, dt float64, scoring bool) bool {
	for ; s.rewind > 0; s.rewind-- {
		// A hole in the history (ticks not stepped in order) is resolved
		// against the present.
		if !a.moveShot(s, dt, scoring, a.history.at(a.tick-s.rewind)) {
			return false
		}
	}
	return true
}

// hitPast tests a projectile against the players as frame f showed them.
// A player hit there takes the hit now if it is still in that life (it has
// not died or left since); otherwise the projectile flies on. A player that
// was spawn-protected then absorbs it. It reports whether the projectile
// is gone.
func (a *Arena) hitPast(s *projectile, f *lagFrame, scoring bool) bool {
	for i := range f.rows {
		r := &f.rows[i]
		if r.id == s.owner || r.dead || math.Hypot(r.x-s.x, r.y-s.y) >= PlayerRadius+ProjectileRadius {
			continue
		}
		p := a.find(r.id)
		if p == nil || p.dead || p.life != r.life {
			continue
		}
		if !r.protected {
			a.hit(s.owner, p, scoring)
		}
		return true
	}
	return false
}
