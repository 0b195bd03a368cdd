package stream

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tickstream/tickstream/game"
)

// BenchmarkInterestScaling is one tick of a match of n players whose world
// grows with the match (constant density: the 1600×900 arena's for 50
// players, scaled in area), everybody moving and one projectile in flight
// per two players: the push, then every player's snapshot as a delta from
// the previous tick (a client that keeps up). With interest management the
// bytes per delta stay flat as the match grows; without, they grow with n.
func BenchmarkInterestScaling(b *testing.B) {
	for _, n := range []int{50, 100, 200} {
		for _, radius := range []float64{450, 0} {
			b.Run(fmt.Sprintf("players=%d/radius=%v", n, radius), func(b *testing.B) {
				scale := math.Sqrt(float64(n) / 50)
				w, h := 1600*scale, 900*scale
				rng := rand.New(rand.NewPCG(1, uint64(n)))
				ents := make([]game.Entity, 0, n+n/2)
				for i := 1; i <= n; i++ {
					ents = append(ents, game.Entity{ID: uint32(i), Kind: game.KindPlayer, X: float32(rng.Float64() * w), Y: float32(rng.Float64() * h), HP: 100})
				}
				for i := 0; i < n/2; i++ {
					ents = append(ents, game.Entity{ID: uint32(game.FirstObjectID + i), Kind: game.KindProjectile, X: float32(rng.Float64() * w), Y: float32(rng.Float64() * h)})
				}
				layout := game.Layout{Precision: game.Precision{Pos: 0.5, AngleSteps: 1024}, ViewRadius: radius}
				st := New(Config{Rate: 20, Keep: time.Second, Layout: layout})
				players := make([]*Player, n)
				bufs := make([][]byte, n)
				for i := range players {
					players[i] = st.NewPlayer(game.PlayerID(i+1), 1, 0)
				}
				var tick uint64
				var bytes, deltas int
				step := func(measure bool) {
					tick++
					next := make([]game.Entity, len(ents))
					for i, e := range ents {
						speed := 15.0 // a player at 300 units/s, 20 Hz
						if e.Kind == game.KindProjectile {
							speed = 45
						}
						a := float64(i) + float64(tick)*0.05
						e.X = float32(math.Mod(float64(e.X)+speed*math.Cos(a)+w, w))
						e.Y = float32(math.Mod(float64(e.Y)+speed*math.Sin(a)+h, h))
						e.Angle = float32(math.Remainder(a, 2*math.Pi))
						next[i] = e
					}
					ents = next
					st.Push(&game.Snapshot{Tick: tick, Time: time.UnixMilli(int64(tick) * 50), State: game.StateRunning, Entities: ents})
					for i, p := range players {
						var ok bool
						if bufs[i], ok = p.Next(bufs[i][:0]); ok {
							p.Ack(tick, time.Now(), time.Second)
							if measure && tick > 1 {
								bytes += len(bufs[i])
								deltas++
							}
						}
					}
				}
				for i := 0; i < 5; i++ {
					step(false)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					step(true)
				}
				if deltas > 0 {
					b.ReportMetric(float64(bytes)/float64(deltas), "bytes/delta")
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/player")
			})
		}
	}
}
