// Package netcode carries matches to players: the /play WebSocket endpoint,
// sessions, the per-match fan-out (hub), the HTTP JSON API, health and
// metrics. The wire format lives in netcode/wire and the Go client in
// netcode/client; docs/protocol.md is the contract.
//
// Concurrency contract:
//   - Server methods may be called concurrently. Handler serves each
//     request on its own goroutine, as net/http does.
//   - A session owns exactly two goroutines: its reader (the HTTP handler's
//     goroutine) and its writer, which is the only goroutine that writes to
//     the connection. The handler returns only after both have stopped.
//   - A hub's Publish runs on the match goroutine and never blocks: it
//     encodes the tick once and offers the shared bytes to each session's
//     latest-wins slot. Reliable messages go to a small bounded queue per
//     session; overflow closes that session with 4007 "too slow".
//   - Every write has a deadline, enforced by one reaper goroutine per
//     server rather than a timer per write.
package netcode
