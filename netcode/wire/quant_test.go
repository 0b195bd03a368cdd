package wire

import (
	"math"
	"testing"

	"github.com/tickstream/tickstream/game"
)

func TestNewQuant(t *testing.T) {
	if q := NewQuant(game.Precision{}); q != (Quant{Pos: 1.0 / 16, AngleSteps: 4096}) {
		t.Fatalf("zero precision: %+v", q)
	}
	if q := NewQuant(game.Precision{Pos: 0.5, AngleSteps: 1024}); q != (Quant{Pos: 0.5, AngleSteps: 1024}) {
		t.Fatalf("arena precision: %+v", q)
	}
	if q := NewQuant(game.Precision{Pos: math.NaN(), AngleSteps: 2}); q != (Quant{Pos: 1.0 / 16, AngleSteps: 4096}) {
		t.Fatalf("invalid precision: %+v", q)
	}
}

func TestQuantPosition(t *testing.T) {
	q := Quant{Pos: 0.5, AngleSteps: 1024}
	cases := []struct {
		in   float32
		want int32
	}{
		{0, 0}, {0.24, 0}, {0.25, 1}, {-0.25, -1}, {0.26, 1}, {0.74, 1}, {0.75, 2}, {-0.75, -2},
		{1600, 3200}, {-3.25, -7}, {899.99, 1800}, {1.0e9, 2e9},
		{1.5e9, math.MaxInt32}, {-1.5e9, math.MinInt32}, {math.MaxFloat32, math.MaxInt32}, {-math.MaxFloat32, math.MinInt32},
		{float32(math.NaN()), 0}, {float32(math.Inf(1)), 0}, {float32(math.Inf(-1)), 0},
	}
	for _, c := range cases {
		r := q.Row(&game.Entity{X: c.in, Y: -c.in})
		wantY := c.want
		if c.want == math.MaxInt32 {
			wantY = math.MinInt32
		} else if c.want == math.MinInt32 {
			wantY = math.MaxInt32
		} else {
			wantY = -c.want
		}
		if r.F[FieldX] != c.want || r.F[FieldY] != wantY {
			t.Errorf("x=%v: row x=%d y=%d, want %d %d", c.in, r.F[FieldX], r.F[FieldY], c.want, wantY)
		}
	}
	// Dequantizing gives the nearest multiple of Pos.
	e := q.Entity(Row{ID: 9, F: [NumFields]int32{1, 3201, -7, 0, -5, math.MinInt32, 6}})
	if e.X != 1600.5 || e.Y != -3.5 || e.ID != 9 || e.Kind != 1 || e.HP != -5 || e.Score != math.MinInt32 || e.Flags != 6 {
		t.Fatalf("dequantized %+v", e)
	}
}

func TestQuantAngle(t *testing.T) {
	q := Quant{Pos: 0.5, AngleSteps: 1024}
	step := 2 * math.Pi / 1024
	cases := []struct {
		in   float64
		want int32
	}{
		{0, 0}, {math.Pi / 2, 256}, {-math.Pi / 2, -256},
		{math.Pi, -512}, {-math.Pi, -512}, // the half-open range [-512, 512)
		{3 * math.Pi, -512}, {-3 * math.Pi, -512}, {2 * math.Pi, 0}, {-2 * math.Pi, 0},
		{math.Pi - step, 511}, {-math.Pi + step, -511},
		{math.Pi - step/2 + 1e-6, -512}, // rounds to 512, wraps
		{step / 2, 1}, {-step / 2, -1},  // half away from zero
		{5 * math.Pi / 2, 256}, {1e6, 0}, // 1e6 rad: checked below by formula
		{math.NaN(), 0}, {math.Inf(1), 0}, {math.Inf(-1), 0},
	}
	for _, c := range cases {
		in := float32(c.in)
		got := q.Row(&game.Entity{Angle: in}).F[FieldAngle]
		want := c.want
		if c.in == 1e6 {
			a := math.Mod(math.Round(float64(in)/(2*math.Pi)*1024), 1024)
			if a >= 512 {
				a -= 1024
			}
			want = int32(a)
		}
		if got != want {
			t.Errorf("angle %v (float32 %v): %d, want %d", c.in, in, got, want)
		}
		if got < -512 || got >= 512 {
			t.Errorf("angle %v: %d out of [-512, 512)", c.in, got)
		}
	}
	// A quantized angle dequantizes within half a step, modulo a turn.
	for a := -10.0; a < 10; a += 0.01 {
		r := q.Row(&game.Entity{Angle: float32(a)})
		back := float64(q.Entity(r).Angle)
		if d := math.Remainder(back-float64(float32(a)), 2*math.Pi); math.Abs(d) > step/2+1e-6 {
			t.Fatalf("angle %v → %d → %v (off by %v)", a, r.F[FieldAngle], back, d)
		}
	}
	// An odd number of steps keeps the half-open range.
	q5 := Quant{Pos: 1, AngleSteps: 5}
	for a := -7.0; a < 7; a += 0.05 {
		if v := q5.Row(&game.Entity{Angle: float32(a)}).F[FieldAngle]; v < -2 || v > 2 {
			t.Fatalf("5 steps: angle %v → %d", a, v)
		}
	}
}

func TestQuantFields(t *testing.T) {
	q := NewQuant(game.Precision{})
	e := game.Entity{ID: math.MaxUint32, Kind: 255, X: 1, Y: -1, HP: math.MinInt16, Score: math.MaxInt32, Flags: 255}
	r := q.Row(&e)
	want := Row{ID: math.MaxUint32, F: [NumFields]int32{255, 16, -16, 0, math.MinInt16, math.MaxInt32, 255}}
	if r != want {
		t.Fatalf("row %+v, want %+v", r, want)
	}
	if back := q.Entity(r); back != e {
		t.Fatalf("entity %+v, want %+v", back, e)
	}
	rows := q.AppendRows([]Row{{ID: 1}}, []game.Entity{e, {ID: 3}})
	if len(rows) != 3 || rows[1] != want || rows[2].ID != 3 {
		t.Fatalf("AppendRows = %+v", rows)
	}
}
