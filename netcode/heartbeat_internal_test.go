package netcode

import (
	"testing"
	"time"
)

// A raw-path link's due ping waits for the next snapshot (the writer
// pool writes both at once) and is kicked to go alone only when none took
// it within foldWait; a client that is behind gets no snapshot, so its
// ping is kicked at once; a link without onWake has its writer waiting
// on pingDue, which is signalled at the due time.
func TestPingFoldWaitsForASnapshot(t *testing.T) {
	hb := HeartbeatConfig{Interval: time.Second}.withDefaults()
	start := time.Unix(1000, 0)
	newLink := func(fold bool) (*link, *int) {
		l := &link{}
		l.init(start, hb, nil)
		kicks := 0
		if fold { // a raw-path session: onWake kicks the writer pool
			l.onWake = func() { kicks++ }
		}
		return l, &kicks
	}
	scanAt := func(l *link, at int64) { l.lastIn.Store(at); l.scan(at, time.Hour) }

	l, kicks := newLink(true)
	due := l.nextPing
	scanAt(l, due)
	if len(l.pingDue) != 1 || *kicks != 0 {
		t.Fatalf("at the due time: pingDue %d, kicks %d; want the ping due and no kick", len(l.pingDue), *kicks)
	}
	scanAt(l, due+int64(hb.foldWait())-1)
	if *kicks != 0 {
		t.Fatalf("kicked before foldWait (%v)", hb.foldWait())
	}
	scanAt(l, due+int64(hb.foldWait()))
	if *kicks != 1 {
		t.Fatalf("kicks after foldWait: %d, want 1", *kicks)
	}

	// Taken with a snapshot in time: never kicked.
	l, kicks = newLink(true)
	due = l.nextPing
	scanAt(l, due)
	<-l.pingDue
	scanAt(l, due+int64(hb.foldWait()))
	if *kicks != 0 {
		t.Fatalf("a ping taken with a snapshot was kicked %d times", *kicks)
	}

	l, kicks = newLink(true)
	l.pingSent(1, start) // unanswered past behind-after: the client is behind
	l.nextPing = start.Add(hb.BehindAfter + time.Second).UnixNano()
	scanAt(l, l.nextPing)
	if !l.behind.Load() {
		t.Fatal("the link is not behind")
	}
	if *kicks != 1 {
		t.Fatalf("behind: kicks %d at the due time, want 1", *kicks)
	}

	// Without onWake (a goroutine waits on pingDue): signalled at once.
	l, kicks = newLink(false)
	scanAt(l, l.nextPing)
	if *kicks != 0 || len(l.pingDue) != 1 {
		t.Fatalf("no fold: kicks %d, pingDue %d at the due time, want 0 and 1", *kicks, len(l.pingDue))
	}
}
