// The per-packet fast paths (pooled buffers, number-based sequences, the cached AD) must give the
// same bytes as the plain BigInt forms and must never hand out memory another packet reuses.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allocPooled } from '../../src/netcode/bytes.js';
import { PacketType, ReplayProtection, readEncryptedPacket, sequenceBytes, writePacket } from '../../src/netcode/index.js';

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
});
