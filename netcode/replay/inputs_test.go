package replay

import (
	"io"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode/wire"
)

// inputBits is an input with its floats as their bits (NaN compares).
type inputBits struct {
	Player, Seq, Epoch uint32
	MoveX, MoveY, Aim  uint64
	Buttons            uint8
	ViewTick           uint64
}

func bitsOf(in game.Input) inputBits {
	return inputBits{uint32(in.Player), in.Seq, in.Epoch, math.Float64bits(in.MoveX), math.Float64bits(in.MoveY), math.Float64bits(in.Aim), in.Buttons, in.ViewTick}
}

// randomInputTicks is ticks snapshots whose traces hold random inputs of
// several players (some ticks none, some players several a tick): mostly
// a player's previous input again (seq and view tick one on), else with
// some fields changed to awkward values (-0, NaN payloads, infinities,
// seq and view tick jumping back, wrapping, to 0).
func randomInputTicks(seed uint64, ticks int) []*game.Snapshot {
	rng := rand.New(rand.NewPCG(seed, 1))
	players := []game.PlayerID{1, 2, 7, 300, 1<<32 - 1}
	floats := []float64{0, math.Copysign(0, -1), 1, -1, 0.5, math.Pi, math.Inf(1), math.Inf(-1), math.NaN(),
		math.Float64frombits(0x7ff8_0000_dead_beef), math.SmallestNonzeroFloat64, math.MaxFloat64}
	float := func() float64 {
		if rng.IntN(2) == 0 {
			return floats[rng.IntN(len(floats))]
		}
		return rng.NormFloat64()
	}
	prev := map[game.PlayerID]game.Input{}
	start := time.UnixMilli(1_780_000_000_000)
	var out []*game.Snapshot
	for tick := 1; tick <= ticks; tick++ {
		tr := &game.Trace{Stepped: true, Info: game.StepInfo{Tick: uint64(tick), Dt: 100 * time.Millisecond}}
		for range rng.IntN(8) {
			p := players[rng.IntN(len(players))]
			in := prev[p]
			in.Player = p
			in.Seq++
			if in.ViewTick != 0 {
				in.ViewTick++
			}
			if rng.IntN(3) == 0 { // a change
				for range 1 + rng.IntN(3) {
					switch rng.IntN(7) {
					case 0:
						in.Seq = []uint32{0, 1, in.Seq - 5, in.Seq + 1000, 1<<32 - 1, rng.Uint32()}[rng.IntN(6)]
					case 1:
						in.MoveX = float()
					case 2:
						in.MoveY = float()
					case 3:
						in.Aim = float()
					case 4:
						in.Buttons = uint8(rng.IntN(256))
					case 5:
						in.Epoch = []uint32{0, 1, 1<<32 - 1, rng.Uint32()}[rng.IntN(4)]
					case 6:
						in.ViewTick = []uint64{0, uint64(tick) - 3, in.ViewTick - 2, 1 << 53, math.MaxUint64, rng.Uint64()}[rng.IntN(6)]
					}
				}
			}
			prev[p] = in
			tr.Inputs = append(tr.Inputs, in)
		}
		out = append(out, &game.Snapshot{Match: "m1", Tick: uint64(tick), Time: start.Add(time.Duration(tick) * 100 * time.Millisecond),
			State: game.StateRunning, Trace: tr})
	}
	return out
}

// The delta-coded inputs come back bit for bit: from the start, and from a
// keyframe in the middle (a segment's inputs decode on their own: a
// recorder that kept the previous inputs across segments fails here).
func TestReplayInputsDeltaRoundTrip(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		snaps := randomInputTicks(seed, 250)
		f := &memFile{}
		st := newTestStore(t, Config{Create: func(string) (io.WriteCloser, error) { return f, nil }, KeyframeEvery: 700 * time.Millisecond})
		r := st.StartTraced("m1", game.MatchConfig{TickRate: 10, Seed: 1, ScoreLimit: testScoreLimit}, testQuant)
		for _, s := range snaps {
			r.ch <- s
		}
		r.Close()
		st.wg.Wait()
		if r.Failure() != "" {
			t.Fatal(r.Failure())
		}
		data := f.bytes()
		rd := mustReader(t, data)
		if len(rd.Keyframes) < 30 {
			t.Fatalf("%d segments", len(rd.Keyframes))
		}
		for _, from := range []uint64{0, rd.Keyframes[len(rd.Keyframes)/2].Tick, rd.Keyframes[len(rd.Keyframes)/2].Tick + 3} {
			n := 0
			err := rd.Scan(from, func(tk *Tick) bool {
				want := snaps[tk.Snap.Tick-1].Trace
				got := tk.Snap.Trace
				if got == nil || len(got.Inputs) != len(want.Inputs) || got.Info != want.Info {
					t.Fatalf("seed %d from %d: tick %d trace %+v, want %+v", seed, from, tk.Snap.Tick, got, want)
				}
				for i := range want.Inputs {
					if bitsOf(got.Inputs[i]) != bitsOf(want.Inputs[i]) {
						t.Fatalf("seed %d from %d: tick %d input %d: %+v, want %+v", seed, from, tk.Snap.Tick, i, bitsOf(got.Inputs[i]), bitsOf(want.Inputs[i]))
					}
				}
				n++
				return true
			})
			if err != nil || n == 0 || (from == 0 && n != len(snaps)) {
				t.Fatalf("seed %d from %d: %d ticks, %v", seed, from, n, err)
			}
		}
	}
}

// An input equal to the player's previous one but for seq and view tick
// one on takes 2 bytes (player, empty mask); the first of a player is
// whole.
func TestReplayInputsDeltaSize(t *testing.T) {
	prev := inputPrev{}
	in := game.Input{Player: 3, Seq: 100, MoveX: 1, MoveY: -1, Aim: 1.2345678901, Buttons: 1, Epoch: 2, ViewTick: 500}
	first := appendDeltaInput(nil, &in, prev)
	if d := (dec{b: first[1:]}); d.uvarint("mask") != mAll {
		t.Fatalf("first input not whole: % x", first)
	}
	in.Seq++
	in.ViewTick++
	if b := appendDeltaInput(nil, &in, prev); len(b) != 2 {
		t.Fatalf("repeated input: % x", b)
	}
	in.Seq++
	in.ViewTick++
	in.Aim = -2
	b := appendDeltaInput(nil, &in, prev)
	got, err := parseDeltaInput(b, inputPrev{3: {Player: 3, Seq: 101, MoveX: 1, MoveY: -1, Aim: 1.2345678901, Buttons: 1, Epoch: 2, ViewTick: 501}})
	if err != nil || got != in || len(b) > 4 {
		t.Fatalf("aim changed: % x → %+v %v", b, got, err)
	}
}

// Loading for playback does not read the inputs: their blocks are skipped
// unread (fewer records counted), the ticks carry no trace.
func TestReplayPlaybackSkipsInputs(t *testing.T) {
	data := recordSeed(t, arenaMatch(25, 4, 10, 100), 10, 25)
	rd := mustReader(t, data)
	var all, play atomic.Int64
	rd.Records = &all
	n := 0
	if err := rd.Scan(0, func(tk *Tick) bool { n++; return tk.Snap.Trace != nil }); err != nil || n != 100 {
		t.Fatalf("scan: %d ticks, %v", n, err)
	}
	rd.Records = &play
	n = 0
	if err := rd.scanPlayback(func(tk *Tick) bool { n++; return tk.Snap.Trace == nil }); err != nil || n != 100 {
		t.Fatalf("playback: %d ticks, %v", n, err)
	}
	if play.Load()+100 > all.Load() { // at least one inputs record a tick was not read
		t.Fatalf("records read: playback %d, all %d", play.Load(), all.Load())
	}
	if _, err := rd.Load(); err != nil {
		t.Fatal(err)
	}
}

// A version 2 file (inputs records inside the segments, before their
// ticks, every input whole) still reads and verifies.
func TestReplayReadsVersion2(t *testing.T) {
	data := recordSeed(t, arenaMatch(26, 5, 20, 200), 20, 26)
	v3 := mustReader(t, data)
	var traces []*Tick
	if err := v3.Scan(0, func(tk *Tick) bool { traces = append(traces, tk); return true }); err != nil {
		t.Fatal(err)
	}
	b := append([]byte(Magic), 2, 0, 0, 0)
	b = append(b, data[fileHeadLen:v3.dataStart]...)
	var inner, seg []byte
	var z deflater
	for off := v3.dataStart; off < v3.dataEnd; {
		kind, payload, n, ok := parseRecord(data[off:])
		if !ok {
			t.Fatalf("record at %d", off)
		}
		off += int64(n)
		if kind == KindInputsBlock {
			continue
		}
		if inner, ok = inflate(inner, payload); !ok {
			t.Fatal("inflate")
		}
		seg = seg[:0]
		for p := inner; len(p) > 0; {
			k, pl, n, _ := parseRecord(p)
			p = p[n:]
			if k == KindKeyframe || k == KindDelta {
				tk := traces[tickOf(t, pl)-1]
				seg = appendRecord(seg, KindInputs, appendInputs(nil, 0, tk.Checksum, tk.Snap.Trace, nil))
			}
			seg = appendRecord(seg, k, pl)
		}
		b = appendRecord(b, KindSegment, z.compress(seg))
	}
	v2 := mustReader(t, b) // no index: rebuilt by a scan
	if v2.version != 2 || v2.Indexed || len(v2.Keyframes) != len(v3.Keyframes) {
		t.Fatalf("version 2: version %d indexed %v keys %d", v2.version, v2.Indexed, len(v2.Keyframes))
	}
	v, err := Verify(v2, game.NewArena())
	if err != nil || v.Ticks != 200 {
		t.Fatalf("verify version 2: %+v %v", v, err)
	}
}

// tickOf is the tick of a keyframe or delta record's payload.
func tickOf(t *testing.T, payload []byte) uint64 {
	t.Helper()
	var f wire.SnapFrame
	if err := wire.DecodeSnapHead(append(wire.AppendSnapPrefix(nil, 0), payload...), &f); err != nil {
		t.Fatal(err)
	}
	return f.Tick
}
