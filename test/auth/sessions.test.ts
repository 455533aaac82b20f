import { describe, expect, it } from 'vitest';
import { HostRegistry } from '../../src/auth/host-registry.js';
import { SESSION_ERRORS, Sessions, type HandOff, type SessionEvents } from '../../src/auth/sessions.js';

const handOff = (sessionId: string, player: string): HandOff => ({
  sessionId,
  host: { name: 'h1', address: 'h1.example:4433', tlsName: 'h1.example' },
  transport: 'quic',
  credentials: { cert: `cert-for-${player}` },
});

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as { code: string }).code;
  }
  return 'no error';
}

function record(s: Sessions) {
  const log: Array<[keyof SessionEvents, any]> = [];
  for (const n of ['created', 'awaiting-host-ack', 'handed-off', 'ended', 'failed', 'lost'] as const) s.on(n, (e: any) => log.push([n, e]));
  return log;
}

describe('sessions', () => {
  it('walks created -> awaiting ack -> handed off -> ended and keeps results and telemetry', async () => {
    const s = new Sessions({ newId: () => 'S1' });
    const log = record(s);
    await s.create({ hostName: 'h1', transport: 'quic', players: ['a', 'b'], origin: { kind: 'match', id: 'm1' } }, 0);
    await s.sentToHost('S1', 1);
    expect(await code(s.hostAcked('S1', { a: handOff('S1', 'a') }, 2))).toBe(SESSION_ERRORS.badRequest);
    await s.hostAcked('S1', { a: handOff('S1', 'a'), b: handOff('S1', 'b') }, 2);
    await s.ended('S1', { results: { winner: 'a' }, telemetry: { ticks: 9000 } }, 100);
    expect(log.map(([n]) => n)).toEqual(['created', 'awaiting-host-ack', 'handed-off', 'ended']);
    expect(await s.store.get('S1')).toMatchObject({ state: 'ended', endedAt: 100, results: { winner: 'a' }, telemetry: { ticks: 9000 } });
    expect(await s.statusOf('a')).toEqual({ state: 'none' });
    expect(await code(s.ended('S1', {}, 101))).toBe(SESSION_ERRORS.wrongState);
    expect(await code(s.sentToHost('nope', 0))).toBe(SESSION_ERRORS.unknown);
  });

  it('a reconnecting player gets the very same hand-off while the session is live', async () => {
    const s = new Sessions({ newId: () => 'S1' });
    await s.create({ hostName: 'h1', transport: 'quic', players: ['a', 'b'] }, 0);
    expect(await s.statusOf('a')).toEqual({ state: 'starting', sessionId: 'S1' });
    await s.hostAcked('S1', { a: handOff('S1', 'a'), b: handOff('S1', 'b') }, 1);
    const first = await s.statusOf('b');
    const again = await s.statusOf('b');
    expect(first).toEqual({ state: 'handed-off', sessionId: 'S1', handOff: handOff('S1', 'b') });
    expect(again).toEqual(first);
    // and the player cannot be put into a second session meanwhile
    expect(await code(s.create({ hostName: 'h2', transport: 'quic', players: ['c', 'b'] }, 2))).toBe(SESSION_ERRORS.playerBusy);
  });

  it('concurrent creates for the same player: exactly one wins', async () => {
    let n = 0;
    const s = new Sessions({ newId: () => `S${++n}` });
    const results = await Promise.allSettled([
      s.create({ hostName: 'h1', transport: 'quic', players: ['a'] }, 0),
      s.create({ hostName: 'h2', transport: 'quic', players: ['a'] }, 0),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
  });

  it('host death marks its live sessions lost and names the players to notify; late results still land', async () => {
    let n = 0;
    const s = new Sessions({ newId: () => `S${++n}` });
    const log = record(s);
    await s.create({ hostName: 'h1', transport: 'quic', players: ['a', 'b'] }, 0); // S1
    await s.create({ hostName: 'h1', transport: 'quic', players: ['c'] }, 0); // S2
    await s.create({ hostName: 'h2', transport: 'quic', players: ['d'] }, 0); // S3
    await s.create({ hostName: 'h1', transport: 'quic', players: ['e'] }, 0); // S4, ends first
    await s.hostAcked('S1', { a: handOff('S1', 'a'), b: handOff('S1', 'b') }, 1);
    await s.hostAcked('S4', { e: handOff('S4', 'e') }, 1);
    await s.ended('S4', {}, 2);

    // wire the registry's verdict into the session tracker, as the server will
    const reg = new HostRegistry({ heartbeatIntervalMs: 1000, missedHeartbeats: 2 });
    reg.register({ name: 'h1', region: 'eu', address: 'x', transports: ['quic'], capacity: 5, version: '1' }, 0);
    const lost: Array<Promise<{ players: string[] }>> = [];
    reg.on('dead', ({ host }) => lost.push(s.hostLost(host.name, 5000)));
    reg.tick(5000);
    const { players } = await lost[0]!;
    expect(players.sort()).toEqual(['a', 'b', 'c']);
    expect(log.filter(([n]) => n === 'lost').map(([, e]) => e.session.id).sort()).toEqual(['S1', 'S2']);
    expect(await s.statusOf('a')).toEqual({ state: 'none' });
    expect((await s.statusOf('d')).state).toBe('starting'); // other host untouched
    // the lost players may start a new session
    await s.create({ hostName: 'h2', transport: 'quic', players: ['a'] }, 6000);
    // a late result from the "dead" host is still recorded
    await s.ended('S1', { results: { winner: 'b' } }, 7000);
    expect(await s.store.get('S1')).toMatchObject({ state: 'ended', results: { winner: 'b' } });
  });

  it('fails sessions the host never acknowledged, and explicit failures free players', async () => {
    let n = 0;
    const s = new Sessions({ newId: () => `S${++n}`, hostAckTimeoutMs: 1000 });
    await s.create({ hostName: 'h1', transport: 'quic', players: ['a'] }, 0);
    await s.create({ hostName: 'h1', transport: 'quic', players: ['b'] }, 500);
    await s.sentToHost('S1', 10);
    expect((await s.tick(999)).map((r) => r.id)).toEqual([]);
    expect((await s.tick(1000)).map((r) => r.id)).toEqual(['S1']);
    expect(await s.store.get('S1')).toMatchObject({ state: 'failed', reason: 'host-ack-timeout' });
    await s.fail('S2', 'host refused: full', 600);
    expect(await s.statusOf('b')).toEqual({ state: 'none' });
    expect(await code(s.hostAcked('S2', { b: handOff('S2', 'b') }, 700))).toBe(SESSION_ERRORS.wrongState);
  });

  it('records returned by the store are copies', async () => {
    const s = new Sessions({ newId: () => 'S1' });
    const r = await s.create({ hostName: 'h1', transport: 'quic', players: ['a'] }, 0);
    r.players.push('intruder');
    expect((await s.store.get('S1'))!.players).toEqual(['a']);
  });
});
