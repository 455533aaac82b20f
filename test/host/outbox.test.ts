import { describe, expect, it } from 'vitest';
import { ResultsOutbox, type OutboxOptions } from '../../src/host/outbox.js';
import { driven, ofType } from './helpers.js';

function outbox(opts: OutboxOptions = {}, servers = ['auth-a']) {
  const { core: o, events } = driven(new ResultsOutbox<string>({ ackTimeoutMs: 1000, retry: { jitter: 0 }, ...opts }));
  for (const s of servers) o.addServer(s);
  return { o, events };
}

const ids = (items: { id: string }[]) => items.map((i) => i.id);

describe('ResultsOutbox', () => {
  it('queues while disconnected and delivers on reconnect', () => {
    const { o, events } = outbox();
    o.enqueue({ id: 'r1', kind: 'result', body: 'one' }, 0);
    o.enqueue({ id: 'r2', kind: 'result', body: 'two' }, 1);
    expect(o.pending('auth-a', 2)).toEqual([]);
    o.onConnected('auth-a', 10);
    const items = o.pending('auth-a', 10);
    expect(items).toEqual([
      { id: 'r1', kind: 'result', body: 'one', enqueuedAt: 0 },
      { id: 'r2', kind: 'result', body: 'two', enqueuedAt: 1 },
    ]);
    for (const i of items) o.markSent('auth-a', i.id, 10);
    expect(o.pending('auth-a', 10)).toEqual([]); // in flight
    expect(o.ack('auth-a', 'r1', 20)).toBe(true);
    expect(ofType(events, 'delivered')).toEqual([{ type: 'delivered', id: 'r1', kind: 'result', at: 20 }]);
    expect(o.ids()).toEqual(['r2']);
    expect(o.ack('auth-a', 'r1', 21)).toBe(false); // duplicate ack is harmless
  });

  it('limits how many items pending returns', () => {
    const { o } = outbox();
    for (let i = 0; i < 5; i++) o.enqueue({ id: `r${i}`, kind: 'result', body: '' }, i);
    o.onConnected('auth-a', 10);
    expect(ids(o.pending('auth-a', 10, 2))).toEqual(['r0', 'r1']);
  });

  it('resends an unacknowledged item after the ack timeout, then with growing backoff', () => {
    const { o } = outbox();
    o.enqueue({ id: 'r1', kind: 'result', body: '' }, 0);
    o.onConnected('auth-a', 0);
    o.markSent('auth-a', 'r1', 0);
    expect(o.nextDue()).toBe(1000);
    expect(o.pending('auth-a', 999)).toEqual([]);
    expect(ids(o.pending('auth-a', 1000))).toEqual(['r1']);
    o.markSent('auth-a', 'r1', 1000);
    expect(o.nextDue()).toBe(3000); // second wait: 2 × ack timeout
    o.markSent('auth-a', 'r1', 3000);
    expect(o.nextDue()).toBe(7000);
  });

  it('resends at once what was in flight when the connection dropped', () => {
    const { o } = outbox();
    o.enqueue({ id: 'r1', kind: 'result', body: '' }, 0);
    o.onConnected('auth-a', 0);
    o.markSent('auth-a', 'r1', 0);
    o.onDisconnected('auth-a', 5);
    expect(o.pending('auth-a', 6)).toEqual([]);
    expect(o.nextDue()).toBeUndefined(); // nothing to do while down
    o.onConnected('auth-a', 50);
    expect(ids(o.pending('auth-a', 50))).toEqual(['r1']);
  });

  it('is bounded: drops the oldest with a counter and a warning, telemetry before results', () => {
    const { o, events } = outbox({ capacity: 3 });
    o.enqueue({ id: 'r1', kind: 'result', body: '' }, 0);
    o.enqueue({ id: 't1', kind: 'telemetry', body: '' }, 1);
    o.enqueue({ id: 'r2', kind: 'result', body: '' }, 2);
    o.enqueue({ id: 'r3', kind: 'result', body: '' }, 3); // drops t1 though r1 is older
    expect(o.ids()).toEqual(['r1', 'r2', 'r3']);
    o.enqueue({ id: 'r4', kind: 'result', body: '' }, 4); // no telemetry left: the oldest result goes
    expect(o.ids()).toEqual(['r2', 'r3', 'r4']);
    expect(o.dropped).toBe(2);
    const drops = ofType(events, 'dropped');
    expect(drops.map((d) => [d.id, d.kind, d.dropped])).toEqual([
      ['t1', 'telemetry', 1],
      ['r1', 'result', 2],
    ]);
    expect(drops[1]!.message).toMatch(/outbox full \(3 items/);
  });

  it('queues what each call did, in order: a full outbox drops before it adds', () => {
    const o = new ResultsOutbox<string>({ capacity: 1 });
    o.addServer('auth-a');
    o.enqueue({ id: 'r1', kind: 'result', body: 'one' }, 0);
    expect(o.takeEvents()).toEqual([{ type: 'added', item: { id: 'r1', kind: 'result', body: 'one', enqueuedAt: 0 }, at: 0 }]);
    o.enqueue({ id: 'r2', kind: 'result', body: 'two', enqueuedAt: 1 }, 5);
    expect(o.takeEvents().map((e) => [e.type, e.type === 'added' ? e.item.id : e.id, e.at])).toEqual([
      ['dropped', 'r1', 5],
      ['added', 'r2', 5],
    ]);
    o.onConnected('auth-a', 6);
    o.markSent('auth-a', 'r2', 6);
    expect(o.takeEvents()).toEqual([]); // links and sends change no item
    o.ack('auth-a', 'r2', 7);
    expect(o.takeEvents()).toEqual([{ type: 'delivered', id: 'r2', kind: 'result', at: 7 }]);
    expect(o.takeEvents()).toEqual([]);
  });

  it('ignores a second enqueue of the same id', () => {
    const { o } = outbox();
    expect(o.enqueue({ id: 'r1', kind: 'result', body: 'a' }, 0)).toBe(true);
    expect(o.enqueue({ id: 'r1', kind: 'result', body: 'b' }, 1)).toBe(false);
    o.onConnected('auth-a', 2);
    expect(o.pending('auth-a', 2).map((i) => i.body)).toEqual(['a']);
  });

  describe('several Auth servers', () => {
    it('under `any`, one ack settles an item and one server carries it at a time', () => {
      const { o } = outbox({ delivery: 'any' }, ['a', 'b']);
      o.enqueue({ id: 'r1', kind: 'result', body: '' }, 0);
      o.enqueue({ id: 'r2', kind: 'result', body: '' }, 0);
      o.onConnected('a', 0);
      o.onConnected('b', 0);
      for (const i of o.pending('a', 0)) o.markSent('a', i.id, 0);
      expect(o.pending('b', 0)).toEqual([]); // in flight on a
      o.ack('a', 'r1', 10);
      expect(o.has('r1')).toBe(false);
      // a goes down with r2 unacknowledged: b takes it over at once
      o.onDisconnected('a', 20);
      expect(ids(o.pending('b', 20))).toEqual(['r2']);
      o.markSent('b', 'r2', 20);
      o.ack('b', 'r2', 30);
      expect(o.size).toBe(0);
    });

    it('under `any`, a slow server does not hold an item forever: another takes it after the ack timeout', () => {
      const { o } = outbox({ delivery: 'any' }, ['a', 'b']);
      o.enqueue({ id: 'r1', kind: 'result', body: '' }, 0);
      o.onConnected('a', 0);
      o.onConnected('b', 0);
      o.markSent('a', 'r1', 0);
      expect(o.pending('b', 999)).toEqual([]);
      expect(ids(o.pending('b', 1000))).toEqual(['r1']);
    });

    it('under `all`, every registered server must ack, and each gets it when it comes back', () => {
      const { o, events } = outbox({ delivery: 'all' }, ['a', 'b']);
      o.enqueue({ id: 'r1', kind: 'result', body: '' }, 0);
      o.onConnected('a', 0);
      o.markSent('a', 'r1', 0);
      expect(o.ack('a', 'r1', 1)).toBe(false);
      expect(o.pending('a', 5000)).toEqual([]); // a has it
      expect(o.has('r1')).toBe(true);
      o.onConnected('b', 100);
      expect(ids(o.pending('b', 100))).toEqual(['r1']);
      o.markSent('b', 'r1', 100);
      expect(o.ack('b', 'r1', 101)).toBe(true);
      expect(ofType(events, 'delivered')).toHaveLength(1);
    });

    it('under `all`, removing a server stops items waiting for it', () => {
      const { o } = outbox({ delivery: 'all' }, ['a', 'b']);
      o.enqueue({ id: 'r1', kind: 'result', body: '' }, 0);
      o.onConnected('a', 0);
      o.markSent('a', 'r1', 0);
      o.ack('a', 'r1', 1);
      o.removeServer('b', 2);
      expect(o.size).toBe(0);
      expect(o.servers()).toEqual(['a']);
    });
  });

  it('rejects a capacity below one', () => {
    expect(() => new ResultsOutbox({ capacity: 0 })).toThrow(RangeError);
  });
});
