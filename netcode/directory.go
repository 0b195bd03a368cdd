package netcode

import (
	"context"

	"github.com/tickstream/tickstream/game"
)

// Directory is what the server needs from the match directory: the methods
// it calls and nothing more. game.Directory (in-memory, one process)
// implements it; a directory spread over nodes may replace it later.
//
// The interface lives here, with its only consumer, so that game does not
// have to know what netcode calls, and an implementation need not import
// netcode. Its methods may be called concurrently.
type Directory interface {
	// Join seats a player in the match matchID, or, with an empty
	// matchID, in an open match or a new one.
	Join(ctx context.Context, matchID, name string) (*game.Match, game.JoinResult, error)
	// Get returns a live match, or nil.
	Get(id string) *game.Match
	// List returns every live match, oldest first.
	List() []game.MatchInfo
	// Create starts a new match; zero fields of cfg take the directory's
	// defaults.
	Create(cfg game.MatchConfig) (*game.Match, error)
	// Close stops every match (each publishes its final snapshot) and
	// waits for them. Server.Shutdown calls it.
	Close()
}

var _ Directory = (*game.Directory)(nil)

// NewPublisher is the server's publisher hook: the directory must call it
// once per created match, on creation, and hand snapshots to the returned
// publisher (game.DirectoryConfig.NewPublisher).
type NewPublisher = func(matchID string, cfg game.MatchConfig, layout game.Layout) game.Publisher

// NewDirectory builds the server's directory around the server's
// publisher hook. NewServer calls it once.
type NewDirectory func(publish NewPublisher) (Directory, error)
