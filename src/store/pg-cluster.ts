import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { ClusterBus, ClusterMessage } from '../auth/cluster.js';
import { redactUrl } from './engine.js';
import { storeError } from './errors.js';
import { fromJson, toJson } from './json.js';

/**
 * The Auth nodes' bus over PostgreSQL itself (no broker to run): messages are NOTIFY payloads on one
 * channel, heard by every node's LISTEN connection; the matchmaking leader is whoever holds a
 * session-level advisory lock, which PostgreSQL releases the moment that node's connection dies
 * (a SIGKILLed node included), so another node takes it on its next try. The leader says so on
 * the bus when it takes the lock and every couple of seconds after, which is how the others learn
 * who leads (and notice when nobody does).
 */
const CHANNEL = 'iyesmp_cluster';
/** PostgreSQL's NOTIFY payload limit is 8000 bytes */
const MAX_PAYLOAD = 7900;
/** the advisory lock's key: any fixed 64-bit number, the same on every node */
const LEADER_LOCK = 7_351_000_001;

type Wire = { from: string; to: string; at: number; msg: ClusterMessage | { t: '_leader' } | { t: '_who' } };
/** a message older (or further in the future) than this is dropped: a replay */
const MAX_AGE_MS = 30_000;

export interface PgClusterOptions {
  url: string;
  node: string;
  /**
   * The nodes' shared secret: every message carries an HMAC with it, and one without a valid MAC is
   * dropped. PostgreSQL lets any user who can connect send a NOTIFY on any channel, so without it a
   * read-only database login could forge a node's requests. `serve` derives it from the SessionAuth
   * key file, which every node of a deployment holds (it mints with it).
   */
  secret: Uint8Array;
  logger: Logger;
  /** how often a follower tries the leader lock (default 1 s) */
  lockRetryMs?: number;
  /** how often the leader announces itself (default 2 s); a leader silent for 3 of these is gone */
  announceMs?: number;
}

/** The nodes' bus secret, from the SessionAuth key file every node of a deployment holds (its bytes, hashed). */
export async function clusterSecret(sessionAuthKeyFile: string): Promise<Uint8Array> {
  const { readFile } = await import('node:fs/promises');
  const { createHash } = await import('node:crypto');
  return createHash('sha256')
    .update('iyesmp cluster bus v1\n')
    .update(await readFile(sessionAuthKeyFile))
    .digest();
}

export async function openPgCluster(o: PgClusterOptions): Promise<ClusterBus> {
  const { default: pg } = await import('pg');
  const bus = new PgClusterBus(o, pg);
  try {
    await bus.start();
  } catch (err) {
    await bus.close().catch(() => undefined);
    throw storeError('store.unreachable', `cannot open the Auth nodes' bus (LISTEN/NOTIFY) on ${redactUrl(o.url)}: ${(err as Error).message}`, { cause: err });
  }
  return bus;
}

class PgClusterBus implements ClusterBus {
  readonly node: string;
  readonly #o: PgClusterOptions;
  readonly #pg: typeof import('pg').default;
  #listen: import('pg').Client | undefined;
  #lock: import('pg').Client | undefined;
  #sender: import('pg').Pool | undefined;
  #leader: string | undefined;
  #leaderHeardAt = 0;
  #holding = false;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #listeners: Array<(from: string, msg: ClusterMessage) => void> = [];
  readonly #leaderListeners: Array<(leader: string | undefined) => void> = [];

  constructor(o: PgClusterOptions, pg: typeof import('pg').default) {
    this.node = o.node;
    this.#o = o;
    this.#pg = pg;
  }

  async start(): Promise<void> {
    this.#sender = new this.#pg.Pool({ connectionString: this.#o.url, max: 2 });
    this.#sender.on('error', () => undefined);
    await this.#connectListener();
    await this.send('*', { t: '_who' } as never);
    await this.#tryLead();
    const retry = this.#o.lockRetryMs ?? 1000;
    this.#timer = setInterval(() => void this.#beat(), retry);
    this.#timer.unref?.();
  }

  leader(): string | undefined {
    return this.#leader;
  }

  onMessage(listener: (from: string, msg: ClusterMessage) => void): void {
    this.#listeners.push(listener);
  }

  onLeaderChange(listener: (leader: string | undefined) => void): void {
    this.#leaderListeners.push(listener);
  }

  async send(to: string, msg: ClusterMessage): Promise<void> {
    const body = toJson({ from: this.node, to, at: Date.now(), msg } satisfies Wire);
    const payload = `${this.#mac(body)}.${body}`;
    if (Buffer.byteLength(payload) > MAX_PAYLOAD) throw new Error(`a cluster message of ${Buffer.byteLength(payload)} bytes exceeds NOTIFY's limit`);
    await this.#sender!.query('select pg_notify($1, $2)', [CHANNEL, payload]);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await Promise.all([this.#listen?.end().catch(() => undefined), this.#lock?.end().catch(() => undefined), this.#sender?.end().catch(() => undefined)]);
  }

  async #connectListener(): Promise<void> {
    const c = new this.#pg.Client({ connectionString: this.#o.url });
    c.on('error', (err) => {
      this.#o.logger.warn({ message: err.message }, 'cluster listener connection lost; reconnecting');
      this.#listen = undefined;
    });
    c.on('notification', (n) => {
      if (n.channel !== CHANNEL || !n.payload) return;
      const dot = n.payload.indexOf('.');
      const body = n.payload.slice(dot + 1);
      const mac = Buffer.from(n.payload.slice(0, Math.max(0, dot)), 'base64url');
      const want = Buffer.from(this.#mac(body), 'base64url');
      if (dot < 0 || mac.length !== want.length || !timingSafeEqual(mac, want)) {
        this.#o.logger.warn('a cluster message without a valid MAC was dropped (another program sent a NOTIFY, or a node has another SessionAuth key)');
        return;
      }
      let w: Wire;
      try {
        w = fromJson<Wire>(body);
      } catch {
        return;
      }
      if (Math.abs(Date.now() - w.at) > MAX_AGE_MS) return;
      if (w.to !== '*' && w.to !== this.node) return;
      this.#received(w);
    });
    await c.connect();
    await c.query(`listen ${CHANNEL}`);
    this.#listen = c;
  }

  #mac(body: string): string {
    return createHmac('sha256', this.#o.secret).update(body).digest('base64url');
  }

  #received(w: Wire): void {
    switch (w.msg.t) {
      case '_leader':
        this.#leaderHeardAt = Date.now();
        this.#setLeader(w.from);
        return;
      case '_who':
        if (this.#holding) void this.send('*', { t: '_leader' } as never).catch(() => undefined);
        return;
      default:
        for (const l of this.#listeners) l(w.from, w.msg);
    }
  }

  #setLeader(leader: string | undefined): void {
    if (leader === this.#leader) return;
    this.#leader = leader;
    for (const l of this.#leaderListeners) l(leader);
  }

  async #beat(): Promise<void> {
    if (this.#closed) return;
    try {
      if (!this.#listen) await this.#connectListener();
      if (this.#holding) {
        await this.send('*', { t: '_leader' } as never);
        return;
      }
      // a leader that stopped announcing is gone (its lock goes with its connection)
      const announceMs = this.#o.announceMs ?? 2000;
      if (this.#leader !== undefined && Date.now() - this.#leaderHeardAt > 3 * announceMs) this.#setLeader(undefined);
      await this.#tryLead();
    } catch (err) {
      this.#o.logger.warn({ message: (err as Error).message }, 'cluster heartbeat failed');
    }
  }

  async #tryLead(): Promise<void> {
    if (!this.#lock) {
      const c = new this.#pg.Client({ connectionString: this.#o.url });
      c.on('error', () => {
        // the lock went with the connection
        this.#lock = undefined;
        if (this.#holding) {
          this.#holding = false;
          this.#setLeader(undefined);
        }
      });
      await c.connect();
      this.#lock = c;
    }
    const r = await this.#lock.query<{ ok: boolean }>('select pg_try_advisory_lock($1) as ok', [LEADER_LOCK]);
    if (r.rows[0]?.ok && !this.#holding) {
      this.#holding = true;
      this.#leaderHeardAt = Date.now();
      this.#setLeader(this.node);
      await this.send('*', { t: '_leader' } as never);
    }
  }
}
