import { describe, expect, it } from 'vitest';
import { ConnectionAdmission, type AdmissionLimits } from '../../src/transport/admission.js';

const LIMITS: AdmissionLimits = {
  maxUnauthenticated: 4,
  maxUnauthenticatedPerAddress: 3,
  maxUnauthenticatedPerCert: 2,
  maxPerAccount: 2,
  firstStreamMs: 100,
  helloMs: 200,
  loginMs: 300,
  trustAt: 'login',
};

const admission = (over: Partial<AdmissionLimits> = {}) => new ConnectionAdmission({ ...LIMITS, ...over });

describe('ConnectionAdmission', () => {
  it('closes a connection at each missed deadline: first stream, hello, login', () => {
    const a = admission();
    a.open('s', { address: 'a', cert: 'c1' }, 0);
    a.open('h', { address: 'a', cert: 'c2' }, 0);
    a.open('l', { address: 'b', cert: 'c2' }, 0);
    a.reached('h', 'stream', 50);
    a.reached('l', 'stream', 50);
    a.reached('l', 'hello', 60);
    expect(a.nextDeadline()).toBe(100);
    expect(a.expired(99)).toEqual([]);
    expect(a.expired(100)).toEqual([{ id: 's', stage: 'stream' }]);
    // reported once, even before the caller closes it
    expect(
      a
        .expired(1000)
        .map((e) => e.id)
        .sort(),
    ).toEqual(['h', 'l']);
    expect(a.expired(2000)).toEqual([]);
    expect(a.nextDeadline()).toBeUndefined();
  });

  it('each stage restarts the clock with its own deadline', () => {
    const a = admission();
    a.open('x', { address: 'a', cert: 'c' }, 0);
    a.reached('x', 'stream', 90);
    expect(a.nextDeadline()).toBe(290);
    a.reached('x', 'hello', 250);
    expect(a.nextDeadline()).toBe(550);
    a.reached('x', 'stream', 260); // a repeat changes nothing
    expect(a.nextDeadline()).toBe(550);
  });

  it('the first-stream deadline counts from the confirmation, and a passed one stays passed', () => {
    const a = admission();
    a.open('slow', { address: 'a', cert: 'c' }, 0);
    a.open('late', { address: 'b', cert: 'c' }, 0);
    // the server took 80 ms to confirm: the peer still gets the whole first-stream time
    a.confirmed('slow', 80);
    expect(a.expired(150).map((e) => e.id)).toEqual(['late']);
    a.confirmed('late', 160);
    expect(a.nextDeadline()).toBe(180);
    a.reached('slow', 'stream', 170);
    a.confirmed('slow', 175); // past the stage: nothing moves
    expect(a.nextDeadline()).toBe(370);
    expect(a.expired(1000)).toEqual([{ id: 'slow', stage: 'hello' }]);
  });

  it('a trusted connection has no deadline and leaves the unauthenticated counts', () => {
    const a = admission();
    a.open('x', { address: 'a', cert: 'c' }, 0);
    expect(a.trust('x', 'alice')).toEqual({ ok: true });
    expect(a.expired(10_000)).toEqual([]);
    expect(a.stats()).toEqual({ connections: 1, unauthenticated: 0 });
  });

  it('trusts by itself at trustAt', () => {
    const a = admission({ trustAt: 'stream' });
    a.open('x', { address: 'a', cert: 'c' }, 0);
    a.reached('x', 'stream', 10);
    expect(a.stats().unauthenticated).toBe(0);
    expect(a.expired(10_000)).toEqual([]);
  });

  it('limits unauthenticated connections per address, per certificate and in all', () => {
    const a = admission();
    expect(a.open('1', { address: 'a', cert: 'c1' }, 0).ok).toBe(true);
    expect(a.open('2', { address: 'a', cert: 'c1' }, 0).ok).toBe(true);
    expect(a.open('3', { address: 'b', cert: 'c1' }, 0)).toMatchObject({ ok: false, reason: 'too_many_for_certificate' });
    expect(a.open('3', { address: 'a', cert: 'c2' }, 0).ok).toBe(true);
    expect(a.open('4', { address: 'a', cert: 'c3' }, 0)).toMatchObject({ ok: false, reason: 'too_many_from_address' });
    expect(a.open('4', { address: 'b', cert: 'c3' }, 0).ok).toBe(true);
    expect(a.open('5', { address: 'c', cert: 'c4' }, 0)).toMatchObject({ ok: false, reason: 'too_many_unauthenticated' });
    // a login frees the room it took, for strangers and for its address and cert
    a.trust('1', 'alice');
    expect(a.open('5', { address: 'a', cert: 'c1' }, 0).ok).toBe(true);
    a.close('5');
    a.close('2');
    expect(a.open('6', { address: 'a', cert: 'c1' }, 0).ok).toBe(true);
    expect(a.stats()).toEqual({ connections: 4, unauthenticated: 3 });
  });

  it('limits trusted connections per account, and a close gives the room back', () => {
    const a = admission({ maxUnauthenticated: 10, maxUnauthenticatedPerAddress: 10, maxUnauthenticatedPerCert: 10 });
    for (const id of ['1', '2', '3']) a.open(id, { address: 'a', cert: 'c' }, 0);
    expect(a.trust('1', 'alice').ok).toBe(true);
    expect(a.trust('1', 'alice').ok).toBe(true); // the same login again takes nothing more
    expect(a.trust('2', 'alice').ok).toBe(true);
    expect(a.trust('3', 'alice')).toMatchObject({ ok: false, reason: 'too_many_for_account' });
    expect(a.stats().unauthenticated).toBe(1); // a refused login stays a stranger, on its deadline
    a.close('1');
    expect(a.trust('3', 'alice').ok).toBe(true);
  });

  it('a refused trusted connection released by its endpoint gives its account share back at once, and its close takes nothing twice', () => {
    const a = admission({ maxUnauthenticated: 10, maxUnauthenticatedPerAddress: 10, maxUnauthenticatedPerCert: 10 });
    for (const id of ['1', '2', '3', '4']) a.open(id, { address: 'a', cert: 'c' }, 0);
    expect(a.trust('1', 'seat').ok).toBe(true);
    expect(a.trust('2', 'seat').ok).toBe(true); // a copy of the seat's ticket, about to be refused by the host
    expect(a.trust('3', 'seat')).toMatchObject({ ok: false, reason: 'too_many_for_account' });
    a.release('2');
    expect(a.trust('3', 'seat').ok).toBe(true); // the genuine rejoin is not held off by the refused copy
    a.close('2');
    expect(a.trust('4', 'seat')).toMatchObject({ ok: false, reason: 'too_many_for_account' });
  });

  it('a logout makes the connection a stranger with a login deadline, refused when its source has no room', () => {
    const a = admission({ maxUnauthenticatedPerAddress: 1 });
    a.open('1', { address: 'a', cert: 'c' }, 0);
    a.trust('1', 'alice');
    a.open('2', { address: 'a', cert: 'c' }, 0);
    expect(a.distrust('1', 1000)).toBe(false);
    a.close('2');
    expect(a.expired(1299)).toEqual([]);
    expect(a.expired(1300)).toEqual([{ id: '1', stage: 'login' }]);
    a.close('1');
    a.open('3', { address: 'a', cert: 'c' }, 0);
    a.trust('3', 'bob');
    expect(a.distrust('3', 0)).toBe(true);
    // bob's account slot is free again
    a.open('4', { address: 'b', cert: 'd' }, 0);
    expect(a.trust('4', 'bob').ok).toBe(true);
  });

  it('deadlines follow only the connections still waiting, across trust, logout and close', () => {
    const a = admission({ maxUnauthenticated: 10_000, maxUnauthenticatedPerAddress: 10_000, maxUnauthenticatedPerCert: 10_000 });
    for (let i = 0; i < 1000; i++) {
      a.open(`t${i}`, { address: 'nat', cert: 'build' }, 0);
      a.trust(`t${i}`, `acc${i}`);
    }
    expect(a.nextDeadline()).toBeUndefined();
    a.open('w', { address: 'x', cert: 'build' }, 10);
    expect(a.nextDeadline()).toBe(110);
    expect(a.distrust('t5', 20)).toBe(true);
    a.close('w');
    expect(a.nextDeadline()).toBe(320);
    a.trust('t5', 'acc5');
    expect(a.nextDeadline()).toBeUndefined();
    expect(a.distrust('t7', 30)).toBe(true);
    expect(a.expired(329)).toEqual([]);
    expect(a.expired(330)).toEqual([{ id: 't7', stage: 'login' }]);
    a.close('t7');
    expect(a.stats()).toEqual({ connections: 999, unauthenticated: 0 });
    expect(a.expired(1_000_000)).toEqual([]);
  });

  it('refuses limits that are not positive', () => {
    expect(() => admission({ maxPerAccount: 0 })).toThrow(RangeError);
    expect(() => admission({ loginMs: Number.NaN })).toThrow(RangeError);
  });
});
