// Tickstream wire protocol, version 2 (docs/protocol.md is the contract).
//
// Every message is one binary WebSocket frame holding a msgpack map with
// string keys; the key `t` names the message type. This file turns bytes
// into typed values and back, and holds the entity row codec shared by
// players (`snap`) and spectators (keyframe/delta events): rows in wire
// units (quantized integers), whole or as differences against a baseline
// view, and Views, the baselines a player connection keeps. It knows
// nothing about sockets or pages.

import { Decoder, Encoder } from "@msgpack/msgpack";

/** WebSocket subprotocol; the protocol version is part of the name. */
export const SUBPROTOCOL = "tickstream.v2";

/** Longest display name the server accepts, in characters after trimming. */
export const MAX_NAME_LENGTH = 24;

/** Entity kinds (`kind` field of an entity). */
export const KIND_PLAYER = 1;
export const KIND_PROJECTILE = 2;

/** Entity flags (`flags` bit field of an entity). */
export const FLAG_DEAD = 1;
export const FLAG_DISCONNECTED = 2;
export const FLAG_PROTECTED = 4;

/** Input buttons (`buttons` bit field of an input). */
export const BUTTON_FIRE = 1;

/** Event kinds (first element of an `ev` entry). */
export const EVENT_SHOT = 1;
export const EVENT_HIT = 2;
export const EVENT_KILL = 3;
export const EVENT_RESPAWN = 4;

/** Highest input sequence number: seq is a uint32 starting at 1. */
export const MAX_SEQ = 0xffffffff;

/** Close codes the client acts on (docs/protocol.md, "Close codes"). */
export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;
/** No close frame: the browser's code for a dropped connection. */
export const CLOSE_ABNORMAL = 1006;
export const CLOSE_TOO_SLOW = 4007;
export const CLOSE_HEARTBEAT = 4010;
export const CLOSE_REPLACED = 4011;
export const CLOSE_RESUME_REFUSED = 4012;
export const CLOSE_NO_SUCH_MATCH = 4004;
/** Follows a `redirect`: the match is on another node of the cluster. */
export const CLOSE_REDIRECT = 4015;

/**
 * isResumable tells whether a connection that closed with code lost its
 * link but kept its seat: the server holds the seat for its grace period
 * and the client should resume. 1000/1001 and refusals (4000–4009 except
 * 4007, 1009) end the session; 4011 means another connection has the seat.
 */
export function isResumable(code: number): boolean {
  return code === CLOSE_ABNORMAL || code === CLOSE_HEARTBEAT || code === CLOSE_TOO_SLOW;
}

// One encoder and one decoder for the page; neither is re-entered.
const encoder = new Encoder();
const decoder = new Decoder();

// ---- client → server ------------------------------------------------------

export interface Join {
  name: string;
  /** Match id to join; "" joins automatically. */
  match: string;
  /** Send only every Nth tick (1…60); absent: every tick (the server's default). */
  every?: number;
}

/** Highest `every` a join may ask for. */
export const MAX_EVERY = 60;

export interface Input {
  seq: number;
  /** Movement, each −1 … 1 (right and down are +). */
  mx: number;
  my: number;
  /** Aim in radians, −π … π; 0 = +x, π/2 = +y (down). */
  aim: number;
  buttons: number;
  /** The newest snapshot tick applied on this connection (0: none). Set
   * when the input is sent, not when it is taken: a resent input carries
   * the ack of the connection it is sent on. */
  ack?: number;
  /** The tick whose state was on screen when the input was made (0: none):
   * the server resolves the input's shot against it (lag compensation).
   * Set when the input is taken: a resent input keeps it. */
  view?: number;
}

export function encodeJoin(j: Join): Uint8Array<ArrayBuffer> {
  if (j.every === undefined) return encoder.encode({ t: "join", name: j.name, match: j.match });
  const every = Math.round(clamp(j.every, 1, MAX_EVERY)) || 1;
  return encoder.encode({ t: "join", name: j.name, match: j.match, every });
}

/** encodeAck tells the server the newest snapshot tick applied. */
export function encodeAck(tick: number): Uint8Array<ArrayBuffer> {
  return encoder.encode({ t: "ack", tick: uintOrZero(tick) });
}

/** encodeResume asks for a held seat back (first message instead of join). */
export function encodeResume(token: string): Uint8Array<ArrayBuffer> {
  return encoder.encode({ t: "resume", token });
}

/** encodePong answers ping id; time is the client's clock, Unix ms. */
export function encodePong(id: number, time: number): Uint8Array<ArrayBuffer> {
  return encoder.encode({ t: "pong", id, time: Math.round(time) });
}

/** encodeSuspend tells the server the page is hidden (on) or visible. */
export function encodeSuspend(on: boolean): Uint8Array<ArrayBuffer> {
  return encoder.encode({ t: "suspend", on });
}

export function encodeInput(i: Input): Uint8Array<ArrayBuffer> {
  return encoder.encode({
    t: "input",
    seq: i.seq,
    mx: clamp(i.mx, -1, 1),
    my: clamp(i.my, -1, 1),
    aim: clamp(i.aim, -Math.PI, Math.PI),
    buttons: i.buttons & BUTTON_FIRE,
    ack: uintOrZero(i.ack ?? 0),
    view: uintOrZero(i.view ?? 0),
  });
}

/**
 * cleanName trims a display name and checks it against the server's rules
 * (1–24 characters, no control characters). It returns the name to send, or
 * throws an Error whose message can be shown to the user.
 */
export function cleanName(raw: string): string {
  const name = raw.trim();
  const chars = Array.from(name).length; // code points, not UTF-16 units
  if (chars === 0) throw new Error("enter a name");
  if (chars > MAX_NAME_LENGTH) throw new Error(`name too long (max ${MAX_NAME_LENGTH} characters)`);
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) throw new Error("name has control characters");
  return name;
}

// ---- server → client ------------------------------------------------------

/** Obstacle: axis-aligned rectangle, top-left corner plus size. */
export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Arena {
  w: number;
  h: number;
  obstacles: Rect[];
}

export interface RosterEntry {
  id: number;
  name: string;
}

export interface Welcome {
  t: "welcome";
  player: number;
  match: string;
  rate: number;
  tick: number;
  arena: Arena;
  roster: RosterEntry[];
  /** Resume token of this seat: opaque, single use; keep only the latest. */
  token: string;
  /** True when this welcome answers a resume. */
  resumed: boolean;
  /** Last input seq applied for this seat (0 on a join). */
  ack: number;
  /** Wire precision of entity rows (see dequantize). */
  quant: Quant;
  /** Interest radius in world units: entities farther from your avatar
   * are not sent. 0: you see everything. */
  radius: number;
  /** The server's send divisor for this session (a snap every Nth tick). */
  every: number;
  /** Players the match waits for before it runs (0 from an older server). */
  min: number;
}

/** Wire precision: world units per step of x and y, steps per full turn of angle. */
export interface Quant {
  pos: number;
  angle: number;
}

/** The reference game's precision (game.Layout.Precision of the arena). */
export const DEFAULT_QUANT: Readonly<Quant> = Object.freeze({ pos: 0.5, angle: 1024 });

/** The server's heartbeat; answered at once with a pong. */
export interface Ping {
  t: "ping";
  id: number;
  /** Server clock, Unix ms. */
  time: number;
  /** Smoothed round-trip time measured by the server, ms (0 before the first pong). */
  rtt: number;
  /** The server's current send divisor for this session (0: not said). */
  every: number;
}

export interface Roster {
  t: "roster";
  players: RosterEntry[];
}

export interface Entity {
  id: number;
  kind: number;
  x: number;
  y: number;
  angle: number;
  /** Players: 0 … 100; projectiles: 0. */
  hp: number;
  /** Players: kills; projectiles: id of the shooter. */
  score: number;
  flags: number;
}

export interface GameEvent {
  kind: number;
  a: number;
  b: number;
}

export type MatchState = "waiting" | "running" | "ended" | "closed" | string;

/** Match states by their wire number in `snap` (index = value). */
export const MATCH_STATES: readonly MatchState[] = ["waiting", "running", "ended", "closed"];

/**
 * Snap is the world as one player sees it at one tick: the result of
 * applying a SnapFrame to its baseline, dequantized. This is what the page
 * draws.
 */
export interface Snap {
  t: "snap";
  /** Last input seq applied for this player. */
  ack: number;
  tick: number;
  /** The baseline tick the frame was applied to (0: a keyframe). */
  base: number;
  /** Server time of the tick, Unix milliseconds. */
  time: number;
  state: MatchState;
  /** Milliseconds left before the time limit (0 while waiting). */
  left: number;
  /** Every entity in view, sorted by id. */
  ents: Entity[];
  ev: GameEvent[];
}

/** SnapFrame is a `snap` message as it arrives: rows against `base`. */
export interface SnapFrame {
  t: "snap";
  /** Last input seq applied for this player. */
  ack: number;
  tick: number;
  /** Baseline tick; 0 = keyframe (applied to an empty view). */
  base: number;
  /** Tick time, Unix ms. */
  time: number;
  state: MatchState;
  /** Milliseconds before the time limit. */
  left: number;
  /** Rows (whole or differences) and ids gone, against the baseline. */
  rows: RowSet;
  ev: GameEvent[];
}

export interface Score {
  id: number;
  name: string;
  kills: number;
  deaths: number;
}

export interface End {
  t: "end";
  reason: "time" | "score" | "closed" | string;
  winner: number;
  scores: Score[];
}

/**
 * Redirect answers a join that belongs on another node of a cluster; the
 * socket then closes with 4015. Connect to url (exactly, query included)
 * and send the join again with match = this match.
 */
export interface Redirect {
  t: "redirect";
  url: string;
  match: string;
}

export type ServerMessage = Welcome | Ping | Roster | SnapFrame | End | Redirect;

/** A server message of a type this client does not know (to be ignored). */
export interface Unknown {
  t: "unknown";
  type: string;
}

/** ProtocolError reports a server message this client cannot understand. */
export class ProtocolError extends Error {}

/**
 * decodeServer decodes one binary frame from the server. Missing keys take
 * their zero value, unknown keys are ignored; a message of an unknown type
 * is returned as Unknown (later versions add messages); a frame that is not
 * a msgpack map, or a `snap` that breaks the row codec, throws ProtocolError.
 */
export function decodeServer(data: ArrayBuffer | Uint8Array): ServerMessage | Unknown {
  let m: unknown;
  try {
    m = decoder.decode(data);
  } catch (err) {
    throw new ProtocolError(`not one msgpack value: ${(err as Error).message}`);
  }
  if (!isMap(m)) throw new ProtocolError("message is not a map");
  switch (m.t) {
    case "welcome":
      return {
        t: "welcome",
        player: num(m.player),
        match: str(m.match),
        rate: num(m.rate),
        tick: num(m.tick),
        arena: arena(m.arena),
        roster: roster(m.roster),
        token: str(m.token),
        resumed: m.resumed === true,
        ack: num(m.ack),
        quant: quant(m.quant),
        radius: num(m.radius),
        every: num(m.every),
        min: num(m.min),
      };
    case "ping":
      return { t: "ping", id: num(m.id), time: num(m.time), rtt: num(m.rtt), every: num(m.every) };
    case "roster":
      return { t: "roster", players: roster(m.players) };
    case "snap":
      return snapFrame(m.d);
    case "redirect":
      return { t: "redirect", url: str(m.url), match: str(m.match) };
    case "end":
      return {
        t: "end",
        reason: str(m.reason),
        winner: num(m.winner),
        scores: list(m.scores).map(score),
      };
    default:
      return { t: "unknown", type: typeof m.t === "string" ? m.t : JSON.stringify(m.t) ?? "" };
  }
}

/** What a close code means and what the user should do about it. */
export function describeClose(code: number): string {
  switch (code) {
    case 1000: return "match over";
    case 1001: return "server shutting down — try again later";
    case 1006: return "connection lost";
    case 1009: return "message too big (client bug)";
    case 4000: return "bad message (client bug)";
    case 4001: return "unknown message type (client bug)";
    case 4002: return "bad input (client bug)";
    case 4003: return "bad name — pick another name";
    case 4004: return "no such match — pick another match";
    case 4005: return "match full — pick another match";
    case 4006: return "match ended — join another";
    case 4007: return "connection too slow — reconnect";
    case 4008: return "protocol error (client bug)";
    case 4009: return "server full — try again later";
    case 4010: return "heartbeat timeout";
    case 4011: return "this seat was taken over by another tab";
    case 4012: return "resume refused — join again";
    case 4013: return "too many players from your address — close another tab";
    case 4014: return "too many messages (flooding) — reload the page";
    case 4015: return "redirected to another server";
    default: return "connection closed";
  }
}

// ---- decoding helpers (shared with spectator.ts) ---------------------------

export type MsgMap = { [key: string]: unknown };

export function isMap(v: unknown): v is MsgMap {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

export function num(v: unknown): number {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "bigint") return Number(v);
  return 0;
}

export function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

export function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** quant reads a welcome's or keyframe's precision; a missing or unusable
 * value falls back to the reference game's (DEFAULT_QUANT). */
export function quant(v: unknown): Quant {
  const m = isMap(v) ? v : {};
  const pos = num(m.pos);
  const angle = num(m.angle);
  return {
    pos: pos > 0 ? pos : DEFAULT_QUANT.pos,
    angle: angle > 0 ? angle : DEFAULT_QUANT.angle,
  };
}

function arena(v: unknown): Arena {
  const m = isMap(v) ? v : {};
  return {
    w: num(m.w),
    h: num(m.h),
    obstacles: list(m.obstacles).map((o) => {
      const r = list(o);
      return { x: num(r[0]), y: num(r[1]), w: num(r[2]), h: num(r[3]) };
    }),
  };
}

export function roster(v: unknown): RosterEntry[] {
  return list(v).map((p) => {
    const r = list(p);
    return { id: num(r[0]), name: str(r[1]) };
  });
}

export function gameEvent(v: unknown): GameEvent {
  const r = list(v);
  return { kind: num(r[0]), a: num(r[1]), b: num(r[2]) };
}

export function score(v: unknown): Score {
  const r = list(v);
  return { id: num(r[0]), name: str(r[1]), kills: num(r[2]), deaths: num(r[3]) };
}

function uintOrZero(v: number): number {
  return Number.isInteger(v) && v > 0 ? v : 0;
}

function clamp(v: number, lo: number, hi: number): number {
  if (!Number.isFinite(v)) return 0;
  return v < lo ? lo : v > hi ? hi : v;
}

// ---- entity rows (docs/protocol.md, "Entity rows") -------------------------

/**
 * WireRow is one entity in wire units: [id, kind, x, y, angle, hp, score,
 * flags], all integers (id a uint32, the rest int32). A view is an array
 * of WireRows sorted by strictly increasing id.
 */
export type WireRow = readonly number[];

/** Number of fields after the id in a WireRow (and in a whole row). */
export const ROW_FIELDS = 7;
/** Row mask of a whole row (absolute values follow). */
export const MASK_WHOLE = 0x80;

/**
 * RowUpdate is one row of `ents` as sent: the entity id (running sum
 * resolved), the mask, and the values (mask 0x80: the 7 absolute values;
 * 1…127: one signed difference per set bit, in field order).
 */
export interface RowUpdate {
  id: number;
  mask: number;
  vals: number[];
}

/** RowSet is what a snapshot or spectator delta carries against its baseline. */
export interface RowSet {
  rows: RowUpdate[];
  /** Ids (absolute, increasing) in the baseline that left the view. */
  gone: number[];
}

const MAX_UINT32 = 0xffffffff;
const MIN_INT32 = -0x80000000;
const MAX_INT32 = 0x7fffffff;

/** int reads a msgpack/JSON integer (any form, bigint included) or refuses. */
function int(v: unknown, what: string): number {
  if (typeof v === "number" && Number.isInteger(v)) return v;
  if (typeof v === "bigint") return num(v);
  throw new ProtocolError(`${what} is not an integer`);
}

function uint32(v: unknown, what: string): number {
  const n = int(v, what);
  if (n < 0 || n > MAX_UINT32) throw new ProtocolError(`${what} ${n} is not a uint32`);
  return n;
}

function int32(v: unknown, what: string): number {
  const n = int(v, what);
  if (n < MIN_INT32 || n > MAX_INT32) throw new ProtocolError(`${what} ${n} is not an int32`);
  return n;
}

function uint(v: unknown, what: string): number {
  const n = int(v, what);
  if (n < 0) throw new ProtocolError(`${what} ${n} is negative`);
  return n;
}

function array(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) throw new ProtocolError(`${what} is not an array`);
  return v;
}

function bits(mask: number): number {
  let n = 0;
  for (let m = mask; m !== 0; m &= m - 1) n++;
  return n;
}

/**
 * parseRows reads `ents` and `gone` (each an array; ids as running sums)
 * and checks what can be checked without the baseline: row shapes, masks,
 * value ranges, strictly increasing ids. It throws ProtocolError.
 */
export function parseRows(ents: unknown, gone: unknown): RowSet {
  const rows: RowUpdate[] = [];
  let id = 0;
  array(ents, "ents").forEach((raw, i) => {
    const r = array(raw, `row ${i}`);
    if (r.length < 2) throw new ProtocolError(`row ${i} has ${r.length} elements`);
    const d = uint32(r[0], `row ${i} id delta`);
    if (i > 0 && d < 1) throw new ProtocolError(`row ${i}: ids not strictly increasing`);
    id += d;
    if (id > MAX_UINT32) throw new ProtocolError(`row ${i}: id overflows uint32`);
    const mask = uint(r[1], `row ${i} mask`);
    let want: number;
    if (mask === MASK_WHOLE) want = ROW_FIELDS;
    else if (mask >= 1 && mask < MASK_WHOLE) want = bits(mask);
    else throw new ProtocolError(`row ${i} (id ${id}): bad mask ${mask}`);
    if (r.length !== 2 + want) {
      throw new ProtocolError(`row ${i} (id ${id}): mask ${mask} wants ${2 + want} elements, has ${r.length}`);
    }
    const vals: number[] = [];
    for (let k = 2; k < r.length; k++) {
      vals.push(mask === MASK_WHOLE ? int32(r[k], `row ${i} value`) : int(r[k], `row ${i} difference`));
    }
    rows.push({ id, mask, vals });
  });
  const ids: number[] = [];
  let g = 0;
  array(gone, "gone").forEach((raw, i) => {
    const d = uint32(raw, `gone ${i}`);
    if (i > 0 && d < 1) throw new ProtocolError(`gone ${i}: ids not strictly increasing`);
    g += d;
    if (g > MAX_UINT32) throw new ProtocolError(`gone ${i}: id overflows uint32`);
    ids.push(g);
  });
  return { rows, gone: ids };
}

/**
 * applyRows is the one row-apply function (players and spectators): from
 * the baseline view `base` (sorted by id; [] for a keyframe) it removes
 * `gone`, inserts or replaces whole rows and adds differences to the base
 * row's fields. It returns the new view, sorted by id, and leaves `base`
 * untouched. It throws ProtocolError for a gone id not in the baseline or
 * that also has a row, a difference row whose id is not in the baseline,
 * or a sum that overflows int32.
 */
export function applyRows(base: readonly WireRow[], set: RowSet): WireRow[] {
  const { rows, gone } = set;
  const out: WireRow[] = [];
  let i = 0;
  let j = 0;
  let k = 0;
  for (;;) {
    const bid = i < base.length ? base[i]![0]! : Infinity;
    const rid = j < rows.length ? rows[j]!.id : Infinity;
    const gid = k < gone.length ? gone[k]! : Infinity;
    if (gid < bid) throw new ProtocolError(`gone id ${gid} is not in the baseline`);
    if (rid < bid) {
      const r = rows[j++]!;
      if (r.mask !== MASK_WHOLE) throw new ProtocolError(`difference row for id ${rid}, not in the baseline`);
      out.push([rid, ...r.vals]);
      continue;
    }
    if (bid === Infinity) break;
    const b = base[i++]!;
    if (gid === bid) {
      if (rid === bid) throw new ProtocolError(`id ${gid} is both gone and sent`);
      k++;
      continue;
    }
    if (rid === bid) {
      const r = rows[j++]!;
      out.push(r.mask === MASK_WHOLE ? [rid, ...r.vals] : addDiffs(b, r));
      continue;
    }
    out.push(b);
  }
  return out;
}

function addDiffs(b: WireRow, r: RowUpdate): WireRow {
  const row = b.slice();
  let n = 0;
  for (let f = 0; f < ROW_FIELDS; f++) {
    if ((r.mask & (1 << f)) === 0) continue;
    const v = row[f + 1]! + r.vals[n++]!;
    if (v < MIN_INT32 || v > MAX_INT32) throw new ProtocolError(`id ${r.id}: field ${f} overflows int32`);
    row[f + 1] = v;
  }
  return row;
}

/** dequantize turns a WireRow into an Entity in world units. */
export function dequantize(r: WireRow, q: Quant): Entity {
  return {
    id: r[0]!,
    kind: r[1]!,
    x: r[2]! * q.pos,
    y: r[3]! * q.pos,
    angle: q.angle > 0 ? (r[4]! * 2 * Math.PI) / q.angle : 0,
    hp: r[5]!,
    score: r[6]!,
    flags: r[7]!,
  };
}

/** snapFrame reads the positional body of a `snap` message (key `d`). */
function snapFrame(d: unknown): SnapFrame {
  const a = array(d, "snap d");
  if (a.length !== 9) throw new ProtocolError(`snap d has ${a.length} elements, want 9`);
  const state = uint(a[4], "snap state");
  if (state >= MATCH_STATES.length) throw new ProtocolError(`snap state ${state} is unknown`);
  return {
    t: "snap",
    ack: uint32(a[0], "snap ack"),
    tick: uint(a[1], "snap tick"),
    base: uint(a[2], "snap base"),
    time: int(a[3], "snap time"),
    state: MATCH_STATES[state]!,
    left: int(a[5], "snap left"),
    rows: parseRows(a[6], a[7]),
    ev: array(a[8], "snap ev").map(gameEvent),
  };
}

/** Views held per connection beyond which the oldest are dropped (a bound
 * against a server that never moves its baseline on). */
export const MAX_VIEWS = 256;

/**
 * Views holds the baselines of one connection: the view (in wire units) of
 * each tick applied that a later frame may be based on. Client rule: keep
 * every view from the `base` of the newest delta applied onward (a keyframe
 * drops none: the server may base its next delta on a tick acknowledged
 * before it sent the keyframe); reset on a new connection.
 */
export class Views {
  private readonly held = new Map<number, readonly WireRow[]>();
  private newestTick = 0;
  /** Frames applied since the last reset, by kind. */
  keyframes = 0;
  deltas = 0;

  /** The newest tick applied (0: none): the one to acknowledge. */
  get newest(): number {
    return this.newestTick;
  }

  /** Number of views held. */
  get size(): number {
    return this.held.size;
  }

  /** The view held for tick, if any. */
  view(tick: number): readonly WireRow[] | undefined {
    return this.held.get(tick);
  }

  /** reset drops every view (a new connection). */
  reset(): void {
    this.held.clear();
    this.newestTick = 0;
    this.keyframes = 0;
    this.deltas = 0;
  }

  /** seed holds view (sorted by id) for tick, as if applied (tests). */
  seed(tick: number, view: readonly WireRow[]): void {
    this.held.set(tick, view);
    if (tick > this.newestTick) this.newestTick = tick;
  }

  /**
   * apply applies frame f to its baseline and holds the result for f.tick.
   * It returns the new view (sorted by id, wire units) or throws
   * ProtocolError and changes nothing: base not held, a tick not after
   * the newest applied (or, for a delta, not after its base), or rows
   * that do not fit the baseline.
   */
  apply(f: { tick: number; base: number; rows: RowSet }): readonly WireRow[] {
    let base: readonly WireRow[] = [];
    if (f.base !== 0) {
      const b = this.held.get(f.base);
      if (!b) throw new ProtocolError(`baseline tick ${f.base} is not held`);
      if (f.tick <= f.base) throw new ProtocolError(`tick ${f.tick} is not after its baseline ${f.base}`);
      base = b;
    }
    if (this.newestTick > 0 && f.tick <= this.newestTick) {
      throw new ProtocolError(`tick ${f.tick} is not after tick ${this.newestTick}`);
    }
    const view = applyRows(base, f.rows);
    if (f.base !== 0) for (const t of this.held.keys()) if (t < f.base) this.held.delete(t);
    this.held.set(f.tick, view);
    this.newestTick = f.tick;
    if (this.held.size > MAX_VIEWS) {
      const oldest = Math.min(...this.held.keys());
      this.held.delete(oldest);
    }
    if (f.base === 0) this.keyframes++;
    else this.deltas++;
    return view;
  }
}

/** snapView makes the page's Snap from a frame and the view it produced. */
export function snapView(f: SnapFrame, view: readonly WireRow[], q: Quant): Snap {
  return {
    t: "snap",
    ack: f.ack,
    tick: f.tick,
    base: f.base,
    time: f.time,
    state: f.state,
    left: f.left,
    ents: view.map((r) => dequantize(r, q)),
    ev: f.ev,
  };
}
