// The player's link to the server: one seat that survives connection loss
// (the browser twin of netcode/client/player.go).
//
// It joins once. Every input is numbered and kept until a snapshot's `ack`
// covers it. It answers pings at once and watches for silence. When the
// socket is lost (1006, 4010, 4007, or 3 s without any frame) it dials
// again with exponential backoff and full jitter, sends `resume {token}`
// first, and on the new welcome sends again, in order, every input above
// the welcome's `ack`, so that each input is applied exactly once.
//
// Snapshots (wire v2) are deltas against a tick this connection
// acknowledged: the link keeps the baseline views (protocol.ts, Views),
// reset on every new connection, applies each frame and hands the page the
// whole view (Snap). Every input carries the newest tick applied as `ack`;
// when no input went out for ACK_QUIET_MS after a newer snapshot, an `ack`
// message goes out instead (at most one per ACK_QUIET_MS).
//
// In a cluster a join may be answered by `redirect {url, match}` and a
// close with 4015: the link connects to url exactly as given and joins
// again with that match, at most MAX_REDIRECTS times in a row. When the seat
// cannot be resumed (4012 refused, 4004 no such match, 1001 the node is
// going away, or the node unreachable for FAILOVER_ATTEMPTS attempts and
// FAILOVER_AFTER_MS), the link fails over: it joins anew, any match,
// through the entry URL (the page's own origin), with jittered backoff, and
// tells the page (onFailover): a match cannot move between nodes.
//
// The socket, the watchdog and the backoff are the SDK's link layer
// (link.ts), shared with the spectator link. The server's pings also feed
// the clock sync (clock.ts).

import { ClockSync, localNow } from "./clock";
import { Backoff, Conn, Sim, Traffic, Watchdog, WATCHDOG_MS, backoffDelay as jitter } from "./link";
import {
  BUTTON_FIRE,
  CLOSE_ABNORMAL,
  CLOSE_GOING_AWAY,
  CLOSE_NO_SUCH_MATCH,
  CLOSE_NORMAL,
  CLOSE_REDIRECT,
  CLOSE_REPLACED,
  CLOSE_RESUME_REFUSED,
  End,
  Input,
  Join,
  MAX_SEQ,
  ProtocolError,
  Quant,
  Redirect,
  Roster,
  Snap,
  SnapFrame,
  Views,
  Welcome,
  decodeServer,
  encodeAck,
  encodeInput,
  encodeJoin,
  encodePong,
  encodeResume,
  encodeSuspend,
  isResumable,
  snapView,
} from "./protocol";

/** The server allows 120 inputs/s per seat; stay just under it. */
const MIN_INPUT_INTERVAL_MS = 1000 / 118;

/** Skip an input while this much is still queued in the socket. */
const MAX_BUFFERED_BYTES = 4096;

/**
 * An input equal to the previous one changes nothing on the server (the
 * last input's movement and aim stay in effect), so inputs are sent when
 * they change (and every frame while fire is held). The latest is sent
 * again (new seq) this often while unacknowledged: the server may drop an
 * input (rate limit, full inbox) and never apply it later.
 */
const REPEAT_UNACKED_MS = 250;
/** Aim changes below this (radians) do not count as a change. */
const AIM_EPSILON = 1e-3;

/**
 * Unacknowledged inputs kept for a resend; the oldest are forgotten beyond
 * this. The server lets a resumed seat resend 1024 inputs past its rate
 * limit (docs/protocol.md, "Defaults"): more would be dropped anyway.
 */
export const MAX_PENDING = 1024;

/**
 * A newer snapshot applied and no input sent for this long: send an `ack`
 * message. Also the least time between two ack messages (≤ 10 per second).
 */
export const ACK_QUIET_MS = 100;

/** No frame at all from the server for this long: the link is lost. */
export const SILENCE_MS = 3000;
/** Before the join's welcome the server sends nothing (no pings yet). */
const JOIN_TIMEOUT_MS = 10_000;
/** A resume attempt whose WebSocket handshake takes longer is aborted. */
const HANDSHAKE_TIMEOUT_MS = 3000;
/** Backoff between resume attempts: full jitter over min(max, min·2ⁿ). */
export const BACKOFF_MIN_MS = 100;
export const BACKOFF_MAX_MS = 2000;
/** Stop resuming after this long without a connection (server grace: 20 s). */
export const GIVE_UP_MS = 30_000;
/** Redirects followed in a row before the join fails. */
export const MAX_REDIRECTS = 3;
/** The node is taken for lost after this many failed resume attempts … */
export const FAILOVER_ATTEMPTS = 6;
/** … made over at least this long. */
export const FAILOVER_AFTER_MS = 8000;
/**
 * On a node a redirect sent us to, the node is taken for lost sooner: after
 * FAST_FAILOVER_ATTEMPTS failed resume attempts over FAST_FAILOVER_AFTER_MS,
 * if the entry node answers (probe): the cluster is up, its node is not.
 */
export const FAST_FAILOVER_ATTEMPTS = 2;
export const FAST_FAILOVER_AFTER_MS = 500;
/** Backoff of the failover's joins (full jitter). */
export const FAILOVER_MIN_MS = 250;
export const FAILOVER_MAX_MS = 4000;

export type LinkState = "connecting" | "connected" | "reconnecting" | "closed";

/** Why the link ended for good (no more reconnects). */
export type EndKind =
  | "normal" // 1000: match over or closed by us
  | "refused" // the join was refused, or a close that must not be resumed
  | "replaced" // 4011: another connection resumed this seat
  | "resume-refused" // 4012, or a resume attempt refused otherwise
  | "gave-up" // no connection for GIVE_UP_MS
  | "redirects"; // more than MAX_REDIRECTS redirects in a row

export interface CloseInfo {
  code: number;
  reason: string;
  /** Whether the seat had been obtained (a welcome arrived). */
  welcomed: boolean;
  kind: EndKind;
}

export interface Handlers {
  /** Every welcome: the join's, and each resume's (w.resumed). */
  onWelcome(w: Welcome): void;
  onRoster(r: Roster): void;
  onSnap(s: Snap): void;
  onEnd(e: End): void;
  /** The link was lost and resume attempts start (code: why it was lost). */
  onReconnecting(code: number, reason: string): void;
  /** The link ended for good; no handler is called afterwards. */
  onClose(c: CloseInfo): void;
  /**
   * The seat is lost for good (code: why) and the link now joins a new
   * match through the entry URL; the next onWelcome is that new match's.
   */
  onFailover?(code: number, reason: string): void;
}

export interface PlayerOptions {
  /** Join anew when the seat cannot be resumed (default true). */
  failover?: boolean;
  /** Simulated latency and loss (developer option, link.ts). */
  sim?: Sim | null;
  /**
   * Whether a node answers, given its /play URL (default: GET /healthz on
   * it, 1.5 s at most). Used to fail over quickly from a lost node of a
   * cluster while the entry node answers.
   */
  probe?: (playURL: string) => Promise<boolean>;
}

/** probeNode asks GET /healthz of the node whose /play URL is given. */
export async function probeNode(playURL: string): Promise<boolean> {
  if (typeof fetch !== "function") return false;
  const u = new URL(playURL);
  u.protocol = u.protocol === "wss:" ? "https:" : "http:";
  u.pathname = "/healthz";
  u.search = "";
  const ctl = new AbortController();
  const t = setTimeout(() => ctl.abort(), 1500);
  try {
    const r = await fetch(u.toString(), { cache: "no-store", signal: ctl.signal });
    return r.ok;
  } catch {
    return false;
  } finally {
    clearTimeout(t);
  }
}

/** playURL derives the WebSocket URL of /play from the page's location. */
export function playURL(loc: Location = location): string {
  const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${loc.host}/play`;
}

/** backoffDelay is the wait before resume attempt n (0-based): full jitter. */
export function backoffDelay(n: number, random: () => number = Math.random): number {
  return jitter(n, BACKOFF_MIN_MS, BACKOFF_MAX_MS, random);
}

interface Attempt {
  ws: Conn;
  startedAt: number;
}

function now(): number {
  return performance.now();
}

/**
 * Player holds a seat across connections. Construct it to join; call input
 * every animation frame; close to leave.
 */
export class Player {
  private state: LinkState = "connecting";
  /** The socket in use: joining, or welcomed (null while reconnecting). */
  private ws: Conn | null = null;
  private wsOpenedAt = 0;
  private welcomed = false;
  private ended = false;
  private token = "";
  private seq = 0;
  private readonly pendingInputs: Input[] = [];
  /** The newest input an ack covered (its movement is the server's in effect). */
  private ackedInput: Input | null = null;
  private lastInputAt = -Infinity;
  private lastSentAt = -Infinity;
  /** The latest input taken (null: the next one is taken whatever it is). */
  private lastTaken: Input | null = null;
  private lastRecvAt = now();
  private suspended = false;

  /** The node in use (the entry URL, or where a redirect sent us). */
  private url: string;
  /** A redirect received on the joining socket (followed on its 4015). */
  private redirect: Redirect | null = null;
  /** Redirects followed since the last join sent through the entry URL. */
  private redirectsInRow = 0;
  /** Failing over: joins through the entry URL are retried on 1006. */
  private failingOver = false;
  private readonly failoverBackoff = new Backoff(FAILOVER_MIN_MS, FAILOVER_MAX_MS);
  private readonly failoverOn: boolean;
  private readonly probe: (playURL: string) => Promise<boolean>;
  /** A probe of the entry node is out (fast failover). */
  private probing = false;
  private readonly sim: Sim | null;

  // Reconnecting.
  private lostAt = 0;
  private attemptNo = 0;
  private attempt: Attempt | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  /**
   * Sockets given up on but not closed: a close frame from us would make
   * the server free the seat (it treats every client close as leaving), so
   * a silent socket is only dropped, and closed once the seat is back. An
   * attempt in here whose welcome still arrives is adopted.
   */
  private readonly zombies = new Set<Conn>();
  private readonly watchdog = new Watchdog((t, late) => this.check(t, late));
  private readonly unknownTypes = new Set<string>();

  /** Baseline views of the connection in use (reset on each welcome). */
  private readonly views = new Views();
  private quant: Quant = { pos: 1, angle: 1 };
  /** The newest tick acknowledged on this connection (input or ack message). */
  private ackedTick = 0;
  private lastAckAt = -Infinity;
  private ackTimer: ReturnType<typeof setTimeout> | null = null;

  /** Counters and measurements (read by the page). */
  resumes = 0;
  drops = 0;
  rtt = 0;
  /** The server's send divisor for this session (from welcome, then pings). */
  every = 0;
  /** Interest radius in world units from the welcome (0: sees everything). */
  radius = 0;
  /** `ack` messages sent. */
  acksSent = 0;
  /** Snapshots refused (malformed, or not applicable to the views held). */
  badSnaps = 0;
  /** Snapshots applied since Play, keyframes among them. */
  keyframes = 0;
  deltas = 0;
  /** Redirects followed (all joins). */
  redirects = 0;
  /** Failovers: new matches joined because a seat was lost for good. */
  failovers = 0;
  /** Frames and bytes in and out, every socket of this link. */
  readonly traffic = new Traffic();
  /** The server's clock, from its pings (of the node in use: a new one
   * after a redirect or a failover). */
  clock = new ClockSync();

  constructor(
    private readonly entry: string,
    private readonly join: Join,
    private readonly h: Handlers,
    o: PlayerOptions = {},
  ) {
    this.url = entry;
    this.failoverOn = o.failover ?? true;
    this.probe = o.probe ?? probeNode;
    this.sim = o.sim ?? null;
    this.ws = this.open(encodeJoin(join));
    this.watchdog.start();
  }

  get linkState(): LinkState {
    return this.state;
  }

  /** Connected and welcomed: inputs go out at once. */
  get isOpen(): boolean {
    return this.state === "connected" && !!this.ws?.open;
  }

  get reconnecting(): boolean {
    return this.state === "reconnecting";
  }

  /** The URL of the node in use (after redirects). */
  get nodeURL(): string {
    return this.url;
  }

  /** Resume attempts made since the link was last lost. */
  get attempts(): number {
    return this.attemptNo;
  }

  /** The last input sequence number used (0 before the first). */
  get lastSeq(): number {
    return this.seq;
  }

  /** The inputs not yet acknowledged, oldest first (prediction replays them). */
  get unacked(): readonly Input[] {
    return this.pendingInputs;
  }

  /** The newest input the server acknowledged, if still known: its movement is in effect. */
  get lastAcked(): Input | null {
    return this.ackedInput;
  }

  /** Inputs not yet acknowledged by the server. */
  get pending(): number {
    return this.pendingInputs.length;
  }

  /** The newest snapshot tick applied on this connection (0: none). */
  get applied(): number {
    return this.views.newest;
  }

  /** The newest tick acknowledged to the server on this connection. */
  get acked(): number {
    return this.ackedTick;
  }

  /** Baseline views held. */
  get viewsHeld(): number {
    return this.views.size;
  }

  /**
   * input offers the controls' state of this animation frame. When it is
   * taken it is numbered, kept until acknowledged and sent now if connected
   * (else after the resume). It returns false when nothing was taken: not
   * joined yet, closed, over the input rate, the socket is backed up, or
   * it repeats the previous input (which is still in effect), unless that
   * one has waited too long for its acknowledgement.
   *
   * view is the tick whose state is on screen (sent as `view`: the server
   * resolves a shot against what the player saw). Without it, the newest
   * tick applied: what a renderer that draws the latest snapshot shows.
   */
  input(mx: number, my: number, aim: number, buttons: number, t: number, view?: number): boolean {
    if ((this.state !== "connected" && this.state !== "reconnecting") || this.failingOver || this.seq >= MAX_SEQ) return false;
    if (t - this.lastInputAt < MIN_INPUT_INTERVAL_MS) return false;
    const live = this.isOpen;
    if (live && this.ws!.bufferedAmount > MAX_BUFFERED_BYTES) return false;
    const last = this.lastTaken;
    if (last && (buttons & BUTTON_FIRE) === 0 && last.buttons === buttons && last.mx === mx &&
        last.my === my && Math.abs(last.aim - aim) < AIM_EPSILON) {
      const unacked = this.pendingInputs.length > 0;
      if (!live || !unacked || t - this.lastSentAt < REPEAT_UNACKED_MS) return false;
    }
    this.lastInputAt = t;
    const inp: Input = { seq: ++this.seq, mx, my, aim, buttons, view: view ?? this.views.newest };
    this.lastTaken = inp;
    this.pendingInputs.push(inp);
    if (this.pendingInputs.length > MAX_PENDING) this.pendingInputs.shift();
    if (live) {
      this.sendInput(this.ws!, inp);
      this.lastSentAt = t;
    }
    return true;
  }

  /** setSuspended tells the server whether the page is hidden. */
  setSuspended(on: boolean): void {
    if (this.suspended === on) return;
    this.suspended = on;
    if (this.isOpen) this.ws!.send(encodeSuspend(on));
  }

  /** close leaves the match; no handler is called afterwards. */
  close(): void {
    if (this.state === "closed") return;
    this.shutdown();
  }

  /** sendInput sends inp with the newest tick applied as its ack. */
  private sendInput(ws: Conn, inp: Input): void {
    const ack = this.views.newest;
    ws.send(encodeInput({ ...inp, ack }), true);
    if (ack > this.ackedTick) this.ackedTick = ack;
  }

  // ---- snapshots and acks ------------------------------------------------

  /** newConnection forgets the views and acks of the previous connection. */
  private newConnection(w: Welcome): void {
    this.views.reset();
    this.ackedTick = 0;
    this.lastAckAt = -Infinity;
    this.quant = w.quant;
    this.radius = w.radius;
    this.every = w.every;
    if (this.ackTimer !== null) clearTimeout(this.ackTimer);
    this.ackTimer = null;
  }

  private snap(f: SnapFrame): void {
    let view;
    try {
      view = this.views.apply(f);
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      // Not acknowledged: the server keeps basing on the last tick acked
      // (or sends a keyframe once that one left its ring).
      if (this.badSnaps++ < 10) console.warn(`tickstream: ignoring snapshot of tick ${f.tick}:`, err.message);
      return;
    }
    if (f.base === 0) this.keyframes++;
    else this.deltas++;
    this.trim(f.ack);
    this.scheduleAck();
    this.h.onSnap(snapView(f, view, this.quant));
  }

  /** scheduleAck arms the ack timer when a tick newer than the one acked was applied. */
  private scheduleAck(): void {
    if (this.ackTimer !== null || this.views.newest <= this.ackedTick) return;
    const due = Math.max(this.lastSentAt, this.lastAckAt) + ACK_QUIET_MS;
    this.ackTimer = setTimeout(() => {
      this.ackTimer = null;
      this.sendAck();
    }, Math.max(0, due - now()));
  }

  private sendAck(): void {
    if (!this.isOpen) return;
    const tick = this.views.newest;
    if (tick <= this.ackedTick) return; // an input carried it
    const t = now();
    if (t < Math.max(this.lastSentAt, this.lastAckAt) + ACK_QUIET_MS) {
      this.scheduleAck(); // an input went out meanwhile
      return;
    }
    this.ws!.send(encodeAck(tick), true);
    this.ackedTick = tick;
    this.lastAckAt = t;
    this.acksSent++;
  }

  // ---- sockets ----------------------------------------------------------

  private open(hello: Uint8Array<ArrayBuffer>, url = this.url): Conn {
    const ws: Conn = new Conn(url, {
      open: () => {
        if (ws === this.ws) this.wsOpenedAt = now();
        if (ws === this.ws || ws === this.attempt?.ws) {
          this.lastRecvAt = now();
          ws.send(hello);
        }
      },
      message: (d) => this.message(ws, d),
      close: (code, reason) => this.socketClosed(ws, code, reason),
    }, { sim: this.sim, traffic: this.traffic });
    return ws;
  }

  private message(ws: Conn, data: ArrayBuffer): void {
    if (this.state === "closed") return;
    let msg;
    try {
      msg = decodeServer(data);
    } catch (err) {
      console.warn("tickstream: ignoring a server message:", err);
      return;
    }
    if (ws !== this.ws) {
      // A resume attempt (current or given up on): only its welcome counts.
      if (msg.t === "welcome" && this.state === "reconnecting") this.adopt(ws, msg);
      else if (ws === this.attempt?.ws) this.lastRecvAt = now();
      return;
    }
    this.lastRecvAt = now();
    switch (msg.t) {
      case "ping":
        // At once, ahead of anything else this frame might cause.
        ws.send(encodePong(msg.id, Date.now()));
        this.clock.sample(msg.time, localNow(), msg.rtt);
        this.rtt = msg.rtt;
        if (msg.every > 0) this.every = msg.every;
        break;
      case "welcome":
        this.welcomed = true;
        this.failingOver = false;
        this.failoverBackoff.reset();
        this.redirectsInRow = 0;
        this.state = "connected";
        this.token = msg.token;
        this.newConnection(msg);
        this.lastTaken = null;
        this.trim(msg.ack);
        if (this.suspended) ws.send(encodeSuspend(true));
        this.h.onWelcome(msg);
        break;
      case "redirect":
        // Only before the welcome; the 4015 close that follows acts on it.
        if (!this.welcomed) this.redirect = msg;
        break;
      case "roster":
        this.h.onRoster(msg);
        break;
      case "snap":
        if (ws.lossy()) break; // simulated loss (link.ts): latest-wins, as a skipped tick
        this.snap(msg);
        break;
      case "end":
        this.ended = true;
        this.h.onEnd(msg);
        break;
      case "unknown":
        // Later versions add message types: ignore them (warn once).
        if (!this.unknownTypes.has(msg.type)) {
          this.unknownTypes.add(msg.type);
          console.warn(`tickstream: ignoring server messages of type ${JSON.stringify(msg.type)}`);
        }
        break;
    }
  }

  /** trim forgets the inputs an ack covers. */
  private trim(ack: number): void {
    let i = 0;
    while (i < this.pendingInputs.length && this.pendingInputs[i]!.seq <= ack) i++;
    if (i > 0) this.ackedInput = this.pendingInputs.splice(0, i)[i - 1]!;
  }

  private socketClosed(ws: Conn, code: number, reason: string): void {
    if (this.state === "closed") return;
    ws.forget();
    this.zombies.delete(ws);
    if (ws === this.ws) {
      this.ws = null;
      this.lost(code, reason);
    } else if (ws === this.attempt?.ws) {
      this.attempt = null;
      this.attemptFailed(code, reason);
    }
  }

  /** lost handles the end of the socket in use. */
  private lost(code: number, reason: string): void {
    if (!this.welcomed) {
      this.joinLost(code, reason);
    } else if (code === CLOSE_NORMAL || this.ended) {
      this.finish({ code, reason, welcomed: true, kind: "normal" });
    } else if (code === CLOSE_REPLACED) {
      this.finish({ code, reason, welcomed: true, kind: "replaced" });
    } else if (isResumable(code) && this.token !== "") {
      this.state = "reconnecting";
      this.lostAt = now();
      this.attemptNo = 0;
      this.drops++;
      this.h.onReconnecting(code, reason);
      this.schedule();
    } else if (code === CLOSE_GOING_AWAY && this.failoverOn) {
      // The node is going away and keeps no seat: a new match elsewhere.
      this.drops++;
      this.failover(code, reason || describe(code));
    } else {
      this.finish({ code, reason, welcomed: true, kind: code === CLOSE_GOING_AWAY ? "normal" : "refused" });
    }
  }

  /** joinLost handles the end of a joining socket (no welcome yet). */
  private joinLost(code: number, reason: string): void {
    const r = this.redirect;
    this.redirect = null;
    if (code === CLOSE_REDIRECT && r !== null && r.url !== "") {
      if (this.redirectsInRow >= MAX_REDIRECTS) {
        this.finish({
          code, reason: `too many redirects (more than ${MAX_REDIRECTS} in a row; last to ${r.url})`,
          welcomed: false, kind: "redirects",
        });
        return;
      }
      this.redirectsInRow++;
      this.redirects++;
      this.clock = new ClockSync(); // another node, another clock
      this.url = r.url;
      this.lastRecvAt = now();
      this.ws = this.open(encodeJoin({ ...this.join, match: r.match }));
      return;
    }
    if (this.failingOver && isResumable(code)) {
      // The entry is unreachable too: keep trying, with backoff.
      this.scheduleFailoverJoin();
      return;
    }
    this.finish({ code, reason, welcomed: false, kind: "refused" });
  }

  // ---- resuming ---------------------------------------------------------

  private schedule(): void {
    const delay = backoffDelay(this.attemptNo);
    const left = this.lostAt + GIVE_UP_MS - now();
    if (delay >= left) {
      this.retryTimer = setTimeout(() => this.giveUp(), Math.max(0, left));
      return;
    }
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.tryResume();
    }, delay);
  }

  private tryResume(): void {
    if (this.state !== "reconnecting" || this.failingOver) return;
    if (now() - this.lostAt >= GIVE_UP_MS) {
      this.giveUp();
      return;
    }
    this.attemptNo++;
    this.attempt = { ws: this.open(encodeResume(this.token)), startedAt: now() };
  }

  /** attemptFailed: the current attempt closed before its welcome. */
  private attemptFailed(code: number, reason: string): void {
    if (code === CLOSE_RESUME_REFUSED || code === CLOSE_NO_SUCH_MATCH) {
      this.seatLost(code, reason, "resume-refused");
    } else if (isResumable(code)) {
      if (this.failoverOn && this.attemptNo >= FAILOVER_ATTEMPTS && now() - this.lostAt >= FAILOVER_AFTER_MS) {
        this.failover(code, `server unreachable (${this.attemptNo} attempts)`);
        return;
      }
      this.maybeFastFailover(code);
      this.schedule(); // could not connect, or lost again: try again
    } else {
      // 1000/1001 (server going away: matches do not survive it) or a
      // refusal: resuming again would not help.
      this.seatLost(code, reason || describe(code), "resume-refused");
    }
  }

  /**
   * maybeFastFailover: on a node a redirect sent us to, a few failed
   * resume attempts while the entry node answers mean that node is gone
   * (the cluster is up): fail over now rather than after FAILOVER_AFTER_MS.
   * Resume attempts go on meanwhile; one that succeeds first wins.
   */
  private maybeFastFailover(code: number): void {
    if (!this.failoverOn || this.probing || this.url === this.entry) return;
    if (this.attemptNo < FAST_FAILOVER_ATTEMPTS || now() - this.lostAt < FAST_FAILOVER_AFTER_MS) return;
    this.probing = true;
    const lostAt = this.lostAt;
    void this.probe(this.entry).then((up) => {
      this.probing = false;
      if (up && this.state === "reconnecting" && !this.failingOver && this.lostAt === lostAt) {
        this.failover(code, `server unreachable (${this.attemptNo} attempts; the cluster answers)`);
      }
    });
  }

  /** seatLost: the seat cannot be resumed; fail over, or end. */
  private seatLost(code: number, reason: string, kind: EndKind): void {
    if (this.failoverOn) this.failover(code, reason);
    else this.finish({ code, reason, welcomed: true, kind });
  }

  /**
   * failover gives the seat up for good and joins a new match (any) through
   * the entry URL after a jittered backoff.
   */
  private failover(code: number, reason: string): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.attempt) this.attempt.ws.drop("failover");
    this.attempt = null;
    for (const z of [...this.zombies]) z.drop("failover");
    this.zombies.clear();
    if (this.ws) this.ws.drop("failover");
    this.ws = null;
    this.failovers++;
    this.failingOver = true;
    this.clock = new ClockSync(); // the new match's node has its own clock
    this.welcomed = false;
    this.ended = false;
    this.token = "";
    this.redirect = null;
    this.redirectsInRow = 0;
    this.url = this.entry;
    this.pendingInputs.length = 0;
    this.ackedInput = null;
    this.lastTaken = null;
    this.state = "reconnecting";
    this.h.onFailover?.(code, reason);
    this.scheduleFailoverJoin();
  }

  private scheduleFailoverJoin(): void {
    this.state = "reconnecting";
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.state === "closed") return;
      this.state = "connecting";
      this.url = this.entry;
      this.lastRecvAt = now();
      this.ws = this.open(encodeJoin({ ...this.join, match: "" }));
    }, this.failoverBackoff.next());
  }

  /** abandonAttempt gives up on a hanging attempt and schedules the next. */
  private abandonAttempt(): void {
    const a = this.attempt!;
    this.attempt = null;
    if (a.ws.readyState === WebSocket.CONNECTING) {
      a.ws.drop("timeout"); // no frame is sent before the handshake
    } else {
      // Open, resume sent, no answer: never close it (that would give the
      // seat up if the resume went through); a late welcome is adopted.
      this.zombies.add(a.ws);
    }
    this.schedule();
  }

  /** adopt makes a resumed socket the one in use. */
  private adopt(ws: Conn, w: Welcome): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.attempt && this.attempt.ws !== ws) this.attempt.ws.drop("superseded");
    this.attempt = null;
    this.zombies.delete(ws);
    // The token was used up by this welcome: older sockets of this seat
    // cannot give it away any more, so they may be closed now.
    for (const z of [...this.zombies]) {
      z.drop("superseded");
      this.zombies.delete(z);
    }
    ws.listen({
      open: () => {},
      message: (d) => this.message(ws, d),
      close: (code, reason) => this.socketClosed(ws, code, reason),
    });
    this.ws = ws;
    this.wsOpenedAt = now();
    this.lastRecvAt = now();
    this.state = "connected";
    this.token = w.token;
    this.resumes++;
    this.attemptNo = 0;
    this.newConnection(w);
    // Send again, in order, every input the server has not applied (with
    // ack 0: nothing was applied on this connection yet).
    this.trim(w.ack);
    for (const inp of this.pendingInputs) this.sendInput(ws, inp);
    this.lastSentAt = now();
    // The server stood the avatar still while away: send the controls'
    // state again on the next frame even if it did not change.
    this.lastTaken = null;
    if (this.suspended) ws.send(encodeSuspend(true));
    this.h.onWelcome(w);
  }

  private giveUp(): void {
    this.retryTimer = null;
    if (this.state !== "reconnecting") return;
    const s = Math.round(GIVE_UP_MS / 1000);
    this.seatLost(CLOSE_ABNORMAL, `no connection for ${s} s`, "gave-up");
  }

  // ---- liveness ---------------------------------------------------------

  private check(t: number, late: boolean): void {
    if (late) {
      // Frozen or throttled page: judge nothing before queued events ran.
      this.lastRecvAt = Math.max(this.lastRecvAt, t - SILENCE_MS + WATCHDOG_MS * 2);
      return;
    }
    switch (this.state) {
      case "connecting": {
        const ws = this.ws;
        if (!ws) break;
        const since = ws.open ? this.wsOpenedAt : this.lastRecvAt;
        if (t - since > JOIN_TIMEOUT_MS) {
          ws.drop("timeout");
          this.ws = null;
          if (this.failingOver) {
            this.scheduleFailoverJoin();
            break;
          }
          this.finish({ code: CLOSE_ABNORMAL, reason: "no answer from the server", welcomed: false, kind: "refused" });
        }
        break;
      }
      case "connected":
        if (t - this.lastRecvAt > SILENCE_MS) {
          // Silence: the link is dead (or half-open). Drop the socket
          // without a close frame and resume.
          const ws = this.ws!;
          ws.forget();
          this.zombies.add(ws);
          this.ws = null;
          this.lost(CLOSE_ABNORMAL, `no data from the server for ${SILENCE_MS / 1000} s`);
        }
        break;
      case "reconnecting": {
        const a = this.attempt;
        if (!a) break;
        if (a.ws.readyState === WebSocket.CONNECTING ? t - a.startedAt > HANDSHAKE_TIMEOUT_MS : t - this.lastRecvAt > SILENCE_MS) {
          this.abandonAttempt();
        }
        break;
      }
    }
  }

  private finish(c: CloseInfo): void {
    this.shutdown();
    this.h.onClose(c);
  }

  /** shutdown stops everything: timers, attempts, sockets. */
  private shutdown(): void {
    this.state = "closed";
    this.watchdog.stop();
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.ackTimer !== null) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    if (this.attempt) this.attempt.ws.drop("left");
    this.attempt = null;
    for (const z of [...this.zombies]) z.drop("left");
    this.zombies.clear();
    if (this.ws) this.ws.drop("left");
    this.ws = null;
  }
}

function describe(code: number): string {
  return code === CLOSE_GOING_AWAY ? "server shutting down" : `closed with ${code}`;
}
