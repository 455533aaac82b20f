import { describe, expect, it } from 'vitest';
import {
  CONNECTION_REQUEST_BYTES,
  PacketType,
  ReplayProtection,
  U64_MAX,
  VERSION_INFO,
  generateConnectToken,
  sequenceNonce,
  parseAddress,
  formatAddress,
  readConnectToken,
  readEncryptedPacket,
  sequenceBytes,
  writePacket,
} from '../../src/netcode/index.js';
import { ByteReader, ByteWriter } from '../../src/netcode/bytes.js';
import { readAddress, writeAddress } from '../../src/netcode/address.js';
import { aeadEncrypt } from '../../src/netcode/sodium.js';

const KEY = new Uint8Array(32).fill(1);
const ALL = [true, true, true, true, true, true, true];

describe('addresses', () => {
  it('encodes IPv6 groups as u16 little-endian and the port LE', () => {
    const w = new ByteWriter(19);
    writeAddress(w, parseAddress('[::1]:40001'));
    expect(Buffer.from(w.buf).toString('hex')).toBe('02' + '0000'.repeat(7) + '0100' + '419c');
    expect(formatAddress(readAddress(new ByteReader(w.buf))!)).toBe('[::1]:40001');
  });

  it('canonicalises IPv6 text and round-trips IPv4', () => {
    expect(formatAddress(parseAddress('[2001:DB8:0:0:0:0:0:1]:5'))).toBe('[2001:db8::1]:5');
    expect(formatAddress(parseAddress('[::ffff:1.2.3.4]:5'))).toBe('[::ffff:102:304]:5');
    const w = new ByteWriter(7);
    writeAddress(w, parseAddress('192.168.1.20:65535'));
    expect(Buffer.from(w.buf).toString('hex')).toBe('01c0a80114ffff');
    expect(() => parseAddress('host.example:1')).toThrow(TypeError);
    expect(() => parseAddress('1.2.3.4:70000')).toThrow(TypeError);
  });
});

describe('packets', () => {
  it('uses the minimal sequence length', () => {
    expect([0n, 255n, 256n, 1000n, 1n << 56n, U64_MAX].map(sequenceBytes)).toEqual([1, 1, 2, 2, 8, 8]);
  });

  it('refuses empty and oversized payloads on write, and ignores them on read', () => {
    expect(() => writePacket({ type: PacketType.payload, payload: new Uint8Array(0) }, 0n, KEY, 1n)).toThrow(RangeError);
    expect(() => writePacket({ type: PacketType.payload, payload: new Uint8Array(1201) }, 0n, KEY, 1n)).toThrow(RangeError);
    const max = writePacket({ type: PacketType.payload, payload: new Uint8Array(1200).fill(9) }, 5n, KEY, 1n);
    expect(max.length).toBe(1 + 1 + 1200 + 16);
    expect(readEncryptedPacket(max, { key: KEY, protocolId: 1n, allowed: ALL })?.packet).toEqual({
      type: PacketType.payload,
      payload: new Uint8Array(1200).fill(9),
    });
  });

  it('ignores types a role may not receive', () => {
    const ka = writePacket({ type: PacketType.keepAlive, clientIndex: 1, maxClients: 2 }, 1n, KEY, 1n);
    const allowed = [true, true, true, true, false, true, true];
    expect(readEncryptedPacket(ka, { key: KEY, protocolId: 1n, allowed })).toBeNull();
  });

  it('advances the replay window before the size check (reference parity)', () => {
    // an authentic keep-alive whose plaintext is 9 bytes instead of 8, built with the AEAD directly
    const prefix = (1 << 4) | PacketType.keepAlive;
    const ad = new ByteWriter(22).bytes(VERSION_INFO).u64(1n).u8(prefix).buf;
    const cipher = aeadEncrypt(new Uint8Array(9), ad, sequenceNonce(7n), KEY);
    const packet = Uint8Array.from([prefix, 7, ...cipher]);
    const replay = new ReplayProtection();
    expect(readEncryptedPacket(packet, { key: KEY, protocolId: 1n, allowed: ALL, replay })).toBeNull();
    expect(replay.mostRecent).toBe(7n);
    expect(replay.alreadyReceived(7n)).toBe(true);
    // a forged one (bad tag) leaves the window alone
    const forged = Uint8Array.from(packet);
    forged[forged.length - 1]! ^= 1;
    const fresh = new ReplayProtection();
    expect(readEncryptedPacket(forged, { key: KEY, protocolId: 1n, allowed: ALL, replay: fresh })).toBeNull();
    expect(fresh.alreadyReceived(7n)).toBe(false);
  });

  it('writes 1078-byte requests', () => {
    expect(CONNECTION_REQUEST_BYTES).toBe(1078);
  });
});

describe('tokens', () => {
  const base = { privateKey: KEY, protocolId: 5n, clientId: 1n, publicServerAddresses: ['127.0.0.1:1'], expireSeconds: 30, timeoutSeconds: 5 };

  it('never-expiring tokens carry 2^64-1', () => {
    const t = readConnectToken(generateConnectToken({ ...base, expireSeconds: -1 }));
    expect(t.ok && t.value.expireTimestamp).toBe(U64_MAX);
  });

  it('rejects bad inputs with clear errors', () => {
    expect(() => generateConnectToken({ ...base, publicServerAddresses: [] })).toThrow(/1 to 32 servers/);
    expect(() => generateConnectToken({ ...base, publicServerAddresses: Array(33).fill('1.2.3.4:5') })).toThrow(/1 to 32 servers/);
    expect(() => generateConnectToken({ ...base, userData: new Uint8Array(257) })).toThrow(/at most 256/);
    expect(() => generateConnectToken({ ...base, clientId: -1n })).toThrow(/64 bits/);
    expect(() => generateConnectToken({ ...base, privateKey: new Uint8Array(31) })).toThrow(/32 bytes/);
    expect(() => generateConnectToken({ ...base, internalServerAddresses: ['1.1.1.1:1', '2.2.2.2:2'] })).toThrow(/one to one/);
  });

  it('fits 32 IPv6 servers', () => {
    const servers = Array.from({ length: 32 }, (_, i) => `[2001:db8::${i + 1}]:${40000 + i}`);
    const t = readConnectToken(generateConnectToken({ ...base, publicServerAddresses: servers }));
    expect(t.ok && t.value.serverAddresses.map(formatAddress)).toEqual(servers);
  });

  it('reports why a public part does not read', () => {
    const tok = generateConnectToken(base);
    const mod = (at: number, v: number) => {
      const c = Uint8Array.from(tok);
      c[at] = v;
      return readConnectToken(c);
    };
    expect(readConnectToken(tok.subarray(0, 2047))).toEqual({ ok: false, reason: 'wrong_length' });
    expect(mod(0, 0x4f)).toEqual({ ok: false, reason: 'wrong_version' });
    expect(mod(21 + 7, 0xff)).toEqual({ ok: false, reason: 'create_after_expire' });
    expect(mod(1089, 0)).toEqual({ ok: false, reason: 'bad_server_count' });
    expect(mod(1089, 33)).toEqual({ ok: false, reason: 'bad_server_count' });
    expect(mod(1093, 0)).toEqual({ ok: false, reason: 'bad_address_type' });
  });
});
