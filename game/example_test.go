package game_test

import (
	"context"
	"fmt"
	"slices"

	"github.com/tickstream/tickstream/game"
)

// tally is about the smallest game there is: every press of fire scores a
// point, and the first player to the score limit wins. It implements
// game.Rules; a match calls it from its own goroutine only, so it needs no
// locks, and it is deterministic (slices, not maps).
type tally struct {
	limit   int
	players []tallyPlayer // sorted by id
	events  []game.Event
}

type tallyPlayer struct {
	id     game.PlayerID
	name   string
	points int
}

const eventPoint uint8 = 1

func (t *tally) Init(seed uint64, rate, scoreLimit int) { *t = tally{limit: scoreLimit} }
func (t *tally) Layout() game.Layout                    { return game.Layout{W: 100, H: 100} }
func (t *tally) Join(id game.PlayerID, name string) {
	t.players = append(t.players, tallyPlayer{id: id, name: name}) // ids only grow
}
func (t *tally) Leave(id game.PlayerID) {
	t.players = slices.DeleteFunc(t.players, func(p tallyPlayer) bool { return p.id == id })
}
func (t *tally) Start() {
	for i := range t.players {
		t.players[i].points = 0
	}
}

func (t *tally) Step(info game.StepInfo, inputs []game.Input) {
	t.events = t.events[:0]
	for _, in := range inputs {
		i := slices.IndexFunc(t.players, func(p tallyPlayer) bool { return p.id == in.Player })
		if i < 0 || in.Buttons&game.ButtonFire == 0 || !info.Scoring {
			continue
		}
		t.players[i].points++
		t.events = append(t.events, game.Event{Kind: eventPoint, A: uint32(in.Player)})
	}
}

func (t *tally) AppendSnapshot(ents []game.Entity, evs []game.Event) ([]game.Entity, []game.Event) {
	for _, p := range t.players {
		ents = append(ents, game.Entity{ID: uint32(p.id), Kind: game.KindPlayer, Score: int32(p.points)})
	}
	return ents, append(evs, t.events...)
}

func (t *tally) Over() (bool, string) {
	for _, p := range t.players {
		if p.points >= t.limit {
			return true, "score"
		}
	}
	return false, ""
}

func (t *tally) Scores() []game.Score {
	out := make([]game.Score, 0, len(t.players))
	for _, p := range t.players {
		out = append(out, game.Score{Player: p.id, Name: p.name, Kills: p.points})
	}
	slices.SortStableFunc(out, func(a, b game.Score) int { return b.Kills - a.Kills })
	return out
}

// resultPublisher passes on how a match ended and drops everything else.
// Publish must never block the match: the send is non-blocking.
type resultPublisher chan *game.Result

func (p resultPublisher) Publish(s *game.Snapshot) {
	if s.End != nil {
		select {
		case p <- s.End:
		default:
		}
	}
}
func (p resultPublisher) Close() {}

// A game developer plugs a game into a Directory through NewRules; the
// directory runs each match (here on the system clock) and the publisher
// receives every snapshot.
func Example_customRules() {
	results := make(resultPublisher, 1)
	dir, err := game.NewDirectory(game.DirectoryConfig{
		Defaults:     game.MatchConfig{MinPlayers: 1, ScoreLimit: 3},
		NewRules:     func() game.Rules { return &tally{} },
		NewPublisher: func(string, game.MatchConfig, game.Layout) game.Publisher { return results },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer dir.Close()

	// Join-or-create: there is no match yet, so the directory makes one.
	m, seat, err := dir.Join(context.Background(), "", "ada")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("ada is player %d in a %d Hz match on a %vx%v board\n",
		seat.Player, seat.TickRate, seat.Layout.W, seat.Layout.H)

	for seq := uint32(1); seq <= 3; seq++ {
		m.Input(game.Input{Player: seat.Player, Seq: seq, Buttons: game.ButtonFire})
	}
	r := <-results
	fmt.Printf("match over (%s): player %d wins with %d points\n", r.Reason, r.Winner, r.Scores[0].Kills)
	// Output:
	// ada is player 1 in a 30 Hz match on a 100x100 board
	// match over (score): player 1 wins with 3 points
}
