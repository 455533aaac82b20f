import { isIP } from 'node:net';
import type { ExpectedAddress, SourceAddress } from './types.js';

/**
 * Address canonicalisation, so `::FFFF:10.0.0.1`, `::ffff:a00:1` and `10.0.0.1` are one allow-list
 * entry and `2001:DB8::0:1` equals `2001:db8::1`. Hand-written (RFC 5952 form) because Node offers
 * validation (`net.isIP`) but no canonical formatter, and the rules are short.
 */
export function canonicalIp(ip: string): string {
  const raw = ip.trim();
  const bare = raw.startsWith('[') && raw.endsWith(']') ? raw.slice(1, -1) : raw;
  const [addr = '', zone] = bare.split('%', 2);
  const family = isIP(addr);
  if (family === 4) return addr.split('.').map((o) => String(Number(o))).join('.');
  if (family !== 6) throw new TypeError(`not an IP address: ${JSON.stringify(ip)}`);
  const groups = expandIpv6(addr);
  // IPv4-mapped (::ffff:a.b.c.d): a dual-stack socket reports IPv4 peers this way.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff && zone === undefined) {
    const [hi = 0, lo = 0] = groups.slice(6);
    return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join('.');
  }
  return compressIpv6(groups) + (zone === undefined ? '' : `%${zone}`);
}

function expandIpv6(addr: string): number[] {
  let text = addr.toLowerCase();
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    const o = last.split('.').map(Number);
    tail.push(((o[0] ?? 0) << 8) | (o[1] ?? 0), ((o[2] ?? 0) << 8) | (o[3] ?? 0));
    text = text.slice(0, lastColon + 1) + '0'; // placeholder group, replaced below
  }
  const [head = '', rest] = text.split('::', 2);
  const parse = (s: string) => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  let groups: number[];
  if (rest === undefined) groups = parse(head);
  else {
    const h = parse(head);
    const r = parse(rest);
    groups = [...h, ...new Array<number>(8 - h.length - r.length - (tail.length ? 1 : 0)).fill(0), ...r];
  }
  if (tail.length) groups = [...groups.slice(0, groups.length - 1), ...tail];
  return groups.slice(0, 8);
}

function compressIpv6(groups: number[]): string {
  // longest run of at least two zero groups becomes '::' (first one on ties), per RFC 5952
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

export function isValidPort(port: number): boolean {
  return Number.isInteger(port) && port >= 1 && port <= 65535;
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
  if (c.port === undefined) return c.ip;
  return c.ip.includes(':') ? `[${c.ip}]:${c.port}` : `${c.ip}:${c.port}`;
}

/** Does a concrete source address satisfy an expectation (same IP; same port when one was given)? */
export function addressMatches(expected: ExpectedAddress, source: SourceAddress): boolean {
  let ip: string;
  try {
    ip = canonicalIp(source.ip);
  } catch {
    return false;
  }
  const e = canonicalAddress(expected);
  return e.ip === ip && (e.port === undefined || e.port === source.port);
}
