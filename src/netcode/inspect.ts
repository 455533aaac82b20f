import { formatAddress } from './address.js';
import { CONNECT_TOKEN_BYTES, DEFAULT_NETCODE_VERSION, U64_MAX, VERSION_INFO_BYTES } from './constants.js';
import { connectTokenVersion, decryptConnectTokenPrivate, readConnectToken, readConnectTokenPrivate } from './token.js';

export interface TokenProblem {
  code: string;
  message: string;
}

/** What `iyesmp netcode inspect` reports about a token: decoded fields and every reason it cannot be used. */
export interface TokenInspection {
  valid: boolean;
  problems: TokenProblem[];
  public?: {
    version: string;
    protocolId: bigint;
    createTimestamp: bigint;
    expireTimestamp: bigint;
    /** null when the token never expires */
    expiresInSeconds: number | null;
    timeoutSeconds: number;
    servers: string[];
    nonce: Uint8Array;
  };
  private?: {
    clientId: bigint;
    timeoutSeconds: number;
    internalServers: string[];
    /** user data with trailing zero bytes removed */
    userData: Uint8Array;
  };
}

const MESSAGES: Record<string, string> = {
  wrong_length: `a connect token is exactly ${CONNECT_TOKEN_BYTES} bytes`,
  create_after_expire: 'the create timestamp is later than the expire timestamp',
  bad_server_count: 'the server address count is outside 1..32',
  bad_address_type: 'a server address has a type other than 1 (IPv4) or 2 (IPv6)',
  truncated: 'the token ends inside the key fields',
};

/** Decodes a token for people: never throws; `valid` is false when any problem was found. */
export function inspectConnectToken(data: Uint8Array, key: Uint8Array, o: { protocolId?: bigint; unixNow: bigint }): TokenInspection {
  const problems: TokenProblem[] = [];
  const result: TokenInspection = { valid: false, problems };
  if (data.length !== CONNECT_TOKEN_BYTES) {
    problems.push({ code: 'wrong_length', message: `${MESSAGES.wrong_length}, this one is ${data.length}` });
    return result;
  }
  // a diagnostic tool: it reads whichever version the token names
  const version = connectTokenVersion(data) ?? DEFAULT_NETCODE_VERSION;
  const parsed = readConnectToken(data, version);
  if (!parsed.ok) {
    if (parsed.reason === 'wrong_version') {
      const v = Buffer.from(data.subarray(0, VERSION_INFO_BYTES)).toString('latin1').replace(/\0+$/, '');
      problems.push({ code: 'wrong_version', message: `version is ${JSON.stringify(v)}, expected "NETCODE 1.02" or "NETCODE 1.00"` });
    } else {
      problems.push({ code: parsed.reason, message: MESSAGES[parsed.reason] ?? parsed.reason });
    }
    return result;
  }
  const t = parsed.value;
  result.public = {
    version: `NETCODE ${version}`,
    protocolId: t.protocolId,
    createTimestamp: t.createTimestamp,
    expireTimestamp: t.expireTimestamp,
    expiresInSeconds: t.expireTimestamp === U64_MAX ? null : Number(t.expireTimestamp - o.unixNow),
    timeoutSeconds: t.timeoutSeconds,
    servers: t.serverAddresses.map(formatAddress),
    nonce: t.nonce,
  };
  if (o.protocolId !== undefined && o.protocolId !== t.protocolId) {
    problems.push({ code: 'wrong_protocol', message: `protocol id is ${t.protocolId}, expected ${o.protocolId}` });
  }
  if (t.expireTimestamp <= o.unixNow) {
    problems.push({ code: 'expired', message: `expired ${o.unixNow - t.expireTimestamp} s ago (expire timestamp ${t.expireTimestamp})` });
  }
  if (t.timeoutSeconds === 0) {
    problems.push({ code: 'timeout_zero', message: 'timeout seconds is 0: such a token can never complete the handshake' });
  } else if (version === '1.00' && t.timeoutSeconds < 0) {
    problems.push({ code: 'timeout_negative', message: 'timeout seconds is negative: netcode 1.00 clients give up at once' });
  }
  const plain = decryptConnectTokenPrivate(t.privateData, t.protocolId, t.expireTimestamp, t.nonce, key, version);
  if (!plain) {
    problems.push({
      code: 'decrypt_failed',
      message: 'the private part does not decrypt with this key: wrong key, or the token was altered (protocol id, expire timestamp or nonce changed)',
    });
    return result;
  }
  const priv = readConnectTokenPrivate(plain, version);
  if (!priv.ok) {
    problems.push({ code: `private_${priv.reason}`, message: `private part: ${MESSAGES[priv.reason] ?? priv.reason}` });
    return result;
  }
  const p = priv.value;
  let end = p.userData.length;
  while (end > 0 && p.userData[end - 1] === 0) end--;
  result.private = {
    clientId: p.clientId,
    timeoutSeconds: p.timeoutSeconds,
    internalServers: p.serverAddresses.map(formatAddress),
    userData: p.userData.slice(0, end),
  };
  // a 1.00 private part has no timeout to compare
  if (version !== '1.00' && p.timeoutSeconds !== t.timeoutSeconds) {
    problems.push({ code: 'timeout_mismatch', message: `public timeout ${t.timeoutSeconds} s differs from private timeout ${p.timeoutSeconds} s` });
  }
  result.valid = problems.length === 0;
  return result;
}
