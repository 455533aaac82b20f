import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { serveError } from './errors.js';
import type { HostGame } from '../host/game.js';

/**
 * The game `iyesmp serve host` runs when none is given: it relays every `game.msg` to the other
 * players of the session, answers `game.action` with what it was sent, and ends the session with
 * a draw when a player sends a `game.msg` on channel `end`. Enough for smoke tests and demos.
 */
export const relayGame: HostGame = {
  begin(s) {
    s.onAction((_playerId, ext) => ext);
    s.on('message', ({ playerId, channel, ext }) => {
      if (channel === 'end') s.end({ outcomes: Object.fromEntries(s.players.map((p) => [p.playerId, { result: 'draw' }])) });
      else s.broadcast({ ...(channel !== undefined ? { channel } : {}), ext }, { except: playerId });
    });
  },
};

/**
 * Loads a game module (`default` or `game` export with a `begin` function): `file` (from `--game`),
 * else `configured` (the host config's `[game] module`), else the relay.
 */
export async function loadGame(file: string | undefined, configured?: string): Promise<HostGame> {
  file ??= configured;
  if (!file) return relayGame;
  let mod: { default?: unknown; game?: unknown };
  try {
    mod = (await import(pathToFileURL(path.resolve(file)).href)) as typeof mod;
  } catch (err) {
    throw serveError('game_module', `cannot load the game module ${file}: ${(err as Error).message}`);
  }
  const game = (mod.game ?? mod.default) as HostGame | undefined;
  if (!game || typeof game.begin !== 'function') {
    throw serveError('game_module', `${file} must export \`game\` or a default export with a begin(session) function`);
  }
  return game;
}
