import type { Logger } from 'pino';
import type { FastSessionMinter } from '../pki/index.js';
import type { AuthDomain } from './domain.js';
import { errInfo } from './err-info.js';
import type { AuthStores } from './stores.js';

/**
 * Writes what the Auth domain's in-memory cores decide to the durable stores, and reads it back at
 * start: lobby snapshots after every change (so a restarted server, or another node, has them),
 * queued tickets, the hosts as this node sees them. The cores stay synchronous and sans-IO; this is
 * their driver's IO for state. Writes are ordered per lobby and per ticket, never block the cores,
 * and a failed write is logged (the in-memory state goes on serving).
 */
export type PersistedStores = Partial<Pick<AuthStores, 'lobbies' | 'tickets' | 'hosts' | 'certs'>>;

export class StatePersistence {
  readonly #stores: PersistedStores;
  readonly #domain: AuthDomain;
  readonly #logger: Logger;
  readonly #node: string;
  /** per key (lobby or ticket id): the last write, so the next waits for it */
  readonly #chains = new Map<string, Promise<void>>();
  #lastHostSync = 0;
  readonly #hostSyncMs: number;

  constructor(stores: PersistedStores, o: { domain: AuthDomain; logger: Logger; node: string; hostSyncMs?: number }) {
    this.#stores = stores;
    this.#domain = o.domain;
    this.#logger = o.logger;
    this.#node = o.node;
    this.#hostSyncMs = o.hostSyncMs ?? 5_000;
  }

  /** Puts back what a previous run of this node left: open lobbies; its stale tickets are dropped (their players' connections died with it). */
  async restore(): Promise<{ lobbies: number; droppedTickets: number }> {
    let lobbies = 0;
    let droppedTickets = 0;
    if (this.#stores.tickets) droppedTickets = await this.#stores.tickets.removeByNode(this.#node);
    if (this.#stores.lobbies) {
      // a lobby lives on its owner's node; the others reach it through that node (cluster.ts)
      for (const l of await this.#stores.lobbies.list({ node: this.#node })) {
        if (l.state !== 'open') continue;
        this.#domain.lobbies.restore(l);
        lobbies++;
      }
    }
    return { lobbies, droppedTickets };
  }

  /** Subscribes to the domain's events; call once, before the server takes clients. */
  attach(): void {
    const { lobbies, tickets } = this.#stores;
    if (lobbies) {
      this.#domain.on('lobby', (e) => {
        const id = e.lobby.id;
        if (e.type === 'closed') return this.#write(`lobby:${id}`, () => lobbies.remove(id));
        // the snapshot is taken now, in event order; the write may land later
        const snap = this.#domain.lobbies.snapshot(id);
        if (snap) this.#write(`lobby:${id}`, () => lobbies.save(snap, this.#node, Date.now()));
      });
    }
    // a host registering, leaving or dying is written at once; its load on the next sync
    if (this.#stores.hosts) this.#domain.on('host', () => this.#syncHosts());
    if (tickets) {
      this.#domain.on('match', (e) => {
        switch (e.type) {
          case 'queued':
            return this.#write(`ticket:${e.ticket.id}`, () => tickets.put({ ticket: e.ticket, node: this.#node, createdAt: Date.now() }));
          case 'removed':
            return this.#write(`ticket:${e.ticket.id}`, () => tickets.remove(e.ticket.id));
          case 'confirmed':
            for (const t of e.match.tickets) this.#write(`ticket:${t.id}`, () => tickets.remove(t.id));
            return;
          default:
            return;
        }
      });
    }
  }

  /** Called by the server's tick: the host directory is refreshed every few seconds (heartbeats are too frequent to write each). */
  tick(now: number): void {
    if (!this.#stores.hosts || now - this.#lastHostSync < this.#hostSyncMs) return;
    this.#lastHostSync = now;
    this.#syncHosts();
  }

  #syncHosts(): void {
    const hosts = this.#stores.hosts;
    if (!hosts) return;
    for (const h of this.#domain.registry.list()) {
      this.#write(`host:${h.name}`, () =>
        hosts.upsert({
          name: h.name,
          node: this.#node,
          state: h.draining ? 'draining' : h.state,
          address: h.address,
          region: h.region,
          transports: h.transports,
          capacity: h.capacity,
          active: h.active,
          lastHeartbeat: h.lastSeen,
        }),
      );
    }
  }

  /** Resolves once every write queued so far has landed (or failed). */
  async flush(): Promise<void> {
    await Promise.all([...this.#chains.values()]);
  }

  #write(key: string, fn: () => Promise<void>): void {
    const prev = this.#chains.get(key) ?? Promise.resolve();
    const next = prev.then(fn).catch((err: unknown) => this.#logger.error({ err: errInfo(err), key }, 'could not save state to the database'));
    this.#chains.set(key, next);
    void next.then(() => {
      if (this.#chains.get(key) === next) this.#chains.delete(key);
    });
  }
}

/**
 * The minter, logging every certificate it issues (serial, fingerprint, account, seat, session,
 * expiry) to `certs`. `accountOf` finds the account a seat of a session belongs to (the
 * certificate names the seat, a certificate-safe form of the player id).
 */
export function loggingMinter(
  minter: Pick<FastSessionMinter, 'mint' | 'mintWithNewKey'>,
  certs: NonNullable<PersistedStores['certs']>,
  logger: Logger,
  accountOf: (sessionId: string, seat: string) => Promise<string | undefined>,
): Pick<FastSessionMinter, 'mint' | 'mintWithNewKey'> {
  const log = <T extends { serial: string; fingerprint: string; notAfter: Date }>(req: { sessionId: string; playerId: string }, m: T): T => {
    const issuedAt = Date.now();
    accountOf(req.sessionId, req.playerId)
      .then((playerId) =>
        certs.record({
          serial: m.serial,
          fingerprint: m.fingerprint,
          playerId: playerId ?? req.playerId,
          seat: req.playerId,
          sessionId: req.sessionId,
          issuedAt,
          expiresAt: m.notAfter.getTime(),
        }),
      )
      .catch((err: unknown) => logger.error({ err: errInfo(err), sessionId: req.sessionId }, 'could not log an issued session certificate'));
    return m;
  };
  return {
    mint: async (req) => log(req, await minter.mint(req)),
    mintWithNewKey: async (req) => log(req, await minter.mintWithNewKey(req)),
  };
}
