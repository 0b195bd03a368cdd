// A fake WebSocket for the Node tests (net.test.ts, link.test.ts, timeline.test.ts):
// records every socket opened (FakeWebSocket.all) and what it was sent,
// and lets a test open, feed and drop it. install() puts it in place of
// the global WebSocket.

import { decode, encode } from "@msgpack/msgpack";

export class FakeWebSocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  static all: FakeWebSocket[] = [];
  readyState = FakeWebSocket.CONNECTING;
  binaryType = "";
  bufferedAmount = 0;
  closed = false;
  /** The messages sent, decoded from msgpack. */
  sent: Record<string, unknown>[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onclose: ((e: { code: number; reason: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(readonly url: string, readonly protocol: string) {
    FakeWebSocket.all.push(this);
  }
  send(data: Uint8Array): void {
    this.sent.push(decode(data) as Record<string, unknown>);
  }
  close(): void {
    this.closed = true;
    this.readyState = FakeWebSocket.CLOSED;
  }
  open(): void {
    this.readyState = FakeWebSocket.OPEN;
    this.onopen?.();
  }
  /** deliver hands the socket a server message, encoded as msgpack. */
  deliver(m: unknown): void {
    const b = encode(m);
    this.onmessage?.({ data: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) });
  }
  /** drop ends the connection as a network failure would (1006). */
  drop(): void {
    this.readyState = FakeWebSocket.CLOSED;
    this.onclose?.({ code: 1006, reason: "" });
  }
  /** closeWith ends the connection with a server's close frame. */
  closeWith(code: number, reason = ""): void {
    this.readyState = FakeWebSocket.CLOSED;
    this.onclose?.({ code, reason });
  }
  /** of returns the messages sent of type t. */
  of(t: string): Record<string, unknown>[] {
    return this.sent.filter((m) => m.t === t);
  }
  /** query is the URL's parameters, sorted, as "k=v&…". */
  get query(): string {
    const u = new URL(this.url);
    return [...u.searchParams.entries()].sort().map(([k, v]) => `${k}=${v}`).join("&");
  }
  get path(): string {
    return new URL(this.url).pathname;
  }
}

/** install makes FakeWebSocket the global WebSocket. */
export function install(): void {
  (globalThis as unknown as { WebSocket: unknown }).WebSocket = FakeWebSocket;
}
