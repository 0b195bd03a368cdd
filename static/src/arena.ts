// The reference arena's layout (docs/protocol.md, "Arena rules"; the
// obstacles are game/arena.go `arenaObstacles`).
//
// Players get the layout in `welcome`, and the play page only draws this one
// until then. Spectators get no layout at all: the spectator stream has no
// arena message, so the watch page draws this one. Keep it in step with the
// server's.

import { Arena } from "./protocol";

export const REFERENCE_ARENA: Arena = Object.freeze({
  w: 1600,
  h: 900,
  obstacles: Object.freeze([
    { x: 360, y: 180, w: 160, h: 40 },
    { x: 1080, y: 180, w: 160, h: 40 },
    { x: 740, y: 380, w: 120, h: 140 },
    { x: 360, y: 680, w: 160, h: 40 },
    { x: 1080, y: 680, w: 160, h: 40 },
  ]) as Arena["obstacles"],
});
