package netcode

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode/stream"
)

// Router is what the server needs from a cluster of nodes (package
// netcode/cluster implements it over NATS). A server without one (the
// default) seats every join in its own directory.
//
// Its methods may be called concurrently, and none of them waits on a write
// to the cluster's directory: a join is routed from what the node already
// knows.
type Router interface {
	// Route decides where a join goes. matchID is what the client asked
	// for ("" for any open match); local is true when the join arrived
	// through a redirect that placed it on this node. A nil Redirect and a
	// nil error mean: seat it here. A Redirect without a URL means: seat it
	// here in its Match (or, if that filled meanwhile, in any match here).
	// An error refuses the join (it wraps a game error, such as
	// game.ErrMatchNotFound, or ErrFenced).
	Route(ctx context.Context, matchID string, local bool) (*Redirect, error)
	// Remote lists the live matches owned by the other live nodes.
	Remote() []RemoteMatch
	// Lookup finds a live match owned by another live node.
	Lookup(id string) (RemoteMatch, bool)
}

// PeerOrigins is implemented by a Router that knows the origins of the
// other live nodes' pages (their public URLs): a browser page served by
// one node and redirected to another opens /play there with its first
// node's origin, which the second accepts.
type PeerOrigins interface {
	PeerOrigins() []string
}

// ErrFenced refuses a join into a match this node may no longer own: its
// lease in the cluster directory lapsed, or another incarnation holds it.
var ErrFenced = fmt.Errorf("%w: this node no longer owns the match", game.ErrMatchEnded)

// Redirect sends a joining client to another node: the server sends the
// redirect message and closes with CloseRedirect.
type Redirect struct {
	URL   string // the /play URL to connect to, query included
	Match string // the match to join there; "" lets that node choose
	Node  string // the owner's node id (logs, metrics)
}

// RemoteMatch is a match owned by another node.
type RemoteMatch struct {
	game.MatchInfo
	Node       string        // its owner's node id
	URL        string        // its owner's public base URL (http://host:port)
	Spectators int64         // as its owner last reported
	Delay      time.Duration // its broadcast delay
}

// Relay opens a match of another node for spectators on this one (package
// netcode/relay implements it over NATS). The stream is fed from the
// owner's and shared by every local spectator of the match; release ends
// one spectator's use of it.
type Relay interface {
	Open(ctx context.Context, match RemoteMatch) (st *stream.Stream, release func(), err error)
}

// Register adds collectors (a cluster node's, a relay's) to the server's
// /metrics.
func (s *Server) Register(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := s.metrics.reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// MatchSpectators reports a live match's spectators and broadcast delay
// (zeros for a match this server does not have).
func (s *Server) MatchSpectators(id string) (int64, time.Duration) {
	if h := s.hubFor(id); h != nil {
		return h.st.Spectators.Load(), h.st.Delay()
	}
	return 0, 0
}

// MatchStream returns the stream of a live match of this server, or nil:
// what a relay origin publishes from. The caller must not push to it.
func (s *Server) MatchStream(id string) *stream.Stream {
	if h := s.hubFor(id); h != nil {
		return h.watch()
	}
	return nil
}
