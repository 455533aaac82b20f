/**
 * The game-host client against a scripted host (real protocol layer, in-memory stream): roster,
 * begin, messages and end arrive as typed events; actions resolve or reject with the host's reason;
 * a connection that ends before the game did is `host_lost`, one that ends after is not an error.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { GameSession } from '../../src/client/index.js';
import { IyesmpError } from '../../src/errors.js';
import { hostFamily } from '../../src/protocol/index.js';
import { ScriptedPeer } from './helpers.js';
import { duplexPair } from '../support/duplex.js';

const Ext = z.object({ n: z.int() });
type Ext = z.output<typeof Ext>;

const players = [
  { playerId: 'p1', connected: true, ready: false },
  { playerId: 'p2', connected: false, ready: false },
];

async function join(refuse?: { code: string; reason: string }) {
  const { client, server } = duplexPair();
  const peer = new ScriptedPeer(hostFamily, server, {
    welcome: (h) => ({ sessionId: (h as { sessionId: string }).sessionId, state: 'waiting', players }),
    ...(refuse ? { refuse } : {}),
  });
  const game = await GameSession.open<Ext>(client, { sessionId: 'S1', playerId: 'p1' }, { gameVersion: '1.0.0', extSchema: Ext });
  return { game, peer };
}

describe('game session', () => {
  it('carries the welcome, then status, begin, messages and the end as events', async () => {
    const { game, peer } = await join();
    expect(game.sessionId).toBe('S1');
    expect(game.state).toBe('waiting');
    expect(game.players).toEqual(players);

    const ready = game.ready();
    const r = await peer.request('player.ready');
    expect(r.body).toEqual({ ready: true });
    await peer.respond(r.id, {});
    await ready;

    const status = game.next('status');
    await peer.notify('players.status', { players: players.map((p) => ({ ...p, connected: true, ready: true })) });
    expect((await status).every((p) => p.ready)).toBe(true);

    const begin = game.next('begin');
    await peer.notify('game.begin', { order: ['p2', 'p1'] });
    expect((await begin).order).toEqual(['p2', 'p1']);
    expect(game.state).toBe('playing');
    expect(await game.waitForBegin()).toEqual({ order: ['p2', 'p1'] });

    const msg = game.next('message');
    await peer.notify('game.msg', { from: 'p2', channel: 'chat', ext: { n: 7 } });
    expect(await msg).toEqual({ from: 'p2', channel: 'chat', ext: { n: 7 } });

    game.send({ n: 3 }, { channel: 'moves', seq: 1 });
    await new Promise((res) => setTimeout(res, 50));
    expect(peer.events.find((e) => e.kind === 'event')).toMatchObject({ type: 'game.msg', body: { ext: { n: 3 }, channel: 'moves', seq: 1 } });

    const act = game.action({ n: 1 });
    const a = await peer.request('game.action');
    await peer.respond(a.id, { ext: { n: 2 } });
    expect(await act).toEqual({ n: 2 });

    const refused = game.action({ n: 9 });
    const a2 = await peer.request('game.action');
    await peer.fail(a2.id, 'not_your_turn', 'it is not your turn');
    const e = await refused.catch((err: unknown) => err);
    expect(e).toBeInstanceOf(IyesmpError);
    expect((e as IyesmpError).code).toBe('not_your_turn');
    expect((e as IyesmpError).message).toBe('the action refused: it is not your turn');

    const closed = game.next('close');
    await peer.notify('game.end', { reason: 'completed', results: [{ playerId: 'p1', outcome: 'win', rank: 1 }] });
    await peer.close('normal', 'session_ended');
    expect(await game.result).toEqual({ reason: 'completed', results: [{ playerId: 'p1', outcome: 'win', rank: 1 }] });
    expect(await closed).toEqual({});
    expect(game.state).toBe('ended');
  });

  it('a connection that ends before the game did is host_lost, and the result rejects', async () => {
    const { game, peer } = await join();
    const closed = game.next('close');
    await peer.end();
    const { error } = await closed;
    expect(error?.code).toBe('host_lost');
    expect(error?.message).toMatch(/^the connection to the game host was lost/);
    const e = await game.result.catch((err: unknown) => err);
    expect((e as IyesmpError).code).toBe('host_lost');
    expect(() => game.send({ n: 1 })).toThrow(IyesmpError);
    await expect(game.ready()).rejects.toMatchObject({ code: 'host_lost' });
    await expect(game.waitForBegin()).rejects.toMatchObject({ code: 'host_lost' });
  });

  it('a refused join says why', async () => {
    const e = await join({ code: 'already_started', reason: 'the game began without you' }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(IyesmpError);
    expect((e as IyesmpError).code).toBe('already_started');
    expect((e as IyesmpError).message).toBe('the game host refused the connection: the game began without you');
  });

  it('leave tells the host, then closes without an error', async () => {
    const { game, peer } = await join();
    const closed = game.next('close');
    await game.leave('rage quit');
    expect(await closed).toEqual({});
    await new Promise((res) => setTimeout(res, 50));
    expect(peer.events.find((e) => e.kind === 'event')).toMatchObject({ type: 'player.leaving', body: { reason: 'rage quit' } });
  });

  it('ext that does not match the game schema never reaches the game: the connection closes as bad server data', async () => {
    const { game, peer } = await join();
    const seen: unknown[] = [];
    game.on('message', (m) => seen.push(m));
    const closed = game.next('close');
    await peer.notify('game.msg', { ext: { n: 'not a number' } });
    const { error } = await closed;
    expect(seen).toEqual([]);
    expect(error?.code).toBe('bad_server_data');
  });
});
