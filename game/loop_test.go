package game

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// gridDue is the due time of slot k computed independently of Loop: exactly
// start + k·1e9/rate nanoseconds (integer division, no accumulated error).
func gridDue(start time.Time, rate int, k int64) time.Time {
	return start.Add(time.Duration(k * int64(time.Second) / int64(rate)))
}

// tickRecord is one call of a Loop's step.
type tickRecord struct {
	slot    int64     // the slot whose due time step received
	due     time.Time // what step received
	started time.Time // the clock when step was entered
}

// runLoop runs l synchronously on an instant clock for exactly n steps.
// cost(i) is the time step number i (from 0) spends before returning. It
// checks that every due time lies exactly on the grid and returns the
// loop's start time and the steps seen.
func runLoop(t *testing.T, l *Loop, c *instantClock, n int, cost func(i int) time.Duration) (time.Time, []tickRecord) {
	t.Helper()
	l.Clock = c
	start := c.Now()
	recs := make([]tickRecord, 0, n)
	var offGrid error
	err := l.Run(context.Background(), func(due time.Time) bool {
		k := int64(due.Sub(start)) * int64(l.Rate) / int64(time.Second)
		if !gridDue(start, l.Rate, k).Equal(due) {
			k++ // due was rounded down to the nanosecond
		}
		if !gridDue(start, l.Rate, k).Equal(due) && offGrid == nil {
			offGrid = fmt.Errorf("due time start+%v is not on the grid", due.Sub(start))
		}
		recs = append(recs, tickRecord{slot: k, due: due, started: c.Now()})
		if cost != nil {
			c.advance(cost(len(recs) - 1))
		}
		return len(recs) < n
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if offGrid != nil {
		t.Fatal(offGrid)
	}
	if len(recs) != n {
		t.Fatalf("step ran %d times, want %d", len(recs), n)
	}
	return start, recs
}

func TestLoopNoDrift(t *testing.T) {
	const (
		rate  = 30
		ticks = 100_000
	)
	rng := rand.New(rand.NewPCG(7, 11))
	var spent time.Duration // overshoot + step cost summed over the run
	c := newInstantClock(func() time.Duration {
		d := time.Duration(rng.Int64N(int64(5*time.Millisecond) + 1))
		spent += d
		return d
	})
	l := &Loop{Rate: rate}
	dt := l.Interval()
	start, recs := runLoop(t, l, c, ticks, func(int) time.Duration {
		d := time.Duration(rng.Int64N(int64(10*time.Millisecond) + 1))
		spent += d
		return d
	})

	// An implementation that slept dt after each step, or that added a
	// rounded dt to the previous due time, would be off by far more than
	// one interval after this much overshoot and step cost.
	if spent < 1000*dt {
		t.Fatalf("the run spent only %v in overshoot and steps: the test would not see drift", spent)
	}
	for i, r := range recs {
		if r.slot != int64(i) {
			t.Fatalf("step %d got slot %d, want %d", i, r.slot, i)
		}
		if want := gridDue(start, rate, int64(i)); !r.due.Equal(want) {
			t.Fatalf("step %d: due %v, want exactly start+%v", i, r.due.Sub(start), want.Sub(start))
		}
		// Step cost (≤10 ms) plus overshoot (≤5 ms) is below dt, so every
		// tick starts within the overshoot of its slot.
		if lag := r.started.Sub(r.due); lag < 0 || lag > 5*time.Millisecond {
			t.Fatalf("step %d started %v after its due time", i, lag)
		}
	}
	// Tick n (from 1) is slot n−1: the 100000th tick starts within one
	// interval of start + 99999·1e9/30 ns.
	last := recs[ticks-1]
	nominal := start.Add(time.Duration(int64(ticks-1) * int64(time.Second) / rate))
	if off := last.started.Sub(nominal); off < 0 || off >= dt {
		t.Fatalf("tick %d started %v after its nominal time, want within %v", ticks, off, dt)
	}
	if got, want := l.Stats(), (LoopStats{Ticks: ticks}); got != want {
		t.Fatalf("stats = %+v, want %+v", got, want)
	}
}

// TestLoopLateAndSkip stalls one step and checks the documented rule: a
// tick that starts more than LateAfter (default dt/2) after its due time is
// late; when the loop is more than MaxBehind (default 3) slots behind, it
// jumps to the slot that is current now (the last slot whose due time has
// passed) and counts the slots it jumped over, which never run.
func TestLoopLateAndSkip(t *testing.T) {
	type stall struct {
		dts    float64 // the slow step takes this many intervals, or
		toSlot int64   // it ends exactly at this slot's due time
	}
	cases := []struct {
		name      string
		rate      int
		maxBehind int
		lateAfter time.Duration
		slow      int64 // the slot whose step stalls
		stall     stall
		wantLate  uint64
		wantSkip  uint64
		wantNext  []int64 // the slots run right after the slow one
	}{{
		// Slot 11 starts 0.6·dt late (> dt/2): late once; slot 12 is due
		// at 2·dt after slot 10 and starts on time.
		name: "1.6dt once is late once", rate: 30, slow: 10, stall: stall{dts: 1.6},
		wantLate: 1, wantNext: []int64{11, 12, 13},
	}, {
		// A stall below dt/2 past the next slot is not late.
		name: "1.2dt once is on time by default", rate: 30, slow: 10, stall: stall{dts: 1.2},
		wantLate: 0, wantNext: []int64{11, 12},
	}, {
		name: "LateAfter is configurable", rate: 30, lateAfter: time.Second / 30 / 10, slow: 10, stall: stall{dts: 1.2},
		wantLate: 1, wantNext: []int64{11, 12},
	}, {
		// Slots 11, 12, 13 start 2.6, 1.6 and 0.6 intervals late: still
		// within MaxBehind, so they run back to back, each counted late.
		name: "3.6dt catches up back to back", rate: 30, slow: 10, stall: stall{dts: 3.6},
		wantLate: 3, wantNext: []int64{11, 12, 13, 14},
	}, {
		// Slot 11 would start 3.6 intervals late (> MaxBehind=3): the
		// loop wakes 4.6·dt after slot 10, jumps to slot 14 and skips 11,
		// 12 and 13.
		name: "4.6dt skips three", rate: 30, slow: 10, stall: stall{dts: 4.6},
		wantSkip: 3, wantNext: []int64{14, 15},
	}, {
		// The slow step ends exactly at slot 14's due time (10 intervals
		// on the grid). Slot 5 would be 9 slots late: jump to slot 14, the
		// current one; slots 5…13 are skipped: Skipped = 14 − 5 = 9.
		// 14·1e9/30 is not a whole number of nanoseconds, so this case
		// also checks that "current slot" rounds the same way as due.
		name: "10dt skips nine", rate: 30, slow: 4, stall: stall{toSlot: 14},
		wantSkip: 9, wantNext: []int64{14, 15, 16},
	}, {
		name: "10dt skips nine on a whole-nanosecond slot", rate: 30, slow: 5, stall: stall{toSlot: 15},
		wantSkip: 9, wantNext: []int64{15, 16},
	}, {
		name: "10dt skips nine at 128 Hz", rate: 128, slow: 3, stall: stall{toSlot: 13},
		wantSkip: 9, wantNext: []int64{13, 14},
	}, {
		// With MaxBehind = 20 the same stall is caught up: slots 5…13 run
		// late (9 … 1 intervals), slot 14 is on time.
		name: "MaxBehind 20 catches up 10dt", rate: 30, maxBehind: 20, slow: 4, stall: stall{toSlot: 14},
		wantLate: 9, wantNext: []int64{5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
	}, {
		// MaxBehind = 1: slot 11 would be 1.6 intervals late: jump to 12.
		name: "MaxBehind 1 skips early", rate: 30, maxBehind: 1, slow: 10, stall: stall{dts: 2.6},
		wantSkip: 1, wantNext: []int64{12, 13},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			const n = 40
			l := &Loop{Rate: tc.rate, MaxBehind: tc.maxBehind, LateAfter: tc.lateAfter}
			c := newInstantClock(nil)
			start := c.Now()
			stallFor := time.Duration(tc.stall.dts * float64(l.Interval()))
			if tc.stall.toSlot > 0 {
				stallFor = gridDue(start, tc.rate, tc.stall.toSlot).Sub(gridDue(start, tc.rate, tc.slow))
			}
			_, recs := runLoop(t, l, c, n, func(i int) time.Duration {
				if i == int(tc.slow) {
					return stallFor
				}
				return 0
			})

			if got, want := l.Stats(), (LoopStats{Ticks: n, Late: tc.wantLate, Skipped: tc.wantSkip}); got != want {
				t.Errorf("stats = %+v, want %+v", got, want)
			}
			// Slots up to the slow one ran in order, then wantNext, then
			// one slot after another, each on time.
			want := make([]int64, 0, n)
			for k := int64(0); k <= tc.slow; k++ {
				want = append(want, k)
			}
			want = append(want, tc.wantNext...)
			for len(want) < n {
				want = append(want, want[len(want)-1]+1)
			}
			for i, r := range recs {
				if r.slot != want[i] {
					t.Fatalf("step %d ran slot %d, want %d (slots %v…)", i, r.slot, want[i], slotsOf(recs[tc.slow:min(len(recs), int(tc.slow)+len(tc.wantNext)+2)]))
				}
			}
			for _, r := range recs[int(tc.slow)+len(tc.wantNext):] {
				if !r.started.Equal(r.due) {
					t.Errorf("slot %d started %v after its due time; want back on schedule", r.slot, r.started.Sub(r.due))
				}
			}
		})
	}
}

func slotsOf(recs []tickRecord) []int64 {
	out := make([]int64, len(recs))
	for i, r := range recs {
		out[i] = r.slot
	}
	return out
}

// TestLoopSlot checks that the slot the loop jumps to is the current one:
// the last slot whose due time is not after now, including exactly at a
// due time that is not a whole number of nanoseconds.
func TestLoopSlot(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, rate := range []int{MinTickRate, 24, 30, 60, 64, 90, MaxTickRate} {
		l := &Loop{Rate: rate}
		for i := 0; i < 20_000; i++ {
			var now time.Time
			if i%2 == 0 {
				now = gridDue(clockEpoch, rate, rng.Int64N(1_000_000)) // exactly on a slot
			} else {
				now = clockEpoch.Add(time.Duration(rng.Int64N(int64(10 * time.Hour))))
			}
			k := l.slot(clockEpoch, now)
			if d := l.due(clockEpoch, k); d.After(now) {
				t.Fatalf("rate %d: slot(%v) = %d, due %v is after now", rate, now.Sub(clockEpoch), k, d.Sub(clockEpoch))
			}
			if d := l.due(clockEpoch, k+1); !d.After(now) {
				t.Fatalf("rate %d: slot(%v) = %d, but slot %d is already due", rate, now.Sub(clockEpoch), k, k+1)
			}
		}
	}
}

func TestLoopStopsWhenStepReturnsFalse(t *testing.T) {
	l := &Loop{Rate: 30}
	_, recs := runLoop(t, l, newInstantClock(nil), 3, nil)
	if got := slotsOf(recs); len(got) != 3 || got[2] != 2 {
		t.Fatalf("slots %v, want [0 1 2]", got)
	}
}

func TestLoopCancel(t *testing.T) {
	t.Run("from a step", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		l := &Loop{Rate: 30, Clock: newInstantClock(nil)}
		n := 0
		err := l.Run(ctx, func(time.Time) bool {
			n++
			if n == 5 {
				cancel()
			}
			return true
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v, want context.Canceled", err)
		}
		if got := l.Stats().Ticks; got != 5 || n != 5 {
			t.Fatalf("ticks = %d, steps = %d, want 5", got, n)
		}
	})
	t.Run("while sleeping", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		c := newManualClock()
		l := &Loop{Rate: 30, Clock: c}
		done := make(chan error, 1)
		go func() { done <- l.Run(ctx, func(time.Time) bool { return true }) }()
		for i := 0; i < 3; i++ {
			c.grant()
		}
		c.waitSleepers(1) // the third step is over, the loop waits for slot 3
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v, want context.Canceled", err)
		}
		if got := l.Stats().Ticks; got != 3 {
			t.Fatalf("ticks = %d, want 3", got)
		}
	})
}

func TestValidateTickRate(t *testing.T) {
	for _, tc := range []struct {
		hz int
		ok bool
	}{{-1, false}, {0, false}, {9, false}, {10, true}, {30, true}, {128, true}, {129, false}, {1000, false}} {
		err := ValidateTickRate(tc.hz)
		if tc.ok && err != nil {
			t.Errorf("ValidateTickRate(%d) = %v, want nil", tc.hz, err)
		}
		if !tc.ok && !errors.Is(err, ErrTickRate) {
			t.Errorf("ValidateTickRate(%d) = %v, want ErrTickRate", tc.hz, err)
		}
	}
}

func TestLoopRunRejectsBadRate(t *testing.T) {
	for _, rate := range []int{0, 9, 129} {
		l := &Loop{Rate: rate, Clock: newInstantClock(nil)}
		err := l.Run(context.Background(), func(time.Time) bool {
			t.Fatalf("rate %d: step called", rate)
			return false
		})
		if !errors.Is(err, ErrTickRate) {
			t.Errorf("Run with rate %d = %v, want ErrTickRate", rate, err)
		}
	}
}

// TestTicksOf checks the duration → tick count rounding used for cooldowns,
// time limits and timeouts: the smallest whole number of ticks that lasts
// at least d, with no floating-point error.
func TestTicksOf(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		rate int
		want uint64
	}{
		{0, 30, 0},
		{time.Nanosecond, 30, 1},
		{FireCooldown, 30, 8},    // 7.5 ticks → 8
		{FireCooldown, 128, 32},  // exactly 32
		{ProjectileLife, 30, 36}, // 1.2 s · 30 = 36, not 37
		{RespawnDelay, 30, 60},   // 2 s
		{100 * time.Millisecond, 30, 3},
		{8300 * time.Millisecond, 30, 249}, // 8.3·30 is a little over 249 in float64
		{16100 * time.Millisecond, 30, 483},
		{10 * time.Second, 10, 100},
		{time.Hour, MaxTickRate, 460_800},
	} {
		if got := ticksOf(tc.d, tc.rate); got != tc.want {
			t.Errorf("ticksOf(%v, %d) = %d, want %d", tc.d, tc.rate, got, tc.want)
		}
	}
}
