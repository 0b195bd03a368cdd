package netcode

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/tickstream/tickstream/netcode/replay"
	"github.com/tickstream/tickstream/netcode/stream"
	"github.com/tickstream/tickstream/netcode/wire"
)

// Replays over HTTP: the listing, the download, and the opener that lets
// the spectator transports (sse.go, poll.go, watch.go) play a replay. The
// files, the recorder and the loaded replays are package replay's.

// replayJSON is a replay in the HTTP API (docs/protocol.md, "Replays").
type replayJSON struct {
	ID         string          `json:"id"`
	Started    string          `json:"started"` // RFC 3339
	DurationMS int64           `json:"duration_ms"`
	Rate       int             `json:"rate"`
	FirstTick  uint64          `json:"first_tick"`
	LastTick   uint64          `json:"last_tick"`
	Players    []replay.Player `json:"players"`
	Winner     uint32          `json:"winner"`
	Reason     string          `json:"reason"`
	Size       int64           `json:"size"`
	Complete   bool            `json:"complete"`
}

func toReplayJSON(in replay.Info) replayJSON {
	p := in.Summary.Players
	if p == nil {
		p = []replay.Player{}
	}
	return replayJSON{
		ID: in.ID, Started: in.Header.Started.UTC().Format(time.RFC3339Nano),
		DurationMS: in.Summary.LastTime.Sub(in.Summary.FirstTime).Milliseconds(), Rate: in.Header.Rate,
		FirstTick: in.Summary.FirstTick, LastTick: in.Summary.LastTick, Players: p,
		Winner: in.Summary.Winner, Reason: in.Summary.Reason, Size: in.Size,
		Complete: in.Summary.Complete && in.Indexed,
	}
}

// handleListReplays serves GET /api/replays: every finished replay, newest
// first (an empty list when recording is off).
func (s *Server) handleListReplays(w http.ResponseWriter, r *http.Request) {
	out := []replayJSON{}
	if s.replays != nil {
		for _, in := range s.replays.List() {
			out = append(out, toReplayJSON(in))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// replayInfo finds the request's replay or answers 404.
func (s *Server) replayInfo(w http.ResponseWriter, r *http.Request) (replay.Info, bool) {
	if s.replays != nil {
		if in, ok := s.replays.Get(r.PathValue("id")); ok {
			return in, true
		}
	}
	s.refuseHTTP(w, http.StatusNotFound, "no_such_replay", "no such replay")
	return replay.Info{}, false
}

func (s *Server) handleGetReplay(w http.ResponseWriter, r *http.Request) {
	if in, ok := s.replayInfo(w, r); ok {
		writeJSON(w, http.StatusOK, toReplayJSON(in))
	}
}

// handleDownloadReplay serves GET /api/replays/{id}/download: the file
// (ranges allowed).
func (s *Server) handleDownloadReplay(w http.ResponseWriter, r *http.Request) {
	in, ok := s.replayInfo(w, r)
	if !ok {
		return
	}
	path, ok := s.replays.Path(in.ID)
	f, err := os.Open(path)
	if !ok || err != nil {
		s.refuseHTTP(w, http.StatusNotFound, "no_such_replay", "no such replay")
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		s.refuseHTTP(w, http.StatusNotFound, "no_such_replay", "no such replay")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", `attachment; filename="`+in.ID+replay.Ext+`"`)
	http.ServeContent(w, r, "", fi.ModTime(), f)
}

// spectateReplay is the opener of a replay: the query as live (after or
// Last-Event-ID, rate), plus from= or t= (seek: start at the keyframe at
// or before) and speed=. Limits and counts are the live ones; the replay's
// stream, loaded once, is shared by all its spectators.
func (s *Server) spectateReplay(w http.ResponseWriter, r *http.Request, f wire.Format, transport string) (*stream.Cursor, func(), bool) {
	in, ok := s.replayInfo(w, r)
	if !ok {
		return nil, nil, false
	}
	rq, err := parseReplayQuery(r.URL.Query(), r.Header.Get("Last-Event-ID"), &in, s.cfg.Spectators.maxExtraDelay())
	if err != nil {
		s.refuseHTTP(w, http.StatusBadRequest, "bad_query", err.Error())
		return nil, nil, false
	}
	rep, err := s.replays.Load(in.ID)
	if err != nil {
		s.log.Warn().Err(err).Str("replay", in.ID).Msg("replay unreadable")
		s.refuseHTTP(w, http.StatusNotFound, "no_such_replay", "replay unreadable")
		return nil, nil, false
	}
	release, ok := s.admit(w, rep.Stream, s.metrics.replaySpectators.WithLabelValues(transport))
	if !ok {
		return nil, nil, false
	}
	cur := rep.Stream.NewCursor(f, rq.k, 0, rq.after)
	cur.Pace(rq.from, rq.speed)
	return cur, release, true
}

// replayRequest is what a replay spectator asks for.
type replayRequest struct {
	after uint64 // resume after this tick (0: start with a keyframe)
	k     uint64 // every k-th tick
	from  uint64 // the tick the playback starts at (its clock's origin)
	speed int64  // thousandths: 250…8000
}

// Replay speed bounds, in thousandths.
const (
	minReplaySpeed = 250
	maxReplaySpeed = 8000
)

// parseReplayQuery checks a replay spectator's query against the replay:
// after (Last-Event-ID wins) and rate as live (delay is accepted and has no
// effect); from (a tick of the replay) or t (seconds from its start, at
// most its duration), not both, seek to the keyframe at or before; speed
// 0.25…8. A resume (after) continues after that tick, whatever from or t
// say (a browser's reconnection repeats the first URL).
func parseReplayQuery(q url.Values, lastEventID string, in *replay.Info, maxDelay time.Duration) (replayRequest, error) {
	sr, err := parseSpectatorQuery(q, lastEventID, in.Header.Rate, maxDelay)
	if err != nil {
		return replayRequest{}, err
	}
	rq := replayRequest{after: sr.after, k: sr.k, speed: 1000}
	first, last := in.Summary.FirstTick, in.Summary.LastTick
	from, err := queryValue(q, "from")
	if err != nil {
		return rq, err
	}
	secs, err := queryValue(q, "t")
	if err != nil {
		return rq, err
	}
	speed, err := queryValue(q, "speed")
	if err != nil {
		return rq, err
	}
	seek := first
	switch {
	case from != "" && secs != "":
		return rq, errors.New("give from (a tick) or t (seconds), not both")
	case from != "":
		v, err := strconv.ParseUint(from, 10, 64)
		if err != nil || v < first || v > last {
			return rq, fmt.Errorf("from must be a tick of this replay, %d to %d", first, last)
		}
		seek = v
	case secs != "":
		dur := time.Duration(last-first) * time.Second / time.Duration(max(in.Header.Rate, 1))
		d, err := parseSeconds("t", secs, dur)
		if err != nil {
			return rq, err
		}
		seek = first + uint64(d.Milliseconds())*uint64(in.Header.Rate)/1000
	}
	if speed != "" {
		v, ok := parseMillis(speed)
		if !ok || v < minReplaySpeed || v > maxReplaySpeed {
			return rq, fmt.Errorf("speed must be a decimal number from 0.25 to 8, got %.24q", speed)
		}
		rq.speed = v
	}
	if rq.after != 0 {
		rq.from = rq.after // the playback goes on from the tick resumed after
	} else {
		rq.from = in.KeyframeAt(seek)
	}
	return rq, nil
}
