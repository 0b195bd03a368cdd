// Spectator stream events (docs/protocol.md, "Spectators") and the state a
// spectator keeps by applying them.
//
// The three transports carry the same events: JSON objects (SSE `data:`,
// long-poll `events[].data`) or msgpack maps with `t` = the kind (WebSocket).
// parseEvent turns either into typed values; SpectatorState applies
// keyframes and deltas and says when the stream has a gap, so that the
// caller can ask again from scratch.

import { decode } from "@msgpack/msgpack";
import {
  DEFAULT_QUANT,
  End,
  Entity,
  GameEvent,
  KIND_PLAYER,
  MatchState,
  ProtocolError,
  Quant,
  RosterEntry,
  RowSet,
  WireRow,
  applyRows,
  dequantize,
  gameEvent,
  isMap,
  list,
  num,
  parseRows,
  quant,
  roster,
  score,
  str,
} from "./protocol";

export interface Keyframe {
  kind: "keyframe";
  tick: number;
  /** Server time of the tick, Unix ms. */
  time: number;
  state: MatchState;
  /** Milliseconds left before the time limit. */
  left: number;
  /** Wire precision of the rows of this keyframe and the deltas after it. */
  quant: Quant;
  /** Whole rows (mask 0x80), applied to an empty view. */
  rows: RowSet;
  ev: GameEvent[];
  roster: RosterEntry[];
}

export interface Delta {
  kind: "delta";
  tick: number;
  time: number;
  state: MatchState;
  left: number;
  /** The tick this delta applies to (the one sent before it). */
  base: number;
  /** Rows (whole or differences) and ids gone since base. */
  rows: RowSet;
  ev: GameEvent[];
  /** Present only when the roster changed since base. */
  roster: RosterEntry[] | null;
}

/** A keyframe or delta whose rows are malformed (ProtocolError). */
export interface SpecInvalid {
  kind: "invalid";
  event: "keyframe" | "delta";
  tick: number;
  why: string;
}

export interface MatchChange {
  kind: "match";
  tick: number;
  state: MatchState;
  roster: RosterEntry[];
}

export interface SpecEnd {
  kind: "end";
  tick: number;
  end: End;
}

export interface SpecError {
  kind: "error";
  code: number;
  reason: string;
}

/** A server heartbeat (WebSocket transport only); answered with pong. */
export interface SpecPing {
  kind: "ping";
  id: number;
  time: number;
  rtt: number;
}

export interface SpecUnknown {
  kind: "unknown";
  type: string;
}

export type SpecEvent = Keyframe | Delta | SpecInvalid | MatchChange | SpecEnd | SpecError | SpecPing | SpecUnknown;

/**
 * parseEvent reads one event's data (a decoded JSON object or msgpack map).
 * It never throws: a keyframe or delta with malformed rows is SpecInvalid.
 */
export function parseEvent(kind: string, data: unknown): SpecEvent {
  const m = isMap(data) ? data : {};
  switch (kind) {
    case "keyframe":
    case "delta": {
      let rows: RowSet;
      try {
        // A missing list is an empty one (nothing in view, nothing gone).
        rows = parseRows(m.ents ?? [], m.gone ?? []);
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err;
        return { kind: "invalid", event: kind, tick: num(m.tick), why: err.message };
      }
      const head = { tick: num(m.tick), time: num(m.time), state: str(m.state), left: num(m.left) };
      const ev = list(m.ev).map(gameEvent);
      if (kind === "keyframe") return { kind, ...head, quant: quant(m.quant), rows, ev, roster: roster(m.roster) };
      return {
        kind,
        ...head,
        base: num(m.base),
        rows,
        ev,
        roster: m.roster === undefined || m.roster === null ? null : roster(m.roster),
      };
    }
    case "match":
      return { kind, tick: num(m.tick), state: str(m.state), roster: roster(m.roster) };
    case "end":
      return {
        kind,
        tick: num(m.tick),
        end: { t: "end", reason: str(m.reason), winner: num(m.winner), scores: list(m.scores).map(score) },
      };
    case "error":
      return { kind, code: num(m.code), reason: str(m.reason) };
    case "ping":
      return { kind, id: num(m.id), time: num(m.time), rtt: num(m.rtt) };
    default:
      return { kind: "unknown", type: kind };
  }
}

/** parseJSON reads an SSE `data:` line; it throws on malformed JSON. */
export function parseJSON(kind: string, text: string): SpecEvent {
  return parseEvent(kind, JSON.parse(text));
}

/** parseFrame reads a WebSocket spectator frame (msgpack map, `t` = kind). */
export function parseFrame(data: ArrayBuffer | Uint8Array): SpecEvent {
  const m = decode(data);
  if (!isMap(m)) throw new Error("frame is not a map");
  return parseEvent(typeof m.t === "string" ? m.t : "", m);
}

/** Outcome of applying a keyframe or delta. */
export type Applied = { ok: true } | { ok: false; why: string };

/**
 * SpectatorState is the match as the spectator holds it: the view (wire
 * rows) of one tick (`tick`), the roster and the match state. A keyframe
 * replaces everything; a delta must follow the tick held (`base` equal to
 * it, `tick` greater) and fit the view held (applyRows, shared with the
 * players' snapshots), else it is refused and the stream must be asked for
 * again from scratch (`restart`, then a keyframe is accepted whatever its
 * tick).
 */
export class SpectatorState {
  /** The tick held (0: none yet). */
  tick = 0;
  time = 0;
  state: MatchState = "";
  left = 0;
  /** The view held, wire units, sorted by id. */
  view: readonly WireRow[] = [];
  /** Precision of the rows (from the last keyframe). */
  quant: Quant = { ...DEFAULT_QUANT };
  roster: RosterEntry[] = [];
  /** Counters of what was applied. */
  keyframes = 0;
  deltas = 0;
  /** True until a keyframe arrives: deltas are refused meanwhile. */
  private fresh = true;
  private cache: Entity[] | null = null;

  /** The tick to resume after (0: ask for a keyframe). */
  get resumeAfter(): number {
    return this.fresh ? 0 : this.tick;
  }

  /** restart forgets the tick held: the next event must be a keyframe. The
   * entities stay (so the picture does not blank) until it arrives. */
  restart(): void {
    this.fresh = true;
  }

  /** seed holds view (wire units, sorted by id) at tick, as if applied (tests). */
  seed(tick: number, view: readonly WireRow[], q: Quant): void {
    this.fresh = false;
    this.tick = tick;
    this.view = view;
    this.quant = q;
    this.cache = null;
  }

  keyframe(k: Keyframe): Applied {
    if (!this.fresh && k.tick <= this.tick) {
      return { ok: false, why: `keyframe of tick ${k.tick} after tick ${this.tick}` };
    }
    let view: WireRow[];
    try {
      view = applyRows([], k.rows);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      return { ok: false, why: `keyframe of tick ${k.tick}: ${err.message}` };
    }
    this.fresh = false;
    this.tick = k.tick;
    this.head(k);
    this.view = view;
    this.quant = k.quant;
    this.cache = null;
    this.roster = k.roster;
    this.keyframes++;
    return { ok: true };
  }

  delta(d: Delta): Applied {
    if (this.fresh) return { ok: false, why: `delta of tick ${d.tick} before any keyframe` };
    if (d.tick <= this.tick) return { ok: false, why: `delta of tick ${d.tick} after tick ${this.tick}` };
    if (d.base !== this.tick) return { ok: false, why: `delta from tick ${d.base}, but tick ${this.tick} is held` };
    let view: WireRow[];
    try {
      view = applyRows(this.view, d.rows);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      return { ok: false, why: `delta of tick ${d.tick}: ${err.message}` };
    }
    this.tick = d.tick;
    this.head(d);
    this.view = view;
    this.cache = null;
    if (d.roster) this.roster = d.roster;
    this.deltas++;
    return { ok: true };
  }

  match(m: MatchChange): void {
    if (m.state) this.state = m.state;
    this.roster = m.roster;
  }

  /** Entities sorted by id (as the server sends them), in world units. */
  entities(): Entity[] {
    if (this.cache === null) this.cache = this.view.map((r) => dequantize(r, this.quant));
    return this.cache;
  }

  players(): Entity[] {
    return this.entities().filter((e) => e.kind === KIND_PLAYER);
  }

  private head(h: { time: number; state: MatchState; left: number }): void {
    this.time = h.time;
    this.state = h.state;
    this.left = h.left;
  }
}
