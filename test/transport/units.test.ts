/** Pure parts of the transport: allow-list parsing and matching, confirmation frames, refusal codes. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AddressAllowList, canonicalIp, parseAllowEntry } from '../../src/transport/allow-list.js';
import { ACCEPTED, HELLO, PreAdmission, decodeConfirm, readFrame } from '../../src/transport/confirm.js';
import { errorFromPeerClose, refusalToCryptoError, AppClose } from '../../src/transport/refusal.js';
import { IyesmpError } from '../../src/errors.js';
import type { RefusalReason } from '../../src/pki/types.js';

describe('allow-list', () => {
  it('canonicalises IPv4, IPv6 and IPv4-mapped IPv6 to one spelling', () => {
    expect(canonicalIp('127.0.0.1')).toBe('127.0.0.1');
    expect(canonicalIp('0:0:0:0:0:0:0:1')).toBe('::1');
    expect(canonicalIp('[::1]')).toBe('::1');
    expect(canonicalIp('2001:DB8::0:1')).toBe('2001:db8::1');
    expect(canonicalIp('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(canonicalIp('::ffff:7f00:1')).toBe('127.0.0.1');
    expect(canonicalIp('localhost')).toBeUndefined();
    // one canonicalIp (src/net) keeps the zone; zoned entries are refused by parseAllowEntry instead
    expect(canonicalIp('fe80::1%eth0')).toBe('fe80::1%eth0');
  });

  it('parses address and address:port entries, rejecting the rest with an input error', () => {
    expect(parseAllowEntry('10.0.0.1')).toEqual({ host: '10.0.0.1' });
    expect(parseAllowEntry('10.0.0.1:5000')).toEqual({ host: '10.0.0.1', port: 5000 });
    expect(parseAllowEntry('[2001:db8::1]:443')).toEqual({ host: '2001:db8::1', port: 443 });
    expect(parseAllowEntry('2001:db8::1')).toEqual({ host: '2001:db8::1' });
    for (const bad of ['', 'example.com', '10.0.0.1:0', '10.0.0.1:70000', '[::1]:x', '1.2.3', '::1:80:']) {
      expect(() => parseAllowEntry(bad)).toThrowError(expect.objectContaining({ kind: 'input', code: 'bad_allow_entry' }));
    }
  });

  it('matches any port for an address entry, one port for address:port, and counts what it drops', () => {
    const l = new AddressAllowList(['127.0.0.1', '[::1]:4000']);
    expect(l.admit('127.0.0.1', 1, 10)).toBe(true);
    expect(l.admit('::ffff:127.0.0.1', 2, 10)).toBe(true);
    expect(l.admit('::1', 4000, 10)).toBe(true);
    expect(l.admit('::1', 4001, 7)).toBe(false);
    expect(l.admit('10.1.1.1', 4000, 5)).toBe(false);
    expect(l.stats()).toEqual({ passed: 3, dropped: 2, droppedBytes: 12, lastDroppedFrom: '10.1.1.1:4000' });
    expect(l.remove('127.0.0.1')).toBe(true);
    expect(l.remove('127.0.0.1')).toBe(false);
    expect(l.allows('127.0.0.1', 1)).toBe(false);
    expect(l.entries()).toEqual(['[::1]:4000']);
  });

  it('fuzz: parsing never throws anything but an IyesmpError; what parses round-trips through entries()', () => {
    const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
    const entry = fc.oneof(
      fc.string({ maxLength: 70 }),
      ipv4,
      fc.tuple(ipv4, fc.integer({ min: -5, max: 70000 })).map(([a, p]) => `${a}:${p}`),
      fc.ipV6().map((a) => `[${a}]:${1 + (a.length % 65535)}`),
      fc.ipV6(),
    );
    fc.assert(
      fc.property(entry, (text) => {
        let parsed;
        try {
          parsed = parseAllowEntry(text);
        } catch (e) {
          expect(e).toBeInstanceOf(IyesmpError);
          return;
        }
        const l = new AddressAllowList([text]);
        expect(l.allows(parsed.host, parsed.port ?? 1234)).toBe(true);
        const again = new AddressAllowList(l.entries());
        expect(again.entries()).toEqual(l.entries());
      }),
      { numRuns: 2000 },
    );
  });
});

describe('confirmation frames', () => {
  it('decodes exactly HELLO and ACCEPTED', () => {
    expect(decodeConfirm(HELLO)).toBe('hello');
    expect(decodeConfirm(ACCEPTED)).toBe('accepted');
  });

  it('fuzz: any other bytes decode to undefined', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 8 }), (b) => {
        const same = (x: Uint8Array) => Buffer.from(x).equals(Buffer.from(b));
        const r = decodeConfirm(b);
        if (same(HELLO)) expect(r).toBe('hello');
        else if (same(ACCEPTED)) expect(r).toBe('accepted');
        else expect(r).toBeUndefined();
      }),
      { numRuns: 3000 },
    );
  });

  it('readFrame refuses a stream longer than a frame, and joins a split frame', async () => {
    const streamOf = (...chunks: number[][]) =>
      new ReadableStream<Uint8Array>({
        start(c) {
          for (const ch of chunks) c.enqueue(Uint8Array.from(ch));
          c.close();
        },
      });
    expect(await readFrame(streamOf([1, 2, 3, 4, 5]))).toBeUndefined();
    const joined = await readFrame(streamOf([...HELLO.subarray(0, 1)], [...HELLO.subarray(1)]));
    expect(decodeConfirm(joined!)).toBe('hello');
  });
});

describe('streams before admission', () => {
  it('the first stream names the mode: 0 is a first-stream client, 2 an accepted-mode one', () => {
    const fresh = new PreAdmission();
    expect(fresh.mode).toBeUndefined();
    expect(fresh.stream(0)).toEqual({ ok: true, mode: 'first-stream' });
    expect(fresh.mode).toBe('first-stream');
    const old = new PreAdmission();
    expect(old.stream(2)).toEqual({ ok: true, mode: 'accepted' });
  });

  it('as a server from before first-stream: any stream before the HELLO is only reset, the HELLO still counts', () => {
    const older = new PreAdmission(true);
    for (const id of [0, 4, 1]) expect(older.stream(id)).toMatchObject({ ok: false, keepWaiting: true });
    expect(older.mode).toBeUndefined();
    expect(older.stream(2)).toEqual({ ok: true, mode: 'accepted' });
    expect(older.stream(4)).toMatchObject({ ok: false, message: expect.stringContaining('before the connection was admitted') });
    expect(older.stream(4)).not.toHaveProperty('keepWaiting');
  });

  it('refuses any other first stream, and every stream after the first', () => {
    for (const id of [1, 3, 4, 6, 8, 400]) expect(new PreAdmission().stream(id).ok).toBe(false);
    fc.assert(
      fc.property(fc.constantFrom(0, 2), fc.array(fc.nat({ max: 1 << 20 }), { minLength: 1, maxLength: 20 }), (first, later) => {
        const p = new PreAdmission();
        p.stream(first);
        for (const id of later) expect(p.stream(id)).toMatchObject({ ok: false, message: expect.stringContaining('before the connection was admitted') });
        expect(p.mode).toBe(first === 0 ? 'first-stream' : 'accepted');
      }),
    );
  });
});

describe('refusal codes on the wire', () => {
  const reasons: RefusalReason[] = [
    'malformed',
    'expired',
    'not_yet_valid',
    'unknown_issuer',
    'retired_clientauth',
    'wrong_role',
    'wrong_session',
    'wrong_fingerprint',
    'bad_signature',
  ];
  const ctx = { alpn: 'iyesmp-auth/1', address: '127.0.0.1:1' };

  it('every RefusalReason has its own TLS alert and comes back as itself', () => {
    const codes = reasons.map(refusalToCryptoError);
    expect(new Set(codes).size).toBe(reasons.length);
    for (const r of reasons) {
      const e = errorFromPeerClose({ isApp: false, errorCode: refusalToCryptoError(r), reason: new Uint8Array() }, ctx)!;
      expect(e.kind).toBe('refused');
      expect(e.code).toBe(r);
    }
  });

  it('maps ALPN failures and application closes', () => {
    expect(errorFromPeerClose({ isApp: false, errorCode: 0x100 + 120, reason: new Uint8Array() }, ctx)!.code).toBe('wrong_alpn');
    expect(errorFromPeerClose({ isApp: true, errorCode: AppClose.server_full, reason: Buffer.from('server_full') }, ctx)!.code).toBe('server_full');
    expect(errorFromPeerClose({ isApp: true, errorCode: AppClose.normal, reason: new Uint8Array() }, ctx)).toBeUndefined();
  });

  it('fuzz: any close maps to an IyesmpError or nothing, never a throw', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.nat(0xffff), fc.uint8Array({ maxLength: 64 }), (isApp, errorCode, reason) => {
        const e = errorFromPeerClose({ isApp, errorCode, reason }, ctx);
        if (e !== undefined) expect(e).toBeInstanceOf(IyesmpError);
      }),
    );
  });
});
