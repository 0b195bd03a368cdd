package game

import (
	"context"
	"sync"
	"testing"
	"time"
)

// Test clocks. Both start at clockEpoch and never read the wall clock.
//
//   - manualClock: every SleepUntil call blocks until the test grants a
//     permit (or ctx is done), so one grant is exactly one tick of a Loop.
//     It also counts the goroutines parked in SleepUntil, which lets a test
//     wait until a match goroutine has finished its step completely.
//   - instantClock: SleepUntil returns at once, so Loop.Run can run
//     synchronously in the test goroutine.
//
// Both set now = max(now, t) + overshoot() when SleepUntil returns, and
// advance(d) simulates time passing, e.g. the cost of a step.

var clockEpoch = time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

// fakeNow is the shared time keeping of the test clocks.
type fakeNow struct {
	mu        sync.Mutex
	now       time.Time
	overshoot func() time.Duration // nil means none; called with mu held
}

func (c *fakeNow) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// advance moves the clock forward by d (time spent inside a step).
func (c *fakeNow) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// wake is what a SleepUntil does when it returns: the sleep ends at t at
// the earliest, plus the overshoot.
func (c *fakeNow) wakeLocked(t time.Time) {
	if t.After(c.now) {
		c.now = t
	}
	if c.overshoot != nil {
		c.now = c.now.Add(c.overshoot())
	}
}

// manualClock blocks every SleepUntil until the test grants a permit. A
// grant releases every goroutine parked at that moment exactly once: each
// sleeper waits on the channel that was current when it parked, and grant
// closes that channel and puts a fresh one in its place. With one match
// this is one tick per grant; with many, one tick of each, whatever the
// scheduler does.
type manualClock struct {
	fakeNow
	cond     *sync.Cond    // signalled when sleepers changes; uses fakeNow.mu
	release  chan struct{} // closed by the next grant
	sleepers int           // goroutines parked on release
}

func newManualClock() *manualClock {
	c := &manualClock{release: make(chan struct{})}
	c.now = clockEpoch
	c.cond = sync.NewCond(&c.mu)
	return c
}

// SleepUntil implements Clock: it waits for a grant, whatever t is.
func (c *manualClock) SleepUntil(ctx context.Context, t time.Time) error {
	c.mu.Lock()
	release := c.release
	c.sleepers++
	c.cond.Broadcast()
	c.mu.Unlock()

	select {
	case <-release:
		c.mu.Lock()
		c.wakeLocked(t)
		c.mu.Unlock()
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		if release == c.release { // not granted meanwhile: still counted
			c.sleepers--
			c.cond.Broadcast()
		}
		c.mu.Unlock()
		return ctx.Err()
	}
}

// grant waits until at least one goroutine is parked in SleepUntil, then
// releases every parked goroutine.
func (c *manualClock) grant() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.sleepers == 0 {
		c.cond.Wait()
	}
	close(c.release)
	c.release = make(chan struct{})
	c.sleepers = 0
	c.cond.Broadcast()
}

// waitSleepers blocks until exactly n goroutines are parked in SleepUntil.
// A match goroutine parks there only after its step returned, so this is
// the point where everything a tick did (Info, Stats, replies) is visible.
func (c *manualClock) waitSleepers(n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.sleepers != n {
		c.cond.Wait()
	}
}

// instantClock never blocks.
type instantClock struct{ fakeNow }

func newInstantClock(overshoot func() time.Duration) *instantClock {
	c := &instantClock{}
	c.now = clockEpoch
	c.overshoot = overshoot
	return c
}

// SleepUntil implements Clock: now = max(now, t) + overshoot, at once.
func (c *instantClock) SleepUntil(ctx context.Context, t time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.wakeLocked(t)
	c.mu.Unlock()
	return nil
}

var (
	_ Clock = (*manualClock)(nil)
	_ Clock = (*instantClock)(nil)
)

// The test clocks themselves must behave as documented, or every test built
// on them proves nothing.
func TestManualClock(t *testing.T) {
	c := newManualClock()
	c.overshoot = func() time.Duration { return 3 * time.Millisecond }
	ctx := context.Background()

	woke := make(chan error, 1)
	go func() { woke <- c.SleepUntil(ctx, clockEpoch.Add(time.Second)) }()
	c.waitSleepers(1)
	select {
	case err := <-woke:
		t.Fatalf("SleepUntil returned %v without a permit", err)
	default:
	}
	if got := c.Now(); !got.Equal(clockEpoch) {
		t.Fatalf("now moved while sleeping: %v", got)
	}
	c.grant()
	if err := <-woke; err != nil {
		t.Fatal(err)
	}
	if got, want := c.Now(), clockEpoch.Add(time.Second+3*time.Millisecond); !got.Equal(want) {
		t.Fatalf("after a permit: now = %v, want %v", got, want)
	}

	// A target in the past still needs a permit, and only the overshoot
	// moves the clock.
	c.advance(time.Minute)
	before := c.Now()
	go func() { woke <- c.SleepUntil(ctx, clockEpoch) }()
	c.grant()
	if err := <-woke; err != nil {
		t.Fatal(err)
	}
	if got, want := c.Now(), before.Add(3*time.Millisecond); !got.Equal(want) {
		t.Fatalf("past target: now = %v, want %v", got, want)
	}

	// Cancellation releases a sleeper without a permit and without moving
	// the clock.
	cctx, cancel := context.WithCancel(ctx)
	go func() { woke <- c.SleepUntil(cctx, clockEpoch.Add(time.Hour)) }()
	c.waitSleepers(1)
	cancel()
	if err := <-woke; err != context.Canceled {
		t.Fatalf("cancelled sleep: err = %v", err)
	}
	c.waitSleepers(0)
	if got, want := c.Now(), before.Add(3*time.Millisecond); !got.Equal(want) {
		t.Fatalf("cancelled sleep moved the clock to %v", got)
	}
}

func TestInstantClock(t *testing.T) {
	c := newInstantClock(func() time.Duration { return time.Millisecond })
	if err := c.SleepUntil(context.Background(), clockEpoch.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if got, want := c.Now(), clockEpoch.Add(time.Second+time.Millisecond); !got.Equal(want) {
		t.Fatalf("now = %v, want %v", got, want)
	}
	c.advance(time.Second)
	if err := c.SleepUntil(context.Background(), clockEpoch); err != nil {
		t.Fatal(err)
	}
	if got, want := c.Now(), clockEpoch.Add(2*time.Second+2*time.Millisecond); !got.Equal(want) {
		t.Fatalf("past target: now = %v, want %v", got, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.SleepUntil(ctx, clockEpoch.Add(time.Hour)); err != context.Canceled {
		t.Fatalf("cancelled: err = %v", err)
	}
}
