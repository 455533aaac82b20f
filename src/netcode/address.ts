import { type IpAddress, formatHostPort, ipFromParts, isValidPort, parseHostPort, parseIp } from '../net/address.js';
import type { ByteReader, ByteWriter } from './bytes.js';

/** An IPv4 or IPv6 endpoint. `host` is canonical (dotted quad, or RFC 5952 text for IPv6). */
export interface NetcodeAddress {
  readonly family: 4 | 6;
  readonly host: string;
  readonly port: number;
}

export const ADDRESS_TYPE_IPV4 = 1;
export const ADDRESS_TYPE_IPV6 = 2;

/**
 * Netcode keeps an IPv4-mapped IPv6 address as IPv6 (`::ffff:102:304`): the wire form has its own
 * IPv4 type, so the two are different addresses in a connect token. A zone id is dropped.
 */
function fromIp(ip: IpAddress, port: number): NetcodeAddress {
  return { family: ip.family, host: ip.text, port };
}

/** Builds a canonical address from a host literal (no DNS) and port; throws TypeError when malformed. */
export function makeAddress(host: string, port: number): NetcodeAddress {
  if (!isValidPort(port, 0)) throw new TypeError(`port out of range: ${port}`);
  const ip = parseIp(host);
  if (!ip.ok) throw new TypeError(ip.error);
  return fromIp(ip.value, port);
}

/** Parses `1.2.3.4:5`, `[::1]:5`; throws TypeError when malformed. */
export function parseAddress(text: string): NetcodeAddress {
  const r = parseHostPort(text);
  if (!r.ok && r.what !== 'form') throw new TypeError(r.error);
  if (!r.ok || r.value.port === undefined) throw new TypeError(`expected HOST:PORT or [IPv6]:PORT, got "${text}"`);
  return fromIp(r.value.ip, r.value.port);
}

export function formatAddress(a: NetcodeAddress): string {
  return formatHostPort(a.host, a.port);
}

/** A string that is equal for equal addresses; used as a Map key. */
/** Keys of address objects already seen: the UDP adapters reuse one object per source, and a key
 * string made once keeps its hash, so the per-datagram map lookups do not build and hash a new one. */
const keys = new WeakMap<NetcodeAddress, string>();

export function addressKey(a: NetcodeAddress): string {
  let k = keys.get(a);
  if (k === undefined) {
    k = `${a.family}/${a.host}/${a.port}`;
    keys.set(a, k);
  }
  return k;
}

export function addressesEqual(a: NetcodeAddress, b: NetcodeAddress): boolean {
  return a.family === b.family && a.port === b.port && a.host === b.host;
}

/** Wire form: type u8 (1/2), IPv4 bytes or eight u16 LE groups, port u16 LE. */
export function writeAddress(w: ByteWriter, a: NetcodeAddress): void {
  const ip = parseIp(a.host);
  if (!ip.ok || ip.value.family !== a.family) throw new TypeError(`not an IPv${a.family} address: ${JSON.stringify(a.host)}`);
  if (a.family === 4) {
    w.u8(ADDRESS_TYPE_IPV4);
    for (const octet of ip.value.parts) w.u8(octet);
  } else {
    w.u8(ADDRESS_TYPE_IPV6);
    for (const group of ip.value.parts) w.u16(group); // u16 is little-endian, as netcode 1.02 sends groups
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
    return { family: 4, host: ipFromParts(Array.from(b))!.text, port };
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
    return { family: 6, host: ipFromParts(groups)!.text, port };
  }
  return null;
}
