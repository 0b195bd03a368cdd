// Keyboard and mouse: WASD or arrows to move, mouse to aim, mouse button or
// space to fire. Keys are read on `window` so they work whatever has focus.

import { BUTTON_FIRE } from "./protocol";

type Action = "up" | "down" | "left" | "right" | "fire";

// By physical key (event.code) first, so WASD stays in place on any layout.
const BY_CODE: Record<string, Action> = {
  KeyW: "up", ArrowUp: "up",
  KeyS: "down", ArrowDown: "down",
  KeyA: "left", ArrowLeft: "left",
  KeyD: "right", ArrowRight: "right",
  Space: "fire",
};

// Fallback by produced key (event.key), for events that carry no code.
const BY_KEY: Record<string, Action> = {
  w: "up", W: "up", ArrowUp: "up",
  s: "down", S: "down", ArrowDown: "down",
  a: "left", A: "left", ArrowLeft: "left",
  d: "right", D: "right", ArrowRight: "right",
  " ": "fire", Spacebar: "fire",
};

function actionOf(e: KeyboardEvent): [string, Action] | null {
  if (e.code && BY_CODE[e.code]) return [e.code, BY_CODE[e.code]!];
  if (e.key && BY_KEY[e.key]) return [e.key, BY_KEY[e.key]!];
  return null;
}

function isTyping(e: Event): boolean {
  const t = e.target;
  return t instanceof HTMLInputElement || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement;
}

export interface Movement {
  mx: number;
  my: number;
}

/** Controls tracks the keys and mouse; it is read once per animation frame. */
export class Controls {
  /** Only while enabled do keys count (and arrows/space not scroll the page). */
  enabled = false;

  private readonly held = new Map<string, Action>();
  private mouse: { x: number; y: number } | null = null;
  private mouseDown = false;
  /** A press not yet sent: a tap shorter than a frame still fires once. */
  private fireLatched = false;
  private lastAim = 0;

  constructor(private readonly canvas: HTMLCanvasElement) {
    window.addEventListener("keydown", (e) => this.key(e, true));
    window.addEventListener("keyup", (e) => this.key(e, false));
    window.addEventListener("blur", () => this.reset());
    window.addEventListener("mousemove", (e) => this.move(e));
    canvas.addEventListener("mousedown", (e) => {
      if (e.button !== 0 || !this.enabled) return;
      this.move(e);
      this.mouseDown = true;
      this.fireLatched = true;
      e.preventDefault();
    });
    window.addEventListener("mouseup", (e) => {
      if (e.button === 0) this.mouseDown = false;
    });
    canvas.addEventListener("contextmenu", (e) => e.preventDefault());
  }

  /** reset releases every key and button (e.g. when the window loses focus). */
  reset(): void {
    this.held.clear();
    this.mouseDown = false;
    this.fireLatched = false;
  }

  /** movement is the direction of the held keys, of length 0 or 1. */
  movement(): Movement {
    let mx = 0;
    let my = 0;
    for (const a of this.held.values()) {
      if (a === "left") mx -= 1;
      else if (a === "right") mx += 1;
      else if (a === "up") my -= 1;
      else if (a === "down") my += 1;
    }
    mx = Math.sign(mx);
    my = Math.sign(my);
    if (mx !== 0 && my !== 0) {
      mx *= Math.SQRT1_2;
      my *= Math.SQRT1_2;
    }
    return { mx, my };
  }

  buttons(): number {
    if (!this.enabled) return 0;
    let fire = this.mouseDown || this.fireLatched;
    for (const a of this.held.values()) if (a === "fire") fire = true;
    return fire ? BUTTON_FIRE : 0;
  }

  /** sent tells that an input with the current buttons has gone out. */
  sent(): void {
    this.fireLatched = false;
  }

  /**
   * aim is the angle from the player's on-screen position (canvas CSS
   * pixels) to the mouse; without a mouse position the last aim is kept.
   */
  aim(fromX: number, fromY: number): number {
    if (this.mouse) {
      const dx = this.mouse.x - fromX;
      const dy = this.mouse.y - fromY;
      if (dx !== 0 || dy !== 0) this.lastAim = Math.atan2(dy, dx);
    }
    return this.lastAim;
  }

  private key(e: KeyboardEvent, down: boolean): void {
    const hit = actionOf(e);
    if (!hit) return;
    const [id, action] = hit;
    if (!down) {
      this.held.delete(id);
      return;
    }
    if (!this.enabled || isTyping(e) || e.ctrlKey || e.metaKey || e.altKey) return;
    if (action === "fire" && !e.repeat) this.fireLatched = true;
    this.held.set(id, action);
    e.preventDefault(); // no scrolling, no "click" of a focused button
  }

  private move(e: MouseEvent): void {
    const r = this.canvas.getBoundingClientRect();
    this.mouse = { x: e.clientX - r.left, y: e.clientY - r.top };
  }
}
