import { createHash } from 'node:crypto';

/**
 * The wire concepts src/auth shares with the rest of the project. Every file in src/auth imports
 * them from here, so moving them to their one home in src/protocol is a one-line change.
 */

/** Host transports the Auth server can hand players to. */
export type HandoffTransportKind = 'quic' | 'netcode' | 'mqtt';

/** Session cert player ids are `[A-Za-z0-9][A-Za-z0-9._-]{0,63}`; account player ids (`guest:abc`) are not. */
export function seatIdOf(playerId: string): string {
  // only the `<method>:` separator becomes a dot, so two account ids never share a seat id;
  // anything else that does not fit becomes a hash
  const plain = playerId.replace(':', '.');
  if (/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(plain) && !/^p-[0-9a-f]{32}$/.test(plain)) return plain;
  return 'p-' + createHash('sha256').update(playerId).digest('hex').slice(0, 32);
}
