import { describe, expect, it } from 'vitest';
import {
  ClientState,
  GLOBAL_SEQUENCE_START,
  PacketType,
  ReplayProtection,
  decryptChallengeToken,
  decryptConnectTokenPrivate,
  encryptChallengeToken,
  formatAddress,
  generateConnectToken,
  readConnectToken,
  readConnectTokenPrivate,
  readConnectionRequest,
  readEncryptedPacket,
  writePacket,
  type Packet,
} from '../../src/netcode/index.js';
import { hex, loadVectors, toHex, type VectorLine } from './vectors.js';

const vectors = loadVectors();
const ALL = [true, true, true, true, true, true, true];

if (!vectors) {
  describe.skip('netcode 1.02 reference vectors (vectors.txt not found beside the repo)', () => {
    it('reproduces vectors.txt', () => undefined);
  });
} else {
  describe('netcode 1.02 reference vectors', () => {
    const lines = vectors;
    const input: Record<string, string> = {};
    for (const l of lines) if (l.name === '') Object.assign(input, l.fields);
    const byName = (n: string): VectorLine[] => lines.filter((l) => l.name === n);

    const privateKey = hex(input.private_key!);
    const protocolId = BigInt(input.protocol_id!);
    const clientId = BigInt(input.client_id!);
    const create = BigInt(input.create_timestamp!);
    const expireSeconds = Number(input.expire_seconds);
    const timeoutSeconds = Number(input.timeout_seconds);
    const servers = input.servers!.split(',');
    const nonce = hex(input.nonce!);
    const c2s = hex(input.client_to_server_key!);
    const s2c = hex(input.server_to_client_key!);
    const userData = Uint8Array.from({ length: 256 }, (_, i) => i);

    it('writes the connect token byte for byte and reads it back', () => {
      expect(input.user_data).toMatch(/^00010203\.\.\.ff/);
      const token = generateConnectToken({
        privateKey,
        protocolId,
        clientId,
        publicServerAddresses: servers,
        expireSeconds,
        timeoutSeconds,
        userData,
        createTimestamp: create,
        nonce,
        clientToServerKey: c2s,
        serverToClientKey: s2c,
      });
      expect(toHex(token)).toBe(input.connect_token);
      const r = readConnectToken(hex(input.connect_token!));
      if (!r.ok) throw new Error(r.reason);
      const t = r.value;
      expect(t.protocolId).toBe(protocolId);
      expect(t.createTimestamp).toBe(create);
      expect(t.expireTimestamp).toBe(create + BigInt(expireSeconds));
      expect(t.timeoutSeconds).toBe(timeoutSeconds);
      expect(t.serverAddresses.map(formatAddress)).toEqual(servers);
      expect(toHex(t.nonce)).toBe(input.nonce);
      expect(toHex(t.clientToServerKey)).toBe(input.client_to_server_key);
      expect(toHex(t.serverToClientKey)).toBe(input.server_to_client_key);
      const plain = decryptConnectTokenPrivate(t.privateData, protocolId, t.expireTimestamp, t.nonce, privateKey);
      expect(plain).not.toBeNull();
      const p = readConnectTokenPrivate(plain!);
      if (!p.ok) throw new Error(p.reason);
      expect(p.value.clientId).toBe(clientId);
      expect(p.value.timeoutSeconds).toBe(timeoutSeconds);
      expect(p.value.serverAddresses.map(formatAddress)).toEqual(servers);
      expect(toHex(p.value.clientToServerKey)).toBe(input.client_to_server_key);
      expect(toHex(p.value.serverToClientKey)).toBe(input.server_to_client_key);
      expect(p.value.userData).toEqual(userData);
    });

    it('writes the connection request and reads it back', () => {
      const t = readConnectToken(hex(input.connect_token!));
      if (!t.ok) throw new Error(t.reason);
      const req = writePacket(
        { type: PacketType.connectionRequest, protocolId, expireTimestamp: t.value.expireTimestamp, nonce: t.value.nonce, privateData: t.value.privateData },
        0n,
        null,
        protocolId,
      );
      expect(toHex(req)).toBe(input.connection_request_packet);
      const r = readConnectionRequest(hex(input.connection_request_packet!), protocolId, create, privateKey);
      if (!r.ok) throw new Error(r.reason);
      expect(r.token.clientId).toBe(clientId);
      expect(r.request.expireTimestamp).toBe(t.value.expireTimestamp);
      // the same request is refused once the wall clock reaches the expire timestamp
      expect(readConnectionRequest(req, protocolId, t.value.expireTimestamp, privateKey)).toEqual({ ok: false, reason: 'expired' });
    });

    it('encrypts the challenge token and decrypts it back', () => {
      const [l] = byName('challenge_token');
      const f = l!.fields;
      const key = hex(f.key!);
      const seq = BigInt(f.challenge_seq!);
      const enc = encryptChallengeToken({ clientId: BigInt(f.client_id!), userData }, seq, key);
      expect(toHex(enc)).toBe(f.encrypted);
      const dec = decryptChallengeToken(hex(f.encrypted!), seq, key);
      expect(dec?.clientId).toBe(clientId);
      expect(dec?.userData).toEqual(userData);
      expect(decryptChallengeToken(hex(f.encrypted!), seq + 1n, key)).toBeNull();
    });

    const challengeToken = (): Uint8Array => hex(byName('challenge_token')[0]!.fields.encrypted!);
    const packetLines = lines.filter((l) => /^(denied|challenge|response|keepalive|payload|disconnect)(\(.*\))?$/.test(l.name));

    it('has a vector for every encrypted packet type', () => {
      const names = new Set(packetLines.map((l) => l.name.replace(/\(.*\)$/, '')));
      expect([...names].sort()).toEqual(['challenge', 'denied', 'disconnect', 'keepalive', 'payload', 'response']);
    });

    for (const l of packetLines) {
      it(`writes and reads "${l.name} seq=${l.fields.seq}"`, () => {
        const f = l.fields;
        const kind = l.name.replace(/\(.*\)$/, '');
        const key = l.name.includes('(c2s_key)') ? c2s : s2c;
        const seq = BigInt(f.seq!);
        let packet: Packet;
        switch (kind) {
          case 'denied':
            packet = { type: PacketType.connectionDenied };
            break;
          case 'disconnect':
            packet = { type: PacketType.disconnect };
            break;
          case 'keepalive':
            packet = { type: PacketType.keepAlive, clientIndex: Number(f.client_index), maxClients: Number(f.max_clients) };
            break;
          case 'payload':
            packet = { type: PacketType.payload, payload: hex(f.payload!) };
            break;
          case 'challenge':
            packet = { type: PacketType.connectionChallenge, challengeSequence: BigInt(f.challenge_seq!), challengeToken: challengeToken() };
            break;
          case 'response':
            packet = { type: PacketType.connectionResponse, challengeSequence: BigInt(f.challenge_seq!), challengeToken: challengeToken() };
            break;
          default:
            throw new Error(`unknown vector ${l.name}`);
        }
        expect(toHex(writePacket(packet, seq, key, protocolId))).toBe(f.packet);
        const read = readEncryptedPacket(hex(f.packet!), { key, protocolId, allowed: ALL, replay: new ReplayProtection() });
        expect(read).not.toBeNull();
        expect(read!.sequence).toBe(seq);
        expect(read!.packet).toEqual(packet);
        // wrong key, wrong protocol id: ignored
        expect(readEncryptedPacket(hex(f.packet!), { key: key === c2s ? s2c : c2s, protocolId, allowed: ALL })).toBeNull();
        expect(readEncryptedPacket(hex(f.packet!), { key, protocolId: protocolId + 1n, allowed: ALL })).toBeNull();
      });
    }

    it('the global (challenge/denied) sequence starts at 2^63', () => {
      expect(BigInt(byName('denied')[0]!.fields.seq!)).toBe(GLOBAL_SEQUENCE_START);
      expect(ClientState.connected).toBe(3);
    });

    it('reproduces the replay protection sequence', () => {
      const rp = new ReplayProtection();
      const steps = byName('replay');
      expect(steps.length).toBeGreaterThan(10);
      for (const s of steps) {
        const seq = BigInt(s.fields.seq!);
        const rejected = rp.alreadyReceived(seq);
        if (!rejected) rp.advance(seq);
        expect(`${seq} ${rejected ? 'rejected' : 'accepted'} ${rp.mostRecent}`).toBe(`${seq} ${s.fields.result} ${s.fields.most_recent}`);
      }
    });
  });
}
