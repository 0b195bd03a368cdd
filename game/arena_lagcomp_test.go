package game

import (
	"fmt"
	"testing"
)

// lagShot is the lag-compensation scene: at 30 Hz the shooter (1) stands at
// (200, 300) and fires along +x at tick fireTick; the target (2) walks down
// the line x = 250 at 10 units a tick and is on the line of fire (y = 300)
// after tick fireTick−1−crossedAgo. view is the fire input's ViewTick
// (computed from viewAgo: fireTick−1−viewAgo; viewAgo < 0 means 0, none).
// It returns the rig after the fire tick, the events of that tick and
// those of the ticks until the projectile is gone.
func lagShot(t *testing.T, crossedAgo int, view uint64) (r *arenaRig, fireEvs, later []Event) {
	t.Helper()
	const (
		rate     = 30
		fireTick = 20
		step     = PlayerSpeed / rate // 10 units a tick
	)
	r = newArenaRig(t, rate, 20)
	r.place(1, 200, 300)
	target := r.place(2, 250, 300-step*float64(fireTick-1-crossedAgo))
	target.hp = ProjectileDamage // a hit kills: the kill event and the score show it counted
	walk := move(2, 0, 1)
	r.hold(fireTick-1, walk)
	shot := fire(1, 0)
	shot.ViewTick = view
	fireEvs = append([]Event(nil), r.step(walk, shot)...) // the rig reuses its buffer
	later = r.hold(2*rate, walk)
	return r, fireEvs, later
}

// lagView is the ViewTick of a shooter ago ticks behind at the fire tick of
// lagShot: the server's newest state then is tick fireTick−1.
func lagView(ago int) uint64 { return uint64(20 - 1 - ago) }

// TestArenaLagCompensation: a target that moved is hit where the shooter
// saw it, 100 ms ago and at the cap; a view beyond the cap is resolved at
// the cap; without a view (or with a future one) the shot is resolved
// against the present, as before.
func TestArenaLagCompensation(t *testing.T) {
	const rate = 30
	hundredMS := int(wholeTicks(100e6, rate)) // 3 ticks
	cap := int(wholeTicks(MaxRewind, rate))   // 7 ticks (233 ms)
	if hundredMS != 3 || cap != 7 {
		t.Fatalf("at %d Hz: 100 ms = %d ticks, cap %d ticks", rate, hundredMS, cap)
	}
	cases := []struct {
		name       string
		crossedAgo int    // the target was on the line of fire this many ticks before the server's newest state
		view       uint64 // the fire input's ViewTick
		hit        bool
		caughtUp   int // ticks of flight caught up through the past
	}{
		{name: "100 ms behind, aimed where the target was then", crossedAgo: hundredMS, view: lagView(hundredMS), hit: true, caughtUp: hundredMS},
		{name: "at the cap", crossedAgo: cap, view: lagView(cap), hit: true, caughtUp: cap},
		{name: "beyond the cap: aimed where the target was then", crossedAgo: cap + 3, view: lagView(cap + 3), hit: false, caughtUp: cap},
		{name: "beyond the cap: resolved at the cap", crossedAgo: cap, view: lagView(cap + 3), hit: true, caughtUp: cap},
		{name: "no view: aimed 100 ms back", crossedAgo: hundredMS, view: 0, hit: false},
		{name: "no view: aimed at the present", crossedAgo: 0, view: 0, hit: true},
		{name: "no latency: aimed at the present", crossedAgo: 0, view: lagView(0), hit: true},
		{name: "future view is none", crossedAgo: hundredMS, view: 20 + 5, hit: false},
		{name: "view of the fire tick itself is none", crossedAgo: hundredMS, view: 20, hit: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, evs, later := lagShot(t, tc.crossedAgo, tc.view)
			if countEvents(evs, EventShot) != 1 {
				t.Fatalf("fire tick events %v: want one shot", evs)
			}
			all := append(append([]Event(nil), evs...), later...)
			hits, kills := countEvents(all, EventHit), countEvents(all, EventKill)
			score := r.a.find(1).kills
			if tc.hit {
				// A hit this close lands within the first tick of flight:
				// on the fire tick, whatever the rewind.
				if countEvents(evs, EventHit) != 1 || countEvents(evs, EventKill) != 1 || hits != 1 || score != 1 {
					t.Fatalf("want a hit and a kill on the fire tick: fire tick %v, later %v, score %d", evs, later, score)
				}
				for _, e := range evs {
					if (e.Kind == EventHit || e.Kind == EventKill) && (e.A != 1 || e.B != 2) {
						t.Fatalf("event %+v: want shooter 1, victim 2", e)
					}
				}
				return
			}
			if hits != 0 || kills != 0 || score != 0 {
				t.Fatalf("want a miss: fire tick %v, later %v, score %d", evs, later, score)
			}
		})
	}
	// Where the projectile is after the fire tick tells how much flight was
	// caught up: caughtUp ticks, then the fire tick's own.
	for _, tc := range cases {
		if tc.hit {
			continue
		}
		t.Run("projectile of "+tc.name, func(t *testing.T) {
			r := newArenaRig(t, rate, 20)
			r.place(1, 200, 300)
			r.hold(19)
			shot := fire(1, 0)
			shot.ViewTick = tc.view
			r.step(shot)
			ps := r.projectiles()
			muzzle := 200 + PlayerRadius + ProjectileRadius + 1
			want := muzzle + float64(tc.caughtUp+1)*ProjectileSpeed/rate
			if len(ps) != 1 || !near(float64(ps[0].X), want) || !near(float64(ps[0].Y), 300) {
				t.Fatalf("projectiles %+v, want one at (%v, 300): %d ticks caught up", ps, want, tc.caughtUp)
			}
		})
	}
}

// TestArenaLagCompensationRange: a shot caught up through the past flies
// as far as any other before it dies.
func TestArenaLagCompensationRange(t *testing.T) {
	for _, view := range []uint64{0, lagView(3)} {
		t.Run(fmt.Sprint("view ", view), func(t *testing.T) {
			r := newArenaRig(t, 30, 20)
			r.place(1, 60, 40) // along the top edge: nothing in the way
			r.hold(19)
			shot := fire(1, 0)
			shot.ViewTick = view
			r.step(shot)
			var last float64
			for range 60 {
				ps := r.projectiles()
				if len(ps) == 0 {
					break
				}
				last = float64(ps[0].X)
				r.step()
			}
			// 1.2 s at 900 units/s from the muzzle at x = 85.
			if want := 85 + 36*ProjectileSpeed/30; !near(last, want) {
				t.Fatalf("last seen at x %v, want %v", last, want)
			}
		})
	}
}

// TestArenaLagCompensationOnlySameLife: a rewound hit only counts against
// the target as it still is; one that respawned since is not hit where
// its previous life stood, and one that left is not hit at all.
func TestArenaLagCompensationOnlySameLife(t *testing.T) {
	for _, what := range []string{"respawned", "left"} {
		t.Run(what, func(t *testing.T) {
			const rate = 30
			r := newArenaRig(t, rate, 20)
			r.place(1, 200, 300)
			target := r.place(2, 250, 300) // on the line of fire, still
			r.place(3, 1400, 800)          // a bystander far away
			r.hold(17)                     // the shooter will see tick 16; its shot's first tick of flight meets tick 17
			switch what {
			case "respawned":
				r.a.spawn(target)
				target.x, target.y, target.protectUntil = 1400, 100, 0
			case "left":
				r.a.Leave(2)
			}
			r.hold(2)
			shot := fire(1, 0)
			shot.ViewTick = lagView(3) // saw the target on the line
			evs := append(append([]Event(nil), r.step(shot)...), r.hold(rate)...)
			if n := countEvents(evs, EventHit); n != 0 {
				t.Fatalf("events %v: a hit on a target that %s since", evs, what)
			}
		})
	}
	// The same scene with the target still in its life: hit.
	r := newArenaRig(t, 30, 20)
	r.place(1, 200, 300)
	target := r.place(2, 250, 300)
	r.hold(17)
	target.x, target.y = 1400, 100 // moved away (not a new life)
	r.hold(2)
	shot := fire(1, 0)
	shot.ViewTick = lagView(3)
	if evs := r.step(shot); countEvents(evs, EventHit) != 1 || target.hp != MaxHP-ProjectileDamage {
		t.Fatalf("events %v, hp %d: want the target hit where it stood 3 ticks ago", evs, target.hp)
	}
}
