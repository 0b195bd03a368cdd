// The net graph (toggled with N): ping, jitter, snapshot rate, bytes per
// second in and out, prediction error and interpolation delay, as text and
// as a small live chart (ping and the gap between snapshots, the last 120
// frames of samples taken every 100 ms).

export interface NetSample {
  /** Round trip, ms (the server's smoothed measurement). */
  rtt: number;
  /** Jitter of the one-way delay, ms (clock sync). */
  jitter: number;
  /** Snapshots received per second. */
  snapRate: number;
  bytesIn: number;
  bytesOut: number;
  /** The last prediction correction, arena units. */
  predError: number;
  /** Interpolation delay, ms. */
  interpMs: number;
  /** Estimated server clock minus local clock, ms, and drift, ppm. */
  offset: number;
  drift: number;
}

const KEEP = 120;

export class NetGraph {
  shown = false;
  last: NetSample | null = null;
  private readonly history: NetSample[] = [];
  private readonly ctx: CanvasRenderingContext2D | null;

  constructor(private readonly root: HTMLElement, private readonly text: HTMLElement, private readonly chart: HTMLCanvasElement) {
    this.ctx = chart.getContext("2d");
  }

  toggle(): void {
    this.shown = !this.shown;
    this.root.hidden = !this.shown;
  }

  push(s: NetSample): void {
    this.last = s;
    this.history.push(s);
    if (this.history.length > KEEP) this.history.shift();
    if (this.shown) this.draw();
  }

  private draw(): void {
    const s = this.last!;
    this.text.textContent =
      `ping ${s.rtt.toFixed(0)} ms · jitter ${s.jitter.toFixed(1)} ms · snaps ${s.snapRate.toFixed(0)}/s\n` +
      `in ${(s.bytesIn / 1024).toFixed(1)} KiB/s · out ${(s.bytesOut / 1024).toFixed(1)} KiB/s\n` +
      `pred err ${s.predError.toFixed(1)} u · interp ${s.interpMs.toFixed(0)} ms\n` +
      `clock ${s.offset >= 0 ? "+" : ""}${s.offset.toFixed(0)} ms · drift ${s.drift.toFixed(0)} ppm`;
    const c = this.ctx;
    if (!c) return;
    const w = this.chart.width;
    const h = this.chart.height;
    c.clearRect(0, 0, w, h);
    c.fillStyle = "#0d1117cc";
    c.fillRect(0, 0, w, h);
    const max = Math.max(100, ...this.history.map((x) => Math.max(x.rtt, x.interpMs)));
    const line = (color: string, f: (x: NetSample) => number) => {
      c.strokeStyle = color;
      c.lineWidth = 1.5;
      c.beginPath();
      this.history.forEach((x, i) => {
        const px = (i / (KEEP - 1)) * w;
        const py = h - (Math.min(max, f(x)) / max) * (h - 4) - 2;
        if (i === 0) c.moveTo(px, py);
        else c.lineTo(px, py);
      });
      c.stroke();
    };
    line("#58a6ff", (x) => x.rtt);
    line("#d29922", (x) => x.interpMs);
    line("#3fb950", (x) => x.snapRate);
    c.fillStyle = "#8b949e";
    c.font = "10px system-ui, sans-serif";
    c.fillText(`${max.toFixed(0)}`, 2, 10);
  }
}
