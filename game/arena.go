package game

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// Arena tuning, in arena units and seconds.
const (
	ArenaWidth       = 1600.0
	ArenaHeight      = 900.0
	PlayerRadius     = 20.0
	PlayerSpeed      = 300.0
	ProjectileRadius = 4.0
	ProjectileSpeed  = 900.0
	ProjectileLife   = 1200 * time.Millisecond
	FireCooldown     = 250 * time.Millisecond
	ProjectileDamage = 25
	MaxHP            = 100
	RespawnDelay     = 2 * time.Second
	SpawnProtection  = 1 * time.Second

	// The wire's precision: half a unit (under a pixel at any usual zoom)
	// and 1024 steps per turn (0.35°), so that the per-tick changes fit
	// msgpack's one-byte integers.
	ArenaPosStep    = 0.5
	ArenaAngleSteps = 1024
	// ArenaViewRadius is how far a player sees (interest management).
	ArenaViewRadius = 450.0
)

// arenaObstacles are the fixed obstacles of the reference arena.
var arenaObstacles = []Rect{
	{X: 360, Y: 180, W: 160, H: 40},
	{X: 1080, Y: 180, W: 160, H: 40},
	{X: 740, Y: 380, W: 120, H: 140},
	{X: 360, Y: 680, W: 160, H: 40},
	{X: 1080, Y: 680, W: 160, H: 40},
}

type arenaPlayer struct {
	id           PlayerID
	name         string
	x, y         float64
	aim          float64
	mx, my       float64
	hp           int
	kills        int
	deaths       int
	dead         bool
	respawnAt    uint64 // tick
	protectUntil uint64 // tick
	cooldownTill uint64 // tick
	fire         bool   // fire pressed in this tick's inputs
	fireView     uint64 // the view tick of the first of them that fired
	life         uint32 // spawns so far: a rewound hit needs the same life
}

type projectile struct {
	id     uint32
	owner  PlayerID
	x, y   float64
	vx, vy float64
	dieAt  uint64
	// rewind is the ticks of flight still to catch up through the past
	// (lag compensation); set when fired, 0 after its first step.
	rewind uint64
}

// Arena is the reference game: a top-down arena shooter. It implements
// Rules. The zero value is not usable; call Init.
type Arena struct {
	rng        *rand.Rand
	rate       int
	scoreLimit int
	tick       uint64
	players    []*arenaPlayer // sorted by id
	shots      []projectile
	nextObj    uint32
	events     []Event
	history    lagHistory // the players of the last ticks (lag compensation)
	maxRewind  uint64     // MaxRewind in ticks

	respawnTicks, protectTicks, cooldownTicks, lifeTicks uint64
}

// NewArena returns an arena ready for Init.
func NewArena() *Arena { return &Arena{} }

// ticksOf is the number of ticks that lasts at least d: ⌈d·rate⌉ in
// integer nanoseconds (float seconds make e.g. 8.3 s at 30 Hz 250 ticks).
func ticksOf(d time.Duration, rate int) uint64 {
	if d <= 0 {
		return 0
	}
	return (uint64(d)*uint64(rate) + uint64(time.Second) - 1) / uint64(time.Second)
}

// Init implements Rules.
func (a *Arena) Init(seed uint64, rate int, scoreLimit int) {
	*a = Arena{
		rng:           rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		rate:          rate,
		scoreLimit:    scoreLimit,
		nextObj:       FirstObjectID,
		respawnTicks:  ticksOf(RespawnDelay, rate),
		protectTicks:  ticksOf(SpawnProtection, rate),
		cooldownTicks: ticksOf(FireCooldown, rate),
		lifeTicks:     ticksOf(ProjectileLife, rate),
		history:       lagHistory{frames: make([]lagFrame, max(ticksOf(LagHistory, rate), 1))},
	}
	// The cap is what the ring holds at most; and a shot caught up for its
	// whole life would never be seen.
	a.maxRewind = min(wholeTicks(MaxRewind, rate), uint64(len(a.history.frames)), a.lifeTicks-1)
}

// Layout implements Rules.
func (a *Arena) Layout() Layout {
	return Layout{
		W: ArenaWidth, H: ArenaHeight, Obstacles: slices.Clone(arenaObstacles),
		Precision: Precision{Pos: ArenaPosStep, AngleSteps: ArenaAngleSteps}, ViewRadius: ArenaViewRadius,
	}
}

func (a *Arena) find(id PlayerID) *arenaPlayer {
	i, ok := slices.BinarySearchFunc(a.players, id, func(p *arenaPlayer, id PlayerID) int {
		return int(p.id) - int(id)
	})
	if !ok {
		return nil
	}
	return a.players[i]
}

// Join implements Rules.
func (a *Arena) Join(id PlayerID, name string) {
	if a.find(id) != nil {
		return
	}
	p := &arenaPlayer{id: id, name: name}
	a.spawn(p)
	i, _ := slices.BinarySearchFunc(a.players, id, func(p *arenaPlayer, id PlayerID) int {
		return int(p.id) - int(id)
	})
	a.players = slices.Insert(a.players, i, p)
}

// Leave implements Rules.
func (a *Arena) Leave(id PlayerID) {
	a.players = slices.DeleteFunc(a.players, func(p *arenaPlayer) bool { return p.id == id })
}

// Start implements Rules: scores start from zero when the match runs.
func (a *Arena) Start() {
	for _, p := range a.players {
		p.kills, p.deaths = 0, 0
	}
}

func (a *Arena) spawn(p *arenaPlayer) {
	// A spot away from other players if one is found, else the last one
	// tried that is at least off the obstacles (the arena's centre is in
	// one), else a corner.
	x, y := PlayerRadius, PlayerRadius
	for try := 0; try < 32; try++ {
		cx := PlayerRadius + a.rng.Float64()*(ArenaWidth-2*PlayerRadius)
		cy := PlayerRadius + a.rng.Float64()*(ArenaHeight-2*PlayerRadius)
		if a.blocked(cx, cy, PlayerRadius) {
			continue
		}
		x, y = cx, cy
		if !a.nearPlayer(p, cx, cy) {
			break
		}
	}
	p.x, p.y = x, y
	p.hp = MaxHP
	p.dead = false
	p.life++
	p.protectUntil = a.tick + a.protectTicks
}

func (a *Arena) nearPlayer(self *arenaPlayer, x, y float64) bool {
	for _, o := range a.players {
		if o != self && !o.dead && math.Hypot(o.x-x, o.y-y) < 4*PlayerRadius {
			return true
		}
	}
	return false
}

// blocked reports whether a circle at (x, y) with radius r overlaps an
// obstacle.
func (a *Arena) blocked(x, y, r float64) bool {
	for _, o := range arenaObstacles {
		cx := math.Max(o.X, math.Min(x, o.X+o.W))
		cy := math.Max(o.Y, math.Min(y, o.Y+o.H))
		if dx, dy := x-cx, y-cy; dx*dx+dy*dy < r*r {
			return true
		}
	}
	return false
}

// Step implements Rules.
func (a *Arena) Step(info StepInfo, inputs []Input) {
	a.tick = info.Tick
	a.events = a.events[:0]
	for _, p := range a.players {
		p.fire, p.fireView = false, 0
	}
	for _, in := range inputs {
		p := a.find(in.Player)
		if p == nil {
			continue
		}
		p.mx, p.my, p.aim = in.MoveX, in.MoveY, in.Aim
		if in.Buttons&ButtonFire != 0 && !p.fire {
			p.fire, p.fireView = true, in.ViewTick
		}
	}
	dt := info.Dt.Seconds()
	for _, p := range a.players {
		a.stepPlayer(p, dt)
	}
	a.stepShots(dt, info.Scoring)
	a.history.record(a.tick, a.players)
}

func (a *Arena) stepPlayer(p *arenaPlayer, dt float64) {
	if p.dead {
		if a.tick >= p.respawnAt {
			a.spawn(p)
			a.events = append(a.events, Event{Kind: EventRespawn, A: uint32(p.id)})
		}
		return
	}
	mx, my := p.mx, p.my
	if l := math.Hypot(mx, my); l > 1 {
		mx, my = mx/l, my/l
	}
	step := PlayerSpeed * dt
	if nx := clamp(p.x+mx*step, PlayerRadius, ArenaWidth-PlayerRadius); !a.blocked(nx, p.y, PlayerRadius) {
		p.x = nx
	}
	if ny := clamp(p.y+my*step, PlayerRadius, ArenaHeight-PlayerRadius); !a.blocked(p.x, ny, PlayerRadius) {
		p.y = ny
	}
	if p.fire && a.tick >= p.cooldownTill {
		p.cooldownTill = a.tick + a.cooldownTicks
		// Fired with a view tick: the first ticks of its flight are caught
		// up through the past in stepShots, and it dies as many ticks
		// sooner (its range stays the same).
		rewind := a.rewind(p.fireView)
		s := projectile{
			id:     a.nextObj,
			owner:  p.id,
			x:      p.x + math.Cos(p.aim)*(PlayerRadius+ProjectileRadius+1),
			y:      p.y + math.Sin(p.aim)*(PlayerRadius+ProjectileRadius+1),
			vx:     math.Cos(p.aim) * ProjectileSpeed,
			vy:     math.Sin(p.aim) * ProjectileSpeed,
			dieAt:  a.tick + a.lifeTicks - rewind,
			rewind: rewind,
		}
		a.nextObj++
		a.shots = append(a.shots, s)
		a.events = append(a.events, Event{Kind: EventShot, A: uint32(p.id), B: s.id})
	}
}

// stepShots moves projectiles in sub-steps of at most one projectile
// diameter, so that none tunnels through a player or an obstacle. A shot
// fired this tick with a rewind first catches up through the past.
func (a *Arena) stepShots(dt float64, scoring bool) {
	live := a.shots[:0]
	for _, s := range a.shots {
		if a.tick >= s.dieAt || !a.catchUp(&s, dt, scoring) || !a.moveShot(&s, dt, scoring, nil) {
			continue
		}
		live = append(live, s)
	}
	a.shots = live
}

// moveShot advances one projectile by one tick of flight, tested against
// the players now (past nil) or as a past tick's frame showed them; it
// returns false when the projectile is gone (hit something or left the
// arena).
func (a *Arena) moveShot(s *projectile, dt float64, scoring bool, past *lagFrame) bool {
	dist := math.Hypot(s.vx, s.vy) * dt
	n := int(math.Ceil(dist / (2 * ProjectileRadius)))
	n = max(n, 1)
	for i := 0; i < n; i++ {
		s.x += s.vx * dt / float64(n)
		s.y += s.vy * dt / float64(n)
		if s.x < 0 || s.y < 0 || s.x > ArenaWidth || s.y > ArenaHeight || a.blocked(s.x, s.y, ProjectileRadius) {
			return false
		}
		if past != nil {
			if a.hitPast(s, past, scoring) {
				return false
			}
			continue
		}
		for _, p := range a.players {
			if p.id == s.owner || p.dead {
				continue
			}
			if math.Hypot(p.x-s.x, p.y-s.y) >= PlayerRadius+ProjectileRadius {
				continue
			}
			if a.tick < p.protectUntil {
				return false
			}
			a.hit(s.owner, p, scoring)
			return false
		}
	}
	return true
}

func (a *Arena) hit(shooter PlayerID, victim *arenaPlayer, scoring bool) {
	victim.hp -= ProjectileDamage
	a.events = append(a.events, Event{Kind: EventHit, A: uint32(shooter), B: uint32(victim.id)})
	if victim.hp > 0 {
		return
	}
	victim.hp = 0
	victim.dead = true
	victim.respawnAt = a.tick + a.respawnTicks
	a.events = append(a.events, Event{Kind: EventKill, A: uint32(shooter), B: uint32(victim.id)})
	if !scoring {
		return
	}
	victim.deaths++
	if k := a.find(shooter); k != nil {
		k.kills++
	}
}

// AppendSnapshot implements Rules.
func (a *Arena) AppendSnapshot(ents []Entity, evs []Event) ([]Entity, []Event) {
	for _, p := range a.players {
		var flags uint8
		if p.dead {
			flags |= FlagDead
		}
		if a.tick < p.protectUntil {
			flags |= FlagProtected
		}
		ents = append(ents, Entity{
			ID: uint32(p.id), Kind: KindPlayer,
			X: float32(p.x), Y: float32(p.y), Angle: float32(p.aim),
			HP: int16(p.hp), Score: int32(p.kills), Flags: flags,
		})
	}
	for _, s := range a.shots {
		ents = append(ents, Entity{
			ID: s.id, Kind: KindProjectile,
			X: float32(s.x), Y: float32(s.y), Angle: float32(math.Atan2(s.vy, s.vx)),
			Score: int32(s.owner),
		})
	}
	return ents, append(evs, a.events...)
}

// Over implements Rules: the score limit.
func (a *Arena) Over() (bool, string) {
	for _, p := range a.players {
		if a.scoreLimit > 0 && p.kills >= a.scoreLimit {
			return true, "score"
		}
	}
	return false, ""
}

// Scores implements Rules: most kills first, then fewest deaths, then id.
func (a *Arena) Scores() []Score {
	out := make([]Score, 0, len(a.players))
	for _, p := range a.players {
		out = append(out, Score{Player: p.id, Name: p.name, Kills: p.kills, Deaths: p.deaths})
	}
	slices.SortFunc(out, func(x, y Score) int {
		if x.Kills != y.Kills {
			return y.Kills - x.Kills
		}
		if x.Deaths != y.Deaths {
			return x.Deaths - y.Deaths
		}
		return int(x.Player) - int(y.Player)
	})
	return out
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }
