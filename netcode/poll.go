package netcode

import (
	"net/http"
	"strconv"
	"time"

	"github.com/tickstream/tickstream/netcode/stream"
	"github.com/tickstream/tickstream/netcode/wire"
)

// handlePoll serves GET /api/matches/{id}/poll?after=<tick>: what happened
// after that tick, or, when nothing has yet, a wait of up to PollWait (or
// the request's wait=, 0…PollWait seconds) and an empty answer.
func (s *Server) handlePoll(w http.ResponseWriter, r *http.Request) { s.servePoll(w, r, s.spectate) }

// servePoll is the long-poll transport of a live match or a replay (open).
func (s *Server) servePoll(w http.ResponseWriter, r *http.Request, open opener) {
	if s.draining.Load() {
		// A poller is a plain fetch, not an EventSource: a 503 with
		// Retry-After is the clear answer (a request already waiting when
		// the drain starts is answered at once with what it has).
		w.Header().Set("Retry-After", strconv.FormatInt(max(1, int64(s.cfg.Spectators.Retry/time.Second)), 10))
		s.refuseHTTP(w, http.StatusServiceUnavailable, reasonShutdown, "server shutting down")
		return
	}
	wait := s.cfg.Spectators.PollWait
	v, err := queryValue(r.URL.Query(), "wait")
	if err == nil && v != "" {
		wait, err = parseSeconds("wait", v, s.cfg.Spectators.PollWait)
	}
	if err != nil {
		s.refuseHTTP(w, http.StatusBadRequest, "bad_query", err.Error())
		return
	}
	cur, release, ok := open(w, r, wire.FormatJSON, "poll")
	if !ok {
		return
	}
	streamDeadlines(w, time.Now().Add(wait+s.cfg.WriteTimeout))
	defer release()
	cur.NeverBehind() // a poller is never "behind": it takes what is held
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	later := time.NewTimer(time.Hour)
	defer later.Stop()
	var evs []stream.Event
	for {
		notify := cur.Changed()
		var nextAt time.Time
		evs, nextAt = cur.Step(time.Now(), evs)
		if len(evs) > 0 || cur.Done() {
			break
		}
		if !nextAt.IsZero() {
			later.Reset(time.Until(nextAt))
		}
		select {
		case <-notify:
			continue
		case <-later.C:
			continue
		case <-deadline.C:
		case <-r.Context().Done():
			return
		case <-s.drain:
		}
		break
	}
	writePoll(w, evs, cur)
}

// writePoll answers {"events":[{"id":…,"event":"…","data":{…}},…],
// "next":<tick>,"done":<bool>}: pass next as after= in the next request.
func writePoll(w http.ResponseWriter, evs []stream.Event, cur *stream.Cursor) {
	b := make([]byte, 0, 256+len(evs)*512)
	b = append(b, `{"events":[`...)
	for i, e := range evs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		if e.ID != 0 {
			b = append(b, `"id":`...)
			b = strconv.AppendUint(b, e.ID, 10)
			b = append(b, ',')
		}
		b = append(b, `"event":"`...)
		b = append(b, e.Kind...)
		b = append(b, `","data":`...)
		b = append(b, e.Data...)
		b = append(b, '}')
	}
	b = append(b, `],"next":`...)
	b = strconv.AppendUint(b, cur.Sent(), 10)
	b = append(b, `,"done":`...)
	b = strconv.AppendBool(b, cur.Done())
	b = append(b, "}\n"...)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}
