// The player's WebSocket: one socket per match, binary msgpack frames.

import {
  End,
  Join,
  MAX_SEQ,
  Roster,
  SUBPROTOCOL,
  Snap,
  Welcome,
  decodeServer,
  encodeInput,
  encodeJoin,
} from "./protocol";

/** The server allows 120 inputs/s per seat; stay just under it. */
const MIN_INPUT_INTERVAL_MS = 1000 / 118;

/** Skip an input while this much is still queued in the socket. */
const MAX_BUFFERED_BYTES = 4096;

export interface Handlers {
  onWelcome(w: Welcome): void;
  onRoster(r: Roster): void;
  onSnap(s: Snap): void;
  onEnd(e: End): void;
  /** The socket closed; welcomed tells whether the join had succeeded. */
  onClose(code: number, reason: string, welcomed: boolean): void;
}

/** playURL derives the WebSocket URL of /play from the page's location. */
export function playURL(loc: Location = location): string {
  const scheme = loc.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${loc.host}/play`;
}

/**
 * Connection opens the socket, sends `join` first, then inputs with strictly
 * increasing sequence numbers, and hands every server message to handlers.
 */
export class Connection {
  private readonly ws: WebSocket;
  private seq = 0;
  private welcomed = false;
  private closed = false;
  private lastSendAt = -Infinity;

  constructor(url: string, join: Join, private readonly h: Handlers) {
    this.ws = new WebSocket(url, SUBPROTOCOL);
    this.ws.binaryType = "arraybuffer";
    this.ws.onopen = () => this.ws.send(encodeJoin(join));
    this.ws.onmessage = (e: MessageEvent) => this.receive(e.data);
    this.ws.onclose = (e: CloseEvent) => {
      if (this.closed) return;
      this.closed = true;
      this.h.onClose(e.code, e.reason, this.welcomed);
    };
    // An error is always followed by a close event, which carries the code.
    this.ws.onerror = () => {};
  }

  /** The last input sequence number sent (0 before the first). */
  get lastSeq(): number {
    return this.seq;
  }

  get isOpen(): boolean {
    return !this.closed && this.welcomed && this.ws.readyState === WebSocket.OPEN;
  }

  /**
   * sendInput sends one input with the next sequence number. It returns false
   * when nothing was sent: not joined yet, closed, over the input rate, or
   * the socket is backed up.
   */
  sendInput(mx: number, my: number, aim: number, buttons: number, now: number): boolean {
    if (!this.isOpen || this.seq >= MAX_SEQ) return false;
    if (now - this.lastSendAt < MIN_INPUT_INTERVAL_MS) return false;
    if (this.ws.bufferedAmount > MAX_BUFFERED_BYTES) return false;
    this.lastSendAt = now;
    this.seq++;
    this.ws.send(encodeInput({ seq: this.seq, mx, my, aim, buttons }));
    return true;
  }

  /** close leaves the match; no handler is called afterwards. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ws.close(1000, "left");
  }

  private receive(data: unknown): void {
    if (this.closed) return;
    if (!(data instanceof ArrayBuffer)) {
      console.warn("tickstream: ignoring a non-binary frame");
      return;
    }
    let msg;
    try {
      msg = decodeServer(data);
    } catch (err) {
      // Unknown types are ignored so that a newer server can add messages.
      console.warn("tickstream: ignoring a server message:", err);
      return;
    }
    switch (msg.t) {
      case "welcome":
        this.welcomed = true;
        this.h.onWelcome(msg);
        break;
      case "roster":
        this.h.onRoster(msg);
        break;
      case "snap":
        this.h.onSnap(msg);
        break;
      case "end":
        this.h.onEnd(msg);
        break;
    }
  }
}
