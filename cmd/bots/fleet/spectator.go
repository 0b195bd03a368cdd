package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/tickstream/tickstream/netcode/client"
	"github.com/tickstream/tickstream/netcode/wire"
)

// spectatorBot watches one match over one transport, reconnecting (with
// the last tick, as a browser would) when its stream breaks. A replay
// spectator (Scenario.SpectateReplays) watches finished matches the same
// way under /api/replays/{id}/… at the scenario's speed, and starts the
// next replay from its beginning when one ends.
type spectatorBot struct {
	r         *runner
	id        int
	transport string // ws, sse, poll
	match     string
	replay    bool   // match is a replay's id
	played    int    // replays played to their end (replay spectators)
	after     uint64 // last keyframe/delta tick received
	ok        bool   // counted in spectatorsOK
}

func newSpectatorBot(r *runner, id int, transport, match string) *spectatorBot {
	return &spectatorBot{r: r, id: id, transport: transport, match: match}
}

func newReplaySpectatorBot(r *runner, id int, transport string) *spectatorBot {
	return &spectatorBot{r: r, id: id, transport: transport, match: r.replayFor(id, 0), replay: true}
}

// replayPause is the wait before a replay spectator starts the next replay.
const replayPause = 100 * time.Millisecond

func (s *spectatorBot) run(ctx context.Context) {
	r := s.r
	if s.match == "" {
		r.c.failed.Add(1)
		r.c.errors.Add(1)
		return
	}
	for ctx.Err() == nil {
		r.c.spectatorsLive.Add(1)
		var err error
		switch s.transport {
		case "ws":
			err = s.watchWS(ctx)
		case "poll":
			err = s.watchPoll(ctx)
		default:
			err = s.watchSSE(ctx)
		}
		r.c.spectatorsLive.Add(-1)
		if ctx.Err() != nil {
			return
		}
		if err == errStreamOver && s.replay {
			// Played out: the next replay, from its start.
			r.c.disconnect("replay_end")
			s.played++
			s.match, s.after = r.replayFor(s.id, s.played), 0
			sleepUntil(ctx, time.Now().Add(replayPause))
			continue
		}
		if err == errStreamOver {
			r.c.disconnect("spectator_end")
			return
		}
		r.c.disconnect("spectator_" + s.transport + "_error")
		r.c.errors.Add(1)
		sleepUntil(ctx, time.Now().Add(time.Second))
	}
}

var errStreamOver = fmt.Errorf("stream over")

// event counts one keyframe or delta: its tick and server time.
func (s *spectatorBot) event(tick uint64, serverMS int64) {
	r := s.r
	if !s.ok {
		s.ok = true
		r.c.spectatorsOK.Add(1)
	}
	s.after = tick
	r.c.specEvents.Add(1)
	if r.measure.Load() && serverMS > 0 && !s.replay { // a replay's times are its match's
		// Same machine as the server in our runs; across machines this
		// includes the clock difference.
		d := time.Duration(time.Now().UnixMilli()-serverMS) * time.Millisecond
		r.specDelay.record(s.id, max(d, 0))
	}
}

func (s *spectatorBot) query() string {
	q := url.Values{}
	if s.after > 0 {
		q.Set("after", strconv.FormatUint(s.after, 10))
	}
	if s.r.sc.SpectatorRate > 0 {
		q.Set("rate", strconv.FormatFloat(s.r.sc.SpectatorRate, 'f', -1, 64))
	}
	if s.r.sc.SpectatorDelay > 0 && !s.replay {
		q.Set("delay", strconv.FormatFloat(s.r.sc.SpectatorDelay, 'f', -1, 64))
	}
	if s.replay && s.r.sc.ReplaySpeed > 0 && s.r.sc.ReplaySpeed != 1 {
		q.Set("speed", strconv.FormatFloat(s.r.sc.ReplaySpeed, 'f', -1, 64))
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// path is the stream's endpoint (watch, events, poll) of the match or replay.
func (s *spectatorBot) path(endpoint string) string {
	if s.replay {
		return "/api/replays/" + url.PathEscape(s.match) + "/" + endpoint
	}
	return "/api/matches/" + s.match + "/" + endpoint
}

// countingReader adds what it reads to a counter.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// jsonTime finds "time":<ms> in an event's JSON without decoding it all.
func jsonTime(data []byte) int64 {
	i := bytes.Index(data, []byte(`"time":`))
	if i < 0 {
		return 0
	}
	j := i + len(`"time":`)
	k := j
	for k < len(data) && (data[k] == '-' || (data[k] >= '0' && data[k] <= '9')) {
		k++
	}
	v, _ := strconv.ParseInt(string(data[j:k]), 10, 64)
	return v
}

func (s *spectatorBot) watchSSE(ctx context.Context) error {
	req, _ := http.NewRequestWithContext(ctx, "GET", s.r.base+s.path("events")+s.query(), nil)
	if s.after > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatUint(s.after, 10))
	}
	resp, err := sseClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("SSE: HTTP %d", resp.StatusCode)
	}
	rd := client.NewSSEReader(countingReader{resp.Body, &s.r.c.specBytes})
	for {
		ev, err := rd.Next()
		if err != nil {
			if s.replay && errors.Is(err, io.EOF) {
				// A replay of a match that closed without an end: played out.
				return errStreamOver
			}
			return err
		}
		switch ev.Event {
		case wire.SpecKeyframe, wire.SpecDelta:
			id, _ := strconv.ParseUint(ev.ID, 10, 64)
			s.event(id, jsonTime([]byte(ev.Data)))
		case wire.SpecEnd:
			return errStreamOver
		case wire.SpecError:
			return fmt.Errorf("SSE error event: %s", ev.Data)
		}
	}
}

var sseClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024, DisableCompression: true}}

func (s *spectatorBot) watchPoll(ctx context.Context) error {
	for ctx.Err() == nil {
		q := s.query()
		if q == "" {
			q = "?wait=5"
		} else {
			q += "&wait=5"
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", s.r.base+s.path("poll")+q, nil)
		resp, err := sseClient.Do(req)
		if err != nil {
			return err
		}
		var a struct {
			Events []struct {
				ID    uint64          `json:"id"`
				Event string          `json:"event"`
				Data  json.RawMessage `json:"data"`
			} `json:"events"`
			Next uint64 `json:"next"`
			Done bool   `json:"done"`
		}
		err = json.NewDecoder(countingReader{resp.Body, &s.r.c.specBytes}).Decode(&a)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			return fmt.Errorf("poll: HTTP %d: %v", resp.StatusCode, err)
		}
		for _, e := range a.Events {
			if e.Event == wire.SpecKeyframe || e.Event == wire.SpecDelta {
				s.event(e.ID, jsonTime(e.Data))
			}
		}
		if a.Done {
			return errStreamOver
		}
	}
	return ctx.Err()
}

func (s *spectatorBot) watchWS(ctx context.Context) error {
	c, err := client.Dial(ctx, s.r.wsBase+s.path("watch")+s.query(),
		&client.Options{BytesRead: &s.r.c.specBytes})
	if err != nil {
		return err
	}
	defer c.CloseNow()
	dec := wire.NewMessageDecoder()
	var head struct {
		Tick uint64 `msgpack:"tick"`
		Time int64  `msgpack:"time"`
	}
	for {
		kind, b, err := c.NextRaw(ctx)
		if err != nil {
			if client.CloseCode(err) == wire.CloseNormal {
				return errStreamOver
			}
			return err
		}
		switch kind {
		case wire.SpecKeyframe, wire.SpecDelta:
			if err := dec.Decode(b, &head); err != nil {
				return err
			}
			s.event(head.Tick, head.Time)
		case wire.SpecEnd:
			return errStreamOver
		}
	}
}
