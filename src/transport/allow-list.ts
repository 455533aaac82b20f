/**
 * Source-address allow-list applied to raw UDP datagrams before QUIC parses them: a Host server
 * drops everything that does not come from a player it was told to expect. Entries are an address
 * (`203.0.113.7`, `2001:db8::1`) or an address with a port (`203.0.113.7:5000`, `[2001:db8::1]:5000`).
 * The list can change while the server runs; counters say how much was dropped.
 */
import { IyesmpError } from '../errors.js';
import { transportError } from './errors.js';
import { canonicalIp, formatHostPort, parseHostPort, unmapIpv4 } from '../net/address.js';

export interface AllowListStats {
  /** datagrams let through to QUIC */
  passed: number;
  /** datagrams dropped because their source is not on the list */
  dropped: number;
  droppedBytes: number;
  /** source of the most recent dropped datagram, `host:port` */
  lastDroppedFrom?: string;
}

export interface AllowEntry {
  host: string;
  /** undefined: any port of that address */
  port?: number;
}

/** Datagram sources are keyed by src/net's canonicalIp; re-exported here for `iyesmp/transport` users. */
export { canonicalIp };

/** Parses one allow-list entry; throws an `input` IyesmpError naming the bad text. */
export function parseAllowEntry(text: string): AllowEntry {
  const bad = (why: string): IyesmpError =>
    transportError('bad_allow_entry', `allow-list entry ${JSON.stringify(text)} ${why}`, {
      hint: 'use an IP address, or IP:port (IPv6 with a port as [addr]:port)',
    });
  if (typeof text !== 'string' || text.length === 0 || text.length > 64) throw bad('is empty or too long');
  const r = parseHostPort(text.trim());
  if (!r.ok && r.what === 'form') throw bad('is not an IP address or IP:port');
  if (!r.ok && r.what === 'port') throw bad('has a port outside 1..65535');
  if (!r.ok || r.value.ip.zone !== undefined) throw bad('is not an IP address');
  const host = unmapIpv4(r.value.ip).text;
  const { port } = r.value;
  if (port === undefined) return { host };
  if (port < 1) throw bad('has a port outside 1..65535');
  return { host, port };
}

function entryKey(e: AllowEntry): string {
  return e.port === undefined ? e.host : formatHostPort(e.host, e.port);
}

export class AddressAllowList {
  /** canonical host -> allowed ports; an empty set with `any` means every port */
  private readonly hosts = new Map<string, { any: boolean; ports: Set<number> }>();
  private readonly counters: AllowListStats = { passed: 0, dropped: 0, droppedBytes: 0 };
  /** the last dropped source, formatted only when stats are read: a flood must not allocate per datagram */
  private lastDropped: { host: string; port: number } | undefined;
  /**
   * Source text -> canonical IP, so the per-datagram check is a lookup: parsing (ipaddr.js) costs
   * microseconds and a socket sees the same few peers over and over. Pure, so never stale; bounded.
   */
  private readonly canonical = new Map<string, string | undefined>();

  constructor(entries: Iterable<string> = []) {
    for (const e of entries) this.add(e);
  }

  /** Adds `addr` or `addr:port`. Adding an entry that is already there changes nothing. */
  add(entry: string): void {
    const e = parseAllowEntry(entry);
    let h = this.hosts.get(e.host);
    if (!h) {
      h = { any: false, ports: new Set() };
      this.hosts.set(e.host, h);
    }
    if (e.port === undefined) h.any = true;
    else h.ports.add(e.port);
  }

  /**
   * Removes exactly that entry (`addr` removes the any-port entry, `addr:port` one port).
   * Returns whether something was removed. Established QUIC connections are not cut: callers that
   * want that close them (the next datagram from a removed address is dropped, so they time out).
   */
  remove(entry: string): boolean {
    const e = parseAllowEntry(entry);
    const h = this.hosts.get(e.host);
    if (!h) return false;
    let removed: boolean;
    if (e.port === undefined) {
      removed = h.any;
      h.any = false;
    } else {
      removed = h.ports.delete(e.port);
    }
    if (!h.any && h.ports.size === 0) this.hosts.delete(e.host);
    return removed;
  }

  clear(): void {
    this.hosts.clear();
  }

  /** Whether a datagram from `host:port` may pass; does not count. */
  allows(host: string, port: number): boolean {
    let c = this.canonical.get(host);
    if (c === undefined && !this.canonical.has(host)) {
      c = canonicalIp(host);
      if (this.canonical.size >= 4096) this.canonical.clear();
      this.canonical.set(host, c);
    }
    if (c === undefined) return false;
    const h = this.hosts.get(c);
    return h !== undefined && (h.any || h.ports.has(port));
  }

  /** The per-datagram decision: counts and returns whether to pass it on. */
  admit(host: string, port: number, bytes: number): boolean {
    if (this.allows(host, port)) {
      this.counters.passed++;
      return true;
    }
    this.counters.dropped++;
    this.counters.droppedBytes += bytes;
    if (this.lastDropped) {
      this.lastDropped.host = host;
      this.lastDropped.port = port;
    } else this.lastDropped = { host, port };
    return false;
  }

  entries(): string[] {
    const out: string[] = [];
    for (const [host, h] of this.hosts) {
      if (h.any) out.push(entryKey({ host }));
      for (const port of h.ports) out.push(entryKey({ host, port }));
    }
    return out.sort();
  }

  get size(): number {
    return this.entries().length;
  }

  stats(): AllowListStats {
    const last = this.lastDropped;
    return { ...this.counters, ...(last ? { lastDroppedFrom: formatHostPort(last.host, last.port) } : {}) };
  }
}
