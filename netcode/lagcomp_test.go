package netcode_test

import (
	"testing"
	"time"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode"
	"github.com/tickstream/tickstream/netcode/client"
	"github.com/tickstream/tickstream/netcode/wire"
)

// viewRules is the arena, telling the test the ViewTick of every input it
// steps (on the match goroutine; a full channel drops).
type viewRules struct {
	*game.Arena
	seen chan game.Input
}

func (r viewRules) Step(info game.StepInfo, inputs []game.Input) {
	for _, in := range inputs {
		select {
		case r.seen <- in:
		default:
		}
	}
	r.Arena.Step(info, inputs)
}

// TestInputViewReachesRules: the view of an input sent over a real
// WebSocket reaches the match's rules as Input.ViewTick: the one the
// client set, or the Go client's default, the newest tick it applied; a
// view over 2^53 closes the socket with 4002 (bad input).
func TestInputViewReachesRules(t *testing.T) {
	seen := make(chan game.Input, 64)
	ts := newTestServerDir(t, netcode.Config{}, game.DirectoryConfig{NewRules: func() game.Rules {
		return viewRules{Arena: game.NewArena(), seen: seen}
	}})
	ctx := testCtx(t, 20*time.Second)
	c, _ := ts.join(t, ctx, "viewer", "")
	s := nextSnap(t, ctx, c)
	if s.Tick < 2 {
		s = nextSnap(t, ctx, c)
	}
	wait := func(seq uint32) game.Input {
		t.Helper()
		for {
			select {
			case in := <-seen:
				if in.Seq == seq {
					return in
				}
			case <-ctx.Done():
				t.Fatalf("input %d never reached the rules", seq)
			}
		}
	}

	// An explicit view, older than the tick applied.
	seq, err := c.Input(ctx, wire.InputMsg{Buttons: game.ButtonFire, View: s.Tick - 1})
	if err != nil {
		t.Fatal(err)
	}
	if in := wait(seq); in.ViewTick != s.Tick-1 || in.Buttons != game.ButtonFire {
		t.Fatalf("rules got %+v, want view %d", in, s.Tick-1)
	}
	// The Go client's default: the newest tick applied when it was sent.
	applied := c.Applied()
	seq, err = c.Input(ctx, wire.InputMsg{MX: 1})
	if err != nil {
		t.Fatal(err)
	}
	if in := wait(seq); in.ViewTick != applied || applied == 0 {
		t.Fatalf("rules got %+v, want view %d (applied)", in, applied)
	}

	// Out of range: refused with 4002.
	bad, _ := ts.join(t, ctx, "liar", "")
	if err := bad.SendRaw(ctx, wire.AppendInput(nil, wire.InputMsg{Seq: 1, View: wire.MaxAckTick + 1})); err != nil {
		t.Fatal(err)
	}
	err = waitClose(ctx, bad)
	if code, reason := client.CloseCode(err), client.CloseReason(err); code != wire.CloseBadInput || reason != "bad input: view must be 0…2^53" {
		t.Fatalf("close %d %q (%v), want %d", code, reason, err, wire.CloseBadInput)
	}
}
