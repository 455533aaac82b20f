/**
 * A host's `player.joined` / `player.left` events to the Auth server (which only logs them) cost no
 * datagram of their own: they go with the host's next message to it (here the session's results),
 * not each on its own as a player arrives.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { connectToAuth, type AuthClient } from '../../src/client/index.js';
import type { GameSession } from '../../src/host/index.js';
import { authAddress } from '../support/live-servers.js';
import { fxSuite, startAuth, startHost, until } from './helpers.js';

const suite = fxSuite();
const closers = suite.closers;

describe('player events from a host to the Auth server', () => {
  it('ride with the next message to it, in order, instead of one datagram each', async () => {
    const fx = suite.fx;
    // what the Auth server saw, in order: the player events it logged and the results it recorded
    const seen: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        const msg = (JSON.parse(chunk.toString()) as { msg?: string }).msg;
        if (msg === 'player.joined' || msg === 'player.left') seen.push(msg);
        cb();
      },
    });
    // heartbeats a minute apart: nothing else goes from the host to the Auth server while the game runs
    const auth = await startAuth(fx, { matchSize: 2, heartbeatIntervalMs: 60_000, logger: pino({ level: 'debug' }, sink) });
    closers.push(() => auth.close({ graceMs: 0 }));
    auth.on('session-ended', () => seen.push('ended'));
    let running: GameSession | undefined;
    const host = await startHost(fx, auth.hostPort, { begin: (s) => void (running = s) });
    closers.push(() => host.close({ graceMs: 0 }));
    await until(() => auth.connectedHosts().includes('host-1'), 'the host to register');

    const masterPem = fx.pki.path(fx.pki.get('master').certFile);
    const clients: AuthClient[] = await Promise.all(
      [0, 1].map((i) =>
        connectToAuth({ ...authAddress(auth.clientPort, fx.client, masterPem), gameVersion: '1.0.0', login: { method: 'guest', displayName: `p${i}` } }),
      ),
    );
    closers.push(() => Promise.all(clients.map((c) => c.close())));
    const games = await Promise.all(
      clients.map(async (c) => {
        const game = await c.joinHost(await c.matchmake({ mode: 'duel', timeoutMs: 30_000 }));
        await game.ready();
        return game;
      }),
    );
    closers.push(() => Promise.all(games.map((g) => g.close())));
    const session = await until(() => running, 'the game to begin');
    // both players are in and ready; a round trip to the Auth server for good measure, and still
    // no player event went on its own
    await clients[0]!.lobbies.list();
    await new Promise((r) => setTimeout(r, 300));
    expect(seen).toEqual([]);

    session.end({ outcomes: { [session.players[0]!.playerId]: { result: 'draw' }, [session.players[1]!.playerId]: { result: 'draw' } } });
    await until(() => seen.includes('ended'), 'the results');
    // the arrivals were told first, with the results
    expect(seen.slice(0, 3)).toEqual(['player.joined', 'player.joined', 'ended']);
  }, 60_000);
});
