package game

import (
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"
)

// arenaRig drives an Arena tick by tick the way a match does: Step with
// the tick number from 1 and the loop's interval, then AppendSnapshot.
type arenaRig struct {
	t       *testing.T
	a       *Arena
	dt      time.Duration
	tick    uint64
	scoring bool
	ents    []Entity // snapshot of the last step
	evs     []Event  // events of the last step
}

func newArenaRig(t *testing.T, rate, scoreLimit int) *arenaRig {
	t.Helper()
	a := NewArena()
	a.Init(1, rate, scoreLimit)
	return &arenaRig{t: t, a: a, dt: (&Loop{Rate: rate}).Interval(), scoring: true}
}

// place joins player id and puts it at (x, y), unprotected.
func (r *arenaRig) place(id PlayerID, x, y float64) *arenaPlayer {
	r.t.Helper()
	r.a.Join(id, fmt.Sprintf("p%d", id))
	p := r.a.find(id)
	if p == nil {
		r.t.Fatalf("player %d not found after Join", id)
	}
	p.x, p.y, p.protectUntil = x, y, 0
	return p
}

// step runs one tick with the given inputs and returns its events.
func (r *arenaRig) step(inputs ...Input) []Event {
	r.tick++
	r.a.Step(StepInfo{Tick: r.tick, Dt: r.dt, Scoring: r.scoring}, inputs)
	r.ents, r.evs = r.a.AppendSnapshot(r.ents[:0], r.evs[:0])
	return r.evs
}

// hold runs n ticks with the same inputs and returns all their events.
func (r *arenaRig) hold(n int, inputs ...Input) []Event {
	var all []Event
	for range n {
		all = append(all, r.step(inputs...)...)
	}
	return all
}

// entity returns entity id of the last snapshot.
func (r *arenaRig) entity(id uint32) Entity {
	r.t.Helper()
	for _, e := range r.ents {
		if e.ID == id {
			return e
		}
	}
	r.t.Fatalf("tick %d: no entity %d in %+v", r.tick, id, r.ents)
	return Entity{}
}

// projectiles returns the projectile entities of the last snapshot.
func (r *arenaRig) projectiles() []Entity {
	var out []Entity
	for _, e := range r.ents {
		if e.Kind == KindProjectile {
			out = append(out, e)
		}
	}
	return out
}

func fire(p PlayerID, aim float64) Input {
	return Input{Player: p, Aim: aim, Buttons: ButtonFire}
}

func move(p PlayerID, x, y float64) Input { return Input{Player: p, MoveX: x, MoveY: y} }

func countEvents(evs []Event, kind uint8) int {
	n := 0
	for _, e := range evs {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-3 }

func TestArenaMovement(t *testing.T) {
	d := 300 / math.Sqrt2 // one second of diagonal movement per axis
	cases := []struct {
		name       string
		x, y       float64
		mx, my     float64
		wantX      float64
		wantY      float64
		wantMoved  float64 // distance, when the path is free
		checkMoved bool
	}{
		{name: "straight", x: 100, y: 100, mx: 1, wantX: 400, wantY: 100, wantMoved: 300, checkMoved: true},
		{name: "half stick is half speed", x: 100, y: 100, mx: 0.5, wantX: 250, wantY: 100, wantMoved: 150, checkMoved: true},
		// (1, 1) has length √2: it is clamped to PlayerSpeed, 300 units in
		// one second, not 424.
		{name: "diagonal clamped", x: 100, y: 100, mx: 1, my: 1, wantX: 100 + d, wantY: 100 + d, wantMoved: 300, checkMoved: true},
		{name: "diagonal up-left clamped", x: 1400, y: 600, mx: -1, my: -1, wantX: 1400 - d, wantY: 600 - d, wantMoved: 300, checkMoved: true},
		{name: "left wall", x: 100, y: 450, mx: -1, wantX: PlayerRadius, wantY: 450},
		{name: "top wall", x: 800, y: 100, my: -1, wantX: 800, wantY: PlayerRadius},
		{name: "bottom-right corner", x: 1500, y: 800, mx: 1, my: 1, wantX: ArenaWidth - PlayerRadius, wantY: ArenaHeight - PlayerRadius},
		// The centre obstacle spans x 740…860, y 380…520.
		{name: "obstacle from the left", x: 700, y: 450, mx: 1, wantX: 740 - PlayerRadius, wantY: 450},
		{name: "obstacle from above", x: 800, y: 300, my: 1, wantX: 800, wantY: 380 - PlayerRadius},
		{name: "obstacle from the right", x: 920, y: 450, mx: -1, wantX: 860 + PlayerRadius, wantY: 450},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			const rate = 30
			r := newArenaRig(t, rate, 20)
			r.place(1, tc.x, tc.y)
			r.hold(rate, move(1, tc.mx, tc.my)) // one second
			e := r.entity(1)
			x, y := float64(e.X), float64(e.Y)
			if !near(x, tc.wantX) || !near(y, tc.wantY) {
				t.Fatalf("after 1 s at (%v, %v): (%v, %v), want (%v, %v)", tc.mx, tc.my, x, y, tc.wantX, tc.wantY)
			}
			if moved := math.Hypot(x-tc.x, y-tc.y); tc.checkMoved && !near(moved, tc.wantMoved) {
				t.Fatalf("moved %v, want %v", moved, tc.wantMoved)
			}
			if r.a.blocked(x, y, PlayerRadius) {
				t.Fatalf("player ended inside an obstacle at (%v, %v)", x, y)
			}
		})
	}
}

// A move input holds until the next one: the arena keeps the last stick.
func TestArenaMoveHoldsUntilNextInput(t *testing.T) {
	r := newArenaRig(t, 30, 20)
	r.place(1, 100, 100)
	r.step(move(1, 1, 0))
	r.hold(29)
	if e := r.entity(1); !near(float64(e.X), 400) {
		t.Fatalf("x = %v, want 400", e.X)
	}
	r.step(move(1, 0, 0))
	r.hold(10)
	if e := r.entity(1); !near(float64(e.X), 400) {
		t.Fatalf("x = %v after stopping, want 400", e.X)
	}
}

// Holding fire for one second fires every cooldown: FireCooldown is
// ⌈0.25·rate⌉ ticks, and the first shot goes at tick 1, so one second
// (rate ticks) holds ⌈rate/cooldown⌉ shots: 4 at every rate below.
func TestArenaFireCooldown(t *testing.T) {
	for _, rate := range []int{MinTickRate, 30, 50, 60, MaxTickRate} {
		t.Run(fmt.Sprint(rate, "Hz"), func(t *testing.T) {
			r := newArenaRig(t, rate, 20)
			r.place(1, 100, 100)
			cd := int(ticksOf(FireCooldown, rate))
			want := (rate + cd - 1) / cd
			if want != 4 {
				t.Fatalf("cooldown %d ticks at %d Hz gives %d shots a second, want 4", cd, rate, want)
			}
			var shots []Event
			var shotTicks []uint64
			for range rate {
				for _, e := range r.step(fire(1, 0)) {
					if e.Kind == EventShot {
						shots = append(shots, e)
						shotTicks = append(shotTicks, r.tick)
					}
				}
			}
			if len(shots) != want {
				t.Fatalf("%d shots at ticks %v, want %d", len(shots), shotTicks, want)
			}
			for i, e := range shots {
				wantEv := Event{Kind: EventShot, A: 1, B: uint32(FirstObjectID + i)}
				if e != wantEv {
					t.Errorf("shot %d: %+v, want %+v", i, e, wantEv)
				}
				if tk := uint64(1 + i*cd); shotTicks[i] != tk {
					t.Errorf("shot %d at tick %d, want %d", i, shotTicks[i], tk)
				}
			}
			// Every shot is still flying (ProjectileLife > 1 s), owned by
			// player 1, along the aim.
			ps := r.projectiles()
			if len(ps) != want {
				t.Fatalf("%d projectiles in the snapshot, want %d", len(ps), want)
			}
			for _, p := range ps {
				if p.Score != 1 || p.Y != 100 || p.Angle != 0 {
					t.Errorf("projectile %+v: want owner 1, y 100, angle 0", p)
				}
			}
		})
	}
}

// The first projectile appears in front of the shooter, then flies at
// ProjectileSpeed.
func TestArenaProjectileFlight(t *testing.T) {
	r := newArenaRig(t, 30, 20)
	r.place(1, 100, 100)
	r.step(fire(1, 0))
	step := ProjectileSpeed * r.dt.Seconds()
	start := 100 + PlayerRadius + ProjectileRadius + 1
	if ps := r.projectiles(); len(ps) != 1 || !near(float64(ps[0].X), start+step) {
		t.Fatalf("after the shot tick: %+v, want one projectile at x %v", ps, start+step)
	}
	r.step()
	if ps := r.projectiles(); len(ps) != 1 || !near(float64(ps[0].X), start+2*step) {
		t.Fatalf("one tick later: %+v, want x %v", ps, start+2*step)
	}
}

// Projectiles disappear on an obstacle, at the arena's edge, or at the end
// of their life, whichever comes first.
func TestArenaProjectileRemoval(t *testing.T) {
	cases := []struct {
		name       string
		x, y       float64
		aliveAt    uint64 // last tick the projectile is still there
		wantGoneAt uint64
	}{
		// From x 625 at 30 units a tick it reaches the centre obstacle
		// (x 740, minus its radius) during tick 4.
		{name: "obstacle", x: 600, y: 450, aliveAt: 3, wantGoneAt: 4},
		{name: "arena edge", x: 1500, y: 100, aliveAt: 2, wantGoneAt: 3},
		// Free flight along y = 100: it dies at tick 1 + ⌈1.2 s·30⌉ = 37.
		{name: "life", x: 30, y: 100, aliveAt: 36, wantGoneAt: 37},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newArenaRig(t, 30, 20)
			r.place(1, tc.x, tc.y)
			r.place(2, 900, 450) // behind the centre obstacle, in the line of fire
			r.step(fire(1, 0))
			for r.tick < tc.aliveAt {
				r.step()
			}
			if n := len(r.projectiles()); n != 1 {
				t.Fatalf("tick %d: %d projectiles, want 1", r.tick, n)
			}
			r.step()
			if n := len(r.projectiles()); n != 0 {
				t.Fatalf("tick %d: %d projectiles, want 0 (%+v)", r.tick, n, r.projectiles())
			}
			if evs := r.hold(60); countEvents(evs, EventHit) != 0 || r.entity(2).HP != MaxHP {
				t.Fatalf("player 2 was hit through the obstacle: %+v, hp %d", evs, r.entity(2).HP)
			}
		})
	}
}

// killByFire has shooter fire at victim (placed 200 units to its right)
// until the victim dies; it checks every hit on the way and returns the
// tick of the kill.
func killByFire(t *testing.T, r *arenaRig, shooter, victim PlayerID) uint64 {
	t.Helper()
	sp, vp := r.a.find(shooter), r.a.find(victim)
	vp.x, vp.y = sp.x+200, sp.y
	hits := 0
	for range 10 * r.a.rate {
		for _, e := range r.step(fire(shooter, 0)) {
			switch e.Kind {
			case EventHit:
				hits++
				if e != (Event{Kind: EventHit, A: uint32(shooter), B: uint32(victim)}) {
					t.Fatalf("hit event %+v", e)
				}
				if hp, want := r.entity(uint32(victim)).HP, int16(MaxHP-hits*ProjectileDamage); hp != want {
					t.Fatalf("after hit %d: hp %d, want %d", hits, hp, want)
				}
			case EventKill:
				if e != (Event{Kind: EventKill, A: uint32(shooter), B: uint32(victim)}) {
					t.Fatalf("kill event %+v", e)
				}
				if hits != MaxHP/ProjectileDamage {
					t.Fatalf("killed after %d hits, want %d", hits, MaxHP/ProjectileDamage)
				}
				return r.tick
			}
		}
	}
	t.Fatalf("no kill after %d ticks and %d hits", r.tick, hits)
	return 0
}

func TestArenaHitKillRespawn(t *testing.T) {
	for _, scoring := range []bool{true, false} {
		t.Run(fmt.Sprint("scoring=", scoring), func(t *testing.T) {
			r := newArenaRig(t, 30, 20)
			r.scoring = scoring
			r.place(1, 200, 450)
			r.place(2, 400, 450)

			killTick := killByFire(t, r, 1, 2)
			v := r.entity(2)
			if v.Flags&FlagDead == 0 || v.HP != 0 {
				t.Fatalf("victim after the kill: %+v, want dead with hp 0", v)
			}
			wantKills, wantDeaths := 0, 0
			if scoring {
				wantKills, wantDeaths = 1, 1
			}
			if got := r.entity(1).Score; got != int32(wantKills) {
				t.Fatalf("killer score %d, want %d", got, wantKills)
			}
			wantScores := []Score{{Player: 1, Name: "p1", Kills: wantKills}, {Player: 2, Name: "p2", Deaths: wantDeaths}}
			if got := r.a.Scores(); !reflect.DeepEqual(got, wantScores) {
				t.Fatalf("scores %+v, want %+v", got, wantScores)
			}

			// The victim stays dead for RespawnDelay, then respawns with
			// full health and spawn protection.
			respawnAt := killTick + ticksOf(RespawnDelay, 30)
			for r.tick < respawnAt-1 {
				if evs := r.step(); countEvents(evs, EventRespawn) != 0 {
					t.Fatalf("respawn at tick %d, want %d", r.tick, respawnAt)
				}
				if r.entity(2).Flags&FlagDead == 0 {
					t.Fatalf("victim alive at tick %d, want dead until %d", r.tick, respawnAt)
				}
			}
			if evs := r.step(); !reflect.DeepEqual(evs, []Event{{Kind: EventRespawn, A: 2}}) {
				t.Fatalf("tick %d events %+v, want the respawn of 2", r.tick, evs)
			}
			v = r.entity(2)
			if v.HP != MaxHP || v.Flags != FlagProtected {
				t.Fatalf("respawned victim %+v, want hp %d and only FlagProtected", v, MaxHP)
			}
			if r.a.blocked(float64(v.X), float64(v.Y), PlayerRadius) {
				t.Fatalf("respawned inside an obstacle: %+v", v)
			}
			// Protection ends after SpawnProtection.
			r.hold(int(ticksOf(SpawnProtection, 30)))
			if f := r.entity(2).Flags; f != 0 {
				t.Fatalf("flags %d after the protection, want 0", f)
			}
		})
	}
}

// A protected player absorbs projectiles without damage; once the
// protection is over, the same shot hurts.
func TestArenaSpawnProtection(t *testing.T) {
	r := newArenaRig(t, 30, 20)
	r.place(1, 200, 450)
	v := r.place(2, 400, 450)
	v.protectUntil = ticksOf(SpawnProtection, 30)

	evs := r.step(fire(1, 0))
	if r.entity(2).Flags&FlagProtected == 0 {
		t.Fatal("player 2 not flagged protected")
	}
	// The shot reaches x 400 in about 6 ticks; the next obstacle on its way
	// (x 740) would take 17: gone by tick 8 means the player absorbed it.
	evs = append(evs, r.hold(7)...)
	if n := len(r.projectiles()); n != 0 {
		t.Fatalf("tick %d: %d projectiles, want the shot absorbed", r.tick, n)
	}
	if countEvents(evs, EventHit) != 0 || r.entity(2).HP != MaxHP {
		t.Fatalf("protected player hit: events %+v, hp %d", evs, r.entity(2).HP)
	}

	for r.tick < v.protectUntil {
		r.step()
	}
	if f := r.entity(2).Flags; f != 0 {
		t.Fatalf("flags %d after the protection, want 0", f)
	}
	if evs := r.hold(8, fire(1, 0)); countEvents(evs, EventHit) != 1 || r.entity(2).HP != MaxHP-ProjectileDamage {
		t.Fatalf("unprotected player: events %+v, hp %d; want one hit", evs, r.entity(2).HP)
	}
}

func TestArenaScoreLimit(t *testing.T) {
	r := newArenaRig(t, 30, 2)
	r.place(1, 200, 300)
	r.place(2, 400, 300)
	r.place(3, 400, 300) // waits at the same spot for its turn
	killByFire(t, r, 1, 2)
	if over, reason := r.a.Over(); over {
		t.Fatalf("over after one kill (%q), limit 2", reason)
	}
	killByFire(t, r, 1, 3)
	if over, reason := r.a.Over(); !over || reason != "score" {
		t.Fatalf("Over() = %v, %q after two kills, want true, \"score\"", over, reason)
	}
}

func TestArenaNoScoreWhileWaiting(t *testing.T) {
	r := newArenaRig(t, 30, 1)
	r.scoring = false
	r.place(1, 200, 300)
	r.place(2, 400, 300)
	killByFire(t, r, 1, 2)
	if over, _ := r.a.Over(); over {
		t.Fatal("a kill while not scoring ended the game")
	}
}

func TestArenaScoresOrder(t *testing.T) {
	r := newArenaRig(t, 30, 20)
	stats := map[PlayerID][2]int{ // kills, deaths
		1: {2, 3}, 2: {5, 1}, 3: {2, 1}, 4: {2, 1}, 5: {0, 0},
	}
	for _, id := range []PlayerID{4, 1, 5, 3, 2} {
		p := r.place(id, 100, 100)
		p.kills, p.deaths = stats[id][0], stats[id][1]
	}
	var got []PlayerID
	for _, s := range r.a.Scores() {
		got = append(got, s.Player)
		if want := stats[s.Player]; s.Kills != want[0] || s.Deaths != want[1] || s.Name != fmt.Sprintf("p%d", s.Player) {
			t.Errorf("score line %+v, want kills %d deaths %d", s, want[0], want[1])
		}
	}
	// Kills desc, then deaths asc, then id asc.
	if want := []PlayerID{2, 3, 4, 1, 5}; !reflect.DeepEqual(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	r.a.Start()
	for _, s := range r.a.Scores() {
		if s.Kills != 0 || s.Deaths != 0 {
			t.Fatalf("Start kept a score: %+v", s)
		}
	}
}

// Entities come sorted by id, players (joined in any order) before
// projectiles; a player that leaves is gone from the next snapshot.
func TestArenaSnapshotOrderAndLeave(t *testing.T) {
	r := newArenaRig(t, 30, 20)
	pos := map[PlayerID][2]float64{3: {100, 100}, 1: {100, 800}, 2: {1500, 450}}
	for _, id := range []PlayerID{3, 1, 2} {
		r.a.Join(id, "x")
		p := r.a.find(id)
		p.x, p.y = pos[id][0], pos[id][1] // far apart: no shot hits anyone
	}
	r.step(fire(2, 0), fire(3, math.Pi/2))
	var ids []uint32
	for _, e := range r.ents {
		ids = append(ids, e.ID)
	}
	if want := []uint32{1, 2, 3, FirstObjectID, FirstObjectID + 1}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("entity ids %v, want %v", ids, want)
	}
	for _, e := range r.ents[:3] {
		if e.Kind != KindPlayer || e.HP != MaxHP || e.Flags != FlagProtected {
			t.Errorf("new player %+v, want a protected player at full health", e)
		}
	}
	r.a.Leave(2)
	r.step()
	for _, e := range r.ents {
		if e.ID == 2 {
			t.Fatalf("player 2 still in the snapshot after Leave: %+v", r.ents)
		}
	}
}

// Spawn positions are inside the walls, off the obstacles and away from
// other players.
func TestArenaSpawnPositions(t *testing.T) {
	a := NewArena()
	a.Init(42, 30, 20)
	for id := PlayerID(1); id <= 16; id++ {
		a.Join(id, "x")
	}
	for _, p := range a.players {
		if p.x < PlayerRadius || p.x > ArenaWidth-PlayerRadius || p.y < PlayerRadius || p.y > ArenaHeight-PlayerRadius {
			t.Errorf("player %d spawned outside the walls at (%v, %v)", p.id, p.x, p.y)
		}
		if a.blocked(p.x, p.y, PlayerRadius) {
			t.Errorf("player %d spawned in an obstacle at (%v, %v)", p.id, p.x, p.y)
		}
		if a.nearPlayer(p, p.x, p.y) {
			t.Errorf("player %d spawned next to another player", p.id)
		}
	}
}

// In a crowded arena, where no spot is away from the other players, a
// player still spawns inside the walls and off the obstacles (it would be
// stuck in one for good).
func TestArenaSpawnCrowded(t *testing.T) {
	r := newArenaRig(t, 30, 20)
	id := PlayerID(1)
	for x := 50.0; x < ArenaWidth; x += 100 {
		for y := 50.0; y < ArenaHeight; y += 100 {
			r.place(id, x, y)
			id++
		}
	}
	for range 20 {
		r.a.Join(id, "late")
		p := r.a.find(id)
		if r.a.blocked(p.x, p.y, PlayerRadius) {
			t.Fatalf("player %d spawned inside an obstacle at (%v, %v)", id, p.x, p.y)
		}
		if p.x < PlayerRadius || p.x > ArenaWidth-PlayerRadius || p.y < PlayerRadius || p.y > ArenaHeight-PlayerRadius {
			t.Fatalf("player %d spawned outside the walls at (%v, %v)", id, p.x, p.y)
		}
		id++
	}
}
