// The game's DOM overlays over the arena (play and watch pages): kill feed,
// damage flash, death screen with the respawn countdown, the scoreboard
// (held on Tab) and the "waiting for players" banner. Names are set with
// textContent, never HTML.

import { FeedEntry, ScoreRow } from "./game";

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text = "", cls = ""): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

/** GameUI owns the overlay elements it is given; each update is cheap when nothing changed. */
export class GameUI {
  private feedKey = "";
  private boardKey = "";
  /** The scoreboard is held open (Tab) — or forced open (match over). */
  boardOpen = false;

  constructor(
    private readonly feed: HTMLElement,
    private readonly flash: HTMLElement | null,
    private readonly death: HTMLElement | null,
    private readonly board: HTMLElement,
    private readonly waiting: HTMLElement | null,
  ) {}

  /** bindTab shows the scoreboard while Tab is held (not while typing in a field). */
  bindTab(enabled: () => boolean): void {
    window.addEventListener("keydown", (e) => {
      if (e.key !== "Tab" || !enabled()) return;
      const t = e.target;
      if (t instanceof HTMLInputElement || t instanceof HTMLSelectElement || t instanceof HTMLTextAreaElement) return;
      e.preventDefault();
      this.boardOpen = true;
    });
    window.addEventListener("keyup", (e) => {
      if (e.key === "Tab") this.boardOpen = false;
    });
    window.addEventListener("blur", () => (this.boardOpen = false));
  }

  updateFeed(entries: FeedEntry[], name: (id: number) => string, me: number): void {
    const key = entries.map((f) => `${f.killer}>${f.victim}@${f.at}`).join();
    if (key === this.feedKey) return;
    this.feedKey = key;
    this.feed.replaceChildren(
      ...entries.map((f) => {
        const row = el("div", "", f.killer === me || f.victim === me ? "mine" : "");
        row.append(el("b", name(f.killer)), el("span", " ✕ "), el("b", name(f.victim)));
        return row;
      }),
    );
    this.feed.hidden = entries.length === 0;
  }

  /** setFlash shows the damage flash at strength 0…1. */
  setFlash(strength: number): void {
    if (!this.flash) return;
    const s = Math.max(0, Math.min(1, strength));
    this.flash.style.opacity = String(s);
    this.flash.hidden = s <= 0;
  }

  /** setDeath shows the death screen (killer's name, ms to respawn), or hides it (null). */
  setDeath(d: { killer: string; respawnMs: number } | null): void {
    if (!this.death) return;
    if (!d) {
      this.death.hidden = true;
      return;
    }
    const text = `You were killed by ${d.killer}`;
    const count = d.respawnMs > 0 ? `respawning in ${(d.respawnMs / 1000).toFixed(1)} s` : "respawning…";
    const [h, p] = [this.death.firstElementChild, this.death.lastElementChild];
    if (this.death.childElementCount === 2 && h && p) {
      if (h.textContent !== text) h.textContent = text;
      if (p.textContent !== count) p.textContent = count;
    } else {
      this.death.replaceChildren(el("h2", text), el("p", count));
    }
    this.death.hidden = false;
  }

  /** updateBoard fills the scoreboard and shows it when open. */
  updateBoard(rows: ScoreRow[], title: string): void {
    this.board.hidden = !this.boardOpen;
    if (!this.boardOpen) return;
    const key = title + JSON.stringify(rows);
    if (key === this.boardKey) return;
    this.boardKey = key;
    const table = el("table");
    const head = el("tr");
    for (const c of ["#", "player", "kills", "deaths"]) head.append(el("th", c));
    table.append(head);
    rows.forEach((r, i) => {
      const tr = el("tr", "", r.me ? "me" : "");
      tr.append(el("td", String(i + 1)), el("td", r.name), el("td", String(r.kills)), el("td", String(r.deaths)));
      table.append(tr);
    });
    this.board.replaceChildren(el("h2", title), table);
  }

  /** setWaiting shows "waiting for N more players" (n > 0), or hides it. */
  setWaiting(n: number): void {
    if (!this.waiting) return;
    const text = n > 0 ? `Waiting for ${n} more player${n === 1 ? "" : "s"}…` : "";
    if (this.waiting.textContent !== text) this.waiting.textContent = text;
    this.waiting.hidden = n <= 0;
  }
}
