package game

import (
	"context"
	"time"
)

// Clock is the time source of a Loop. Tests inject a manual clock; the
// server uses SystemClock.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// SleepUntil blocks until t or until ctx is done (then it returns
	// ctx.Err()). It returns at once when t is not in the future.
	SleepUntil(ctx context.Context, t time.Time) error
}

// SystemClock is the wall clock (monotonic readings).
type SystemClock struct{}

// Now implements Clock.
func (SystemClock) Now() time.Time { return time.Now() }

// SleepUntil implements Clock with one timer per call.
func (SystemClock) SleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
