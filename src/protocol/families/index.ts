import type { z } from 'zod';
import type { HostTransportKind } from '../transports.js';
import { adminFamily } from './admin.js';
export { ADMIN_PROTOCOL_LIMITS, fitAdminRows } from './admin.js';
import { authFamily, type HandoffTransport } from './auth.js';
import { hostFamily } from './host.js';
import { hostctlFamily, type HostTransport } from './hostctl.js';

// Both wire unions have exactly one member per HOST_TRANSPORT_KINDS entry: adding a kind there
// fails the build here until the hand-off and the host registration can carry it.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
true satisfies Same<z.infer<typeof HandoffTransport>['kind'], HostTransportKind>;
true satisfies Same<z.infer<typeof HostTransport>['kind'], HostTransportKind>;

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
  /** operator (Admin cert) -> Auth or Host server's admin port */
  admin: adminFamily.name,
} as const;
export type AlpnId = (typeof ALPN)[keyof typeof ALPN];

export { adminFamily, authFamily, hostctlFamily, hostFamily };
export type { AdminFamily } from './admin.js';
export type { AuthFamily } from './auth.js';
export type { HostctlFamily } from './hostctl.js';
export type { HostFamily } from './host.js';
