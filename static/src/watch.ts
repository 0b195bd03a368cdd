// The watch page (GET /watch): the list of live matches and of finished
// ones (replays), and a spectator view of one, drawn like the play page
// draws it. A replay has a timeline: position, seek, pause, speed, download.
//
// Query parameters: match (watch it directly), replay (play that replay;
// with from=<tick> and speed=0.25|0.5|1|2|4|8 where it starts),
// transport=ws|sse|poll (force one; default: try them in that order), rate
// and delay (passed through to the server; a replay takes no delay).
// window.tickstreamWatch is a read-only view for tests (its fields are
// listed in docs/architecture.md, "The watch page").

import { REFERENCE_ARENA } from "./arena";
import { Hud, formatLeft } from "./hud";
import { End, KIND_PROJECTILE, Snap } from "./protocol";
import { Renderer } from "./render";
import {
  ReplayInfo,
  SPEEDS,
  clampTick,
  formatClock,
  formatSpeed,
  parseSpeed,
  position,
  tickToSeconds,
} from "./timeline";
import { Source, TransportName, Watcher, isTransport } from "./watchnet";
import { overlayBanner, statusLine } from "./ui";
import { GameTracker } from "./game";
import { GameUI } from "./gameui";

/** A match in the HTTP API (docs/protocol.md, "HTTP endpoints"). */
interface MatchInfo {
  id: string;
  players: number;
  max: number;
  state: string;
  rate: number;
  age: number;
  spectators: number;
  delay: number;
}

/** What tests read as window.tickstreamWatch (a frozen copy on each read). */
export interface WatchDebug {
  /** The scoreboard is shown (held on Tab), its rows, and the kill feed ("killer>victim"). */
  scoreboard: boolean;
  scores: { id: number; name: string; kills: number; deaths: number }[];
  feed: string[];
  /** The match watched, live or replayed ("" on the list). */
  matchId: string;
  /** "match" (live), "replay", or "" on the list. */
  source: "match" | "replay" | "";
  /** The transport in use ("" before the first). */
  transport: TransportName | "";
  /** Every transport connection tried, in order. */
  tried: TransportName[];
  /** The tick held. */
  tick: number;
  /** Keyframes and deltas applied. */
  ticks: number;
  keyframes: number;
  deltas: number;
  /** Player entities in the state held. */
  players: number;
  /** Projectile entities in the state held. */
  projectiles: number;
  /** Players' positions in the state held. */
  positions: { id: number; x: number; y: number }[];
  /** Roster names known (id order). */
  names: string[];
  state: string;
  /** Server time (Unix ms) of the tick held (0 before). */
  tickTime: number;
  /** Unix ms of the last event applied (0 before). */
  lastEventAt: number;
  ended: boolean;
  /** The stream ended for good (results, match gone, refused). */
  finished: boolean;
  errors: string[];
  /** From GET /api/matches/{id} (-1 before the first answer). */
  spectators: number;
  /** The match's delay plus the requested one, seconds. */
  delay: number;
  /** Matches on the list (list view). */
  matches: number;
  /** Replays on the list (list view). */
  replays: number;
  /** A replay: paused (no stream open). */
  paused: boolean;
  /** A replay's playback speed (1 live). */
  speed: number;
  /** A replay's first and last tick and tick rate (0 live or before its info). */
  firstTick: number;
  lastTick: number;
  rate: number;
  /** A replay: the tick of the last seek (the start's from=, 0: its first tick). */
  seekTo: number;
  /** A replay: seconds of match time from its first tick to the tick held. */
  position: number;
}

const LIST_REFRESH_MS = 2000;
const INFO_REFRESH_MS = 2000;
const SWITCH_SHOWN_MS = 3000;
const TRANSPORT_LABEL: Record<TransportName, string> = { ws: "WebSocket", sse: "SSE", poll: "long polling" };

function byId<T extends HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`#${id} is missing from the page`);
  return e as T;
}

const canvas = byId<HTMLCanvasElement>("canvas");
const renderer = new Renderer(canvas);
const list = byId<HTMLElement>("list");
const rows = byId<HTMLTableSectionElement>("matches");
const none = byId<HTMLElement>("none");
const replayRows = byId<HTMLTableSectionElement>("replays");
const noReplays = byId<HTMLElement>("no-replays");
const timeline = byId<HTMLElement>("timeline");
const pauseButton = byId<HTMLButtonElement>("pause");
const seekBar = byId<HTMLInputElement>("seek");
const clock = byId<HTMLElement>("clock");
const speedSelect = byId<HTMLSelectElement>("speed");
const download = byId<HTMLAnchorElement>("download");
const hudLine = byId<HTMLElement>("hud");
const status = byId<HTMLElement>("status");
const overlay = byId<HTMLElement>("overlay");
/** Kill feed and scoreboard (Tab) for spectators (no player of their own: me = 0). */
const tracker = new GameTracker(0);
const gameUI = new GameUI(byId("feed"), null, null, byId("scoreboard"), null);
gameUI.bindTab(() => watcher !== null);
const hud = new Hud(hudLine, byId("results"), () => {
  location.href = watchURL(null);
});

const params = new URLSearchParams(location.search);
const matchParam = params.get("match");
const replayParam = matchParam ? null : params.get("replay");
const fromParam = params.get("from");
const speedParam = params.get("speed");
const transportParam = params.get("transport");
const rateParam = params.get("rate");
const delayParam = params.get("delay");

let watcher: Watcher | null = null;
let info: MatchInfo | null = null;
let matchCount = 0;
let replayCount = 0;
/** The replay played (null: live or the list). */
let replay: ReplayInfo | null = null;
/** The bar is being dragged: the stream does not move it meanwhile. */
let dragging = false;
let snap: Snap | null = null;
let names = new Map<number, string>();
let endResult: End | null = null;
/** Shown before the list's own status (e.g. why a match cannot be watched). */
let listNotice = "";

const setStatus = statusLine(status);
const showOverlay = overlayBanner(overlay);

/** watchURL links to a match or a replay (null: the list), keeping the
 * pass-through parameters. */
function watchURL(match: string | null, kind: "match" | "replay" = "match"): string {
  const q = new URLSearchParams();
  if (match !== null) q.set(kind, match);
  for (const [k, v] of [["transport", transportParam], ["rate", rateParam], ["delay", delayParam]] as const) {
    if (v !== null) q.set(k, v);
  }
  const qs = q.toString();
  return `/watch${qs ? "?" + qs : ""}`;
}

function formatAge(s: number): string {
  const t = Math.max(0, Math.floor(s));
  return t < 60 ? `${t} s` : `${Math.floor(t / 60)} min ${t % 60} s`;
}

function formatDelay(s: number): string {
  return `${Math.round(s * 10) / 10} s`;
}

function requestedDelay(): number {
  const d = delayParam === null ? 0 : Number(delayParam);
  return Number.isFinite(d) && d > 0 ? d : 0;
}

async function getJSON<T>(url: string): Promise<{ status: number; body: T | null }> {
  const res = await fetch(url, { cache: "no-store" });
  const body = (await res.json().catch(() => null)) as T | null;
  return { status: res.status, body };
}

// ---- the list -------------------------------------------------------------

async function refreshList(): Promise<void> {
  try {
    const { status: code, body } = await getJSON<{ matches?: MatchInfo[] }>("/api/matches");
    if (code !== 200 || !body) throw new Error(`status ${code}`);
    const matches = (body.matches ?? []).filter((m) => m.state !== "closed");
    matchCount = matches.length;
    rows.replaceChildren(...matches.map(matchRow));
    none.hidden = matches.length > 0;
    const text =
      `${matches.length} live match${matches.length === 1 ? "" : "es"}, ` +
      `${replayCount} replay${replayCount === 1 ? "" : "s"} — click one to watch it`;
    setStatus(listNotice ? `${listNotice} — ${text}` : text, listNotice !== "");
  } catch (err) {
    setStatus(`cannot list the matches: ${(err as Error).message}`, true);
  }
}

/** The most replays listed (the newest). */
const MAX_REPLAYS_LISTED = 50;

async function refreshReplays(): Promise<void> {
  try {
    const { status: code, body } = await getJSON<ReplayInfo[]>("/api/replays");
    if (code !== 200 || !Array.isArray(body)) throw new Error(`status ${code}`);
    replayCount = body.length;
    replayRows.replaceChildren(...body.slice(0, MAX_REPLAYS_LISTED).map(replayRow));
    noReplays.hidden = body.length > 0;
  } catch (err) {
    console.warn(`tickstream watch: cannot list the replays: ${(err as Error).message}`);
  }
}

function formatWhen(iso: string): string {
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return "?";
  const ago = (Date.now() - t) / 1000;
  if (ago < 3600 && ago >= 0) return `${formatAge(ago)} ago`;
  return new Date(t).toLocaleString();
}

function replayRow(r: ReplayInfo): HTMLTableRowElement {
  const players = [...r.players].sort((a, b) => b.score - a.score);
  const winner = r.players.find((p) => p.id === r.winner);
  const tr = listRow(r.id, watchURL(r.id, "replay"), [
    players.map((p) => `${p.name} ${p.score}`).join(", ") || "—",
    winner ? winner.name : "—",
    formatClock(r.duration_ms / 1000),
    formatWhen(r.started),
    (r.reason || "—") + (r.complete ? "" : " (cut short)"),
  ]);
  tr.dataset.replay = r.id;
  return tr;
}

function matchRow(m: MatchInfo): HTMLTableRowElement {
  const tr = listRow(m.id, watchURL(m.id), [
    `${m.players}/${m.max}`,
    m.state,
    formatAge(m.age),
    String(m.spectators),
    formatDelay(m.delay),
  ]);
  tr.dataset.match = m.id;
  return tr;
}

/** listRow is a row of the match or replay list: the id as a link to
 * href, then the cells; a click anywhere on the row follows the link. */
function listRow(id: string, href: string, cells: string[]): HTMLTableRowElement {
  const tr = document.createElement("tr");
  const link = document.createElement("a");
  link.href = href;
  link.textContent = id;
  const first = document.createElement("td");
  first.append(link);
  tr.append(first, ...cells.map((c) => {
    const td = document.createElement("td");
    td.textContent = c;
    return td;
  }));
  tr.addEventListener("click", (e) => {
    if (!(e.target instanceof HTMLAnchorElement)) location.href = link.href;
  });
  return tr;
}

function showList(notice = ""): void {
  listNotice = notice;
  if (notice) setStatus(notice, true);
  list.hidden = false;
  canvas.hidden = true;
  timeline.hidden = true;
  const refresh = async () => {
    await refreshReplays();
    await refreshList();
  };
  void refresh();
  setInterval(() => void refresh(), LIST_REFRESH_MS);
}

// ---- watching -------------------------------------------------------------

/** checkParams returns why the page's parameters cannot be used, or "". */
function checkParams(): string {
  if (transportParam !== null && !isTransport(transportParam)) return "transport must be ws, sse or poll";
  if (rateParam !== null) {
    const r = Number(rateParam);
    if (rateParam.trim() === "" || !(r > 0) || !Number.isFinite(r)) return "rate must be a positive number of updates per second";
  }
  if (delayParam !== null) {
    const d = Number(delayParam);
    if (delayParam.trim() === "" || !(d >= 0) || !Number.isFinite(d)) return "delay must be a number of seconds";
  }
  return "";
}

async function refreshInfo(id: string): Promise<"ok" | "gone" | "error"> {
  try {
    const { status: code, body } = await getJSON<MatchInfo>(`/api/matches/${encodeURIComponent(id)}`);
    if (code === 404) return "gone";
    if (code !== 200 || !body) return "error";
    info = body;
    return "ok";
  } catch {
    return "error";
  }
}

async function watch(id: string): Promise<void> {
  list.hidden = true;
  canvas.hidden = false;
  document.title = `Tickstream — watching ${id}`;
  const bad = checkParams();
  if (bad) {
    setStatus(`cannot watch: ${bad}`, true);
    showOverlay(bad, "error");
    return;
  }
  setStatus(`connecting to match ${id}…`);
  const found = await refreshInfo(id);
  if (found === "gone") {
    showList(`no such match: ${id}`);
    return;
  }
  const matchRate = info?.rate ?? 30;
  const rate = rateParam === null ? matchRate : Math.min(matchRate, Number(rateParam));
  const forced = isTransport(transportParam) ? transportParam : null;
  const w: Watcher = new Watcher(
    {
      source: { kind: "match", id },
      forced,
      rate: rateParam,
      delay: delayParam,
      updatesPerSecond: rate,
      delaySeconds: (info?.delay ?? 0) + requestedDelay(),
    },
    {
      onUpdate() {
        snap = null; // rebuilt on the next frame
      },
      onEvents(ev) {
        tracker.events(ev, w.state.entities(), performance.now());
      },
      onTransport(name, why) {
        const label = TRANSPORT_LABEL[name];
        if (why === "start") {
          setStatus(`watching match ${id} over ${label}${forced ? " (forced)" : ""}`);
        } else if (why.endsWith("failed")) {
          showOverlay(`${why} — trying ${label}`, "wait", SWITCH_SHOWN_MS);
          setStatus(`watching match ${id} over ${label} (${why})`);
        } else {
          setStatus(`watching match ${id} over ${label} (${why})`);
        }
      },
      onEnd(end) {
        endResult = end;
        for (const s of end.scores) if (!names.has(s.id)) names.set(s.id, s.name);
        hud.showResults(end, 0, "Watch another match");
        setStatus(`match ${id} is over`);
        showOverlay("", null);
      },
      onFinished(why) {
        setStatus(`stopped watching match ${id}: ${why}`, true);
        showOverlay(why, "error");
      },
    },
  );
  watcher = w;
  document.addEventListener("visibilitychange", () => w.setSuspended(document.hidden));
  w.setSuspended(document.hidden);
  window.addEventListener("pagehide", () => w.stop());
  setInterval(() => {
    if (!w.finished) void refreshInfo(id);
  }, INFO_REFRESH_MS);
}

// ---- a replay ---------------------------------------------------------------

async function watchReplay(id: string): Promise<void> {
  list.hidden = true;
  canvas.hidden = false;
  document.title = `Tickstream — replay of ${id}`;
  const bad = checkParams();
  if (bad) {
    setStatus(`cannot play: ${bad}`, true);
    showOverlay(bad, "error");
    return;
  }
  setStatus(`loading replay ${id}…`);
  let r: ReplayInfo;
  try {
    const { status: code, body } = await getJSON<ReplayInfo>(`/api/replays/${encodeURIComponent(id)}`);
    if (code === 404) {
      showList(`no such replay: ${id}`);
      return;
    }
    if (code !== 200 || !body) throw new Error(`status ${code}`);
    r = body;
  } catch (err) {
    setStatus(`cannot load replay ${id}: ${(err as Error).message}`, true);
    showOverlay("cannot load the replay", "error");
    return;
  }
  replay = r;
  const from = fromParam === null ? 0 : clampTick(r, Number(fromParam) || r.first_tick);
  const source: Source = { kind: "replay", id, from, speed: parseSpeed(speedParam), last: r.last_tick };
  const forced = isTransport(transportParam) ? transportParam : null;
  const playing = () => `${watcher?.paused ? "paused: replay" : "playing replay"} ${id}`;
  const w: Watcher = new Watcher(
    {
      source,
      forced,
      rate: rateParam,
      delay: null,
      updatesPerSecond: (rateParam === null ? r.rate : Math.min(r.rate, Number(rateParam))) * source.speed,
      delaySeconds: 0,
    },
    {
      onUpdate() {
        snap = null;
      },
      onTransport(name, why) {
        const label = TRANSPORT_LABEL[name];
        if (why.endsWith("failed")) showOverlay(`${why} — trying ${label}`, "wait", SWITCH_SHOWN_MS);
        setStatus(`${playing()} over ${label}${forced ? " (forced)" : ""}${why === "start" ? "" : ` (${why})`}`);
      },
      onEnd(end) {
        endResult = end;
        for (const s of end.scores) if (!names.has(s.id)) names.set(s.id, s.name);
        hud.showResults(end, 0, "Watch another match");
        setStatus(`replay ${id}: the match is over — seek to watch it again`);
        showOverlay("", null);
      },
      onFinished(why) {
        const over = why === "end of the replay";
        setStatus(`replay ${id}: ${why}`, !over);
        showOverlay(over ? "" : why, over ? null : "error");
      },
    },
  );
  watcher = w;
  setupTimeline(w, r);
  window.addEventListener("pagehide", () => w.stop());
}

/** setupTimeline wires the replay's bar: position, seek, pause, speed, download. */
function setupTimeline(w: Watcher, r: ReplayInfo): void {
  timeline.hidden = false;
  seekBar.min = String(r.first_tick);
  seekBar.max = String(r.last_tick);
  seekBar.step = "1";
  seekBar.value = String(r.first_tick);
  download.href = `/api/replays/${encodeURIComponent(r.id)}/download`;
  speedSelect.replaceChildren(...SPEEDS.map((x) => {
    const o = document.createElement("option");
    o.value = String(x);
    o.textContent = formatSpeed(x);
    return o;
  }));
  const src = w.source;
  speedSelect.value = String(src.kind === "replay" ? src.speed : 1);

  const seek = (tick: number) => {
    endResult = null;
    hud.hideResults();
    showOverlay("", null);
    w.seek(clampTick(r, tick));
  };
  // The thumb follows the stream; while dragged, the clock shows where it is.
  seekBar.addEventListener("input", () => {
    dragging = true;
    clock.textContent = position(r, Number(seekBar.value));
  });
  seekBar.addEventListener("change", () => {
    dragging = false;
    seek(Number(seekBar.value));
  });
  pauseButton.addEventListener("click", () => {
    if (w.finished) {
      // Played out: play again from the start.
      seek(r.first_tick);
      if (w.paused) w.resume();
    } else if (w.paused) {
      w.resume();
    } else {
      w.pause();
      setStatus(`replay ${r.id} paused at ${formatClock(tickToSeconds(r, w.state.tick))} (tick ${w.state.tick})`);
    }
  });
  speedSelect.addEventListener("change", () => {
    const x = Number(speedSelect.value);
    if (SPEEDS.includes(x)) w.setSpeed(x);
  });
}

/** updateTimeline shows the replay's position (every frame). */
function updateTimeline(w: Watcher, r: ReplayInfo): void {
  const tick = w.state.tick || r.first_tick;
  if (!dragging) {
    const v = String(clampTick(r, tick));
    if (seekBar.value !== v) seekBar.value = v;
    const text = position(r, tick);
    if (clock.textContent !== text) clock.textContent = text;
  }
  const label = w.finished ? "Replay" : w.paused ? "Play" : "Pause";
  if (pauseButton.textContent !== label) pauseButton.textContent = label;
}

/** currentSnap turns the spectator's state into what the renderer draws. */
function currentSnap(): Snap | null {
  const w = watcher;
  if (!w || w.state.tick === 0) return null;
  if (snap === null) {
    const s = w.state;
    snap = { t: "snap", ack: 0, tick: s.tick, base: 0, time: s.time, state: s.state, left: s.left, ents: s.entities(), ev: [] };
    names = new Map(s.roster.map((p) => [p.id, p.name]));
    if (endResult) for (const r of endResult.scores) if (!names.has(r.id)) names.set(r.id, r.name);
  }
  return snap;
}

function hudText(): string {
  const w = watcher;
  if (!w) return "";
  const s = w.state;
  const players = s.players().length;
  const state = w.ended ? "ended" : s.state || "—";
  if (replay) {
    const src = w.source;
    return [
      `replay ${replay.id}`,
      `transport ${w.transport || "—"}`,
      `tick ${s.tick}`,
      `players ${players}`,
      state,
      `speed ${formatSpeed(src.kind === "replay" ? src.speed : 1)}`,
      w.paused ? "paused" : "",
    ].filter(Boolean).join(" · ");
  }
  return [
    `match ${matchParam ?? ""}`,
    `transport ${w.transport || "—"}`,
    `delay ${info ? formatDelay(info.delay + requestedDelay()) : "? s"}`,
    `${info ? info.spectators : "?"} spectator${info?.spectators === 1 ? "" : "s"}`,
    `tick ${s.tick}`,
    `players ${players}`,
    state,
    state === "running" ? `${formatLeft(s.left)} left` : "",
  ].filter(Boolean).join(" · ");
}

let lastHud = "";

function frame(): void {
  if (watcher) {
    const shown = currentSnap();
    renderer.draw({ arena: REFERENCE_ARENA, snap: shown, me: 0, meAway: false, radius: 0, names });
    // Kills come from the players' entities (all of them: spectators see every one).
    if (shown) tracker.events([], shown.ents, performance.now());
    gameUI.updateFeed(tracker.feedAt(performance.now()), (id) => names.get(id) ?? `#${id}`, 0);
    gameUI.updateBoard(tracker.scoreboard(names), `Match ${watcher.source.id}`);
    const text = hudText();
    if (text !== lastHud) {
      hudLine.textContent = text;
      lastHud = text;
    }
    if (replay) updateTimeline(watcher, replay);
  }
  requestAnimationFrame(frame);
}

function debug(): WatchDebug {
  const w = watcher;
  const s = w?.state;
  const players = s ? s.players() : [];
  const src = w?.source;
  const r = replay;
  return Object.freeze({
    matchId: w ? src?.id ?? "" : "",
    source: src?.kind ?? "",
    transport: w?.transport ?? "",
    tried: Object.freeze([...(w?.tried ?? [])]) as TransportName[],
    tick: s?.tick ?? 0,
    ticks: s ? s.keyframes + s.deltas : 0,
    keyframes: s?.keyframes ?? 0,
    deltas: s?.deltas ?? 0,
    players: players.length,
    projectiles: s ? s.entities().filter((e) => e.kind === KIND_PROJECTILE).length : 0,
    positions: Object.freeze(players.map((e) => Object.freeze({ id: e.id, x: e.x, y: e.y }))) as WatchDebug["positions"],
    names: Object.freeze((s?.roster ?? []).map((p) => p.name)) as string[],
    state: w?.ended ? "ended" : s?.state ?? "",
    tickTime: s?.time ?? 0,
    lastEventAt: w?.lastEventAt ?? 0,
    ended: w?.ended ?? false,
    finished: w?.finished ?? false,
    errors: Object.freeze([...(w?.errors ?? [])]) as string[],
    spectators: info ? info.spectators : -1,
    delay: r ? 0 : (info?.delay ?? 0) + requestedDelay(),
    matches: matchCount,
    replays: replayCount,
    paused: w?.paused ?? false,
    speed: src?.kind === "replay" ? src.speed : 1,
    firstTick: r?.first_tick ?? 0,
    lastTick: r?.last_tick ?? 0,
    rate: r?.rate ?? 0,
    seekTo: src?.kind === "replay" ? src.from : 0,
    position: r && s && s.tick > 0 ? tickToSeconds(r, s.tick) : 0,
    scoreboard: !byId("scoreboard").hidden,
    scores: Object.freeze(tracker.scoreboard(names).map((x) => Object.freeze({ id: x.id, name: x.name, kills: x.kills, deaths: x.deaths }))) as WatchDebug["scores"],
    feed: Object.freeze(tracker.feedAt(performance.now()).map((f) => `${names.get(f.killer) ?? f.killer}>${names.get(f.victim) ?? f.victim}`)) as string[],
  });
}

Object.defineProperty(window, "tickstreamWatch", { get: debug, configurable: false, enumerable: true });

if (matchParam) {
  void watch(matchParam);
} else if (replayParam) {
  void watchReplay(replayParam);
} else {
  showList();
}
requestAnimationFrame(frame);
