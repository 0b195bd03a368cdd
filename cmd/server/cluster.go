package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode"
	"github.com/tickstream/tickstream/netcode/cluster"
	"github.com/tickstream/tickstream/netcode/relay"
)

// clusterConfig is the flags of running as one node of several.
type clusterConfig struct {
	nodeID    string
	publicURL string
	natsURL   string
	natsEmbed string
}

func (c *clusterConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.nodeID, "node-id", "", "this node's name in a cluster (letters, digits, - and _; empty: the host name)")
	fs.StringVar(&c.publicURL, "public-url", "", "this node's base URL as clients reach it, e.g. http://10.0.0.5:8080: where joins are redirected (a cluster needs it unless -addr names a host)")
	fs.StringVar(&c.natsURL, "nats-url", "", "join the cluster on this NATS deployment (nats://host:4222, JetStream on); empty: a single node")
	fs.StringVar(&c.natsEmbed, "nats-embed", "", "run an embedded NATS server with JetStream on host:port and join it (development and tests; other nodes point -nats-url at it)")
}

func (c clusterConfig) enabled() bool { return c.natsURL != "" || c.natsEmbed != "" }

// publicBase is -public-url, or http://<-addr> when -addr names a host.
func (c clusterConfig) publicBase(addr string) (string, error) {
	if c.publicURL != "" {
		return c.publicURL, nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" || net.ParseIP(host).IsUnspecified() {
		return "", errors.New("a cluster node needs -public-url (the address clients are redirected to), or an -addr with a host")
	}
	return "http://" + addr, nil
}

// clusterNode is a running cluster membership and what it holds.
type clusterNode struct {
	node   *cluster.Node
	edge   *relay.Edge   // serves spectators of the other nodes' matches here
	origin *relay.Origin // publishes this node's matches to the other nodes' edges
	nc     *nats.Conn
	embed  *server.Server
	store  string // the embedded server's JetStream files
	srv    atomic.Pointer[netcode.Server]
}

// startCluster joins (or, with -nats-embed, starts and joins) NATS and
// starts the node over the local directory. nil without NATS.
func startCluster(ctx context.Context, c clusterConfig, addr string, maxMatches int, dir *game.Directory, log zerolog.Logger) (*clusterNode, error) {
	if !c.enabled() {
		return nil, nil
	}
	base, err := c.publicBase(addr)
	if err != nil {
		return nil, err
	}
	cn := &clusterNode{}
	url := c.natsURL
	if c.natsEmbed != "" {
		if cn.store, err = os.MkdirTemp("", "tickstream-nats-"); err != nil {
			return nil, err
		}
		if cn.embed, err = cluster.Embed(c.natsEmbed, cn.store); err != nil {
			cn.close()
			return nil, err
		}
		log.Info().Str("nats", cn.embed.ClientURL()).Msg("embedded NATS server running")
		if url == "" {
			url = cn.embed.ClientURL()
		}
	}
	cn.nc, err = nats.Connect(url, nats.Name("tickstream "+c.nodeID), nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond), nats.Timeout(5*time.Second))
	if err != nil {
		cn.close()
		return nil, fmt.Errorf("nats %s: %w", url, err)
	}
	cn.node, err = cluster.New(ctx, cn.nc, dir, cluster.Config{
		NodeID: c.nodeID, PublicURL: base, MaxMatches: maxMatches, Logger: log,
		Spectators: func(id string) (int64, time.Duration) {
			if s := cn.srv.Load(); s != nil {
				return s.MatchSpectators(id)
			}
			return 0, 0
		},
	})
	if err != nil {
		cn.close()
		return nil, fmt.Errorf("cluster: %w", err)
	}
	cn.edge = relay.NewEdge(cn.nc, relay.EdgeConfig{Node: cn.node.ID(), Logger: log})
	return cn, nil
}

// attach gives the node its server: the relay's origin publishes the
// server's matches, the metrics join the server's, spectator counts go to
// the directory.
func (cn *clusterNode) attach(srv *netcode.Server, log zerolog.Logger) error {
	cn.srv.Store(srv)
	var err error
	if cn.origin, err = relay.NewOrigin(cn.nc, cn.node.ID(), srv.MatchStream, log); err != nil {
		return err
	}
	cs := append(cn.node.Collectors(), cn.edge.Collectors()...)
	return srv.Register(append(cs, cn.origin.Collectors()...)...)
}

// close leaves the cluster and closes NATS (and the embedded server).
func (cn *clusterNode) close() {
	if cn.origin != nil {
		cn.origin.Close()
	}
	if cn.edge != nil {
		cn.edge.Close()
	}
	if cn.node != nil {
		cn.node.Close()
	}
	if cn.nc != nil {
		cn.nc.Close()
	}
	if cn.embed != nil {
		cn.embed.Shutdown()
	}
	if cn.store != "" {
		_ = os.RemoveAll(cn.store)
	}
}
