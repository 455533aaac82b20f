import { ByteReader, ByteWriter, allocPooled, bytesEqual } from './bytes.js';
import {
  CHALLENGE_TOKEN_BYTES,
  CONNECT_TOKEN_PRIVATE_BYTES,
  DEFAULT_NETCODE_VERSION,
  MAC_BYTES,
  MAX_PAYLOAD_BYTES,
  NUM_PACKET_TYPES,
  type NetcodeVersion,
  PacketType,
  VERSION_INFO_BYTES,
  netcodeWire,
} from './constants.js';
import type { ReplayProtection } from './replay.js';
import { aeadDecrypt, aeadEncryptInto } from './sodium.js';
import { type ConnectTokenPrivate, decryptConnectTokenPrivate, readConnectTokenPrivate } from './token.js';

export interface ConnectionRequestPacket {
  type: typeof PacketType.connectionRequest;
  protocolId: bigint;
  expireTimestamp: bigint;
  /** 24 bytes in 1.02; in 1.00 the 8-byte connect token sequence. */
  nonce: Uint8Array;
  /** The token's encrypted private part, copied unchanged (1024 bytes). */
  privateData: Uint8Array;
}
export interface ChallengeOrResponsePacket {
  type: typeof PacketType.connectionChallenge | typeof PacketType.connectionResponse;
  challengeSequence: bigint;
  /** Encrypted challenge token (300 bytes), opaque to the client. */
  challengeToken: Uint8Array;
}
export type Packet =
  | ConnectionRequestPacket
  | { type: typeof PacketType.connectionDenied }
  | ChallengeOrResponsePacket
  | { type: typeof PacketType.keepAlive; clientIndex: number; maxClients: number }
  | { type: typeof PacketType.payload; payload: Uint8Array }
  | { type: typeof PacketType.disconnect };

/** Minimal number of bytes (1..8) for a sequence number; 0 takes one byte. */
export function sequenceBytes(sequence: bigint): number {
  let n = 1;
  let s = sequence >> 8n;
  while (s > 0n && n < 8) {
    n++;
    s >>= 8n;
  }
  return n;
}

// Scratch buffers for the AD and nonce: every sodium call is synchronous, so reusing them is safe and
// saves two allocations per packet on the hot path. The AD's version and protocol id change only when
// a process talks more than one version or protocol, so they are rewritten only then.
const AD = new Uint8Array(VERSION_INFO_BYTES + 9);
const AD_VIEW = new DataView(AD.buffer);
let adVersion: NetcodeVersion | undefined;
let adProtocolId = -1n;
const NONCE = new Uint8Array(12);
const NONCE_VIEW = new DataView(NONCE.buffer);
/** sequences below this are written as plain numbers (no BigInt per byte) */
const SAFE = 1n << 53n;

/** AD for encrypted packets: version info | protocol id | prefix byte (22 bytes). */
function packetAd(protocolId: bigint, prefix: number, version: NetcodeVersion): Uint8Array {
  if (version !== adVersion || protocolId !== adProtocolId) {
    AD.set(netcodeWire(version).versionInfo);
    AD_VIEW.setBigUint64(VERSION_INFO_BYTES, protocolId, true);
    adVersion = version;
    adProtocolId = protocolId;
  }
  AD[VERSION_INFO_BYTES + 8] = prefix;
  return AD;
}

/** Nonce for packets: four zero bytes, then the sequence as u64 LE. */
function packetNonce(sequence: bigint | number): Uint8Array {
  if (typeof sequence === 'number') {
    NONCE_VIEW.setUint32(4, sequence >>> 0, true);
    NONCE_VIEW.setUint32(8, Math.floor(sequence / 0x100000000), true);
  } else {
    NONCE_VIEW.setBigUint64(4, sequence, true);
  }
  return NONCE;
}

/**
 * A sequence as the hot path wants it: a number when it is below 2^53 (exact in a double), else the
 * bigint. Callers may keep their counters as numbers (see sealPacket).
 */
function smallSequence(sequence: bigint | number): bigint | number {
  if (typeof sequence === 'number') {
    if (!Number.isSafeInteger(sequence) || sequence < 0) throw new RangeError(`sequence must be a u64, got ${sequence}`);
    return sequence;
  }
  return sequence < SAFE ? Number(sequence) : sequence;
}

/**
 * Serialises a packet. Requests are written in the clear (sequence and key unused); every other type is
 * encrypted with ChaCha20-Poly1305-IETF under `key` with nonce 0000|sequence. Throws RangeError for a
 * datagram the version's peers cannot receive (1.00: over 1220 bytes).
 */
export function writePacket(
  packet: Packet,
  sequence: bigint | number,
  key: Uint8Array | null,
  protocolId: bigint,
  version: NetcodeVersion = DEFAULT_NETCODE_VERSION,
): Uint8Array {
  const wire = netcodeWire(version);
  if (packet.type === PacketType.connectionRequest) {
    if (packet.nonce.length !== wire.tokenNonceBytes)
      throw new RangeError(`a netcode ${version} request carries a ${wire.tokenNonceBytes}-byte nonce, got ${packet.nonce.length}`);
    return new ByteWriter(wire.connectionRequestBytes)
      .u8(0)
      .bytes(wire.versionInfo)
      .u64(packet.protocolId)
      .u64(packet.expireTimestamp)
      .bytes(packet.nonce)
      .bytes(packet.privateData).buf;
  }
  if (!key) throw new TypeError('encrypted packets need a key');
  let plain: Uint8Array;
  switch (packet.type) {
    case PacketType.connectionDenied:
    case PacketType.disconnect:
      plain = new Uint8Array(0);
      break;
    case PacketType.connectionChallenge:
    case PacketType.connectionResponse:
      plain = new ByteWriter(8 + CHALLENGE_TOKEN_BYTES).u64(packet.challengeSequence).bytes(packet.challengeToken).buf;
      break;
    case PacketType.keepAlive:
      plain = new ByteWriter(8).u32(packet.clientIndex).u32(packet.maxClients).buf;
      break;
    case PacketType.payload:
      if (packet.payload.length < 1 || packet.payload.length > MAX_PAYLOAD_BYTES) {
        throw new RangeError(`payload must be 1..${MAX_PAYLOAD_BYTES} bytes, got ${packet.payload.length}`);
      }
      plain = packet.payload;
      break;
  }
  return sealPacket(packet.type, plain, sequence, key, protocolId, version);
}

/**
 * Encrypts one packet of `type` (not a request) around `plain`: prefix, sequence, ciphertext and tag.
 * What writePacket does after building the plaintext; the cores call it directly for payloads (no
 * packet object). `sequence` may be a number (a safe integer): the cores count in numbers.
 */
export function sealPacket(
  type: number,
  plain: Uint8Array,
  sequence: bigint | number,
  key: Uint8Array,
  protocolId: bigint,
  version: NetcodeVersion = DEFAULT_NETCODE_VERSION,
): Uint8Array {
  const seq = smallSequence(sequence);
  let n: number;
  if (typeof seq === 'number') {
    n = 1;
    for (let v = seq; v >= 256; v = Math.floor(v / 256)) n++;
  } else {
    n = sequenceBytes(seq);
  }
  const size = 1 + n + plain.length + MAC_BYTES;
  // only reachable in 1.00 (1220 bytes), with a long payload once the sequence needs 4+ bytes
  const max = netcodeWire(version).maxPacketBytes;
  if (size > max) throw new RangeError(`packet of ${size} bytes is over the netcode ${version} limit of ${max}`);
  const prefix = (n << 4) | type;
  // pooled: twice per payload round trip; every byte is written below
  const out = allocPooled(size);
  out[0] = prefix;
  if (typeof seq === 'number') {
    for (let i = 0, v = seq; i < n; i++, v = Math.floor(v / 256)) out[1 + i] = v % 256;
  } else {
    let s = seq;
    for (let i = 0; i < n; i++, s >>= 8n) out[1 + i] = Number(s & 0xffn);
  }
  aeadEncryptInto(new Uint8Array(out.buffer, out.byteOffset + 1 + n, size - 1 - n), plain, packetAd(protocolId, prefix, version), packetNonce(seq), key);
  return out;
}

export interface ReadPacketOptions {
  /** Receive key for the source address, or null when none is known. */
  key: Uint8Array | null;
  protocolId: bigint;
  /** allowed[type] must be true for the type to be read. */
  allowed: readonly boolean[];
  /** Applied to keep-alive, payload and disconnect packets when given. */
  replay?: ReplayProtection | undefined;
  /** default 1.02 */
  version?: NetcodeVersion | undefined;
}

export interface ReadPacketResult {
  packet: Exclude<Packet, ConnectionRequestPacket>;
  sequence: bigint;
}

/** Reads an encrypted packet (types 1..6) in the reference's order of checks; null means "ignore". */
export function readEncryptedPacket(data: Uint8Array, o: ReadPacketOptions): ReadPacketResult | null {
  const packet = readPacket(data, o.key, o.protocolId, o.allowed, o.replay, o.version ?? DEFAULT_NETCODE_VERSION);
  if (!packet) return null;
  return { packet, sequence: BigInt(readSequence) };
}

let readSequence: bigint | number = 0;

/**
 * The sequence of the packet readPacket last returned: a number below 2^48 (the usual case), else a
 * bigint. Reading is synchronous, so this is valid until the next readPacket call.
 */
export function lastReadSequence(): bigint | number {
  return readSequence;
}

/**
 * readEncryptedPacket with positional arguments and the sequence left for lastReadSequence(): the cores'
 * per-datagram path, without an options object, a result object or a BigInt per packet.
 */
export function readPacket(
  data: Uint8Array,
  key: Uint8Array | null,
  protocolId: bigint,
  allowed: readonly boolean[],
  replay: ReplayProtection | undefined,
  version: NetcodeVersion,
): Exclude<Packet, ConnectionRequestPacket> | null {
  if (!key) return null;
  if (data.length < 1 + 1 + MAC_BYTES) return null;
  const prefix = data[0]!;
  const type = prefix & 0xf;
  if (type >= NUM_PACKET_TYPES || type === PacketType.connectionRequest) return null;
  if (!allowed[type]) return null;
  const n = prefix >> 4;
  if (n < 1 || n > 8) return null;
  if (data.length < 1 + n + MAC_BYTES) return null;
  let sequence: bigint | number;
  if (n <= 6) {
    // up to 48 bits fit a number exactly: no BigInt at all
    let v = 0;
    for (let i = n - 1; i >= 0; i--) v = v * 256 + data[1 + i]!;
    sequence = v;
  } else {
    let big = 0n;
    for (let i = 0; i < n; i++) big |= BigInt(data[1 + i]!) << BigInt(8 * i);
    sequence = big;
  }
  const replayed = type >= PacketType.keepAlive ? replay : undefined;
  if (replayed?.alreadyReceived(sequence)) return null;
  // a plain view: subarray() of a Buffer (what dgram delivers) goes through Buffer's species constructor
  const cipher = new Uint8Array(data.buffer, data.byteOffset + 1 + n, data.length - 1 - n);
  const plain = aeadDecrypt(cipher, packetAd(protocolId, prefix, version), packetNonce(sequence), key);
  if (!plain) return null;
  // Recorded only once the tag verified: in both versions, although the 1.00 reference records before
  // decrypting (one forged datagram could then block the genuine sequence). The 1.02 reference also
  // advances before the size checks below; kept for parity.
  replayed?.advance(sequence);
  readSequence = sequence;
  switch (type) {
    case PacketType.connectionDenied:
    case PacketType.disconnect:
      return plain.length === 0 ? { type } : null;
    case PacketType.connectionChallenge:
    case PacketType.connectionResponse: {
      if (plain.length !== 8 + CHALLENGE_TOKEN_BYTES) return null;
      const r = new ByteReader(plain);
      return { type, challengeSequence: r.u64()!, challengeToken: r.bytes(CHALLENGE_TOKEN_BYTES)! };
    }
    case PacketType.keepAlive: {
      if (plain.length !== 8) return null;
      const r = new ByteReader(plain);
      return { type, clientIndex: r.u32()!, maxClients: r.u32()! };
    }
    default:
      if (plain.length < 1 || plain.length > MAX_PAYLOAD_BYTES) return null;
      return { type: PacketType.payload, payload: plain };
  }
}

export type RequestRejection = 'wrong_size' | 'wrong_version' | 'wrong_protocol' | 'expired' | 'decrypt_failed' | 'bad_private_token';

/** Reads a connection request with the reference's checks, decrypting the private part with the server key. */
export function readConnectionRequest(
  data: Uint8Array,
  protocolId: bigint,
  unixNow: bigint,
  privateKey: Uint8Array,
  version: NetcodeVersion = DEFAULT_NETCODE_VERSION,
): { ok: true; request: ConnectionRequestPacket; token: ConnectTokenPrivate } | { ok: false; reason: RequestRejection } {
  const wire = netcodeWire(version);
  // the other version's request has another size, so it stops here (as in both references)
  if (data.length !== wire.connectionRequestBytes) return { ok: false, reason: 'wrong_size' };
  const r = new ByteReader(data);
  r.u8();
  if (!bytesEqual(r.bytes(VERSION_INFO_BYTES)!, wire.versionInfo)) return { ok: false, reason: 'wrong_version' };
  const pid = r.u64()!;
  if (pid !== protocolId) return { ok: false, reason: 'wrong_protocol' };
  const expireTimestamp = r.u64()!;
  if (expireTimestamp <= unixNow) return { ok: false, reason: 'expired' };
  const nonce = r.bytes(wire.tokenNonceBytes)!;
  const privateData = r.bytes(CONNECT_TOKEN_PRIVATE_BYTES)!;
  const plain = decryptConnectTokenPrivate(privateData, pid, expireTimestamp, nonce, privateKey, version);
  if (!plain) return { ok: false, reason: 'decrypt_failed' };
  const parsed = readConnectTokenPrivate(plain, version);
  if (!parsed.ok) return { ok: false, reason: 'bad_private_token' };
  return { ok: true, request: { type: PacketType.connectionRequest, protocolId: pid, expireTimestamp, nonce, privateData }, token: parsed.value };
}
