/** Application protocol (ALPN) ids come from the protocol families: a peer dialling the wrong port fails the handshake. */
import { transportError } from './errors.js';

export { ALPN, type AlpnId } from '../protocol/families/index.js';

/** ALPN ids are 1..255 bytes of printable ASCII here (RFC 7301 allows any bytes; we keep them readable). */
export function checkAlpn(alpn: string): string {
  if (typeof alpn !== 'string' || !/^[\x21-\x7e]{1,255}$/.test(alpn)) {
    throw transportError('bad_alpn', `ALPN ${JSON.stringify(alpn)} must be 1-255 printable ASCII characters`);
  }
  return alpn;
}
