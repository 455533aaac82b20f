import { authFamily } from './auth.js';
import { hostFamily } from './host.js';
import { hostctlFamily } from './hostctl.js';

/**
 * ALPN ids, one per family: the family's name, which `defineFamily` checks ends in its major
 * version (a new major is a new ALPN id, so an old peer fails the handshake instead of mis-parsing).
 */
export const ALPN = {
  /** game client -> Auth server */
  auth: authFamily.name,
  /** Host server -> Auth server (registration, heartbeats, sessions) */
  hostctl: hostctlFamily.name,
  /** player -> Host server after hand-off */
  host: hostFamily.name,
} as const;
export type AlpnId = (typeof ALPN)[keyof typeof ALPN];

export { authFamily, hostctlFamily, hostFamily };
export type { AuthFamily } from './auth.js';
export type { HostctlFamily } from './hostctl.js';
export type { HostFamily } from './host.js';
