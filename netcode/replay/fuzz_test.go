package replay

import (
	"bytes"
	"testing"

	"github.com/tickstream/tickstream/game"
)

// FuzzReplayReader: arbitrary bytes as a replay file never panic or hang:
// opening, scanning from the start and from a keyframe, loading and
// verifying each end in a result or an error. Seeds: small valid files
// with and without inputs, truncated and flipped variants.
func FuzzReplayReader(f *testing.F) {
	data := recordSeed(f, arenaMatch(31, 3, 10, 25), 10, 31)
	f.Add(data)
	f.Add(record(f, arenaMatch(32, 2, 10, 12), 10))
	for _, cut := range []int{fileHeadLen, fileHeadLen + 20, len(data) / 2, len(data) - tailLen, len(data) - 1} {
		f.Add(data[:cut])
	}
	for _, at := range []int{len(Magic), fileHeadLen + 7, len(data) / 3, len(data) - 5} {
		b := bytes.Clone(data)
		b[at] ^= 0x5a
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		n := 0
		_ = r.Scan(0, func(*Tick) bool { n++; return n < 100_000 })
		if len(r.Keyframes) > 0 {
			_ = r.Scan(r.Keyframes[len(r.Keyframes)-1].Tick, func(*Tick) bool { return true })
		}
		if r.Summary.LastTick-r.Summary.FirstTick < 100_000 { // Load sizes its ring from the summary
			_, _ = r.Load()
		}
		_, _ = Verify(r, game.NewArena())
	})
}
