// The play page: join form → WebSocket → controls sampled every animation
// frame (an input goes out when they change) → draw your avatar where the
// prediction puts it and the others interpolated between snapshots
// (docs/client.md) → results on `end`. A lost connection is
// resumed into the same seat (net.ts) while the page keeps drawing the last
// snapshot and keeps taking input; a seat lost for good fails over to a new
// match. Around the arena: the lobby (live matches, create a match), kill
// feed, hit markers and damage flash, death screen, scoreboard (Tab), net
// graph (N), sounds (off by default) and touch controls.
//
// Developer options in the URL: ?match=<id> joins that match (the first
// Play only), ?every=N, ?lag=<ms>&loss=<0…1> simulate latency and loss in
// the SDK (link.ts).

import { REFERENCE_ARENA } from "./arena";
import { Hud } from "./hud";
import { Interpolator } from "./interp";
import { MoveRule, Predictor, tickSeconds } from "./predict";
import { Controls } from "./input";
import { CloseInfo, Player, playURL } from "./net";
import { GameTracker, waitingFor } from "./game";
import { GameUI } from "./gameui";
import { Sim } from "./link";
import { Lobby } from "./lobby";
import { NetGraph, NetSample } from "./netgraph";
import { Sound } from "./sound";
import { Touch } from "./touch";
import {
  Arena,
  BUTTON_FIRE,
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
  /** Animation frames drawn, and the time of the last one (performance.now). */
  frame: number;
  frameAt: number;
  /** The other players as drawn in the last frame (interpolated). */
  others: { id: number; x: number; y: number; flags: number }[];
  /** The kill feed shown: "killer>victim" names, oldest first. */
  feed: string[];
  /** The scoreboard is shown (Tab), and its rows. */
  scoreboard: boolean;
  scores: { id: number; name: string; kills: number; deaths: number }[];
  /** The death screen: shown, by whom, ms to respawn. */
  death: { shown: boolean; killer: string; respawnIn: number };
  /** Hits you took and dealt since Play (damage flash, hit markers). */
  hurt: number;
  hits: number;
  /** "Waiting for N more players" (0: not waiting). */
  waitingFor: number;
  /** The match is over: controls are off. */
  matchOver: boolean;
  controls: boolean;
  /** The net graph is shown, and its latest sample. */
  netgraph: boolean;
  net: NetSample | null;
  /** The lobby (join form) is shown, and the matches it lists. */
  lobby: boolean;
  lobbyMatches: number;
  /** Every name and health bar of the last frame lies inside the canvas. */
  labelsInside: boolean;
  labels: number;
  /** Cluster: redirects followed, failovers, the node in use. */
  redirects: number;
  failovers: number;
  node: string;
  /** The server's clock minus the local one (clock sync), ms, and drift, ppm. */
  clockOffset: number;
  clockDrift: number;
  /** Simulated latency (ms) and loss (0…1) from the URL. */
  simLag: number;
  simLoss: number;
  sound: boolean;
  touch: boolean;
}

/** How long "reconnected" stays on screen. */
const RECONNECTED_SHOWN_MS = 2500;
/** What the page says when the seat was lost for good and a new match joined. */
const FAILOVER_TEXT = "Server lost — you are in a new match";
const FAILOVER_SHOWN_MS = 6000;

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
// Play again joins any match: never the one that ended (nor ?match=).
const hud = new Hud(byId("hud"), byId("results"), () => play(lastName, ""));
const ui = new GameUI(byId("feed"), byId("flash"), byId("death"), byId("scoreboard"), byId("waiting"));
const netgraph = new NetGraph(byId("netgraph"), byId("netgraph-text"), byId<HTMLCanvasElement>("netgraph-chart"));
const sound = new Sound();
const soundButton = byId<HTMLButtonElement>("sound");
const touch = new Touch(byId("stick"), byId("knob"), byId("fire"), byId("touch"));
const lobby = new Lobby(byId<HTMLTableSectionElement>("lobby-matches"), byId("lobby-none"), byId<HTMLButtonElement>("create"),
  (id) => play(nameInput.value, id), (msg) => setStatus(msg, true));
const sim = Sim.fromQuery(location.search);
/** ?match= is for the first Play only. */
let urlMatch = new URLSearchParams(location.search).get("match") ?? "";

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
let frames = 0;
const tracker = new GameTracker(0);
let hurt = 0;
let hitsDealt = 0;
/** The match is over (end, or an ended snapshot): no more input. */
let matchOver = false;
/** A zero input is owed to the server when the match ends. */
let stopSent = false;
let stopTries = 0;
/** The link failed over: the next welcome is a new match. */
let failedOver = false;
// Net graph sampling.
let lastNetAt = 0;
let lastBytesIn = 0;
let lastBytesOut = 0;
let snapsAt: number[] = [];

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
  if (show) {
    nameInput.focus();
    lobby.start();
  } else {
    lobby.stop();
  }
}

/** resetSession forgets the match shown (a new Play, or a failover's new match). */
function resetSession(): void {
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
  matchOver = false;
  stopSent = false;
  stopTries = 0;
  tracker.reset(0);
  snapsAt = [];
}

/** play joins: match is a match id, "" for any, undefined for the URL's ?match= (first Play only). */
function play(rawName: string, match?: string): void {
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
  resetSession();
  failedOver = false;
  controls.enabled = false;
  controls.reset();
  hud.hideResults();
  showOverlay("", null);
  showForm(false);
  setStatus("connecting…");
  const params = new URLSearchParams(location.search);
  const join: Join = { name, match: match ?? urlMatch };
  urlMatch = "";
  // ?every=N asks for a snapshot every Nth tick (1…60).
  const every = Number(params.get("every") ?? "");
  if (Number.isInteger(every) && every >= 1 && every <= MAX_EVERY) join.every = every;
  const c: Player = new Player(playURL(), join, {
    onWelcome(w: Welcome) {
      if (conn !== c) return;
      if (!w.resumed) {
        resetSession();
        controls.reset();
        hud.hideResults();
      }
      welcome = w;
      tracker.me = w.player;
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
      if (failedOver) {
        failedOver = false;
        showOverlay(FAILOVER_TEXT, "error", FAILOVER_SHOWN_MS);
        setStatus(`${FAILOVER_TEXT} — ${playingStatus}`);
        c.setSuspended(document.hidden);
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
      snapsAt.push(performance.now());
      if (s.state === "ended" || s.state === "closed") matchOver = true;
      events(s);
      track(c, s);
    },
    onEnd(e: End) {
      if (conn !== c) return;
      ended = true;
      matchOver = true;
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
    onFailover(code, reason) {
      if (conn !== c) return;
      lastClose = { code, reason };
      failedOver = true;
      showOverlay(`${FAILOVER_TEXT}: joining…`, "wait");
      setStatus(`server lost (${code}${reason ? ": " + reason : ""}) — joining a new match…`, true);
    },
  }, { sim });
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
    case "redirects":
      showOverlay("", null);
      setStatus(`could not join: ${reason}`, true);
      break;
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
  if (matchOver) {
    // The match is over: the avatar stands where the server has it.
    predictor.place({ ...auth, mx: 0, my: 0 });
    return;
  }
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

/** events feeds the game UI and the sounds with a snapshot's events. */
function events(s: Snap): void {
  const h = tracker.events(s.ev, s.ents, performance.now());
  hurt += h.hitsTaken;
  hitsDealt += h.hitsDealt.length;
  if (h.shots > 0) sound.play("shot");
  if (h.hitsDealt.length > 0) sound.play("hit");
  if (h.hitsTaken > 0 && !h.died) sound.play("hurt");
  if (h.kills > 0) sound.play("kill");
  if (h.died) sound.play("death");
}

function nameOf(id: number): string {
  return names.get(id) ?? `#${id}`;
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
  play(nameInput.value);
});

soundButton.addEventListener("click", () => {
  const on = sound.toggle();
  soundButton.textContent = on ? "Sound: on" : "Sound: off";
  soundButton.setAttribute("aria-pressed", String(on));
  // Keys go back to the game (Space must not press this button again).
  soundButton.blur();
  if (welcome) canvas.focus({ preventScroll: true });
});
soundButton.textContent = sound.on ? "Sound: on" : "Sound: off";

window.addEventListener("keydown", (e) => {
  if (e.code !== "KeyN" && e.key !== "n" && e.key !== "N") return;
  if (e.target instanceof HTMLInputElement || e.ctrlKey || e.metaKey || e.altKey) return;
  netgraph.toggle();
});
ui.bindTab(() => welcome !== null);

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
let drawn: Snap | null = null;

function drawnSnap(now: number): Snap | null {
  drawn = drawnSnap1(now);
  return drawn;
}

function drawnSnap1(now: number): Snap | null {
  if (!snap || !welcome || !predictor || !interp) return snap;
  const id = welcome.player;
  const r = interp.renderTick(now);
  drawnTick = r;
  const ents = interp.sample(r);
  const me = snap.ents.find((e) => e.kind === KIND_PLAYER && e.id === id);
  const v = predictor.view();
  drawnMe = me && predictor.ready ? { ...me, x: v.x, y: v.y } : me ?? null;
  if (drawnMe) ents.push(drawnMe);
  ents.sort((a, b) => a.id - b.id);
  return { ...snap, ents };
}

function frame(now: number): void {
  frames++;
  predictor?.advance(lastFrameAt > 0 ? now - lastFrameAt : 0);
  lastFrameAt = now;
  const me = myEntity();
  const reconnecting = !!conn?.reconnecting;
  if (matchOver && controls.enabled) {
    // No sliding after "Match over": stop, then take no more input.
    controls.enabled = false;
    controls.reset();
    touch.reset();
  }
  if (conn && matchOver && !stopSent && conn.isOpen) {
    // Taken, or refused as the same as the last one (already still).
    stopSent = conn.input(0, 0, controls.aim(0, 0), 0, now, shownTick()) || ++stopTries > 30;
  }
  if (conn && controls.enabled && (conn.isOpen || reconnecting)) {
    // While reconnecting inputs are kept and sent after the resume. The
    // input is taken before drawing, so that a key press shows this frame.
    const from = drawnMe ? renderer.toScreen(drawnMe.x, drawnMe.y) : { x: canvas.clientWidth / 2, y: canvas.clientHeight / 2 };
    let m = controls.movement();
    let aim = controls.aim(from.x, from.y);
    let buttons = controls.buttons();
    if (touch.active) {
      if (touch.mx !== 0 || touch.my !== 0) m = { mx: touch.mx, my: touch.my };
      if (touch.aim !== null) aim = touch.aim;
      if (touch.fire || touch.fireLatched) buttons |= BUTTON_FIRE;
    }
    if (conn.input(m.mx, m.my, aim, buttons, now, shownTick())) {
      controls.sent();
      touch.fireLatched = false;
      predictor?.input({ seq: conn.lastSeq, mx: m.mx, my: m.my });
    }
  }
  const shown = drawnSnap(now);
  const hits = tracker.hitMarks.map((h) => ({ victim: h.victim, age: now - h.at }));
  renderer.draw({ arena, snap: shown, me: welcome?.player ?? 0, meAway: reconnecting, radius: conn?.radius ?? 0, names, hits });
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
  updateUI(now, me);
  requestAnimationFrame(frame);
}

/** updateUI refreshes the overlays: feed, flash, death screen, scoreboard, waiting, net graph. */
function updateUI(now: number, me: Entity | null): void {
  const playing = welcome !== null;
  ui.updateFeed(playing ? tracker.feedAt(now) : [], nameOf, welcome?.player ?? 0);
  ui.setFlash(playing ? 0.6 * (1 - (now - tracker.lastHurtAt) / 350) : 0);
  const dead = playing && !matchOver && me !== null && (me.flags & FLAG_DEAD) !== 0;
  ui.setDeath(dead ? { killer: tracker.killedBy ? nameOf(tracker.killedBy) : "someone", respawnMs: tracker.respawnIn(now) } : null);
  ui.updateBoard(playing ? tracker.scoreboard(names) : [], welcome ? `Match ${welcome.match}` : "");
  ui.setWaiting(playing && !matchOver && snap?.state === "waiting" ? Math.max(1, waitingFor(names.size, welcome?.min || undefined)) : 0);
  if (now - lastNetAt >= 100) sampleNet(now);
}

function sampleNet(now: number): void {
  const c = conn;
  const dt = lastNetAt > 0 ? (now - lastNetAt) / 1000 : 0;
  lastNetAt = now;
  if (!c) return;
  while (snapsAt.length > 0 && now - snapsAt[0]! > 1000) snapsAt.shift();
  const t = c.traffic;
  const s: NetSample = {
    rtt: c.rtt,
    jitter: c.clock.jitter,
    snapRate: snapsAt.length,
    bytesIn: dt > 0 ? (t.bytesIn - lastBytesIn) / dt : 0,
    bytesOut: dt > 0 ? (t.bytesOut - lastBytesOut) / dt : 0,
    predError: predictor?.error ?? 0,
    interpMs: interp && welcome ? interp.delay * tickSeconds(welcome.rate) * 1000 : 0,
    offset: c.clock.ready ? -c.clock.offset() : 0,
    drift: c.clock.ready ? -c.clock.driftPpm : 0,
  };
  lastBytesIn = t.bytesIn;
  lastBytesOut = t.bytesOut;
  netgraph.push(s);
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
    frame: frames,
    frameAt: lastFrameAt,
    others: Object.freeze(
      (drawn?.ents ?? []).filter((e) => e.kind === KIND_PLAYER && e.id !== (welcome?.player ?? 0))
        .map((e) => Object.freeze({ id: e.id, x: e.x, y: e.y, flags: e.flags })),
    ) as Debug["others"],
    feed: Object.freeze(welcome ? tracker.feedAt(performance.now()).map((f) => `${nameOf(f.killer)}>${nameOf(f.victim)}`) : []) as string[],
    scoreboard: !byId("scoreboard").hidden,
    scores: Object.freeze(tracker.scoreboard(names).map((r) => Object.freeze({ id: r.id, name: r.name, kills: r.kills, deaths: r.deaths }))) as Debug["scores"],
    death: Object.freeze({
      shown: !byId("death").hidden,
      killer: tracker.killedBy ? nameOf(tracker.killedBy) : "",
      respawnIn: tracker.respawnIn(performance.now()),
    }),
    hurt,
    hits: hitsDealt,
    waitingFor: byId("waiting").hidden ? 0 : Math.max(1, waitingFor(names.size, welcome?.min || undefined)),
    matchOver,
    controls: controls.enabled,
    netgraph: netgraph.shown,
    net: netgraph.last ? Object.freeze({ ...netgraph.last }) : null,
    lobby: !form.hidden,
    lobbyMatches: lobby.matches.length,
    labelsInside: renderer.labels.every((l) => l.left >= 0 && l.top >= 0 && l.right <= renderer.size.w && l.bottom <= renderer.size.h),
    labels: renderer.labels.length,
    redirects: conn?.redirects ?? 0,
    failovers: conn?.failovers ?? 0,
    node: conn?.nodeURL ?? "",
    clockOffset: conn?.clock.ready ? -conn.clock.offset() : 0,
    clockDrift: conn?.clock.ready ? -conn.clock.driftPpm : 0,
    simLag: sim?.lag ?? 0,
    simLoss: sim?.loss ?? 0,
    sound: sound.on,
    touch: touch.active,
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
