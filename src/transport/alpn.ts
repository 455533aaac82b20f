/** Application protocol (ALPN) ids, one per connection family: a peer dialling the wrong port fails the handshake. */
import { IyesmpError } from '../errors.js';

export const ALPN = {
  /** game client -> Auth server */
  auth: 'iyesmp-auth/1',
  /** Host server -> Auth server (registration, heartbeats, sessions) */
  hostctl: 'iyesmp-hostctl/1',
  /** player -> Host server after hand-off */
  host: 'iyesmp-host/1',
} as const;
export type AlpnId = (typeof ALPN)[keyof typeof ALPN];

/** ALPN ids are 1..255 bytes of printable ASCII here (RFC 7301 allows any bytes; we keep them readable). */
export function checkAlpn(alpn: string): string {
  if (typeof alpn !== 'string' || !/^[\x21-\x7e]{1,255}$/.test(alpn)) {
    throw new IyesmpError('usage', 'bad_alpn', `ALPN ${JSON.stringify(alpn)} must be 1-255 printable ASCII characters`);
  }
  return alpn;
}
