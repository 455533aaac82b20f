import { hostRegistryError } from './errors.js';
import { EventQueue } from '../events/queue.js';

/**
 * The hosts that dialled in, and the choice of one for a new session. Sans-IO: the server feeds in
 * registrations and heartbeats with `now`, calls `tick(now)` to find silent hosts, and asks `pick()`.
 *
 * Load is counted in sessions. A session holds a reservation on its host from the moment it is
 * picked until it ends or fails (`release`), so a host is never offered more sessions than it has
 * slots, whatever the order of acks, heartbeats and results. Heartbeats reconcile without counting
 * a session twice: once the host acknowledged a session (`confirm`) its heartbeats count it too, so
 *
 *   load = unconfirmed reservations + max(heartbeat's active, confirmed reservations)
 *
 * (a host running sessions we hold nothing for, e.g. after our restart, still counts as busy).
 * Capacity is a host's session limit.
 */

export interface HostInfo {
  /** Unique host name (from its certificate). */
  name: string;
  region: string;
  /** Where players connect (host:port or URL; opaque to us). */
  address: string;
  /** Transports it offers, e.g. "quic", "netcode", "mqtt". */
  transports: string[];
  /** Sessions it can run at once. */
  capacity: number;
  version: string;
}

export interface HostView extends HostInfo {
  state: 'alive' | 'dead';
  registeredAt: number;
  lastSeen: number;
  /** Sessions running, per its last heartbeat. */
  active: number;
  /** Sessions held on it from pick to end (created, acknowledged or running). */
  reserved: number;
  /** Of those, the ones the host acknowledged (its heartbeats count them too). */
  confirmed: number;
  /** Sessions counted against its capacity (see the load rule above). */
  load: number;
  /** Anything else the host reports (CPU, players, build), passed through. */
  metrics: Record<string, unknown>;
  /** True once the host said it is shutting down: it keeps its sessions but gets no new ones. */
  draining: boolean;
}

export interface Heartbeat {
  active: number;
  draining?: boolean;
  metrics?: Record<string, unknown>;
}

export interface PickRequest {
  transport: string;
  /** Preferred regions, best first; other regions are used after these, least loaded first. */
  regions?: string[];
  /** Only hosts running exactly one of these versions (absent: any). */
  versions?: string[];
  /** Hosts not to pick (they refused or did not acknowledge this very session). */
  exclude?: string[];
}

export type PickResult = { ok: true; host: HostView; region: string; preferredRegion: boolean } | { ok: false; reason: 'no-host-available'; detail: string };

export interface Reservation {
  id: string;
  host: string;
  /** an unconfirmed reservation stops counting then (safety net for lost hand-offs) */
  expiresAt: number;
  /** the host acknowledged the session: held until release (the session ended or failed) */
  confirmed: boolean;
}

export interface HostRegistryEvents {
  registered: { host: HostView; replaced: boolean };
  /** Missed too many heartbeats: its sessions are lost; the server tells their players. */
  dead: { host: HostView; reservations: Reservation[] };
  unregistered: { host: HostView };
}
/** What the HostRegistry core queues: one of its events, named by `type`. */
export type HostRegistryEvent = { [K in keyof HostRegistryEvents]: { type: K } & HostRegistryEvents[K] }[keyof HostRegistryEvents];

export interface HostRegistryOptions {
  /** How often hosts are told to send heartbeats (ms). */
  heartbeatIntervalMs?: number;
  /** Heartbeats a host may miss before it counts as dead (N). */
  missedHeartbeats?: number;
  /**
   * An unconfirmed reservation not released by then stops counting (safety net for lost
   * hand-offs). Confirmed ones are trimmed when the host's heartbeats have reported fewer sessions
   * than we hold for this long (results that never came).
   */
  reservationTtlMs?: number;
}

interface Host extends Omit<HostView, 'load'> {
  /** in the order they were made (the oldest confirmed ones are trimmed first) */
  reservations: Map<string, Reservation>;
  /** since when heartbeats report fewer sessions than we hold confirmed */
  shortSince?: number;
}

export class HostRegistry {
  readonly #events = new EventQueue<HostRegistryEvent>();
  readonly heartbeatIntervalMs: number;
  readonly missedHeartbeats: number;
  readonly #reservationTtlMs: number;
  readonly #hosts = new Map<string, Host>();
  readonly #reservationHost = new Map<string, Host>();

  constructor(opts: HostRegistryOptions = {}) {
    this.heartbeatIntervalMs = opts.heartbeatIntervalMs ?? 5_000;
    this.missedHeartbeats = opts.missedHeartbeats ?? 3;
    this.#reservationTtlMs = opts.reservationTtlMs ?? 60_000;
  }

  /** Everything queued since the last take, oldest first (the driver delivers it after each input). */
  takeEvents(): HostRegistryEvent[] {
    return this.#events.take();
  }

  /**
   * A host (re)connects. Registering a name that exists replaces it: the old entry's reservations
   * are dropped, since a restarted host knows nothing of them.
   */
  register(info: HostInfo, now: number): HostView {
    validate(info);
    const old = this.#hosts.get(info.name);
    if (old) for (const id of old.reservations.keys()) this.#reservationHost.delete(id);
    const h: Host = {
      ...info,
      transports: [...new Set(info.transports)],
      state: 'alive',
      registeredAt: now,
      lastSeen: now,
      active: 0,
      reserved: 0,
      confirmed: 0,
      metrics: {},
      draining: false,
      reservations: new Map(),
    };
    this.#hosts.set(info.name, h);
    this.#events.push({ type: 'registered', host: view(h), replaced: old !== undefined });
    return view(h);
  }

  /** Returns false for a host we do not know or already declared dead: it must register again. */
  heartbeat(name: string, hb: Heartbeat, now: number): boolean {
    const h = this.#hosts.get(name);
    if (!h || h.state === 'dead') return false;
    if (!Number.isInteger(hb.active) || hb.active < 0) {
      throw hostRegistryError('host.bad_request', `heartbeat from ${name}: "active" must be a whole number >= 0`);
    }
    h.lastSeen = Math.max(h.lastSeen, now);
    h.active = hb.active;
    if (h.active >= h.confirmed) h.shortSince = undefined;
    else h.shortSince ??= now;
    if (hb.draining !== undefined) h.draining = hb.draining;
    if (hb.metrics !== undefined) h.metrics = { ...hb.metrics };
    return true;
  }

  /** A host said goodbye cleanly. */
  unregister(name: string): void {
    const h = this.#hosts.get(name);
    if (!h) return;
    this.#drop(h);
    this.#events.push({ type: 'unregistered', host: view(h) });
  }

  /**
   * Marks silent hosts dead, expires stale unconfirmed reservations, and trims confirmed ones the
   * host's heartbeats have not counted for a TTL. Returns the hosts that died now.
   */
  tick(now: number): HostView[] {
    const limit = this.heartbeatIntervalMs * this.missedHeartbeats;
    const died: Array<{ host: HostView; reservations: Reservation[] }> = [];
    for (const h of this.#hosts.values()) {
      for (const r of h.reservations.values()) if (!r.confirmed && r.expiresAt <= now) this.#unreserve(h, r.id);
      if (h.shortSince !== undefined && now - h.shortSince >= this.#reservationTtlMs) {
        let excess = h.confirmed - h.active;
        for (const r of h.reservations.values()) {
          if (excess <= 0) break;
          if (r.confirmed) {
            this.#unreserve(h, r.id);
            excess--;
          }
        }
        h.shortSince = undefined;
      }
      if (h.state === 'alive' && now - h.lastSeen > limit) {
        const reservations = [...h.reservations.values()];
        h.state = 'dead';
        for (const r of reservations) this.#unreserve(h, r.id);
        died.push({ host: view(h), reservations });
      }
    }
    // Dead hosts stay listed (state "dead") until they register again or are unregistered,
    // so operators can see them; they are never picked.
    for (const d of died) this.#events.push({ type: 'dead', ...d });
    return died.map((d) => d.host);
  }

  get(name: string): HostView | undefined {
    const h = this.#hosts.get(name);
    return h && view(h);
  }

  list(): HostView[] {
    return [...this.#hosts.values()].map(view);
  }

  /**
   * Best host for a new session: alive, not draining, offers the transport, has a free slot, runs an
   * accepted version; in the first preferred region that has one, else any other; least loaded
   * (by fraction of capacity, then by name so the answer is deterministic).
   */
  pick(req: PickRequest): PickResult {
    const fits: Host[] = [];
    let withTransport = 0;
    let excluded = 0;
    for (const h of this.#hosts.values()) {
      if (h.state !== 'alive' || h.draining || !h.transports.includes(req.transport)) continue;
      if (req.versions && !req.versions.includes(h.version)) continue;
      if (req.exclude?.includes(h.name)) {
        excluded++;
        continue;
      }
      withTransport++;
      if (loadOf(h) < h.capacity) fits.push(h);
    }
    if (fits.length === 0) {
      const others = excluded === 0 ? '' : `; ${excluded} more failed this session recently`;
      return {
        ok: false,
        reason: 'no-host-available',
        detail:
          withTransport === 0 && excluded === 0
            ? `no live host offers transport "${req.transport}"${req.versions ? ` at version ${req.versions.join('/')}` : ''}`
            : withTransport === 0
              ? `the ${excluded} host(s) offering "${req.transport}" failed this session recently`
              : `all ${withTransport} host(s) offering "${req.transport}" are full${others}`,
      };
    }
    const load = (h: Host) => loadOf(h) / h.capacity;
    const best = (hs: Host[]) => hs.reduce((a, b) => (load(b) < load(a) || (load(b) === load(a) && b.name < a.name) ? b : a));
    for (const region of req.regions ?? []) {
      const here = fits.filter((h) => h.region === region);
      if (here.length > 0) return { ok: true, host: view(best(here)), region, preferredRegion: true };
    }
    const h = best(fits);
    return { ok: true, host: view(h), region: h.region, preferredRegion: (req.regions ?? []).length === 0 };
  }

  /** Hold one slot on `host` for a session, from pick until it ends or fails (`release`). */
  reserve(host: string, reservationId: string, now: number): Reservation {
    const h = this.#hosts.get(host);
    if (!h || h.state === 'dead') throw hostRegistryError('host.unknown', `host ${host} is not registered or is dead`);
    if (this.#reservationHost.has(reservationId)) {
      throw hostRegistryError('host.duplicate_reservation', `reservation ${reservationId} already exists`);
    }
    const r: Reservation = { id: reservationId, host, expiresAt: now + this.#reservationTtlMs, confirmed: false };
    h.reservations.set(r.id, r);
    h.reserved++;
    this.#reservationHost.set(r.id, h);
    return { ...r };
  }

  /**
   * The host acknowledged the session: its heartbeats count it from now on, and the slot stays held
   * (without expiry) until `release`. Unknown ids are ignored.
   */
  confirm(reservationId: string, now: number): void {
    const h = this.#reservationHost.get(reservationId);
    const r = h?.reservations.get(reservationId);
    if (!h || !r || r.confirmed) return;
    r.confirmed = true;
    h.confirmed++;
    // its next heartbeats will count it; until then they look short
    if (h.active < h.confirmed) h.shortSince ??= now;
  }

  /** The session ended, failed or left the host. Unknown ids are ignored. */
  release(reservationId: string): void {
    const h = this.#reservationHost.get(reservationId);
    if (h) this.#unreserve(h, reservationId);
  }

  #unreserve(h: Host, id: string): void {
    const r = h.reservations.get(id);
    if (r && h.reservations.delete(id)) {
      h.reserved--;
      if (r.confirmed) {
        h.confirmed--;
        // it ran on the host until now, so the last heartbeat most likely counted it: free the
        // slot now rather than at the next heartbeat (which corrects any error)
        if (h.active > h.confirmed) h.active--;
      }
      if (h.active >= h.confirmed) h.shortSince = undefined;
    }
    this.#reservationHost.delete(id);
  }

  #drop(h: Host): void {
    for (const id of h.reservations.keys()) this.#reservationHost.delete(id);
    this.#hosts.delete(h.name);
  }
}

function validate(i: HostInfo): void {
  const bad = (why: string) => hostRegistryError('host.bad_request', `host registration: ${why}`);
  if (typeof i.name !== 'string' || i.name.length === 0 || i.name.length > 128) throw bad('name must be 1-128 characters');
  if (typeof i.region !== 'string' || i.region.length === 0) throw bad('region is required');
  if (typeof i.address !== 'string' || i.address.length === 0) throw bad('address is required');
  if (!Array.isArray(i.transports) || i.transports.length === 0) throw bad('at least one transport is required');
  if (!Number.isInteger(i.capacity) || i.capacity < 1) throw bad('capacity must be a whole number >= 1');
  if (typeof i.version !== 'string') throw bad('version is required');
}

/** Unconfirmed reservations, plus the larger of the host's own count and the confirmed ones. */
function loadOf(h: Host): number {
  return h.reserved - h.confirmed + Math.max(h.active, h.confirmed);
}

function view(h: Host): HostView {
  return {
    name: h.name,
    region: h.region,
    address: h.address,
    transports: [...h.transports],
    capacity: h.capacity,
    version: h.version,
    state: h.state,
    registeredAt: h.registeredAt,
    lastSeen: h.lastSeen,
    active: h.active,
    reserved: h.reserved,
    confirmed: h.confirmed,
    load: loadOf(h),
    metrics: { ...h.metrics },
    draining: h.draining,
  };
}
