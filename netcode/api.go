package netcode

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/tickstream/tickstream/game"
)

// matchJSON is a match in the HTTP API.
type matchJSON struct {
	ID         string     `json:"id"`
	Players    int        `json:"players"`
	Max        int        `json:"max"`
	Min        int        `json:"min"` // players it waits for before it runs
	State      string     `json:"state"`
	Rate       int        `json:"rate"`
	Age        float64    `json:"age"`
	Spectators int64      `json:"spectators"`
	Delay      float64    `json:"delay"` // the match's broadcast delay, seconds
	Arena      *arenaJSON `json:"arena,omitempty"`
	// Node and URL name the node that owns the match in a cluster (the
	// node's id and public base URL); absent on a single node.
	Node string `json:"node,omitempty"`
	URL  string `json:"url,omitempty"`
}

type arenaJSON struct {
	W         float64      `json:"w"`
	H         float64      `json:"h"`
	Obstacles [][4]float64 `json:"obstacles"`
}

func (s *Server) toMatchJSON(i game.MatchInfo, now time.Time) matchJSON {
	m := matchJSON{
		ID: i.ID, Players: i.Players, Max: i.MaxPlayers, Min: i.MinPlayers, State: i.State.String(),
		Rate: i.TickRate, Age: float64(now.Sub(i.Created).Milliseconds()) / 1000,
		Node: s.cfg.Node, URL: s.cfg.PublicURL,
	}
	if h := s.hubFor(i.ID); h != nil {
		m.Spectators = h.st.Spectators.Load()
		m.Delay = h.st.Delay().Seconds()
	}
	return m
}

// remoteMatchJSON is a match of another node, as its owner last reported
// it to the cluster directory (no arena: its owner's GET has it).
func remoteMatchJSON(rm RemoteMatch, now time.Time) matchJSON {
	i := rm.MatchInfo
	return matchJSON{
		ID: i.ID, Players: i.Players, Max: i.MaxPlayers, Min: i.MinPlayers, State: i.State.String(),
		Rate: i.TickRate, Age: float64(now.Sub(i.Created).Milliseconds()) / 1000,
		Spectators: rm.Spectators, Delay: rm.Delay.Seconds(), Node: rm.Node, URL: rm.URL,
	}
}

func (s *Server) handleListMatches(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	list := s.dir.List()
	out := make([]matchJSON, len(list))
	for i, m := range list {
		out[i] = s.toMatchJSON(m, now)
	}
	if rt := s.cfg.Router; rt != nil {
		for _, rm := range rt.Remote() {
			out = append(out, remoteMatchJSON(rm, now))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"matches": out})
}

func (s *Server) handleGetMatch(w http.ResponseWriter, r *http.Request) {
	m := s.dir.Get(r.PathValue("id"))
	if m == nil && s.cfg.Router != nil {
		if rm, ok := s.cfg.Router.Lookup(r.PathValue("id")); ok {
			writeJSON(w, http.StatusOK, remoteMatchJSON(rm, time.Now()))
			return
		}
	}
	if m == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such match"})
		return
	}
	mj := s.toMatchJSON(m.Info(), time.Now())
	l := m.Layout()
	mj.Arena = &arenaJSON{W: l.W, H: l.H, Obstacles: make([][4]float64, len(l.Obstacles))}
	for i, o := range l.Obstacles {
		mj.Arena.Obstacles[i] = [4]float64{o.X, o.Y, o.W, o.H}
	}
	writeJSON(w, http.StatusOK, mj)
}

// createRequest is the body of POST /api/matches; absent (or null) fields
// take the server's defaults, present ones must be in the documented range
// (docs/protocol.md). Numbers are kept as literals and range-checked
// before any conversion (see bodyNumber).
type createRequest struct {
	Rate       bodyNumber `json:"rate"`        // Hz, game.MinTickRate…game.MaxTickRate
	MaxPlayers bodyNumber `json:"max_players"` // 1…game.MaxSeats
	MinPlayers bodyNumber `json:"min_players"` // 1…max_players (given, or the server's)
	TimeLimit  bodyNumber `json:"time_limit"`  // seconds, 10…3600
	ScoreLimit bodyNumber `json:"score_limit"` // kills, 1…game.MaxScoreLimit
	// SpectatorDelay is the broadcast delay in seconds, 0…60, millisecond
	// precision.
	SpectatorDelay bodyNumber `json:"spectator_delay"`
}

// config checks every present field against its range. A min_players
// above the server's default max_players is refused by the directory
// (game.MatchConfig.Validate), which knows the defaults.
func (c createRequest) config() (game.MatchConfig, error) {
	var cfg game.MatchConfig
	var err error
	intField := func(n bodyNumber, name string, lo, hi int, dst *int) {
		if err == nil && n != "" {
			*dst, err = n.intIn(name, lo, hi)
		}
	}
	var secs int
	intField(c.Rate, "rate", game.MinTickRate, game.MaxTickRate, &cfg.TickRate)
	intField(c.MaxPlayers, "max_players", 1, game.MaxSeats, &cfg.MaxPlayers)
	intField(c.MinPlayers, "min_players", 1, game.MaxSeats, &cfg.MinPlayers)
	intField(c.TimeLimit, "time_limit", int(game.MinTimeLimit/time.Second), int(game.MaxTimeLimit/time.Second), &secs)
	intField(c.ScoreLimit, "score_limit", 1, game.MaxScoreLimit, &cfg.ScoreLimit)
	if err == nil && c.SpectatorDelay != "" {
		cfg.SpectatorDelay, err = c.SpectatorDelay.secondsIn("spectator_delay", game.MaxSpectatorDelay)
	}
	if err != nil {
		return cfg, err
	}
	if cfg.MaxPlayers != 0 && cfg.MinPlayers > cfg.MaxPlayers {
		return cfg, fmt.Errorf("min_players must be from 1 to max_players (%d), got %d", cfg.MaxPlayers, cfg.MinPlayers)
	}
	cfg.TimeLimit = time.Duration(secs) * time.Second // secs ≤ 3600: no overflow
	return cfg, nil
}

func (s *Server) handleCreateMatch(w http.ResponseWriter, r *http.Request) {
	if !isJSONContent(r.Header.Get("Content-Type")) { // a cross-site form cannot send JSON
		s.refuseHTTP(w, http.StatusUnsupportedMediaType, "bad_content_type", "Content-Type must be application/json")
		return
	}
	if !s.createAllowed(w, r) { // API token, per-client creation limit (limits.go)
		return
	}
	var req createRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		s.refuseHTTP(w, http.StatusBadRequest, "bad_json", "bad JSON body: "+err.Error())
		return
	}
	cfg, err := req.config()
	if err != nil {
		s.refuseHTTP(w, http.StatusBadRequest, "bad_config", err.Error())
		return
	}
	m, err := s.dir.Create(cfg)
	switch {
	case errors.Is(err, game.ErrServerFull):
		s.refuseHTTP(w, http.StatusServiceUnavailable, "server_full", "server match limit reached")
		return
	case err != nil:
		s.refuseHTTP(w, http.StatusBadRequest, "bad_config", err.Error())
		return
	}
	writeJSON(w, http.StatusCreated, s.toMatchJSON(m.Info(), time.Now()))
}

// refuseHTTP answers an error status with {"error": reason} and counts it.
func (s *Server) refuseHTTP(w http.ResponseWriter, status int, label, reason string) {
	s.metrics.refusals.WithLabelValues(label).Inc()
	writeJSON(w, status, map[string]string{"error": reason})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
