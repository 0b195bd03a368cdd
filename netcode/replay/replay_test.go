package replay

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode/stream"
	"github.com/tickstream/tickstream/netcode/wire"
)

// events drains a cursor completely (the stream is closed), stepping at
// a time far ahead so a paced cursor's head is at the end.
func drain(t *testing.T, c *stream.Cursor, now time.Time) []stream.Event {
	t.Helper()
	var out []stream.Event
	for i := 0; i < 100000 && !c.Done(); i++ {
		var evs []stream.Event
		evs, _ = c.Step(now.Add(time.Duration(i)*time.Second), evs)
		out = append(out, evs...)
	}
	if !c.Done() {
		t.Fatal("cursor never done")
	}
	return out
}

// A recorded match, loaded back, gives a spectator exactly the events a
// live spectator of the whole match got: same keyframe, then the same
// deltas, match events and end, byte for byte, in JSON and msgpack, at
// every rate step tried.
func TestReplayMatchesLive(t *testing.T) {
	const rate = 30
	snaps := arenaMatch(1, 6, rate, 300)
	live := stream.New(stream.Config{Rate: rate, Keep: time.Minute, Layout: game.Layout{Precision: game.DefaultPrecision}})
	live.Watch()
	far := time.UnixMilli(1_780_000_000_000).Add(24 * time.Hour) // after every tick
	type liveSpec struct {
		c   *stream.Cursor
		evs []stream.Event
	}
	var specs []*liveSpec // spectators from the first tick: JSON and msgpack, every tick and every 3rd
	for _, f := range []wire.Format{wire.FormatJSON, wire.FormatMsgpack} {
		for _, k := range []uint64{1, 3} {
			specs = append(specs, &liveSpec{c: live.NewCursor(f, k, 0, 0)})
		}
	}
	for _, s := range snaps {
		live.Push(s)
		for _, sp := range specs {
			evs, _ := sp.c.Step(far, nil) // Step's batch limit counts what it is given
			sp.evs = append(sp.evs, evs...)
		}
	}
	live.Close()
	for _, sp := range specs {
		evs, _ := sp.c.Step(far, nil)
		sp.evs = append(sp.evs, evs...)
		if !sp.c.Done() {
			l := sp.evs[len(sp.evs)-1]
			t.Fatalf("live spectator not done: %d events, last %s %d %.200s", len(sp.evs), l.Kind, l.ID, l.Data)
		}
	}
	data := record(t, snaps, rate)
	r, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Indexed || !r.Summary.Complete || r.Summary.FirstTick != 1 || r.Summary.LastTick != 300 || r.Summary.Reason != "time" {
		t.Fatalf("summary %+v indexed %v", r.Summary, r.Indexed)
	}
	if len(r.Keyframes) != 5 { // every 60 ticks
		t.Fatalf("keyframes %v", r.Keyframes)
	}
	rep, err := r.Load()
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for _, f := range []wire.Format{wire.FormatJSON, wire.FormatMsgpack} {
		for _, k := range []uint64{1, 3} {
			want := specs[i].evs
			i++
			rc := rep.Stream.NewCursor(f, k, 0, 0)
			rc.Pace(0, 8000)
			rc.NeverBehind()
			got := drain(t, rc, far)
			if len(got) != len(want) {
				t.Fatalf("format %d k %d: %d events, live %d", f, k, len(got), len(want))
			}
			for i := range got {
				if got[i].Kind != want[i].Kind || got[i].ID != want[i].ID || !bytes.Equal(got[i].Data, want[i].Data) {
					t.Fatalf("format %d k %d event %d: %s %d %q, live %s %d %q", f, k, i,
						got[i].Kind, got[i].ID, got[i].Data, want[i].Kind, want[i].ID, want[i].Data)
				}
			}
			if got[len(got)-1].Kind != wire.SpecEnd {
				t.Fatalf("last event %s", got[len(got)-1].Kind)
			}
		}
	}
}

// Seeking to random ticks: the first event is a keyframe at or before the
// tick, then deltas of every following tick, each against the one before.
func TestReplaySeek(t *testing.T) {
	const rate = 20
	snaps := arenaMatch(2, 4, rate, 400)
	data := record(t, snaps, rate)
	r, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Load()
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 3))
	for i := 0; i < 50; i++ {
		tick := uint64(1 + rng.IntN(400))
		// The reader's own seek: the segment holding tick.
		var first *Tick
		n := 0
		err := r.Scan(tick, func(tk *Tick) bool {
			if first == nil {
				first = tk
			}
			n++
			return n < 5
		})
		if err != nil || first == nil || !first.Keyframe || first.Snap.Tick > tick || tick-first.Snap.Tick >= 40 {
			t.Fatalf("scan from %d: first %+v err %v", tick, first, err)
		}
		// A spectator's seek (netcode's from=): the cursor starts at that keyframe.
		c := rep.Stream.NewCursor(wire.FormatJSON, 1, 0, 0)
		c.Pace(first.Snap.Tick, 1000)
		c.NeverBehind()
		evs := drain(t, c, time.Now().Add(time.Hour))
		if evs[0].Kind != wire.SpecKeyframe || evs[0].ID != first.Snap.Tick {
			t.Fatalf("seek %d: first event %s %d, want keyframe %d", tick, evs[0].Kind, evs[0].ID, first.Snap.Tick)
		}
		prev := evs[0].ID
		for _, e := range evs[1:] {
			if e.Kind == wire.SpecDelta {
				if e.ID != prev+1 {
					t.Fatalf("seek %d: delta %d after %d", tick, e.ID, prev)
				}
				prev = e.ID
			}
		}
		if prev != 400 {
			t.Fatalf("seek %d: ended at %d", tick, prev)
		}
	}
}

// A paced cursor shows nothing before its time: at speed 2 on a 20 Hz
// replay, 1 s after the start the head is 40 ticks on, and the next tick's
// time is given.
func TestReplayPacing(t *testing.T) {
	data := record(t, arenaMatch(4, 2, 20, 200), 20)
	r, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Load()
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Stream.NewCursor(wire.FormatJSON, 1, 0, 0)
	c.Pace(50, 2000)
	t0 := time.Unix(1000, 0)
	evs, next := c.Step(t0, nil)
	if len(evs) != 1 || evs[0].Kind != wire.SpecKeyframe || evs[0].ID != 50 || !next.Equal(t0.Add(25*time.Millisecond)) {
		t.Fatalf("first step: %v next %v", evs, next.Sub(t0))
	}
	if c.Changed() != nil {
		t.Fatal("a paced cursor has a change channel")
	}
	evs, _ = c.Step(t0.Add(time.Second), nil)
	if len(evs) == 0 || evs[len(evs)-1].ID != 90 {
		t.Fatalf("after 1 s at speed 2: %d events, last %v", len(evs), evs[len(evs)-1].ID)
	}
}

// Truncated files (cut at every byte) and files with a flipped byte are
// refused or read up to their last good record: the ticks read are always
// a prefix of the recorded ones, equal to them; never a panic.
func TestReplayDamaged(t *testing.T) {
	const rate = 10
	snaps := arenaMatch(5, 3, rate, 45)
	data := record(t, snaps, rate)
	full, err := NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var want []*Tick
	if err := full.Scan(0, func(tk *Tick) bool { want = append(want, tk); return true }); err != nil {
		t.Fatal(err)
	}
	if len(want) != 45 {
		t.Fatalf("%d ticks", len(want))
	}
	check := func(what string, b []byte) int {
		r, err := NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrTruncated) {
				t.Fatalf("%s: error %v", what, err)
			}
			return 0
		}
		n := 0
		err = r.Scan(0, func(tk *Tick) bool {
			if n >= len(want) || tk.Snap.Tick != want[n].Snap.Tick || !slices.Equal(tk.Rows, want[n].Rows) ||
				!slices.Equal(tk.Snap.Events, want[n].Snap.Events) || tk.Snap.State != want[n].Snap.State {
				t.Fatalf("%s: tick %d differs from the recording", what, tk.Snap.Tick)
			}
			n++
			return true
		})
		if err != nil && !errors.Is(err, ErrTruncated) {
			t.Fatalf("%s: %v", what, err)
		}
		if _, err := r.Load(); err != nil && !errors.Is(err, ErrFormat) {
			t.Fatalf("%s: load: %v", what, err)
		}
		return n
	}
	prevN := 0
	for cut := 0; cut < len(data); cut++ {
		n := check("cut", data[:cut])
		if n < prevN {
			t.Fatalf("cut at %d reads %d ticks, a shorter cut read %d", cut, n, prevN)
		}
		prevN = n
	}
	if prevN < 44 { // cut before the tail: everything but at most the last tick's records
		t.Fatalf("the longest cut read %d ticks", prevN)
	}
	rng := rand.New(rand.NewPCG(6, 6))
	for i := 0; i < 3000; i++ {
		b := bytes.Clone(data)
		b[rng.IntN(len(b))] ^= byte(1 + rng.IntN(255))
		check("flip", b)
	}
}

// A crash (no index, no tail) leaves a file read by a scan: the summary
// and keyframes are rebuilt, marked not complete. A segment cut short is
// lost whole (ticks 81–100 here), never more.
func TestReplayCrashRebuild(t *testing.T) {
	data := record(t, arenaMatch(7, 3, 10, 100), 10)
	full, _ := NewReader(bytes.NewReader(data), int64(len(data)))
	cut := data[:full.dataEnd-3] // the last segment's record cut short
	r, err := NewReader(bytes.NewReader(cut), int64(len(cut)))
	if err != nil {
		t.Fatal(err)
	}
	keys := full.Keyframes[:len(full.Keyframes)-1]
	if r.Indexed || r.Summary.Complete || r.Summary.LastTick != 80 || !slices.Equal(r.Keyframes, keys) {
		t.Fatalf("rebuilt %+v keys %v, want last 80 keys %v", r.Summary, r.Keyframes, keys)
	}
	if len(r.Summary.Players) != 2 { // player 2 left half-way
		t.Fatalf("players %+v", r.Summary.Players)
	}
}

// Unknown record kinds are skipped: a later format's records (inputs of a
// tick, say) do not stop an older reader.
func TestReplayUnknownKind(t *testing.T) {
	data := record(t, arenaMatch(8, 2, 10, 30), 10)
	full, _ := NewReader(bytes.NewReader(data), int64(len(data)))
	// Insert an unknown record before every tick's records, and drop the index.
	var b []byte
	b = append(b, data[:full.dataStart]...)
	off := full.dataStart
	for off < full.dataEnd {
		_, _, n, ok := parseRecord(data[off:])
		if !ok {
			t.Fatal("bad record")
		}
		b = appendRecord(b, 99, []byte("future"))
		b = append(b, data[off:off+int64(n)]...)
		off += int64(n)
	}
	r, err := NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := r.Scan(0, func(*Tick) bool { n++; return true }); err != nil || n != 30 {
		t.Fatalf("%d ticks, %v", n, err)
	}
}

// A writer that blocks (a stalled disk) never blocks Offer: the queue
// fills, the recording stops with FailOverflow (counted once), and every
// later Offer returns at once.
func TestReplayStalledDisk(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	ev := &counts{}
	st := newTestStore(t, Config{Queue: 8, Events: ev, Create: func(string) (io.WriteCloser, error) {
		return blockingFile{block}, nil
	}})
	r := st.Start("m1", 30, testQuant)
	for _, s := range arenaMatch(9, 4, 30, 2000) { // bounded: 2000 offers
		r.Offer(s)
	}
	if r.Failure() != FailOverflow {
		t.Fatalf("failure %q", r.Failure())
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if ev.failed[FailOverflow] != 1 || ev.recorded != 0 {
		t.Fatalf("events %+v", ev)
	}
	r.Close()
}

type blockingFile struct{ block chan struct{} }

func (f blockingFile) Write(p []byte) (int, error) { <-f.block; return 0, errors.New("stalled") }
func (f blockingFile) Close() error                { return nil }

// A write error ends the recording with FailWrite, not the caller.
func TestReplayWriteError(t *testing.T) {
	ev := &counts{}
	st := newTestStore(t, Config{Events: ev, Create: func(string) (io.WriteCloser, error) { return failingFile{}, nil }})
	r := st.Start("m1", 30, testQuant)
	for _, s := range arenaMatch(10, 2, 30, 200) {
		r.Offer(s)
	}
	r.Close()
	st.wg.Wait()
	if r.Failure() != FailWrite {
		t.Fatalf("failure %q", r.Failure())
	}
}

type failingFile struct{}

func (failingFile) Write(p []byte) (int, error) { return 0, errors.New("disk full") }
func (failingFile) Close() error                { return nil }

// Retention: files older than MaxAge go; then the oldest go first until
// the total is within MaxBytes.
func TestReplayRetention(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	mk := func(id string, size int, age time.Duration) {
		p := filepath.Join(dir, id+Ext)
		if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	mk("ancient", 10, 30*24*time.Hour)
	for i, id := range []string{"a1", "a2", "a3", "a4", "a5"} { // a1 oldest
		mk(id, 1000, time.Duration(10-i)*time.Hour)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	newTestStore(t, Config{Dir: dir, MaxBytes: 2500, MaxAge: 7 * 24 * time.Hour})
	var left []string
	var total int64
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		fi, _ := e.Info()
		left = append(left, e.Name())
		if filepath.Ext(e.Name()) == Ext {
			total += fi.Size()
		}
	}
	if !slices.Equal(left, []string{"a4.tsr", "a5.tsr", "notes.txt"}) || total > 2500 {
		t.Fatalf("left %v (%d bytes)", left, total)
	}
}

// A store records to files, lists them newest first, loads each once for
// any number of viewers (records read once), and hides recordings in
// progress.
func TestReplayStoreListLoad(t *testing.T) {
	ev := &counts{}
	st := newTestStore(t, Config{Events: ev})
	for i, id := range []string{"first", "second"} {
		r := st.Start(id, 10, testQuant)
		snaps := arenaMatch(uint64(11+i), 3, 10, 50)
		for j, s := range snaps {
			s2 := *s
			s2.Match, s2.Time = id, s.Time.Add(time.Duration(i)*time.Hour)
			snaps[j] = &s2
		}
		for _, s := range snaps {
			r.ch <- s
		}
		r.Close()
	}
	running := st.Start("running", 10, testQuant)
	running.ch <- arenaMatch(1, 1, 10, 1)[0]
	defer running.Close()
	waitFor(t, func() bool { st.mu.Lock(); defer st.mu.Unlock(); return len(st.active) == 1 })
	list := st.List()
	if len(list) != 2 || list[0].ID != "second" || list[1].ID != "first" || !list[0].Summary.Complete {
		t.Fatalf("list %+v", list)
	}
	if _, ok := st.Get("running"); ok {
		t.Fatal("a recording in progress is listed")
	}
	if _, ok := st.Get("../etc"); ok {
		t.Fatal("a bad id")
	}
	before := st.RecordsRead()
	rep, err := st.Load("first")
	if err != nil {
		t.Fatal(err)
	}
	once := st.RecordsRead() - before
	for i := 0; i < 100; i++ {
		if r2, err := st.Load("first"); err != nil || r2 != rep {
			t.Fatalf("load %d: %v, shared %v", i, err, r2 == rep)
		}
	}
	if st.RecordsRead()-before != once {
		t.Fatalf("records read: %d for the first load, %d after 100 more", once, st.RecordsRead()-before)
	}
	var onDisk int64 // the recording in progress has flushed its head
	ents, _ := os.ReadDir(st.Dir())
	for _, e := range ents {
		fi, _ := e.Info()
		onDisk += fi.Size()
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if ev.recorded != 2 || int64(ev.bytes) != onDisk || onDisk <= list[0].Size+list[1].Size {
		t.Fatalf("events %+v, on disk %d, sizes %d %d", ev, onDisk, list[0].Size, list[1].Size)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 1000 && !cond(); i++ {
		time.Sleep(5 * time.Millisecond)
	}
	if !cond() {
		t.Fatal("condition never held")
	}
}

// A format 1 file (tick records at the top level, no segments) is still
// read: the same ticks as the format 2 file they came from, and its
// segment starts rebuilt by a scan.
func TestReplayReadsVersion1(t *testing.T) {
	data := record(t, arenaMatch(12, 3, 10, 70), 10)
	v2 := mustReader(t, data)
	var b []byte
	b = append(b, Magic...)
	b = append(b, 1, 0, 0, 0) // version 1, flags 0
	b = append(b, data[fileHeadLen:v2.dataStart]...)
	var inner []byte
	for off := v2.dataStart; off < v2.dataEnd; {
		kind, payload, n, ok := parseRecord(data[off:])
		if !ok || kind != KindSegment {
			t.Fatalf("record at %d: kind %d ok %v", off, kind, ok)
		}
		if inner, ok = inflate(inner, payload); !ok {
			t.Fatal("inflate")
		}
		b = append(b, inner...)
		off += int64(n)
	}
	v1 := mustReader(t, b)
	if v1.Indexed || len(v1.Keyframes) != len(v2.Keyframes) || v1.Summary.LastTick != 70 {
		t.Fatalf("version 1: indexed %v keys %v summary %+v", v1.Indexed, v1.Keyframes, v1.Summary)
	}
	var want, got []*Tick
	if err := v2.Scan(0, func(tk *Tick) bool { want = append(want, tk); return true }); err != nil {
		t.Fatal(err)
	}
	if err := v1.Scan(35, func(tk *Tick) bool { got = append(got, tk); return true }); err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || got[0].Snap.Tick != 21 || len(got) != 50 {
		t.Fatalf("version 1 seek to 35: %d ticks from %d", len(got), got[0].Snap.Tick)
	}
	for i, tk := range got {
		w := want[20+i]
		if tk.Snap.Tick != w.Snap.Tick || !slices.Equal(tk.Rows, w.Rows) || !slices.Equal(tk.Roster, w.Roster) {
			t.Fatalf("tick %d differs", tk.Snap.Tick)
		}
	}
}
