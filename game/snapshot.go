package game

import (
	"slices"
	"time"
)

// State is a match's lifecycle state: Waiting → Running → Ended → Closed.
// An empty match may also go from Waiting or Running to Closed.
type State uint8

const (
	StateWaiting State = iota
	StateRunning
	StateEnded
	StateClosed
)

var stateNames = [...]string{"waiting", "running", "ended", "closed"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "unknown"
}

// PlayerInfo is one line of a roster.
type PlayerInfo struct {
	ID   PlayerID
	Name string
}

// Ack is the last input sequence applied for a player.
type Ack struct {
	Player PlayerID
	Seq    uint32
}

// Result is how a match ended.
type Result struct {
	Reason string // "time", "score" or "closed"
	Winner PlayerID
	Scores []Score
}

// Snapshot is the state of a match after a tick. It is immutable once
// published: publishers may keep it and share it between goroutines.
type Snapshot struct {
	Match    string
	Tick     uint64
	Time     time.Time
	State    State
	Left     time.Duration // before the time limit; 0 unless running
	Entities []Entity      // sorted by id
	Events   []Event
	Acks     []Ack        // sorted by player
	Roster   []PlayerInfo // non-nil only on a tick where the roster changed
	End      *Result      // non-nil only on the tick the match ended
	// Trace is what the tick's simulation was given; non-nil only when the
	// publisher asks for it (Tracer).
	Trace *Trace
}

// AckFor returns the last input sequence applied for player p.
func (s *Snapshot) AckFor(p PlayerID) uint32 {
	i, ok := slices.BinarySearchFunc(s.Acks, p, func(a Ack, p PlayerID) int { return int(a.Player) - int(p) })
	if !ok {
		return 0
	}
	return s.Acks[i].Seq
}

// Publisher receives a match's snapshots. Publish is called from the match
// goroutine once per tick and must not block; Close is called once after
// the last snapshot.
type Publisher interface {
	Publish(s *Snapshot)
	Close()
}

type discardPublisher struct{}

func (discardPublisher) Publish(*Snapshot) {}
func (discardPublisher) Close()            {}
