package replay

import (
	"errors"
	"fmt"

	"github.com/tickstream/tickstream/game"
)

// ErrNotTraced: the file holds no inputs (recorded without them, or by
// format 1), so it cannot be re-simulated.
var ErrNotTraced = errors.New("replay: recorded without inputs: nothing to re-simulate")

// Mismatch is Verify's finding: the first tick whose re-simulated world
// differs from the recorded one.
type Mismatch struct {
	Tick                uint64
	Recorded, Simulated uint64 // the world checksums
}

func (m *Mismatch) Error() string {
	return fmt.Sprintf("replay: tick %d differs: recorded checksum %016x, re-simulated %016x", m.Tick, m.Recorded, m.Simulated)
}

// Verified is what Verify checked.
type Verified struct {
	Match               string
	FirstTick, LastTick uint64 // the ticks re-simulated and equal
	Ticks               int
	// Truncated: the file stops at a damaged or missing record (a crash);
	// the ticks before it were checked.
	Truncated bool
}

// Verify re-simulates the recorded match: rules (a fresh value of the
// game the match ran, e.g. game.NewArena()) gets the header's seed, rate
// and score limit, then each tick's recorded trace from the first tick,
// and each tick's world checksum is compared with the recorded one. It
// returns a *Mismatch for the first tick that differs, ErrNotTraced for a
// file without inputs, an ErrFormat error when a tick's inputs are
// missing, or a read error.
func Verify(r *Reader, rules game.Rules) (Verified, error) {
	h := r.Header
	v := Verified{Match: h.Match}
	if !h.Traced {
		return v, ErrNotTraced
	}
	sim := game.NewResim(rules, h.Seed, h.Rate, h.ScoreLimit)
	var bad error
	err := r.Scan(0, func(t *Tick) bool {
		tick := t.Snap.Tick
		switch {
		case t.Snap.Trace == nil:
			bad = formatErr("tick %d has no inputs record", tick)
		case v.Ticks == 0 && tick != 1:
			bad = formatErr("the recording starts at tick %d, not 1", tick)
		case v.Ticks > 0 && tick != v.LastTick+1:
			bad = formatErr("tick %d follows tick %d", tick, v.LastTick)
		}
		if bad != nil {
			return false
		}
		if got := sim.Tick(t.Snap.Trace); got != t.Checksum {
			bad = &Mismatch{Tick: tick, Recorded: t.Checksum, Simulated: got}
			return false
		}
		if v.Ticks == 0 {
			v.FirstTick = tick
		}
		v.LastTick = tick
		v.Ticks++
		return true
	})
	switch {
	case bad != nil:
		return v, bad
	case errors.Is(err, ErrTruncated):
		v.Truncated = true
	case err != nil:
		return v, err
	}
	if v.Ticks == 0 {
		return v, formatErr("no complete tick")
	}
	return v, nil
}

// VerifyFile opens the replay file at path and Verifies it with rules.
func VerifyFile(path string, rules game.Rules) (Verified, error) {
	r, err := Open(path)
	if err != nil {
		return Verified{}, err
	}
	defer r.Close()
	return Verify(r, rules)
}
