import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import type { ExpectedPlayer } from '../../host/types.js';

/**
 * How a netcode client is tied to a session seat. netcode has no certificates: the connect token is
 * the credential, and the host sees only what the Auth server sealed into it (client id and user
 * data). These helpers give both sides the same answers without talking to each other.
 */

const CLIENT_ID_LABEL = Buffer.from('iyesmp/netcode-client-id/1\0', 'utf8');
const FINGERPRINT_LABEL = Buffer.from('iyesmp/netcode-client/1\0', 'utf8');

function lengthPrefixed(text: string): Buffer {
  const body = Buffer.from(text, 'utf8');
  if (body.length > 0xffff) throw new RangeError('id too long');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(body.length);
  return Buffer.concat([len, body]);
}

/**
 * The u64 client id for a seat: the first 8 bytes (little-endian) of SHA-256 over a label and the
 * length-prefixed session and player ids. Stable, so a host can check a token's client id against
 * the seat its user data names without being told; not secret (the token's seal is the secret).
 */
export function deriveNetcodeClientId(sessionId: string, playerId: string): bigint {
  const h = createHash('sha256').update(CLIENT_ID_LABEL).update(lengthPrefixed(sessionId)).update(lengthPrefixed(playerId)).digest();
  return h.readBigUInt64LE(0);
}

/**
 * A SHA-256 "fingerprint" standing for a netcode client id. The host domain's admission compares
 * fingerprints (made for session certificates); for netcode seats the expected fingerprint is this
 * value of the announced client id, so a token whose client id differs is refused the same way a
 * wrong certificate is.
 */
export function netcodeFingerprint(clientId: bigint): string {
  const id = Buffer.alloc(8);
  id.writeBigUInt64LE(BigInt.asUintN(64, clientId));
  return createHash('sha256').update(FINGERPRINT_LABEL).update(id).digest('hex');
}

/** The unspecified address: never a real datagram source, so it allows nobody when used as an expectation. */
export const NO_ANNOUNCED_ADDRESS = '0.0.0.0';

export interface NetcodeSeat {
  playerId: string;
  displayName?: string;
  /** u64 as a decimal string (the hostctl form) or a bigint; default: derived from session and player id */
  netcodeClientId?: string | bigint;
  /** the source IP the Auth server saw, when it sent one; only checked with `enforceAddress` */
  address?: string;
  extras?: unknown;
}

/**
 * Converts a hostctl expected player of a netcode session into the host domain's `ExpectedPlayer`:
 * the fingerprint encodes the client id, and a missing or unusable address becomes 0.0.0.0 (netcode
 * tokens work from any address; see NetcodeHostTransport's `enforceAddress`).
 */
export function netcodeExpectedPlayer(sessionId: string, seat: NetcodeSeat): ExpectedPlayer {
  const clientId =
    seat.netcodeClientId === undefined ? deriveNetcodeClientId(sessionId, seat.playerId) : BigInt(seat.netcodeClientId);
  if (clientId < 0n || clientId > 0xffff_ffff_ffff_ffffn) throw new RangeError(`netcode client id ${clientId} does not fit in 64 bits`);
  const ip = seat.address !== undefined && isIP(stripBrackets(seat.address)) !== 0 ? stripBrackets(seat.address) : NO_ANNOUNCED_ADDRESS;
  return {
    playerId: seat.playerId,
    address: { ip },
    fingerprint: netcodeFingerprint(clientId),
    displayName: seat.displayName ?? seat.playerId,
    ...(seat.extras !== undefined ? { extras: seat.extras } : {}),
  };
}

function stripBrackets(a: string): string {
  return a.startsWith('[') && a.endsWith(']') ? a.slice(1, -1) : a;
}
