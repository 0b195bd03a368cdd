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
	State      string     `json:"state"`
	Rate       int        `json:"rate"`
	Age        float64    `json:"age"`
	Spectators int64      `json:"spectators"`
	Delay      float64    `json:"delay"` // the match's broadcast delay, seconds
	Arena      *arenaJSON `json:"arena,omitempty"`
}

type arenaJSON struct {
	W         float64      `json:"w"`
	H         float64      `json:"h"`
	Obstacles [][4]float64 `json:"obstacles"`
}

func (s *Server) toMatchJSON(i game.MatchInfo, now time.Time) matchJSON {
	m := matchJSON{
		ID: i.ID, Players: i.Players, Max: i.MaxPlayers, State: i.State.String(),
		Rate: i.TickRate, Age: float64(now.Sub(i.Created).Milliseconds()) / 1000,
	}
	if h := s.hubFor(i.ID); h != nil {
		m.Spectators = h.hist.spectators.Load()
		m.Delay = h.hist.serverDelay.Seconds()
	}
	return m
}

func (s *Server) handleListMatches(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	list := s.dir.List()
	out := make([]matchJSON, len(list))
	for i, m := range list {
		out[i] = s.toMatchJSON(m, now)
	}
	writeJSON(w, http.StatusOK, map[string]any{"matches": out})
}

func (s *Server) handleGetMatch(w http.ResponseWriter, r *http.Request) {
	m := s.dir.Get(r.PathValue("id"))
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

// createRequest is the body of POST /api/matches; absent fields take the
// server's defaults, present ones must be in range.
type createRequest struct {
	Rate       *int `json:"rate"`
	MaxPlayers *int `json:"max_players"`
	MinPlayers *int `json:"min_players"`
	TimeLimit  *int `json:"time_limit"`
	ScoreLimit *int `json:"score_limit"`
	// SpectatorDelay is the broadcast delay in seconds (0 allowed).
	SpectatorDelay *float64 `json:"spectator_delay"`
}

func (c createRequest) config() (game.MatchConfig, error) {
	var cfg game.MatchConfig
	set := func(v *int, name string, dst *int) error {
		if v == nil {
			return nil
		}
		if *v <= 0 {
			return fmt.Errorf("%s must be positive", name)
		}
		*dst = *v
		return nil
	}
	var secs int
	for _, f := range []struct {
		v    *int
		name string
		dst  *int
	}{
		{c.Rate, "rate", &cfg.TickRate},
		{c.MaxPlayers, "max_players", &cfg.MaxPlayers},
		{c.MinPlayers, "min_players", &cfg.MinPlayers},
		{c.TimeLimit, "time_limit", &secs},
		{c.ScoreLimit, "score_limit", &cfg.ScoreLimit},
	} {
		if err := set(f.v, f.name, f.dst); err != nil {
			return cfg, err
		}
	}
	cfg.TimeLimit = time.Duration(secs) * time.Second
	if d := c.SpectatorDelay; d != nil {
		if !(*d >= 0) || *d > game.MaxSpectatorDelay.Seconds() {
			return cfg, fmt.Errorf("spectator_delay must be 0…%g seconds", game.MaxSpectatorDelay.Seconds())
		}
		cfg.SpectatorDelay = time.Duration(*d * float64(time.Second))
	}
	return cfg, nil
}

func (s *Server) handleCreateMatch(w http.ResponseWriter, r *http.Request) {
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
