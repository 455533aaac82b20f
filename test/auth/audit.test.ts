import { describe, expect, it } from 'vitest';
import { AUDIT_LIST_MAX, MemoryAuditStore, type NewAuditEntry } from '../../src/auth/audit.js';

const actor = { name: 'ops-alice', fingerprint: 'ab'.repeat(32) };
const entry = (over: Partial<NewAuditEntry> = {}): NewAuditEntry => ({
  at: 1000,
  actor,
  action: 'kick',
  target: 'p1',
  details: {},
  outcome: 'ok',
  ...over,
});

describe('MemoryAuditStore', () => {
  it('numbers entries in append order and lists them oldest first', async () => {
    const s = new MemoryAuditStore();
    const a = await s.append(entry({ at: 1 }));
    const b = await s.append(entry({ at: 2, action: 'ban', details: { reason: 'cheating', expiresAt: null } }));
    expect([a.id, b.id]).toEqual([1, 2]);
    expect((await s.list()).map((e) => e.action)).toEqual(['kick', 'ban']);
    expect((await s.list())[1]?.details).toEqual({ reason: 'cheating', expiresAt: null });
  });

  it('filters by time, action, target, actor (name or fingerprint) and outcome', async () => {
    const s = new MemoryAuditStore();
    await s.append(entry({ at: 10, action: 'kick', target: 'p1' }));
    await s.append(entry({ at: 20, action: 'ban', target: 'p2', outcome: 'refused', error: 'ADMIN_UNKNOWN_PLAYER' }));
    await s.append(entry({ at: 30, action: 'drain', target: 'host-1', actor: { name: 'bob', fingerprint: 'cd'.repeat(32) } }));
    const ids = async (f: Parameters<MemoryAuditStore['list']>[0]) => (await s.list(f)).map((e) => e.id);
    expect(await ids({ since: 20 })).toEqual([2, 3]);
    expect(await ids({ until: 20 })).toEqual([1]);
    expect(await ids({ action: 'ban' })).toEqual([2]);
    expect(await ids({ target: 'host-1' })).toEqual([3]);
    expect(await ids({ actor: 'bob' })).toEqual([3]);
    expect(await ids({ actor: 'ab'.repeat(32) })).toEqual([1, 2]);
    expect(await ids({ outcome: 'refused' })).toEqual([2]);
    expect(await ids({ limit: 2 })).toEqual([2, 3]);
  });

  it('hands out copies: a caller mutating an entry does not change the log', async () => {
    const s = new MemoryAuditStore();
    const e = await s.append(entry({ details: { reason: 'x' } }));
    e.details.reason = 'changed';
    e.actor.name = 'mallory';
    const [listed] = await s.list();
    expect(listed?.details.reason).toBe('x');
    expect(listed?.actor.name).toBe('ops-alice');
  });

  it('caps list() at AUDIT_LIST_MAX and drops the oldest entries beyond maxEntries', async () => {
    const s = new MemoryAuditStore({ maxEntries: AUDIT_LIST_MAX + 5 });
    for (let i = 0; i < AUDIT_LIST_MAX + 10; i++) await s.append(entry({ at: i }));
    const all = await s.list({ limit: 1e9 });
    expect(all).toHaveLength(AUDIT_LIST_MAX);
    expect(all.at(-1)?.at).toBe(AUDIT_LIST_MAX + 9);
    expect((await s.list({ until: 6 })).map((e) => e.at)).toEqual([5]);
  });
});
