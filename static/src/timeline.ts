// A replay's timeline (docs/protocol.md, "Replays"): the replay object of
// GET /api/replays, and the arithmetic between its ticks, seconds of match
// time and positions on the watch page's bar. Pure: no DOM, tested under
// Node (static/test/timeline.test.ts).

/** A replay in the HTTP API (GET /api/replays, GET /api/replays/{id}). */
export interface ReplayInfo {
  id: string;
  /** The first tick's time, RFC 3339. */
  started: string;
  duration_ms: number;
  /** Ticks per second. */
  rate: number;
  first_tick: number;
  last_tick: number;
  players: { id: number; name: string; score: number }[];
  /** A player id, 0: none. */
  winner: number;
  /** "time", "score", "closed", or "" (closed without an end, or cut short). */
  reason: string;
  size: number;
  complete: boolean;
}

/** The playback speeds offered (the server takes 0.25 … 8). */
export const SPEEDS: readonly number[] = [0.25, 0.5, 1, 2, 4, 8];

export function isSpeed(x: number): boolean {
  return SPEEDS.includes(x);
}

/** clampTick keeps tick within the replay's ticks. */
export function clampTick(r: ReplayInfo, tick: number): number {
  return Math.min(r.last_tick, Math.max(r.first_tick, Math.round(tick)));
}

/** tickToSeconds is the match time of tick from the first tick, seconds. */
export function tickToSeconds(r: ReplayInfo, tick: number): number {
  return (clampTick(r, tick) - r.first_tick) / Math.max(1, r.rate);
}

/** secondsToTick is the tick at s seconds from the first (as the server's
 * t=: first + ⌊s × rate⌋), within the replay. */
export function secondsToTick(r: ReplayInfo, s: number): number {
  return clampTick(r, r.first_tick + Math.floor(Math.max(0, s) * Math.max(1, r.rate)));
}

/** durationSeconds is the match time from the first tick to the last. */
export function durationSeconds(r: ReplayInfo): number {
  return (r.last_tick - r.first_tick) / Math.max(1, r.rate);
}

/** fractionOf is where tick lies on the bar, 0 … 1. */
export function fractionOf(r: ReplayInfo, tick: number): number {
  const span = r.last_tick - r.first_tick;
  return span > 0 ? (clampTick(r, tick) - r.first_tick) / span : 0;
}

/** tickAt is the tick at fraction f (0 … 1) of the bar. */
export function tickAt(r: ReplayInfo, f: number): number {
  return clampTick(r, r.first_tick + Math.min(1, Math.max(0, f)) * (r.last_tick - r.first_tick));
}

/** formatClock shows seconds as m:ss (h:mm:ss from an hour). */
export function formatClock(s: number): string {
  const t = Math.max(0, Math.floor(s));
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const ss = String(t % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** position is the bar's label: "m:ss / m:ss" (tick's time / duration). */
export function position(r: ReplayInfo, tick: number): string {
  return `${formatClock(tickToSeconds(r, tick))} / ${formatClock(durationSeconds(r))}`;
}

/** formatSpeed shows a speed as "0.25×", "1×", "8×". */
export function formatSpeed(x: number): string {
  return `${x}×`;
}

/** parseSpeed reads a ?speed= value: one of SPEEDS, else 1. */
export function parseSpeed(s: string | null): number {
  const x = s === null ? 1 : Number(s);
  return isSpeed(x) ? x : 1;
}
