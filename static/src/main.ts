// The play page: join form → WebSocket → controls sampled every animation
// frame (an input goes out when they change) → draw your avatar where the
// prediction puts it and the others interpolated between snapshots
// (docs/client.md) → results on `end`. A lost connection is
// resumed into the same seat (net.ts) while the page keeps drawing the last
// snapshot and keeps taking input.

import { REFERENCE_ARENA } from "./arena";
import { Hud } from "./hud";
import { Interpolator } from "./interp";
import { MoveRule, Predictor, tickSeconds } from "./predict";
import { Controls } from "./input";
import { CloseInfo, Player, playURL } from "./net";
import {
  Arena,
  End,
  Entity,
  EVENT_SHOT,
  FLAG_DEAD,
  FLAG_DISCONNECTED,
  Join,
  KIND_PLAYER,
  KIND_PROJECTILE,
  MAX_EVERY,
  RosterEntry,
  Snap,
  Welcome,
  cleanName,
  describeClose,
} from "./protocol";
import { Renderer } from "./render";
import { overlayBanner, statusLine } from "./ui";

/** The reference arena, drawn until `welcome` says otherwise. */
const DEFAULT_ARENA: Arena = REFERENCE_ARENA;

/** What tests read as window.tickstream (a frozen copy on each read). */
export interface Debug {
  connected: boolean;
  playerId: number;
  matchId: string;
  tick: number;
  ack: number;
  snaps: number;
  /** Your avatar as drawn in the last frame (predicted). */
  me: { x: number; y: number; hp: number } | null;
  players: number;
  lastClose: { code: number; reason: string } | null;
  /** Round-trip time from the latest ping, ms (0 before it is measured). */
  rtt: number;
  /** Successful resumes since Play. */
  resumes: number;
  /** Connection losses since Play. */
  drops: number;
  /** True while the link is lost and being resumed. */
  reconnecting: boolean;
  /** Inputs sent (or waiting to be sent) and not yet acknowledged. */
  pending: number;
  /** The last input sequence number used. */
  seq: number;
  /** Ids of entities flagged disconnected in the last snapshot. */
  away: number[];
  /** Your projectiles this page has seen (from shot events and entities). */
  shots: number;
  /** Wire v2: the baseline tick of the last snapshot (0: a keyframe). */
  base: number;
  /** Snapshots applied since Play: keyframes and deltas. */
  keyframes: number;
  deltas: number;
  /** Snapshots refused (malformed or not applicable to the views held). */
  badSnaps: number;
  /** The newest tick applied and the newest acknowledged (this connection). */
  applied: number;
  acked: number;
  /** `ack` messages sent since Play. */
  acksSent: number;
  /** Baseline views held. */
  views: number;
  /** The server's send divisor (from welcome, then pings). */
  every: number;
  /** Interest radius in world units (0: sees everything). */
  radius: number;
  /** Entities in the last snapshot (what is in view). */
  ents: number;
  /** The tick the others were drawn at in the last frame (interpolated; 0: none). */
  shown: number;
  /** The interpolation delay, ticks. */
  delay: number;
  /** Prediction corrections since Play: smoothed and snapped. */
  smoothed: number;
  snapped: number;
}

/** How long "reconnected" stays on screen. */
const RECONNECTED_SHOWN_MS = 2500;

function byId<T extends HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`#${id} is missing from the page`);
  return e as T;
}

const form = byId<HTMLFormElement>("join");
const nameInput = byId<HTMLInputElement>("name");
const playButton = byId<HTMLButtonElement>("play");
const canvas = byId<HTMLCanvasElement>("canvas");
const status = byId<HTMLElement>("status");
const overlay = byId<HTMLElement>("overlay");

const renderer = new Renderer(canvas);
const controls = new Controls(canvas);
const hud = new Hud(byId("hud"), byId("results"), () => play(lastName));

// Session state, replaced on every Play.
let conn: Player | null = null;
let welcome: Welcome | null = null;
let arena = DEFAULT_ARENA;
let names = new Map<number, string>();
let snap: Snap | null = null;
let snaps = 0;
let ended = false;
let lastName = "";
let lastClose: Debug["lastClose"] = null;
let playingStatus = "";
let shots = 0;
let lastShotId = 0;
let predictor: Predictor | null = null;
let interp: Interpolator | null = null;
/** What the last frame drew: your avatar and the others' render tick. */
let drawnMe: Entity | null = null;
let drawnTick = 0;
let lastFrameAt = 0;

const setStatus = statusLine(status);
const showOverlay = overlayBanner(overlay);

function setRoster(players: RosterEntry[]): void {
  names = new Map(players.map((p) => [p.id, p.name]));
}

function myEntity(): Entity | null {
  if (!snap || !welcome) return null;
  return snap.ents.find((e) => e.kind === KIND_PLAYER && e.id === welcome!.player) ?? null;
}

function showForm(show: boolean): void {
  form.hidden = !show;
  if (show) nameInput.focus();
}

function play(rawName: string): void {
  let name: string;
  try {
    name = cleanName(rawName);
  } catch (err) {
    setStatus((err as Error).message, true);
    showForm(true);
    return;
  }
  lastName = name;
  try {
    localStorage.setItem("tickstream.name", name);
  } catch {
    // storage may be disabled; the name is only a convenience
  }
  conn?.close();
  welcome = null;
  arena = DEFAULT_ARENA;
  names = new Map();
  snap = null;
  snaps = 0;
  shots = 0;
  lastShotId = 0;
  predictor = null;
  interp = null;
  drawnMe = null;
  drawnTick = 0;
  ended = false;
  controls.enabled = false;
  controls.reset();
  hud.hideResults();
  showOverlay("", null);
  showForm(false);
  setStatus("connecting…");
  const params = new URLSearchParams(location.search);
  const match = params.get("match") ?? "";
  const join: Join = { name, match };
  // ?every=N asks for a snapshot every Nth tick (1…60).
  const every = Number(params.get("every") ?? "");
  if (Number.isInteger(every) && every >= 1 && every <= MAX_EVERY) join.every = every;
  const c: Player = new Player(playURL(), join, {
    onWelcome(w: Welcome) {
      if (conn !== c) return;
      welcome = w;
      arena = w.arena.w > 0 && w.arena.h > 0 ? w.arena : DEFAULT_ARENA;
      setRoster(w.roster);
      if (!w.resumed || !predictor) {
        predictor = new Predictor(new MoveRule(arena, w.rate));
        interp = new Interpolator(tickSeconds(w.rate) * 1000, w.every);
      }
      controls.enabled = true;
      playingStatus = `playing as ${name} in match ${w.match} — WASD/arrows move, mouse aims, click/space fires`;
      if (w.resumed) {
        showOverlay("reconnected", "ok", RECONNECTED_SHOWN_MS);
        setStatus(`reconnected — ${playingStatus}`);
        return;
      }
      // Let keys reach the game, not the (hidden) Play button or name field.
      if (document.activeElement instanceof HTMLElement) document.activeElement.blur();
      canvas.focus({ preventScroll: true });
      c.setSuspended(document.hidden);
      setStatus(playingStatus);
    },
    onRoster(r) {
      if (conn === c) setRoster(r.players);
    },
    onSnap(s) {
      if (conn !== c) return;
      countShots(s);
      snap = s;
      snaps++;
      track(c, s);
    },
    onEnd(e: End) {
      if (conn !== c) return;
      ended = true;
      controls.enabled = false;
      hud.showResults(e, welcome?.player ?? 0);
      setStatus("match over");
    },
    onReconnecting(code, reason) {
      if (conn !== c) return;
      lastClose = { code, reason };
      // Keep drawing the last snapshot and taking input: it is sent after
      // the resume.
      showOverlay("reconnecting…", "wait");
      setStatus(`connection lost (${code}${reason ? ": " + reason : ""}) — reconnecting…`);
    },
    onClose(ci: CloseInfo) {
      if (conn !== c) return;
      closed(ci);
    },
  });
  conn = c;
}

/** closed shows why the link ended for good and offers to play again. */
function closed({ code, reason, welcomed, kind }: CloseInfo): void {
  lastClose = { code, reason };
  controls.enabled = false;
  controls.reset();
  const detail = `(${code}${reason ? ": " + reason : ""})`;
  switch (kind) {
    case "normal":
      showOverlay("", null);
      if (ended && code === 1000) {
        setStatus("match over — press Play again");
        return;
      }
      setStatus(`disconnected: ${describeClose(code)} ${detail}`, code !== 1000);
      break;
    case "replaced":
      // Another tab resumed this seat: it plays now; do not fight it.
      showOverlay("this seat was taken over by another tab", "error");
      setStatus("this seat was taken over by another tab", true);
      break;
    case "resume-refused":
    case "gave-up": {
      const why = reason.replace(/^resume refused:\s*/, "") || describeClose(code);
      showOverlay(`could not resume: ${why}`, "error");
      setStatus(`could not resume: ${why} — press Play to join again`, true);
      break;
    }
    case "refused":
      showOverlay("", null);
      setStatus(`${welcomed ? "disconnected" : "could not join"}: ${describeClose(code)} ${detail}`, code !== 1000);
      break;
  }
  showForm(true);
}

/**
 * track hands a snapshot to the interpolation (the others) and to the
 * prediction (your avatar: the server's position at this tick, the
 * acknowledged input's movement, the inputs not yet acknowledged). While
 * dead, away or reconnecting the server holds the avatar: it is placed,
 * not predicted.
 */
function track(c: Player, s: Snap): void {
  if (!welcome || !predictor || !interp) return;
  const id = welcome.player;
  interp.every = c.every || 1;
  interp.push({ tick: s.tick, ents: s.ents.filter((e) => !(e.kind === KIND_PLAYER && e.id === id)) }, performance.now());
  const me = s.ents.find((e) => e.kind === KIND_PLAYER && e.id === id);
  if (!me) return;
  const acked = c.lastAcked;
  const auth = { tick: s.tick, ack: s.ack, x: me.x, y: me.y, mx: acked?.mx ?? 0, my: acked?.my ?? 0 };
  if ((me.flags & (FLAG_DEAD | FLAG_DISCONNECTED)) !== 0 || c.reconnecting) {
    predictor.place(auth);
    return;
  }
  // Ahead of the snapshot by about a round trip: an input taken now
  // reaches the server then.
  const tickMs = predictor.rule.dt * 1000;
  predictor.reconcile(auth, c.unacked, Math.ceil(c.rtt / tickMs) + 1);
}

/**
 * countShots counts your projectiles, each once: from shot events and from
 * projectile entities (snapshots are latest-wins, so a shot event may be
 * skipped, but a projectile lives for several ticks). Projectile ids only
 * grow within a match.
 */
function countShots(s: Snap): void {
  if (!welcome) return;
  const me = welcome.player;
  const seen = new Set<number>();
  for (const e of s.ev) if (e.kind === EVENT_SHOT && e.a === me && e.b > lastShotId) seen.add(e.b);
  for (const e of s.ents) if (e.kind === KIND_PROJECTILE && e.score === me && e.id > lastShotId) seen.add(e.id);
  for (const id of seen) lastShotId = Math.max(lastShotId, id);
  shots += seen.size;
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
  play(nameInput.value);
});

window.addEventListener("pagehide", () => conn?.close());
document.addEventListener("visibilitychange", () => conn?.setSuspended(document.hidden));

/**
 * shownTick is the tick whose state is on screen; each input carries it as
 * `view`, so that the server resolves a shot against where the player saw
 * its targets (lag compensation, docs/protocol.md). The others are drawn
 * interpolated at a render tick between two snapshots: this is that tick
 * rounded down (the interpolation delay counts against the server's rewind
 * cap, 250 ms, together with the round trip). Before the first frame drew
 * anything, the latest snapshot's tick.
 */
function shownTick(): number {
  return drawnTick > 0 ? Math.floor(drawnTick) : snap?.tick ?? 0;
}

/**
 * drawnSnap is the snapshot as this frame draws it: the others at the
 * interpolated render tick, your avatar at the predicted position.
 */
function drawnSnap(now: number): Snap | null {
  if (!snap || !welcome || !predictor || !interp) return snap;
  const id = welcome.player;
  const r = interp.renderTick(now);
  drawnTick = r;
  const ents = interp.sample(r);
  const me = snap.ents.find((e) => e.kind === KIND_PLAYER && e.id === id);
  drawnMe = me && predictor.ready ? { ...me, x: predictor.drawX, y: predictor.drawY } : me ?? null;
  if (drawnMe) ents.push(drawnMe);
  ents.sort((a, b) => a.id - b.id);
  return { ...snap, ents };
}

function frame(now: number): void {
  predictor?.advance(lastFrameAt > 0 ? now - lastFrameAt : 0);
  lastFrameAt = now;
  const me = myEntity();
  const shown = drawnSnap(now);
  const reconnecting = !!conn?.reconnecting;
  if (conn && controls.enabled && (conn.isOpen || reconnecting)) {
    // While reconnecting inputs are kept and sent after the resume.
    const from = drawnMe ? renderer.toScreen(drawnMe.x, drawnMe.y) : { x: canvas.clientWidth / 2, y: canvas.clientHeight / 2 };
    const m = controls.movement();
    if (conn.input(m.mx, m.my, controls.aim(from.x, from.y), controls.buttons(), now, shownTick())) {
      controls.sent();
      predictor?.input({ seq: conn.lastSeq, mx: m.mx, my: m.my });
    }
  }
  renderer.draw({ arena, snap: shown, me: welcome?.player ?? 0, meAway: reconnecting, radius: conn?.radius ?? 0, names });
  hud.update(
    welcome
      ? {
          matchId: welcome.match,
          tick: snap?.tick ?? welcome.tick,
          players: names.size,
          state: ended ? "ended" : reconnecting ? "reconnecting" : conn?.isOpen ? snap?.state ?? "" : "disconnected",
          left: snap?.left ?? 0,
          score: me?.score ?? 0,
          rtt: conn?.isOpen ? conn.rtt : 0,
          every: conn?.every ?? 0,
        }
      : null,
  );
  requestAnimationFrame(frame);
}

function debug(): Debug {
  const me = drawnMe ?? myEntity();
  return Object.freeze({
    connected: !!conn?.isOpen,
    playerId: welcome?.player ?? 0,
    matchId: welcome?.match ?? "",
    tick: snap?.tick ?? 0,
    ack: snap?.ack ?? 0,
    snaps,
    me: me ? Object.freeze({ x: me.x, y: me.y, hp: me.hp }) : null,
    players: names.size,
    lastClose: lastClose ? Object.freeze({ ...lastClose }) : null,
    rtt: conn?.rtt ?? 0,
    resumes: conn?.resumes ?? 0,
    drops: conn?.drops ?? 0,
    reconnecting: !!conn?.reconnecting,
    pending: conn?.pending ?? 0,
    seq: conn?.lastSeq ?? 0,
    away: Object.freeze(
      snap ? snap.ents.filter((e) => e.kind === KIND_PLAYER && (e.flags & FLAG_DISCONNECTED) !== 0).map((e) => e.id) : [],
    ) as number[],
    shots,
    base: snap?.base ?? 0,
    keyframes: conn?.keyframes ?? 0,
    deltas: conn?.deltas ?? 0,
    badSnaps: conn?.badSnaps ?? 0,
    applied: conn?.applied ?? 0,
    acked: conn?.acked ?? 0,
    acksSent: conn?.acksSent ?? 0,
    views: conn?.viewsHeld ?? 0,
    every: conn?.every ?? 0,
    radius: conn?.radius ?? 0,
    ents: snap?.ents.length ?? 0,
    shown: shownTick(),
    delay: interp?.delay ?? 0,
    smoothed: predictor?.smoothed ?? 0,
    snapped: predictor?.snapped ?? 0,
  });
}

// Read-only debug view for tests and the console.
Object.defineProperty(window, "tickstream", { get: debug, configurable: false, enumerable: true });

try {
  nameInput.value = localStorage.getItem("tickstream.name") ?? "";
} catch {
  // ignore
}
playButton.disabled = false;
setStatus("enter a name and press Play");
showForm(true);
requestAnimationFrame(frame);
