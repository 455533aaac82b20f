/**
 * IP address parsing and canonical text, shared by the host domain, the QUIC transport's allow-list
 * and netcode.io. Validation is Node's (`net.isIP`: strict dotted quads, no `127.1` or `0x7f.0.0.1`,
 * which ipaddr.js would accept); parts and RFC 5952 text come from ipaddr.js. Nothing here throws on
 * bad input: every parser returns `{ ok: false, error }` naming what was wrong.
 */
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

export type IpFamily = 4 | 6;

export interface IpAddress {
  readonly family: IpFamily;
  /** canonical text without the zone: dotted quad, or RFC 5952 IPv6 (lower case, longest zero run as `::`) */
  readonly text: string;
  /** 4 octets (IPv4) or eight 16-bit groups (IPv6), most significant first */
  readonly parts: readonly number[];
  /** IPv6 zone id (`eth0` of `fe80::1%eth0`); never set on IPv4 */
  readonly zone?: string;
}

export interface HostPort {
  readonly ip: IpAddress;
  /** 0..65535 when the text carried a port */
  readonly port?: number;
}

/** What a failed parse tripped over, so callers can word their own errors. */
export type ParseFailure = { ok: false; error: string; what: 'address' | 'port' | 'form' };
export type Parsed<T> = { ok: true; value: T } | ParseFailure;

const IPV4_MAPPED = ipaddr.IPv6.parseCIDR('::ffff:0:0/96');

const fail = (what: ParseFailure['what'], error: string): ParseFailure => ({ ok: false, error, what });

/** Parses an IP literal, optionally in brackets (`[::1]`); IPv6 may carry a zone (`fe80::1%eth0`). No DNS. */
export function parseIp(text: string): Parsed<IpAddress> {
  if (typeof text !== 'string') return fail('address', `not an IP address: a ${typeof text}`);
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const family = isIP(bare);
  try {
    if (family === 4) {
      const parts = ipaddr.IPv4.parse(bare).octets;
      return { ok: true, value: { family: 4, text: parts.join('.'), parts } };
    }
    if (family === 6) {
      const pct = bare.indexOf('%');
      const addr = pct < 0 ? bare : bare.slice(0, pct);
      // ipaddr.js reads the deprecated IPv4-compatible `::a.b.c.d` as IPv4-mapped `::ffff:a.b.c.d`
      // (its issue #101); spelling the sixth group out keeps the address what it says.
      const v6 = ipaddr.IPv6.parse(addr.replace(/^::(?=[\d.]+$)/, '::0:'));
      const value: IpAddress = { family: 6, text: v6.toRFC5952String(), parts: v6.parts };
      return { ok: true, value: pct < 0 ? value : { ...value, zone: bare.slice(pct + 1) } };
    }
  } catch {
    // net.isIP accepted it, so ipaddr.js should too; if not, it is still just "not an address"
  }
  return fail('address', `not an IP address: ${JSON.stringify(text)}`);
}

/** `::ffff:a.b.c.d` (how a dual-stack socket reports IPv4 peers) as the IPv4 address; anything else unchanged. */
export function unmapIpv4(a: IpAddress): IpAddress {
  if (a.family !== 6 || a.zone !== undefined) return a;
  const v6 = new ipaddr.IPv6([...a.parts]);
  // a prefix match, not isIPv4MappedAddress(): that one walks every special range (~30x slower),
  // and this runs on datagram source addresses
  if (!v6.match(IPV4_MAPPED)) return a;
  const parts = v6.toByteArray().slice(12);
  return { family: 4, text: parts.join('.'), parts };
}

/** Canonical text with the zone, if any: `fe80::1%eth0`. */
export function ipText(a: IpAddress): string {
  return a.zone === undefined ? a.text : `${a.text}%${a.zone}`;
}

/**
 * The text every spelling of one address shares: RFC 5952 IPv6, IPv4-mapped unwrapped to the dotted
 * quad, zone kept. `0:0::1`, `[::1]` and `::1` give `::1`; `::ffff:7f00:1` and `127.0.0.1` give `127.0.0.1`.
 */
export function ipKey(text: string): Parsed<string> {
  const r = parseIp(text);
  return r.ok ? { ok: true, value: ipText(unmapIpv4(r.value)) } : r;
}

/**
 * The one canonical text of an IP literal (see ipKey), or undefined for anything else. The zone is
 * kept: `fe80::1%eth0` and `fe80::1%eth1` are different peers. Callers that refuse zones (the
 * datagram allow-list refuses zoned entries, so a zoned source never matches) or want an exception
 * decide that themselves.
 */
export function canonicalIp(text: string): string | undefined {
  if (typeof text !== 'string') return undefined;
  const r = ipKey(text.trim());
  return r.ok ? r.value : undefined;
}

/** An address from its parts: 4 octets or eight 16-bit groups; undefined for any other shape. */
export function ipFromParts(parts: readonly number[]): IpAddress | undefined {
  const max = parts.length === 4 ? 0xff : parts.length === 8 ? 0xffff : -1;
  if (max < 0 || !parts.every((p) => Number.isInteger(p) && p >= 0 && p <= max)) return undefined;
  const copy = [...parts];
  return parts.length === 4 ? { family: 4, text: copy.join('.'), parts: copy } : { family: 6, text: formatIpv6(copy), parts: copy };
}

/** RFC 5952 text of eight 16-bit groups (throws on another shape: callers hold validated groups). */
export function formatIpv6(groups: readonly number[]): string {
  return new ipaddr.IPv6([...groups]).toRFC5952String();
}

export function isValidPort(port: number, min: 0 | 1 = 1): boolean {
  return Number.isInteger(port) && port >= min && port <= 65535;
}

/**
 * Parses `IP`, `[IP]`, `IPv4:port` or `[IP]:port` (an IPv6 address with a port needs the brackets,
 * since its own colons make the port ambiguous). Ports are decimal (leading zeros allowed, as
 * allow-list entries always were), 0..65535; callers that refuse 0 check that themselves.
 */
export function parseHostPort(text: string): Parsed<HostPort> {
  if (typeof text !== 'string') return fail('form', `expected IP, IP:PORT or [IPv6]:PORT, got a ${typeof text}`);
  const m = /^\[([^\]]*)\](?::(\d+))?$/.exec(text) ?? /^([^:[\]]+):(\d+)$/.exec(text);
  if (!m) {
    const bare = parseIp(text);
    return bare.ok ? { ok: true, value: { ip: bare.value } } : fail('form', `expected IP, IP:PORT or [IPv6]:PORT, got ${JSON.stringify(text)}`);
  }
  const ip = parseIp(m[1]!);
  if (!ip.ok) return ip;
  if (m[2] === undefined) return { ok: true, value: { ip: ip.value } };
  const port = Number(m[2]);
  if (!isValidPort(port, 0)) return fail('port', `port ${port} of ${JSON.stringify(text)} is outside 0..65535`);
  return { ok: true, value: { ip: ip.value, port } };
}

/** A dialable `host:port`: the host is a DNS name or an IP literal (unchecked here), the port 1..65535. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/**
 * Parses `host:port` or `[IPv6]:port`, where host may be a DNS name (the caller decides which names
 * it accepts). The port is required and 1..65535: this is an address to dial or bind, not a pattern.
 */
export function parseEndpoint(text: string): Parsed<Endpoint> {
  if (typeof text !== 'string') return fail('form', `expected host:port or [IPv6]:port, got a ${typeof text}`);
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^\s:[\]]+):(\d+)$/.exec(text);
  if (!m) return fail('form', `expected host:port or [IPv6]:port, got ${JSON.stringify(text)}`);
  const port = Number(m[2]);
  if (!isValidPort(port)) return fail('port', `port ${m[2]} of ${JSON.stringify(text)} is outside 1..65535`);
  return { ok: true, value: { host: m[1]!, port } };
}

/** `1.2.3.4:5`, `[::1]:5`: brackets whenever the host text has a colon. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** An address range: `10.0.0.0/8`, `2001:db8::/32`. */
export interface Cidr {
  readonly network: IpAddress;
  readonly prefix: number;
}

/**
 * Parses `addr/prefix` (a bare address is the single-address range: /32 or /128). Host bits may be
 * set (`10.1.2.3/8` is `10.0.0.0/8`), as in most tools. IPv4-mapped IPv6 ranges and zones are
 * refused: sources are compared after unmapIpv4, so such a range would never match.
 */
export function parseCidr(text: string): Parsed<Cidr> {
  if (typeof text !== 'string') return fail('form', `expected an address range like 10.0.0.0/8, got a ${typeof text}`);
  const slash = text.indexOf('/');
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (!ip.ok) return fail('form', `expected an address range like 10.0.0.0/8 or 2001:db8::/32, got ${JSON.stringify(text)}`);
  if (ip.value.zone !== undefined) return fail('address', `an address range has no zone: ${JSON.stringify(text)}`);
  if (unmapIpv4(ip.value) !== ip.value) return fail('address', `write the IPv4 range itself, not as IPv4-mapped IPv6: ${JSON.stringify(text)}`);
  const max = ip.value.family === 4 ? 32 : 128;
  const bits = slash < 0 ? String(max) : text.slice(slash + 1);
  const prefix = Number(bits);
  if (!/^\d{1,3}$/.test(bits) || prefix > max) return fail('form', `prefix length of ${JSON.stringify(text)} is not 0..${max}`);
  return { ok: true, value: { network: ip.value, prefix } };
}

/** Whether an address (IPv4-mapped IPv6 counts as its IPv4 address) is inside a range. */
export function cidrContains(range: Cidr, address: IpAddress): boolean {
  const a = unmapIpv4(address);
  if (a.family !== range.network.family) return false;
  const parsed = a.family === 4 ? new ipaddr.IPv4([...a.parts]) : new ipaddr.IPv6([...a.parts]);
  const net = range.network.family === 4 ? new ipaddr.IPv4([...range.network.parts]) : new ipaddr.IPv6([...range.network.parts]);
  return parsed.match(net, range.prefix);
}
