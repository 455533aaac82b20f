import { createHash } from 'node:crypto';
/**
 * The broker's access rules, sans-IO: who a connected client is (from its certificate), which
 * literal topics the host granted each player, and a publish budget per client. The embedded
 * broker (broker.ts) asks it on every subscribe and publish; the host keeps the grants current
 * (round topics rotate) through `$CONTROL/iyesmp/v1` messages or, in-process, `apply`.
 *
 * Players never get a wildcard: topic secrecy is not access control, so a subscription is granted
 * only when its filter is one of the player's literal topics. `$SYS` and `$CONTROL` are reserved to
 * host identities.
 */

/** Who a verified TLS peer is: a Host server (full access under the prefix) or one seat of a session. */
export type BrokerIdentity =
  | { kind: 'host'; name: string; fingerprint: string }
  | { kind: 'session'; sessionId: string; playerId: string; fingerprint: string };

/** The literal topics one player may use now. */
export interface Grant {
  subscribe: readonly string[];
  publish: readonly string[];
  /** topics (also in `publish`) on which it may publish retained messages (its registration) */
  retain?: readonly string[];
}

/** What the host sends on the control topic (JSON). */
export type GrantCommand =
  | { op: 'grant'; sessionId: string; playerId: string; grant: Grant }
  | { op: 'revoke'; sessionId: string; playerId: string }
  /**
   * The seat is out of the session for good (kicked, or gone past its grace): its grant goes, its
   * client is disconnected on every node, and it may not connect again until the session's `clear`.
   */
  | { op: 'kick'; sessionId: string; playerId: string }
  /** Disconnects the seat's client (it may come back: its grant stays). */
  | { op: 'drop'; sessionId: string; playerId: string }
  | { op: 'clear'; sessionId: string };

/** Where the host's grant commands go: only host identities may publish here. */
export const CONTROL_TOPIC = '$CONTROL/iyesmp/v1';

/** The MQTT client id a seat must connect with, so no one can take over another seat's client id. */
export function brokerClientIdOf(sessionId: string, playerId: string): string {
  return `s/${sessionId}/${playerId}`;
}

export function hasWildcard(filter: string): boolean {
  return filter.includes('+') || filter.includes('#');
}

const MAX_TOPICS = 256;
const MAX_RETIRED = 64;
const MAX_TOPIC_LEN = 512;

/** A control message (one command, or a list of up to 64 applied in order), parsed and bounded; undefined when it is not one. */
export function parseGrantCommands(payload: Uint8Array): GrantCommand[] | undefined {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(payload).toString('utf8'));
  } catch {
    return undefined;
  }
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0 || list.length > 64) return undefined;
  const out: GrantCommand[] = [];
  for (const x of list) {
    const c = parseGrantCommand(x);
    if (!c) return undefined;
    out.push(c);
  }
  return out;
}

function parseGrantCommand(v: unknown): GrantCommand | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  const id = (x: unknown): x is string => typeof x === 'string' && x.length > 0 && x.length <= 128;
  if (!id(o.sessionId)) return undefined;
  if (o.op === 'clear') return { op: 'clear', sessionId: o.sessionId };
  if (!id(o.playerId)) return undefined;
  if (o.op === 'revoke' || o.op === 'kick' || o.op === 'drop') return { op: o.op, sessionId: o.sessionId, playerId: o.playerId };
  if (o.op !== 'grant' || typeof o.grant !== 'object' || o.grant === null) return undefined;
  const g = o.grant as Record<string, unknown>;
  const topics = (x: unknown): string[] | undefined =>
    Array.isArray(x) && x.length <= MAX_TOPICS && x.every((t) => typeof t === 'string' && t.length > 0 && t.length <= MAX_TOPIC_LEN && !hasWildcard(t))
      ? (x as string[])
      : undefined;
  const subscribe = topics(g.subscribe);
  const publish = topics(g.publish);
  const retain = g.retain === undefined ? [] : topics(g.retain);
  if (!subscribe || !publish || !retain) return undefined;
  return { op: 'grant', sessionId: o.sessionId, playerId: o.playerId, grant: { subscribe, publish, retain } };
}

interface Bucket {
  tokens: number;
  at: number;
}

export interface AclOptions {
  /** topics under this prefix belong to games (default "game") */
  prefix?: string;
  /** sustained publishes per second per client (default 50) */
  publishRate?: number;
  /** burst above the rate (default 100) */
  publishBurst?: number;
}

export type Decision = { ok: true } | { ok: false; reason: string };

const yes: Decision = { ok: true };
const no = (reason: string): Decision => ({ ok: false, reason });

export class BrokerAcl {
  readonly prefix: string;
  readonly #rate: number;
  readonly #burst: number;
  readonly #grants = new Map<string, { subscribe: Set<string>; publish: Set<string>; retain: Set<string>; retired: Set<string> }>();
  readonly #buckets = new Map<string, Bucket>();
  /** seats kicked out of their session (until its `clear`): refused at CONNECT, never granted again */
  readonly #kicked = new Set<string>();

  constructor(opts: AclOptions = {}) {
    this.prefix = opts.prefix ?? 'game';
    this.#rate = opts.publishRate ?? 50;
    this.#burst = opts.publishBurst ?? 100;
  }

  apply(cmd: GrantCommand): void {
    switch (cmd.op) {
      case 'grant': {
        const k = key(cmd.sessionId, cmd.playerId);
        if (this.#kicked.has(k)) return;
        const before = this.#grants.get(k);
        const publish = new Set(cmd.grant.publish);
        // the topics it could publish on before (rounds that closed): a move in flight
        // there still reaches the host, which refuses it as stale and tells the player, instead of
        // the broker disconnecting it (MQTT 3.1.1 cannot refuse one publish)
        const retired = new Set([...(before?.retired ?? []), ...(before?.publish ?? [])].filter((t) => !publish.has(t)));
        // bounded: the oldest go first
        for (const t of retired) {
          if (retired.size <= MAX_RETIRED) break;
          retired.delete(t);
        }
        this.#grants.set(k, { subscribe: new Set(cmd.grant.subscribe), publish, retain: new Set(cmd.grant.retain ?? []), retired });
        return;
      }
      case 'revoke':
        this.#grants.delete(key(cmd.sessionId, cmd.playerId));
        return;
      case 'kick':
        this.#grants.delete(key(cmd.sessionId, cmd.playerId));
        this.#kicked.add(key(cmd.sessionId, cmd.playerId));
        return;
      case 'drop':
        return; // the broker disconnects the client; nothing to remember
      case 'clear':
        for (const k of [...this.#grants.keys()]) if (k.startsWith(`${cmd.sessionId}\0`)) this.#grants.delete(k);
        for (const k of [...this.#kicked]) if (k.startsWith(`${cmd.sessionId}\0`)) this.#kicked.delete(k);
        return;
    }
  }

  /** the players with a grant in a session (for tests and `top`) */
  grantsOf(sessionId: string): string[] {
    return [...this.#grants.keys()].filter((k) => k.startsWith(`${sessionId}\0`)).map((k) => k.slice(sessionId.length + 1));
  }

  /** whether a seat was kicked out of its session (its `clear` not seen yet) */
  isKicked(sessionId: string, playerId: string): boolean {
    return this.#kicked.has(key(sessionId, playerId));
  }

  connect(id: BrokerIdentity, clientId: string): Decision {
    if (id.kind === 'host') return yes;
    if (this.#kicked.has(key(id.sessionId, id.playerId))) return no('this seat was removed from its session');
    const want = brokerClientIdOf(id.sessionId, id.playerId);
    return clientId === want ? yes : no(`a session certificate connects with client id "${want}"`);
  }

  subscribe(id: BrokerIdentity, filter: string): Decision {
    if (id.kind === 'host') return yes;
    if (hasWildcard(filter)) return no('wildcard subscriptions are refused');
    if (filter.startsWith('$')) return no('$ topics are reserved');
    const g = this.#grants.get(key(id.sessionId, id.playerId));
    return g?.subscribe.has(filter) ? yes : no(`topic not granted: ${filter}`);
  }

  /** A publish; `now` (ms) feeds the client's rate budget. */
  publish(id: BrokerIdentity, clientId: string, topic: string, retain: boolean, now: number): Decision {
    if (id.kind === 'host') return yes;
    if (topic.startsWith('$')) return no('$ topics are reserved');
    const g = this.#grants.get(key(id.sessionId, id.playerId));
    if (!g?.publish.has(topic) && !g?.retired.has(topic)) return no(`topic not granted: ${topic}`);
    if (retain && !g.retain.has(topic)) return no(`retained publishes are refused on ${topic}`);
    return this.#spend(clientId, now) ? yes : no('publish rate exceeded');
  }

  /**
   * May this client receive a message on `topic` now (its grant may have moved on since it
   * subscribed)? A publish on a retired topic reaches hosts only: no player holds it any more.
   */
  deliver(id: BrokerIdentity, topic: string): boolean {
    if (id.kind === 'host') return true;
    return this.#grants.get(key(id.sessionId, id.playerId))?.subscribe.has(topic) === true;
  }

  disconnected(clientId: string): void {
    this.#buckets.delete(clientId);
  }

  #spend(clientId: string, now: number): boolean {
    const b = this.#buckets.get(clientId) ?? { tokens: this.#burst, at: now };
    b.tokens = Math.min(this.#burst, b.tokens + ((now - b.at) / 1000) * this.#rate);
    b.at = now;
    this.#buckets.set(clientId, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}

function key(sessionId: string, playerId: string): string {
  return `${sessionId}\0${playerId}`;
}

/**
 * A turns id (topic level, `[a-z0-9_-]{1,64}`) for a session or seat id, which may hold dots and
 * capitals (`guest.abc`). Ids that already fit are kept; others become a hash, so two ids never
 * share a topic.
 */
export function topicIdOf(id: string): string {
  if (/^[a-z0-9_-]{1,64}$/.test(id) && !id.startsWith('h-')) return id;
  return `h-${createHash('sha256').update(id).digest('hex').slice(0, 40)}`;
}
