package game

import (
	"strings"
	"testing"
)

// Only a default MinPlayers is lowered to fit the seats; one that was asked
// for and does not fit is an error, never silently changed.
func TestMinPlayersAgainstMaxPlayers(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cfg, def MatchConfig
		min      int    // MinPlayers after WithDefaults, when valid
		err      string // "" when valid
	}{
		{"default lowered to one seat", MatchConfig{MaxPlayers: 1}, MatchConfig{}, 1, ""},
		{"server default lowered", MatchConfig{MaxPlayers: 3}, MatchConfig{MinPlayers: 5}, 3, ""},
		{"both given, fits", MatchConfig{MinPlayers: 4, MaxPlayers: 4}, MatchConfig{}, 4, ""},
		{"both given, above", MatchConfig{MinPlayers: 5, MaxPlayers: 4}, MatchConfig{}, 0, "min players must be 1…4 (the max players), got 5"},
		{"above the default max", MatchConfig{MinPlayers: 17}, MatchConfig{}, 0, "min players must be 1…16"},
		{"above the server's max", MatchConfig{MinPlayers: 9}, MatchConfig{MaxPlayers: 8}, 0, "min players must be 1…8"},
		{"negative", MatchConfig{MinPlayers: -1}, MatchConfig{}, 0, "min players"},
	} {
		c := tc.cfg.WithDefaults(tc.def)
		err := c.Validate()
		switch {
		case tc.err == "" && (err != nil || c.MinPlayers != tc.min):
			t.Errorf("%s: min %d, %v; want %d", tc.name, c.MinPlayers, err, tc.min)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.err)
		}
	}
}
