// The player link's wire v2 duties (src/net.ts), against a fake WebSocket:
// snapshots applied to the views of the connection and handed on whole and
// dequantized, every input carrying the newest tick applied, an `ack`
// message after ACK_QUIET_MS without input, refused frames not acked, and
// the views dropped on a resumed connection.
//
// Run with Node after bundling (make test-ts, npm test).

import { ACK_QUIET_MS, Player } from "../src/net";
import { Snap } from "../src/protocol";
import { FakeWebSocket, install } from "./fakews";
import { check, report, sleep } from "./check";


install();

const welcome = (resumed: boolean) => ({
  t: "welcome", player: 3, match: "m1", rate: 30, tick: 1, token: resumed ? "tok2" : "tok1", resumed, ack: 0,
  quant: { pos: 0.5, angle: 1024 }, radius: 450, every: 1,
});
const snap = (ack: number, tick: number, base: number, ents: unknown[], gone: unknown[] = []) => ({
  t: "snap", d: [ack, tick, base, 1000 + tick, 1, 60000, ents, gone, []],
});

async function main(): Promise<void> {
  const snaps: Snap[] = [];
  const p = new Player("ws://test/play", { name: "ann", match: "", every: 2 }, {
    onWelcome() {},
    onRoster() {},
    onSnap(s) {
      snaps.push(s);
    },
    onEnd() {},
    onReconnecting() {},
    onClose() {},
  });
  const ws = FakeWebSocket.all[0]!;
  check(ws.protocol === "tickstream.v2", `subprotocol ${ws.protocol}`);
  ws.open();
  const join = ws.of("join")[0];
  check(join?.every === 2, `join ${JSON.stringify(join)}`);
  ws.deliver(welcome(false));
  check(p.radius === 450 && p.every === 1, `radius ${p.radius}, every ${p.every}`);

  ws.deliver(snap(0, 10, 0, [[3, 128, 1, 200, -300, 256, 100, 0, 0], [6, 128, 2, 1, 1, 0, 0, 3, 0]]));
  const s = snaps.at(-1);
  check(s?.tick === 10 && s.ents.length === 2, `keyframe snap ${JSON.stringify(s)}`);
  check(s?.ents[0]?.x === 100 && s.ents[0].y === -150 && Math.abs(s.ents[0].angle - Math.PI / 2) < 1e-12,
    `dequantized ${JSON.stringify(s?.ents[0])}`);
  check(p.applied === 10, `applied ${p.applied}`);

  // An input carries the newest tick applied.
  check(p.input(1, 0, 0, 0, performance.now()), "input taken");
  check(ws.of("input").at(-1)?.ack === 10, `input ack ${JSON.stringify(ws.of("input").at(-1))}`);
  // ... and the tick on screen as its view: by default the newest applied.
  check(ws.of("input").at(-1)?.view === 10, `input view ${JSON.stringify(ws.of("input").at(-1))}`);

  // A delta; no input for ACK_QUIET_MS: an ack message.
  ws.deliver(snap(1, 12, 10, [[3, 2, 4]], [9]));
  check(snaps.at(-1)?.ents.length === 1 && snaps.at(-1)?.ents[0]?.x === 102, `delta snap ${JSON.stringify(snaps.at(-1))}`);
  check(ws.of("ack").length === 0, "ack sent at once");
  await sleep(ACK_QUIET_MS + 50);
  check(JSON.stringify(ws.of("ack")) === JSON.stringify([{ t: "ack", tick: 12 }]), `acks ${JSON.stringify(ws.of("ack"))}`);
  check(p.pending === 0, `pending ${p.pending}`);

  // Two snapshots in quick succession: one ack, not before ACK_QUIET_MS after the last.
  ws.deliver(snap(1, 13, 12, [[3, 2, 1]]));
  ws.deliver(snap(1, 14, 13, [[3, 2, 1]]));
  await sleep(20);
  check(ws.of("ack").length === 1, "ack messages closer than ACK_QUIET_MS");
  await sleep(ACK_QUIET_MS + 50);
  check(JSON.stringify(ws.of("ack").at(-1)) === JSON.stringify({ t: "ack", tick: 14 }), `acks ${JSON.stringify(ws.of("ack"))}`);
  check(snaps.at(-1)?.ents[0]?.x === 103, `x after two deltas ${snaps.at(-1)?.ents[0]?.x}`);

  // A frame whose base is not held is refused and never acked.
  const before = snaps.length;
  ws.deliver(snap(1, 20, 19, [[3, 2, 1]]));
  check(snaps.length === before && p.badSnaps === 1 && p.applied === 14, `bad frame: ${p.badSnaps}, applied ${p.applied}`);
  // Views held: from the base of the newest frame applied (13) onward.
  check(p.viewsHeld === 2, `views held ${p.viewsHeld}`);

  // An input taken while the link is lost is sent after the resume with ack 0.
  ws.drop();
  check(p.reconnecting, "reconnecting");
  p.input(0, 1, 0, 0, performance.now() + 1000);
  for (let i = 0; i < 50 && FakeWebSocket.all.length < 2; i++) await sleep(10);
  const ws2 = FakeWebSocket.all[1];
  if (!ws2) {
    check(false, "no resume attempt");
  } else {
    ws2.open();
    check(ws2.of("resume")[0]?.token === "tok1", `resume ${JSON.stringify(ws2.sent)}`);
    ws2.deliver(welcome(true));
    const resent = ws2.of("input");
    // It keeps the view it was taken with (tick 14 was on screen).
    check(resent.length === 1 && resent[0]!.ack === 0 && resent[0]!.view === 14, `resent ${JSON.stringify(resent)}`);
    check(p.applied === 0 && p.viewsHeld === 0, `views after resume: applied ${p.applied}, held ${p.viewsHeld}`);
    ws2.deliver(snap(2, 15, 14, [[3, 2, 1]]));
    check(p.applied === 0 && p.badSnaps === 2, "delta against the old connection's views applied");
    ws2.deliver(snap(2, 16, 0, [[3, 128, 1, 10, 10, 0, 100, 0, 0]]));
    check(p.applied === 16 && snaps.at(-1)?.ents[0]?.x === 5, `keyframe after resume: applied ${p.applied}`);
    await sleep(ACK_QUIET_MS + 50);
    check(JSON.stringify(ws2.of("ack")) === JSON.stringify([{ t: "ack", tick: 16 }]), `acks after resume ${JSON.stringify(ws2.of("ack"))}`);
    // The renderer's tick, when it gives one, is the view.
    check(p.input(1, 0, 0, 1, performance.now() + 2000, 15), "input with a view taken");
    const last = ws2.of("input").at(-1);
    check(last?.view === 15 && last.ack === 16, `input with a view ${JSON.stringify(last)}`);
  }
  p.close();
  report("net");
}

void main();
