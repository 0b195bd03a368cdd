// Clock sync from the server's pings (docs/protocol.md, "ping"): each ping
// carries the server's clock (Unix ms) when it was sent, and the smoothed
// round trip the server measured. A ping read at local time L gives
// d = L − server time = offset + the one-way delay of that ping. Delays only
// add, so the least delayed pings tell the offset best: the samples are
// taken in blocks of BLOCK and each block keeps its minimum d (the min-RTT
// filter); a least-squares line through the last KEEP minima gives the
// offset at any local time and its slope the drift (the two clocks' rate
// difference). Half the base round trip (the least `rtt` the server
// reported) is taken off as the one-way delay of the least delayed pings.

/** Samples per block (a block keeps its least delayed sample). */
export const BLOCK = 4;
/** Blocks kept for the fit (with pings every second: 2 minutes). */
export const KEEP = 30;

interface Point {
  t: number; // local ms
  d: number; // local − server, ms (offset + one-way delay)
}

/** The local clock the SDK uses: monotonic, in Unix ms. */
export function localNow(): number {
  return performance.timeOrigin + performance.now();
}

export class ClockSync {
  /** Samples taken. */
  samples = 0;
  /** Jitter of the one-way delay, ms (RFC 3550's estimator over d). */
  jitter = 0;
  private readonly minima: Point[] = [];
  private block: Point | null = null;
  private inBlock = 0;
  private lastD: number | null = null;
  private baseRtt = Infinity;
  // The fit: offset(t) = a + b·(t − t0).
  private a = 0;
  private b = 0;
  private t0 = 0;

  /** sample takes one ping: the server's time, the local time it was read, the server's rtt (0: unknown). */
  sample(server: number, local: number, rtt: number): void {
    if (!Number.isFinite(server) || server <= 0 || !Number.isFinite(local)) return;
    const d = local - server;
    this.samples++;
    if (rtt > 0 && rtt < this.baseRtt) this.baseRtt = rtt;
    if (this.lastD !== null) this.jitter += (Math.abs(d - this.lastD) - this.jitter) / 16;
    this.lastD = d;
    if (this.block === null || d < this.block.d) this.block = { t: local, d };
    this.inBlock++;
    if (this.inBlock >= BLOCK) {
      this.minima.push(this.block);
      if (this.minima.length > KEEP) this.minima.shift();
      this.block = null;
      this.inBlock = 0;
    }
    this.fit();
  }

  /** ready: at least one sample was taken. */
  get ready(): boolean {
    return this.samples > 0;
  }

  /** offset is local − server clock at local time t, ms. */
  offset(t: number = localNow()): number {
    const oneWay = Number.isFinite(this.baseRtt) ? this.baseRtt / 2 : 0;
    return this.a + this.b * (t - this.t0) - oneWay;
  }

  /** drift is how much faster the local clock runs, in parts per million. */
  get driftPpm(): number {
    return this.b * 1e6;
  }

  /** serverNow is the server's clock now (Unix ms), as estimated. */
  serverNow(t: number = localNow()): number {
    return t - this.offset(t);
  }

  private fit(): void {
    const pts = this.block ? [...this.minima, this.block] : this.minima;
    if (pts.length === 0) return;
    if (pts.length < 3) {
      // Too few for a slope: the least delayed sample.
      let best = pts[0]!;
      for (const p of pts) if (p.d < best.d) best = p;
      this.a = best.d;
      this.b = 0;
      this.t0 = best.t;
      return;
    }
    let st = 0;
    let sd = 0;
    for (const p of pts) {
      st += p.t;
      sd += p.d;
    }
    const mt = st / pts.length;
    const md = sd / pts.length;
    let num = 0;
    let den = 0;
    for (const p of pts) {
      num += (p.t - mt) * (p.d - md);
      den += (p.t - mt) ** 2;
    }
    this.b = den > 0 ? num / den : 0;
    this.a = md;
    this.t0 = mt;
  }
}
