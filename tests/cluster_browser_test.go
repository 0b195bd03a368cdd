//go:build browser

package tests

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The play page in a cluster of two server processes: opened on n2 with a
// match of n1 (?match=), the SDK follows the redirect to n1 (whose origin
// check accepts n2's page) and plays there; n1 is killed (SIGKILL), and the
// page fails over through n2 by itself, says the server was lost, and plays
// in a new match.
func TestBrowserClusterRedirectAndFailover(t *testing.T) {
	chromiumPath(t)
	nodes := startClusterProcs(t, 2, "-min-players", "1")
	n1, n2 := nodes[0], nodes[1]
	match := newMatch(t, n1.URL, `{}`)
	waitUntil(t, 5*time.Second, "n2 lists n1's match", func() bool { return lists(n2, match, "n1") })

	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	defer cancel()
	b := startBrowser(t, ctx, "browser-cluster-failed.png")
	joined := b.join(n2.URL+"/?match="+match, "roamer")
	node, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`window.tickstream.node`))
	if err != nil {
		b.fatal("read the node: %v", err)
	}
	if joined.MatchID != match || !strings.HasPrefix(node, n1.WSURL()) {
		b.fatal("joined %s on %s; want n1's match %s on %s", joined.MatchID, node, match, n1.WSURL())
	}
	redirects, _ := chromedp.Run(b.ctx, chromedp.Evaluate[int](`window.tickstream.redirects`))
	t.Logf("joined n1's match through n2 after %d redirect(s): %s", redirects, joined)
	if redirects != 1 {
		t.Errorf("redirects followed: %d, want 1", redirects)
	}

	n1.signal(t, syscall.SIGKILL)
	killed := time.Now()
	b.waitFor(`window.tickstream.failovers === 1`, 10*time.Second, "a failover after n1 was killed")
	b.waitFor(`window.tickstream.connected && window.tickstream.me !== null && window.tickstream.matchId !== `+jsString(match),
		10*time.Second, "a new match after the failover")
	t.Logf("in a new match %v after the kill", time.Since(killed).Round(time.Millisecond))
	overlayShows(b, "Server lost — you are in a new match")
	node, _ = chromedp.Run(b.ctx, chromedp.Evaluate[string](`window.tickstream.node`))
	if !strings.HasPrefix(node, n2.WSURL()) {
		t.Errorf("after the failover the page plays on %s, want n2 (%s)", node, n2.WSURL())
	}
	b.shot("browser-cluster-failover.png")
}

func jsString(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }
