package nettest

import (
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode"
)

// StartServer serves the server's handler on loopback, hands out its
// directory and its URLs, and applies Options.
func TestStartServer(t *testing.T) {
	var wrapped atomic.Bool
	s := StartServerWith(t, netcode.Config{}, game.DirectoryConfig{}, Options{
		HTTP: &netcode.HTTPOptions{},
		Listener: func(ln net.Listener) net.Listener {
			wrapped.Store(true)
			return netcode.TuneListener(ln)
		},
	})
	if !wrapped.Load() {
		t.Error("Options.Listener was not applied")
	}
	if s.Dir == nil || netcode.Directory(s.Dir) != s.Directory() {
		t.Fatalf("Dir %p is not the server's directory %v", s.Dir, s.Directory())
	}
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") || s.URL != "http://"+s.Addr || s.WSURL != "ws://"+s.Addr+"/play" {
		t.Fatalf("URL %q, WSURL %q, Addr %q", s.URL, s.WSURL, s.Addr)
	}
	m, err := s.Dir.Create(game.MatchConfig{TickRate: 20, MinPlayers: 1})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(s.URL + "/api/matches/" + m.ID())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET the match: %d", resp.StatusCode)
	}
}
