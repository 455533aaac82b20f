import { isIP } from 'node:net';

/** The `[admin]` table of auth.toml / host.toml, as the schema gives it. */
export interface AdminTable {
  address: string;
  port: number;
}

/** a zod custom issue (a type alias, so it fits zod's index-signature parameter) */
type Issue = { code: 'custom'; path: (string | number)[]; message: string };

const WILDCARD = new Set(['0.0.0.0', '::', '[::]']);

/**
 * The admin port is QUIC, so UDP: it may not take a UDP port another listener of the same server
 * binds on an overlapping address (a wildcard address overlaps every other), or the server fails
 * at start with EADDRINUSE after its other ports are up. `others`: [config key, address, port].
 */
export function adminPortClashes(admin: AdminTable | undefined, others: Array<[string, string, number]>): Issue[] {
  if (!admin) return [];
  const overlap = (a: string, b: string) => a === b || WILDCARD.has(a) || WILDCARD.has(b);
  return others
    .filter(([, address, port]) => port === admin.port && overlap(address, admin.address))
    .map(([key]) => ({ code: 'custom', path: ['admin', 'port'], message: `${admin.port} is also ${key}: the admin port needs a UDP port of its own` }));
}

/**
 * A warning when the admin port listens beyond loopback: only Admin certificates get through, but
 * an operator should know the port is reachable and firewall it to their own machines.
 */
export function adminExposure(admin: AdminTable | undefined): { key: string; message: string } | undefined {
  if (!admin) return undefined;
  const a = admin.address.replace(/^\[|\]$/g, '');
  const loopback = a === 'localhost' || a === '::1' || (isIP(a) === 4 && a.startsWith('127.'));
  if (loopback) return undefined;
  const where = WILDCARD.has(admin.address) ? 'every interface' : admin.address;
  return {
    key: 'admin.address',
    message: `the admin port listens on ${where} (udp ${admin.port}): only Admin certificates are let in, but firewall it to your operators' machines, or use 127.0.0.1 and SSH`,
  };
}
