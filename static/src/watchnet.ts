// A spectator's link to one match (docs/protocol.md, "Spectators"), live or
// replayed (a Source): three transports carrying the same stream, tried in
// order, each falling back to the next when it cannot connect or goes
// silent:
//
//  1. WebSocket /api/matches/{id}/watch: msgpack frames, pings answered with
//     pongs; dead after 3 s without any frame (pings come every second).
//  2. Server-Sent Events /api/matches/{id}/events: JSON events. Comments
//     (the server's keep-alives) are invisible to EventSource, so liveness
//     is judged on real events only, generously (5 s, or three update
//     intervals at a low rate, plus the broadcast delay before the first).
//     EventSource reconnects by itself with Last-Event-ID after a lost
//     stream, but stops for good on a refusal (a status other than 200).
//  3. Long polling /api/matches/{id}/poll?after=<tick>: the last resort;
//     retried with backoff for as long as the page is open.
//
// Moving on passes the last tick held as `after`, so the stream continues
// without a gap or a duplicate. A stream that has a gap anyway (a delta not
// based on the tick held, or whose rows do not fit the view held) is asked
// for again from scratch (no `after`: a keyframe comes first). Keyframes and
// deltas carry entity rows in wire units (protocol.ts, parseRows/applyRows:
// the same codec as the players' snapshots). A transport forced with ?transport= is retried with
// backoff instead of falling back.
//
// A replay (docs/protocol.md, "Replays") is the same stream under
// /api/replays/{id}/… with two more parameters: from= (seek: the server
// starts at the keyframe at or before that tick) and speed=. The Watcher
// plays it with the same transports, state and fallbacks, and adds what a
// recording allows: pause (the stream is closed and the tick held is kept;
// play resumes with after= that tick), seek (a fresh stream from= the tick)
// and speed (the stream is reopened with after= the tick held and the new
// speed). Starting again from scratch (a gap) asks from= the tick held, not
// from the replay's first tick.
//
// The WebSocket, the watchdog and the retry backoff are the SDK's link
// layer (link.ts), shared with the player link.

import { Backoff, Conn, Traffic, Watchdog } from "./link";
import { CLOSE_NORMAL, CLOSE_TOO_SLOW, encodePong, encodeSuspend } from "./protocol";
import { SpecEvent, SpectatorState, parseEvent, parseFrame, parseJSON } from "./spectator";

export type TransportName = "ws" | "sse" | "poll";

/** The order in which transports are tried. */
export const TRANSPORTS: readonly TransportName[] = ["ws", "sse", "poll"];

export function isTransport(s: string | null): s is TransportName {
  return s === "ws" || s === "sse" || s === "poll";
}

/** WebSocket: no frame at all (pings included) for this long is dead. */
export const WS_SILENCE_MS = 3000;
/** WebSocket: a handshake taking longer than this failed. */
export const WS_HANDSHAKE_MS = 3000;
/** SSE: no event for this long (while the match ticks) is dead. */
export const SSE_SILENCE_MS = 5000;
/** Poll: a request is abandoned after this long (the server waits ≤ 25 s). */
export const POLL_TIMEOUT_MS = 30_000;
/** Backoff between retries: full jitter over min(max, min·2ⁿ). */
const RETRY_MIN_MS = 250;
const RETRY_MAX_MS = 5000;

/** What a Watcher follows: a live match, or a replay of a finished one. */
export type Source = LiveSource | ReplaySource;

export interface LiveSource {
  kind: "match";
  id: string;
}

export interface ReplaySource {
  kind: "replay";
  id: string;
  /** The tick to start at (seek: from=); 0: the replay's first. */
  from: number;
  /** Playback speed (speed=; 1 is real time, sent only when not 1). */
  speed: number;
  /** The replay's last tick: a stream that stops there has ended. */
  last: number;
}

/**
 * streamPath is the path and query of a source's endpoint ("watch",
 * "events" or "poll"): after > 0 resumes after that tick (and wins over a
 * replay's from=); rate and delay are the page's raw pass-through values
 * (a replay takes no delay).
 */
export function streamPath(src: Source, endpoint: string, after: number, rate: string | null, delay: string | null): string {
  const q = new URLSearchParams();
  if (after > 0) q.set("after", String(after));
  if (src.kind === "replay" && after <= 0 && src.from > 0) q.set("from", String(Math.floor(src.from)));
  if (rate !== null) q.set("rate", rate);
  if (src.kind === "match" && delay !== null) q.set("delay", delay);
  if (src.kind === "replay" && src.speed !== 1) q.set("speed", String(src.speed));
  const qs = q.toString();
  const base = src.kind === "replay" ? "/api/replays/" : "/api/matches/";
  return `${base}${encodeURIComponent(src.id)}/${endpoint}${qs ? "?" + qs : ""}`;
}

export interface WatchOptions {
  /** The match or replay followed. A replay's from and speed are where the
   * playback starts; pause, seek and setSpeed change them afterwards. */
  source: Source;
  /** Forced transport (?transport=), or null to try them in order. */
  forced: TransportName | null;
  /** Passed through to the server as ?rate= and ?delay= (raw strings). */
  rate: string | null;
  delay: string | null;
  /** Updates per second expected (the requested rate, else the match's tick rate). */
  updatesPerSecond: number;
  /** Seconds before the first event can arrive: the match's delay plus the requested one. */
  delaySeconds: number;
}

export interface WatchHandlers {
  /** A keyframe or delta was applied (or the match event changed the roster). */
  onUpdate(): void;
  /** The game events of a keyframe or delta just applied (kills, hits…). */
  onEvents?(ev: readonly import("./protocol").GameEvent[]): void;
  /** The transport in use changed (or reconnected). */
  onTransport(name: TransportName, why: string): void;
  /** The match is over: results. The stream has ended. */
  onEnd(end: import("./protocol").End): void;
  /** The stream ended for good without results (match gone, bad request). */
  onFinished(why: string): void;
}

/** Why a transport ended, as it reports it. */
interface Ended {
  why: string;
  /** The match is over or gone, or the request is bad: do not try again. */
  final?: "closed" | "gone" | "bad";
  /** Too slow (4007): start again at the live edge, not from the tick held. */
  scratch?: boolean;
}

interface TransportHandlers {
  opened(): void;
  /** A frame that proves liveness but carries no event (a ping). */
  alive(): void;
  event(ev: SpecEvent): void;
  ended(e: Ended): void;
}

interface Transport {
  readonly name: TransportName;
  stop(): void;
  suspend(on: boolean): void;
}

/** streamURL builds an endpoint's URL with the page's pass-through parameters. */
function streamURL(o: WatchOptions, src: Source, path: string, after: number, scheme?: "ws"): string {
  const base = scheme ? `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}` : "";
  return base + streamPath(src, path, after, o.rate, o.delay);
}

// ---- WebSocket ------------------------------------------------------------

class WsTransport implements Transport {
  readonly name = "ws";
  private readonly ws: Conn;
  private stopped = false;
  private opened = false;
  private ended = false;

  constructor(url: string, h: TransportHandlers, suspended: boolean, traffic: Traffic) {
    const ws: Conn = new Conn(url, {
      open: () => {
        if (this.stopped) return;
        this.opened = true;
        if (suspended) ws.send(encodeSuspend(true));
        h.opened();
      },
      message: (data) => {
        if (this.stopped) return;
        let ev: SpecEvent;
        try {
          ev = parseFrame(data);
        } catch (err) {
          console.warn("tickstream watch: ignoring a frame:", err);
          h.alive();
          return;
        }
        if (ev.kind === "ping") {
          ws.send(encodePong(ev.id, Date.now()));
          h.alive();
          return;
        }
        if (ev.kind === "end") this.ended = true;
        h.event(ev);
      },
      close: (code, reason) => {
        if (this.stopped) return;
        this.stopped = true;
        if (!this.opened) {
          h.ended({ why: "could not connect" });
        } else if (code === CLOSE_NORMAL) {
          // 1000 comes after `end`, or when the match closed without one.
          h.ended({ why: reason || "closed", final: this.ended ? "closed" : "gone" });
        } else {
          h.ended({ why: `closed with ${code}${reason ? ": " + reason : ""}`, scratch: code === CLOSE_TOO_SLOW });
        }
      },
    }, { traffic });
    this.ws = ws;
  }

  suspend(on: boolean): void {
    if (!this.stopped && this.ws.open) this.ws.send(encodeSuspend(on));
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.ws.drop("bye");
  }
}

// ---- Server-Sent Events ---------------------------------------------------

const SSE_EVENTS = ["keyframe", "delta", "match", "end"] as const;

class SseTransport implements Transport {
  readonly name = "sse";
  private readonly es: EventSource;
  private stopped = false;

  constructor(url: string, private readonly h: TransportHandlers) {
    const es = new EventSource(url);
    es.onopen = () => {
      if (!this.stopped) h.opened();
    };
    for (const kind of SSE_EVENTS) {
      es.addEventListener(kind, (e: MessageEvent) => this.data(kind, e.data));
    }
    // The stream's own `error` event and EventSource's connection errors
    // share the name: the server's is a MessageEvent with data.
    es.addEventListener("error", (e: Event) => {
      if (this.stopped) return;
      if (e instanceof MessageEvent && typeof e.data === "string") {
        this.data("error", e.data);
        return;
      }
      if (es.readyState === EventSource.CLOSED) {
        // A refusal (status ≠ 200, or not text/event-stream): EventSource
        // never retries it.
        this.stop();
        h.ended({ why: "refused" });
      }
      // Else the stream was lost and EventSource reconnects by itself,
      // with Last-Event-ID; the watchdog judges whether it comes back.
    });
    this.es = es;
  }

  private data(kind: string, text: unknown): void {
    if (this.stopped) return;
    let ev: SpecEvent;
    try {
      ev = parseJSON(kind, String(text));
    } catch (err) {
      console.warn(`tickstream watch: ignoring a malformed ${kind} event:`, err);
      return;
    }
    // The stream ends after `end` and `error`: stop EventSource from
    // reconnecting by itself.
    if (kind === "end" || kind === "error") this.stop();
    this.h.event(ev);
  }

  suspend(): void {}

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.es.close();
  }
}

// ---- long polling ---------------------------------------------------------

interface PollAnswer {
  events?: { id?: number; event?: string; data?: unknown }[];
  next?: number;
  done?: boolean;
}

class PollTransport implements Transport {
  readonly name = "poll";
  private stopped = false;
  private abort: AbortController | null = null;

  constructor(
    private readonly o: WatchOptions,
    private readonly src: Source,
    private after: number,
    private readonly h: TransportHandlers,
  ) {
    void this.loop();
  }

  private async loop(): Promise<void> {
    let opened = false;
    while (!this.stopped) {
      const ac = new AbortController();
      this.abort = ac;
      const timer = setTimeout(() => ac.abort(), POLL_TIMEOUT_MS);
      let res: Response;
      let body: PollAnswer;
      try {
        res = await fetch(streamURL(this.o, this.src, "poll", this.after), { signal: ac.signal, cache: "no-store" });
        body = (await res.json().catch(() => ({}))) as PollAnswer;
      } catch (err) {
        clearTimeout(timer);
        if (this.stopped) return;
        this.end({ why: ac.signal.aborted ? `no answer in ${POLL_TIMEOUT_MS / 1000} s` : `request failed (${String(err)})` });
        return;
      }
      clearTimeout(timer);
      if (this.stopped) return;
      if (res.status !== 200) {
        const reason = (body as { error?: unknown }).error;
        const why = `${res.status}${typeof reason === "string" ? ": " + reason : ""}`;
        this.end(res.status === 404 ? { why, final: "gone" } : res.status === 400 ? { why, final: "bad" } : { why });
        return;
      }
      if (!opened) {
        opened = true;
        this.h.opened();
      } else {
        this.h.alive();
      }
      for (const e of Array.isArray(body.events) ? body.events : []) {
        if (this.stopped) return; // restarted from an event handler
        this.h.event(parseEvent(typeof e.event === "string" ? e.event : "", e.data));
      }
      if (this.stopped) return;
      if (typeof body.next === "number" && body.next > 0) this.after = body.next;
      if (body.done === true) {
        this.end({ why: "stream done", final: "closed" });
        return;
      }
    }
  }

  private end(e: Ended): void {
    this.stopped = true;
    this.h.ended(e);
  }

  suspend(): void {}

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
  }
}

// ---- the watcher ----------------------------------------------------------

interface Current {
  t: Transport;
  name: TransportName;
  opened: boolean;
  /** A keyframe or delta arrived on this connection. */
  delivered: boolean;
  /** Last frame of any kind (WebSocket: pings too; SSE: events only). */
  lastAliveAt: number;
}

function now(): number {
  return performance.now();
}

/**
 * Watcher follows one match (live or replayed) over the best transport that
 * works and keeps its state. Read `state`, `transport`, `errors`; call stop
 * to leave. A replay can also be paused, resumed, sought and sped up.
 */
export class Watcher {
  readonly state = new SpectatorState();
  /** The transport in use (or being tried). */
  transport: TransportName | "" = "";
  /** Every transport connection tried, in order (the last 100). */
  readonly tried: TransportName[] = [];
  /** What went wrong, oldest first (transport failures, gaps, server errors). */
  readonly errors: string[] = [];
  /** Wall-clock time (Unix ms) of the last event applied; 0 before. */
  lastEventAt = 0;
  ended = false;
  /** The stream ended for good (results, match gone, or refused); a
   * replay comes back with seek. */
  finished = false;
  /** A replay is paused: no stream is open; the state holds its tick. */
  paused = false;

  /** Frames and bytes of the WebSocket transport. */
  readonly traffic = new Traffic();

  private cur: Current | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly backoff = new Backoff(RETRY_MIN_MS, RETRY_MAX_MS);
  private suspended = false;
  private readonly watchdog = new Watchdog((t, late) => this.check(t, late));
  /** The source as of now (a replay's from and speed change). */
  private src: Source;
  /** stop was called: nothing comes back. */
  private stopped = false;
  /** Paused, a seek shows its keyframe, then closes the stream again. */
  private peek = false;

  constructor(private readonly o: WatchOptions, private readonly h: WatchHandlers) {
    this.src = { ...o.source };
    this.connect(o.forced ?? TRANSPORTS[0]!, "start");
    this.watchdog.start();
  }

  /** source is what is followed now (a replay's from and speed included). */
  get source(): Readonly<Source> {
    return this.src;
  }

  /** pause closes a replay's stream and keeps the tick held (no-op live,
   * paused or finished). */
  pause(): void {
    if (this.src.kind !== "replay" || this.paused || this.finished) return;
    this.paused = true;
    this.peek = false;
    this.halt();
  }

  /** resume plays a paused replay on from the tick held (after=). */
  resume(): void {
    if (!this.paused || this.finished) return;
    this.paused = false;
    this.peek = false;
    if (this.cur === null) this.connect(this.next(), "resumed");
  }

  /**
   * seek plays a replay from tick (from=: the server starts at the keyframe
   * at or before it), also after its end. Paused, it shows that keyframe
   * and stays paused.
   */
  seek(tick: number): void {
    if (this.src.kind !== "replay" || this.stopped) return;
    this.src.from = Math.max(0, Math.floor(tick));
    this.state.restart();
    this.ended = false;
    this.revive();
    this.peek = this.paused;
    this.connect(this.next(), "seek");
  }

  /** setSpeed changes a replay's speed: the stream (if one is open) is
   * reopened after the tick held at the new speed. */
  setSpeed(speed: number): void {
    if (this.src.kind !== "replay" || this.src.speed === speed) return;
    this.src.speed = speed;
    if (this.cur !== null && !this.finished) this.connect(this.cur.name, "speed");
  }

  /** setSuspended tells a WebSocket server that the page is hidden. */
  setSuspended(on: boolean): void {
    this.suspended = on;
    this.cur?.t.suspend(on);
  }

  stop(): void {
    this.stopped = true;
    this.finish();
  }

  /** next is the transport to open when a replay goes on: the one in use. */
  private next(): TransportName {
    return this.transport || (this.o.forced ?? TRANSPORTS[0]!);
  }

  /** halt closes the stream (and any pending retry), keeping the state. */
  private halt(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.cur?.t.stop();
    this.cur = null;
  }

  /** revive undoes finish for a replay sought after its end. */
  private revive(): void {
    if (!this.finished || this.stopped) return;
    this.finished = false;
    this.watchdog.start();
  }

  /**
   * scratch forgets the tick held, so that the next stream starts with a
   * keyframe: live, at the live edge; a replay, at the tick held (from=),
   * not back at its start.
   */
  private scratch(): void {
    if (this.src.kind === "replay" && this.state.tick > 0) this.src.from = this.state.tick;
    this.state.restart();
  }

  private connect(name: TransportName, why: string): void {
    if (this.finished) return;
    this.cur?.t.stop();
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const after = this.state.resumeAfter;
    const src: Source = { ...this.src };
    const cur: Current = {
      t: null as unknown as Transport,
      name,
      opened: false,
      delivered: false,
      lastAliveAt: now(),
    };
    const mine = () => this.cur === cur;
    const handlers: TransportHandlers = {
      opened: () => {
        if (!mine()) return;
        cur.opened = true;
        cur.lastAliveAt = now();
      },
      alive: () => {
        if (mine() && name !== "sse") cur.lastAliveAt = now();
      },
      event: (ev) => {
        if (mine()) this.event(cur, ev);
      },
      ended: (e) => {
        if (mine()) this.transportEnded(cur, e);
      },
    };
    this.cur = cur;
    this.transport = name;
    this.tried.push(name);
    if (this.tried.length > 100) this.tried.splice(0, this.tried.length - 100);
    switch (name) {
      case "ws":
        cur.t = new WsTransport(streamURL(this.o, src, "watch", after, "ws"), handlers, this.suspended, this.traffic);
        break;
      case "sse":
        cur.t = new SseTransport(streamURL(this.o, src, "events", after), handlers);
        break;
      case "poll":
        cur.t = new PollTransport(this.o, src, after, handlers);
        break;
    }
    this.h.onTransport(name, why);
  }

  private event(cur: Current, ev: SpecEvent): void {
    cur.lastAliveAt = now();
    switch (ev.kind) {
      case "invalid":
      case "keyframe":
      case "delta": {
        const r =
          ev.kind === "invalid"
            ? { ok: false as const, why: `malformed ${ev.event} of tick ${ev.tick} (${ev.why})` }
            : ev.kind === "keyframe"
              ? this.state.keyframe(ev)
              : this.state.delta(ev);
        if (!r.ok) {
          this.error(`${cur.name}: ${r.why}: asking again from scratch`);
          this.scratch();
          this.connect(cur.name, "gap");
          return;
        }
        cur.delivered = true;
        this.backoff.reset();
        this.lastEventAt = Date.now();
        if (ev.kind !== "invalid" && ev.ev.length > 0) this.h.onEvents?.(ev.ev);
        this.h.onUpdate();
        if (this.peek) {
          // A seek while paused: the keyframe is shown; stay paused.
          this.peek = false;
          this.halt();
        }
        break;
      }
      case "match":
        this.state.match(ev);
        this.lastEventAt = Date.now();
        this.h.onUpdate();
        break;
      case "end":
        this.ended = true;
        this.lastEventAt = Date.now();
        this.finish();
        this.h.onEnd(ev.end);
        break;
      case "error":
        // E.g. 4007 too slow: the stream has ended. Start again at the
        // live edge rather than resume the backlog.
        this.error(`${cur.name}: server error ${ev.code}: ${ev.reason}`);
        cur.t.stop();
        this.scratch();
        this.retry(cur.name, "server error");
        break;
      case "ping":
      case "unknown":
        break;
    }
  }

  private transportEnded(cur: Current, e: Ended): void {
    if (e.final) {
      if (e.final === "closed" && this.ended) return;
      if (e.final !== "bad" && this.atReplayEnd()) {
        // A replay of a match that closed without an end: played out.
        this.finish();
        this.h.onFinished("end of the replay");
        return;
      }
      this.error(`${cur.name}: ${e.why}`);
      this.finish();
      this.h.onFinished(e.final === "bad" ? `refused: ${e.why}` : e.final === "gone" ? "the match is over or gone" : e.why);
      return;
    }
    if (this.atReplayEnd()) {
      this.finish();
      this.h.onFinished("end of the replay");
      return;
    }
    this.error(`${cur.name}: ${e.why}`);
    if (e.scratch) this.scratch();
    this.failed(cur, false);
  }

  /** atReplayEnd: a replay whose last tick is held (nothing more can come). */
  private atReplayEnd(): boolean {
    return this.src.kind === "replay" && this.src.last > 0 && this.state.tick >= this.src.last;
  }

  /**
   * failed moves on from a transport that ended or went silent: one that
   * was delivering and was closed is tried again at once (a blip); one that
   * could not connect or went silent gives way to the next transport.
   */
  private failed(cur: Current, silent: boolean): void {
    cur.t.stop();
    if (this.o.forced) {
      this.retry(cur.name, "reconnecting");
      return;
    }
    if (cur.delivered && !silent) {
      this.connect(cur.name, "reconnecting");
      return;
    }
    const i = TRANSPORTS.indexOf(cur.name);
    const next = TRANSPORTS[i + 1];
    if (next) {
      this.connect(next, `${cur.name} failed`);
    } else {
      this.retry(cur.name, "retrying");
    }
  }

  /** retry connects name again after a backoff (full jitter). */
  private retry(name: TransportName, why: string): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.cur = null;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect(name, why);
    }, this.backoff.next());
  }

  private check(t: number, late: boolean): void {
    const cur = this.cur;
    if (!cur || this.finished) return;
    if (late) {
      // Frozen or throttled page: queued events have not run yet.
      cur.lastAliveAt = Math.max(cur.lastAliveAt, t);
      return;
    }
    const limit = this.silenceLimit(cur);
    if (limit > 0 && t - cur.lastAliveAt > limit && this.atReplayEnd()) {
      // An event stream after a replay's last tick (EventSource keeps
      // reconnecting to a stream that has nothing more).
      this.finish();
      this.h.onFinished("end of the replay");
      return;
    }
    if (limit > 0 && t - cur.lastAliveAt > limit) {
      const what = cur.opened ? "silent" : "no connection";
      this.error(`${cur.name}: ${what} for ${(limit / 1000).toFixed(1)} s`);
      this.failed(cur, true);
    }
  }

  /** silenceLimit is how long cur may stay silent (0: no limit). */
  private silenceLimit(cur: Current): number {
    switch (cur.name) {
      case "ws":
        return cur.opened ? WS_SILENCE_MS : WS_HANDSHAKE_MS;
      case "sse": {
        // Events only (comments are invisible): generous, and the
        // broadcast delay on top until the first event of this connection.
        const interval = 1000 / Math.max(0.01, this.o.updatesPerSecond);
        const base = Math.max(SSE_SILENCE_MS, 3 * interval);
        return cur.delivered ? base : base + this.o.delaySeconds * 1000;
      }
      case "poll":
        return 0; // each request has its own timeout
    }
  }

  private error(msg: string): void {
    this.errors.push(msg);
    if (this.errors.length > 100) this.errors.splice(0, this.errors.length - 100);
    console.warn(`tickstream watch: ${msg}`);
  }

  private finish(): void {
    this.finished = true;
    this.watchdog.stop();
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.cur?.t.stop();
    this.cur = null;
  }
}
