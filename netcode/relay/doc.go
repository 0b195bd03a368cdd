// Package relay serves spectators of a match owned by another node of a
// cluster over NATS: the owner (the origin) encodes each tick once and
// publishes it, and every other node (an edge) that has spectators of the
// match feeds its own copy of the match's stream from it. It implements
// netcode.Relay (Edge).
//
// Subjects (node and match are the owner's node id and the match id; an id
// that cannot be a subject token, a node id with dots say, is written "~"
// and its bytes in hex):
//
//	tickstream.relay.<node>.<match>           ticks, published by the origin
//	tickstream.relay.<node>.<match>.key       request: a keyframe (or a catch-up), and the stream's config
//	tickstream.relay.<node>.<match>.interest  an edge still wants the match (every 2 s)
//
// A tick message is
//
//	tick u64 LE · sent i64 LE (origin's clock at publish, Unix ns) · records
//
// where records are the tick's records in the encoding of a replay's
// segment (netcode/replay TickEncoder: a changed or restated roster, the
// result, and a keyframe or a delta from the tick before). A tick message
// with no records says the match's stream closed after tick.
//
// A key request is from u64 LE (the last tick the edge holds; 0 for a
// keyframe) followed by the edge's node id. Its reply has the stream's
// config in headers (Ts-Rate, Ts-Delay in ns, Ts-Pos, Ts-Angle,
// Ts-Radius, Ts-Closed; Ts-Error alone on a refusal) and a tick message
// body: the ticks after from as deltas when the origin still holds them
// all (and they are at most OriginConfig.CatchUp behind), otherwise a
// keyframe of the head. Records may be empty there (nothing new, or no
// tick yet).
//
// The origin publishes a match while at least one edge's interest (a key
// request or an interest message) is younger than OriginConfig.Interest,
// from a goroutine of its own per match woken by the stream's Changed: the
// match goroutine never waits on the relay. It encodes each tick once
// whatever the number of edges (NATS fans the message out), with a
// keyframe every OriginConfig.KeyEvery. The edge keeps one stream per
// remote match, with its own ring (SSE Last-Event-ID and long-poll after=
// resume against it), while it has spectators and for EdgeConfig.Linger
// after; on a missed tick (a delta whose baseline it lacks: a slow
// consumer, a dropped message) or silence it asks for a catch-up and goes
// on from the reply.
package relay
