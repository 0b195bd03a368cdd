// The SDK's link layer, shared by the player link (net.ts) and the
// spectator link (watchnet.ts): one WebSocket connection (Conn: subprotocol,
// binary frames, events, traffic counters, the developer's simulated lag and
// loss), the watchdog that judges silence (Watchdog: a periodic check that
// knows when the page was frozen), and the reconnect backoff (Backoff:
// exponential with full jitter). What to do on a loss differs — a player
// resumes its seat or fails over, a spectator falls back to another
// transport — and stays with each link.

import { SUBPROTOCOL } from "./protocol";

// ---- backoff ----------------------------------------------------------------

/** backoffDelay is the wait before retry n (0-based): full jitter over min(max, min·2ⁿ). */
export function backoffDelay(n: number, min: number, max: number, random: () => number = Math.random): number {
  const cap = Math.min(max, min * 2 ** Math.min(n, 16));
  return random() * cap;
}

/** Backoff counts retries and hands out their jittered waits. */
export class Backoff {
  /** Retries handed out since the last reset. */
  n = 0;
  constructor(
    readonly min: number,
    readonly max: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** next is the wait before the next retry (and counts it). */
  next(): number {
    return backoffDelay(this.n++, this.min, this.max, this.random);
  }

  reset(): void {
    this.n = 0;
  }
}

// ---- watchdog ---------------------------------------------------------------

/** How often a watchdog looks. */
export const WATCHDOG_MS = 250;
/** A watchdog tick this late means the page was frozen or throttled: the
 * socket's queued events have not run yet, so silence is not judged then. */
export const WATCHDOG_LATE_MS = 1500;

/**
 * Watchdog calls check every WATCHDOG_MS with the time and whether this
 * tick came late (a frozen or throttled page: judge nothing then).
 */
export class Watchdog {
  private timer: ReturnType<typeof setInterval> | null = null;
  private last = 0;

  constructor(private readonly check: (t: number, late: boolean) => void) {}

  get running(): boolean {
    return this.timer !== null;
  }

  start(): void {
    if (this.timer !== null) return;
    this.last = performance.now();
    this.timer = setInterval(() => {
      const t = performance.now();
      const late = t - this.last > WATCHDOG_LATE_MS;
      this.last = t;
      this.check(t, late);
    }, WATCHDOG_MS);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}

// ---- simulated latency and loss (developer option) --------------------------

/**
 * Sim delays every frame in both directions by `lag` ms and loses a
 * fraction `loss` of the frames that the protocol allows to be lost
 * (inbound snapshots, outbound inputs and acks): the play page takes them
 * from ?lag=&loss=. The order of frames is kept.
 */
export class Sim {
  constructor(
    readonly lag: number,
    readonly loss: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** fromQuery reads lag (0 … 5000 ms) and loss (0 … 1) from a query string; null without either. */
  static fromQuery(search: string): Sim | null {
    const q = new URLSearchParams(search);
    const lag = Number(q.get("lag") ?? "0");
    const loss = Number(q.get("loss") ?? "0");
    const l = Number.isFinite(lag) ? Math.min(5000, Math.max(0, lag)) : 0;
    const p = Number.isFinite(loss) ? Math.min(1, Math.max(0, loss)) : 0;
    return l > 0 || p > 0 ? new Sim(l, p) : null;
  }

  /** lose draws whether a droppable frame is lost. */
  lose(): boolean {
    return this.loss > 0 && this.random() < this.loss;
  }
}

// ---- one connection -----------------------------------------------------------

/** Traffic counts frames and bytes of every Conn that shares it. */
export class Traffic {
  bytesIn = 0;
  bytesOut = 0;
  framesIn = 0;
  framesOut = 0;
}

export interface ConnHandlers {
  open(): void;
  /** A binary frame (text frames are ignored with a warning). */
  message(data: ArrayBuffer): void;
  /** The socket closed (an error always ends in a close, which has the code). */
  close(code: number, reason: string): void;
}

export interface ConnOptions {
  sim?: Sim | null;
  traffic?: Traffic;
}

/**
 * Conn is one WebSocket speaking the Tickstream subprotocol. Its handlers
 * can be replaced (a resumed socket adopted) or forgotten (a socket given
 * up on); send and the handlers go through the Sim when one is set.
 */
export class Conn {
  readonly ws: WebSocket;
  private h: ConnHandlers | null;
  private readonly sim: Sim | null;
  private readonly traffic: Traffic;

  constructor(readonly url: string, h: ConnHandlers, o: ConnOptions = {}) {
    this.h = h;
    this.sim = o.sim ?? null;
    this.traffic = o.traffic ?? new Traffic();
    const ws = new WebSocket(url, SUBPROTOCOL);
    ws.binaryType = "arraybuffer";
    ws.onopen = () => this.later(() => this.h?.open());
    ws.onmessage = (e: MessageEvent) => {
      const d: unknown = e.data;
      if (!(d instanceof ArrayBuffer)) {
        console.warn("tickstream: ignoring a non-binary frame");
        return;
      }
      this.traffic.framesIn++;
      this.traffic.bytesIn += d.byteLength;
      this.later(() => this.h?.message(d));
    };
    ws.onclose = (e: CloseEvent) => this.later(() => this.h?.close(e.code, e.reason));
    ws.onerror = () => {};
    this.ws = ws;
  }

  get readyState(): number {
    return this.ws.readyState;
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  /** lossy: an inbound frame the protocol allows to lose is lost (Sim). */
  lossy(): boolean {
    return this.sim?.lose() ?? false;
  }

  /** send sends a frame; droppable frames may be lost by the Sim. */
  send(data: Uint8Array<ArrayBuffer>, droppable = false): void {
    if (droppable && this.sim?.lose()) return;
    this.traffic.framesOut++;
    this.traffic.bytesOut += data.byteLength;
    const lag = this.sim?.lag ?? 0;
    if (lag <= 0) {
      this.ws.send(data);
      return;
    }
    setTimeout(() => {
      if (this.ws.readyState === WebSocket.OPEN) this.ws.send(data);
    }, lag);
  }

  /** listen replaces the handlers. */
  listen(h: ConnHandlers): void {
    this.h = h;
  }

  /** forget stops listening (without closing). */
  forget(): void {
    this.h = null;
  }

  /** drop forgets the socket and closes it with 1000 if it is connecting or open. */
  drop(reason: string): void {
    this.forget();
    if (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN) {
      try {
        this.ws.close(1000, reason);
      } catch {
        // already closing
      }
    }
  }

  /** later runs f after the simulated lag (at once without one), in order. */
  private later(f: () => void): void {
    const lag = this.sim?.lag ?? 0;
    if (lag <= 0) f();
    else setTimeout(f, lag);
  }
}
