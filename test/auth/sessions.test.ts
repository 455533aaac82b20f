import { describe, expect, it } from 'vitest';
import { MemorySessionStore, type HandOff, type SessionEvents, type SessionOptions, type SessionRecord, type Sessions } from '../../src/auth/sessions.js';
import { domain, domainOf, onEvent } from './helpers.js';

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
  domainOf(s).on('session', ({ type, ...payload }) => log.push([type, payload]));
  return log;
}
/** Session records through their driver, so `record` hears their events. */
const newSessions = (opts?: SessionOptions): Sessions => domain(opts ? { sessions: opts } : {}).sessions;

describe('sessions', () => {
  it('walks created -> awaiting ack -> handed off -> ended and keeps results and telemetry', async () => {
    const s = newSessions({ newId: () => 'S1' });
    const log = record(s);
    await s.create({ hostName: 'h1', transport: 'quic', players: ['a', 'b'], origin: { kind: 'match', id: 'm1' } }, 0);
    await s.sentToHost('S1', 1);
    expect(await code(s.hostAcked('S1', { a: handOff('S1', 'a') }, 2))).toBe('session.bad_request');
    await s.hostAcked('S1', { a: handOff('S1', 'a'), b: handOff('S1', 'b') }, 2);
    await s.ended('S1', { results: { winner: 'a' }, telemetry: { ticks: 9000 } }, 100);
    expect(log.map(([n]) => n)).toEqual(['created', 'awaiting-host-ack', 'handed-off', 'ended']);
    expect(await s.store.get('S1')).toMatchObject({ state: 'ended', endedAt: 100, results: { winner: 'a' }, telemetry: { ticks: 9000 } });
    expect(await s.statusOf('a')).toEqual({ state: 'none' });
    expect(await code(s.ended('S1', {}, 101))).toBe('session.wrong_state');
    expect(await code(s.sentToHost('nope', 0))).toBe('session.unknown');
  });

  it('a reconnecting player gets the very same hand-off while the session is live', async () => {
    const s = newSessions({ newId: () => 'S1' });
    await s.create({ hostName: 'h1', transport: 'quic', players: ['a', 'b'] }, 0);
    expect(await s.statusOf('a')).toEqual({ state: 'starting', sessionId: 'S1' });
    await s.hostAcked('S1', { a: handOff('S1', 'a'), b: handOff('S1', 'b') }, 1);
    const first = await s.statusOf('b');
    const again = await s.statusOf('b');
    expect(first).toEqual({ state: 'handed-off', sessionId: 'S1', handOff: handOff('S1', 'b') });
    expect(again).toEqual(first);
    // and the player cannot be put into a second session meanwhile
    expect(await code(s.create({ hostName: 'h2', transport: 'quic', players: ['c', 'b'] }, 2))).toBe('session.player_busy');
  });

  it('concurrent creates for the same player: exactly one wins', async () => {
    let n = 0;
    const s = newSessions({ newId: () => `S${++n}` });
    const results = await Promise.allSettled([
      s.create({ hostName: 'h1', transport: 'quic', players: ['a'] }, 0),
      s.create({ hostName: 'h2', transport: 'quic', players: ['a'] }, 0),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
  });

  it('host death marks its live sessions lost and names the players to notify; late results still land', async () => {
    let n = 0;
    const s = newSessions({ newId: () => `S${++n}` });
    const log = record(s);
    await s.create({ hostName: 'h1', transport: 'quic', players: ['a', 'b'] }, 0); // S1
    await s.create({ hostName: 'h1', transport: 'quic', players: ['c'] }, 0); // S2
    await s.create({ hostName: 'h2', transport: 'quic', players: ['d'] }, 0); // S3
    await s.create({ hostName: 'h1', transport: 'quic', players: ['e'] }, 0); // S4, ends first
    await s.hostAcked('S1', { a: handOff('S1', 'a'), b: handOff('S1', 'b') }, 1);
    await s.hostAcked('S4', { e: handOff('S4', 'e') }, 1);
    await s.ended('S4', {}, 2);

    // wire the registry's verdict into the session tracker, as the server will
    const reg = domain({ registry: { heartbeatIntervalMs: 1000, missedHeartbeats: 2 } }).registry;
    reg.register({ name: 'h1', region: 'eu', address: 'x', transports: ['quic'], capacity: 5, version: '1' }, 0);
    const lost: Array<Promise<{ players: string[] }>> = [];
    onEvent(domainOf(reg), 'host', 'dead', ({ host }) => lost.push(s.hostLost(host.name, 5000)));
    reg.tick(5000);
    const { players } = await lost[0]!;
    expect(players.sort()).toEqual(['a', 'b', 'c']);
    expect(
      log
        .filter(([n]) => n === 'lost')
        .map(([, e]) => e.session.id)
        .sort(),
    ).toEqual(['S1', 'S2']);
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
    const s = newSessions({ newId: () => `S${++n}`, hostAckTimeoutMs: 1000 });
    await s.create({ hostName: 'h1', transport: 'quic', players: ['a'] }, 0);
    await s.create({ hostName: 'h1', transport: 'quic', players: ['b'] }, 500);
    await s.sentToHost('S1', 10);
    expect((await s.tick(999)).map((r) => r.id)).toEqual([]);
    expect((await s.tick(1000)).map((r) => r.id)).toEqual(['S1']);
    expect(await s.store.get('S1')).toMatchObject({ state: 'failed', reason: 'host-ack-timeout' });
    await s.fail('S2', 'host refused: full', 600);
    expect(await s.statusOf('b')).toEqual({ state: 'none' });
    expect(await code(s.hostAcked('S2', { b: handOff('S2', 'b') }, 700))).toBe('session.wrong_state');
  });

  it('records returned by the store are copies', async () => {
    const s = newSessions({ newId: () => 'S1' });
    const r = await s.create({ hostName: 'h1', transport: 'quic', players: ['a'] }, 0);
    r.players.push('intruder');
    expect((await s.store.get('S1'))!.players).toEqual(['a']);
  });
});

describe('what hosts report is bounded', () => {
  /** A memory store that counts whole-record writes. */
  class CountingStore extends MemorySessionStore {
    puts = 0;
    override async put(r: SessionRecord): Promise<void> {
      this.puts++;
      return super.put(r);
    }
  }

  async function running(s: Sessions, id: string, hostName = 'h1', players = [`${id}-a`, `${id}-b`], now = 0) {
    await s.create({ id, hostName, transport: 'quic', players }, now);
    await s.hostAcked(id, Object.fromEntries(players.map((p) => [p, handOff(id, p)])), now);
  }

  it('only the host a session runs on may report it; unknown sessions are refused and leave no trace', async () => {
    const store = new MemorySessionStore();
    const s = newSessions({ store });
    const log = record(s);
    await running(s, 'S1', 'h1');
    const forged = await s.hostEnded('h2', 'S1', () => ({ winner: 'b' }), 10).catch((e: { code: string; details: unknown }) => e);
    expect(forged).toMatchObject({ code: 'session.wrong_host', details: { sessionId: 'S1', host: 'h1', reportedBy: 'h2' } });
    expect(await code(s.hostTelemetry('h2', 'S1', { host: 'h2', entries: [1] }))).toBe('session.wrong_host');
    expect(await s.store.get('S1')).toMatchObject({ state: 'handed-off' });
    expect((await s.store.get('S1'))!.telemetry).toBeUndefined();
    // the real host's results are recorded; its resend changes nothing
    const real = await s.hostEnded('h1', 'S1', (r) => ({ winner: r.players[0] }), 20);
    expect(real).toMatchObject({ duplicate: false, session: { state: 'ended', endedAt: 20, results: { winner: 'S1-a' } } });
    expect(await s.hostEnded('h1', 'S1', () => ({ winner: 'b' }), 30)).toMatchObject({ duplicate: true, session: { results: { winner: 'S1-a' } } });
    expect(log.filter(([n]) => n === 'ended')).toHaveLength(1);
    // 20,000 reports for invented sessions: all refused, nothing stored
    let refused = 0;
    for (let i = 0; i < 20_000; i++) {
      const c = await code(
        i % 2 ? s.hostEnded('h1', `invented-${i}`, () => ({}), 40) : s.hostTelemetry('h1', `invented-${i}`, { host: 'h1', entries: [1, 2, 3] }),
      );
      if (c === 'session.unknown') refused++;
    }
    expect(refused).toBe(20_000);
    expect(store.size).toBe(1);
  });

  it("adopts a registered host's results for unknown sessions (kept across our restart) only up to its bound", async () => {
    const store = new MemorySessionStore();
    const s = newSessions({ store, adoptPerHost: 3, retentionMs: 1_000 });
    const adopt = { players: ['seat-a', 'seat-b'] };
    const out: string[] = [];
    for (let i = 0; i < 5; i++) {
      out.push(
        await s
          .hostEnded('h1', `gone-${i}`, (r) => ({ seats: r.players }), 10, adopt)
          .then(
            (x) => (x.adopted ? 'adopted' : 'recorded'),
            (e: { code: string }) => e.code,
          ),
      );
    }
    expect(out).toEqual(['adopted', 'adopted', 'adopted', 'session.unknown', 'session.unknown']);
    expect(await store.get('gone-0')).toMatchObject({
      state: 'ended',
      hostName: 'h1',
      players: ['seat-a', 'seat-b'],
      results: { seats: ['seat-a', 'seat-b'] },
    });
    // a resend is a duplicate; another host may not write it; each host has its own bound
    expect(await s.hostEnded('h1', 'gone-0', () => ({}), 11, adopt)).toMatchObject({ duplicate: true, adopted: false });
    expect(await code(s.hostEnded('h2', 'gone-0', () => ({}), 11, adopt))).toBe('session.wrong_host');
    expect((await s.hostEnded('h2', 'other', () => ({}), 11, adopt)).adopted).toBe(true);
    // the bound is per retention window: once the adopted records are evicted, room again
    await s.tick(1_012);
    expect(store.size).toBe(0);
    expect((await s.hostEnded('h1', 'gone-9', () => ({}), 1_012, adopt)).adopted).toBe(true);
    // 20,000 invented results: memory stays within the bound
    for (let i = 0; i < 20_000; i++) await code(s.hostEnded('h1', `invented-${i}`, () => ({}), 1_012, adopt));
    expect(store.size).toBe(3);
  });

  it('caps telemetry per session, stores a resend once, and never rewrites the record for it', async () => {
    const store = new CountingStore();
    const s = newSessions({ store, telemetryPerSession: 1_000 });
    await running(s, 'S1');
    const putsBefore = store.puts;
    const batch = (n: number) => Array.from({ length: 500 }, (_, i) => ({ n, i }));
    const outcomes = [];
    for (let n = 0; n < 400; n++) outcomes.push(await s.hostTelemetry('h1', 'S1', { host: 'h1', entries: batch(n), id: `t${n}` }));
    expect(outcomes.slice(0, 3)).toEqual([
      { stored: 500, dropped: 0, duplicate: false },
      { stored: 500, dropped: 0, duplicate: false },
      { stored: 0, dropped: 500, duplicate: false },
    ]);
    expect(outcomes.reduce((n, o) => n + o.stored, 0)).toBe(1_000);
    expect(outcomes.reduce((n, o) => n + o.dropped, 0)).toBe(399 * 500 - 500);
    expect(await s.hostTelemetry('h1', 'S1', { host: 'h1', entries: batch(0), id: 't0' })).toEqual({ stored: 0, dropped: 0, duplicate: true });
    // appended in place: no whole-record write per batch
    expect(store.puts).toBe(putsBefore);
    const t = (await s.store.get('S1'))!.telemetry as Array<{ entries: unknown[] }>;
    expect(t.reduce((n, x) => n + x.entries.length, 0)).toBe(1_000);
    // telemetry that came before the results stays with them
    await s.hostEnded('h1', 'S1', () => ({}), 5);
    expect(((await s.store.get('S1'))!.telemetry as unknown[]).length).toBe(400);
  });

  it('forgets finished sessions after the retention window; a host loss looks only at its live sessions', async () => {
    const store = new MemorySessionStore();
    const s = newSessions({ store, retentionMs: 1_000 });
    for (let i = 0; i < 100; i++) {
      await running(s, `old-${i}`, i % 2 ? 'h1' : 'h2', undefined, 0);
      await s.hostEnded(i % 2 ? 'h1' : 'h2', `old-${i}`, () => ({}), 10);
    }
    await running(s, 'live-1', 'h1', undefined, 500);
    await running(s, 'live-2', 'h2', undefined, 500);
    expect(store.size).toBe(102);
    expect((await store.liveByHost('h1')).map((r) => r.id)).toEqual(['live-1']);
    await s.tick(1_009);
    expect(store.size).toBe(102); // not yet: ended at 10, kept 1,000 ms
    await s.tick(1_011);
    expect(store.size).toBe(2);
    expect(await code(s.hostEnded('h1', 'old-1', () => ({}), 1_012))).toBe('session.unknown');
    const lost = await s.hostLost('h1', 1_020);
    expect(lost.sessions.map((r) => r.id)).toEqual(['live-1']);
    expect(await store.liveByHost('h1')).toEqual([]);
    expect((await store.liveByHost('h2')).map((r) => r.id)).toEqual(['live-2']);
  });

  it('keeps at most maxFinished finished sessions, oldest forgotten first; live ones are never evicted', async () => {
    const store = new MemorySessionStore({ maxFinished: 3 });
    const s = newSessions({ store });
    await running(s, 'live-1', 'h1', ['a', 'b'], 0);
    for (let i = 0; i < 6; i++) {
      await running(s, `done-${i}`, 'h2', undefined, i);
      await s.hostEnded('h2', `done-${i}`, () => ({}), 10 + i);
    }
    expect(store.size).toBe(4);
    expect(await store.get('done-2')).toBeUndefined();
    expect((await store.get('done-3'))?.state).toBe('ended');
    expect((await store.get('done-5'))?.state).toBe('ended');
    expect((await store.get('live-1'))?.state).toBe('handed-off');
    expect((await store.liveByPlayer('a'))?.id).toBe('live-1');
    // a forgotten session's late report is refused like any unknown one
    expect(await code(s.hostEnded('h2', 'done-0', () => ({}), 20))).toBe('session.unknown');
  });
});
