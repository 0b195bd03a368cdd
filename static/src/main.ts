// The play page: join form → WebSocket → input every animation frame →
// draw the latest snapshot → results on `end`.

import { Hud } from "./hud";
import { Controls } from "./input";
import { Connection, playURL } from "./net";
import { Arena, End, Entity, KIND_PLAYER, RosterEntry, Snap, Welcome, cleanName, describeClose } from "./protocol";
import { Renderer } from "./render";

/** The reference arena, drawn until `welcome` says otherwise. */
const DEFAULT_ARENA: Arena = { w: 1600, h: 900, obstacles: [] };

/** What tests read as window.tickstream (a frozen copy on each read). */
export interface Debug {
  connected: boolean;
  playerId: number;
  matchId: string;
  tick: number;
  ack: number;
  snaps: number;
  me: { x: number; y: number; hp: number } | null;
  players: number;
  lastClose: { code: number; reason: string } | null;
}

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

const renderer = new Renderer(canvas);
const controls = new Controls(canvas);
const hud = new Hud(byId("hud"), byId("results"), () => play(lastName));

// Session state, replaced on every Play.
let conn: Connection | null = null;
let welcome: Welcome | null = null;
let arena = DEFAULT_ARENA;
let names = new Map<number, string>();
let snap: Snap | null = null;
let snaps = 0;
let ended = false;
let lastName = "";
let lastClose: Debug["lastClose"] = null;

function setStatus(text: string, error = false): void {
  status.textContent = text;
  status.classList.toggle("error", error);
}

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
  ended = false;
  controls.enabled = false;
  controls.reset();
  hud.hideResults();
  showForm(false);
  setStatus("connecting…");
  const match = new URLSearchParams(location.search).get("match") ?? "";
  const c: Connection = new Connection(playURL(), { name, match }, {
    onWelcome(w: Welcome) {
      if (conn !== c) return;
      welcome = w;
      arena = w.arena.w > 0 && w.arena.h > 0 ? w.arena : DEFAULT_ARENA;
      setRoster(w.roster);
      controls.enabled = true;
      // Let keys reach the game, not the (hidden) Play button or name field.
      if (document.activeElement instanceof HTMLElement) document.activeElement.blur();
      canvas.focus({ preventScroll: true });
      setStatus(`playing as ${name} in match ${w.match} — WASD/arrows move, mouse aims, click/space fires`);
    },
    onRoster(r) {
      if (conn === c) setRoster(r.players);
    },
    onSnap(s) {
      if (conn !== c) return;
      snap = s;
      snaps++;
    },
    onEnd(e: End) {
      if (conn !== c) return;
      ended = true;
      controls.enabled = false;
      hud.showResults(e, welcome?.player ?? 0);
      setStatus("match over");
    },
    onClose(code, reason, welcomed) {
      if (conn !== c) return;
      lastClose = { code, reason };
      controls.enabled = false;
      const what = describeClose(code);
      if (ended && code === 1000) {
        setStatus("match over — press Play again");
        return;
      }
      const prefix = welcomed ? "disconnected" : "could not join";
      setStatus(`${prefix}: ${what} (${code}${reason ? ": " + reason : ""})`, code !== 1000);
      showForm(true);
    },
  });
  conn = c;
}

form.addEventListener("submit", (e) => {
  e.preventDefault();
  play(nameInput.value);
});

window.addEventListener("pagehide", () => conn?.close());

function frame(now: number): void {
  const me = myEntity();
  if (conn?.isOpen) {
    const from = me ? renderer.toScreen(me.x, me.y) : { x: canvas.clientWidth / 2, y: canvas.clientHeight / 2 };
    const m = controls.movement();
    if (conn.sendInput(m.mx, m.my, controls.aim(from.x, from.y), controls.buttons(), now)) controls.sent();
  }
  renderer.draw({ arena, snap, me: welcome?.player ?? 0, names });
  hud.update(
    welcome
      ? {
          matchId: welcome.match,
          tick: snap?.tick ?? welcome.tick,
          players: names.size,
          state: ended ? "ended" : conn?.isOpen ? snap?.state ?? "" : "disconnected",
          left: snap?.left ?? 0,
          score: me?.score ?? 0,
        }
      : null,
  );
  requestAnimationFrame(frame);
}

function debug(): Debug {
  const me = myEntity();
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
