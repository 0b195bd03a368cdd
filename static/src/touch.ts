// Touch controls for phones: a virtual stick (drag anywhere on the left half
// of the arena) moves and aims; the fire button (bottom right) fires along
// the last aim. Shown when the device has a coarse pointer or on the first
// touch.

export class Touch {
  mx = 0;
  my = 0;
  /** Aim along the stick (radians), kept when the stick is released. */
  aim: number | null = null;
  fire = false;
  /** A tap shorter than a frame still fires once. */
  fireLatched = false;
  private stickId: number | null = null;
  private ox = 0;
  private oy = 0;

  constructor(
    private readonly zone: HTMLElement,
    private readonly knob: HTMLElement,
    button: HTMLElement,
    private readonly root: HTMLElement,
  ) {
    if (matchMedia("(pointer: coarse)").matches) this.show();
    window.addEventListener("touchstart", () => this.show(), { once: true, passive: true });
    zone.addEventListener("touchstart", (e) => this.start(e), { passive: false });
    zone.addEventListener("touchmove", (e) => this.move(e), { passive: false });
    zone.addEventListener("touchend", (e) => this.end(e));
    zone.addEventListener("touchcancel", (e) => this.end(e));
    button.addEventListener("touchstart", (e) => {
      e.preventDefault();
      this.fire = true;
      this.fireLatched = true;
    }, { passive: false });
    const up = () => (this.fire = false);
    button.addEventListener("touchend", up);
    button.addEventListener("touchcancel", up);
  }

  get active(): boolean {
    return !this.root.hidden;
  }

  show(): void {
    this.root.hidden = false;
  }

  reset(): void {
    this.mx = this.my = 0;
    this.fire = this.fireLatched = false;
    this.stickId = null;
    this.knob.hidden = true;
  }

  private start(e: TouchEvent): void {
    e.preventDefault();
    const t = e.changedTouches[0];
    if (!t || this.stickId !== null) return;
    this.stickId = t.identifier;
    this.ox = t.clientX;
    this.oy = t.clientY;
    this.place(0, 0);
  }

  private move(e: TouchEvent): void {
    e.preventDefault();
    for (const t of Array.from(e.changedTouches)) {
      if (t.identifier !== this.stickId) continue;
      const max = 50;
      let dx = t.clientX - this.ox;
      let dy = t.clientY - this.oy;
      const len = Math.hypot(dx, dy);
      if (len > max) {
        dx *= max / len;
        dy *= max / len;
      }
      this.mx = len < 8 ? 0 : dx / max;
      this.my = len < 8 ? 0 : dy / max;
      if (len >= 8) this.aim = Math.atan2(dy, dx);
      this.place(dx, dy);
    }
  }

  private end(e: TouchEvent): void {
    for (const t of Array.from(e.changedTouches)) {
      if (t.identifier !== this.stickId) continue;
      this.stickId = null;
      this.mx = this.my = 0;
      this.knob.hidden = true;
    }
  }

  private place(dx: number, dy: number): void {
    const r = this.zone.getBoundingClientRect();
    this.knob.style.left = `${this.ox - r.left + dx}px`;
    this.knob.style.top = `${this.oy - r.top + dy}px`;
    this.knob.hidden = false;
  }
}
