package netcode

import (
	"crypto/tls"
	"net/http"
	"time"
)

// HTTPOptions are the timeouts of the http.Server that serves a Server's
// Handler. Zero fields take the documented default. They bound ordinary
// requests only: the streaming endpoints (/play, /watch, /events, /poll)
// lift them before they start (see streamDeadlines) and keep their own
// deadlines (heartbeat, per-write deadline, the poll wait).
type HTTPOptions struct {
	// ReadHeaderTimeout bounds reading a request's headers; zero means 10 s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included (a POST
	// whose body never arrives is closed after it); zero means 10 s.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing an ordinary response, from the end of
	// its headers; zero means 10 s.
	WriteTimeout time.Duration
	// IdleTimeout bounds an idle keep-alive connection; zero means 120 s.
	IdleTimeout time.Duration
	// TLS, when set, is the TLS configuration (serve with ServeTLS(ln, "",
	// "")); NewHTTPServer raises its MinVersion to TLS 1.2.
	TLS *tls.Config
}

func (o HTTPOptions) withDefaults() HTTPOptions {
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = 10 * time.Second
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 10 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 120 * time.Second
	}
	return o
}

// NewHTTPServer returns the http.Server for h with the timeouts of o. The
// command and the tests build their server with it, so that both run with
// the same timeouts.
func NewHTTPServer(h http.Handler, o HTTPOptions) *http.Server {
	o = o.withDefaults()
	if o.TLS != nil {
		o.TLS = o.TLS.Clone()
		o.TLS.MinVersion = max(o.TLS.MinVersion, tls.VersionTLS12)
	}
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: o.ReadHeaderTimeout,
		ReadTimeout:       o.ReadTimeout,
		WriteTimeout:      o.WriteTimeout,
		IdleTimeout:       o.IdleTimeout,
		TLSConfig:         o.TLS,
	}
}

// streamDeadlines lifts the http.Server's ReadTimeout and WriteTimeout
// from a streaming request: no read deadline, and write as the write
// deadline (zero: none). What it protects, as net/http 1.26 behaves
// (tested in httpserver_test.go): a long poll's answer, written after
// WriteTimeout, would be cut (the client sees EOF). SSE sets a deadline per
// write; net/http already clears the read deadline once a body-less
// request is read, and clears both deadlines on Hijack, so WebSockets are
// safe without it: lifting them before the upgrade anyway keeps the
// streams independent of those details. Errors (a ResponseWriter that
// cannot set deadlines) are ignored: it has no server timeouts to lift.
func streamDeadlines(w http.ResponseWriter, write time.Time) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(write)
}
