import { EventEmitter } from 'node:events';
import { IyesmpError } from '../errors.js';

/**
 * The hosts that dialled in, and the choice of one for a new session. Sans-IO: the server feeds in
 * registrations and heartbeats with `now`, calls `tick(now)` to find silent hosts, and asks `pick()`.
 *
 * Load is counted in sessions: `active` (the host's last heartbeat) + `reserved` (sessions we are
 * creating on it that its heartbeats cannot know about yet). Capacity is a host's session limit.
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
  /** Sessions being created on it (counted until released or expired). */
  reserved: number;
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

export type PickResult =
  | { ok: true; host: HostView; region: string; preferredRegion: boolean }
  | { ok: false; reason: 'no-host-available'; detail: string };

export interface Reservation {
  id: string;
  host: string;
  expiresAt: number;
}

export interface HostRegistryEvents {
  registered: [{ host: HostView; replaced: boolean }];
  /** Missed too many heartbeats: its sessions are lost; the server tells their players. */
  dead: [{ host: HostView; reservations: Reservation[] }];
  unregistered: [{ host: HostView }];
}

export const HOST_ERRORS = {
  badRequest: 'host.bad_request',
  unknown: 'host.unknown',
  duplicateReservation: 'host.duplicate_reservation',
} as const;

export interface HostRegistryOptions {
  /** How often hosts are told to send heartbeats (ms). */
  heartbeatIntervalMs?: number;
  /** Heartbeats a host may miss before it counts as dead (N). */
  missedHeartbeats?: number;
  /** A reservation not released by then stops counting (safety net for lost hand-offs). */
  reservationTtlMs?: number;
}

interface Host extends HostView {
  reservations: Map<string, Reservation>;
}

export class HostRegistry extends EventEmitter<HostRegistryEvents> {
  readonly heartbeatIntervalMs: number;
  readonly missedHeartbeats: number;
  readonly #reservationTtlMs: number;
  readonly #hosts = new Map<string, Host>();
  readonly #reservationHost = new Map<string, Host>();

  constructor(opts: HostRegistryOptions = {}) {
    super();
    this.heartbeatIntervalMs = opts.heartbeatIntervalMs ?? 5_000;
    this.missedHeartbeats = opts.missedHeartbeats ?? 3;
    this.#reservationTtlMs = opts.reservationTtlMs ?? 60_000;
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
      metrics: {},
      draining: false,
      reservations: new Map(),
    };
    this.#hosts.set(info.name, h);
    this.emit('registered', { host: view(h), replaced: old !== undefined });
    return view(h);
  }

  /** Returns false for a host we do not know or already declared dead: it must register again. */
  heartbeat(name: string, hb: Heartbeat, now: number): boolean {
    const h = this.#hosts.get(name);
    if (!h || h.state === 'dead') return false;
    if (!Number.isInteger(hb.active) || hb.active < 0) {
      throw new IyesmpError('input', HOST_ERRORS.badRequest, `heartbeat from ${name}: "active" must be a whole number >= 0`);
    }
    h.lastSeen = Math.max(h.lastSeen, now);
    h.active = hb.active;
    if (hb.draining !== undefined) h.draining = hb.draining;
    if (hb.metrics !== undefined) h.metrics = { ...hb.metrics };
    return true;
  }

  /** A host said goodbye cleanly. */
  unregister(name: string): void {
    const h = this.#hosts.get(name);
    if (!h) return;
    this.#drop(h);
    this.emit('unregistered', { host: view(h) });
  }

  /** Marks silent hosts dead and expires stale reservations. Returns the hosts that died now. */
  tick(now: number): HostView[] {
    const limit = this.heartbeatIntervalMs * this.missedHeartbeats;
    const died: Array<{ host: HostView; reservations: Reservation[] }> = [];
    for (const h of this.#hosts.values()) {
      for (const r of h.reservations.values()) if (r.expiresAt <= now) this.#unreserve(h, r.id);
      if (h.state === 'alive' && now - h.lastSeen > limit) {
        const reservations = [...h.reservations.values()];
        h.state = 'dead';
        for (const r of reservations) this.#unreserve(h, r.id);
        died.push({ host: view(h), reservations });
      }
    }
    // Dead hosts stay listed (state "dead") until they register again or are unregistered,
    // so operators can see them; they are never picked.
    for (const d of died) this.emit('dead', d);
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
    for (const h of this.#hosts.values()) {
      if (h.state !== 'alive' || h.draining || !h.transports.includes(req.transport)) continue;
      if (req.versions && !req.versions.includes(h.version)) continue;
      if (req.exclude?.includes(h.name)) continue;
      withTransport++;
      if (h.active + h.reserved < h.capacity) fits.push(h);
    }
    if (fits.length === 0) {
      return {
        ok: false,
        reason: 'no-host-available',
        detail:
          withTransport === 0
            ? `no live host offers transport "${req.transport}"${req.versions ? ` at version ${req.versions.join('/')}` : ''}`
            : `all ${withTransport} host(s) offering "${req.transport}" are full`,
      };
    }
    const load = (h: Host) => (h.active + h.reserved) / h.capacity;
    const best = (hs: Host[]) => hs.reduce((a, b) => (load(b) < load(a) || (load(b) === load(a) && b.name < a.name) ? b : a));
    for (const region of req.regions ?? []) {
      const here = fits.filter((h) => h.region === region);
      if (here.length > 0) return { ok: true, host: view(best(here)), region, preferredRegion: true };
    }
    const h = best(fits);
    return { ok: true, host: view(h), region: h.region, preferredRegion: (req.regions ?? []).length === 0 };
  }

  /** Hold one slot on `host` for a session being created; release it on the host's answer. */
  reserve(host: string, reservationId: string, now: number): Reservation {
    const h = this.#hosts.get(host);
    if (!h || h.state === 'dead') throw new IyesmpError('conflict', HOST_ERRORS.unknown, `host ${host} is not registered or is dead`);
    if (this.#reservationHost.has(reservationId)) {
      throw new IyesmpError('conflict', HOST_ERRORS.duplicateReservation, `reservation ${reservationId} already exists`);
    }
    const r: Reservation = { id: reservationId, host, expiresAt: now + this.#reservationTtlMs };
    h.reservations.set(r.id, r);
    h.reserved++;
    this.#reservationHost.set(r.id, h);
    return { ...r };
  }

  /** The session was acknowledged (its heartbeats now count it) or failed. Unknown ids are ignored. */
  release(reservationId: string): void {
    const h = this.#reservationHost.get(reservationId);
    if (h) this.#unreserve(h, reservationId);
  }

  #unreserve(h: Host, id: string): void {
    if (h.reservations.delete(id)) h.reserved--;
    this.#reservationHost.delete(id);
  }

  #drop(h: Host): void {
    for (const id of h.reservations.keys()) this.#reservationHost.delete(id);
    this.#hosts.delete(h.name);
  }
}

function validate(i: HostInfo): void {
  const bad = (why: string) => new IyesmpError('input', HOST_ERRORS.badRequest, `host registration: ${why}`);
  if (typeof i.name !== 'string' || i.name.length === 0 || i.name.length > 128) throw bad('name must be 1-128 characters');
  if (typeof i.region !== 'string' || i.region.length === 0) throw bad('region is required');
  if (typeof i.address !== 'string' || i.address.length === 0) throw bad('address is required');
  if (!Array.isArray(i.transports) || i.transports.length === 0) throw bad('at least one transport is required');
  if (!Number.isInteger(i.capacity) || i.capacity < 1) throw bad('capacity must be a whole number >= 1');
  if (typeof i.version !== 'string') throw bad('version is required');
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
    metrics: { ...h.metrics },
    draining: h.draining,
  };
}
