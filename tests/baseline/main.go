// Command baseline is the yardstick of docs/benchmarks.md: a bare
// coder/websocket fan-out (one frame to N sockets on a ticker, a writer
// goroutine per connection, latest-wins), and a client fleet that counts
// what arrives. It measures the server CPU per delivered frame that the
// game server is compared with.
//
//	go run ./tests/baseline -mode server -addr 127.0.0.1:18090 -rate 20 -size 2000 -duration 40s
//	go run ./tests/baseline -mode clients -url ws://127.0.0.1:18090 -n 2000 -duration 30s
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/coder/websocket"
)

func main() {
	mode := flag.String("mode", "server", "server or clients")
	addr := flag.String("addr", "127.0.0.1:18090", "server: listen address")
	rate := flag.Int("rate", 20, "server: frames per second")
	size := flag.Int("size", 2000, "server: frame size in bytes")
	url := flag.String("url", "ws://127.0.0.1:18090", "clients: server URL")
	n := flag.Int("n", 1000, "clients: connections")
	duration := flag.Duration("duration", 30*time.Second, "how long to run (clients: measured after a 5 s ramp-up)")
	flag.Parse()
	var err error
	if *mode == "server" {
		err = server(*addr, *rate, *size, *duration)
	} else {
		err = clients(*url, *n, *duration)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
}

func cpu() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

type conn struct {
	c    *websocket.Conn
	slot chan []byte // latest wins
}

func server(addr string, rate, size int, duration time.Duration) error {
	var (
		mu    sync.Mutex
		conns []*conn // stable order
		sent  atomic.Int64
	)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
		if err != nil {
			return
		}
		cn := &conn{c: c, slot: make(chan []byte, 1)}
		mu.Lock()
		conns = append(conns, cn)
		mu.Unlock()
		ctx := c.CloseRead(context.Background())
		for {
			select {
			case <-ctx.Done():
				return
			case f := <-cn.slot:
				wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				err := c.Write(wctx, websocket.MessageBinary, f)
				cancel()
				if err != nil {
					return
				}
				sent.Add(1)
			}
		}
	})
	go http.ListenAndServe(addr, h)
	frame := make([]byte, size)
	t := time.NewTicker(time.Second / time.Duration(rate))
	defer t.Stop()
	stop := time.After(duration)
	var cpu0 float64
	var sent0 int64
	start := time.Now()
	measuring := false
	for {
		select {
		case <-stop:
			el := time.Since(start).Seconds()
			c, s := cpu()-cpu0, sent.Load()-sent0
			fmt.Printf("bare fan-out: %d conns, %.0f frames/s delivered, %.2f s CPU over %.0f s, %.1f µs CPU per delivered frame\n",
				len(conns), float64(s)/el, c, el, c/float64(s)*1e6)
			return nil
		case <-t.C:
			if !measuring && time.Since(start) > 5*time.Second {
				measuring, cpu0, sent0, start = true, cpu(), sent.Load(), time.Now()
			}
			mu.Lock()
			for _, cn := range conns {
				select {
				case cn.slot <- frame:
				default:
					select { // replace the stale one
					case <-cn.slot:
					default:
					}
					cn.slot <- frame
				}
			}
			mu.Unlock()
		}
	}
}

func clients(url string, n int, duration time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), duration+10*time.Second)
	defer cancel()
	var (
		frames  atomic.Int64
		measure atomic.Bool
		mu      sync.Mutex
		inter   = hdrhistogram.New(1, 60_000_000, 3)
	)
	for i := 0; i < n; i++ {
		go func() {
			c, _, err := websocket.Dial(ctx, url, nil)
			if err != nil {
				return
			}
			c.SetReadLimit(1 << 20)
			var last time.Time
			for {
				_, _, err := c.Read(ctx)
				if err != nil {
					return
				}
				now := time.Now()
				if measure.Load() {
					frames.Add(1)
					if !last.IsZero() {
						mu.Lock()
						inter.RecordValue(now.Sub(last).Microseconds())
						mu.Unlock()
					}
				}
				last = now
			}
		}()
		time.Sleep(time.Millisecond)
	}
	time.Sleep(5 * time.Second)
	measure.Store(true)
	start := time.Now()
	time.Sleep(duration)
	el := time.Since(start).Seconds()
	mu.Lock()
	defer mu.Unlock()
	fmt.Printf("clients: %d, %.0f frames/s received, inter-arrival p50 %.1f ms, p99 %.1f ms\n",
		n, float64(frames.Load())/el, float64(inter.ValueAtQuantile(50))/1000, float64(inter.ValueAtQuantile(99))/1000)
	return nil
}
