package replay

import (
	"errors"
	"fmt"
	"time"

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
	if err := game.ValidateTickRate(h.Rate); err != nil || h.ScoreLimit < 1 || h.ScoreLimit > game.MaxScoreLimit {
		return v, formatErr("header: rate %d or score limit %d no match has", h.Rate, h.ScoreLimit)
	}
	dt := time.Duration(int64(time.Second) / int64(h.Rate)) // a match's tick interval
	sim := game.NewResim(rules, h.Seed, h.Rate, h.ScoreLimit)
	seated := 0
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
		if bad == nil {
			bad = plausible(t.Snap.Trace, tick, dt, &seated)
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

// plausible refuses a trace no match could have given (a damaged or
// forged file), before it reaches the game: a step of another tick or
// interval, more seats than a match has, more inputs than its inbox.
func plausible(t *game.Trace, tick uint64, dt time.Duration, seated *int) error {
	if t.Stepped && (t.Info.Tick != tick || t.Info.Dt != dt) {
		return formatErr("tick %d: step of tick %d, interval %v", tick, t.Info.Tick, t.Info.Dt)
	}
	if len(t.Inputs) > maxTickInputs {
		return formatErr("tick %d: %d inputs", tick, len(t.Inputs))
	}
	for _, op := range t.Ops {
		if op.Leave {
			*seated--
		} else {
			*seated++
		}
		if *seated > game.MaxSeats {
			return formatErr("tick %d: more than %d players", tick, game.MaxSeats)
		}
	}
	return nil
}

// maxTickInputs bounds a tick's inputs in a file Verify accepts: far more
// than a match's inbox takes in a tick at its default bound (4096).
const maxTickInputs = 1 << 16

// VerifyFile opens the replay file at path and Verifies it with rules.
func VerifyFile(path string, rules game.Rules) (Verified, error) {
	r, err := Open(path)
	if err != nil {
		return Verified{}, err
	}
	defer r.Close()
	return Verify(r, rules)
}
