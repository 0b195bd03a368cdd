package client

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode/wire"
)

// fakeServer accepts one /play connection and hands it to serve; it
// speaks just enough of the protocol for the client's own tests.
func fakeServer(t *testing.T, serve func(ctx context.Context, c *websocket.Conn)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{wire.Subprotocol}})
		if err != nil {
			return
		}
		defer c.CloseNow()
		serve(r.Context(), c)
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/play"
}

// readClient reads client frames into msgs until the connection ends.
func readClient(ctx context.Context, c *websocket.Conn, msgs chan<- wire.ClientMsg) {
	d := wire.NewDecoder()
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			close(msgs)
			return
		}
		var m wire.ClientMsg
		if d.Decode(b, &m) == nil {
			msgs <- m
		}
	}
}

var testLayout = game.Layout{W: 100, H: 100, Precision: game.Precision{Pos: 0.5, AngleSteps: 1024}, ViewRadius: 450}

func TestClientAppliesSnapsAndAcks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	q := wire.NewQuant(testLayout.Precision)
	v1 := q.AppendRows(nil, []game.Entity{{ID: 1, Kind: 1, X: 10, Y: 20, HP: 100}, {ID: 1 << 24, Kind: 2, X: -3.5, Angle: 1}})
	v2 := q.AppendRows(nil, []game.Entity{{ID: 1, Kind: 1, X: 10.5, Y: 20, HP: 90}, {ID: 2, Kind: 1, X: 50, Y: 50, HP: 100}})
	msgs := make(chan wire.ClientMsg, 64)
	join := make(chan wire.ClientMsg, 1)
	step := make(chan struct{})
	url := fakeServer(t, func(ctx context.Context, c *websocket.Conn) {
		_, b, err := c.Read(ctx)
		if err != nil {
			return
		}
		var m wire.ClientMsg
		if err := wire.NewDecoder().Decode(b, &m); err != nil {
			t.Error(err)
			return
		}
		join <- m
		every, _ := m.JoinEvery()
		go readClient(ctx, c, msgs)
		res := game.JoinResult{Player: 1, Match: "m", TickRate: 30, MinPlayers: 3, Tick: 99, Layout: testLayout}
		_ = c.Write(ctx, websocket.MessageBinary, wire.EncodeWelcomeEvery(res, "tok", false, every))
		send := func(h wire.SnapHead, base, cur []game.Event, b, v []wire.Row) {
			_ = c.Write(ctx, websocket.MessageBinary, wire.AppendSnapBody(wire.AppendSnapPrefix(nil, 4), h, b, v, [][]game.Event{base, cur}))
		}
		send(wire.SnapHead{Tick: 100, State: game.StateRunning, Time: 1 << 41, Left: 5000}, []game.Event{{Kind: 1, A: 1}}, nil, nil, v1)
		<-step
		send(wire.SnapHead{Tick: 102, Base: 100, State: game.StateRunning, Time: 1<<41 + 66, Left: 4934}, nil, nil, v1, v2)
		<-ctx.Done()
	})
	c, err := Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	w, err := c.JoinEvery(ctx, "bob", "", 2)
	if err != nil {
		t.Fatal(err)
	}
	if jm := <-join; jm.Every != 2 || jm.Name != "bob" {
		t.Fatalf("join %+v", jm)
	}
	if w.Every != 2 || w.Quant != (wire.WireQuant{Pos: 0.5, Angle: 1024}) || w.Radius != 450 || w.Min != 3 {
		t.Fatalf("welcome %+v", w)
	}
	m, err := c.Next(ctx)
	if err != nil || m.Snap == nil {
		t.Fatalf("Next = %+v, %v", m, err)
	}
	s := m.Snap
	want := []game.Entity{{ID: 1, Kind: 1, X: 10, Y: 20, HP: 100}, {ID: 1 << 24, Kind: 2, X: -3.5, Angle: float32(163 * 2 * 3.141592653589793 / 1024)}}
	if s.Ack != 4 || s.Tick != 100 || s.Base != 0 || s.State != "running" || s.Time != 1<<41 || s.Left != 5000 ||
		!slices.Equal(s.Ents, want) || !slices.Equal(s.Rows, v1) || len(s.Ev) != 1 {
		t.Fatalf("snap %+v\nwant ents %+v", s, want)
	}
	if c.Applied() != 100 {
		t.Fatalf("Applied = %d", c.Applied())
	}
	// No input for 100 ms: an ack of 100 follows.
	start := time.Now()
	select {
	case a := <-msgs:
		if tick, err := a.AckTick(); a.T != wire.TypeAck || err != nil || tick != 100 {
			t.Fatalf("got %+v, want an ack of 100", a)
		}
	case <-ctx.Done():
		t.Fatal("no ack")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("ack after %v", d)
	}
	// Inputs carry the ack.
	if _, err := c.Input(ctx, wire.InputMsg{MX: 1}); err != nil {
		t.Fatal(err)
	}
	if in := <-msgs; in.T != wire.TypeInput || in.Ack != 100 || in.Seq != 1 {
		t.Fatalf("input %+v", in)
	}
	close(step)
	if m, err = c.Next(ctx); err != nil || m.Snap == nil {
		t.Fatalf("Next = %+v, %v", m, err)
	}
	if s := m.Snap; s.Tick != 102 || s.Base != 100 || !slices.Equal(s.Rows, v2) || s.Ents[0].X != 10.5 || s.Ents[0].HP != 90 {
		t.Fatalf("delta snap %+v", s)
	}
	// The first snap's slices are the caller's: still intact.
	if !slices.Equal(s.Rows, v1) || !slices.Equal(s.Ents, want) {
		t.Fatalf("the first snap changed: %+v", s)
	}
	// The input just sent keeps the ack message away for AckQuiet, then 102.
	select {
	case a := <-msgs:
		if tick, _ := a.AckTick(); a.T != wire.TypeAck || tick != 102 {
			t.Fatalf("got %+v, want an ack of 102", a)
		}
	case <-ctx.Done():
		t.Fatal("no ack of 102")
	}
}

// A delta against a baseline the client does not have is a protocol
// error; a head-only client acknowledges what it does not apply.
func TestClientRefusesUnknownBaseline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := fakeServer(t, func(ctx context.Context, c *websocket.Conn) {
		if _, _, err := c.Read(ctx); err != nil {
			return
		}
		_ = c.Write(ctx, websocket.MessageBinary, wire.EncodeWelcome(game.JoinResult{Player: 1, Match: "m", Layout: testLayout}, "t", false))
		rows := []wire.Row{{ID: 1}}
		_ = c.Write(ctx, websocket.MessageBinary, wire.AppendSnapBody(wire.AppendSnapPrefix(nil, 0), wire.SnapHead{Tick: 7, Base: 5}, rows, []wire.Row{{ID: 1, F: [wire.NumFields]int32{1}}}, nil))
		<-ctx.Done()
	})
	for _, headOnly := range []bool{false, true} {
		c, err := Dial(ctx, url, &Options{SnapHeadOnly: headOnly})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Join(ctx, "bob", ""); err != nil {
			t.Fatal(err)
		}
		m, err := c.Next(ctx)
		if headOnly {
			if err != nil || m.Snap == nil || m.Snap.Tick != 7 || m.Snap.Ents != nil || c.Applied() != 7 {
				t.Fatalf("head only: %+v, %v, applied %d", m.Snap, err, c.Applied())
			}
		} else if err == nil || c.Applied() != 0 {
			t.Fatalf("delta without baseline: %+v, %v", m.Snap, err)
		}
		c.CloseNow()
	}
}
