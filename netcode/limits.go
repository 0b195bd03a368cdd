package netcode

import (
	"crypto/subtle"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode/wire"
)

// LimitsConfig bounds what one client may hold or do. A client is an IP
// address: the peer's, or behind Config.TrustedProxies the forwarded one
// (see clientAddr). Zero fields take the documented default; a negative
// cap or rate disables that limit.
type LimitsConfig struct {
	// ConnsPerClient caps the concurrent connections of one client: player
	// WebSockets and spectator streams of every transport (WebSocket, SSE,
	// long polling). Zero means 64. Over the cap: HTTP 429.
	ConnsPerClient int
	// SeatsPerClient caps the joined player sessions of one client. Zero
	// means 8. Over the cap a join is closed with 4013; a resume is never
	// refused for it (it takes back a seat the client already had).
	SeatsPerClient int
	// CreatesPerMinute is how many matches one client may create through
	// POST /api/matches per minute (a token bucket, burst the same). Zero
	// means 10. Over the limit: HTTP 429 with Retry-After. Requests that
	// carry Config.APIToken are exempt.
	CreatesPerMinute int
	// LimitLoopback applies the per-client limits above to loopback and
	// unspecified client addresses too. False, the default, exempts them:
	// local development, the tests and the bots' load tests connect from
	// 127.0.0.1. A deployment behind a reverse proxy on the same host must
	// set TrustedProxies (or this), or every client looks like loopback.
	LimitLoopback bool
	// ControlRate is the sustained rate of inbound frames other than
	// inputs (pong, suspend) per connection, per second; zero means 10.
	// ControlBurst is its burst; zero means 20. Frames over it are dropped
	// and counted; a sustained flood is closed with 4014.
	ControlRate  float64
	ControlBurst int
	// JoinRate is the node's admission limit: joins seated on this server
	// per second, over all clients (a token bucket), so that a reconnect
	// storm after another node died is absorbed rather than served at
	// once; zero means 200. JoinBurst is its burst; zero means 100. Over
	// it a join is closed with 4009 "server busy, retry" (clients retry
	// with backoff). Resumes and joins redirected elsewhere do not count.
	// A negative JoinRate disables the limit.
	JoinRate  float64
	JoinBurst int
}

func (c LimitsConfig) withDefaults() LimitsConfig {
	if c.ConnsPerClient == 0 {
		c.ConnsPerClient = 64
	}
	if c.SeatsPerClient == 0 {
		c.SeatsPerClient = 8
	}
	if c.CreatesPerMinute == 0 {
		c.CreatesPerMinute = 10
	}
	if c.ControlRate <= 0 {
		c.ControlRate = 10
	}
	if c.ControlBurst <= 0 {
		c.ControlBurst = 20
	}
	if c.JoinRate == 0 {
		c.JoinRate = 200
	}
	if c.JoinBurst <= 0 {
		c.JoinBurst = 100
	}
	return c
}

// newJoinLimiter is the node's join admission bucket; nil when disabled.
func newJoinLimiter(c LimitsConfig) *rate.Limiter {
	if c.JoinRate < 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(c.JoinRate), c.JoinBurst)
}

// errJoinLimited refuses a join over the node's admission limit.
var errJoinLimited = &wire.Error{Code: wire.CloseServerFull, Reason: "server busy, retry"}

// Flood policy, for inputs and control frames alike: frames over the rate
// limit are dropped and counted; more than floodMax… over-limit frames in
// one floodWindow close the connection with 4014 (the seat is given up).
const (
	floodWindow = 10 * time.Second
	// floodMaxControl: over-limit pongs and suspends per window (a client
	// pongs once a second).
	floodMaxControl = 100
	// floodInputFactor × the input rate: over-limit inputs per window
	// (1,200 at 120/s, i.e. twice the limit for ten seconds). A resend
	// after a resume that exceeds its credit stays well below it.
	floodInputFactor = 10
	// ackRate is the ack messages per second (and burst) a connection may
	// send; clients send at most 10 (docs/protocol.md). Over it they are
	// dropped and counted; floodInputFactor × it per window closes 4014.
	ackRate = 30
)

// floodMeter counts over-limit frames in fixed windows. Reader-owned.
type floodMeter struct {
	start time.Time
	n     int
}

// over counts one over-limit frame and reports whether the window's
// allowance is exceeded.
func (f *floodMeter) over(now time.Time, max int) bool {
	if now.Sub(f.start) > floodWindow {
		f.start, f.n = now, 0
	}
	f.n++
	return f.n > max
}

// controlLimiter limits a connection's pongs and suspends.
type controlLimiter struct {
	lim   *rate.Limiter
	flood floodMeter
}

func newControlLimiter(c LimitsConfig) *controlLimiter {
	return &controlLimiter{lim: rate.NewLimiter(rate.Limit(c.ControlRate), c.ControlBurst)}
}

// allow reports whether a control frame may be handled; flooding is true
// when the connection must be closed.
func (c *controlLimiter) allow() (ok, flooding bool) {
	now := time.Now()
	if c.lim.AllowN(now, 1) {
		return true, false
	}
	return false, c.flood.over(now, floodMaxControl)
}

// clients is the per-client accounting: concurrent connections and seats,
// and the match-creation buckets. Every method takes the mutex briefly and
// never blocks on anything else; entries are removed when they return to
// zero (counts) or to a full bucket (creations, swept lazily).
type clients struct {
	cfg     LimitsConfig
	trusted []netip.Prefix

	mu        sync.Mutex
	conns     map[netip.Addr]int
	seats     map[netip.Addr]int
	creates   map[netip.Addr]*bucket
	lastSweep time.Time
}

// bucket is a token bucket of creations.
type bucket struct {
	tokens float64
	at     time.Time
}

func newClients(cfg LimitsConfig, trusted []netip.Prefix) *clients {
	return &clients{
		cfg: cfg, trusted: trusted,
		conns:   make(map[netip.Addr]int),
		seats:   make(map[netip.Addr]int),
		creates: make(map[netip.Addr]*bucket),
	}
}

// clientAddr is the request's client: the peer's IP address, or, when the
// peer is a trusted proxy, the rightmost X-Forwarded-For address that is
// not a trusted proxy (the leftmost one when all are). Without trusted
// proxies X-Forwarded-For is ignored: anyone can send it. An IPv6 client
// is its /64 (one subscriber's network hands out the rest for free).
func (cs *clients) clientAddr(r *http.Request) netip.Addr {
	a := cs.forwardedAddr(r)
	if a.Is6() && !a.IsLoopback() {
		if p, err := a.Prefix(64); err == nil {
			return p.Addr()
		}
	}
	return a
}

func (cs *clients) forwardedAddr(r *http.Request) netip.Addr {
	peer := remoteAddr(r.RemoteAddr)
	if len(cs.trusted) == 0 || !cs.isTrusted(peer) {
		return peer
	}
	client := peer
	vals := r.Header.Values("X-Forwarded-For")
	for i := len(vals) - 1; i >= 0; i-- {
		hops := strings.Split(vals[i], ",")
		for j := len(hops) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(hops[j]))
			if err != nil {
				return client // garbage: trust nothing further left
			}
			client = a.Unmap()
			if !cs.isTrusted(client) {
				return client
			}
		}
	}
	return client
}

func remoteAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	host, _, err := net.SplitHostPort(s)
	if err != nil {
		host = s
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

func (cs *clients) isTrusted(a netip.Addr) bool {
	for _, p := range cs.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// exempt reports whether a client is outside the per-client limits.
func (cs *clients) exempt(a netip.Addr) bool {
	return !cs.cfg.LimitLoopback && (!a.IsValid() || a.IsLoopback() || a.IsUnspecified())
}

// acquireConn counts a connection of a; false (nothing counted) when a is
// at its cap. The caller calls releaseConn when the connection ends.
func (cs *clients) acquireConn(a netip.Addr) bool {
	return cs.acquire(cs.conns, a, cs.cfg.ConnsPerClient, true)
}

func (cs *clients) releaseConn(a netip.Addr) { cs.release(cs.conns, a) }

// acquireSeat counts a joined session of a; with check false it counts
// without refusing (a resume).
func (cs *clients) acquireSeat(a netip.Addr, check bool) bool {
	return cs.acquire(cs.seats, a, cs.cfg.SeatsPerClient, check)
}

func (cs *clients) releaseSeat(a netip.Addr) { cs.release(cs.seats, a) }

func (cs *clients) acquire(m map[netip.Addr]int, a netip.Addr, limit int, check bool) bool {
	if limit < 0 || cs.exempt(a) {
		return true
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if check && m[a] >= limit {
		return false
	}
	m[a]++
	return true
}

func (cs *clients) release(m map[netip.Addr]int, a netip.Addr) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	switch n := m[a]; {
	case n > 1:
		m[a] = n - 1
	case n == 1:
		delete(m, a)
	}
}

// allowCreate takes a creation from a's bucket; when it is empty it
// returns how long until the next one.
func (cs *clients) allowCreate(a netip.Addr, now time.Time) (bool, time.Duration) {
	per := cs.cfg.CreatesPerMinute
	if per < 0 || cs.exempt(a) {
		return true, 0
	}
	perSec := float64(per) / 60
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if now.Sub(cs.lastSweep) > time.Minute {
		cs.sweep(now, per, perSec)
	}
	b := cs.creates[a]
	if b == nil {
		b = &bucket{tokens: float64(per), at: now}
		cs.creates[a] = b
	}
	b.refill(now, per, perSec)
	if b.tokens < 1 {
		wait := time.Duration(math.Ceil((1 - b.tokens) / perSec * float64(time.Second)))
		return false, wait
	}
	b.tokens--
	return true, 0
}

func (b *bucket) refill(now time.Time, burst int, perSec float64) {
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(float64(burst), b.tokens+d.Seconds()*perSec)
		b.at = now
	}
}

// sweep forgets the buckets that have refilled (they equal a new one).
// Called with mu held, at most once a minute; O(clients seen lately).
func (cs *clients) sweep(now time.Time, burst int, perSec float64) {
	cs.lastSweep = now
	for a, b := range cs.creates {
		b.refill(now, burst, perSec)
		if b.tokens >= float64(burst) {
			delete(cs.creates, a)
		}
	}
}

// connCap wraps a handler of a player or spectator connection with the
// per-client connection cap: over it, 429 before any upgrade.
func (s *Server) connCap(h http.HandlerFunc) http.HandlerFunc {
	return s.connCapDetached(func(w http.ResponseWriter, r *http.Request, _ func()) bool {
		h(w, r)
		return false
	})
}

// connCapDetached is connCap for a handler that may hand its connection
// to a goroutine of its own and return (handlePlay): when it reports that
// it did, the connection's place is released by the release function it
// was given, once, when the connection ends.
func (s *Server) connCapDetached(h func(http.ResponseWriter, *http.Request, func()) bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a := s.clients.clientAddr(r)
		if !s.clients.acquireConn(a) {
			s.warnLog.Warn().Str("client", a.String()).Msg("connection cap reached")
			s.refuseHTTP(w, http.StatusTooManyRequests, reasonTooManyConns, "too many connections from this address")
			return
		}
		var once sync.Once
		release := func() { once.Do(func() { s.clients.releaseConn(a) }) }
		if !h(w, r, release) {
			release()
		}
	}
}

// createAllowed checks a POST /api/matches against the API token and the
// per-client creation limit; it answers the refusal itself.
func (s *Server) createAllowed(w http.ResponseWriter, r *http.Request) bool {
	if tok := s.cfg.APIToken; tok != "" {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(tok)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tickstream"`)
			s.refuseHTTP(w, http.StatusUnauthorized, reasonUnauthorized, "an API token is required: Authorization: Bearer <token>")
			return false
		}
		return true // token holders are not rate-limited
	}
	a := s.clients.clientAddr(r)
	if ok, wait := s.clients.allowCreate(a, time.Now()); !ok {
		secs := max(1, int(math.Ceil(wait.Seconds())))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		s.refuseHTTP(w, http.StatusTooManyRequests, reasonCreateLimited,
			"too many matches created from this address: retry in "+strconv.Itoa(secs)+" s")
		return false
	}
	return true
}

// Resume credit: a resumed client may resend its unacknowledged inputs
// beyond the rate limit, from a per-seat bucket of resumeCredit inputs
// that refills at resumeCredit per creditRefill. The seat's limiter and
// credit outlive its connections, so resuming never raises the budget.
const (
	resumeCredit = 1024
	creditRefill = time.Minute
)

// seatKey names a seat across its connections.
type seatKey struct {
	match  string
	player game.PlayerID
}

// seatBudget is a seat's input budget, shared by the connections of the
// seat (an old one may still be reading while a resume replaces it): the
// limiters are safe for concurrent use.
type seatBudget struct {
	inputs *rate.Limiter // the input rate limit
	credit *rate.Limiter // the resend allowance after a resume
	users  int           // live sessions; guarded by budgets.mu
	idle   time.Time     // when users fell to 0; guarded by budgets.mu
}

// budgets holds the seats' input budgets. An entry is dropped once no
// session has used it for creditRefill: by then both of its buckets are
// full again, exactly like a new one.
type budgets struct {
	rate      rate.Limit
	burst     int
	mu        sync.Mutex
	seats     map[seatKey]*seatBudget
	lastSweep time.Time
}

func newBudgets(r float64, burst int) *budgets {
	return &budgets{rate: rate.Limit(r), burst: burst, seats: make(map[seatKey]*seatBudget)}
}

// acquire returns the seat's budget for a new session; fresh is true for a
// join (a new seat gets a new budget).
func (b *budgets) acquire(k seatKey, fresh bool) *seatBudget {
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	if now.Sub(b.lastSweep) > creditRefill {
		b.lastSweep = now
		for k, sb := range b.seats {
			if sb.users == 0 && now.Sub(sb.idle) > creditRefill {
				delete(b.seats, k)
			}
		}
	}
	sb := b.seats[k]
	if sb == nil || fresh {
		sb = &seatBudget{
			inputs: rate.NewLimiter(b.rate, b.burst),
			credit: rate.NewLimiter(rate.Every(creditRefill/resumeCredit), resumeCredit),
		}
		b.seats[k] = sb
	}
	sb.users++
	return sb
}

func (b *budgets) release(sb *seatBudget) {
	b.mu.Lock()
	defer b.mu.Unlock()
	sb.users--
	if sb.users == 0 {
		sb.idle = time.Now()
	}
}

// releaseLimits gives back what the session counted against its client
// and its seat. Called by the handler once run has returned.
func (s *session) releaseLimits() {
	if s.seatHeld {
		s.srv.clients.releaseSeat(s.client)
	}
	if s.budget != nil {
		s.srv.budgets.release(s.budget)
	}
}
