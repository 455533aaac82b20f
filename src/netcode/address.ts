import { isIPv4, isIPv6 } from 'node:net';
import type { ByteReader, ByteWriter } from './bytes.js';

/** An IPv4 or IPv6 endpoint. `host` is canonical (dotted quad, or RFC 5952 text for IPv6). */
export interface NetcodeAddress {
  readonly family: 4 | 6;
  readonly host: string;
  readonly port: number;
}

export const ADDRESS_TYPE_IPV4 = 1;
export const ADDRESS_TYPE_IPV6 = 2;

/** Builds a canonical address from a host literal (no DNS) and port; throws TypeError when malformed. */
export function makeAddress(host: string, port: number): NetcodeAddress {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TypeError(`port out of range: ${port}`);
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIPv4(bare)) return { family: 4, host: bare.split('.').map((p) => String(Number(p))).join('.'), port };
  const unscoped = bare.split('%')[0] ?? '';
  if (isIPv6(unscoped)) return { family: 6, host: formatIpv6(parseIpv6(unscoped)), port };
  throw new TypeError(`not an IP address: ${host}`);
}

/** Parses `1.2.3.4:5`, `[::1]:5`; throws TypeError when malformed. */
export function parseAddress(text: string): NetcodeAddress {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:]+):(\d{1,5})$/.exec(text);
  if (!m) throw new TypeError(`expected HOST:PORT or [IPv6]:PORT, got "${text}"`);
  return makeAddress(m[1]!, Number(m[2]));
}

export function formatAddress(a: NetcodeAddress): string {
  return a.family === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** A string that is equal for equal addresses; used as a Map key. */
export function addressKey(a: NetcodeAddress): string {
  return `${a.family}/${a.host}/${a.port}`;
}

export function addressesEqual(a: NetcodeAddress, b: NetcodeAddress): boolean {
  return a.family === b.family && a.port === b.port && a.host === b.host;
}

/** Wire form: type u8 (1/2), IPv4 bytes or eight u16 LE groups, port u16 LE. */
export function writeAddress(w: ByteWriter, a: NetcodeAddress): void {
  if (a.family === 4) {
    w.u8(ADDRESS_TYPE_IPV4);
    for (const part of a.host.split('.')) w.u8(Number(part));
  } else {
    w.u8(ADDRESS_TYPE_IPV6);
    for (const g of parseIpv6(a.host)) w.u16(g);
  }
  w.u16(a.port);
}

/** Returns null on a short buffer or an address type other than 1 or 2. */
export function readAddress(r: ByteReader): NetcodeAddress | null {
  const type = r.u8();
  if (type === ADDRESS_TYPE_IPV4) {
    const b = r.bytes(4);
    const port = r.u16();
    if (!b || port === null) return null;
    return { family: 4, host: Array.from(b).join('.'), port };
  }
  if (type === ADDRESS_TYPE_IPV6) {
    const groups: number[] = [];
    for (let i = 0; i < 8; i++) {
      const g = r.u16();
      if (g === null) return null;
      groups.push(g);
    }
    const port = r.u16();
    if (port === null) return null;
    return { family: 6, host: formatIpv6(groups), port };
  }
  return null;
}

/** Eight 16-bit groups of a valid IPv6 literal (validated by net.isIPv6 first). */
function parseIpv6(text: string): number[] {
  let s = text.toLowerCase();
  // an embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    s = s.slice(0, v4.index) + ((a << 8) | b).toString(16) + ':' + ((c << 8) | d).toString(16);
  }
  const [head, tail] = s.includes('::') ? (s.split('::') as [string, string]) : [s, undefined];
  const hs = head ? head.split(':') : [];
  const ts = tail ? tail.split(':') : [];
  const fill = tail === undefined ? 0 : 8 - hs.length - ts.length;
  return [...hs, ...Array<string>(fill).fill('0'), ...ts].map((g) => parseInt(g, 16));
}

/** RFC 5952: lower case, no leading zeros, longest run (>= 2) of zero groups as "::". */
function formatIpv6(groups: number[]): string {
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}
