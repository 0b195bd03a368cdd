// The SDK's link layer and what the player link builds on it, under Node
// with the fake WebSocket: the clock sync converging on a skewed, drifting
// and jittery server clock; the backoff's bounds; the simulated lag and
// loss; a cluster's redirect followed (URL as given, join again with the
// redirect's match), more than MAX_REDIRECTS in a row refused; and the
// failover (resume refused, or no such match: a new join through the entry
// URL, any match, and onFailover).
//
// Run with Node after bundling (make test-ts, npm test).

import { ClockSync } from "../src/clock";
import { Backoff, Conn, Sim } from "../src/link";
import { CloseInfo, FAILOVER_AFTER_MS, MAX_REDIRECTS, Player } from "../src/net";
import { FakeWebSocket, install } from "./fakews";
import { check, report, sleep, until } from "./check";


install();

/** A seeded generator (mulberry32), so that a failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const welcome = (match: string, resumed = false) => ({
  t: "welcome", player: 3, match, rate: 30, tick: 1, token: `tok-${match}`, resumed, ack: 0,
  quant: { pos: 0.5, angle: 1024 }, radius: 450, every: 1,
});

function clockSync(): void {
  // Local = server · (1 + drift) + offset: the local clock runs 300 ppm
  // fast and is 4.2 s ahead. Pings every second; each one-way delay is
  // 20 ms plus exponential jitter (mean 15 ms) and, one ping in ten, a
  // 150–400 ms spike. The server's rtt is about twice the base delay.
  for (const seed of [1, 2, 3]) {
    const r = rng(seed);
    const drift = 300e-6;
    const offset = 4200;
    const s0 = 1_780_000_000_000;
    const local = (server: number) => s0 + (server - s0) * (1 + drift) + offset;
    const c = new ClockSync();
    let server = s0;
    for (let i = 0; i < 180; i++) {
      server += 1000;
      let delay = 20 - 15 * Math.log(1 - r());
      if (r() < 0.1) delay += 150 + 250 * r();
      c.sample(server, local(server + delay), 40 + 10 * r());
    }
    const trueNow = server + 500;
    const err = c.serverNow(local(trueNow)) - trueNow;
    check(Math.abs(err) < 8, `seed ${seed}: server clock off by ${err.toFixed(2)} ms after 180 pings`);
    check(Math.abs(c.driftPpm - 300) < 60, `seed ${seed}: drift ${c.driftPpm.toFixed(1)} ppm; want about 300`);
    check(c.jitter > 1 && c.jitter < 300, `seed ${seed}: jitter ${c.jitter.toFixed(1)} ms`);
  }
  // Without drift or jitter the offset is exact after one ping.
  const c = new ClockSync();
  c.sample(1000, 1000 + 500 + 10, 20);
  check(Math.abs(c.offset(1510) - 500) < 1e-9, `one sample: offset ${c.offset(1510)}`);
}

function backoff(): void {
  const b = new Backoff(100, 2000, () => 0.999999);
  const waits = Array.from({ length: 8 }, () => b.next());
  const caps = [100, 200, 400, 800, 1600, 2000, 2000, 2000];
  check(waits.every((w, i) => w <= caps[i]! && w > caps[i]! * 0.99), `backoff ${waits.map(Math.round)}`);
  const zero = new Backoff(100, 2000, () => 0);
  check(zero.next() === 0, "full jitter reaches 0");
  b.reset();
  check(b.next() < 100, "reset");
}

async function sim(): Promise<void> {
  check(Sim.fromQuery("?lag=100&loss=0.05")?.lag === 100, "lag from the query");
  check(Sim.fromQuery("?loss=2")?.loss === 1, "loss clamped");
  check(Sim.fromQuery("?x=1") === null, "no sim without lag or loss");
  const got: number[] = [];
  const before = FakeWebSocket.all.length;
  const c = new Conn("ws://sim/play", { open() {}, message: (d) => got.push(new Uint8Array(d)[0]!), close() {} },
    { sim: new Sim(60, 0) });
  const ws = FakeWebSocket.all[before]!;
  ws.open();
  ws.deliver(1);
  ws.deliver(2);
  check(got.length === 0, "inbound frames held for the lag");
  c.send(new Uint8Array([0x81, 0xa1, 0x74, 0xa1, 0x78])); // {t: "x"}
  check(ws.sent.length === 0, "outbound frame held for the lag");
  await until(() => got.length === 2 && ws.sent.length === 1);
  check(got.join() === "1,2" && ws.sent.length === 1, `after the lag: in ${got}, out ${ws.sent.length}`);
  const lossy = new Conn("ws://sim/play", { open() {}, message() {}, close() {} }, { sim: new Sim(0, 1) });
  FakeWebSocket.all.at(-1)!.open();
  lossy.send(new Uint8Array([0x81, 0xa1, 0x74, 0xa1, 0x78]), true);
  lossy.send(new Uint8Array([0x81, 0xa1, 0x74, 0xa1, 0x78]));
  check(FakeWebSocket.all.at(-1)!.sent.length === 1, "droppable frame lost, the other sent");
  c.drop("bye");
  lossy.drop("bye");
}

async function redirects(): Promise<void> {
  const before = FakeWebSocket.all.length;
  const welcomes: string[] = [];
  let closed: CloseInfo | null = null;
  const handlers = {
    onWelcome: (w: { match: string }) => welcomes.push(w.match),
    onRoster() {}, onSnap() {}, onEnd() {}, onReconnecting() {},
    onClose: (c: CloseInfo) => { closed = c; },
  };
  const p = new Player("ws://entry:8080/play", { name: "ann", match: "", every: 2 }, handlers);
  const a = FakeWebSocket.all[before]!;
  a.open();
  check(a.of("join")[0]?.match === "" && a.of("join")[0]?.every === 2, `first join ${JSON.stringify(a.sent)}`);
  a.deliver({ t: "redirect", url: "ws://node-b:9090/play?seat=local&x=%2F1", match: "m42" });
  a.closeWith(4015, "redirect");
  const b = FakeWebSocket.all[before + 1];
  check(b?.url === "ws://node-b:9090/play?seat=local&x=%2F1", `redirected to ${b?.url}`);
  b?.open();
  const j = b?.of("join")[0];
  check(j?.match === "m42" && j.name === "ann" && j.every === 2, `join after the redirect ${JSON.stringify(j)}`);
  b?.deliver(welcome("m42"));
  check(welcomes.join() === "m42" && p.redirects === 1 && p.nodeURL === b?.url, `welcomed ${welcomes} after ${p.redirects} redirect`);
  p.close();

  // A redirect loop: MAX_REDIRECTS are followed, the next one fails.
  const start = FakeWebSocket.all.length;
  const q = new Player("ws://entry:8080/play", { name: "bo", match: "" }, handlers);
  for (let i = 0; i <= MAX_REDIRECTS; i++) {
    const ws = FakeWebSocket.all[start + i]!;
    ws.open();
    ws.deliver({ t: "redirect", url: `ws://node-${i}/play`, match: `m${i}` });
    ws.closeWith(4015, "redirect");
  }
  check(FakeWebSocket.all.length === start + MAX_REDIRECTS + 1, `sockets opened in a redirect loop: ${FakeWebSocket.all.length - start}`);
  const c = closed as CloseInfo | null;
  check(c?.kind === "redirects" && /too many redirects/.test(c.reason), `redirect loop ends: ${JSON.stringify(c)}`);
  check(q.linkState === "closed", "closed after the redirect loop");
}

/**
 * joinThroughRedirect plays the entry node (socket `before`) redirecting
 * the join to node b's match m7, and node b welcoming it; it returns node
 * b's socket.
 */
function joinThroughRedirect(before: number): FakeWebSocket {
  const a = FakeWebSocket.all[before]!;
  a.open();
  a.deliver({ t: "redirect", url: "ws://node-b/play?seat=local", match: "m7" });
  a.closeWith(4015);
  const b = FakeWebSocket.all[before + 1]!;
  b.open();
  b.deliver(welcome("m7"));
  return b;
}

async function failover(refusal: number): Promise<void> {
  const before = FakeWebSocket.all.length;
  const welcomes: { match: string; resumed: boolean }[] = [];
  const failovers: number[] = [];
  let closed: CloseInfo | null = null;
  const p = new Player("ws://entry:8080/play", { name: "cy", match: "m1" }, {
    onWelcome: (w) => welcomes.push({ match: w.match, resumed: w.resumed }),
    onRoster() {}, onSnap() {}, onEnd() {}, onReconnecting() {},
    onClose: (c) => { closed = c; },
    onFailover: (code) => failovers.push(code),
  });
  // Joined through a redirect on node b.
  const b = joinThroughRedirect(before);
  check(p.input(1, 0, 0, 0, performance.now()), "input taken");
  // Node b is lost; the resume goes to node b and is refused.
  b.drop();
  check(p.reconnecting, "reconnecting after the drop");
  check(await until(() => FakeWebSocket.all.length > before + 2), "a resume attempt");
  const r = FakeWebSocket.all[before + 2]!;
  check(r.url === "ws://node-b/play?seat=local", `resume goes to the node: ${r.url}`);
  r.open();
  check(r.of("resume")[0]?.token === "tok-m7", `resume ${JSON.stringify(r.sent)}`);
  r.closeWith(refusal, "refused");
  check(failovers.join() === String(refusal), `onFailover ${failovers}`);
  check(await until(() => FakeWebSocket.all.length > before + 3, 3000), "a new join after the refusal");
  const n = FakeWebSocket.all[before + 3]!;
  check(n.url === "ws://entry:8080/play", `failover goes through the entry: ${n.url}`);
  n.open();
  const j = n.of("join")[0];
  check(j?.match === "" && j.name === "cy", `failover join ${JSON.stringify(j)}`);
  n.deliver(welcome("m9"));
  check(JSON.stringify(welcomes.at(-1)) === JSON.stringify({ match: "m9", resumed: false }), `new match ${JSON.stringify(welcomes)}`);
  check(p.isOpen && p.failovers === 1 && p.pending === 0 && closed === null, `after failover: open ${p.isOpen}, failovers ${p.failovers}, pending ${p.pending}`);
  // Inputs go out on the new seat.
  check(p.input(0, 1, 0, 0, performance.now() + 1000) && n.of("input").length === 1, "input on the new seat");
  p.close();

  // Without failover the refusal ends the link, as before.
  const start = FakeWebSocket.all.length;
  let ended: CloseInfo | null = null;
  const q = new Player("ws://entry/play", { name: "dee", match: "" }, {
    onWelcome() {}, onRoster() {}, onSnap() {}, onEnd() {}, onReconnecting() {},
    onClose: (c) => { ended = c; },
  }, { failover: false });
  const w = FakeWebSocket.all[start]!;
  w.open();
  w.deliver(welcome("m1"));
  w.drop();
  check(await until(() => FakeWebSocket.all.length > start + 1), "resume attempt without failover");
  FakeWebSocket.all[start + 1]!.open();
  FakeWebSocket.all[start + 1]!.closeWith(refusal);
  const e = ended as CloseInfo | null;
  check(e?.kind === "resume-refused" && q.linkState === "closed", `no failover: ${JSON.stringify(e)}`);
}

// A node a redirect sent us to dies: after FAST_FAILOVER_ATTEMPTS failed
// resume attempts (1006, nothing answers) over FAST_FAILOVER_AFTER_MS, the
// entry node is probed; it answers, so the link fails over at once (not
// after FAILOVER_AFTER_MS). When the entry does not answer either (a blink
// of the player's own network), it keeps resuming.
async function fastFailover(entryUp: boolean): Promise<void> {
  const before = FakeWebSocket.all.length;
  const failovers: string[] = [];
  const probed: string[] = [];
  const p = new Player("ws://entry:8080/play", { name: "fay", match: "" }, {
    onWelcome() {}, onRoster() {}, onSnap() {}, onEnd() {}, onReconnecting() {}, onClose() {},
    onFailover: (_code, reason) => failovers.push(reason),
  }, { probe: async (url) => { probed.push(url); return entryUp; } });
  const b = joinThroughRedirect(before);
  const lost = performance.now();
  b.drop();
  // Every resume attempt fails to connect, as on a dead node.
  let seen = before + 2;
  const failAttempts = async (until_: () => boolean, ms: number): Promise<boolean> => {
    for (let t = 0; t < ms; t += 10) {
      while (FakeWebSocket.all.length > seen) {
        const ws = FakeWebSocket.all[seen++]!;
        if (ws.url.startsWith("ws://node-b/")) ws.drop();
      }
      if (until_()) return true;
      await sleep(10);
    }
    return until_();
  };
  if (entryUp) {
    check(await failAttempts(() => failovers.length === 1, 6000), `fast failover: ${failovers} after ${p.attempts} attempts`);
    const took = performance.now() - lost;
    check(took < FAILOVER_AFTER_MS, `fast failover took ${took.toFixed(0)} ms`);
    check(probed[0] === "ws://entry:8080/play", `probed ${probed}`);
    check(/the cluster answers/.test(failovers[0] ?? ""), `reason ${failovers}`);
    check(await until(() => FakeWebSocket.all.some((w, i) => i >= before + 2 && w.url === "ws://entry:8080/play"), 3000), "a new join through the entry");
  } else {
    // The backoff is random: wait for the probe (the slow rule needs 8 s).
    await failAttempts(() => probed.length >= 1, 6000);
    await sleep(50);
    check(probed.length >= 1 && failovers.length === 0 && p.reconnecting, `entry down too: probed ${probed.length}, failovers ${failovers}, reconnecting ${p.reconnecting}`);
  }
  p.close();
}

async function main(): Promise<void> {
  clockSync();
  backoff();
  await sim();
  await redirects();
  await failover(4012);
  await failover(4004);
  await fastFailover(true);
  await fastFailover(false);
  report("link");
}

void main();
