// Simple sounds made with WebAudio (no files): off by default, toggled by
// the page's button and remembered. The AudioContext is created on the
// first toggle (a user gesture, as browsers require).

type Cue = "shot" | "hit" | "hurt" | "kill" | "death";

const CUES: Record<Cue, { f: number; to: number; ms: number; type: OscillatorType; gain: number }> = {
  shot: { f: 660, to: 440, ms: 60, type: "square", gain: 0.04 },
  hit: { f: 1200, to: 1200, ms: 50, type: "triangle", gain: 0.08 },
  hurt: { f: 180, to: 90, ms: 120, type: "sawtooth", gain: 0.08 },
  kill: { f: 520, to: 1040, ms: 200, type: "triangle", gain: 0.1 },
  death: { f: 300, to: 60, ms: 500, type: "sawtooth", gain: 0.1 },
};

const KEY = "tickstream.sound";

export class Sound {
  private ctx: AudioContext | null = null;
  on = false;

  constructor() {
    try {
      this.on = localStorage.getItem(KEY) === "on";
    } catch {
      // storage may be disabled
    }
  }

  toggle(): boolean {
    this.on = !this.on;
    try {
      localStorage.setItem(KEY, this.on ? "on" : "off");
    } catch {
      // ignore
    }
    if (this.on) this.context();
    return this.on;
  }

  play(cue: Cue): void {
    if (!this.on) return;
    const ctx = this.context();
    if (!ctx) return;
    const c = CUES[cue];
    const t = ctx.currentTime;
    const osc = ctx.createOscillator();
    const g = ctx.createGain();
    osc.type = c.type;
    osc.frequency.setValueAtTime(c.f, t);
    osc.frequency.exponentialRampToValueAtTime(c.to, t + c.ms / 1000);
    g.gain.setValueAtTime(c.gain, t);
    g.gain.exponentialRampToValueAtTime(0.0001, t + c.ms / 1000);
    osc.connect(g).connect(ctx.destination);
    osc.start(t);
    osc.stop(t + c.ms / 1000 + 0.02);
  }

  private context(): AudioContext | null {
    if (this.ctx) return this.ctx;
    try {
      this.ctx = new AudioContext();
    } catch {
      this.on = false;
    }
    return this.ctx;
  }
}
