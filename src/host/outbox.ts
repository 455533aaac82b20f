import { EventQueue } from '../events/queue.js';
import { Backoff, type BackoffOptions } from './backoff.js';

export type OutboxKind = 'result' | 'telemetry';

export interface OutboxItem<T = unknown> {
  /** idempotency key: receivers must store at most once per id, since a lost ack means a resend */
  id: string;
  kind: OutboxKind;
  body: T;
  enqueuedAt: number;
}

/**
 * `any`: one Auth server's ack settles an item (Auth nodes sharing one database, the usual case).
 * `all`: every registered Auth server must ack (independent Auth deployments that each keep records).
 */
export type DeliveryPolicy = 'any' | 'all';

export interface OutboxOptions {
  /** most items kept; beyond it the oldest is dropped (telemetry before results). Default 10 000. */
  capacity?: number;
  delivery?: DeliveryPolicy;
  /** resend an unacknowledged item after this long, then with growing backoff; default 10 s */
  ackTimeoutMs?: number;
  /** backoff for resends after the first ack timeout (random is injected here for tests) */
  retry?: BackoffOptions;
}

/**
 * What the outbox did, queued in order: every item that came in (`added`) leaves once, either
 * `delivered` or `dropped`, so a copy of the outbox (the disk store) follows from the events alone.
 */
export type OutboxEvent<T = unknown> =
  | { type: 'added'; item: OutboxItem<T>; at: number }
  | { type: 'dropped'; id: string; kind: OutboxKind; dropped: number; at: number; message: string }
  | { type: 'delivered'; id: string; kind: OutboxKind; at: number };

interface Attempt {
  /** when it was last handed to the transport on this server's connection */
  sentAt?: number;
  /** resend allowed from this time */
  dueAt: number;
  tries: number;
  acked: boolean;
}

interface Entry<T> {
  item: OutboxItem<T>;
  attempts: Map<string, Attempt>;
}

/**
 * Session results and telemetry waiting for the Auth servers. Sans-IO: the adapter asks `pending`
 * for what to write on a live connection, calls `markSent` when written and `ack` when the Auth
 * server confirms. Items are kept, bounded, while every Auth server is down; games go on.
 * `enqueue`, `ack` and `removeServer` queue events; the driver (HostDomain) takes them after each.
 */
export class ResultsOutbox<T = unknown> {
  readonly capacity: number;
  readonly delivery: DeliveryPolicy;
  readonly ackTimeoutMs: number;
  readonly #backoff: Backoff;
  readonly #entries = new Map<string, Entry<T>>(); // insertion order = age
  readonly #servers = new Map<string, { up: boolean }>();
  readonly #events = new EventQueue<OutboxEvent<T>>();
  #dropped = 0;

  constructor(opts: OutboxOptions = {}) {
    this.capacity = opts.capacity ?? 10_000;
    this.delivery = opts.delivery ?? 'any';
    this.ackTimeoutMs = opts.ackTimeoutMs ?? 10_000;
    this.#backoff = new Backoff({ initialMs: this.ackTimeoutMs, maxMs: Math.max(this.ackTimeoutMs, 5 * 60_000), ...opts.retry });
    if (!Number.isInteger(this.capacity) || this.capacity < 1) throw new RangeError('outbox capacity must be a positive integer');
  }

  /** Items dropped for lack of room since creation. */
  get dropped(): number {
    return this.#dropped;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** An Auth server the host is registered with (starts disconnected). */
  addServer(serverId: string): void {
    if (!this.#servers.has(serverId)) this.#servers.set(serverId, { up: false });
  }

  /** Forget a server; under `all`, items no longer wait for it. */
  removeServer(serverId: string, now: number): void {
    this.#servers.delete(serverId);
    for (const e of this.#entries.values()) e.attempts.delete(serverId);
    for (const e of [...this.#entries.values()]) this.#settleIfDone(e, now);
  }

  servers(): string[] {
    return [...this.#servers.keys()];
  }

  /**
   * Queue an item; returns false (and changes nothing) if its id is already queued. `enqueuedAt`
   * defaults to `now`; an item restored from disk keeps its own age (it decides what is dropped first).
   */
  enqueue(item: { id: string; kind: OutboxKind; body: T; enqueuedAt?: number }, now: number): boolean {
    if (this.#entries.has(item.id)) return false;
    while (this.#entries.size >= this.capacity) this.#dropOne(now);
    const entry: Entry<T> = { item: { id: item.id, kind: item.kind, body: item.body, enqueuedAt: item.enqueuedAt ?? now }, attempts: new Map() };
    this.#entries.set(item.id, entry);
    this.#events.push({ type: 'added', item: entry.item, at: now });
    return true;
  }

  onConnected(serverId: string, now: number): void {
    this.addServer(serverId);
    this.#servers.get(serverId)!.up = true;
    // whatever was in flight on the old connection is resent at once on the new one
    for (const e of this.#entries.values()) {
      const a = e.attempts.get(serverId);
      if (a && !a.acked) {
        delete a.sentAt;
        a.dueAt = now;
        a.tries = 0; // a fresh connection starts the resend backoff afresh
      }
    }
  }

  onDisconnected(serverId: string, _now: number): void {
    const s = this.#servers.get(serverId);
    if (s) s.up = false;
    for (const e of this.#entries.values()) {
      const a = e.attempts.get(serverId);
      if (a && !a.acked) delete a.sentAt; // no longer in flight anywhere
    }
  }

  /** Items to write now on `serverId`'s connection, oldest first (empty when it is down). */
  pending(serverId: string, now: number, limit = Infinity): OutboxItem<T>[] {
    const server = this.#servers.get(serverId);
    if (!server?.up) return [];
    const out: OutboxItem<T>[] = [];
    for (const e of this.#entries.values()) {
      if (out.length >= limit) break;
      const a = e.attempts.get(serverId);
      if (a?.acked) continue;
      if (a && a.dueAt > now) continue;
      // under `any`, one server at a time carries an item, so a healthy link does not cause duplicates
      if (this.delivery === 'any' && this.#inFlightElsewhere(e, serverId, now)) continue;
      out.push(e.item);
    }
    return out;
  }

  /** The adapter wrote the item on `serverId`'s connection at `now`. */
  markSent(serverId: string, id: string, now: number): void {
    const e = this.#entries.get(id);
    if (!e || !this.#servers.has(serverId)) return;
    let a = e.attempts.get(serverId);
    if (!a) {
      a = { dueAt: now, tries: 0, acked: false };
      e.attempts.set(serverId, a);
    }
    a.tries++;
    a.sentAt = now;
    a.dueAt = now + this.#resendDelay(a.tries);
  }

  /** The Auth server confirmed it stored `id`. Returns true when the item is now settled and gone. */
  ack(serverId: string, id: string, now: number): boolean {
    const e = this.#entries.get(id);
    if (!e) return false;
    let a = e.attempts.get(serverId);
    if (!a) {
      a = { dueAt: now, tries: 0, acked: true };
      e.attempts.set(serverId, a);
    }
    a.acked = true;
    return this.#settleIfDone(e, now);
  }

  /** Earliest time an un-acked item becomes due for resending on a live connection. */
  nextDue(): number | undefined {
    let next: number | undefined;
    for (const e of this.#entries.values())
      for (const [sid, a] of e.attempts) if (!a.acked && this.#servers.get(sid)?.up && (next === undefined || a.dueAt < next)) next = a.dueAt;
    return next;
  }

  /** Ids still queued, oldest first. */
  ids(): string[] {
    return [...this.#entries.keys()];
  }

  has(id: string): boolean {
    return this.#entries.has(id);
  }

  /** What the outbox did since the last take, oldest first. */
  takeEvents(): OutboxEvent<T>[] {
    return this.#events.take();
  }

  #resendDelay(tries: number): number {
    // never sooner than the ack timeout; from the second send on, jittered exponential growth
    return Math.max(this.ackTimeoutMs, this.#backoff.delayFor(tries - 1));
  }

  #inFlightElsewhere(e: Entry<T>, serverId: string, now: number): boolean {
    for (const [sid, a] of e.attempts) {
      if (sid === serverId || a.acked || a.sentAt === undefined) continue;
      if (this.#servers.get(sid)?.up && a.dueAt > now) return true;
    }
    return false;
  }

  #settleIfDone(e: Entry<T>, now: number): boolean {
    const done =
      this.delivery === 'any'
        ? [...e.attempts.values()].some((a) => a.acked)
        : this.#servers.size > 0 && [...this.#servers.keys()].every((sid) => e.attempts.get(sid)?.acked);
    if (!done) return false;
    this.#entries.delete(e.item.id);
    this.#events.push({ type: 'delivered', id: e.item.id, kind: e.item.kind, at: now });
    return true;
  }

  #dropOne(now: number): void {
    // telemetry is the cheaper loss: drop the oldest telemetry first, the oldest result only if none is left
    let victim: Entry<T> | undefined;
    for (const e of this.#entries.values())
      if (e.item.kind === 'telemetry') {
        victim = e;
        break;
      }
    victim ??= this.#entries.values().next().value;
    if (!victim) return;
    this.#entries.delete(victim.item.id);
    this.#dropped++;
    this.#events.push({
      type: 'dropped',
      id: victim.item.id,
      kind: victim.item.kind,
      dropped: this.#dropped,
      at: now,
      message: `results outbox full (${this.capacity} items, no Auth server acknowledging): dropped ${victim.item.kind} ${victim.item.id}`,
    });
  }
}
