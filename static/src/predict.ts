// Client-side prediction of the local player (docs/client.md, "Prediction
// and interpolation").
//
// The movement rule is game/arena.go stepPlayer, ported exactly: the move
// vector is normalised when longer than 1, the player moves PLAYER_SPEED·dt
// per tick (dt is the server loop's interval: whole nanoseconds of
// 1 s / rate), x then y, each clamped to the arena and refused when the
// circle would overlap an obstacle. static/test/movement_vectors.json,
// written by the Go rule (go test ./game -run TestMovementVectors -update)
// and replayed by static/test/predict.test.ts, keeps the two from drifting.
//
// How the server applies inputs: at each tick it takes every input queued
// since the previous one, in order; the last one's movement wins and stays
// in effect until a later input (an input is not a one-tick impulse). So
// the prediction steps per tick, not per input: it runs its own tick
// counter ahead of the server by about one round trip, tags each input
// with the tick it should take effect in, and on each snapshot rewinds to
// the server's position at the snapshot's tick (which applied every input
// up to the snapshot's `ack`) and replays the ticks after it with the
// inputs not yet acknowledged.

import { Arena, Rect } from "./protocol";

/** game/arena.go PlayerSpeed, arena units per second. */
export const PLAYER_SPEED = 300;
/** game/arena.go PlayerRadius. */
export const PLAYER_RADIUS = 20;

/** An error above this (arena units) snaps instead of being smoothed. */
export const SNAP_DISTANCE = 60;
/** The smoothing offset's time constant, ms (about gone after 3×). */
export const SMOOTH_MS = 35;
/** Ticks the prediction's clock may stray from its target before it is reset. */
export const RESYNC_TICKS = 3;

/** tickSeconds is the server loop's interval: 1 s / rate in whole nanoseconds. */
export function tickSeconds(rate: number): number {
  return Math.floor(1e9 / rate) / 1e9;
}

/** MoveRule is the arena's movement rule for one tick rate. */
export class MoveRule {
  readonly dt: number;
  constructor(readonly arena: Arena, rate: number) {
    this.dt = tickSeconds(rate);
  }

  /** blocked reports whether a circle at (x, y) with radius r overlaps an obstacle. */
  blocked(x: number, y: number, r: number): boolean {
    for (const o of this.arena.obstacles as readonly Rect[]) {
      const cx = Math.max(o.x, Math.min(x, o.x + o.w));
      const cy = Math.max(o.y, Math.min(y, o.y + o.h));
      const dx = x - cx;
      const dy = y - cy;
      if (dx * dx + dy * dy < r * r) return true;
    }
    return false;
  }

  /** step moves a player at (x, y) by one tick of movement (mx, my). */
  step(x: number, y: number, mx: number, my: number): { x: number; y: number } {
    const l = Math.hypot(mx, my);
    if (l > 1) {
      mx /= l;
      my /= l;
    }
    const step = PLAYER_SPEED * this.dt;
    const nx = clamp(x + mx * step, PLAYER_RADIUS, this.arena.w - PLAYER_RADIUS);
    if (!this.blocked(nx, y, PLAYER_RADIUS)) x = nx;
    const ny = clamp(y + my * step, PLAYER_RADIUS, this.arena.h - PLAYER_RADIUS);
    if (!this.blocked(x, ny, PLAYER_RADIUS)) y = ny;
    return { x, y };
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, v));
}

/** Move is what prediction needs of an input (net.ts keeps the inputs). */
export interface Move {
  seq: number;
  mx: number;
  my: number;
}

/** Authority is the server's word on the local player at one snapshot. */
export interface Authority {
  /** The snapshot's tick. */
  tick: number;
  /** The last input seq applied by then. */
  ack: number;
  x: number;
  y: number;
  /** The movement in effect after that tick (the acknowledged input's). */
  mx: number;
  my: number;
}

/**
 * Predictor predicts the local player. The caller advances its clock
 * (advance, or step tick by tick), hands it each input as it is taken
 * (input) and each snapshot's authority with the inputs still
 * unacknowledged (reconcile); `x`, `y` are the predicted position and
 * `drawX`, `drawY` the position to draw (with the correction being
 * smoothed away).
 */
export class Predictor {
  /** The last tick predicted. */
  tick = 0;
  x = 0;
  y = 0;
  /** The smoothing offset: drawn = predicted + offset, decaying to 0. */
  offX = 0;
  offY = 0;
  /** Corrections so far: smoothed and snapped. */
  smoothed = 0;
  snapped = 0;
  /** The size of the last correction, arena units (the net graph's prediction error). */
  error = 0;
  private started = false;
  /** Placed by the server (dead, away, match over): not extrapolated. */
  private held = false;
  private mx = 0;
  private my = 0;
  private acc = 0; // ms not yet turned into ticks
  /** The tick each unacknowledged input takes effect in, by seq. */
  private tags = new Map<number, number>();

  constructor(readonly rule: MoveRule) {}

  get drawX(): number {
    return this.x + this.offX;
  }
  get drawY(): number {
    return this.y + this.offY;
  }

  /**
   * view is where to draw the player this frame: between the predicted tick
   * and the next one (the movement in effect, by the fraction of the tick
   * elapsed), plus the smoothing offset. A key press moves the drawn
   * avatar on the very next frame, not on the next tick.
   */
  view(): { x: number; y: number } {
    const f = this.started && !this.held ? Math.min(1, this.acc / (this.rule.dt * 1000)) : 0;
    const n = f > 0 ? this.rule.step(this.x, this.y, this.mx, this.my) : this;
    return { x: this.x + (n.x - this.x) * f + this.offX, y: this.y + (n.y - this.y) * f + this.offY };
  }

  /** ready is true once a snapshot placed the player. */
  get ready(): boolean {
    return this.started;
  }

  /** input notes an input taken now: it takes effect in the next tick. */
  input(m: Move): void {
    this.tags.set(m.seq, this.tick + 1);
    this.mx = m.mx;
    this.my = m.my;
  }

  /** step predicts one more tick. */
  step(): void {
    this.tick++;
    if (!this.started) return;
    const p = this.rule.step(this.x, this.y, this.mx, this.my);
    this.x = p.x;
    this.y = p.y;
  }

  /** advance runs the clock by ms: whole ticks are predicted, and the smoothing offset decays. */
  advance(ms: number): void {
    if (!(ms > 0)) return;
    const k = Math.exp(-ms / SMOOTH_MS);
    this.offX *= k;
    this.offY *= k;
    if (Math.hypot(this.offX, this.offY) < 0.01) this.offX = this.offY = 0;
    this.acc += ms;
    const tickMs = this.rule.dt * 1000;
    // A frozen page does not replay seconds of ticks one by one: the next
    // snapshot resynchronises the clock.
    if (this.acc > tickMs * 30) this.acc = tickMs * 30;
    while (this.acc >= tickMs) {
      this.acc -= tickMs;
      this.step();
    }
  }

  /**
   * reconcile rewinds to the server's position at a snapshot and replays
   * the ticks after it up to the predicted tick, with the inputs in
   * `pending` (those above a.ack, in order) each from its tick (late ones
   * from the tick after the snapshot). lead is how many ticks the
   * prediction runs ahead of the snapshot (about a round trip): when the
   * clock strays from a.tick + lead by more than RESYNC_TICKS, it is reset.
   * A change of the predicted position is smoothed, or snapped when over
   * SNAP_DISTANCE.
   */
  reconcile(a: Authority, pending: readonly Move[], lead: number): void {
    for (const seq of this.tags.keys()) if (seq <= a.ack) this.tags.delete(seq);
    this.held = false;
    const target = a.tick + Math.max(0, Math.round(lead));
    if (!this.started || Math.abs(this.tick - target) > RESYNC_TICKS || this.tick < a.tick) {
      this.tick = target;
      this.acc = 0;
    }
    const oldX = this.x;
    const oldY = this.y;
    let x = a.x;
    let y = a.y;
    let mx = a.mx;
    let my = a.my;
    let i = 0;
    for (let t = a.tick + 1; t <= this.tick; t++) {
      for (; i < pending.length; i++) {
        const m = pending[i]!;
        if ((this.tags.get(m.seq) ?? a.tick + 1) > t) break;
        mx = m.mx;
        my = m.my;
      }
      const p = this.rule.step(x, y, mx, my);
      x = p.x;
      y = p.y;
    }
    // Inputs tagged past the predicted tick (none unless the clock was
    // reset backwards) are the movement from now on.
    for (; i < pending.length; i++) {
      mx = pending[i]!.mx;
      my = pending[i]!.my;
    }
    this.x = x;
    this.y = y;
    this.mx = mx;
    this.my = my;
    if (!this.started) {
      this.started = true;
      return;
    }
    const ex = oldX + this.offX - x;
    const ey = oldY + this.offY - y;
    this.error = Math.hypot(oldX - x, oldY - y);
    if (ex === 0 && ey === 0) return;
    if (Math.hypot(ex, ey) > SNAP_DISTANCE) {
      this.offX = this.offY = 0;
      this.snapped++;
    } else {
      this.offX = ex;
      this.offY = ey;
      if (Math.hypot(oldX - x, oldY - y) > 1e-9) this.smoothed++;
    }
  }

  /** place puts the player where the server says, without prediction (dead, or away). */
  place(a: Authority): void {
    for (const seq of this.tags.keys()) if (seq <= a.ack) this.tags.delete(seq);
    const moved = Math.hypot(this.x - a.x, this.y - a.y);
    this.x = a.x;
    this.y = a.y;
    this.mx = a.mx;
    this.my = a.my;
    this.offX = this.offY = 0;
    this.held = true;
    if (this.started && moved > 0) this.snapped++;
    this.tick = Math.max(this.tick, a.tick);
    this.started = true;
  }
}
