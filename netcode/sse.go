package netcode

import (
	"errors"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/tickstream/tickstream/netcode/stream"
	"github.com/tickstream/tickstream/netcode/wire"
)

// handleEvents serves GET /api/matches/{id}/events: the spectator stream
// as Server-Sent Events, JSON data, id = tick.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	s.serveEvents(w, r, s.spectate)
}

// serveEvents is the SSE transport of a live match or a replay (open).
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request, open opener) {
	if s.draining.Load() {
		s.refuseSSEDraining(w)
		return
	}
	streamDeadlines(w, time.Time{}) // writeSSE sets a deadline per write
	cur, release, ok := open(w, r, wire.FormatJSON, "sse")
	if !ok {
		return
	}
	defer release()
	reason := s.streamSSE(w, r, cur)
	s.metrics.specEnds.WithLabelValues("sse", reason).Inc()
}

// refuseSSEDraining answers a stream asked for during a shutdown. Never
// 503 an EventSource (it would stop for good): answer 200 with the retry
// delay and an error event, code 1001 going away, and end. A browser then
// reconnects (the watch page after its backoff, a bare EventSource after
// retry, with Last-Event-ID, which this answer leaves alone), and a load
// balancer sends it to a live server.
func (s *Server) refuseSSEDraining(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	b := append([]byte("retry: "), strconv.FormatInt(s.cfg.Spectators.Retry.Milliseconds(), 10)...)
	b = append(b, '\n')
	b = appendSSE(b, stream.Event{Kind: wire.SpecError,
		Data: wire.AppendSpecError(nil, wire.FormatJSON, wire.CloseGoingAway, "server shutting down")})
	_, _ = w.Write(b)
	s.metrics.refusals.WithLabelValues(reasonShutdown).Inc()
}

// streamSSE writes the stream until it ends; it returns the reason.
func (s *Server) streamSSE(w http.ResponseWriter, r *http.Request, cur *stream.Cursor) string {
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer
	h.Set("Connection", "keep-alive")
	w.WriteHeader(http.StatusOK)

	buf := make([]byte, 0, 4096)
	buf = append(buf, "retry: "...)
	buf = strconv.AppendInt(buf, s.cfg.Spectators.Retry.Milliseconds(), 10)
	buf = append(buf, "\n: tickstream spectator stream\n\n"...)
	if err := s.writeSSE(w, rc, buf); err != nil {
		return sseWriteFailed(err)
	}
	keep := time.NewTimer(s.cfg.Spectators.KeepAlive)
	defer keep.Stop()
	later := time.NewTimer(time.Hour)
	defer later.Stop()
	var evs []stream.Event
	for {
		notify := cur.Changed() // before the step: a push in between wakes us
		var nextAt time.Time
		evs, nextAt = cur.Step(time.Now(), evs[:0])
		if len(evs) > 0 {
			buf = buf[:0]
			for _, e := range evs {
				buf = appendSSE(buf, e)
			}
			if err := s.writeSSE(w, rc, buf); err != nil {
				return sseWriteFailed(err)
			}
			keep.Reset(s.cfg.Spectators.KeepAlive)
		}
		switch {
		case cur.TooSlow():
			buf = appendSSE(buf[:0], stream.Event{Kind: wire.SpecError,
				Data: wire.AppendSpecError(nil, wire.FormatJSON, wire.CloseTooSlow, "too slow: cannot keep up with the stream")})
			_ = s.writeSSE(w, rc, buf)
			return reasonTooSlow
		case cur.Done():
			return reasonMatchOver
		case len(evs) >= stream.MaxBatch:
			continue // more to catch up
		}
		if !nextAt.IsZero() {
			later.Reset(time.Until(nextAt))
		}
		select {
		case <-notify:
		case <-later.C:
		case <-keep.C:
			if err := s.writeSSE(w, rc, []byte(": keep-alive\n\n")); err != nil {
				return sseWriteFailed(err)
			}
			keep.Reset(s.cfg.Spectators.KeepAlive)
		case <-r.Context().Done():
			return reasonClientClosed
		case <-s.drain:
			return reasonShutdown
		}
	}
}

// appendSSE appends one event in the event-stream format. The data is
// JSON without newlines, so it fits one data line.
func appendSSE(b []byte, e stream.Event) []byte {
	if e.ID != 0 {
		b = append(b, "id: "...)
		b = strconv.AppendUint(b, e.ID, 10)
		b = append(b, '\n')
	}
	b = append(b, "event: "...)
	b = append(b, e.Kind...)
	b = append(b, "\ndata: "...)
	b = append(b, e.Data...)
	return append(b, "\n\n"...)
}

// writeSSE writes and flushes under the write deadline. The kernel's send
// buffer is bounded (TuneListener), so a reader that stalls blocks the
// write within a few events, and the deadline ends the stream.
func (s *Server) writeSSE(w http.ResponseWriter, rc *http.ResponseController, b []byte) error {
	_ = rc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
	if _, err := w.Write(b); err != nil {
		return err
	}
	return rc.Flush()
}

// sseWriteFailed names why a write ended the stream: the write deadline
// (the reader stalled) or the client gone (reset, closed).
func sseWriteFailed(err error) string {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return reasonTooSlow
	}
	return reasonClientClosed
}
