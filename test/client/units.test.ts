/**
 * Small parts of the client library: address parsing, the Master-only verifier a game build uses
 * to check servers, the file key store that lets a restarted client rejoin its game (and the keys
 * of confirmed matches kept in it until their hand-off), and the
 * typed emitter (listener errors are contained, `next` times out and aborts).
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FileKeyStore, IyesmpError, masterOnlyVerifier, parseAddress, TypedEmitter } from '../../src/client/index.js';
import { pemToDerList } from '../../src/pki/index.js';
import { ConfirmedKeys, CONFIRMED_KEYS_ID, MemoryKeyStore } from '../../src/client/handoff.js';
import { makePki, type PkiFixture } from './helpers.js';

let f: PkiFixture;
let other: PkiFixture;
beforeAll(async () => {
  [f, other] = await Promise.all([makePki(), makePki()]);
}, 60_000);
afterAll(async () => {
  await f?.cleanup();
  await other?.cleanup();
});

describe('parseAddress', () => {
  it('reads host:port, [v6]:port and objects; refuses the rest with a usage error', () => {
    expect(parseAddress('auth.example.net:4433')).toEqual({ host: 'auth.example.net', port: 4433 });
    expect(parseAddress('[2001:db8::1]:5000')).toEqual({ host: '2001:db8::1', port: 5000 });
    expect(parseAddress({ host: '127.0.0.1', port: 1 })).toEqual({ host: '127.0.0.1', port: 1 });
    for (const bad of ['localhost', 'h:0', 'h:65536', ':80', '2001:db8::1:80', 'h:8o']) {
      expect(() => parseAddress(bad)).toThrow(IyesmpError);
    }
  });

  it('never throws anything but an IyesmpError', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        try {
          const a = parseAddress(s);
          expect(a.port).toBeGreaterThanOrEqual(1);
          expect(a.port).toBeLessThanOrEqual(65535);
        } catch (e) {
          expect(e).toBeInstanceOf(IyesmpError);
        }
      }),
    );
  });
});

describe('masterOnlyVerifier', () => {
  it("accepts this PKI's auth and host certificates for their roles only, and nothing from another PKI", async () => {
    const v = masterOnlyVerifier(await f.pki.certPem('master'));
    const auth = pemToDerList(await f.pki.certPem('auth'));
    const host = pemToDerList(await f.pki.certPem('host-1'));
    expect((await v.verify(auth, { kind: 'auth-server' })).ok).toBe(true);
    expect((await v.verify(host, { kind: 'host' })).ok).toBe(true);
    expect(await v.verify(auth, { kind: 'host' })).toMatchObject({ ok: false, reason: 'wrong_role' });
    const foreign = pemToDerList(await other.pki.certPem('auth'));
    expect(await v.verify(foreign, { kind: 'auth-server' })).toMatchObject({ ok: false, reason: 'unknown_issuer' });
  });

  it('refuses a CA certificate that is not a self-signed Master', async () => {
    expect(() => masterOnlyVerifier(`${'-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'}`)).toThrow(IyesmpError);
    const sessionAuth = await f.pki.certPem('sessionauth');
    expect(() => masterOnlyVerifier(sessionAuth)).toThrow(/self-signed Master/);
  });
});

describe('FileKeyStore', () => {
  it('keeps keys as 0600 files named by a hash of the session id, so ids cannot choose paths', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'iyesmp-keys-'));
    try {
      const store = new FileKeyStore(path.join(dir, 'keys'));
      expect(await store.get('S1')).toBeUndefined();
      await store.set('../../etc/evil', 'PEM-1');
      await store.set('S1', 'PEM-2');
      expect(await store.get('../../etc/evil')).toBe('PEM-1');
      expect(await store.get('S1')).toBe('PEM-2');
      const files = await readdir(path.join(dir, 'keys'));
      expect(files).toHaveLength(2);
      for (const file of files) {
        expect(file).toMatch(/^[0-9a-f]{32}\.key\.pem$/);
        expect((await stat(path.join(dir, 'keys', file))).mode & 0o777).toBe(0o600);
      }
      await store.delete('S1');
      expect(await store.get('S1')).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('ConfirmedKeys', () => {
  const later = () => Date.now() + 60_000;

  it('keeps at most `cap` keys, the newest, in one entry of the store, and drops the entry when empty', async () => {
    const store = new MemoryKeyStore();
    const keys = new ConfirmedKeys(store, 3);
    for (const m of ['m1', 'm2', 'm3', 'm4']) await keys.add(m, `PEM-${m}`, later());
    expect((await keys.all()).map((e) => e.matchId)).toEqual(['m2', 'm3', 'm4']);
    // confirming the same match again replaces its key
    await keys.add('m3', 'PEM-m3b', later());
    expect((await keys.all()).map((e) => [e.matchId, e.keyPem])).toEqual([
      ['m2', 'PEM-m2'],
      ['m4', 'PEM-m4'],
      ['m3', 'PEM-m3b'],
    ]);
    for (const m of ['m2', 'm3', 'm4']) await keys.remove(m);
    expect(await store.get(CONFIRMED_KEYS_ID)).toBeUndefined();
  });

  it('moves a key to its session id, without replacing a key a later claim stored there', async () => {
    const store = new MemoryKeyStore();
    const keys = new ConfirmedKeys(store);
    await keys.add('m1', 'PEM-1', later());
    await keys.add('m2', 'PEM-2', later());
    await store.set('S2', 'PEM-claimed');
    expect(await keys.adopt('m1', 'S1')).toBe('PEM-1');
    expect(await keys.adopt('m2', 'S2')).toBe('PEM-claimed');
    expect(await store.get('S1')).toBe('PEM-1');
    expect(await store.get('S2')).toBe('PEM-claimed');
    expect(await keys.all()).toEqual([]);
    // nothing for the match: the session's own key, if any
    expect(await keys.adopt('m9', 'S1')).toBe('PEM-1');
    expect(await keys.adopt('m9', 'S9')).toBeUndefined();
  });

  it('forgets expired and malformed entries, and reads a damaged entry as empty', async () => {
    const store = new MemoryKeyStore();
    const keys = new ConfirmedKeys(store);
    const live = { matchId: 'm2', keyPem: 'PEM-2', until: later() };
    await store.set(CONFIRMED_KEYS_ID, JSON.stringify([{ matchId: 'm1', keyPem: 'PEM-1', until: Date.now() - 1 }, live, { matchId: 3 }, null]));
    await keys.prune();
    expect(JSON.parse((await store.get(CONFIRMED_KEYS_ID))!)).toEqual([live]);
    await store.set(CONFIRMED_KEYS_ID, '{not json');
    expect(await keys.all()).toEqual([]);
    await keys.add('m4', 'PEM-4', later());
    expect((await keys.all()).map((e) => e.matchId)).toEqual(['m4']);
  });

  it('in a FileKeyStore, the entry is a 0600 file written whole, like the session keys', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'iyesmp-confirmed-'));
    try {
      const store = new FileKeyStore(path.join(dir, 'keys'));
      const keys = new ConfirmedKeys(store);
      await Promise.all(['m1', 'm2', 'm3'].map((m) => keys.add(m, `PEM-${m}`, later())));
      // operations run one at a time: none of the concurrent adds is lost
      expect((await keys.all()).map((e) => e.matchId)).toEqual(['m1', 'm2', 'm3']);
      await keys.adopt('m2', 'S2');
      const files = await readdir(path.join(dir, 'keys'));
      expect(files).toHaveLength(2);
      for (const file of files) expect((await stat(path.join(dir, 'keys', file))).mode & 0o777).toBe(0o600);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('TypedEmitter', () => {
  class E extends TypedEmitter<{ a: number; b: string }> {
    errors: unknown[] = [];
    constructor() {
      super();
      this.setListenerErrorHandler((e) => this.errors.push(e));
    }
    fire<K extends 'a' | 'b'>(k: K, v: { a: number; b: string }[K]): void {
      this.emit(k, v);
    }
  }

  it('a throwing listener is reported and the others still run; once listeners run once', () => {
    const e = new E();
    const seen: number[] = [];
    e.on('a', () => {
      throw new Error('game bug');
    });
    e.on('a', (n) => seen.push(n));
    e.once('a', (n) => seen.push(n * 10));
    e.fire('a', 1);
    e.fire('a', 2);
    expect(seen).toEqual([1, 10, 2]);
    expect(e.errors).toHaveLength(2);
  });

  it('next filters, times out and aborts with IyesmpErrors', async () => {
    const e = new E();
    const got = e.next('a', { filter: (n) => n > 1 });
    e.fire('a', 1);
    e.fire('a', 5);
    expect(await got).toBe(5);
    await expect(e.next('b', { timeoutMs: 20 })).rejects.toMatchObject({ code: 'timeout' });
    const ac = new AbortController();
    const p = e.next('b', { signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: 'aborted' });
    let fail: IyesmpError | undefined;
    const q = e.next('b', { failWith: () => fail });
    fail = new IyesmpError('io', 'auth_lost', 'gone');
    e.fire('a', 0);
    await expect(q).rejects.toBe(fail);
  });

  it('stream yields events to a for-await loop until it breaks', async () => {
    const e = new E();
    const got: number[] = [];
    const loop = (async () => {
      for await (const n of e.stream('a')) {
        got.push(n);
        if (n === 3) break;
      }
    })();
    await new Promise((r) => setImmediate(r));
    for (const n of [1, 2, 3, 4]) e.fire('a', n);
    await loop;
    expect(got).toEqual([1, 2, 3]);
  });
});
