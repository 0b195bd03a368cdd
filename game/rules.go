package game

import "time"

// PlayerID identifies a seat in a match; it is also the entity id of the
// player's avatar. Player ids are below 1<<24; rules number other entities
// at or above FirstObjectID.
type PlayerID uint32

// FirstObjectID is the first entity id a Rules implementation may use for
// non-player entities.
const FirstObjectID = 1 << 24

// Button bits of an Input.
const (
	ButtonFire uint8 = 1 << iota
	// ButtonsMask holds every defined button bit.
	ButtonsMask = ButtonFire
)

// Input is one validated input of a player. Netcode checks ranges before an
// Input reaches a match; rules may rely on them.
type Input struct {
	Player  PlayerID
	Seq     uint32  // strictly increasing per seat
	MoveX   float64 // -1…1
	MoveY   float64 // -1…1
	Aim     float64 // radians, -π…π
	Buttons uint8   // ButtonFire, …
	// Epoch is the seat epoch of the connection that sent the input; the
	// match drops inputs of an older connection (a replaced one). Zero
	// means "the current one" (tests, bots of the match itself).
	Epoch uint32
	// ViewTick is the tick of the state the player was looking at when it
	// made the input (0: unknown). The match passes it through untouched;
	// a game may use it to judge the input against what the player saw
	// (the arena's lag compensation). Netcode bounds it (0…2^53) but not
	// by the match's tick: a view tick not older than the tick being
	// computed is the rules' business (the arena treats it as none).
	ViewTick uint64
}

// Entity kinds.
const (
	KindPlayer     uint8 = 1
	KindProjectile uint8 = 2
)

// Entity flags.
const (
	FlagDead         uint8 = 1
	FlagDisconnected uint8 = 2
	FlagProtected    uint8 = 4
)

// Entity is one object of a snapshot, in a form every 2D game can fill.
type Entity struct {
	ID    uint32
	Kind  uint8
	X, Y  float32
	Angle float32
	HP    int16
	Score int32 // players: kills; projectiles: the shooter's id
	Flags uint8
}

// Event kinds of the arena.
const (
	EventShot    uint8 = 1
	EventHit     uint8 = 2
	EventKill    uint8 = 3
	EventRespawn uint8 = 4
)

// Event is something that happened during a tick.
type Event struct {
	Kind uint8
	A, B uint32
}

// Rect is an axis-aligned rectangle: top-left corner, width, height.
type Rect struct{ X, Y, W, H float64 }

// Layout is the static description of a world that clients need to draw it.
type Layout struct {
	W, H      float64
	Obstacles []Rect
	// Precision is how precisely the wire carries entity fields; the zero
	// value takes DefaultPrecision.
	Precision Precision
	// ViewRadius is the interest radius in world units: a player receives
	// the entities whose position is within it (and its own avatar). Zero
	// means every player sees every entity.
	ViewRadius float64
}

// Precision is the wire precision a game declares. The simulation keeps
// its floats; the wire carries X and Y as integers of Pos world units and
// Angle as integers of 1/AngleSteps of a turn.
type Precision struct {
	Pos        float64 // world units per wire step of X and Y
	AngleSteps int     // wire steps per full turn of Angle
}

// DefaultPrecision is used when a game declares none: 1/16 unit and
// 4096 steps per turn.
var DefaultPrecision = Precision{Pos: 1.0 / 16, AngleSteps: 4096}

// OrDefault returns p, or DefaultPrecision where p has a zero or invalid
// field.
func (p Precision) OrDefault() Precision {
	if !(p.Pos > 0) || p.Pos > 1e6 {
		p.Pos = DefaultPrecision.Pos
	}
	if p.AngleSteps < 4 || p.AngleSteps > 1<<20 {
		p.AngleSteps = DefaultPrecision.AngleSteps
	}
	return p
}

// Score is one line of a results table.
type Score struct {
	Player PlayerID
	Name   string
	Kills  int
	Deaths int
}

// StepInfo is what a Rules step may know about the match.
type StepInfo struct {
	Tick    uint64        // the tick being computed, from 1
	Dt      time.Duration // the fixed tick interval
	Scoring bool          // false while the match waits for players
}

// Rules is the contract a game implements to run inside a match. All
// methods are called from the match goroutine only. Given the same seed,
// joins, leaves and inputs at the same ticks, a Rules value must produce the
// same snapshots (determinism).
type Rules interface {
	// Init prepares a new world.
	Init(seed uint64, rate int, scoreLimit int)
	// Layout describes the static world. It may be called before Init.
	Layout() Layout
	// Join adds a player (ids are never reused within a match).
	Join(id PlayerID, name string)
	// Leave removes a player.
	Leave(id PlayerID)
	// Start is called when the match goes from waiting to running.
	Start()
	// Step advances the world by one tick, applying inputs in order.
	Step(info StepInfo, inputs []Input)
	// AppendSnapshot appends the world's entities (sorted by id) and the
	// events of the last step.
	AppendSnapshot(ents []Entity, evs []Event) ([]Entity, []Event)
	// Over reports whether the game itself ended the match (e.g. a score
	// limit), and a short reason.
	Over() (bool, string)
	// Scores returns the results table, best first.
	Scores() []Score
}
