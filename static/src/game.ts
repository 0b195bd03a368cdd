// What the game UI makes of the snapshots' events (docs/protocol.md,
// "snap", event kinds), for players and spectators alike: the kill feed,
// the hits you dealt (hit markers) and took (damage flash), your death and
// respawn countdown, and the scoreboard (kills from the players' entities,
// deaths counted from kill events seen since the page joined). Pure logic:
// no DOM, so that Node tests can drive it.

import { EVENT_HIT, EVENT_KILL, EVENT_RESPAWN, EVENT_SHOT, Entity, GameEvent, KIND_PLAYER } from "./protocol";

/** The reference arena respawns a dead player after this long. */
export const RESPAWN_MS = 2000;
/** Kill feed entries shown at most, and for how long. */
export const FEED_MAX = 5;
export const FEED_MS = 6000;
/** The server's default minimum of players for a match to start. */
export const DEFAULT_MIN_PLAYERS = 2;

export interface FeedEntry {
  killer: number;
  victim: number;
  at: number;
}

export interface ScoreRow {
  id: number;
  name: string;
  kills: number;
  deaths: number;
  me: boolean;
}

/** What happened to you in one batch of events (for sounds and effects). */
export interface Happened {
  shots: number;
  hitsDealt: number[];
  hitsTaken: number;
  kills: number;
  died: boolean;
  respawned: boolean;
}

export class GameTracker {
  readonly feed: FeedEntry[] = [];
  /** Victims you hit, with when (hit markers). */
  readonly hitMarks: { victim: number; at: number }[] = [];
  /** When you were last hit (damage flash). */
  lastHurtAt = -Infinity;
  /** Who killed you last (0: nobody, or you are alive). */
  killedBy = 0;
  /** When you died (0: alive). */
  diedAt = 0;
  private readonly deaths = new Map<number, number>();
  private readonly kills = new Map<number, number>();

  constructor(public me: number) {}

  /** reset forgets everything (a new match). */
  reset(me: number): void {
    this.me = me;
    this.feed.length = 0;
    this.hitMarks.length = 0;
    this.lastHurtAt = -Infinity;
    this.killedBy = 0;
    this.diedAt = 0;
    this.deaths.clear();
    this.kills.clear();
  }

  /** events takes a snapshot's events (and its entities, for scores) at local time now. */
  events(ev: readonly GameEvent[], ents: readonly Entity[], now: number): Happened {
    const h: Happened = { shots: 0, hitsDealt: [], hitsTaken: 0, kills: 0, died: false, respawned: false };
    for (const e of ev) {
      switch (e.kind) {
        case EVENT_SHOT:
          if (e.a === this.me) h.shots++;
          break;
        case EVENT_HIT:
          if (e.a === this.me && e.b !== this.me) {
            h.hitsDealt.push(e.b);
            this.hitMarks.push({ victim: e.b, at: now });
          }
          if (e.b === this.me) {
            h.hitsTaken++;
            this.lastHurtAt = now;
          }
          break;
        case EVENT_KILL:
          this.deaths.set(e.b, (this.deaths.get(e.b) ?? 0) + 1);
          this.feed.push({ killer: e.a, victim: e.b, at: now });
          if (this.feed.length > FEED_MAX) this.feed.splice(0, this.feed.length - FEED_MAX);
          if (e.a === this.me && e.b !== this.me) h.kills++;
          if (e.b === this.me) {
            h.died = true;
            this.killedBy = e.a;
            this.diedAt = now;
          }
          break;
        case EVENT_RESPAWN:
          if (e.a === this.me) {
            h.respawned = true;
            this.killedBy = 0;
            this.diedAt = 0;
          }
          break;
      }
    }
    for (const e of ents) if (e.kind === KIND_PLAYER) this.kills.set(e.id, e.score);
    while (this.hitMarks.length > 0 && now - this.hitMarks[0]!.at > 1000) this.hitMarks.shift();
    return h;
  }

  /** dead tells whether you wait to respawn (from your entity's flag when known). */
  respawnIn(now: number): number {
    if (this.diedAt === 0) return 0;
    return Math.max(0, RESPAWN_MS - (now - this.diedAt));
  }

  /** feedAt is the kill feed still shown at now, oldest first. */
  feedAt(now: number): FeedEntry[] {
    return this.feed.filter((f) => now - f.at < FEED_MS);
  }

  /** scoreboard is every player of the roster, best first (kills, then fewest deaths, then id). */
  scoreboard(names: ReadonlyMap<number, string>): ScoreRow[] {
    const rows: ScoreRow[] = [];
    for (const [id, name] of names) {
      rows.push({ id, name, kills: this.kills.get(id) ?? 0, deaths: this.deaths.get(id) ?? 0, me: id === this.me });
    }
    rows.sort((a, b) => b.kills - a.kills || a.deaths - b.deaths || a.id - b.id);
    return rows;
  }
}

/** waitingFor is how many more players a waiting match needs. */
export function waitingFor(players: number, min = DEFAULT_MIN_PLAYERS): number {
  return Math.max(0, min - players);
}
