package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/tickstream/tickstream/game"
	"github.com/tickstream/tickstream/netcode/stream"
	"github.com/tickstream/tickstream/netcode/wire"
)

// Config configures a Store. Zero fields take the documented default.
type Config struct {
	// Dir holds the replay files, <match id>.tsr; created if missing.
	Dir string
	// MaxBytes bounds the files' total size: the oldest finished files
	// are removed first to stay under it, and a recording that alone would
	// pass it stops. Zero means 1 GiB.
	MaxBytes int64
	// MaxAge removes files last written longer ago; zero means 7 days.
	MaxAge time.Duration
	// Queue is each recording's queue of ticks; zero means 1024 (34 s at
	// 30 Hz). Full: the recording stops (FailOverflow), the match goes on.
	Queue int
	// KeyframeEvery is the interval of keyframes (segment starts) in
	// match time; zero means 2 s.
	KeyframeEvery time.Duration
	// Cache is how many replays are kept loaded for spectators (least
	// recently used out first); zero means 4.
	Cache int
	// Create opens a new file for writing; nil means os.OpenFile with
	// O_CREATE|O_EXCL (tests give a writer that fails or blocks).
	Create func(path string) (io.WriteCloser, error)
	// Events is told of recordings, failures and bytes written; nil: none.
	Events Events
	// Logger logs failures (once per recording) and removals.
	Logger zerolog.Logger
}

// Events receives the store's counts (metrics). Its methods are called
// from recording goroutines, and Failed also from a match goroutine: they
// must not block.
type Events interface {
	Recorded()            // a recording finished complete
	Failed(reason string) // a recording stopped early
	Wrote(n int)          // n more bytes reached a file
}

// Store is a directory of replays: it records matches (Start), lists
// them, keeps the directory within its bounds, and loads replays for
// spectators, shared. Its methods may be called from any goroutine.
type Store struct {
	cfg Config
	log zerolog.Logger

	wg      sync.WaitGroup // one per recording goroutine
	records atomic.Int64   // records read by loads and listings

	mu     sync.Mutex
	active map[string]*Recording
	infos  map[string]cachedInfo
	loaded map[string]*loaded
	clock  uint64 // LRU clock
}

type cachedInfo struct {
	size  int64
	mtime time.Time
	info  Info
}

// Info is a replay in the listing.
type Info struct {
	ID      string
	Header  Header
	Summary Summary
	Size    int64
	// Indexed reports whether the file was closed by its recorder (else a
	// crash cut it; it is read up to its last good record).
	Indexed bool
	// Keyframes are the segment starts, in tick order.
	Keyframes []Keyframe
}

// KeyframeAt returns the tick of the last keyframe at or before tick (the
// first keyframe's if there is none).
func (in *Info) KeyframeAt(tick uint64) uint64 {
	i, _ := slices.BinarySearchFunc(in.Keyframes, tick+1, func(k Keyframe, t uint64) int {
		switch {
		case k.Tick < t:
			return -1
		case k.Tick > t:
			return 1
		}
		return 0
	})
	switch {
	case i > 0:
		return in.Keyframes[i-1].Tick
	case len(in.Keyframes) > 0:
		return in.Keyframes[0].Tick
	}
	return in.Summary.FirstTick
}

// Replay is a loaded replay: its ticks in a closed stream, shared by
// every spectator (encodings included).
type Replay struct {
	Info   Info
	Stream *stream.Stream
}

type loaded struct {
	ready chan struct{}
	rep   *Replay
	err   error
	used  uint64
}

// NewStore opens (creates) the directory and applies the retention limits.
func NewStore(cfg Config) (*Store, error) {
	if cfg.Dir == "" {
		return nil, errors.New("replay: no directory")
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 1 << 30
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 7 * 24 * time.Hour
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 1024
	}
	if cfg.KeyframeEvery <= 0 {
		cfg.KeyframeEvery = 2 * time.Second
	}
	if cfg.Cache <= 0 {
		cfg.Cache = 4
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("replay directory: %w", err)
	}
	s := &Store{cfg: cfg, log: cfg.Logger, active: map[string]*Recording{}, infos: map[string]cachedInfo{}, loaded: map[string]*loaded{}}
	s.Enforce(time.Now())
	return s, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.cfg.Dir }

// RecordsRead counts the records read from files so far (loads, listings
// of files without an index): a replay watched by many spectators is read
// once.
func (s *Store) RecordsRead() int64 { return s.records.Load() }

func (s *Store) path(id string) string { return filepath.Join(s.cfg.Dir, id+Ext) }

func (s *Store) create(id string) (io.WriteCloser, error) {
	if s.cfg.Create != nil {
		return s.cfg.Create(s.path(id))
	}
	return os.OpenFile(s.path(id), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
}

// Start begins recording match (rate ticks per second, rows quantized by
// q), without inputs. It returns nil when the id cannot name a file or the
// match is already being recorded.
func (s *Store) Start(match string, rate int, q wire.Quant) *Recording {
	return s.start(match, rate, q, nil)
}

// StartTraced begins recording a match whose snapshots carry their
// game.Trace (its publisher answers game.Tracer's TraceTicks with true):
// the file also holds each tick's inputs and world checksum, and cfg's
// seed and score limit, so that Verify can re-simulate it. cfg is the
// match's final config (its TickRate is the file's rate).
func (s *Store) StartTraced(match string, cfg game.MatchConfig, q wire.Quant) *Recording {
	return s.start(match, cfg.TickRate, q, &cfg)
}

func (s *Store) start(match string, rate int, q wire.Quant, sim *game.MatchConfig) *Recording {
	if !validID(match) {
		return nil
	}
	keyEvery := uint64(max(int64(s.cfg.KeyframeEvery)*int64(max(rate, 1))/int64(time.Second), 1))
	r := &Recording{
		st: s, match: match, rate: rate, quant: q, keyEvery: keyEvery,
		log: s.log.With().Str("match", match).Logger(),
		ch:  make(chan *game.Snapshot, s.cfg.Queue), done: make(chan struct{}),
	}
	if sim != nil {
		r.traced, r.seed, r.scoreLimit = true, sim.Seed, sim.ScoreLimit
	}
	s.mu.Lock()
	if _, dup := s.active[match]; dup {
		s.mu.Unlock()
		return nil
	}
	s.active[match] = r
	s.mu.Unlock()
	s.wg.Add(1)
	go r.run()
	return r
}

func (s *Store) recordingDone(r *Recording) {
	s.mu.Lock()
	delete(s.active, r.match)
	s.mu.Unlock()
	s.Enforce(time.Now())
	s.wg.Done()
}

// Close ends every recording still open (its file is finished, marked
// incomplete: FailInterrupted), and waits for every writer (those already
// closed finish their files) until ctx ends.
func (s *Store) Close(ctx context.Context) error {
	s.mu.Lock()
	for _, r := range s.active {
		if !r.closed.Load() { // its match is still running: the file is cut here
			r.fail(FailInterrupted, nil)
			r.Close()
		}
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("replay: recordings still writing: %w", context.Cause(ctx))
	}
}

// file is a replay file in the directory.
type file struct {
	id    string
	size  int64
	mtime time.Time
}

// files lists the directory's replay files; active ones are marked.
func (s *Store) files() (done, active []file) {
	ents, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		s.log.Warn().Err(err).Msg("replay directory unreadable")
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), Ext)
		if !ok || !validID(id) || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		f := file{id: id, size: fi.Size(), mtime: fi.ModTime()}
		if _, rec := s.active[id]; rec {
			active = append(active, f)
		} else {
			done = append(done, f)
		}
	}
	return done, active
}

// Enforce applies the retention limits at now: files last written more
// than MaxAge ago go, then the oldest finished files until the total
// (recordings in progress included) is within MaxBytes. It runs when the
// store opens and after each recording.
func (s *Store) Enforce(now time.Time) {
	done, active := s.files()
	var total int64
	for _, f := range active {
		total += f.size
	}
	slices.SortFunc(done, func(a, b file) int { return a.mtime.Compare(b.mtime) })
	keep := done[:0]
	for _, f := range done {
		if now.Sub(f.mtime) > s.cfg.MaxAge {
			s.remove(f, "age")
			continue
		}
		keep = append(keep, f)
		total += f.size
	}
	for _, f := range keep {
		if total <= s.cfg.MaxBytes {
			break
		}
		s.remove(f, "size")
		total -= f.size
	}
}

func (s *Store) remove(f file, why string) {
	if err := os.Remove(s.path(f.id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.Warn().Err(err).Str("replay", f.id).Msg("replay removal failed")
		return
	}
	s.mu.Lock()
	delete(s.infos, f.id)
	delete(s.loaded, f.id)
	s.mu.Unlock()
	s.log.Info().Str("replay", f.id).Str("limit", why).Int64("bytes", f.size).Msg("replay removed")
}

// List returns the finished replays (recordings in progress are live
// matches), newest first. Files that are not readable replays are left
// out.
func (s *Store) List() []Info {
	done, _ := s.files()
	out := make([]Info, 0, len(done))
	for _, f := range done {
		if in, err := s.info(f); err == nil {
			out = append(out, in)
		}
	}
	slices.SortFunc(out, func(a, b Info) int {
		if c := b.Header.Started.Compare(a.Header.Started); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// Get returns one finished replay's listing; false if there is none.
func (s *Store) Get(id string) (Info, bool) {
	if !validID(id) {
		return Info{}, false
	}
	s.mu.Lock()
	_, rec := s.active[id]
	s.mu.Unlock()
	if rec {
		return Info{}, false
	}
	fi, err := os.Stat(s.path(id))
	if err != nil || !fi.Mode().IsRegular() {
		return Info{}, false
	}
	in, err := s.info(file{id: id, size: fi.Size(), mtime: fi.ModTime()})
	return in, err == nil
}

// Path returns the file of a finished replay (for a download); false if
// there is none.
func (s *Store) Path(id string) (string, bool) {
	if _, ok := s.Get(id); !ok {
		return "", false
	}
	return s.path(id), true
}

// info reads (or recalls) a file's listing.
func (s *Store) info(f file) (Info, error) {
	s.mu.Lock()
	c, ok := s.infos[f.id]
	s.mu.Unlock()
	if ok && c.size == f.size && c.mtime.Equal(f.mtime) {
		return c.info, nil
	}
	r, err := s.open(f.id)
	if err != nil {
		s.log.Debug().Err(err).Str("replay", f.id).Msg("unreadable replay file")
		return Info{}, err
	}
	defer r.Close()
	in := Info{ID: f.id, Header: r.Header, Summary: r.Summary, Size: r.Size(), Indexed: r.Indexed, Keyframes: r.Keyframes}
	s.mu.Lock()
	s.infos[f.id] = cachedInfo{size: f.size, mtime: f.mtime, info: in}
	s.mu.Unlock()
	return in, nil
}

func (s *Store) open(id string) (*Reader, error) { return openFile(s.path(id), &s.records) }

// Load returns the replay id with all its ticks in a closed stream. The
// first call reads the file; later calls (any number of spectators, at
// once or later) share the loaded replay while it stays among the Cache
// most recently used.
func (s *Store) Load(id string) (*Replay, error) {
	if _, ok := s.Get(id); !ok {
		return nil, fs.ErrNotExist
	}
	s.mu.Lock()
	s.clock++
	l, ok := s.loaded[id]
	if ok {
		l.used = s.clock
		s.mu.Unlock()
		<-l.ready
		return l.rep, l.err
	}
	l = &loaded{ready: make(chan struct{}), used: s.clock}
	s.loaded[id] = l
	s.evict()
	s.mu.Unlock()

	l.rep, l.err = s.load(id)
	close(l.ready)
	if l.err != nil {
		s.mu.Lock()
		if s.loaded[id] == l {
			delete(s.loaded, id)
		}
		s.mu.Unlock()
	}
	return l.rep, l.err
}

// evict drops the least recently used loaded replays beyond Cache (their
// spectators keep theirs). Called with mu held.
func (s *Store) evict() {
	for len(s.loaded) > s.cfg.Cache {
		var oldest string
		var at uint64
		for id, l := range s.loaded {
			if oldest == "" || l.used < at {
				oldest, at = id, l.used
			}
		}
		delete(s.loaded, oldest)
	}
}

func (s *Store) load(id string) (*Replay, error) {
	r, err := s.open(id)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.Load()
}

// Load reads every tick into a closed stream.
func (r *Reader) Load() (*Replay, error) {
	h := r.Header
	n := r.Summary.LastTick - r.Summary.FirstTick + 1
	st := stream.New(stream.Config{
		Rate:   h.Rate,
		Keep:   time.Duration(n+1)*time.Second/time.Duration(h.Rate) + time.Second,
		Layout: game.Layout{Precision: game.Precision{Pos: h.Quant.Pos, AngleSteps: int(h.Quant.AngleSteps)}},
	})
	st.Watch()
	var count uint64
	err := r.scanPlayback(func(t *Tick) bool {
		if count == n+1 { // more ticks than the index said: keep the ring's promise
			return false
		}
		st.PushRows(t.Snap, t.Rows)
		count++
		return true
	})
	st.Close()
	if err != nil && !errors.Is(err, ErrTruncated) {
		return nil, err
	}
	if count == 0 {
		return nil, formatErr("no complete tick")
	}
	return &Replay{Info: Info{ID: h.Match, Header: h, Summary: r.Summary, Size: r.size, Indexed: r.Indexed, Keyframes: r.Keyframes}, Stream: st}, nil
}
