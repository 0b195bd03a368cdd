package netcode

import (
	"net/http"
	"net/netip"
	"testing"
	"time"
)

func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32")}
	for _, c := range []struct {
		name    string
		trusted []netip.Prefix
		remote  string
		xff     []string
		want    string
	}{
		{"no proxies: XFF ignored", nil, "203.0.113.1:5000", []string{"198.51.100.1"}, "203.0.113.1"},
		{"untrusted peer: XFF ignored", trusted, "203.0.113.1:5000", []string{"198.51.100.1"}, "203.0.113.1"},
		{"trusted peer", trusted, "10.1.2.3:5000", []string{"198.51.100.1"}, "198.51.100.1"},
		{"rightmost untrusted wins over a forged left part", trusted, "10.1.2.3:5000", []string{"6.6.6.6, 198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"across header lines", trusted, "127.0.0.1:5000", []string{"6.6.6.6", "198.51.100.2"}, "198.51.100.2"},
		{"all trusted: the leftmost", trusted, "10.1.2.3:5000", []string{"10.0.0.7, 10.0.0.8"}, "10.0.0.7"},
		{"garbage stops the walk", trusted, "10.1.2.3:5000", []string{"198.51.100.1, nonsense, 10.0.0.8"}, "10.0.0.8"},
		{"no header: the proxy", trusted, "10.1.2.3:5000", nil, "10.1.2.3"},
		{"IPv4-mapped peer", nil, "[::ffff:203.0.113.9]:5000", nil, "203.0.113.9"},
		{"IPv6 is its /64", nil, "[2001:db8:1:2:3:4:5:6]:5000", nil, "2001:db8:1:2::"},
		{"IPv6 loopback", nil, "[::1]:5000", nil, "::1"},
	} {
		cs := newClients(LimitsConfig{}.withDefaults(), c.trusted)
		r := &http.Request{RemoteAddr: c.remote, Header: http.Header{}}
		for _, v := range c.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := cs.clientAddr(r); got.String() != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

func TestCreationBucketRefillsAndSweeps(t *testing.T) {
	cs := newClients(LimitsConfig{CreatesPerMinute: 2}.withDefaults(), nil)
	a := netip.MustParseAddr("203.0.113.1")
	now := time.Unix(1000, 0)
	for i := 0; i < 2; i++ {
		if ok, _ := cs.allowCreate(a, now); !ok {
			t.Fatalf("creation %d refused", i+1)
		}
	}
	ok, wait := cs.allowCreate(a, now)
	if ok || wait != 30*time.Second {
		t.Fatalf("third creation: ok %v, retry after %v; want refused, 30 s", ok, wait)
	}
	if ok, _ := cs.allowCreate(a, now.Add(30*time.Second)); !ok {
		t.Fatal("a creation 30 s later refused")
	}
	// Two minutes later the bucket is full: a sweep forgets it.
	cs.allowCreate(netip.MustParseAddr("203.0.113.2"), now.Add(3*time.Minute))
	cs.mu.Lock()
	_, kept := cs.creates[a]
	cs.mu.Unlock()
	if kept {
		t.Fatal("a refilled bucket was not swept")
	}
	// Loopback is exempt unless LimitLoopback.
	if ok, _ := cs.allowCreate(netip.MustParseAddr("127.0.0.1"), now); !ok {
		t.Fatal("loopback limited by default")
	}
}

func TestConnCountsRemovedAtZero(t *testing.T) {
	cs := newClients(LimitsConfig{ConnsPerClient: 2}.withDefaults(), nil)
	a := netip.MustParseAddr("203.0.113.1")
	if !cs.acquireConn(a) || !cs.acquireConn(a) || cs.acquireConn(a) {
		t.Fatal("cap of 2 not enforced")
	}
	cs.releaseConn(a)
	cs.releaseConn(a)
	cs.mu.Lock()
	n := len(cs.conns)
	cs.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d entries left at zero", n)
	}
}
