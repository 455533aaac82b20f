import { randomUUID } from 'node:crypto';
import { type Kysely, sql, type Transaction } from 'kysely';
import type { AccountStore, StoredAccount } from '../auth/accounts/store.js';
import type { Account } from '../auth/accounts/types.js';
import type { Ban, BanStore, BanTarget } from '../auth/accounts/bans.js';
import { auditLimit, type AuditEntry, type AuditFilter, type AuditStore, type NewAuditEntry } from '../auth/audit.js';
import type { LobbySnapshot } from '../auth/lobbies.js';
import { isLive, type SessionRecord, type SessionStore, type TelemetryItem } from '../auth/sessions.js';
import type {
  CertLog,
  HostDirectory,
  HostRecord,
  IssuedCert,
  LobbyStore,
  RatingStore,
  ResultStore,
  StoredResult,
  StoredTicket,
  TicketStore,
} from '../auth/stores.js';
import { fromJson, toJson } from './json.js';
import type { Database } from './schema.js';

/**
 * The stores of src/auth over one Kysely database. Each query is written once and runs on both
 * engines: plain selects, inserts with `on conflict` (SQLite 3.24+, PostgreSQL 9.5+), `returning`
 * (SQLite 3.35+), no engine-specific types or functions.
 */
type Db = Kysely<Database>;

export class SqlAccountStore implements AccountStore {
  constructor(private readonly db: Db) {}

  async create(a: StoredAccount): Promise<boolean> {
    const r = await this.db
      .insertInto('accounts')
      .values({
        account_id: a.accountId,
        username_key: a.usernameKey,
        username: a.username,
        display_name: a.displayName,
        password_hash: a.passwordHash,
        created_at: a.createdAt,
        data: a.data === undefined ? null : toJson(a.data),
      })
      // a taken username (or id) stores nothing; the caller tells the player
      .onConflict((oc) => oc.doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async findByUsername(usernameKey: string): Promise<StoredAccount | undefined> {
    const row = await this.db.selectFrom('accounts').selectAll().where('username_key', '=', usernameKey).executeTakeFirst();
    return row && account(row);
  }

  async findById(accountId: string): Promise<StoredAccount | undefined> {
    const row = await this.db.selectFrom('accounts').selectAll().where('account_id', '=', accountId).executeTakeFirst();
    return row && account(row);
  }

  async updatePasswordHash(accountId: string, passwordHash: string): Promise<void> {
    await this.db.updateTable('accounts').set({ password_hash: passwordHash }).where('account_id', '=', accountId).execute();
  }
}

function account(r: Database['accounts']): StoredAccount {
  const a: StoredAccount = {
    accountId: r.account_id,
    usernameKey: r.username_key,
    username: r.username,
    displayName: r.display_name,
    passwordHash: r.password_hash,
    createdAt: Number(r.created_at),
  };
  if (r.data !== null) a.data = fromJson(r.data);
  return a;
}

const banKey = (t: BanTarget): string => ('playerId' in t ? `p:${t.playerId}` : `a:${t.method}:${t.accountId}`);

export class SqlBanStore implements BanStore {
  constructor(private readonly db: Db) {}

  async add(ban: Ban): Promise<void> {
    await this.db
      .insertInto('bans')
      .values({
        id: randomUUID(),
        target: banKey(ban.target),
        reason: ban.reason,
        created_at: ban.createdAt,
        expires_at: ban.expiresAt,
        by_whom: ban.by ?? null,
      })
      .execute();
  }

  async remove(target: BanTarget): Promise<number> {
    const r = await this.db.deleteFrom('bans').where('target', '=', banKey(target)).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  async activeFor(a: Pick<Account, 'playerId' | 'method' | 'accountId'>, now: number): Promise<Ban[]> {
    const keys = [banKey({ playerId: a.playerId }), banKey({ method: a.method, accountId: a.accountId })];
    const rows = await this.db
      .selectFrom('bans')
      .selectAll()
      .where('target', 'in', keys)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
      .orderBy('created_at')
      .execute();
    return rows.map((r) => {
      const target: BanTarget = r.target === keys[0] ? { playerId: a.playerId } : { method: a.method, accountId: a.accountId };
      const b: Ban = { target, reason: r.reason, createdAt: Number(r.created_at), expiresAt: r.expires_at === null ? null : Number(r.expires_at) };
      if (r.by_whom !== null) b.by = r.by_whom;
      return b;
    });
  }
}

/**
 * Session records, whole, as JSON, with the columns the lookups need beside them (state flags,
 * host, players in their own table). Finished sessions stay on disk: they are the history.
 */
export class SqlSessionStore implements SessionStore {
  constructor(private readonly db: Db) {}

  /** Whether the database answers (the Auth server's /readyz asks). */
  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  async put(r: SessionRecord): Promise<void> {
    await this.db.transaction().execute((tx) => this.#put(tx, r));
  }

  async #put(tx: Transaction<Database>, r: SessionRecord): Promise<void> {
    const live = isLive(r.state) ? 1 : 0;
    const row = {
      state: r.state,
      live,
      unacked: r.state === 'created' || r.state === 'awaiting-host-ack' ? 1 : 0,
      host_name: r.hostName,
      transport: r.transport,
      record: toJson(r),
      updated_at: r.updatedAt,
    };
    await tx
      .insertInto('sessions')
      .values({ id: r.id, created_at: r.createdAt, ...row })
      .onConflict((oc) => oc.column('id').doUpdateSet(row))
      .execute();
    await tx.deleteFrom('session_players').where('session_id', '=', r.id).execute();
    if (r.players.length > 0) {
      await tx
        .insertInto('session_players')
        .values(r.players.map((p) => ({ session_id: r.id, player_id: p, live })))
        .execute();
    }
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    const row = await this.db.selectFrom('sessions').select('record').where('id', '=', id).executeTakeFirst();
    return row && fromJson<SessionRecord>(row.record);
  }

  async liveByPlayer(playerId: string): Promise<SessionRecord | undefined> {
    const row = await this.db
      .selectFrom('session_players')
      .innerJoin('sessions', 'sessions.id', 'session_players.session_id')
      .select('sessions.record')
      .where('session_players.player_id', '=', playerId)
      .where('session_players.live', '=', 1)
      .orderBy('sessions.updated_at', 'desc')
      .executeTakeFirst();
    return row && fromJson<SessionRecord>(row.record);
  }

  async liveByHost(hostName: string): Promise<SessionRecord[]> {
    const rows = await this.db.selectFrom('sessions').select('record').where('live', '=', 1).where('host_name', '=', hostName).execute();
    return rows.map((r) => fromJson<SessionRecord>(r.record));
  }

  async unacknowledged(): Promise<SessionRecord[]> {
    const rows = await this.db.selectFrom('sessions').select('record').where('unacked', '=', 1).execute();
    return rows.map((r) => fromJson<SessionRecord>(r.record));
  }

  async appendTelemetry(id: string, item: TelemetryItem): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      const row = await tx.selectFrom('sessions').select('record').where('id', '=', id).executeTakeFirst();
      if (!row) return;
      const r = fromJson<SessionRecord>(row.record);
      r.telemetry = Array.isArray(r.telemetry) ? [...r.telemetry, item] : [item];
      await tx
        .updateTable('sessions')
        .set({ record: toJson(r) })
        .where('id', '=', id)
        .execute();
    });
  }

  /** Kept on disk: the database is the history (operators prune it, docs/store.md). */
  async evictFinished(_before: number): Promise<number> {
    return 0;
  }

  async count(): Promise<number> {
    const r = await this.db
      .selectFrom('sessions')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }
}

export class SqlRatingStore implements RatingStore {
  constructor(private readonly db: Db) {}

  async get(playerId: string, mode: string): Promise<number | undefined> {
    const r = await this.db.selectFrom('ratings').select('rating').where('player_id', '=', playerId).where('mode', '=', mode).executeTakeFirst();
    return r === undefined ? undefined : Number(r.rating);
  }

  async set(playerId: string, mode: string, rating: number, now: number): Promise<void> {
    await this.db
      .insertInto('ratings')
      .values({ player_id: playerId, mode, rating, updated_at: now })
      .onConflict((oc) => oc.columns(['player_id', 'mode']).doUpdateSet({ rating, updated_at: now }))
      .execute();
  }
}

export class SqlLobbyStore implements LobbyStore {
  constructor(private readonly db: Db) {}

  async save(l: LobbySnapshot, node: string, now: number): Promise<void> {
    const row = { code: l.code ?? null, state: l.state, node, snapshot: toJson(l), updated_at: now };
    await this.db
      .insertInto('lobbies')
      .values({ id: l.id, created_at: l.createdAt, ...row })
      .onConflict((oc) => oc.column('id').doUpdateSet(row))
      .execute();
  }

  async remove(lobbyId: string): Promise<void> {
    await this.db.deleteFrom('lobbies').where('id', '=', lobbyId).execute();
  }

  async get(lobbyId: string): Promise<LobbySnapshot | undefined> {
    const r = await this.db.selectFrom('lobbies').select('snapshot').where('id', '=', lobbyId).executeTakeFirst();
    return r && fromJson<LobbySnapshot>(r.snapshot);
  }

  async byCode(code: string): Promise<LobbySnapshot | undefined> {
    const r = await this.db.selectFrom('lobbies').select('snapshot').where('code', '=', code).executeTakeFirst();
    return r && fromJson<LobbySnapshot>(r.snapshot);
  }

  async list(f: { node?: string } = {}): Promise<LobbySnapshot[]> {
    let q = this.db.selectFrom('lobbies').select('snapshot');
    if (f.node !== undefined) q = q.where('node', '=', f.node);
    const rows = await q.orderBy('created_at').orderBy('id').execute();
    return rows.map((r) => fromJson<LobbySnapshot>(r.snapshot));
  }

  async nodeOf(key: { lobbyId: string } | { code: string }): Promise<string | undefined> {
    const q = this.db.selectFrom('lobbies').select('node');
    const r = await ('lobbyId' in key ? q.where('id', '=', key.lobbyId) : q.where('code', '=', key.code)).executeTakeFirst();
    return r?.node;
  }
}

export class SqlTicketStore implements TicketStore {
  constructor(private readonly db: Db) {}

  async put(t: StoredTicket): Promise<void> {
    const row = { mode: t.ticket.mode, node: t.node, ticket: toJson(t.ticket) };
    await this.db
      .insertInto('tickets')
      .values({ id: t.ticket.id, created_at: t.createdAt, ...row })
      .onConflict((oc) => oc.column('id').doUpdateSet(row))
      .execute();
  }

  async remove(ticketId: string): Promise<void> {
    await this.db.deleteFrom('tickets').where('id', '=', ticketId).execute();
  }

  async list(f: { node?: string; mode?: string } = {}): Promise<StoredTicket[]> {
    let q = this.db.selectFrom('tickets').selectAll();
    if (f.node !== undefined) q = q.where('node', '=', f.node);
    if (f.mode !== undefined) q = q.where('mode', '=', f.mode);
    const rows = await q.orderBy('created_at').orderBy('id').execute();
    return rows.map((r) => ({ ticket: fromJson(r.ticket), node: r.node, createdAt: Number(r.created_at) }));
  }

  async removeByNode(node: string): Promise<number> {
    const r = await this.db.deleteFrom('tickets').where('node', '=', node).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}

export class SqlHostDirectory implements HostDirectory {
  constructor(private readonly db: Db) {}

  async upsert(h: HostRecord): Promise<void> {
    const row = {
      state: h.state,
      address: h.address ?? null,
      region: h.region ?? null,
      transports: toJson(h.transports),
      capacity: h.capacity,
      active: h.active,
      last_heartbeat: h.lastHeartbeat,
    };
    await this.db
      .insertInto('hosts')
      .values({ name: h.name, node: h.node, ...row })
      .onConflict((oc) => oc.columns(['name', 'node']).doUpdateSet(row))
      .execute();
  }

  async list(f: { node?: string } = {}): Promise<HostRecord[]> {
    let q = this.db.selectFrom('hosts').selectAll();
    if (f.node !== undefined) q = q.where('node', '=', f.node);
    const rows = await q.orderBy('name').orderBy('node').execute();
    return rows.map((r) => {
      const h: HostRecord = {
        name: r.name,
        node: r.node,
        state: r.state,
        transports: fromJson(r.transports),
        capacity: Number(r.capacity),
        active: Number(r.active),
        lastHeartbeat: Number(r.last_heartbeat),
      };
      if (r.address !== null) h.address = r.address;
      if (r.region !== null) h.region = r.region;
      return h;
    });
  }

  async remove(name: string, node: string): Promise<void> {
    await this.db.deleteFrom('hosts').where('name', '=', name).where('node', '=', node).execute();
  }
}

export class SqlResultStore implements ResultStore {
  constructor(private readonly db: Db) {}

  async record(r: StoredResult): Promise<boolean> {
    const out = await this.db
      .insertInto('results')
      .values({ session_id: r.sessionId, host: r.host, recorded_at: r.recordedAt, results: toJson(r.results) })
      // the primary key is the session id: a resend, or the same results through another node, stores nothing
      .onConflict((oc) => oc.column('session_id').doNothing())
      .executeTakeFirst();
    return Number(out.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  async get(sessionId: string): Promise<StoredResult | undefined> {
    const r = await this.db.selectFrom('results').selectAll().where('session_id', '=', sessionId).executeTakeFirst();
    return r && { sessionId: r.session_id, host: r.host, recordedAt: Number(r.recorded_at), results: fromJson(r.results) };
  }

  async count(): Promise<number> {
    const r = await this.db
      .selectFrom('results')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }
}

export class SqlAuditStore implements AuditStore {
  constructor(private readonly db: Db) {}

  async append(e: NewAuditEntry): Promise<AuditEntry> {
    const r = await this.db
      .insertInto('audit_log')
      .values({
        at: e.at,
        actor_name: e.actor.name,
        actor_fingerprint: e.actor.fingerprint,
        action: e.action,
        target: e.target,
        details: toJson(e.details),
        outcome: e.outcome,
        error: e.error ?? null,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return { ...structuredClone(e), id: Number(r.id) };
  }

  async list(f: AuditFilter = {}): Promise<AuditEntry[]> {
    let q = this.db.selectFrom('audit_log').selectAll();
    if (f.since !== undefined) q = q.where('at', '>=', f.since);
    if (f.until !== undefined) q = q.where('at', '<', f.until);
    if (f.action !== undefined) q = q.where('action', '=', f.action);
    if (f.target !== undefined) q = q.where('target', '=', f.target);
    if (f.outcome !== undefined) q = q.where('outcome', '=', f.outcome);
    const actor = f.actor;
    if (actor !== undefined) q = q.where((eb) => eb.or([eb('actor_fingerprint', '=', actor), eb('actor_name', '=', actor)]));
    // the newest `limit`, returned oldest first
    const rows = await q.orderBy('id', 'desc').limit(auditLimit(f)).execute();
    return rows.reverse().map((r) => {
      const e: AuditEntry = {
        id: Number(r.id),
        at: Number(r.at),
        actor: { name: r.actor_name, fingerprint: r.actor_fingerprint },
        action: r.action,
        target: r.target,
        details: fromJson(r.details),
        outcome: r.outcome as AuditEntry['outcome'],
      };
      if (r.error !== null) e.error = r.error;
      return e;
    });
  }
}

export class SqlCertLog implements CertLog {
  constructor(private readonly db: Db) {}

  async record(c: IssuedCert): Promise<void> {
    await this.db
      .insertInto('session_certs')
      .values({
        serial: c.serial,
        fingerprint: c.fingerprint,
        player_id: c.playerId,
        seat: c.seat,
        session_id: c.sessionId,
        issued_at: c.issuedAt,
        expires_at: c.expiresAt,
      })
      .onConflict((oc) => oc.column('serial').doNothing())
      .execute();
  }

  async list(f: { sessionId?: string; playerId?: string; fingerprint?: string; limit?: number } = {}): Promise<IssuedCert[]> {
    let q = this.db.selectFrom('session_certs').selectAll();
    if (f.sessionId !== undefined) q = q.where('session_id', '=', f.sessionId);
    if (f.playerId !== undefined) q = q.where('player_id', '=', f.playerId);
    if (f.fingerprint !== undefined) q = q.where('fingerprint', '=', f.fingerprint);
    const rows = await q
      .orderBy('issued_at', 'desc')
      .orderBy('serial', 'desc')
      .limit(Math.min(f.limit ?? 1000, 1000))
      .execute();
    return rows.reverse().map((r) => ({
      serial: r.serial,
      fingerprint: r.fingerprint,
      playerId: r.player_id,
      seat: r.seat,
      sessionId: r.session_id,
      issuedAt: Number(r.issued_at),
      expiresAt: Number(r.expires_at),
    }));
  }
}
