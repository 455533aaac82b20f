import { describe, expect, it } from 'vitest';
import { HostRegistry, type HostInfo } from '../../src/auth/host-registry.js';
import { domain, onEvent } from './helpers.js';

const host = (name: string, over: Partial<HostInfo> = {}): HostInfo => ({
  name,
  region: 'eu',
  address: `${name}.example:4433`,
  transports: ['quic'],
  capacity: 10,
  version: '1.0.0',
  ...over,
});

describe('host registry', () => {
  it('marks a host dead after N missed heartbeats, and never picks it', () => {
    const d = domain({ registry: { heartbeatIntervalMs: 1000, missedHeartbeats: 3 } });
    const reg = d.registry;
    const dead: string[] = [];
    onEvent(d, 'host', 'dead', ({ host }) => dead.push(host.name));
    reg.register(host('h1'), 0);
    reg.register(host('h2'), 0);
    expect(reg.heartbeat('h1', { active: 1 }, 2500)).toBe(true);
    expect(reg.tick(3000)).toEqual([]); // exactly 3 intervals silent: not yet
    expect(reg.tick(3001).map((h) => h.name)).toEqual(['h2']);
    expect(dead).toEqual(['h2']);
    expect(reg.get('h2')!.state).toBe('dead');
    expect(reg.tick(4000)).toEqual([]); // dies once
    expect(reg.heartbeat('h2', { active: 0 }, 4000)).toBe(false); // must register again
    const p = reg.pick({ transport: 'quic' });
    expect(p.ok && p.host.name).toBe('h1');
    reg.register(host('h2'), 4100);
    expect(reg.get('h2')!.state).toBe('alive');
    expect(reg.heartbeat('nope', { active: 0 }, 0)).toBe(false);
  });

  it('picks the transport, then preferred regions in order, then least loaded', () => {
    const reg = new HostRegistry();
    reg.register(host('eu-busy', { region: 'eu', capacity: 10 }), 0);
    reg.register(host('eu-idle', { region: 'eu', capacity: 10 }), 0);
    reg.register(host('us-1', { region: 'us', transports: ['quic', 'netcode'], capacity: 4 }), 0);
    reg.register(host('asia-1', { region: 'asia', transports: ['netcode'], capacity: 100 }), 0);
    reg.heartbeat('eu-busy', { active: 6 }, 1);
    reg.heartbeat('eu-idle', { active: 2 }, 1);
    reg.heartbeat('us-1', { active: 1 }, 1);
    const pick = (req: Parameters<HostRegistry['pick']>[0]) => {
      const r = reg.pick(req);
      return r.ok ? [r.host.name, r.region, r.preferredRegion] : r.reason;
    };
    expect(pick({ transport: 'quic', regions: ['eu', 'us'] })).toEqual(['eu-idle', 'eu', true]);
    expect(pick({ transport: 'quic', regions: ['us', 'eu'] })).toEqual(['us-1', 'us', true]);
    expect(pick({ transport: 'netcode', regions: ['eu', 'us'] })).toEqual(['us-1', 'us', true]);
    // no preferred region has one: fall back to the least loaded anywhere (asia 0/100 beats us 1/4)
    expect(pick({ transport: 'netcode', regions: ['eu'] })).toEqual(['asia-1', 'asia', false]);
    expect(pick({ transport: 'mqtt' })).toBe('no-host-available');
    expect(pick({ transport: 'quic', versions: ['2.0.0'] })).toBe('no-host-available');
  });

  it('counts reservations toward capacity and says clearly when all are full', () => {
    const reg = new HostRegistry({ reservationTtlMs: 10_000 });
    reg.register(host('a', { capacity: 2 }), 0);
    reg.register(host('b', { capacity: 2 }), 0);
    reg.heartbeat('a', { active: 1 }, 0);
    const first = reg.pick({ transport: 'quic' });
    expect(first.ok && first.host.name).toBe('b');
    reg.reserve('b', 's1', 0);
    reg.reserve('b', 's2', 0);
    expect(() => reg.reserve('b', 's2', 0)).toThrow(/already exists/);
    const second = reg.pick({ transport: 'quic' });
    expect(second.ok && second.host.name).toBe('a');
    reg.reserve('a', 's3', 0);
    const none = reg.pick({ transport: 'quic' });
    expect(none).toEqual({ ok: false, reason: 'no-host-available', detail: 'all 2 host(s) offering "quic" are full' });
    reg.release('s1');
    reg.release('s1'); // idempotent
    expect(reg.get('b')!.reserved).toBe(1);
    const third = reg.pick({ transport: 'quic' });
    expect(third.ok && third.host.name).toBe('b');
    reg.heartbeat('a', { active: 1 }, 9_000);
    reg.heartbeat('b', { active: 0 }, 9_000);
    reg.tick(10_000); // unreleased reservations expire
    expect(reg.get('a')!.reserved).toBe(0);
    expect(reg.get('b')!.reserved).toBe(0);
  });

  it('holds a session from reservation to end, counting it once whatever the heartbeats say', () => {
    const reg = new HostRegistry({ reservationTtlMs: 10_000 });
    reg.register(host('a', { capacity: 2 }), 0);
    reg.reserve('a', 's1', 0);
    reg.confirm('s1', 1); // the host acknowledged s1
    expect(reg.get('a')).toMatchObject({ reserved: 1, confirmed: 1, load: 1 });
    reg.heartbeat('a', { active: 1 }, 2); // ...and its heartbeats count it: still one
    expect(reg.get('a')!.load).toBe(1);
    reg.reserve('a', 's2', 3);
    expect(reg.get('a')!.load).toBe(2);
    expect(reg.pick({ transport: 'quic' })).toMatchObject({ ok: false, detail: 'all 1 host(s) offering "quic" are full' });
    // an ack that came before the heartbeat counting it: the slot is not freed meanwhile
    reg.confirm('s2', 4);
    reg.heartbeat('a', { active: 1 }, 5);
    expect(reg.get('a')!.load).toBe(2);
    // confirmed sessions do not expire like pending ones: a game outlasts the TTL
    for (let t = 1_000; t <= 9_000; t += 1_000) reg.heartbeat('a', { active: 2 }, t);
    reg.tick(20_000);
    expect(reg.get('a')).toMatchObject({ reserved: 2, load: 2 });
    // s1 ended (results in): its slot frees at once, without waiting for a heartbeat to agree
    reg.release('s1');
    expect(reg.get('a')).toMatchObject({ reserved: 1, confirmed: 1, active: 1, load: 1 });
    expect(reg.pick({ transport: 'quic' }).ok).toBe(true);
    // a heartbeat that had already dropped it is not counted twice
    reg.heartbeat('a', { active: 1 }, 20_500);
    reg.release('s2');
    expect(reg.get('a')).toMatchObject({ reserved: 0, active: 0, load: 0 });
  });

  it('counts sessions it holds nothing for (the host ran them before we started) from heartbeats', () => {
    const reg = new HostRegistry();
    reg.register(host('a', { capacity: 2 }), 0);
    reg.heartbeat('a', { active: 2 }, 1);
    expect(reg.pick({ transport: 'quic' }).ok).toBe(false);
    reg.heartbeat('a', { active: 1 }, 2);
    reg.reserve('a', 's1', 2);
    expect(reg.get('a')!.load).toBe(2);
  });

  it('trims confirmed reservations the heartbeats have not counted for a TTL (results that never came)', () => {
    const reg = new HostRegistry({ reservationTtlMs: 10_000, heartbeatIntervalMs: 1_000, missedHeartbeats: 100 });
    reg.register(host('a', { capacity: 3 }), 0);
    for (const id of ['s1', 's2', 's3']) {
      reg.reserve('a', id, 0);
      reg.confirm(id, 0);
    }
    reg.heartbeat('a', { active: 3 }, 1_000);
    reg.heartbeat('a', { active: 1 }, 2_000); // two ended on the host; their results are not here yet
    reg.tick(11_999);
    expect(reg.get('a')!.load).toBe(3);
    reg.heartbeat('a', { active: 1 }, 11_000);
    reg.tick(12_000);
    // the oldest two go; the one the host still runs stays held
    expect(reg.get('a')).toMatchObject({ reserved: 1, confirmed: 1, load: 1 });
    reg.release('s1'); // late results for a trimmed one: nothing happens
    reg.release('s2');
    expect(reg.get('a')!.reserved).toBe(1);
    reg.release('s3');
    expect(reg.get('a')!.reserved).toBe(0);
  });

  it('says which hosts are excluded when they are the only ones', () => {
    const reg = new HostRegistry();
    reg.register(host('a'), 0);
    expect(reg.pick({ transport: 'quic', exclude: ['a'] })).toEqual({
      ok: false,
      reason: 'no-host-available',
      detail: 'the 1 host(s) offering "quic" failed this session recently',
    });
    reg.register(host('b', { capacity: 1 }), 0);
    reg.reserve('b', 's1', 0);
    expect(reg.pick({ transport: 'quic', exclude: ['a'] })).toMatchObject({
      detail: 'all 1 host(s) offering "quic" are full; 1 more failed this session recently',
    });
  });

  it('skips draining hosts; re-registering drops old reservations; unregister removes', () => {
    const reg = new HostRegistry();
    reg.register(host('a'), 0);
    reg.register(host('b'), 0);
    reg.heartbeat('a', { active: 0, draining: true, metrics: { cpu: 0.2 } }, 1);
    const p = reg.pick({ transport: 'quic' });
    expect(p.ok && p.host.name).toBe('b');
    expect(reg.get('a')!.metrics).toEqual({ cpu: 0.2 });
    reg.reserve('b', 'r1', 1);
    reg.register(host('b', { capacity: 3 }), 2);
    expect(reg.get('b')).toMatchObject({ reserved: 0, capacity: 3 });
    reg.unregister('b');
    expect(reg.pick({ transport: 'quic' }).ok).toBe(false);
    expect(reg.list().map((h) => h.name)).toEqual(['a']);
    expect(() => reg.reserve('b', 'r2', 3)).toThrow(/not registered/);
  });

  it('rejects malformed registrations and heartbeats', () => {
    const reg = new HostRegistry();
    expect(() => reg.register(host('x', { capacity: 0 }), 0)).toThrow(/capacity/);
    expect(() => reg.register(host('x', { transports: [] }), 0)).toThrow(/transport/);
    reg.register(host('x'), 0);
    expect(() => reg.heartbeat('x', { active: -1 }, 1)).toThrow(/active/);
  });
});
