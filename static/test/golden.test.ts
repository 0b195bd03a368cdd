// Golden vectors of wire v2 (netcode/wire/testdata/golden_v2.json, written
// by the Go codec's tests), decoded with the client's own code: every `snap`
// case applied to its baseline must give `want` exactly, every spectator
// event must give `want_ents`, and every `bad` frame must be refused with a
// ProtocolError.
//
// Run with Node after bundling (npm test, or make test-ts):
//   esbuild test/golden.test.ts --bundle --platform=node --outfile=OUT && node OUT GOLDEN.json
// It exits non-zero on any failure.

import {
  MATCH_STATES,
  ProtocolError,
  Quant,
  SnapFrame,
  Views,
  WireRow,
  decodeServer,
  dequantize,
} from "../src/protocol";
import { SpectatorState, parseEvent } from "../src/spectator";

// Node's globals, declared here: the project type-checks without @types/node.
declare const process: { argv: string[]; exitCode?: number };
declare function require(m: "node:fs"): { readFileSync(path: string, encoding: "utf8"): string };

type Rows = number[][];

interface SnapCase {
  name: string;
  base: Rows | null;
  hex: string;
  want: {
    ack: number;
    tick: number;
    base: number;
    time: number;
    state: number | string;
    left: number;
    ents: Rows;
    ev: number[][];
  };
}

interface SpectatorCase {
  name: string;
  base: Rows | null;
  json: string;
  want_ents: Rows;
}

interface BadCase {
  name: string;
  base: Rows | null;
  hex: string;
}

interface Golden {
  quant: Quant;
  cases?: SnapCase[];
  spectator?: SpectatorCase[];
  bad?: BadCase[];
}

let failures = 0;
let passed = 0;

function fail(name: string, msg: string): void {
  failures++;
  console.error(`FAIL ${name}: ${msg}`);
}

function fromHex(hex: string): Uint8Array {
  const h = hex.replace(/\s+/g, "");
  if (h.length % 2 !== 0 || /[^0-9a-fA-F]/.test(h)) throw new Error(`bad hex ${JSON.stringify(hex.slice(0, 40))}`);
  const b = new Uint8Array(h.length / 2);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return b;
}

function show(v: unknown): string {
  return JSON.stringify(v);
}

function same(a: unknown, b: unknown): boolean {
  return show(a) === show(b);
}

function rowsOf(view: readonly WireRow[]): Rows {
  return view.map((r) => [...r]);
}

/** checkDequantized: the page's entities are the rows times the precision. */
function checkDequantized(name: string, view: readonly WireRow[], q: Quant): void {
  for (const r of view) {
    const e = dequantize(r, q);
    const want = [r[0], r[1], r[2]! * q.pos, r[3]! * q.pos, (r[4]! * 2 * Math.PI) / q.angle, r[5], r[6], r[7]];
    const got = [e.id, e.kind, e.x, e.y, e.angle, e.hp, e.score, e.flags];
    if (!same(got, want)) fail(name, `dequantized ${show(got)}, want ${show(want)}`);
  }
}

function decodeSnap(hex: string): SnapFrame {
  const msg = decodeServer(fromHex(hex));
  // The snap decoder refuses a frame that is not a snap (decodeServer itself
  // returns other types, as later versions add messages).
  if (msg.t !== "snap") throw new ProtocolError(`decoded a ${show(msg.t)} message, not a snap`);
  return msg;
}

function runCase(c: SnapCase, q: Quant): void {
  const before = failures;
  let f: SnapFrame;
  let view: readonly WireRow[];
  try {
    f = decodeSnap(c.hex);
    const views = new Views();
    if (c.base !== null) views.seed(f.base, c.base);
    view = views.apply(f);
    if (views.newest !== f.tick) fail(c.name, `newest ${views.newest} after applying tick ${f.tick}`);
  } catch (err) {
    fail(c.name, `refused: ${(err as Error).message}`);
    return;
  }
  const w = c.want;
  const state = typeof w.state === "number" ? MATCH_STATES[w.state] : w.state;
  const got = {
    ack: f.ack,
    tick: f.tick,
    base: f.base,
    time: f.time,
    state: f.state,
    left: f.left,
    ents: rowsOf(view),
    ev: f.ev.map((e) => [e.kind, e.a, e.b]),
  };
  const want = { ...w, state, ev: w.ev ?? [] };
  for (const k of Object.keys(got) as (keyof typeof got)[]) {
    if (!same(got[k], want[k])) fail(c.name, `${k} = ${show(got[k])}, want ${show(want[k])}`);
  }
  checkDequantized(c.name, view, q);
  if (failures === before) passed++;
}

function runSpectator(c: SpectatorCase, q: Quant): void {
  const before = failures;
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(c.json) as Record<string, unknown>;
  } catch (err) {
    fail(c.name, `json: ${(err as Error).message}`);
    return;
  }
  // SSE names the event; the JSON alone tells a delta by its base.
  const kind = typeof data.t === "string" ? data.t : "base" in data ? "delta" : "keyframe";
  const st = new SpectatorState();
  if (c.base !== null) st.seed(Number(data.base ?? 0), c.base, q);
  const ev = parseEvent(kind, data);
  let r;
  if (ev.kind === "keyframe") {
    if (!same(ev.quant, q)) fail(c.name, `keyframe quant ${show(ev.quant)}, want ${show(q)}`);
    r = st.keyframe(ev);
  } else if (ev.kind === "delta") {
    r = st.delta(ev);
  } else {
    fail(c.name, `parsed as ${show(ev)}`);
    return;
  }
  if (!r.ok) {
    fail(c.name, `refused: ${r.why}`);
    return;
  }
  if (!same(rowsOf(st.view), c.want_ents)) fail(c.name, `ents = ${show(rowsOf(st.view))}, want ${show(c.want_ents)}`);
  checkDequantized(c.name, st.view, st.quant);
  if (failures === before) passed++;
}

function runBad(c: BadCase): void {
  try {
    const f = decodeSnap(c.hex);
    const views = new Views();
    if (c.base !== null) views.seed(f.base, c.base);
    views.apply(f);
  } catch (err) {
    if (err instanceof ProtocolError) {
      passed++;
      return;
    }
    fail(c.name, `threw ${(err as Error).name} (${(err as Error).message}), want a ProtocolError`);
    return;
  }
  fail(c.name, "accepted, want a ProtocolError");
}

function main(): void {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    console.error("usage: node golden.test.js GOLDEN.json...");
    process.exitCode = 2;
    return;
  }
  const fs = require("node:fs");
  for (const file of files) {
    const g = JSON.parse(fs.readFileSync(file, "utf8")) as Golden;
    const q = g.quant;
    if (!(q && q.pos > 0 && q.angle > 0)) {
      fail(file, `bad quant ${show(q)}`);
      continue;
    }
    const counts = [g.cases?.length ?? 0, g.spectator?.length ?? 0, g.bad?.length ?? 0];
    if (counts[0] === 0) fail(file, "no cases");
    for (const c of g.cases ?? []) runCase(c, q);
    for (const c of g.spectator ?? []) runSpectator(c, q);
    for (const c of g.bad ?? []) runBad(c);
    console.log(`${file}: ${counts[0]} snap cases, ${counts[1]} spectator cases, ${counts[2]} bad frames`);
  }
  console.log(failures === 0 ? `ok: ${passed} passed` : `${failures} failed, ${passed} passed`);
  if (failures > 0) process.exitCode = 1;
}

main();
