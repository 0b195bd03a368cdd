// Canvas drawing of a snapshot view, scaled to fit the window.
// It draws the view it is given: the play page hands it your avatar
// predicted and the others interpolated (main.ts, predict.ts, interp.ts).

import {
  Arena,
  Entity,
  FLAG_DEAD,
  FLAG_DISCONNECTED,
  FLAG_PROTECTED,
  KIND_PLAYER,
  KIND_PROJECTILE,
  Snap,
} from "./protocol";

/** Sizes of the reference game (docs/protocol.md, "Arena rules"). */
const PLAYER_RADIUS = 20;
const PROJECTILE_RADIUS = 4;
const MAX_HP = 100;
const MARGIN_PX = 12;

const PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45",
  "#fabed4", "#469990", "#dcbeff", "#9a6324", "#fffac8", "#800000", "#aaffc3", "#808000"];

export function playerColor(id: number): string {
  return PALETTE[((id % PALETTE.length) + PALETTE.length) % PALETTE.length]!;
}

export interface View {
  arena: Arena;
  snap: Snap | null;
  /** Your player id (0 before welcome). */
  me: number;
  /** Your own link is lost: draw your avatar as disconnected too. */
  meAway: boolean;
  /** Interest radius in world units (0: everything is sent): a faint
   * circle around your avatar; nothing outside it is sent. */
  radius: number;
  names: ReadonlyMap<number, string>;
  /** Players you hit lately, with the age of the hit in ms (hit markers). */
  hits?: readonly { victim: number; age: number }[];
}

export interface Point {
  x: number;
  y: number;
}

export class Renderer {
  private readonly ctx: CanvasRenderingContext2D;
  private scale = 1;
  private ox = 0;
  private oy = 0;
  private cssW = 0;
  /** The name and health bar boxes drawn by the last draw, canvas CSS pixels. */
  labels: { id: number; left: number; top: number; right: number; bottom: number }[] = [];
  /** The canvas size at the last draw, CSS pixels. */
  get size(): { w: number; h: number } {
    return { w: this.cssW, h: this.cssH };
  }
  private cssH = 0;

  constructor(private readonly canvas: HTMLCanvasElement) {
    const ctx = canvas.getContext("2d");
    if (!ctx) throw new Error("canvas 2d is not available");
    this.ctx = ctx;
  }

  /** toScreen maps arena units to canvas CSS pixels (as of the last draw). */
  toScreen(x: number, y: number): Point {
    return { x: this.ox + x * this.scale, y: this.oy + y * this.scale };
  }

  draw(v: View): void {
    this.fit(v.arena);
    this.labels = [];
    const c = this.ctx;
    c.fillStyle = "#0d1117";
    c.fillRect(0, 0, this.cssW, this.cssH);

    // Arena floor and bounds.
    const tl = this.toScreen(0, 0);
    const aw = v.arena.w * this.scale;
    const ah = v.arena.h * this.scale;
    c.fillStyle = "#161b22";
    c.fillRect(tl.x, tl.y, aw, ah);
    this.grid(v.arena);
    c.strokeStyle = "#58a6ff";
    c.lineWidth = 2;
    c.strokeRect(tl.x, tl.y, aw, ah);

    c.fillStyle = "#30363d";
    c.strokeStyle = "#484f58";
    c.lineWidth = 1;
    for (const o of v.arena.obstacles) {
      const p = this.toScreen(o.x, o.y);
      c.fillRect(p.x, p.y, o.w * this.scale, o.h * this.scale);
      c.strokeRect(p.x, p.y, o.w * this.scale, o.h * this.scale);
    }

    if (!v.snap) return;
    if (v.radius > 0) {
      const me = v.snap.ents.find((e) => e.kind === KIND_PLAYER && e.id === v.me);
      if (me) this.viewCircle(me, v.radius);
    }
    for (const e of v.snap.ents) if (e.kind === KIND_PROJECTILE) this.projectile(e);
    // Own player last, so it is drawn on top.
    for (const e of v.snap.ents) if (e.kind === KIND_PLAYER && e.id !== v.me) this.player(e, v, false);
    for (const e of v.snap.ents) if (e.kind === KIND_PLAYER && e.id === v.me) this.player(e, v, true);
    for (const h of v.hits ?? []) {
      const e = v.snap.ents.find((x) => x.id === h.victim && x.kind === KIND_PLAYER);
      if (e) this.hitMarker(e, h.age);
    }
  }

  /** hitMarker draws an X over a player you hit, fading over 400 ms. */
  private hitMarker(e: Entity, age: number): void {
    const a = 1 - age / 400;
    if (a <= 0) return;
    const c = this.ctx;
    const p = this.toScreen(e.x, e.y);
    const s = Math.max(8, PLAYER_RADIUS * this.scale * 0.9);
    c.save();
    c.globalAlpha = a;
    c.strokeStyle = "#ffffff";
    c.lineWidth = 3;
    c.beginPath();
    for (const [dx, dy] of [[1, 1], [1, -1], [-1, 1], [-1, -1]] as const) {
      c.moveTo(p.x + dx * s * 0.4, p.y + dy * s * 0.4);
      c.lineTo(p.x + dx * s, p.y + dy * s);
    }
    c.stroke();
    c.restore();
  }

  /** fit sizes the backing store to the window and the arena to the canvas. */
  private fit(a: Arena): void {
    const dpr = window.devicePixelRatio || 1;
    const w = this.canvas.clientWidth;
    const h = this.canvas.clientHeight;
    if (this.canvas.width !== Math.round(w * dpr) || this.canvas.height !== Math.round(h * dpr)) {
      this.canvas.width = Math.round(w * dpr);
      this.canvas.height = Math.round(h * dpr);
    }
    this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    this.cssW = w;
    this.cssH = h;
    const aw = a.w > 0 ? a.w : 1;
    const ah = a.h > 0 ? a.h : 1;
    this.scale = Math.max(0.01, Math.min((w - 2 * MARGIN_PX) / aw, (h - 2 * MARGIN_PX) / ah));
    this.ox = (w - aw * this.scale) / 2;
    this.oy = (h - ah * this.scale) / 2;
  }

  private grid(a: Arena): void {
    const c = this.ctx;
    const step = 100;
    c.strokeStyle = "#1f252d";
    c.lineWidth = 1;
    c.beginPath();
    for (let x = step; x < a.w; x += step) {
      const p = this.toScreen(x, 0);
      c.moveTo(p.x, p.y);
      c.lineTo(p.x, p.y + a.h * this.scale);
    }
    for (let y = step; y < a.h; y += step) {
      const p = this.toScreen(0, y);
      c.moveTo(p.x, p.y);
      c.lineTo(p.x + a.w * this.scale, p.y);
    }
    c.stroke();
  }

  /** viewCircle marks how far you see: the server sends nothing beyond. */
  private viewCircle(me: Entity, radius: number): void {
    const c = this.ctx;
    const p = this.toScreen(me.x, me.y);
    c.save();
    c.beginPath();
    c.arc(p.x, p.y, radius * this.scale, 0, 2 * Math.PI);
    c.fillStyle = "rgba(88, 166, 255, 0.035)";
    c.fill();
    c.strokeStyle = "rgba(88, 166, 255, 0.3)";
    c.lineWidth = 1;
    c.setLineDash([6, 6]);
    c.stroke();
    c.restore();
  }

  private projectile(e: Entity): void {
    const c = this.ctx;
    const p = this.toScreen(e.x, e.y);
    c.fillStyle = playerColor(e.score); // score = shooter id
    c.beginPath();
    c.arc(p.x, p.y, Math.max(2, PROJECTILE_RADIUS * this.scale), 0, 2 * Math.PI);
    c.fill();
  }

  private player(e: Entity, v: View, mine: boolean): void {
    const c = this.ctx;
    const p = this.toScreen(e.x, e.y);
    const r = Math.max(4, PLAYER_RADIUS * this.scale);
    const dead = (e.flags & FLAG_DEAD) !== 0;
    const gone = (e.flags & FLAG_DISCONNECTED) !== 0 || (mine && v.meAway);
    const prot = (e.flags & FLAG_PROTECTED) !== 0;

    c.save();
    c.globalAlpha = dead ? 0.3 : gone ? 0.4 : 1;
    c.fillStyle = gone ? "#6e7681" : playerColor(e.id);
    c.beginPath();
    c.arc(p.x, p.y, r, 0, 2 * Math.PI);
    c.fill();
    // Facing.
    c.strokeStyle = "#ffffff";
    c.lineWidth = Math.max(1.5, r / 6);
    c.beginPath();
    c.moveTo(p.x, p.y);
    c.lineTo(p.x + Math.cos(e.angle) * r * 1.4, p.y + Math.sin(e.angle) * r * 1.4);
    c.stroke();
    if (mine) {
      c.strokeStyle = "#ffd700";
      c.lineWidth = 3;
      c.beginPath();
      c.arc(p.x, p.y, r + 4, 0, 2 * Math.PI);
      c.stroke();
    }
    if (gone) {
      // Dashed outline: the seat is held while its player reconnects.
      c.globalAlpha = 0.8;
      c.strokeStyle = "#d29922";
      c.lineWidth = 2;
      c.setLineDash([3, 3]);
      c.beginPath();
      c.arc(p.x, p.y, r + 2, 0, 2 * Math.PI);
      c.stroke();
      c.setLineDash([]);
    }
    if (prot) {
      c.strokeStyle = "#7ee787";
      c.lineWidth = 2;
      c.setLineDash([4, 4]);
      c.beginPath();
      c.arc(p.x, p.y, r + (mine ? 9 : 5), 0, 2 * Math.PI);
      c.stroke();
      c.setLineDash([]);
    }
    c.restore();

    // Name, flags and hp bar above the circle.
    const name = v.names.get(e.id) ?? `#${e.id}`;
    const tags: string[] = [];
    if (mine) tags.push("you");
    if (dead) tags.push("dead");
    if (gone) tags.push("reconnecting…");
    if (prot) tags.push("protected");
    const label = tags.length ? `${name} (${tags.join(", ")})` : name;
    const barW = Math.max(28, r * 2);
    const ring = mine ? (prot ? 11 : 7) : prot ? 7 : 0; // outer rings drawn above
    c.font = "12px system-ui, sans-serif";
    const textW = c.measureText(label).width;
    // Kept inside the canvas: at the top edge the label and bar go below
    // the circle; at the sides they are pushed in.
    const above = p.y - r - ring - 8 - 16 >= 0;
    const barY = above ? p.y - r - ring - 8 : p.y + r + ring + 4;
    const textY = above ? barY - 2 : barY + 6 + 14;
    const half = Math.max(barW, textW) / 2 + 2;
    const lx = Math.min(Math.max(p.x, half), this.cssW - half);
    c.textAlign = "center";
    c.textBaseline = "bottom";
    c.fillStyle = mine ? "#ffd700" : "#e6edf3";
    c.fillText(label, lx, textY);
    c.fillStyle = "#30363d";
    c.fillRect(lx - barW / 2, barY, barW, 4);
    const hp = Math.max(0, Math.min(MAX_HP, e.hp)) / MAX_HP;
    c.fillStyle = hp > 0.5 ? "#3fb950" : hp > 0.25 ? "#d29922" : "#f85149";
    c.fillRect(lx - barW / 2, barY, barW * hp, 4);
    const top = above ? textY - 14 : barY;
    this.labels.push({ id: e.id, left: lx - half, top, right: lx + half, bottom: above ? barY + 4 : textY });
    if (gone) this.reconnectIcon(p.x + r + 10, p.y - r + 2, 7);
  }

  /** reconnectIcon draws a circular arrow (⟳) of radius s centred at (x, y). */
  private reconnectIcon(x: number, y: number, s: number): void {
    const c = this.ctx;
    const a0 = -Math.PI * 0.35;
    const a1 = a0 + Math.PI * 1.6;
    c.save();
    c.fillStyle = "#0d1117cc";
    c.beginPath();
    c.arc(x, y, s + 4, 0, 2 * Math.PI);
    c.fill();
    c.strokeStyle = c.fillStyle = "#d29922";
    c.lineWidth = 2;
    c.beginPath();
    c.arc(x, y, s, a0, a1);
    c.stroke();
    // Arrow head at the end of the arc, pointing along it.
    const hx = x + Math.cos(a1) * s;
    const hy = y + Math.sin(a1) * s;
    const dir = a1 + Math.PI / 2;
    c.beginPath();
    c.moveTo(hx + Math.cos(dir) * 4, hy + Math.sin(dir) * 4);
    c.lineTo(hx + Math.cos(dir + 2.3) * 4, hy + Math.sin(dir + 2.3) * 4);
    c.lineTo(hx + Math.cos(dir - 2.3) * 4, hy + Math.sin(dir - 2.3) * 4);
    c.closePath();
    c.fill();
    c.restore();
  }
}
