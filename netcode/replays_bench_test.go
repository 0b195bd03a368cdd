package netcode_test

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode"
	"github.com/tickstream/tickstream/netcode/nettest"
	"github.com/tickstream/tickstream/netcode/replay"
	"github.com/tickstream/tickstream/netcode/wire"
)

// writeArenaReplay records a 16-player, 30 Hz arena match of ticks ticks
// into dir as replay id.
func writeArenaReplay(b *testing.B, dir, id string, ticks int) {
	st, err := replay.NewStore(replay.Config{Dir: dir, Queue: ticks + 1})
	if err != nil {
		b.Fatal(err)
	}
	a := game.NewArena()
	a.Init(1, 30, 1000)
	var roster []game.PlayerInfo
	for i := 1; i <= 16; i++ {
		a.Join(game.PlayerID(i), "p")
		roster = append(roster, game.PlayerInfo{ID: game.PlayerID(i), Name: "p"})
	}
	a.Start()
	r := st.Start(id, 30, wire.NewQuant(a.Layout().Precision))
	rng := rand.New(rand.NewPCG(1, 1))
	start := time.Now().Add(-time.Hour)
	for t := 1; t <= ticks; t++ {
		in := make([]game.Input, 16)
		for p := range in {
			in[p] = game.Input{Player: game.PlayerID(p + 1), Seq: uint32(t), MoveX: rng.Float64()*2 - 1, MoveY: rng.Float64()*2 - 1, Buttons: uint8(rng.IntN(2))}
		}
		a.Step(game.StepInfo{Tick: uint64(t), Dt: time.Second / 30, Scoring: true}, in)
		s := &game.Snapshot{Match: id, Tick: uint64(t), Time: start.Add(time.Duration(t) * time.Second / 30), State: game.StateRunning}
		s.Entities, s.Events = a.AppendSnapshot(nil, nil)
		if t == 1 {
			s.Roster = roster
		}
		if t == ticks {
			s.State, s.End = game.StateEnded, &game.Result{Reason: "time", Scores: a.Scores()}
		}
		r.Offer(s)
	}
	r.Close()
	if err := st.Close(context.Background()); err != nil || r.Failure() != "" {
		b.Fatalf("recording: %v %s", err, r.Failure())
	}
}

// BenchmarkReplaySSESpectators plays one 10 s replay at speed 8 to 1,000
// SSE spectators at once, per iteration. records-read/op is how many file
// records the iteration read: the replay is loaded once for everyone (the
// first iteration reads it; the later ones read nothing).
func BenchmarkReplaySSESpectators(b *testing.B) {
	dir := b.TempDir()
	writeArenaReplay(b, dir, "bench", 300)
	srv := nettest.StartServer(b, netcode.Config{Replays: replay.Config{Dir: dir}}, game.DirectoryConfig{})
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1000}}
	const n = 1000
	var read float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		before := nettest.Scrape(b, srv.URL+"/metrics", "tickstream_replay_records_read_total", "")
		var wg sync.WaitGroup
		var mu sync.Mutex
		var bytes int64
		for j := 0; j < n; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := hc.Get(srv.URL + "/api/replays/bench/events?speed=8")
				if err != nil {
					b.Error(err)
					return
				}
				defer resp.Body.Close()
				c, _ := io.Copy(io.Discard, resp.Body)
				mu.Lock()
				bytes += c
				mu.Unlock()
			}()
		}
		wg.Wait()
		read += nettest.Scrape(b, srv.URL+"/metrics", "tickstream_replay_records_read_total", "") - before
		if bytes < n*1000 {
			b.Fatalf("spectators got %d bytes in all", bytes)
		}
	}
	b.ReportMetric(read/float64(b.N), "records-read/op")
}
