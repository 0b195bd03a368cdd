// HUD line (match, tick, players, state, time left, your score) and the
// results panel shown on `end`. Names are set with textContent, never HTML.

import { End } from "./protocol";

export interface HudState {
  matchId: string;
  tick: number;
  players: number;
  state: string;
  /** Milliseconds left before the time limit. */
  left: number;
  score: number;
  /** Round-trip time from the latest ping, ms; 0 when not measured. */
  rtt: number;
  /** The server sends every Nth tick (0 or 1: every tick). */
  every: number;
}

const REASONS: Record<string, string> = {
  time: "time limit reached",
  score: "score limit reached",
  closed: "match closed",
};

/** formatRTT shows a round-trip time, e.g. "rtt 3 ms" ("rtt – ms" unknown). */
export function formatRTT(ms: number): string {
  if (!(ms > 0)) return "rtt – ms";
  return `rtt ${ms < 1 ? "<1" : Math.round(ms)} ms`;
}

export function formatLeft(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export class Hud {
  private last = "";

  constructor(
    private readonly hud: HTMLElement,
    private readonly results: HTMLElement,
    onPlayAgain: () => void,
  ) {
    results.addEventListener("click", (e) => {
      if (e.target instanceof HTMLElement && e.target.closest("button[data-again]")) onPlayAgain();
    });
  }

  update(s: HudState | null): void {
    const text = s
      ? [
          `match ${s.matchId}`,
          `tick ${s.tick}`,
          `players ${s.players}`,
          s.state || "—",
          s.state === "running" ? `${formatLeft(s.left)} left` : "",
          `score ${s.score}`,
          formatRTT(s.rtt),
          s.every > 1 ? `1/${s.every} ticks` : "",
        ].filter(Boolean).join(" · ")
      : "";
    if (text !== this.last) {
      this.hud.textContent = text;
      this.last = text;
    }
  }

  /** showResults shows the end panel; me (0: a spectator) is highlighted,
   * and the button under the table says again. */
  showResults(end: End, me: number, again = "Play again"): void {
    const r = this.results;
    r.replaceChildren();
    const h = el("h2", "Match over");
    const winner = end.scores.find((x) => x.id === end.winner);
    const sub = el(
      "p",
      `${REASONS[end.reason] ?? end.reason}` +
        (winner ? ` — winner: ${winner.name}${me !== 0 && winner.id === me ? " (you!)" : ""}` : ""),
    );
    const table = document.createElement("table");
    const head = document.createElement("tr");
    for (const c of ["#", "player", "kills", "deaths"]) head.append(el("th", c));
    table.append(head);
    end.scores.forEach((s, i) => {
      const row = document.createElement("tr");
      if (me !== 0 && s.id === me) row.className = "me";
      row.append(el("td", String(i + 1)), el("td", s.name), el("td", String(s.kills)), el("td", String(s.deaths)));
      table.append(row);
    });
    const button = el("button", again);
    button.id = "again";
    button.dataset.again = "1";
    button.type = "button";
    r.append(h, sub, table, button);
    r.hidden = false;
  }

  hideResults(): void {
    this.results.hidden = true;
    this.results.replaceChildren();
  }
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  e.textContent = text;
  return e;
}
