// Interpolation of the entities the player does not control (docs/client.md,
// "Prediction and interpolation").
//
// Snapshots are kept with the time they arrived. The server's tick is
// estimated from them (the earliest arrivals are the least delayed; the
// estimate creeps down slowly so that clock drift is followed), and the
// others are drawn at render tick = estimated tick − delay. The delay is
// about two snapshot intervals and grows with the measured jitter (the
// snapshots' lateness against the estimate: mean + 2·stddev, on top of one
// interval), clamped to 2…6 intervals. Past the newest snapshot the
// entities are extrapolated for at most one interval, then held. The
// render tick never goes backwards.

import { Entity } from "./protocol";

/** Snapshots kept (at most). */
const KEEP = 32;
/** The estimate's downward creep per snapshot, ticks (follows clock drift). */
const CREEP = 0.02;
/** Weight of a new lateness sample in the jitter averages. */
const JITTER_WEIGHT = 0.1;

export interface Frame {
  tick: number;
  ents: readonly Entity[];
}

export class Interpolator {
  private frames: Frame[] = [];
  private offset = NaN; // estimated server tick − now / tickMs
  private lateMean = 0;
  private lateVar = 0;
  private last = -Infinity; // the last render tick
  private readonly tickMs: number;

  /** tickMs: the server's tick interval; every: ticks between snapshots. */
  constructor(tickMs: number, public every = 1) {
    this.tickMs = tickMs;
  }

  /** The delay in ticks. */
  get delay(): number {
    const e = Math.max(1, this.every);
    const d = e + this.lateMean + 2 * Math.sqrt(this.lateVar);
    return Math.min(6 * e, Math.max(2 * e, d));
  }

  /** The newest tick received (0: none). */
  get newest(): number {
    return this.frames.length ? this.frames[this.frames.length - 1]!.tick : 0;
  }

  /** push adds a snapshot that arrived at now (ms). */
  push(f: Frame, now: number): void {
    const s = f.tick - now / this.tickMs;
    if (Number.isNaN(this.offset) || s > this.offset - 1e-9) {
      this.offset = s;
    } else {
      const late = this.offset - s;
      const d = late - this.lateMean;
      this.lateMean += JITTER_WEIGHT * d;
      this.lateVar = (1 - JITTER_WEIGHT) * (this.lateVar + JITTER_WEIGHT * d * d);
      this.offset -= CREEP;
    }
    // Sorted by tick; a repeated tick is ignored. An out-of-order one is
    // kept when it is still ahead of what was drawn.
    let i = this.frames.length;
    while (i > 0 && this.frames[i - 1]!.tick > f.tick) i--;
    if (i > 0 && this.frames[i - 1]!.tick === f.tick) return;
    this.frames.splice(i, 0, f);
    if (this.frames.length > KEEP) this.frames.shift();
  }

  /** The estimated server tick at now (ms); NaN before the first snapshot. */
  serverTick(now: number): number {
    return now / this.tickMs + this.offset;
  }

  /**
   * renderTick is the tick to draw at now: estimated server tick − delay,
   * at most one interval past the newest snapshot, never below the last
   * one returned.
   */
  renderTick(now: number): number {
    if (!this.frames.length) return 0;
    let r = this.serverTick(now) - this.delay;
    r = Math.min(r, this.newest + Math.max(1, this.every));
    r = Math.max(r, this.last);
    this.last = r;
    return r;
  }

  /**
   * sample gives the entities as of render tick r: interpolated between
   * the snapshots around it (x, y, and the angle along the shorter arc);
   * an entity is drawn only when the snapshot at or before r has it (it
   * appears and disappears, never slides in from nowhere); past the newest
   * snapshot, extrapolated from the two newest (at most one interval).
   */
  sample(r: number): Entity[] {
    const fs = this.frames;
    if (!fs.length) return [];
    let j = fs.length - 1;
    while (j > 0 && fs[j]!.tick > r) j--;
    const a = fs[j]!;
    if (a.tick > r) return a.ents.map((e) => ({ ...e })); // before the oldest kept
    let b: Frame | undefined = fs[j + 1];
    let t: number;
    if (b) {
      t = (r - a.tick) / (b.tick - a.tick);
    } else {
      // Extrapolate from the previous snapshot through the newest.
      const p = fs[j - 1];
      if (!p) return a.ents.map((e) => ({ ...e }));
      const ahead = Math.min(r - a.tick, Math.max(1, this.every));
      b = a;
      t = 1 + ahead / (a.tick - p.tick);
      return lerpFrames(p, b, t, b);
    }
    return lerpFrames(a, b, t, a);
  }
}

/** lerpFrames blends the entities of `shown` from a (t = 0) to b (t = 1). */
function lerpFrames(a: Frame, b: Frame, t: number, shown: Frame): Entity[] {
  const from = new Map(a.ents.map((e) => [e.id, e]));
  const to = new Map(b.ents.map((e) => [e.id, e]));
  const out: Entity[] = [];
  for (const e of shown.ents) {
    const e0 = from.get(e.id);
    const e1 = to.get(e.id);
    if (!e0 || !e1) {
      out.push({ ...e });
      continue;
    }
    out.push({
      ...e,
      x: e0.x + (e1.x - e0.x) * t,
      y: e0.y + (e1.y - e0.y) * t,
      angle: lerpAngle(e0.angle, e1.angle, t),
    });
  }
  return out;
}

/** lerpAngle turns from a to b along the shorter arc, result in −π…π. */
export function lerpAngle(a: number, b: number, t: number): number {
  let d = (b - a) % (2 * Math.PI);
  if (d > Math.PI) d -= 2 * Math.PI;
  if (d < -Math.PI) d += 2 * Math.PI;
  let r = a + d * t;
  while (r > Math.PI) r -= 2 * Math.PI;
  while (r < -Math.PI) r += 2 * Math.PI;
  return r;
}
