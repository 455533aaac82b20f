/**
 * PROXY protocol v2 over UDP (haproxy's proxy-protocol.txt, section 2.2), sans-IO: a UDP proxy in
 * front of a QUIC server prefixes every datagram it relays with a v2 header naming the real client,
 * and sends replies back to that client from the socket the client's datagrams came in on. So the
 * server reads the header off each datagram from a trusted proxy, hands QUIC the payload as if it
 * came from the real client, and sends QUIC's replies to that client to the proxy, without a header.
 *
 * Header layout: 12-byte signature, version/command (0x21: v2, PROXY; 0x20: v2, LOCAL),
 * family/protocol (0x12: UDP over IPv4, 0x22: UDP over IPv6), the length of what follows (16 bits,
 * big-endian), then source address, destination address, source port, destination port, then TLVs.
 */
import { cidrContains, formatHostPort, ipFromParts, parseCidr, parseIp, unmapIpv4, type Cidr, type IpAddress } from '../net/address.js';
import { transportError } from './errors.js';

export const PROXY_V2_SIGNATURE: Uint8Array = Uint8Array.of(0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a);
const HEADER_FIXED = 16;
/** source + destination address, source + destination port */
const ADDRESS_BLOCK = { 4: 12, 6: 36 } as const;

/** Why a datagram's header was not honoured; also the names of the drop counters. */
export const PROXY_HEADER_REFUSALS = [
  /** no v2 signature */
  'no_header',
  /** shorter than its fixed part, its length field or its address block says */
  'truncated',
  /** not version 2 */
  'bad_version',
  /** neither LOCAL nor PROXY */
  'bad_command',
  /** LOCAL: the proxy speaking for itself (a health check), not relaying a client */
  'local',
  /** not IPv4 or IPv6 (UNSPEC, UNIX, or an unknown family) */
  'bad_family',
  /** TCP (STREAM) or unspecified: a UDP proxy relays datagrams */
  'not_datagram',
  /** source port 0 */
  'bad_address',
] as const;
export type ProxyHeaderRefusal = (typeof PROXY_HEADER_REFUSALS)[number];

export interface ProxyEndpoint {
  readonly ip: IpAddress;
  readonly port: number;
}

export type ProxyHeaderResult =
  | { ok: true; source: ProxyEndpoint; destination: ProxyEndpoint; payload: Uint8Array }
  | { ok: false; reason: ProxyHeaderRefusal };

export function hasProxySignature(data: Uint8Array): boolean {
  if (data.byteLength < PROXY_V2_SIGNATURE.byteLength) return false;
  for (let i = 0; i < PROXY_V2_SIGNATURE.byteLength; i++) if (data[i] !== PROXY_V2_SIGNATURE[i]) return false;
  return true;
}

/** Reads the v2 header off one datagram. The payload is a view into `data`, not a copy. */
export function parseProxyV2(data: Uint8Array): ProxyHeaderResult {
  const refuse = (reason: ProxyHeaderRefusal): ProxyHeaderResult => ({ ok: false, reason });
  if (!hasProxySignature(data)) return refuse('no_header');
  if (data.byteLength < HEADER_FIXED) return refuse('truncated');
  const verCmd = data[12]!;
  if (verCmd >> 4 !== 2) return refuse('bad_version');
  const command = verCmd & 0x0f;
  if (command > 1) return refuse('bad_command');
  const length = (data[14]! << 8) | data[15]!;
  if (data.byteLength < HEADER_FIXED + length) return refuse('truncated');
  // LOCAL carries no client; its address block (if any) must be ignored, so it is checked after the length
  if (command === 0) return refuse('local');
  const famProto = data[13]!;
  const family = famProto >> 4 === 1 ? 4 : famProto >> 4 === 2 ? 6 : undefined;
  if (family === undefined) return refuse('bad_family');
  if ((famProto & 0x0f) !== 2) return refuse('not_datagram');
  const block = ADDRESS_BLOCK[family];
  if (length < block) return refuse('truncated');
  const at = HEADER_FIXED;
  const n = family === 4 ? 4 : 16;
  const source = endpoint(data, at, at + 2 * n, family);
  const destination = endpoint(data, at + n, at + 2 * n + 2, family);
  if (source.port === 0) return refuse('bad_address');
  // TLVs (ALPN, authority, CRC32C, unique id, …) between the address block and `length` are skipped:
  // none changes where a datagram came from
  return { ok: true, source, destination, payload: data.subarray(HEADER_FIXED + length) };
}

function endpoint(data: Uint8Array, addrAt: number, portAt: number, family: 4 | 6): ProxyEndpoint {
  const parts: number[] = [];
  if (family === 4) for (let i = 0; i < 4; i++) parts.push(data[addrAt + i]!);
  else for (let i = 0; i < 8; i++) parts.push((data[addrAt + 2 * i]! << 8) | data[addrAt + 2 * i + 1]!);
  // a proxy on a dual-stack socket may name an IPv4 client as ::ffff:a.b.c.d; it is that IPv4 client
  return { ip: unmapIpv4(ipFromParts(parts)!), port: (data[portAt]! << 8) | data[portAt + 1]! };
}

/** Builds a v2 PROXY header for UDP (tests, and the loopback proxy in them). */
export function encodeProxyV2(source: ProxyEndpoint, destination: ProxyEndpoint, tlvs: Uint8Array = new Uint8Array(0)): Uint8Array {
  const family = source.ip.family;
  if (destination.ip.family !== family) throw new RangeError('source and destination must be of one address family');
  const n = family === 4 ? 4 : 16;
  const length = ADDRESS_BLOCK[family] + tlvs.byteLength;
  const out = new Uint8Array(HEADER_FIXED + length);
  out.set(PROXY_V2_SIGNATURE, 0);
  out[12] = 0x21;
  out[13] = family === 4 ? 0x12 : 0x22;
  out[14] = length >> 8;
  out[15] = length & 0xff;
  const put = (ip: IpAddress, at: number): void => {
    if (family === 4) out.set(ip.parts, at);
    else ip.parts.forEach((g, i) => out.set([g >> 8, g & 0xff], at + 2 * i));
  };
  put(source.ip, HEADER_FIXED);
  put(destination.ip, HEADER_FIXED + n);
  out.set([source.port >> 8, source.port & 0xff, destination.port >> 8, destination.port & 0xff], HEADER_FIXED + 2 * n);
  out.set(tlvs, HEADER_FIXED + ADDRESS_BLOCK[family]);
  return out;
}

/** Parses the configured proxy ranges; throws a `bad_proxy_range` IyesmpError naming the bad one. */
export function parseTrustedProxies(ranges: Iterable<string>): Cidr[] {
  const out: Cidr[] = [];
  for (const text of ranges) {
    const r = parseCidr(typeof text === 'string' ? text.trim() : text);
    if (!r.ok) throw transportError('bad_proxy_range', `trusted proxy range: ${r.error}`, { hint: 'use CIDR ranges such as "10.0.0.0/8" or "2001:db8::/32"' });
    out.push(r.value);
  }
  return out;
}

/** What happened to the datagrams of a server with trusted proxies. */
export interface ProxyStats {
  /** datagrams from a trusted proxy whose header was honoured */
  relayed: number;
  /** dropped, by why: a header refusal from a trusted proxy, `untrusted_header` (a header from anyone else), `shadowed` (see ProxyRouter) */
  dropped: Partial<Record<ProxyHeaderRefusal | 'untrusted_header' | 'shadowed', number>>;
  /** real clients currently reached through a proxy */
  routes: number;
}

/** Where QUIC should see a datagram come from, or why it was dropped. */
export type InboundDecision =
  | { pass: true; data: Uint8Array; host: string; port: number; viaProxy?: { host: string; port: number } }
  | { pass: false; reason: keyof ProxyStats['dropped'] };

export interface ProxyRouterOptions {
  trusted: readonly Cidr[];
  /** forget a route this long after its last datagram; keep it at least the QUIC idle timeout */
  routeTtlMs: number;
  /** routes kept at most; the least recently used goes first */
  maxRoutes?: number;
}

interface Route {
  proxyHost: string;
  proxyPort: number;
  lastSeen: number;
}

/**
 * The per-datagram decisions of a server behind trusted proxies. QUIC sees each real client at its
 * own address (so connection ids, paths, per-address limits and logs are per client); a route table
 * remembers which proxy each real client came through, so the socket can send replies there.
 *
 * A real client address that has a route is "shadowed": a datagram coming straight from that
 * address is dropped while the route lives, since QUIC's replies to it would go to the proxy.
 */
export class ProxyRouter {
  readonly #trusted: readonly Cidr[];
  readonly #ttl: number;
  readonly #max: number;
  /** canonical `ip:port` of a real client -> its route; Map order is least recently seen first */
  readonly #routes = new Map<string, Route>();
  /** source text -> trusted?, since a socket sees the same few proxies over and over; bounded */
  readonly #trustCache = new Map<string, boolean>();
  /** peer text -> canonical IP text, for route keys (parsing costs microseconds, per datagram); bounded */
  readonly #canonical = new Map<string, string>();
  readonly #stats: ProxyStats = { relayed: 0, dropped: {}, routes: 0 };
  /**
   * How the socket spells peers, so a client has one address whether it comes through a proxy or
   * not: `mapped` (IPv6 and dual-stack sockets) shows IPv4 clients as ::ffff:a.b.c.d. Set once the
   * socket is bound.
   */
  ipv4As: 'plain' | 'mapped' = 'plain';

  constructor(opts: ProxyRouterOptions) {
    this.#trusted = opts.trusted;
    this.#ttl = opts.routeTtlMs;
    this.#max = opts.maxRoutes ?? 65_536;
  }

  /** One datagram as the socket received it. */
  inbound(data: Uint8Array, host: string, port: number, now: number): InboundDecision {
    this.#expire(now);
    if (!this.#isTrusted(host)) {
      if (hasProxySignature(data)) return this.#drop('untrusted_header');
      if (this.#routes.size > 0 && this.#routes.has(this.#routeKey(host, port))) return this.#drop('shadowed');
      return { pass: true, data, host, port };
    }
    const h = parseProxyV2(data);
    if (!h.ok) return this.#drop(h.reason);
    const key = formatHostPort(h.source.ip.text, h.source.port);
    this.#routes.delete(key); // re-inserted last: most recently seen
    this.#routes.set(key, { proxyHost: host, proxyPort: port, lastSeen: now });
    if (this.#routes.size > this.#max) this.#routes.delete(this.#routes.keys().next().value!);
    this.#stats.relayed++;
    const ip = h.source.ip;
    const shown = ip.family === 4 && this.ipv4As === 'mapped' ? `::ffff:${ip.text}` : ip.text;
    return { pass: true, data: h.payload, host: shown, port: h.source.port, viaProxy: { host, port } };
  }

  /** The proxy to send a datagram for `host:port` to, when that peer came through one. */
  outbound(host: string, port: number): { host: string; port: number } | undefined {
    if (this.#routes.size === 0) return undefined;
    const r = this.#routes.get(this.#routeKey(host, port));
    return r === undefined ? undefined : { host: r.proxyHost, port: r.proxyPort };
  }

  stats(): ProxyStats {
    return { relayed: this.#stats.relayed, dropped: { ...this.#stats.dropped }, routes: this.#routes.size };
  }

  #drop(reason: keyof ProxyStats['dropped']): InboundDecision {
    this.#stats.dropped[reason] = (this.#stats.dropped[reason] ?? 0) + 1;
    return { pass: false, reason };
  }

  #expire(now: number): void {
    for (const [key, r] of this.#routes) {
      if (now - r.lastSeen <= this.#ttl) break; // the rest were seen later
      this.#routes.delete(key);
    }
  }

  /** `ip:port` with the IP canonical (IPv4-mapped unwrapped), so every spelling finds one route. */
  #routeKey(host: string, port: number): string {
    let c = this.#canonical.get(host);
    if (c === undefined) {
      const ip = parseIp(host);
      c = ip.ok ? unmapIpv4(ip.value).text : host;
      if (this.#canonical.size >= 4096) this.#canonical.clear();
      this.#canonical.set(host, c);
    }
    return formatHostPort(c, port);
  }

  #isTrusted(host: string): boolean {
    let t = this.#trustCache.get(host);
    if (t === undefined) {
      const ip = parseIp(host);
      t = ip.ok && ip.value.zone === undefined && this.#trusted.some((c) => cidrContains(c, ip.value));
      if (this.#trustCache.size >= 4096) this.#trustCache.clear();
      this.#trustCache.set(host, t);
    }
    return t;
  }
}
