package netcode

import (
	"errors"
	"testing"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode/stream"
)

// Two resumes of one seat reach the hub in the opposite order to the one
// the match applied them in: the session with the newer epoch keeps the
// seat and the older one is refused, instead of replacing it (which closed
// the client's live connection with 4011 while the dead one kept the seat).
func TestAttachKeepsTheNewerEpoch(t *testing.T) {
	st := stream.New(stream.Config{Rate: 20})
	h := &hub{st: st}
	h.subs.Store(&[]*session{})
	sess := func(epoch uint32) *session {
		return &session{player: 1, epoch: epoch, reliable: make(chan []byte, 4), view: st.NewPlayer(1, 1, 0)}
	}
	newer, older := sess(3), sess(2)
	if err := h.attach(newer, game.JoinResult{Player: 1, Epoch: 3}, "t3", true); err != nil {
		t.Fatal(err)
	}
	if err := h.attach(older, game.JoinResult{Player: 1, Epoch: 2}, "t2", true); !errors.Is(err, errReplaced) {
		t.Fatalf("attach of the older epoch: %v, want errReplaced", err)
	}
	if subs := *h.subs.Load(); len(subs) != 1 || subs[0] != newer {
		t.Fatalf("subscribers after the stale attach: %d, want only the newer session", len(subs))
	}
	if newer.reason() != "" {
		t.Fatalf("the newer session was closed: %q", newer.reason())
	}
}
