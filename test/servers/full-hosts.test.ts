/**
 * More players than host slots (issue #9, item 2): 2 real hosts x 2 session slots, 12 bots in
 * 2-player tic-tac-toe matches. Every session holds its host slot from the pick until its results
 * come, so no session is sent to a full host; the matches beyond the slots wait (`session.waiting`)
 * and start as games end. Every player reaches a game and finishes it: none lost, none stuck.
 */
import { describe, expect, it } from 'vitest';
import { connectToAuth, type AuthClient, type GameEnd } from '../../src/client/index.js';
import type { HostServer } from '../../src/host/server.js';
import { gameVersionRange } from '../../src/protocol/index.js';
import type { SessionRecord } from '../../src/auth/sessions.js';
import { ticTacToeHostGame } from '../../examples/tictactoe/host-game.js';
import { chooseMove } from '../../examples/tictactoe/bot.js';
import { playTicTacToe } from '../../examples/tictactoe/player.js';
import { GAME_VERSION, MODE, TicTacToeExt } from '../../examples/tictactoe/messages.js';
import { authAddress } from '../support/live-servers.js';
import { fxSuite, startAuth, startHost, until } from './helpers.js';

const suite = fxSuite();
const closers = suite.closers;

const PLAYERS = 12;
const SLOTS_PER_HOST = 2;

const bot = (state: Parameters<typeof chooseMove>[0], mark: Parameters<typeof chooseMove>[1]) => chooseMove(state, mark, () => 0.5)!;

describe('hosts full: sessions wait for a slot instead of being lost', () => {
  it(`${PLAYERS} players on 2 hosts x ${SLOTS_PER_HOST} slots all reach a game and finish it`, async () => {
    const fx = suite.fx;
    // slow heartbeats: an acknowledged session is long unknown to them, so only holding its slot
    // keeps the next session off a full host
    const auth = await startAuth(fx, {
      gameVersion: GAME_VERSION,
      acceptGameVersion: gameVersionRange({ min: '1.0.0', below: '2.0.0' }),
      heartbeatIntervalMs: 3_000,
      noHostTimeoutMs: 20_000,
    });
    closers.push(() => auth.close({ graceMs: 0 }));
    const ended: SessionRecord[] = [];
    auth.on('session-ended', (r) => ended.push(r));
    // the hosts' own view of their load: never more sessions than slots, and no refusal
    const hosts: HostServer<TicTacToeExt>[] = [];
    for (const [name, creds] of [
      ['host-1', fx.host],
      ['host-2', fx.host2],
    ] as const) {
      const h = await startHost(fx, auth.hostPort, ticTacToeHostGame, {
        name,
        cert: creds.cert,
        key: creds.key,
        version: GAME_VERSION,
        capacity: { sessions: SLOTS_PER_HOST },
      });
      closers.push(() => h.close({ graceMs: 0 }));
      hosts.push(h);
    }
    await until(() => auth.connectedHosts().length === 2, 'both hosts registered');
    let most = 0;
    const watch = setInterval(() => {
      for (const h of hosts) most = Math.max(most, h.domain.sessions.load().sessions);
    }, 20);
    closers.push(async () => clearInterval(watch));

    const masterPem = fx.pki.path(fx.pki.get('master').certFile);
    const clients: AuthClient<TicTacToeExt>[] = await Promise.all(
      Array.from({ length: PLAYERS }, () =>
        connectToAuth<TicTacToeExt>({ ...authAddress(auth.clientPort, fx.client, masterPem), gameVersion: GAME_VERSION, extSchema: TicTacToeExt }),
      ),
    );
    // closed together: each client's graceful close waits on its own, so one after another would take 12 times as long
    closers.push(() => Promise.all(clients.map((c) => c.close())));
    await Promise.all(clients.map((c, i) => c.login({ method: 'guest', displayName: `bot${i}` })));
    const waited = new Set<string>();
    for (const c of clients) c.on('sessionWaiting', (w) => void (w.matchId !== undefined && waited.add(w.matchId)));

    const outcomes = await Promise.all(
      clients.map(async (c): Promise<GameEnd<TicTacToeExt> | string> => {
        try {
          const ticket = await c.matchmake({ mode: MODE, timeoutMs: 90_000 });
          const game = await c.joinHost(ticket);
          return await playTicTacToe(game, bot);
        } catch (err) {
          return `${(err as { code?: string }).code ?? 'error'}: ${(err as Error).message}`;
        }
      }),
    );
    clearInterval(watch);
    const failures = outcomes.filter((o) => typeof o === 'string');
    expect(failures).toEqual([]);
    for (const o of outcomes) expect(typeof o !== 'string' && o.reason).toBe('completed');
    // two of these bots always draw; each game is recorded once
    await until(() => ended.length === PLAYERS / 2, 'the results of every game');
    expect(new Set(ended.map((r) => r.id)).size).toBe(PLAYERS / 2);
    // more matches than slots: some waited, and no host ever ran more than it has
    expect(waited.size).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(SLOTS_PER_HOST);
    // nothing left held: every slot was released as its game ended
    await until(() => auth.registry.list().every((h) => h.reserved === 0), 'every slot released');
    expect(auth.handoffs.pendingCount).toBe(0);
    expect(auth.handoffs.waitingForHost).toBe(0);
  }, 150_000);
});
