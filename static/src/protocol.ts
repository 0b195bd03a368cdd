// Tickstream wire protocol, version 1 (docs/protocol.md is the contract).
//
// Every message is one binary WebSocket frame holding a msgpack map with
// string keys; the key `t` names the message type. This file only turns
// bytes into typed values and back: it knows nothing about sockets or pages.

import { Decoder, Encoder } from "@msgpack/msgpack";

/** WebSocket subprotocol; the protocol version is part of the name. */
export const SUBPROTOCOL = "tickstream.v1";

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
}

export interface Input {
  seq: number;
  /** Movement, each −1 … 1 (right and down are +). */
  mx: number;
  my: number;
  /** Aim in radians, −π … π; 0 = +x, π/2 = +y (down). */
  aim: number;
  buttons: number;
}

export function encodeJoin(j: Join): Uint8Array<ArrayBuffer> {
  return encoder.encode({ t: "join", name: j.name, match: j.match });
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
}

/** The server's heartbeat; answered at once with a pong. */
export interface Ping {
  t: "ping";
  id: number;
  /** Server clock, Unix ms. */
  time: number;
  /** Smoothed round-trip time measured by the server, ms (0 before the first pong). */
  rtt: number;
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

export type MatchState = "waiting" | "running" | "ended" | string;

export interface Snap {
  t: "snap";
  ack: number;
  tick: number;
  /** Server time of the tick, Unix milliseconds. */
  time: number;
  state: MatchState;
  /** Milliseconds left before the time limit (0 while waiting). */
  left: number;
  ents: Entity[];
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

export type ServerMessage = Welcome | Ping | Roster | Snap | End;

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
 * a map throws ProtocolError.
 */
export function decodeServer(data: ArrayBuffer | Uint8Array): ServerMessage | Unknown {
  const m = decoder.decode(data);
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
      };
    case "ping":
      return { t: "ping", id: num(m.id), time: num(m.time), rtt: num(m.rtt) };
    case "roster":
      return { t: "roster", players: roster(m.players) };
    case "snap":
      return {
        t: "snap",
        ack: num(m.ack),
        tick: num(m.tick),
        time: num(m.time),
        state: str(m.state),
        left: num(m.left),
        ents: list(m.ents).map(entity),
        ev: list(m.ev).map(gameEvent),
      };
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

export function entity(v: unknown): Entity {
  const r = list(v);
  return {
    id: num(r[0]),
    kind: num(r[1]),
    x: num(r[2]),
    y: num(r[3]),
    angle: num(r[4]),
    hp: num(r[5]),
    score: num(r[6]),
    flags: num(r[7]),
  };
}

export function gameEvent(v: unknown): GameEvent {
  const r = list(v);
  return { kind: num(r[0]), a: num(r[1]), b: num(r[2]) };
}

export function score(v: unknown): Score {
  const r = list(v);
  return { id: num(r[0]), name: str(r[1]), kills: num(r[2]), deaths: num(r[3]) };
}

function clamp(v: number, lo: number, hi: number): number {
  if (!Number.isFinite(v)) return 0;
  return v < lo ? lo : v > hi ? hi : v;
}
