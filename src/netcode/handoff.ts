import { netcodeError } from './errors.js';
import { formatHostPort } from '../net/address.js';
import { type NetcodeAddress, makeAddress } from './address.js';
import type { NetcodeVersion } from './constants.js';
import { generateConnectToken } from './token.js';
import type { ConnectTokenSequence } from './token-sequence.js';
import { encodeSessionUserData } from './user-data.js';
import { deriveNetcodeClientId } from './session/client-id.js';

export { deriveNetcodeClientId } from './session/client-id.js';

/** Where a host is reached: `"ip:port"` text, `{ host, port }` (the protocol's Address) or a parsed address. */
export type HostEndpoint = string | NetcodeAddress | { host: string; port: number };

export interface NetcodeHandoffOptions {
  /** the 32-byte key shared with the hosts */
  privateKey: Uint8Array;
  protocolId: bigint;
  host: {
    /** the addresses the client dials, in order (IP literals: a token cannot carry names) */
    publicAddresses: readonly HostEndpoint[];
    /** how the host names itself, one per public address (behind NAT: its private address); default the public ones */
    internalAddresses?: readonly HostEndpoint[];
  };
  sessionId: string;
  playerId: string;
  /** default: `deriveNetcodeClientId(sessionId, playerId)`, which the host checks */
  clientId?: bigint;
  /** how long the client may take to start connecting (token lifetime); default 30 */
  expireSeconds?: number;
  /** silence after which either side drops the connection; default 10 */
  timeoutSeconds?: number;
  /** game bytes the host receives with the connection (at most 256 minus the ids, see user-data.ts) */
  ext?: Uint8Array;
  /** wire version the hosts speak; default 1.02 */
  version?: NetcodeVersion;
  /** required for 1.00, where the sequence is the token's nonce: one instance per key for the process */
  tokenSequence?: ConnectTokenSequence;
  /** wall clock in unix seconds; tests only */
  unixNow?: bigint;
}

/** Exactly the `kind: 'netcode'` member of the auth family's `HandoffTransport`. */
export interface NetcodeHandoffTransport {
  kind: 'netcode';
  connectToken: Uint8Array;
}

function toAddress(e: HostEndpoint): NetcodeAddress | string {
  if (typeof e === 'string') return e;
  if ('family' in e) return e;
  // the protocol's Address allows host names; a token needs IP literals, so parse and let it name the problem
  try {
    return makeAddress(e.host, e.port);
  } catch {
    throw netcodeError('netcode_bad_address', `host address ${formatHostPort(e.host, e.port)} is not an IP literal; netcode tokens carry IP addresses only`, {
      hint: 'register the host with its public IP for netcode, or resolve the name before issuing the token',
    });
  }
}

/**
 * Issues the netcode part of a hand-off: a connect token for one seat, with the session and player
 * ids in its user data and the seat's client id, ready to put in `Handoff.transport`.
 */
export function issueNetcodeHandoff(o: NetcodeHandoffOptions): NetcodeHandoffTransport {
  const unixMs = o.unixNow !== undefined ? Number(o.unixNow) * 1000 : Date.now();
  const connectToken = generateConnectToken({
    ...(o.version ? { version: o.version } : {}),
    ...(o.version === '1.00' && o.tokenSequence ? { sequence: o.tokenSequence.next(unixMs) } : {}),
    privateKey: o.privateKey,
    protocolId: o.protocolId,
    clientId: o.clientId ?? deriveNetcodeClientId(o.sessionId, o.playerId),
    publicServerAddresses: o.host.publicAddresses.map(toAddress),
    ...(o.host.internalAddresses ? { internalServerAddresses: o.host.internalAddresses.map(toAddress) } : {}),
    expireSeconds: o.expireSeconds ?? 30,
    timeoutSeconds: o.timeoutSeconds ?? 10,
    userData: sessionUserData(o),
    createTimestamp: BigInt(Math.floor(unixMs / 1000)),
  });
  return { kind: 'netcode', connectToken };
}

function sessionUserData(o: NetcodeHandoffOptions): Uint8Array {
  try {
    return encodeSessionUserData({ sessionId: o.sessionId, playerId: o.playerId, ...(o.ext ? { ext: o.ext } : {}) });
  } catch (err) {
    throw netcodeError('netcode_user_data_too_long', `session ${o.sessionId} / player ${o.playerId}: ${(err as Error).message}`, {
      hint: 'shorten the ids or the ext bytes: the token carries 256 bytes of user data',
    });
  }
}
