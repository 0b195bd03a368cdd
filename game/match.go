package game

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Outcomes of joining a match that callers branch on.
var (
	ErrMatchFull     = errors.New("match full")
	ErrMatchEnded    = errors.New("match ended")
	ErrMatchNotFound = errors.New("no such match")
	ErrInboxFull     = errors.New("match inbox full")
	ErrServerFull    = errors.New("server match limit reached")
	// ErrSeatGone: the seat was given up (left, or its grace ran out).
	ErrSeatGone = errors.New("seat no longer held")
	// ErrStaleSeat: the seat has been resumed since (a token used twice).
	ErrStaleSeat = errors.New("seat already resumed")
	// ErrSuperseded: a connection opened later has resumed the seat (a
	// resume that was delayed on its way must not take it back).
	ErrSuperseded = errors.New("seat resumed by a newer connection")
)

// MatchInfo describes a match for listings. It is a copy: safe to keep.
type MatchInfo struct {
	ID           string
	Players      int // seats taken, including Disconnected ones
	Disconnected int // seats waiting for their player to resume
	MaxPlayers   int
	MinPlayers   int // players it waits for before it runs
	State        State
	TickRate     int
	Created      time.Time
}

// JoinResult is what a player learns when it takes (or resumes) a seat.
type JoinResult struct {
	Player   PlayerID
	Match    string
	TickRate int
	// MinPlayers is how many players the match waits for before it runs.
	MinPlayers int
	Tick       uint64 // the tick at which the join was applied
	Layout     Layout
	Roster     []PlayerInfo
	// Epoch is the seat's generation: 1 on join, +1 on every resume. Leave,
	// Disconnect and Resume name it, so that a replaced connection cannot
	// act on the seat its successor holds.
	Epoch uint32
	// LastSeq is the last input sequence applied for the seat.
	LastSeq uint32
}

// MatchStats are a match's counters.
type MatchStats struct {
	LoopStats
	DroppedInputs   uint64 // input inbox full
	DroppedCommands uint64 // command inbox full
	DuplicateInputs uint64 // seq not above the last applied one
}

type cmdKind uint8

const (
	cmdJoin cmdKind = iota
	cmdLeave
	cmdDisconnect
	cmdResume
	cmdConfirm
)

type command struct {
	kind   cmdKind
	name   string
	player PlayerID
	epoch  uint32
	order  uint64 // cmdResume: the connection's order
	reply  chan joinReply
}

type joinReply struct {
	res JoinResult
	err error
}

type seat struct {
	id      PlayerID
	name    string
	lastSeq uint32
	epoch   uint32
	// lostAt is the tick the seat's connection was lost (0: connected);
	// the seat is freed when the grace runs out.
	lostAt  uint64
	lastAim float64
	// confirmed: the client has shown (by sending anything) that it got
	// the welcome of this epoch. Until then the previous token still works.
	confirmed      bool
	confirmedEpoch uint32 // the last epoch whose welcome surely arrived
	order          uint64 // the order of the connection that last resumed it
}

func (s seat) aim() float64 { return s.lastAim }

// expireSeats frees the seats whose grace has run out.
func (m *Match) expireSeats() {
	grace := m.ticksOf(m.cfg.Grace)
	for i := 0; i < len(m.seats); {
		if st := m.seats[i]; st.lostAt != 0 && m.tick-st.lostAt >= grace {
			m.log.Debug().Uint32("player", uint32(st.id)).Msg("seat freed: grace over")
			m.free(i)
			continue
		}
		i++
	}
}

// lostSeats counts the seats waiting for their player to come back.
func (m *Match) lostSeats() int {
	n := 0
	for _, st := range m.seats {
		if st.lostAt != 0 {
			n++
		}
	}
	return n
}

// Match is a match actor: one goroutine owns the world. Create matches
// through a Directory.
type Match struct {
	id      string
	stop    context.CancelFunc // set by Directory.Create; nil for a match run otherwise
	cfg     MatchConfig
	created time.Time
	log     zerolog.Logger
	pub     Publisher
	clock   Clock
	loop    Loop
	layout  Layout
	cmds    chan command
	// The input inbox: readers append under inMu (bounded by
	// cfg.InputQueue), the match takes the whole queue at tick start and
	// hands back the emptied one. Its memory follows the inputs actually
	// queued, not the bound.
	inMu    sync.Mutex
	inQ     []Input
	inSpare []Input // match goroutine only
	done    chan struct{}
	info    atomic.Pointer[MatchInfo]

	droppedInputs, droppedCmds, dupInputs atomic.Uint64

	// Owned by the match goroutine.
	rules         Rules
	tracer        *tracingRules // nil unless the publisher asks for traces
	tick          uint64
	state         State
	seats         []seat // sorted by id
	nextPlayer    PlayerID
	endTick       uint64
	closeTick     uint64
	emptySince    uint64
	rosterChanged bool
	inBuf         []Input
}

func newMatch(id string, cfg MatchConfig, rules Rules, pub Publisher, clock Clock, log zerolog.Logger) *Match {
	m := &Match{
		id:      id,
		cfg:     cfg,
		created: clock.Now(),
		log:     log.With().Str("match", id).Logger(),
		pub:     pub,
		clock:   clock,
		loop:    Loop{Clock: clock, Rate: cfg.TickRate},
		cmds:    make(chan command, commandQueueLen),
		done:    make(chan struct{}),
		rules:   rules,
	}
	rules.Init(cfg.Seed, cfg.TickRate, cfg.ScoreLimit)
	if t, ok := pub.(Tracer); ok && t.TraceTicks() {
		m.tracer = &tracingRules{Rules: rules, cur: &Trace{}}
		m.rules = m.tracer
	}
	m.layout = rules.Layout()
	m.publishInfo()
	return m
}

// ID returns the match id.
func (m *Match) ID() string { return m.id }

// Close ends the match from outside, as a shutdown does: its last snapshot
// carries the result with reason "closed", and it leaves the directory. A
// cluster node closes a match it may no longer own. Idempotent; returns at
// once (Done is closed when the match has stopped).
func (m *Match) Close() {
	if m.stop != nil {
		m.stop()
	}
}

// Layout returns the static description of the match's world.
func (m *Match) Layout() Layout { return m.layout }

// Config returns the match's configuration.
func (m *Match) Config() MatchConfig { return m.cfg }

// Done is closed when the match has closed.
func (m *Match) Done() <-chan struct{} { return m.done }

// Info returns the latest listing data.
func (m *Match) Info() MatchInfo { return *m.info.Load() }

// Stats returns the match's counters.
func (m *Match) Stats() MatchStats {
	return MatchStats{
		LoopStats:       m.loop.Stats(),
		DroppedInputs:   m.droppedInputs.Load(),
		DroppedCommands: m.droppedCmds.Load(),
		DuplicateInputs: m.dupInputs.Load(),
	}
}

// Join asks for a seat; the join is applied at the start of the next tick.
// It returns ErrMatchFull, ErrMatchEnded or ErrInboxFull when refused.
func (m *Match) Join(ctx context.Context, name string) (JoinResult, error) {
	reply := make(chan joinReply, 1)
	select {
	case m.cmds <- command{kind: cmdJoin, name: name, reply: reply}:
	case <-m.done:
		return JoinResult{}, ErrMatchEnded
	default:
		m.droppedCmds.Add(1)
		return JoinResult{}, ErrInboxFull
	}
	select {
	case r := <-reply:
		return r.res, r.err
	case <-m.done:
		return JoinResult{}, ErrMatchEnded
	case <-ctx.Done():
		// The join may still be applied: give the seat back when it is.
		go func() {
			select {
			case r := <-reply:
				if r.err == nil {
					m.Leave(r.res.Player, r.res.Epoch)
				}
			case <-m.done:
			}
		}()
		return JoinResult{}, ctx.Err()
	}
}

// Leave frees a player's seat at the next tick, if the seat is still at
// epoch. It blocks only while the command inbox is full, and never after
// the match has closed.
func (m *Match) Leave(p PlayerID, epoch uint32) {
	m.send(command{kind: cmdLeave, player: p, epoch: epoch})
}

// Disconnect marks a seat (at epoch) as having lost its connection: its
// avatar stays, flagged disconnected and still, for the match's Grace; a
// Resume within it takes the seat back, else the seat is freed.
func (m *Match) Disconnect(p PlayerID, epoch uint32) {
	m.send(command{kind: cmdDisconnect, player: p, epoch: epoch})
}

// Confirm tells the match that the client of a resumed seat got its
// welcome (it sent something on the new connection): the token used for
// that resume is now spent for good.
func (m *Match) Confirm(p PlayerID, epoch uint32) {
	m.send(command{kind: cmdConfirm, player: p, epoch: epoch})
}

// TryConfirm is Confirm without waiting: false when the command inbox is
// full (the caller may then Confirm on a goroutine of its own).
func (m *Match) TryConfirm(p PlayerID, epoch uint32) bool {
	select {
	case m.cmds <- command{kind: cmdConfirm, player: p, epoch: epoch}:
	case <-m.done:
	default:
		return false
	}
	return true
}

func (m *Match) send(c command) {
	select {
	case m.cmds <- c:
	case <-m.done:
	}
}

// Resume takes a held seat back: the seat must still exist (ErrSeatGone)
// and be at epoch, or at epoch+1 when that resume was never confirmed
// (else ErrStaleSeat). The result carries the next epoch. A seat that is
// still connected is taken over (the caller replaces the old connection).
// order numbers the caller's connections in the order they were opened: a
// resume with a lower order than the seat's last one is refused
// (ErrSuperseded), so a resume that was delayed cannot take the seat from
// the client's newer connection.
func (m *Match) Resume(ctx context.Context, p PlayerID, epoch uint32, order uint64) (JoinResult, error) {
	reply := make(chan joinReply, 1)
	select {
	case m.cmds <- command{kind: cmdResume, player: p, epoch: epoch, order: order, reply: reply}:
	case <-m.done:
		return JoinResult{}, ErrSeatGone
	case <-ctx.Done():
		return JoinResult{}, ctx.Err()
	}
	select {
	case r := <-reply:
		return r.res, r.err
	case <-m.done:
		return JoinResult{}, ErrSeatGone
	case <-ctx.Done():
		// The resume may still be applied; the seat then waits out its
		// grace as disconnected.
		go func() {
			select {
			case r := <-reply:
				if r.err == nil {
					m.Disconnect(r.res.Player, r.res.Epoch)
				}
			case <-m.done:
			}
		}()
		return JoinResult{}, ctx.Err()
	}
}

// Input queues an input for the next tick without blocking. It returns
// false (and counts the drop) when the inbox is full or the match closed.
func (m *Match) Input(in Input) bool {
	select {
	case <-m.done:
		return false
	default:
	}
	m.inMu.Lock()
	if len(m.inQ) >= m.cfg.InputQueue {
		m.inMu.Unlock()
		m.droppedInputs.Add(1)
		return false
	}
	m.inQ = append(m.inQ, in)
	m.inMu.Unlock()
	return true
}

// run owns the world until the match closes or ctx is cancelled.
func (m *Match) run(ctx context.Context) {
	defer close(m.done)
	defer m.pub.Close()
	err := m.loop.Run(ctx, m.step)
	if err != nil && m.state != StateClosed {
		// Cancelled from outside (shutdown): tell the publisher once. A
		// match that already ended has published its result.
		var r *Result
		if m.state < StateEnded {
			r = m.end("closed")
		}
		m.state = StateClosed
		m.tick++ // a snapshot of its own: tick numbers never repeat
		m.pub.Publish(m.snapshot(m.clock.Now(), r))
		m.publishInfo()
	}
	st := m.Stats()
	m.log.Info().Uint64("ticks", st.Ticks).Uint64("late", st.Late).Uint64("skipped", st.Skipped).
		Uint64("dropped_inputs", st.DroppedInputs).Msg("match closed")
}

func (m *Match) seatIndex(p PlayerID) (int, bool) {
	return slices.BinarySearchFunc(m.seats, p, func(s seat, p PlayerID) int { return int(s.id) - int(p) })
}

func (m *Match) apply(c command) {
	switch c.kind {
	case cmdJoin:
		c.reply <- m.applyJoin(c.name)
	case cmdLeave:
		if i, ok := m.seatIndex(c.player); ok && m.seats[i].epoch == c.epoch {
			m.free(i)
		}
	case cmdDisconnect:
		if i, ok := m.seatIndex(c.player); ok && m.seats[i].epoch == c.epoch && m.seats[i].lostAt == 0 {
			m.seats[i].lostAt = m.tick
			// Stand still while away: a neutral input past the filter.
			m.inBuf = append(m.inBuf, Input{Player: c.player, Aim: m.seats[i].aim()})
		}
	case cmdResume:
		c.reply <- m.applyResume(c.player, c.epoch, c.order)
	case cmdConfirm:
		if i, ok := m.seatIndex(c.player); ok && m.seats[i].epoch == c.epoch {
			m.seats[i].confirmed = true
			m.seats[i].confirmedEpoch = c.epoch
		}
	}
}

func (m *Match) free(i int) {
	id := m.seats[i].id
	m.seats = slices.Delete(m.seats, i, i+1)
	m.rules.Leave(id)
	m.rosterChanged = true
}

func (m *Match) applyResume(p PlayerID, epoch uint32, order uint64) joinReply {
	i, ok := m.seatIndex(p)
	switch {
	case !ok || m.state == StateClosed:
		return joinReply{err: ErrSeatGone}
	case order < m.seats[i].order:
		return joinReply{err: ErrSuperseded}
	case m.seats[i].epoch == epoch:
	case !m.seats[i].confirmed && m.seats[i].confirmedEpoch == epoch:
		// The resumes since the last confirmed epoch never reached their
		// client (the link broke during the handshake): it still holds
		// that epoch's token, which stays good until a resume is confirmed.
	default:
		return joinReply{err: ErrStaleSeat}
	}
	st := &m.seats[i]
	st.epoch++ // from the seat's epoch: a lost resume's connection stays stale
	st.order = order
	st.confirmed = false
	st.lostAt = 0
	return joinReply{res: m.result(*st)}
}

func (m *Match) result(st seat) JoinResult {
	return JoinResult{
		Player: st.id, Match: m.id, TickRate: m.cfg.TickRate, MinPlayers: m.cfg.MinPlayers, Tick: m.tick,
		Layout: m.layout, Roster: m.roster(), Epoch: st.epoch, LastSeq: st.lastSeq,
	}
}

func (m *Match) applyJoin(name string) joinReply {
	if m.state >= StateEnded {
		return joinReply{err: ErrMatchEnded}
	}
	if len(m.seats) >= m.cfg.MaxPlayers {
		return joinReply{err: ErrMatchFull}
	}
	m.nextPlayer++
	st := seat{id: m.nextPlayer, name: name, epoch: 1, confirmed: true, confirmedEpoch: 1}
	m.seats = append(m.seats, st) // ids grow: stays sorted
	m.rules.Join(st.id, name)
	m.rosterChanged = true
	m.publishInfo() // listings see the join before its answer is out
	return joinReply{res: m.result(st)}
}

func (m *Match) roster() []PlayerInfo {
	r := make([]PlayerInfo, len(m.seats))
	for i, s := range m.seats {
		r[i] = PlayerInfo{ID: s.id, Name: s.name}
	}
	return r
}

func (m *Match) ticksOf(d time.Duration) uint64 { return ticksOf(d, m.cfg.TickRate) }

// step is one tick: commands and inputs queued at tick start, the rules'
// step, lifecycle, then one published snapshot.
func (m *Match) step(due time.Time) bool {
	m.tick++
	playersBefore, lostBefore, stateBefore := len(m.seats), m.lostSeats(), m.state
	m.inBuf = m.inBuf[:0]
	for n := len(m.cmds); n > 0; n-- {
		m.apply(<-m.cmds)
	}
	m.expireSeats()
	m.inMu.Lock()
	queued := m.inQ
	m.inQ, m.inSpare = m.inSpare[:0], nil
	m.inMu.Unlock()
	for _, in := range queued {
		i, ok := m.seatIndex(in.Player)
		if !ok || m.seats[i].lostAt != 0 || (in.Epoch != 0 && in.Epoch != m.seats[i].epoch) {
			continue // not seated, away, or from a replaced connection: a resumed client sends it again
		}
		if in.Seq <= m.seats[i].lastSeq {
			m.dupInputs.Add(1)
			continue
		}
		m.seats[i].lastSeq = in.Seq
		m.seats[i].lastAim = in.Aim
		m.inBuf = append(m.inBuf, in)
	}
	m.inSpare = queued[:0] // the match's own: the next swap hands it to the readers
	if m.state == StateWaiting && len(m.seats) >= m.cfg.MinPlayers {
		m.state = StateRunning
		m.endTick = m.tick + m.ticksOf(m.cfg.TimeLimit)
		m.rules.Start()
	}
	m.rules.Step(StepInfo{Tick: m.tick, Dt: m.loop.Interval(), Scoring: m.state == StateRunning}, m.inBuf)

	var end *Result
	if m.state == StateRunning {
		if over, reason := m.rules.Over(); over {
			end = m.end(reason)
		} else if m.tick >= m.endTick {
			end = m.end("time")
		}
	}
	if len(m.seats) == 0 && m.state < StateEnded {
		if m.emptySince == 0 {
			m.emptySince = m.tick
		}
		if m.tick-m.emptySince >= m.ticksOf(m.cfg.EmptyTimeout) {
			m.state = StateClosed
		}
	} else {
		m.emptySince = 0
	}
	if m.state == StateEnded && m.tick >= m.closeTick {
		m.state = StateClosed
	}
	m.pub.Publish(m.snapshot(due, end))
	if len(m.seats) != playersBefore || m.lostSeats() != lostBefore || m.state != stateBefore {
		m.publishInfo()
	}
	return m.state != StateClosed
}

// end moves the match to Ended and returns its result.
func (m *Match) end(reason string) *Result {
	m.state = StateEnded
	m.closeTick = m.tick + m.ticksOf(m.cfg.EndLinger)
	r := &Result{Reason: reason, Scores: m.rules.Scores()}
	// The winner has strictly the most kills; nobody wins a tie or a
	// match without kills, or a match closed from outside.
	if sc := r.Scores; reason != "closed" && len(sc) > 0 && sc[0].Kills > 0 && (len(sc) == 1 || sc[0].Kills > sc[1].Kills) {
		r.Winner = sc[0].Player
	}
	m.log.Info().Str("reason", reason).Uint32("winner", uint32(r.Winner)).Msg("match ended")
	return r
}

func (m *Match) snapshot(due time.Time, end *Result) *Snapshot {
	s := &Snapshot{
		Match: m.id,
		Tick:  m.tick,
		Time:  due,
		State: m.state,
		Acks:  make([]Ack, len(m.seats)),
		End:   end,
	}
	if m.state == StateRunning && m.endTick > m.tick {
		s.Left = time.Duration(m.endTick-m.tick) * m.loop.Interval()
	}
	s.Entities, s.Events = m.rules.AppendSnapshot(make([]Entity, 0, len(m.seats)+16), nil)
	for i, st := range m.seats {
		s.Acks[i] = Ack{Player: st.id, Seq: st.lastSeq}
	}
	// Flag the avatars of seats that wait for their player (both lists are
	// sorted by id).
	j := 0
	for i := range s.Entities {
		e := &s.Entities[i]
		for j < len(m.seats) && uint32(m.seats[j].id) < e.ID {
			j++
		}
		if j < len(m.seats) && uint32(m.seats[j].id) == e.ID && m.seats[j].lostAt != 0 {
			e.Flags |= FlagDisconnected
		}
	}
	if m.rosterChanged {
		s.Roster = m.roster()
		m.rosterChanged = false
	}
	if m.tracer != nil {
		s.Trace = m.tracer.take()
	}
	return s
}

func (m *Match) publishInfo() {
	m.info.Store(&MatchInfo{
		ID: m.id, Players: len(m.seats), Disconnected: m.lostSeats(), MaxPlayers: m.cfg.MaxPlayers, MinPlayers: m.cfg.MinPlayers,
		State: m.state, TickRate: m.cfg.TickRate, Created: m.created,
	})
}
