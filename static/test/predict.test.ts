// The client's prediction and interpolation (src/predict.ts, src/interp.ts):
// the movement rule against the Go rule's vectors (movement_vectors.json,
// written by go test ./game -run TestMovementVectors -update), prediction
// replaying unacknowledged inputs to the server's result over a lagged
// link, corrections smoothed or snapped, interpolation at the midpoint,
// a render tick that never goes backwards, bounded extrapolation.
//
// Run with Node after bundling (make test-ts).

import vectors from "./movement_vectors.json";
import { Interpolator, lerpAngle } from "../src/interp";
import { MoveRule, Move, PLAYER_RADIUS, PLAYER_SPEED, Predictor, SNAP_DISTANCE } from "../src/predict";
import { Arena, Entity } from "../src/protocol";
import { check, report } from "./check";

const near = (a: number, b: number, eps = 1e-6) => Math.abs(a - b) <= eps;

const arena: Arena = {
  w: vectors.w,
  h: vectors.h,
  obstacles: vectors.obstacles.map((o) => ({ x: o.X, y: o.Y, w: o.W, h: o.H })),
};

// ---- the Go rule's vectors ----
check(PLAYER_SPEED === vectors.speed, `PLAYER_SPEED ${PLAYER_SPEED}, Go ${vectors.speed}`);
check(PLAYER_RADIUS === vectors.radius, `PLAYER_RADIUS ${PLAYER_RADIUS}, Go ${vectors.radius}`);
check(vectors.cases.length > 0, "vectors have cases");
for (const c of vectors.cases) {
  const rule = new MoveRule(arena, c.rate);
  let x = c.start[0]!;
  let y = c.start[1]!;
  let mx = 0;
  let my = 0;
  c.ticks.forEach((t, i) => {
    for (const inp of t.inputs) [mx, my] = [inp[0]!, inp[1]!]; // the last one wins
    ({ x, y } = rule.step(x, y, mx, my));
    check(near(x, t.pos[0]!) && near(y, t.pos[1]!), `${c.name}: tick ${i + 1} at (${x}, ${y}), Go (${t.pos[0]}, ${t.pos[1]})`);
  });
}

// ---- prediction over a lagged link ----
// One loop turn is one tick of real time. The client predicts `lat` ticks
// ahead of the server (an input taken while it shows tick P, tagged P + 1,
// reaches the server in time for its tick P + 1, where it is applied, the
// last of a tick winning), and the snapshot of server tick S reaches the
// client `lat` ticks later, when it predicts tick S + 2·lat. The client
// drops acknowledged inputs and replays the rest. Every tick's prediction
// must be where the server later puts the player, with no correction.
function lagged(rate: number, lat: number, moves: (t: number) => [number, number] | null, ticks: number) {
  const rule = new MoveRule(arena, rate);
  const pred = new Predictor(rule);
  pred.reconcile({ tick: 0, ack: 0, x: 300, y: 450, mx: 0, my: 0 }, [], lat);
  const server = { x: 300, y: 450, mx: 0, my: 0, ack: 0 };
  const serverAt: { x: number; y: number }[] = [];
  const predAt: { x: number; y: number }[] = [];
  const pending: Move[] = [];
  const inflight: { at: number; m: Move }[] = [];
  const snaps: { at: number; tick: number; ack: number; x: number; y: number; mx: number; my: number }[] = [];
  let seq = 0;
  let replayed = 0; // reconciles that replayed unacknowledged inputs
  let lastAcked: Move = { seq: 0, mx: 0, my: 0 };
  for (let t = 1; t <= ticks + 3 * lat; t++) {
    const m = t <= ticks ? moves(t) : null;
    if (m) {
      const inp = { seq: ++seq, mx: m[0], my: m[1] };
      pending.push(inp);
      pred.input(inp);
      inflight.push({ at: pred.tick + 1, m: inp });
    }
    pred.step();
    const st = pred.tick - lat;
    if (st >= 1) {
      while (inflight.length && inflight[0]!.at <= st) {
        const { m } = inflight.shift()!;
        [server.mx, server.my, server.ack] = [m.mx, m.my, m.seq];
      }
      ({ x: server.x, y: server.y } = rule.step(server.x, server.y, server.mx, server.my));
      serverAt[st] = { x: server.x, y: server.y };
      snaps.push({ at: st + 2 * lat, tick: st, ...server });
    }
    while (snaps.length && snaps[0]!.at <= pred.tick) {
      const s = snaps.shift()!;
      while (pending.length && pending[0]!.seq <= s.ack) lastAcked = pending.shift()!;
      check(lastAcked.mx === s.mx && lastAcked.my === s.my, `tick ${s.tick}: the acked input's move is the server's`);
      if (pending.length > 0) replayed++;
      pred.reconcile({ ...s, mx: lastAcked.mx, my: lastAcked.my }, pending, 2 * lat);
    }
    predAt[pred.tick] = { x: pred.x, y: pred.y };
  }
  return { pred, serverAt, predAt, replayed };
}

{
  // Inputs change every few ticks (with diagonals, walls and obstacles).
  const pattern: [number, number][] = [[1, 0], [1, 1], [0, 1], [-1, 0.5], [0.2, -1], [0, 0], [-1, -1], [1, -0.3]];
  for (const every of [1, 2, 5]) {
    const moves = (t: number): [number, number] | null =>
      t % every === 0 ? pattern[Math.floor(t / every) % pattern.length]! : null;
    for (const lat of [1, 3, 6]) {
      const r = lagged(30, lat, moves, 150);
      let compared = 0;
      let bad = 0;
      r.serverAt.forEach((s, tick) => {
        const p = r.predAt[tick];
        if (!p) return;
        compared++;
        if (!near(p.x, s.x) || !near(p.y, s.y)) {
          if (bad++ < 3) check(false, `input every ${every}, latency ${lat}: tick ${tick} predicted (${p.x}, ${p.y}), server (${s.x}, ${s.y})`);
        }
      });
      check(compared >= 150, `input every ${every}, latency ${lat}: ${compared} ticks compared`);
      check(r.replayed > 10, `input every ${every}, latency ${lat}: ${r.replayed} reconciles replayed unacknowledged inputs`);
      check(r.pred.snapped === 0 && r.pred.smoothed === 0,
        `input every ${every}, latency ${lat}: corrections (smoothed ${r.pred.smoothed}, snapped ${r.pred.snapped}), want none`);
    }
  }
  // Without the replay (acknowledged inputs only) the prediction would be
  // wrong: the test can tell.
  const rule = new MoveRule(arena, 30);
  const p = new Predictor(rule);
  p.reconcile({ tick: 0, ack: 0, x: 300, y: 450, mx: 0, my: 0 }, [], 4);
  p.input({ seq: 1, mx: 1, my: 0 });
  p.step();
  p.step();
  p.reconcile({ tick: 2, ack: 0, x: 300, y: 450, mx: 0, my: 0 }, [{ seq: 1, mx: 1, my: 0 }], 4);
  check(near(p.x, 300 + 2 * PLAYER_SPEED * rule.dt), `replayed the unacknowledged input: x ${p.x}`);
}

// ---- corrections: small ones smoothed, large ones snapped ----
{
  const rule = new MoveRule(arena, 30);
  const p = new Predictor(rule);
  p.reconcile({ tick: 10, ack: 0, x: 800, y: 100, mx: 0, my: 0 }, [], 2);
  // The server disagrees by 5 units: drawn stays put, then converges.
  p.reconcile({ tick: 11, ack: 0, x: 805, y: 100, mx: 0, my: 0 }, [], 2);
  check(p.x === 805, `corrected prediction x ${p.x}, want 805`);
  check(near(p.drawX, 800), `a small error is smoothed: drawn at ${p.drawX} right after, want 800`);
  check(p.smoothed === 1 && p.snapped === 0, `smoothed ${p.smoothed} snapped ${p.snapped}`);
  p.advance(50);
  check(p.drawX > 800 && p.drawX < 805, `drawn at ${p.drawX} after 50 ms, want between 800 and 805`);
  p.advance(100);
  check(near(p.drawX, 805, 0.1), `drawn at ${p.drawX} after 150 ms, want 805`);
  // A large error (a respawn, a teleport) snaps.
  p.reconcile({ tick: 20, ack: 0, x: 805 + SNAP_DISTANCE + 50, y: 100, mx: 0, my: 0 }, [], 2);
  check(p.drawX === p.x && p.x === 805 + SNAP_DISTANCE + 50, `a large error snaps: drawn ${p.drawX}, predicted ${p.x}`);
  check(p.snapped === 1, `snapped ${p.snapped}`);
}

// ---- interpolation ----
function ent(id: number, x: number, y: number, angle = 0): Entity {
  return { id, kind: 1, x, y, angle, hp: 100, score: 0, flags: 0 };
}
{
  // 30 Hz, a snapshot every tick: delay is 2 ticks.
  const tickMs = 1000 / 30;
  const ip = new Interpolator(tickMs, 1);
  ip.push({ tick: 10, ents: [ent(1, 0, 0, 3), ent(2, 50, 50)] }, 10 * tickMs);
  ip.push({ tick: 11, ents: [ent(1, 10, 20, -3), ent(3, 70, 70)] }, 11 * tickMs);
  check(ip.delay === 2, `delay ${ip.delay}, want 2 ticks`);
  const r = ip.renderTick(12.5 * tickMs);
  check(near(r, 10.5), `render tick ${r} at 12.5 ticks, want 10.5`);
  const es = ip.sample(r);
  const e1 = es.find((e) => e.id === 1)!;
  check(near(e1.x, 5) && near(e1.y, 10), `midpoint (${e1.x}, ${e1.y}), want (5, 10)`);
  // 3 → −3 rad is the short way across ±π.
  check(Math.abs(Math.abs(e1.angle) - Math.PI) < 0.3, `angle ${e1.angle}, want near ±π (shorter arc)`);
  check(near(lerpAngle(3, -3, 0.5), Math.PI) || near(lerpAngle(3, -3, 0.5), -Math.PI), "lerpAngle across ±π");
  check(es.some((e) => e.id === 2) && !es.some((e) => e.id === 3),
    `entering/leaving: ${JSON.stringify(es.map((e) => e.id))}, want 2 (still there) and not 3 (not yet)`);
  const e2 = es.find((e) => e.id === 2)!;
  check(e2.x === 50, `a leaving entity is held, not slid: x ${e2.x}`);

  // Late snapshot: extrapolate at most one interval, then hold.
  const r2 = ip.renderTick(20 * tickMs);
  check(near(r2, 12), `render tick ${r2} long after the newest (11), want at most 12`);
  const x2 = ip.sample(r2).find((e) => e.id === 1)!.x;
  check(near(x2, 20), `extrapolated x ${x2}, want 20 (one interval past 10)`);
  const r3 = ip.renderTick(40 * tickMs);
  check(near(r3, 12), `render tick ${r3} still bounded`);

  // An out-of-order (older) snapshot and a late estimate: never backwards.
  ip.push({ tick: 9, ents: [ent(1, -10, -10)] }, 41 * tickMs);
  let prev = ip.renderTick(41 * tickMs);
  check(prev >= r3, `render tick went backwards: ${prev} < ${r3}`);
  ip.push({ tick: 12, ents: [ent(1, 30, 30)] }, 60 * tickMs); // very late: jitter grows
  for (let t = 60; t < 70; t += 0.5) {
    const r = ip.renderTick(t * tickMs);
    check(r >= prev, `render tick went backwards at ${t}: ${r} < ${prev}`);
    prev = r;
  }
  check(ip.delay > 2, `delay ${ip.delay} after a late snapshot, want it grown above 2`);
}

report("predict");
