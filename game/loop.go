package game

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// Tick rate limits accepted for a match.
const (
	MinTickRate     = 10
	MaxTickRate     = 128
	DefaultTickRate = 30
)

// ErrTickRate is returned for a tick rate outside MinTickRate…MaxTickRate.
var ErrTickRate = fmt.Errorf("tick rate must be %d…%d Hz", MinTickRate, MaxTickRate)

// ValidateTickRate checks a tick rate in Hz.
func ValidateTickRate(hz int) error {
	if hz < MinTickRate || hz > MaxTickRate {
		return fmt.Errorf("%w, got %d", ErrTickRate, hz)
	}
	return nil
}

// Loop runs a step function on a fixed, drift-free schedule: slot k is due at
// start + k·dt, computed exactly from the start time (no accumulated error).
// A tick that starts more than LateAfter after its due time is counted late;
// when the loop is more than MaxBehind slots behind it skips to the current
// slot and counts the skipped slots instead of running them back to back.
type Loop struct {
	// Clock is the time source; nil means SystemClock.
	Clock Clock
	// Rate is the tick rate in Hz (MinTickRate…MaxTickRate).
	Rate int
	// MaxBehind is how many slots the loop may fall behind before it skips
	// ahead; zero means 3.
	MaxBehind int
	// LateAfter is how far past its due time a tick may start before it is
	// counted late; zero means half a tick interval.
	LateAfter time.Duration

	late    atomic.Uint64
	skipped atomic.Uint64
	ticks   atomic.Uint64
}

// LoopStats are the loop's counters.
type LoopStats struct {
	Ticks   uint64 // steps run
	Late    uint64 // steps that started more than LateAfter after their slot
	Skipped uint64 // slots skipped to catch up
}

// Stats returns the counters; safe to call concurrently with Run.
func (l *Loop) Stats() LoopStats {
	return LoopStats{Ticks: l.ticks.Load(), Late: l.late.Load(), Skipped: l.skipped.Load()}
}

// Interval returns the tick interval.
func (l *Loop) Interval() time.Duration { return time.Duration(int64(time.Second) / int64(l.Rate)) }

// due returns the due time of slot k, exact to the nanosecond.
func (l *Loop) due(start time.Time, k uint64) time.Time {
	return start.Add(time.Duration(int64(k) * int64(time.Second) / int64(l.Rate)))
}

// slot returns the slot that is current at now: the last k with
// due(start, k) ≤ now. due rounds k·1e9/rate down to the nanosecond, so
// due(k) ≤ ns ⟺ k·1e9 < (ns+1)·rate.
func (l *Loop) slot(start, now time.Time) uint64 {
	ns := int64(now.Sub(start))
	return uint64(((ns+1)*int64(l.Rate) - 1) / int64(time.Second))
}

// Run calls step once per slot until step returns false or ctx is done. The
// argument of step is the slot's due time. Run returns nil when step stopped
// it, ctx.Err() when cancelled.
func (l *Loop) Run(ctx context.Context, step func(due time.Time) bool) error {
	if err := ValidateTickRate(l.Rate); err != nil {
		return err
	}
	clock := l.Clock
	if clock == nil {
		clock = SystemClock{}
	}
	maxBehind := l.MaxBehind
	if maxBehind <= 0 {
		maxBehind = 3
	}
	dt := l.Interval()
	lateAfter := l.LateAfter
	if lateAfter <= 0 {
		lateAfter = dt / 2
	}
	start := clock.Now()
	var k uint64
	for {
		due := l.due(start, k)
		if err := clock.SleepUntil(ctx, due); err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			return fmt.Errorf("loop sleep: %w", err)
		}
		now := clock.Now()
		if lag := now.Sub(due); lag > time.Duration(maxBehind)*dt {
			// Far behind: jump to the slot that is current now.
			cur := l.slot(start, now)
			l.skipped.Add(cur - k)
			k = cur
			due = l.due(start, k)
		} else if lag > lateAfter {
			l.late.Add(1)
		}
		l.ticks.Add(1)
		if !step(due) {
			return nil
		}
		k++
	}
}
