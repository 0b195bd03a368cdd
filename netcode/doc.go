// Package netcode carries matches to players: the /play WebSocket endpoint,
// sessions, the per-match hub, spectator transports, the HTTP JSON API,
// health and metrics. The per-match snapshot stream lives in
// netcode/stream, the wire format in netcode/wire and the Go client in
// netcode/client; docs/protocol.md is the contract.
//
// Concurrency contract:
//   - Server methods may be called concurrently. Handler serves each
//     request on its own goroutine, as net/http does.
//   - A session owns exactly two goroutines: its reader (the HTTP handler's
//     goroutine) and its writer, which is the only goroutine that writes to
//     the connection. The handler returns only after both have stopped.
//   - A hub's Publish runs on the match goroutine and never blocks: it
//     pushes the tick into the match's stream (which wakes every writer)
//     and queues reliable messages (roster, end) on a small bounded queue
//     per session; overflow closes that session with 4007 "too slow".
//     Each writer pulls its own snapshot from the stream: the newest tick,
//     as a delta from the tick its client acknowledged.
//   - Every write has a deadline, enforced by one reaper goroutine per
//     server (the heartbeat scanner) rather than a timer per write; a write
//     stuck past it drops the connection (no close frame can follow).
//
// Overload policies (each counted by reason, reasons.go):
//   - Snapshots: latest-wins (the writer pulls the newest tick), below
//     the socket too; a link that cannot carry the stream gets every 2nd
//     … 8th tick (pace). TuneListener bounds
//     each connection's kernel send buffer (SO_SNDBUF 64 KiB,
//     TCP_NOTSENT_LOWAT 16 KiB); a client whose oldest unanswered ping is
//     older than HeartbeatConfig.BehindAfter (2 s) is behind and gets no
//     snapshot until it answers; behind for SlowAfter (5 s) → 4007.
//     WebSocket spectators likewise (the cursor stands still); SSE
//     spectators end on the write deadline.
//   - Reliable messages: bounded queue; overflow → 4007.
//   - Inputs: bounded match inbox and a rate limit; drops counted.
//   - Dead peers: nothing for DeadAfter → 4010, and the connection is
//     dropped 250 ms after the close frame (no wait for a reply that
//     cannot come). Every other close waits at most 1 s for the reply.
package netcode
