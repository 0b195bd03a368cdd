// The game UI's logic (src/game.ts): the kill feed (capped, expiring), the
// hits dealt (hit markers) and taken (damage flash), your death and respawn
// countdown, the scoreboard (kills from entities, deaths from kill events,
// best first) and the "waiting for N more players" count.

import { FEED_MAX, FEED_MS, GameTracker, RESPAWN_MS, waitingFor } from "../src/game";
import { EVENT_HIT, EVENT_KILL, EVENT_RESPAWN, EVENT_SHOT, Entity, KIND_PLAYER } from "../src/protocol";
import { check, report } from "./check";


const player = (id: number, score: number): Entity => ({ id, kind: KIND_PLAYER, x: 0, y: 0, angle: 0, hp: 100, score, flags: 0 });

const g = new GameTracker(1);
let h = g.events([{ kind: EVENT_SHOT, a: 1, b: 50 }, { kind: EVENT_HIT, a: 1, b: 2 }, { kind: EVENT_HIT, a: 3, b: 1 }], [], 1000);
check(h.shots === 1 && h.hitsDealt.join() === "2" && h.hitsTaken === 1 && !h.died, `hits ${JSON.stringify(h)}`);
check(g.hitMarks.length === 1 && g.lastHurtAt === 1000, "hit marker and damage flash noted");
h = g.events([{ kind: EVENT_KILL, a: 3, b: 1 }], [player(1, 0), player(2, 0), player(3, 1)], 1500);
check(h.died && g.killedBy === 3, `death ${JSON.stringify(h)}`);
check(g.respawnIn(1500) === RESPAWN_MS && g.respawnIn(2500) === RESPAWN_MS - 1000 && g.respawnIn(9000) === 0, "respawn countdown");
check(g.hitMarks.length === 1, "a recent hit marker kept");
h = g.events([{ kind: EVENT_RESPAWN, a: 1, b: 0 }], [], 3500);
check(g.hitMarks.length === 0, "old hit markers dropped");
check(h.respawned && g.killedBy === 0 && g.respawnIn(3500) === 0, "respawned");
g.events([{ kind: EVENT_KILL, a: 1, b: 2 }], [player(1, 1), player(2, 0), player(3, 1)], 4000);
const names = new Map([[1, "me"], [2, "bob"], [3, "cy"]]);
const board = g.scoreboard(names);
check(JSON.stringify(board.map((r) => [r.name, r.kills, r.deaths])) === JSON.stringify([["cy", 1, 0], ["me", 1, 1], ["bob", 0, 1]]),
  `scoreboard ${JSON.stringify(board)}`);
check(board.find((r) => r.me)?.id === 1, "me flagged");
check(g.feedAt(4000).map((f) => `${f.killer}>${f.victim}`).join() === "3>1,1>2", `feed ${JSON.stringify(g.feedAt(4000))}`);
check(g.feedAt(1500 + FEED_MS).length === 1, "feed entries expire");
for (let i = 0; i < 10; i++) g.events([{ kind: EVENT_KILL, a: 2, b: 3 }], [], 5000 + i);
check(g.feed.length === FEED_MAX, `feed capped at ${g.feed.length}`);
check(waitingFor(1) === 1 && waitingFor(2) === 0 && waitingFor(1, 4) === 3, "waiting for");
g.reset(7);
check(g.feed.length === 0 && g.scoreboard(names).every((r) => r.kills === 0 && r.deaths === 0 && !r.me), "reset");

report("game");
