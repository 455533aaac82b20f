import { formatHostPort, isValidPort, canonicalIp as netCanonicalIp } from '../net/address.js';
import type { ExpectedAddress, SourceAddress } from './types.js';

export { isValidPort };

/**
 * src/net's canonicalIp for the domain's expected addresses, where a bad one is the caller's mistake:
 * `::FFFF:10.0.0.1`, `::ffff:a00:1` and `10.0.0.1` are one allow-list entry, `2001:DB8::0:1` equals
 * `2001:db8::1`, a zone id is kept (`fe80::1%eth0`). Throws TypeError on anything that is not an IP address.
 */
export function canonicalIp(ip: string): string {
  const c = netCanonicalIp(ip);
  if (c === undefined) throw new TypeError(`not an IP address: ${JSON.stringify(ip)}`);
  return c;
}

/** Canonical copy of an expected address; throws TypeError on a bad IP or port. */
export function canonicalAddress(a: ExpectedAddress): ExpectedAddress {
  const ip = canonicalIp(a.ip);
  if (a.port === undefined) return { ip };
  if (!isValidPort(a.port)) throw new TypeError(`not a port: ${a.port}`);
  return { ip, port: a.port };
}

/** Stable string key: `1.2.3.4`, `1.2.3.4:5000`, `2001:db8::1`, `[2001:db8::1]:5000`. */
export function addressKey(a: ExpectedAddress): string {
  const c = canonicalAddress(a);
  return c.port === undefined ? c.ip : formatHostPort(c.ip, c.port);
}

/** Does a concrete source address satisfy an expectation (same IP; same port when one was given)? */
export function addressMatches(expected: ExpectedAddress, source: SourceAddress): boolean {
  const ip = netCanonicalIp(source.ip);
  if (ip === undefined) return false;
  const e = canonicalAddress(expected);
  return e.ip === ip && (e.port === undefined || e.port === source.port);
}
