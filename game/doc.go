// Package game is the simulation side of Tickstream: a drift-free fixed-tick
// loop, the match actor that owns a world, the Rules interface a game
// implements, the reference arena shooter, and the match directory.
//
// It imports no networking: snapshots leave a match as plain values through
// the Publisher interface, which the netcode package implements.
//
// Concurrency contract:
//   - A Match is an actor. One goroutine (started by the Directory) owns the
//     world and the Rules value; nothing else touches them, so they have no
//     locks. Joins, leaves and inputs arrive on bounded channels and are
//     applied at the start of the next tick; a full inbox drops and counts.
//   - Match methods (Join, Leave, Input, Info, Stats) may be called from any
//     goroutine. Input never blocks; Join waits for at most one tick.
//   - Publisher.Publish is called from the match goroutine once per tick and
//     must return in microseconds; the snapshot it receives is immutable.
//   - Directory methods may be called concurrently.
package game
