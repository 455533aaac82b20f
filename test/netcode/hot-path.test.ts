// The per-packet fast paths (pooled buffers, number-based sequences, the cached AD) must give the
// same bytes as the plain BigInt forms and must never hand out memory another packet reuses.
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allocPooled } from '../../src/netcode/bytes.js';
import {
  PacketType,
  ReplayProtection,
  U64_MAX,
  lastReadSequence,
  readEncryptedPacket,
  readPacket,
  sealPacket,
  sequenceBytes,
  writePacket,
} from '../../src/netcode/index.js';
import { aeadDecrypt, aeadEncrypt, sodiumFastPath } from '../../src/netcode/sodium.js';

fc.configureGlobal({ seed: Number(process.env.FC_SEED ?? 20261206) });

const KEY = new Uint8Array(32).fill(5);
const ALLOWED = [false, true, true, true, true, true, true];

describe('netcode hot path', () => {
  it('pooled buffers never overlap: every view keeps its own bytes', () => {
    const views = Array.from({ length: 3000 }, (_, i) => {
      const v = allocPooled(1 + ((i * 37) % 1300));
      v.fill(i & 0xff);
      return v;
    });
    views.forEach((v, i) => expect(v.every((b) => b === (i & 0xff))).toBe(true));
    expect(allocPooled(5000).length).toBe(5000);
  });

  it('writes the sequence in the minimal little-endian bytes, for every length 1..8, and reads it back', () => {
    const sequence = fc.oneof(
      fc.bigInt({ min: 0n, max: (1n << 48n) - 1n }),
      fc.bigInt({ min: 1n << 48n, max: (1n << 64n) - 1n }),
      fc.constantFrom(0n, 255n, 256n, (1n << 48n) - 1n, 1n << 48n, (1n << 56n) - 1n, 1n << 56n, (1n << 64n) - 1n),
    );
    fc.assert(
      fc.property(sequence, fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.uint8Array({ minLength: 1, maxLength: 1200 }), (seq, protocolId, payload) => {
        const data = writePacket({ type: PacketType.payload, payload }, seq, KEY, protocolId);
        const n = sequenceBytes(seq);
        expect(data[0]).toBe((n << 4) | PacketType.payload);
        let fromBytes = 0n;
        for (let i = n - 1; i >= 0; i--) fromBytes = (fromBytes << 8n) | BigInt(data[1 + i]!);
        expect(fromBytes).toBe(seq);
        const read = readEncryptedPacket(data, { key: KEY, protocolId, allowed: ALLOWED });
        expect(read?.sequence).toBe(seq);
        expect(read?.packet).toEqual({ type: PacketType.payload, payload });
        // a packet written for one protocol id does not read under another (the cached AD follows it)
        expect(readEncryptedPacket(data, { key: KEY, protocolId: protocolId ^ 1n, allowed: ALLOWED })).toBeNull();
      }),
      { numRuns: 300 },
    );
  });

  it('a payload handed out stays intact while later packets are read', () => {
    const payloads: Uint8Array[] = [];
    for (let i = 0; i < 500; i++) {
      const data = writePacket({ type: PacketType.payload, payload: new Uint8Array(100).fill(i & 0xff) }, BigInt(i), KEY, 1n);
      const r = readEncryptedPacket(data, { key: KEY, protocolId: 1n, allowed: ALLOWED });
      payloads.push((r!.packet as { payload: Uint8Array }).payload);
    }
    payloads.forEach((p, i) => expect(p.every((b) => b === (i & 0xff))).toBe(true));
  });

  it('replay protection keeps the reference window with the masked index', () => {
    const r = new ReplayProtection();
    for (const s of [0n, 1n, 300n, 299n, 2n ** 40n]) {
      expect(r.alreadyReceived(s)).toBe(false);
      r.advance(s);
      expect(r.alreadyReceived(s)).toBe(true);
    }
    // older than the 256-entry window behind the newest: refused without looking
    expect(r.alreadyReceived(2n ** 40n - 256n)).toBe(true);
    expect(r.alreadyReceived(2n ** 40n - 255n)).toBe(false);
  });

  it('replay protection kept in numbers answers as the BigInt reference, across the switch to BigInts', () => {
    // the reference's window, word for word (netcode.c), in BigInts
    class Reference {
      mostRecent = 0n;
      received = new Array<bigint>(256).fill(U64_MAX);
      alreadyReceived(s: bigint): boolean {
        if (this.mostRecent >= 256n && s <= this.mostRecent - 256n) return true;
        const e = this.received[Number(s % 256n)]!;
        return e !== U64_MAX && e >= s;
      }
      advance(s: bigint): void {
        if (s > this.mostRecent) this.mostRecent = s;
        this.received[Number(s % 256n)] = s;
      }
    }
    const near = (base: bigint) => fc.bigInt({ min: base > 600n ? base - 600n : 0n, max: base + 600n });
    const sequence = fc.oneof(
      { weight: 6, arbitrary: near(1000n) },
      { weight: 2, arbitrary: near(2n ** 32n) },
      { weight: 2, arbitrary: near(2n ** 53n) },
      { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: U64_MAX }) },
      { weight: 1, arbitrary: fc.constantFrom(U64_MAX, U64_MAX - 1n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 48n - 1n) },
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(sequence, fc.boolean(), fc.boolean()), { maxLength: 400 }), (steps) => {
        const ref = new Reference();
        const r = new ReplayProtection();
        for (const [s, asNumber, record] of steps) {
          // the packet reader passes numbers below 2^48 and BigInts above
          const arg = asNumber && s < 2n ** 48n ? Number(s) : s;
          const seen = ref.alreadyReceived(s);
          expect(r.alreadyReceived(arg)).toBe(seen);
          if (record && !seen) {
            ref.advance(s);
            r.advance(arg);
          }
          expect(r.mostRecent).toBe(ref.mostRecent);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('seals with a number sequence exactly as writePacket with the BigInt, and reads the sequence back as a number', () => {
    const sequence = fc.oneof(fc.integer({ min: 0, max: 2 ** 32 + 5 }), fc.constantFrom(0, 255, 256, 2 ** 48 - 1, 2 ** 48, 2 ** 53 - 1));
    fc.assert(
      fc.property(sequence, fc.uint8Array({ minLength: 1, maxLength: 1200 }), (seq, payload) => {
        const sealed = sealPacket(PacketType.payload, payload, seq, KEY, 9n);
        expect(sealed).toEqual(writePacket({ type: PacketType.payload, payload }, BigInt(seq), KEY, 9n));
        expect(readPacket(sealed, KEY, 9n, ALLOWED, new ReplayProtection(), '1.02')).toEqual({ type: PacketType.payload, payload });
        const got = lastReadSequence();
        expect(BigInt(got)).toBe(BigInt(seq));
        if (seq < 2 ** 48) expect(typeof got).toBe('number');
      }),
      { numRuns: 300 },
    );
    expect(() => sealPacket(PacketType.payload, new Uint8Array(1), 2 ** 53, KEY, 9n)).toThrow(RangeError);
    expect(() => sealPacket(PacketType.payload, new Uint8Array(1), -1, KEY, 9n)).toThrow(RangeError);
  });

  it("the addon's own AEAD functions give sodium-native's bytes, and a forged packet reads as null without throwing", () => {
    const sodium = createRequire(import.meta.url)('sodium-native');
    // on the platforms iyesmp ships for, the prebuilt addon exposes them
    expect(sodiumFastPath).toBe(true);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1300 }), fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ minLength: 12, maxLength: 12 }), (m, ad, nonce) => {
        const expected = new Uint8Array(m.length + 16);
        sodium.crypto_aead_chacha20poly1305_ietf_encrypt(expected, m, ad.length ? ad : null, null, nonce, KEY);
        const sealed = aeadEncrypt(m, ad.length ? ad : null, nonce, KEY);
        expect(sealed).toEqual(expected);
        expect(aeadDecrypt(sealed, ad.length ? ad : null, nonce, KEY)).toEqual(m);
        sealed[(m.length * 7) % sealed.length]! ^= 0x40;
        expect(aeadDecrypt(sealed, ad.length ? ad : null, nonce, KEY)).toBeNull();
      }),
      { numRuns: 200 },
    );
    // a wrong key size still fails in JavaScript (the addon would assert in C)
    expect(() => aeadEncrypt(new Uint8Array(4), null, new Uint8Array(12), new Uint8Array(31))).toThrow();
  });
});
