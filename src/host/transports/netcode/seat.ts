import { isIP } from 'node:net';
import { deriveNetcodeClientId } from '../../../netcode/session/client-id.js';
import type { ExpectedPlayer } from '../../types.js';

/**
 * The unspecified address: never a real datagram source, so it allows nobody when used as an
 * expectation. A seat announced without a usable IP gets it, and its player is dropped before
 * parsing unless the transport's `dropUnannounced` is off (and `enforceAddress` too).
 */
export const NO_ANNOUNCED_ADDRESS = '0.0.0.0';

export interface NetcodeSeat {
  playerId: string;
  displayName?: string;
  /** u64 as a decimal string (the hostctl form) or a bigint; default: derived from session and player id */
  netcodeClientId?: string | bigint;
  /** the source IP the Auth server saw at the claim: let through the host's drop-first filter; matched per seat with `enforceAddress` */
  address?: string;
  extras?: unknown;
}

/**
 * Converts a hostctl expected player of a netcode session into the host domain's `ExpectedPlayer`:
 * the seat is proven by its client id (sealed in the connect token), and its address goes on the
 * transport's allow-list. A missing or unusable address becomes 0.0.0.0, which lets nobody through
 * (see `NO_ANNOUNCED_ADDRESS`).
 */
export function netcodeExpectedPlayer(sessionId: string, seat: NetcodeSeat): ExpectedPlayer {
  const clientId = seat.netcodeClientId === undefined ? deriveNetcodeClientId(sessionId, seat.playerId) : BigInt(seat.netcodeClientId);
  if (clientId < 0n || clientId > 0xffff_ffff_ffff_ffffn) throw new RangeError(`netcode client id ${clientId} does not fit in 64 bits`);
  const ip = seat.address !== undefined && isIP(stripBrackets(seat.address)) !== 0 ? stripBrackets(seat.address) : NO_ANNOUNCED_ADDRESS;
  return {
    playerId: seat.playerId,
    address: { ip },
    netcodeClientId: clientId,
    displayName: seat.displayName ?? seat.playerId,
    ...(seat.extras !== undefined ? { extras: seat.extras } : {}),
  };
}

function stripBrackets(a: string): string {
  return a.startsWith('[') && a.endsWith(']') ? a.slice(1, -1) : a;
}
