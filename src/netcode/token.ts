import { IyesmpError } from '../errors.js';
import { netcodeError } from './errors.js';
import { type NetcodeAddress, parseAddress, readAddress, writeAddress } from './address.js';
import { ByteReader, ByteWriter, bytesEqual } from './bytes.js';
import {
  CONNECT_TOKEN_BYTES,
  CONNECT_TOKEN_PRIVATE_BYTES,
  DEFAULT_NETCODE_VERSION,
  KEY_BYTES,
  MAC_BYTES,
  MAX_SERVERS_PER_CONNECT,
  NETCODE_VERSIONS,
  type NetcodeVersion,
  U64_MAX,
  USER_DATA_BYTES,
  VERSION_INFO_BYTES,
  netcodeWire,
} from './constants.js';
import { aeadDecrypt, aeadEncrypt, randomBytes, xaeadDecrypt, xaeadEncrypt } from './sodium.js';

/** The decrypted private part: what the server learns about the client. */
export interface ConnectTokenPrivate {
  clientId: bigint;
  /**
   * Seconds; <= 0 disables timeouts (0 is refused by generateConnectToken, see docs). 1.00 has no
   * such field: reading a 1.00 part gives the fixed 5 s its servers use.
   */
  timeoutSeconds: number;
  /** The servers' internal addresses: a server accepts the token only if its own address is listed. */
  serverAddresses: NetcodeAddress[];
  clientToServerKey: Uint8Array;
  serverToClientKey: Uint8Array;
  /** Always 256 bytes (zero padded). */
  userData: Uint8Array;
}

/** The public part as the client reads it. `privateData` stays encrypted (1024 bytes). */
export interface ConnectToken {
  protocolId: bigint;
  createTimestamp: bigint;
  expireTimestamp: bigint;
  /** 1.02: 24 random bytes; 1.00: the connect token sequence as u64 LE (8 bytes), see tokenSequenceBytes. */
  nonce: Uint8Array;
  privateData: Uint8Array;
  timeoutSeconds: number;
  /** Public addresses the client connects to, in order. */
  serverAddresses: NetcodeAddress[];
  clientToServerKey: Uint8Array;
  serverToClientKey: Uint8Array;
}

export type TokenReadError = 'wrong_length' | 'wrong_version' | 'create_after_expire' | 'bad_server_count' | 'bad_address_type' | 'truncated';

export type ReadResult<T> = { ok: true; value: T } | { ok: false; reason: TokenReadError };

export interface GenerateConnectTokenOptions {
  /** default 1.02 */
  version?: NetcodeVersion;
  privateKey: Uint8Array;
  protocolId: bigint;
  clientId: bigint;
  /** Addresses the client dials (1..32). */
  publicServerAddresses: ReadonlyArray<NetcodeAddress | string>;
  /** Addresses the servers know themselves by; defaults to the public ones. Same count and order. */
  internalServerAddresses?: ReadonlyArray<NetcodeAddress | string>;
  /** Token lifetime from creation; negative means "never expires" (expire = 2^64-1). */
  expireSeconds: number;
  /** Connection timeout; negative disables timeouts; 0 is refused (it can never connect). */
  timeoutSeconds: number;
  /** Up to 256 bytes, zero padded. The Auth server puts session and player ids here. */
  userData?: Uint8Array;
  /** Inputs normally random or taken from the clock; fixed only by tests and vectors. */
  createTimestamp?: bigint;
  /** 1.02 only; random unless given. */
  nonce?: Uint8Array;
  /**
   * 1.00 only, and required there: it is the AEAD nonce, so it must never repeat under one key.
   * Take it from a ConnectTokenSequence (token-sequence.ts).
   */
  sequence?: bigint;
  clientToServerKey?: Uint8Array;
  serverToClientKey?: Uint8Array;
}

const usage = (code: Parameters<typeof netcodeError>[0], message: string, hint?: string): IyesmpError => netcodeError(code, message, hint ? { hint } : {});

function toAddress(a: NetcodeAddress | string): NetcodeAddress {
  if (typeof a !== 'string') return a;
  try {
    return parseAddress(a);
  } catch (err) {
    throw usage('netcode_bad_address', (err as Error).message, 'addresses are IP literals: 10.0.0.5:40000 or [2001:db8::5]:40000');
  }
}

function checkU64(name: string, v: bigint): void {
  if (v < 0n || v > U64_MAX) throw usage('netcode_out_of_range', `${name} must fit in 64 bits unsigned, got ${v}`);
}

function checkLen(name: string, b: Uint8Array | undefined, n: number): void {
  if (b !== undefined && b.length !== n) throw usage('netcode_bad_length', `${name} must be ${n} bytes, got ${b.length}`);
}

/** Creates a 2048-byte connect token. Throws IyesmpError('usage') on unusable inputs. */
export function generateConnectToken(o: GenerateConnectTokenOptions): Uint8Array {
  const version = o.version ?? DEFAULT_NETCODE_VERSION;
  checkLen('private key', o.privateKey, KEY_BYTES);
  let nonce: Uint8Array;
  if (version === '1.00') {
    if (o.nonce !== undefined) throw usage('netcode_nonce_not_in_version', 'netcode 1.00 tokens carry a sequence, not a nonce');
    if (o.sequence === undefined) {
      throw usage(
        'netcode_no_token_sequence',
        'a netcode 1.00 token needs a connect token sequence (its encryption nonce)',
        'take it from a ConnectTokenSequence so it never repeats under one key',
      );
    }
    checkU64('connect token sequence', o.sequence);
    nonce = tokenSequenceBytes(o.sequence);
  } else {
    if (o.sequence !== undefined) throw usage('netcode_sequence_not_in_version', 'netcode 1.02 tokens carry a random nonce, not a sequence');
    checkLen('nonce', o.nonce, netcodeWire(version).tokenNonceBytes);
    nonce = o.nonce ?? randomBytes(netcodeWire(version).tokenNonceBytes);
  }
  checkLen('client-to-server key', o.clientToServerKey, KEY_BYTES);
  checkLen('server-to-client key', o.serverToClientKey, KEY_BYTES);
  checkU64('protocol id', o.protocolId);
  checkU64('client id', o.clientId);
  if (!Number.isInteger(o.timeoutSeconds) || o.timeoutSeconds < -(2 ** 31) || o.timeoutSeconds >= 2 ** 31) {
    throw usage('netcode_bad_timeout', `timeout seconds must be a 32-bit integer, got ${o.timeoutSeconds}`);
  }
  if (o.timeoutSeconds === 0) {
    throw usage(
      'netcode_timeout_zero',
      'timeout seconds 0 makes a token that can never connect (the server drops the handshake at once)',
      'use a positive timeout such as 5, or a negative one to disable timeouts',
    );
  }
  if (version === '1.00' && o.timeoutSeconds < 0) {
    // the 1.00 reference client has no "disabled" value: it gives up at once
    throw usage(
      'netcode_bad_timeout',
      'netcode 1.00 clients cannot disable timeouts: a negative timeout makes them give up at once',
      'use a positive timeout such as 5',
    );
  }
  if (!Number.isInteger(o.expireSeconds)) throw usage('netcode_bad_expire', `expire seconds must be an integer, got ${o.expireSeconds}`);
  const publicAddrs = o.publicServerAddresses.map(toAddress);
  const internalAddrs = (o.internalServerAddresses ?? o.publicServerAddresses).map(toAddress);
  if (publicAddrs.length < 1 || publicAddrs.length > MAX_SERVERS_PER_CONNECT) {
    throw usage('netcode_bad_server_count', `a token lists 1 to ${MAX_SERVERS_PER_CONNECT} servers, got ${publicAddrs.length}`);
  }
  if (internalAddrs.length !== publicAddrs.length) {
    throw usage('netcode_bad_server_count', `internal addresses (${internalAddrs.length}) must match public addresses (${publicAddrs.length}) one to one`);
  }
  const userData = new Uint8Array(USER_DATA_BYTES);
  if (o.userData) {
    if (o.userData.length > USER_DATA_BYTES)
      throw usage('netcode_user_data_too_long', `user data is at most ${USER_DATA_BYTES} bytes, got ${o.userData.length}`);
    userData.set(o.userData);
  }
  const createTimestamp = o.createTimestamp ?? BigInt(Math.floor(Date.now() / 1000));
  const expireTimestamp = o.expireSeconds >= 0 ? createTimestamp + BigInt(o.expireSeconds) : U64_MAX;
  checkU64('expire timestamp', expireTimestamp);
  const c2s = o.clientToServerKey ?? randomBytes(KEY_BYTES);
  const s2c = o.serverToClientKey ?? randomBytes(KEY_BYTES);
  const priv: ConnectTokenPrivate = {
    clientId: o.clientId,
    timeoutSeconds: o.timeoutSeconds,
    serverAddresses: internalAddrs,
    clientToServerKey: c2s,
    serverToClientKey: s2c,
    userData,
  };
  const privateData = encryptConnectTokenPrivate(writeConnectTokenPrivate(priv, version), o.protocolId, expireTimestamp, nonce, o.privateKey, version);
  return writeConnectToken(
    {
      protocolId: o.protocolId,
      createTimestamp,
      expireTimestamp,
      nonce,
      privateData,
      timeoutSeconds: o.timeoutSeconds,
      serverAddresses: publicAddrs,
      clientToServerKey: c2s,
      serverToClientKey: s2c,
    },
    version,
  );
}

/** The 1.00 token's nonce field: the connect token sequence as u64 LE. */
export function tokenSequenceBytes(sequence: bigint): Uint8Array {
  return new ByteWriter(8).u64(sequence).buf;
}

/** Plaintext private part: 1008 bytes (1024 minus the tag). */
export function writeConnectTokenPrivate(p: ConnectTokenPrivate, version: NetcodeVersion = DEFAULT_NETCODE_VERSION): Uint8Array {
  const w = new ByteWriter(CONNECT_TOKEN_PRIVATE_BYTES - MAC_BYTES);
  w.u64(p.clientId);
  if (version !== '1.00') w.u32(p.timeoutSeconds);
  w.u32(p.serverAddresses.length);
  for (const a of p.serverAddresses) writeAddress(w, a);
  w.bytes(p.clientToServerKey).bytes(p.serverToClientKey);
  const ud = new Uint8Array(USER_DATA_BYTES);
  ud.set(p.userData.subarray(0, USER_DATA_BYTES));
  w.bytes(ud);
  return w.buf;
}

export function readConnectTokenPrivate(plain: Uint8Array, version: NetcodeVersion = DEFAULT_NETCODE_VERSION): ReadResult<ConnectTokenPrivate> {
  const r = new ByteReader(plain);
  const clientId = r.u64();
  // a 1.00 private part has no timeout field: its servers use a fixed one
  const fixed = netcodeWire(version).fixedServerTimeoutSeconds;
  const timeoutSeconds = fixed ?? r.i32();
  if (clientId === null || timeoutSeconds === null) return { ok: false, reason: 'truncated' };
  const servers = readServerList(r);
  if (!servers.ok) return servers;
  const serverAddresses = servers.value;
  const c2s = r.bytes(KEY_BYTES);
  const s2c = r.bytes(KEY_BYTES);
  const userData = r.bytes(USER_DATA_BYTES);
  if (!c2s || !s2c || !userData) return { ok: false, reason: 'truncated' };
  return { ok: true, value: { clientId, timeoutSeconds, serverAddresses, clientToServerKey: c2s, serverToClientKey: s2c, userData } };
}

/** `num server addresses u32 | addresses`, the same in the public and the private part. */
function readServerList(r: ByteReader): ReadResult<NetcodeAddress[]> {
  const count = r.u32();
  if (count === null) return { ok: false, reason: 'truncated' };
  if (count < 1 || count > MAX_SERVERS_PER_CONNECT) return { ok: false, reason: 'bad_server_count' };
  const out: NetcodeAddress[] = [];
  for (let i = 0; i < count; i++) {
    const a = readAddress(r);
    if (!a) return { ok: false, reason: 'bad_address_type' };
    out.push(a);
  }
  return { ok: true, value: out };
}

/** AD = version info | protocol id | expire timestamp (29 bytes). */
function tokenAd(protocolId: bigint, expireTimestamp: bigint, version: NetcodeVersion): Uint8Array {
  return new ByteWriter(VERSION_INFO_BYTES + 16).bytes(netcodeWire(version).versionInfo).u64(protocolId).u64(expireTimestamp).buf;
}

/** 1.00 encrypts with ChaCha20-Poly1305-IETF and nonce 0000‖sequence, the 8 bytes its token carries. */
function ietfNonce(sequenceBytes: Uint8Array): Uint8Array {
  const n = new Uint8Array(12);
  n.set(sequenceBytes, 4);
  return n;
}

export function encryptConnectTokenPrivate(
  plain: Uint8Array,
  protocolId: bigint,
  expireTimestamp: bigint,
  nonce: Uint8Array,
  key: Uint8Array,
  version: NetcodeVersion = DEFAULT_NETCODE_VERSION,
): Uint8Array {
  const ad = tokenAd(protocolId, expireTimestamp, version);
  return version === '1.00' ? aeadEncrypt(plain, ad, ietfNonce(nonce), key) : xaeadEncrypt(plain, ad, nonce, key);
}

/** Returns the 1008-byte plaintext, or null (wrong key, protocol id, expire timestamp, nonce, version or tampering). */
export function decryptConnectTokenPrivate(
  encrypted: Uint8Array,
  protocolId: bigint,
  expireTimestamp: bigint,
  nonce: Uint8Array,
  key: Uint8Array,
  version: NetcodeVersion = DEFAULT_NETCODE_VERSION,
): Uint8Array | null {
  if (encrypted.length !== CONNECT_TOKEN_PRIVATE_BYTES || nonce.length !== netcodeWire(version).tokenNonceBytes || key.length !== KEY_BYTES) return null;
  const ad = tokenAd(protocolId, expireTimestamp, version);
  return version === '1.00' ? aeadDecrypt(encrypted, ad, ietfNonce(nonce), key) : xaeadDecrypt(encrypted, ad, nonce, key);
}

/** 1.00 moves the timeout to the end of the public part; 1.02 puts it before the server list. */
export function writeConnectToken(t: ConnectToken, version: NetcodeVersion = DEFAULT_NETCODE_VERSION): Uint8Array {
  const w = new ByteWriter(CONNECT_TOKEN_BYTES);
  w.bytes(netcodeWire(version).versionInfo).u64(t.protocolId).u64(t.createTimestamp).u64(t.expireTimestamp).bytes(t.nonce).bytes(t.privateData);
  if (version !== '1.00') w.u32(t.timeoutSeconds);
  w.u32(t.serverAddresses.length);
  for (const a of t.serverAddresses) writeAddress(w, a);
  w.bytes(t.clientToServerKey).bytes(t.serverToClientKey);
  if (version === '1.00') w.u32(t.timeoutSeconds);
  return w.buf;
}

/** The version a token's first 13 bytes name, when this build speaks it. */
export function connectTokenVersion(data: Uint8Array): NetcodeVersion | undefined {
  const head = data.subarray(0, VERSION_INFO_BYTES);
  return NETCODE_VERSIONS.find((v) => bytesEqual(head, netcodeWire(v).versionInfo));
}

/** Reads the public part with the reference's checks (length, version, create <= expire, 1..32 addresses of type 1/2). */
export function readConnectToken(data: Uint8Array, version: NetcodeVersion = DEFAULT_NETCODE_VERSION): ReadResult<ConnectToken> {
  if (data.length !== CONNECT_TOKEN_BYTES) return { ok: false, reason: 'wrong_length' };
  const wire = netcodeWire(version);
  const r = new ByteReader(data);
  if (!bytesEqual(r.bytes(VERSION_INFO_BYTES)!, wire.versionInfo)) return { ok: false, reason: 'wrong_version' };
  const protocolId = r.u64()!;
  const createTimestamp = r.u64()!;
  const expireTimestamp = r.u64()!;
  if (createTimestamp > expireTimestamp) return { ok: false, reason: 'create_after_expire' };
  const nonce = r.bytes(wire.tokenNonceBytes)!;
  const privateData = r.bytes(CONNECT_TOKEN_PRIVATE_BYTES)!;
  // 1.02 puts the timeout here, 1.00 after the keys
  const timeoutFirst = version === '1.00' ? undefined : r.i32()!;
  const servers = readServerList(r);
  if (!servers.ok) return servers;
  const serverAddresses = servers.value;
  const c2s = r.bytes(KEY_BYTES);
  const s2c = r.bytes(KEY_BYTES);
  const timeoutSeconds = timeoutFirst ?? r.i32();
  if (!c2s || !s2c || timeoutSeconds === null) return { ok: false, reason: 'truncated' };
  return {
    ok: true,
    value: {
      protocolId,
      createTimestamp,
      expireTimestamp,
      nonce,
      privateData,
      timeoutSeconds,
      serverAddresses,
      clientToServerKey: c2s,
      serverToClientKey: s2c,
    },
  };
}
