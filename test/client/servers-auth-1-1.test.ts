/**
 * iyesmp-auth/1.1 against the real Auth and Host servers on loopback: a match with no free host
 * hears the server's `session.waiting` and goes on once a host registers; a private lobby is
 * joined with the `joinCode` its creator got back; the host game's final state arrives in the
 * end's `ext`; and a session whose host is declared dead ends the joined game with `session_lost`.
 *
 * Each part needs the server side of 1.1 (src/auth, src/host); until that is in, the part skips
 * itself (checked from the server sources, so it turns on by itself when the change lands).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { MatchmakingStatus } from '../../src/client/index.js';
import type { HostGame } from '../../src/host/game.js';
import { startLiveServers, type LiveServers } from '../support/live-servers.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const source = (f: string): string => readFileSync(path.join(root, f), 'utf8');
const has = {
  waiting: source('src/auth/handoff/driver.ts').includes('notifyWaiting'),
  lost: source('src/auth/server.ts').includes("'session.lost'"),
  joinCode: source('src/auth/client-endpoint.ts').includes('body.joinCode'),
  endExt: /ext: results\.gameData/.test(source('src/host/server.ts')),
};

const T = 90_000;
const Ext = z.union([z.object({ t: z.literal('win') }), z.object({ t: z.literal('final'), board: z.string() })]);
type Ext = z.output<typeof Ext>;

let live: LiveServers<Ext>;

/** The first player to send {t:'win'} wins; the end carries the final state. */
const game: HostGame<Ext> = {
  begin(session) {
    session.on('message', ({ playerId, ext }) => {
      if (ext?.t !== 'win') return;
      session.end({
        outcomes: Object.fromEntries(session.players.map((p) => [p.playerId, { result: p.playerId === playerId ? 'win' : 'loss' }])),
        gameData: { t: 'final', board: `won by ${playerId}` },
      });
    });
  },
};

beforeAll(async () => {
  live = await startLiveServers<Ext>({
    prefix: 'iyesmp-client-auth11-',
    gameVersion: '1.0.0',
    extSchema: Ext,
    options: () => ({ auth: { matchSize: 2, noHostTimeoutMs: 60_000 } }),
    game,
    // started by the tests: the first one needs a match that finds no host
    deferHost: true,
  });
}, 120_000);

afterAll(async () => {
  await live?.close();
}, 30_000);

const player = (name: string) => live.player(name);

describe('iyesmp-auth/1.1 against real servers', () => {
  it('speaks 1.1 or later with the servers', async () => {
    const a = await player('zed');
    expect(a.protocolVersion.minor).toBeGreaterThanOrEqual(1);
  });

  it.skipIf(!has.waiting)(
    'with no host the server says it keeps looking; a host that registers then gets the game',
    async () => {
      const [a, b] = await Promise.all([player('ada'), player('bob')]);
      const seen: MatchmakingStatus[] = [];
      const tickets = Promise.all([
        a.matchmake({ mode: 'duel', timeoutMs: 60_000, onStatus: (s) => seen.push(s) }),
        b.matchmake({ mode: 'duel', timeoutMs: 60_000 }),
      ]);
      const w = await a.next('matchmaking', { filter: (s) => s.phase === 'waiting' && s.noHost !== undefined, timeoutMs: 20_000 });
      expect(w.phase === 'waiting' && w.noHost?.attempt).toBeGreaterThanOrEqual(1);
      expect(w.phase === 'waiting' && w.noHost?.giveUpAt).toBeGreaterThan(Date.now());
      await live.startHost();
      const [ta, tb] = await tickets;
      expect(ta.sessionId).toBe(tb.sessionId);
      expect(seen.map((s) => s.phase)).toContain('claiming');
      const [ga, gb] = await Promise.all([a.joinHost(ta), b.joinHost(tb)]);
      live.open.push(ga, gb);
      await Promise.all([ga.ready(), gb.ready()]);
      await ga.waitForBegin({ timeoutMs: 30_000 });
      ga.send({ t: 'win' });
      const end = await gb.result;
      expect(end.results.find((r) => r.playerId === ta.playerId)?.outcome).toBe('win');
      if (has.endExt) expect(end.ext).toEqual({ t: 'final', board: `won by ${ta.playerId}` });
    },
    T,
  );

  it.skipIf(!has.joinCode)(
    'a private lobby is joined with the joinCode its creator got back',
    async () => {
      await live.startHost();
      const [a, b] = await Promise.all([player('cy'), player('di')]);
      const lobby = await a.lobbies.create({ name: 'secret', visibility: 'private', maxPlayers: 2, mode: 'duel' });
      expect(lobby.joinCode).toMatch(/^[A-Z0-9]{4,}$/);
      // a private lobby's id is no way in; its code is, however it is typed
      await expect(b.lobbies.join(lobby.lobbyId)).rejects.toMatchObject({ code: 'lobby.not_found' });
      const typed = `${lobby.joinCode!.slice(0, 3).toLowerCase()}-${lobby.joinCode!.slice(3)}`;
      const joined = await b.lobbies.joinByCode(typed);
      expect(joined.lobbyId).toBe(lobby.lobbyId);
      expect(joined.members.map((m) => m.displayName).sort()).toEqual(['cy', 'di']);
    },
    T,
  );

  it.skipIf(!has.lost)(
    'a session whose host is declared dead ends the joined game with session_lost',
    async () => {
      await live.startHost();
      const [a, b] = await Promise.all([player('eve'), player('fay')]);
      const [ta, tb] = await Promise.all([a.matchmake({ mode: 'duel', timeoutMs: 30_000 }), b.matchmake({ mode: 'duel', timeoutMs: 30_000 })]);
      const [ga, gb] = await Promise.all([a.joinHost(ta), b.joinHost(tb)]);
      live.open.push(ga, gb);
      const lost = a.next('sessionLost', { timeoutMs: 20_000 });
      const closed = ga.next('close', { timeoutMs: 20_000 });
      // what the heartbeat rule does when the host goes silent
      await live.auth.sessions.hostLost('host-1', Date.now());
      expect(await lost).toEqual({ sessionId: ta.sessionId, reason: 'the game host stopped answering' });
      expect((await closed).error?.code).toBe('session_lost');
      expect(a.closed).toBe(false);
    },
    T,
  );
});
