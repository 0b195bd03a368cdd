package cluster

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode"
)

var _ netcode.Router = (*Node)(nil)

// candidate is an open match somewhere in the cluster.
type candidate struct {
	id      string
	players int
	owner   *peer // nil: this node
}

// Route implements netcode.Router.
//
// A join for a named match goes to its owner: here if it is ours (refused
// if fenced), a redirect to its owner's /play if a live peer owns it,
// "no such match" otherwise. A join for any match goes to the fullest open
// match of the cluster (this node's first on a tie), or, when there is none,
// to the least-loaded node with room (this node first on a tie), which
// creates one. A peer is asked whether it is alive before a join is sent
// to it; at most three are tried.
func (n *Node) Route(ctx context.Context, matchID string, local bool) (*netcode.Redirect, error) {
	if matchID != "" || local {
		return n.routeNamed(matchID, local)
	}
	failed := map[string]bool{} // peers that did not confirm: not tried again
	for range 3 {
		target, p := n.pick(failed)
		if p == nil {
			if target == "" {
				return nil, nil // create here
			}
			return &netcode.Redirect{Match: target, Node: n.cfg.NodeID}, nil
		}
		if n.confirm(ctx, p) {
			n.m.routes.WithLabelValues("redirect").Inc()
			return &netcode.Redirect{URL: wsURL(p.URL) + "?seat=local", Match: target, Node: p.ID}, nil
		}
		failed[p.ID] = true
	}
	return nil, nil // peers failing: take it here
}

func (n *Node) routeNamed(matchID string, local bool) (*netcode.Redirect, error) {
	if matchID == "" {
		return nil, nil // placed here by a redirect: any match of ours
	}
	if n.fenced(matchID) {
		return nil, netcode.ErrFenced
	}
	if n.local.Get(matchID) != nil {
		n.m.routes.WithLabelValues("here").Inc()
		return nil, nil
	}
	if local {
		return nil, game.ErrMatchNotFound // placedRetry seats it in another of ours
	}
	if rm, ok := n.Lookup(matchID); ok {
		n.m.routes.WithLabelValues("redirect").Inc()
		return &netcode.Redirect{URL: wsURL(rm.URL), Match: matchID, Node: rm.Node}, nil
	}
	return nil, game.ErrMatchNotFound
}

// pick chooses where a join for any match goes: a match id (and its owner,
// nil for this node), or no match and the node that should create one
// (nil: this node).
func (n *Node) pick(skip map[string]bool) (string, *peer) {
	var cands []candidate
	for _, i := range n.local.List() {
		if i.State < game.StateEnded && i.Players < i.MaxPlayers && !n.fenced(i.ID) {
			cands = append(cands, candidate{id: i.ID, players: i.Players})
		}
	}
	peers := n.livePeers()
	byID := make(map[string]*peer, len(peers))
	for i := range peers {
		if !peers[i].Draining && !skip[peers[i].ID] {
			byID[peers[i].ID] = &peers[i]
		}
	}
	n.mu.Lock()
	for _, e := range n.entries {
		if p := byID[e.Node]; p != nil && p.Inc == e.Inc && game.State(e.State) < game.StateEnded && e.Players < e.Max {
			cands = append(cands, candidate{id: e.ID, players: e.Players, owner: p})
		}
	}
	n.mu.Unlock()
	if len(cands) > 0 {
		best := slices.MaxFunc(cands, func(a, b candidate) int {
			if c := cmp.Compare(a.players, b.players); c != 0 {
				return c
			}
			return cmp.Compare(remoteRank(b), remoteRank(a)) // ours wins a tie
		})
		return best.id, best.owner
	}
	own := n.ownBeat()
	var best *peer
	bestLoad := own.Players
	if own.Matches >= own.MaxMatches {
		bestLoad = int(^uint(0) >> 1)
	}
	for _, p := range byID {
		if p.Matches < p.MaxMatches && p.Players < bestLoad {
			best, bestLoad = p, p.Players
		}
	}
	return "", best
}

func remoteRank(c candidate) int {
	if c.owner != nil {
		return 1
	}
	return 0
}

// Remote implements netcode.Router: the matches of the other live nodes,
// oldest first.
func (n *Node) Remote() []netcode.RemoteMatch {
	peers := n.livePeers()
	inc := make(map[string]uint64, len(peers))
	for _, p := range peers {
		inc[p.ID] = p.Inc
	}
	n.mu.Lock()
	out := make([]netcode.RemoteMatch, 0, len(n.entries))
	for _, e := range n.entries {
		if e.Node != n.cfg.NodeID && inc[e.Node] == e.Inc && e.Inc != 0 {
			out = append(out, remote(e))
		}
	}
	n.mu.Unlock()
	slices.SortFunc(out, func(a, b netcode.RemoteMatch) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out
}

// Lookup implements netcode.Router.
func (n *Node) Lookup(id string) (netcode.RemoteMatch, bool) {
	n.mu.Lock()
	e, ok := n.entries[id]
	n.mu.Unlock()
	if !ok || e.Node == n.cfg.NodeID {
		return netcode.RemoteMatch{}, false
	}
	for _, p := range n.livePeers() {
		if p.ID == e.Node && p.Inc == e.Inc {
			return remote(e), true
		}
	}
	return netcode.RemoteMatch{}, false
}

func remote(e entry) netcode.RemoteMatch {
	return netcode.RemoteMatch{
		MatchInfo: e.info(), Node: e.Node, URL: e.URL,
		Spectators: e.Spectators, Delay: time.Duration(e.DelayMS) * time.Millisecond,
	}
}

// PeerOrigins implements netcode.PeerOrigins: the live peers' public
// URLs, as browser origins.
func (n *Node) PeerOrigins() []string {
	peers := n.livePeers()
	out := make([]string, 0, len(peers))
	for _, p := range peers {
		out = append(out, strings.ToLower(p.URL))
	}
	return out
}

// DirectorySize is the number of live entries this node knows of, its own
// included.
func (n *Node) DirectorySize() int {
	own := 0
	n.mu.Lock()
	for _, l := range n.leases {
		if !l.fenced && l.rev != 0 {
			own++
		}
	}
	n.mu.Unlock()
	return own + len(n.Remote())
}
