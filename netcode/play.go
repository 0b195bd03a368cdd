package netcode

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/tickstream/tickstream/netcode/wire"
)

// libraryReadLimit is where coder/websocket cuts a frame off.
const libraryReadLimit = 8 * wire.MaxClientFrame

// handlePlay upgrades GET /play to a player session. Refusals before the
// upgrade are HTTP statuses with a JSON reason; after it, close codes.
// The session runs on a goroutine of its own and the handler returns, so
// that net/http lets go of what it kept for the request — the request
// and its headers, its 4 KiB reader and writer, the response's buffer,
// the goroutine that served it (the connection is hijacked) — several KB
// per player for the session's whole life. It reports whether it took
// the connection (and with it release, called when the session ends).
func (s *Server) handlePlay(w http.ResponseWriter, r *http.Request, release func()) bool {
	if !s.upgradeAllowed(w, r) {
		return false
	}
	// Numbered before the upgrade answers: a client can only open its next
	// connection after this one's handshake, so the numbers follow the
	// client's own order (a resume from an older connection loses).
	order := s.connOrder.Add(1)
	conn, err := s.accept(w, r, true, s.rawReads)
	if err != nil {
		return false
	}
	sess := newSession(s, conn)
	sess.order = order
	sess.client = s.clients.clientAddr(r)
	sess.placed = r.URL.Query().Get("seat") == "local"
	if !s.addSession(sess) {
		go conn.closeWithin(websocket.StatusGoingAway, "server shutting down", closeReplyWait)
		return false
	}
	sess.onEnd = release
	go func() {
		// No request context: net/http cancels it when the handler
		// returns. Shutdown ends sessions by closing their connections.
		if !sess.run(context.Background()) {
			sess.ended()
		}
	}()
	return true
}

// upgradeAllowed checks a WebSocket upgrade before it happens, answering
// refusals with an HTTP status and a JSON reason.
func (s *Server) upgradeAllowed(w http.ResponseWriter, r *http.Request) bool {
	switch {
	case s.draining.Load():
		s.refuseHTTP(w, http.StatusServiceUnavailable, "shutdown", "server shutting down")
		return false
	case !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket"):
		s.refuseHTTP(w, http.StatusUpgradeRequired, "not_websocket", "websocket upgrade required")
		return false
	case !headerHasToken(r.Header, "Sec-WebSocket-Protocol", wire.Subprotocol):
		s.refuseHTTP(w, http.StatusBadRequest, "no_subprotocol", "subprotocol "+wire.Subprotocol+" required")
		return false
	case !s.originAllowed(r):
		s.refuseHTTP(w, http.StatusForbidden, "cross_origin", "cross-origin request refused: origin "+
			shortHeader(r.Header.Get("Origin"))+" is not allowed")
		return false
	}
	return true
}

// accept upgrades the connection (after upgradeAllowed); small gives it
// the small buffers of a player connection (hijackRecorder).
// raw asks for the raw path (wsraw.go) when the connection is plain TCP.
func (s *Server) accept(w http.ResponseWriter, r *http.Request, small, raw bool) (*peer, error) {
	streamDeadlines(w, time.Time{}) // the heartbeat and the write deadline take over
	hr := &hijackRecorder{ResponseWriter: w, small: small, raw: raw}
	conn, err := websocket.Accept(hr, r, &websocket.AcceptOptions{
		Subprotocols:       []string{wire.Subprotocol},
		InsecureSkipVerify: true, // the origin was checked above, with counting and a reason
		CompressionMode:    websocket.CompressionDisabled,
	})
	if err != nil {
		s.metrics.refusals.WithLabelValues("bad_upgrade").Inc()
		if hr.ws != nil {
			hr.ws.drop() // hijacked, then failed: its descriptors are closed here
		}
		return nil, err // Accept has written the HTTP error
	}
	// Sessions refuse frames over MaxClientFrame themselves, with a clean
	// close; the library's limit only stops what is far beyond it.
	conn.SetReadLimit(libraryReadLimit)
	if hr.ws != nil {
		// The raw path is the library's only for the handshake: its Conn
		// (about 1.5 KB with its locks and reader) is let go. Its finalizer
		// would close the connection under the raw path when collected.
		runtime.SetFinalizer(conn, nil)
		return &peer{raw: hr.conn, ws: hr.ws, carry: hr.carry}, nil
	}
	return &peer{Conn: conn, raw: hr.conn, ws: hr.ws, carry: hr.carry}, nil
}

// originAllowed: no Origin (not a browser); one of the public origins; a
// host that matches an allowed pattern; or, without public origins, the
// request's own Host when it is an IP literal or localhost. Origin == Host
// alone proves nothing on a DNS name: a DNS-rebinding page has both.
func (s *Server) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if len(s.cfg.PublicOrigins) > 0 {
		if n, err := normalizeOrigin(origin); err == nil && slices.Contains(s.cfg.PublicOrigins, n) {
			return true
		}
	} else if strings.EqualFold(u.Host, r.Host) && localHost(u.Hostname()) {
		return true
	}
	if po, ok := s.cfg.Router.(PeerOrigins); ok {
		// A page served by another node of the cluster, following a
		// redirect here.
		if n, err := normalizeOrigin(origin); err == nil && slices.Contains(po.PeerOrigins(), n) {
			return true
		}
	}
	host := strings.ToLower(u.Host)
	for _, p := range s.cfg.AllowedOrigins {
		p = strings.ToLower(p)
		if ok, _ := path.Match(p, host); ok {
			return true
		}
		if ok, _ := path.Match(p, u.Hostname()); ok {
			return true
		}
	}
	return false
}

// localHost reports whether a host name cannot be a DNS-rebinding target:
// an IP literal or localhost.
func localHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	_, err := netip.ParseAddr(h)
	return err == nil
}

// normalizeOrigin returns an origin as browsers send it: lower-case
// scheme://host[:port], the default port left out.
func normalizeOrigin(o string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(o))
	switch {
	case err != nil:
		return "", err
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("scheme must be http or https")
	case u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		return "", fmt.Errorf("want scheme://host[:port] only")
	}
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port == "" || (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		return scheme + "://" + host, nil
	}
	return scheme + "://" + host + ":" + port, nil
}

// headerHasToken reports whether a comma-separated header holds token
// (case-insensitive), across repeated header lines.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

func shortHeader(s string) string {
	if len(s) > 80 {
		s = s[:80]
	}
	return strings.ToValidUTF8(s, "")
}
