// A replay's timeline and links (src/timeline.ts, src/watchnet.ts): tick ↔
// seconds ↔ bar position, the stream URLs of live matches and replays
// (from=, speed=, after=), and the Watcher's pause, resume, seek and speed
// against a fake WebSocket: which URL each opens and what state it keeps.
//
// Run with Node after bundling (make test-ts).

import {
  ReplayInfo,
  clampTick,
  formatClock,
  fractionOf,
  parseSpeed,
  position,
  secondsToTick,
  tickAt,
  tickToSeconds,
} from "../src/timeline";
import { Watcher, streamPath } from "../src/watchnet";
import { FakeWebSocket, install } from "./fakews";
import { check, report } from "./check";



install();
const g = globalThis as unknown as Record<string, unknown>;
g.location = { protocol: "http:", host: "test" };

const r: ReplayInfo = {
  id: "abc", started: "2026-12-03T00:51:33.123Z", duration_ms: 10_000, rate: 30,
  first_tick: 11, last_tick: 311, players: [], winner: 0, reason: "time", size: 1, complete: true,
};

function timeline(): void {
  check(tickToSeconds(r, 11) === 0 && tickToSeconds(r, 41) === 1 && tickToSeconds(r, 311) === 10, "tickToSeconds");
  check(tickToSeconds(r, 5) === 0 && tickToSeconds(r, 999) === 10, "tickToSeconds clamps");
  // As the server's t=: first + ⌊s × rate⌋.
  check(secondsToTick(r, 0) === 11 && secondsToTick(r, 1.5) === 56 && secondsToTick(r, 1.01) === 41, "secondsToTick");
  check(secondsToTick(r, -3) === 11 && secondsToTick(r, 60) === 311, "secondsToTick clamps");
  check(fractionOf(r, 161) === 0.5 && tickAt(r, 0.5) === 161 && tickAt(r, 2) === 311 && tickAt(r, -1) === 11, "bar ↔ tick");
  check(clampTick(r, 100.4) === 100, "clampTick rounds");
  check(formatClock(0) === "0:00" && formatClock(65.9) === "1:05" && formatClock(3725) === "1:02:05", "formatClock");
  check(position(r, 161) === "0:05 / 0:10", `position ${position(r, 161)}`);
  check(parseSpeed("4") === 4 && parseSpeed("0.25") === 0.25 && parseSpeed("3") === 1 && parseSpeed(null) === 1, "parseSpeed");
}

function urls(): void {
  const live = { kind: "match" as const, id: "m 1" };
  check(streamPath(live, "events", 0, null, null) === "/api/matches/m%201/events", "live, plain");
  check(streamPath(live, "poll", 42, "10", "2") === "/api/matches/m%201/poll?after=42&rate=10&delay=2", "live, after, rate, delay");
  const rep = { kind: "replay" as const, id: "abc", from: 0, speed: 1, last: 311 };
  check(streamPath(rep, "events", 0, null, "5") === "/api/replays/abc/events", "replay from the start: no from, speed or delay");
  check(streamPath({ ...rep, from: 161, speed: 4 }, "watch", 0, null, null) === "/api/replays/abc/watch?from=161&speed=4", "seek and speed");
  // A resume (after=) wins over from=; speed stays.
  check(streamPath({ ...rep, from: 161, speed: 0.25 }, "poll", 200, "10", null) === "/api/replays/abc/poll?after=200&rate=10&speed=0.25",
    "resume of a replay");
}

async function watcher(): Promise<void> {
  const updates: number[] = [];
  const w = new Watcher(
    { source: { kind: "replay", id: "abc", from: 0, speed: 2, last: 311 }, forced: null, rate: null, delay: null, updatesPerSecond: 60, delaySeconds: 0 },
    { onUpdate: () => updates.push(w.state.tick), onTransport() {}, onEnd() {}, onFinished() {} },
  );
  const key = (tick: number) => ({ t: "keyframe", tick, time: 1000 + tick, state: "running", left: 1, quant: { pos: 0.5, angle: 1024 }, ents: [], roster: [[1, "ana"]] });
  const delta = (tick: number) => ({ t: "delta", tick, base: tick - 1, time: 1000 + tick, state: "running", left: 1, ents: [], gone: [] });
  const ws0 = FakeWebSocket.all[0]!;
  check(ws0.path === "/api/replays/abc/watch" && ws0.query === "speed=2", `first stream ${ws0.url}`);
  ws0.open();
  ws0.deliver(key(11));
  ws0.deliver(delta(12));
  ws0.deliver(delta(13));
  check(w.state.tick === 13 && w.state.deltas === 2, `tick ${w.state.tick}`);

  // Pause: the stream is closed, the tick kept; nothing is reopened.
  w.pause();
  check(w.paused && ws0.closed && FakeWebSocket.all.length === 1 && w.state.tick === 13, "pause closes the stream");
  // Resume: after= the tick held, same speed.
  w.resume();
  const ws1 = FakeWebSocket.all[1];
  check(!w.paused && ws1?.query === "after=13&speed=2", `resume ${ws1?.url}`);
  ws1?.open();
  ws1?.deliver(delta(14));
  check(w.state.tick === 14 && w.state.keyframes === 1, "resumed with a delta, no new keyframe");

  // Speed: reopened after the tick held at the new speed.
  w.setSpeed(8);
  const ws2 = FakeWebSocket.all[2];
  check(ws1?.closed === true && ws2?.query === "after=14&speed=8", `speed ${ws2?.url}`);
  ws2?.open();

  // Seek: a fresh stream from= the tick; the keyframe before it is taken
  // even though it is behind the tick held.
  w.seek(161);
  const ws3 = FakeWebSocket.all[3];
  check(ws3?.query === "from=161&speed=8", `seek ${ws3?.url}`);
  ws3?.open();
  ws3?.deliver(key(131));
  check(w.state.tick === 131 && w.state.keyframes === 2, `after the seek: tick ${w.state.tick}`);

  // A gap on a replay asks again from= the tick held, not from the start.
  ws3?.deliver(delta(140));
  const ws4 = FakeWebSocket.all[4];
  check(ws4?.query === "from=131&speed=8", `gap ${ws4?.url}`);
  ws4?.open();
  ws4?.deliver(key(131));

  // Seek while paused: the keyframe is shown, then the stream closes again.
  w.pause();
  w.seek(250);
  const ws5 = FakeWebSocket.all[5];
  check(w.paused && ws5?.query === "from=250&speed=8", `seek while paused ${ws5?.url}`);
  ws5?.open();
  ws5?.deliver(key(241));
  check(w.paused && w.state.tick === 241 && ws5?.closed === true && FakeWebSocket.all.length === 6, "paused after the keyframe");

  // The end: finished; a seek plays again.
  w.resume();
  const ws6 = FakeWebSocket.all[6];
  ws6?.open();
  ws6?.deliver({ t: "end", tick: 300, reason: "time", winner: 1, scores: [] });
  check(w.finished && w.ended, "finished at the end");
  w.seek(11);
  const ws7 = FakeWebSocket.all[7];
  check(!w.finished && !w.ended && ws7?.query === "from=11&speed=8", `seek after the end ${ws7?.url}`);
  w.stop();
  w.seek(100);
  check(FakeWebSocket.all.length === 8 && w.finished, "nothing after stop");
  check(updates.length > 0, "updates reported");

  // Live: pause, seek and speed do nothing.
  const live = new Watcher(
    { source: { kind: "match", id: "m1" }, forced: null, rate: null, delay: "1", updatesPerSecond: 30, delaySeconds: 1 },
    { onUpdate() {}, onTransport() {}, onEnd() {}, onFinished() {} },
  );
  const lw = FakeWebSocket.all[8];
  check(lw?.path === "/api/matches/m1/watch" && lw.query === "delay=1", `live ${lw?.url}`);
  live.pause();
  live.seek(5);
  live.setSpeed(4);
  check(!live.paused && FakeWebSocket.all.length === 9 && lw?.closed === false, "live ignores pause, seek and speed");
  live.stop();
}

async function main(): Promise<void> {
  timeline();
  urls();
  await watcher();
  report("timeline");
}

void main();
