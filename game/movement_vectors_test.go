package game

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"testing"
)

var updateVectors = flag.Bool("update", false, "rewrite "+movementVectorsPath)

// movementVectorsPath is the movement rule's test vectors, shared with the
// browser client: its prediction (static/src/predict.ts) replays them in
// static/test/predict.test.ts and must land on the same positions. This is
// what keeps the two movement rules from drifting apart.
const movementVectorsPath = "../static/test/movement_vectors.json"

type movementVectors struct {
	Comment   string         `json:"comment"`
	Speed     float64        `json:"speed"`
	Radius    float64        `json:"radius"`
	W         float64        `json:"w"`
	H         float64        `json:"h"`
	Obstacles []Rect         `json:"obstacles"`
	Cases     []movementCase `json:"cases"`
}

type movementCase struct {
	Name  string         `json:"name"`
	Rate  int            `json:"rate"`
	Start [2]float64     `json:"start"`
	Ticks []movementTick `json:"ticks"`
}

// movementTick is one tick: the inputs the server applies in it (in
// order; none keeps the previous movement) and the position after it.
type movementTick struct {
	Inputs [][2]float64 `json:"inputs"`
	Pos    [2]float64   `json:"pos"`
}

// movementScript is a case before the Go rule has computed its positions.
type movementScript struct {
	name   string
	rate   int
	start  [2]float64
	inputs [][][2]float64 // per tick
}

func repeatTicks(n int, in ...[2]float64) [][][2]float64 {
	out := make([][][2]float64, n)
	if len(in) > 0 {
		out[0] = in
	}
	return out
}

func concatTicks(parts ...[][][2]float64) [][][2]float64 {
	var out [][][2]float64
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

var movementScripts = []movementScript{
	{"right then still", 30, [2]float64{200, 450}, concatTicks(repeatTicks(10, [2]float64{1, 0}), repeatTicks(5, [2]float64{0, 0}))},
	{"diagonal is normalised", 30, [2]float64{200, 450}, repeatTicks(12, [2]float64{1, 1})},
	{"short vector is not normalised", 60, [2]float64{200, 450}, repeatTicks(12, [2]float64{0.3, -0.4})},
	{"clamped at the left and top walls", 30, [2]float64{30, 30}, repeatTicks(8, [2]float64{-1, -1})},
	{"clamped at the right and bottom walls", 20, [2]float64{1570, 870}, repeatTicks(8, [2]float64{1, 1})},
	{"blocked by an obstacle, slides along it", 30, [2]float64{300, 140}, repeatTicks(30, [2]float64{1, 1})},
	{"into the centre obstacle from below", 128, [2]float64{800, 560}, repeatTicks(40, [2]float64{0.2, -1})},
	{"last input of a tick wins", 30, [2]float64{600, 300}, concatTicks(
		repeatTicks(3, [2]float64{1, 0}, [2]float64{0, 1}),
		repeatTicks(3, [2]float64{-1, 0}, [2]float64{0, 0}, [2]float64{0, -1}),
		repeatTicks(2),
	)},
	{"odd tick rate", 47, [2]float64{1000, 600}, repeatTicks(25, [2]float64{-0.7, 0.9})},
}

// runMovementScript computes the positions with the arena's rule, the way
// a match steps it.
func runMovementScript(sc movementScript) movementCase {
	a := NewArena()
	a.Init(1, sc.rate, 0)
	a.Join(1, "p")
	p := a.find(1)
	p.x, p.y = sc.start[0], sc.start[1]
	dt := (&Loop{Rate: sc.rate}).Interval()
	c := movementCase{Name: sc.name, Rate: sc.rate, Start: sc.start}
	for i, ins := range sc.inputs {
		inputs := make([]Input, 0, len(ins))
		for _, in := range ins {
			inputs = append(inputs, Input{Player: 1, MoveX: in[0], MoveY: in[1]})
		}
		a.Step(StepInfo{Tick: uint64(i + 1), Dt: dt}, inputs)
		if ins == nil {
			ins = [][2]float64{}
		}
		c.Ticks = append(c.Ticks, movementTick{Inputs: ins, Pos: [2]float64{p.x, p.y}})
	}
	return c
}

// TestMovementVectors checks the shared movement vectors against the
// arena's rule (-update rewrites them).
func TestMovementVectors(t *testing.T) {
	v := movementVectors{
		Comment: "Written by go test ./game -run TestMovementVectors -update from the arena's movement rule " +
			"(game/arena.go stepPlayer); replayed by the client's prediction in static/test/predict.test.ts.",
		Speed: PlayerSpeed, Radius: PlayerRadius, W: ArenaWidth, H: ArenaHeight, Obstacles: arenaObstacles,
	}
	for _, sc := range movementScripts {
		v.Cases = append(v.Cases, runMovementScript(sc))
	}
	want, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	if *updateVectors {
		if err := os.WriteFile(movementVectorsPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(movementVectorsPath)
	if err != nil {
		t.Fatalf("%v (go test ./game -run TestMovementVectors -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the arena's movement rule: run go test ./game -run TestMovementVectors -update if the change is intended, and check the client's prediction", movementVectorsPath)
	}
}
