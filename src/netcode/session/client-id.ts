import { createHash } from 'node:crypto';

/**
 * How a netcode client is tied to a session seat. netcode has no certificates: the connect token is
 * the credential, and the host sees only what the Auth server sealed into it (client id and user
 * data). Both sides derive the same client id without talking to each other.
 */

const CLIENT_ID_LABEL = Buffer.from('iyesmp/netcode-client-id/1\0', 'utf8');

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
