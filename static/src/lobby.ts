// The play page's lobby: the live matches (GET /api/matches) with a Join
// button each, and "Create a match" (POST /api/matches with the server's
// defaults). Refreshed while the join form is shown.

export interface LobbyMatch {
  id: string;
  players: number;
  max: number;
  state: string;
}

export class Lobby {
  matches: LobbyMatch[] = [];
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly list: HTMLTableSectionElement,
    private readonly none: HTMLElement,
    create: HTMLButtonElement,
    private readonly onJoin: (id: string) => void,
    private readonly onError: (msg: string) => void,
  ) {
    create.addEventListener("click", () => void this.create());
  }

  start(): void {
    if (this.timer !== null) return;
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), 2000);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  async refresh(): Promise<void> {
    try {
      const res = await fetch("/api/matches", { cache: "no-store" });
      const body = (await res.json()) as { matches?: LobbyMatch[] };
      this.matches = (body.matches ?? []).filter((m) => m.state === "waiting" || m.state === "running");
    } catch {
      return;
    }
    this.render();
  }

  private render(): void {
    const rows = this.matches.map((m) => {
      const tr = document.createElement("tr");
      for (const text of [m.id, `${m.players}/${m.max}`, m.state]) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.append(td);
      }
      const td = document.createElement("td");
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = "Join";
      b.className = "join-match";
      b.dataset.match = m.id;
      b.disabled = m.players >= m.max;
      b.addEventListener("click", () => this.onJoin(m.id));
      td.append(b);
      tr.append(td);
      return tr;
    });
    this.list.replaceChildren(...rows);
    this.none.hidden = rows.length > 0;
  }

  private async create(): Promise<void> {
    try {
      const res = await fetch("/api/matches", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
      const body = (await res.json()) as { id?: string; error?: string };
      if (res.status !== 201 || typeof body.id !== "string") {
        this.onError(`could not create a match: ${body.error ?? res.status}`);
        return;
      }
      this.onJoin(body.id);
    } catch (err) {
      this.onError(`could not create a match: ${String(err)}`);
    }
  }
}
