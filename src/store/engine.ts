import { chmod, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, type MigrationProvider } from 'kysely';
import { storeError } from './errors.js';
import { migrations, KNOWN_MIGRATIONS, type Engine } from './migrations.js';
import type { Database } from './schema.js';

/**
 * Opening a database: PostgreSQL through `pg`'s Pool when a URL is given, otherwise the embedded
 * engine, SQLite through better-sqlite3, in a file inside a folder (docs/store.md says why SQLite).
 * The drivers are imported here, lazily, so a command that never opens a database never loads them.
 */
export interface StoreLocation {
  /** postgres:// URL; when set, `path` is not used */
  url?: string;
  /** folder of the embedded database (created if missing, mode 0700) */
  path?: string;
}

export interface OpenDatabase {
  db: Kysely<Database>;
  engine: Engine;
  /** where it is, safe to print: the URL without its password, or the file */
  where: string;
  /** the PostgreSQL pool (for LISTEN/NOTIFY and advisory locks), when the engine is postgres */
  pool?: import('pg').Pool;
  close(): Promise<void>;
}

/** The embedded database's file inside its folder. */
export const EMBEDDED_FILE = 'auth.sqlite3';

export async function openDatabase(loc: StoreLocation, opts: { poolSize?: number } = {}): Promise<OpenDatabase> {
  if (loc.url) return openPostgres(loc.url, opts.poolSize ?? 10);
  if (!loc.path) throw storeError('store.bad_location', 'no database: set database.url (PostgreSQL) or database.path (embedded)');
  return openSqlite(loc.path);
}

async function openPostgres(url: string, poolSize: number): Promise<OpenDatabase> {
  if (!/^postgres(ql)?:\/\//.test(url)) throw storeError('store.bad_location', `expected a postgres:// URL, got "${redactUrl(url)}"`);
  const { default: pg } = await import('pg');
  const where = redactUrl(url);
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    connectionTimeoutMillis: 10_000,
    // bigint columns hold ms timestamps, well inside a double: read them as numbers, not strings
    types: { getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === 20 ? Number : pg.types.getTypeParser(oid, format))) as never },
  });
  // an idle client losing its server must not crash the process: the pool replaces it
  pool.on('error', () => undefined);
  try {
    const c = await pool.connect();
    c.release();
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw storeError('store.unreachable', `cannot reach PostgreSQL at ${where}: ${(err as Error).message}`, {
      cause: err,
      hint: 'check database.url, that the server runs and that this user may connect',
    });
  }
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { db, engine: 'postgres', where, pool, close: () => db.destroy() };
}

async function openSqlite(dir: string): Promise<OpenDatabase> {
  const file = path.join(dir, EMBEDDED_FILE);
  const { default: Sqlite } = await import('better-sqlite3');
  let handle: import('better-sqlite3').Database;
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    handle = new Sqlite(file);
    // password hashes and session keys live here
    await chmod(file, 0o600);
    // WAL: readers never wait for the writer; NORMAL sync survives a killed process (not a power cut) at far less cost than FULL
    handle.pragma('journal_mode = WAL');
    handle.pragma('synchronous = NORMAL');
    handle.pragma('busy_timeout = 5000');
  } catch (err) {
    throw storeError('store.unreachable', `cannot open the embedded database ${file}: ${(err as Error).message}`, {
      cause: err,
      hint: 'database.path must be a folder this user may write',
    });
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: handle }) });
  return { db, engine: 'sqlite', where: file, close: () => db.destroy() };
}

export interface SchemaStatus {
  engine: Engine;
  where: string;
  /** migrations this build knows, oldest first */
  known: string[];
  applied: string[];
  pending: string[];
  /** applied by a newer build: this one must not touch the database */
  unknown: string[];
  /** empty: no schema at all; current; behind: pending migrations; ahead: unknown ones applied */
  state: 'empty' | 'current' | 'behind' | 'ahead';
}

export async function schemaStatus(o: OpenDatabase): Promise<SchemaStatus> {
  const tables = await o.db.introspection.getTables({ withInternalKyselyTables: true });
  let applied: string[] = [];
  if (tables.some((t) => t.name === 'kysely_migration')) {
    const rows = await (o.db as unknown as Kysely<{ kysely_migration: { name: string; timestamp: string } }>)
      .selectFrom('kysely_migration')
      .select(['name'])
      .orderBy('name')
      .execute();
    applied = rows.map((r) => r.name);
  }
  const unknown = applied.filter((n) => !KNOWN_MIGRATIONS.includes(n));
  const pending = KNOWN_MIGRATIONS.filter((n) => !applied.includes(n));
  // empty means no tables at all: a database holding tables but no migration record is not ours to create in
  const bare = applied.length === 0 && tables.every((t) => t.name.startsWith('kysely_'));
  const state = unknown.length > 0 ? 'ahead' : bare ? 'empty' : pending.length > 0 ? 'behind' : 'current';
  return { engine: o.engine, where: o.where, known: [...KNOWN_MIGRATIONS], applied, pending, unknown, state };
}

/** Applies every pending migration, in order, each in its own transaction; returns their names. */
export async function migrateToLatest(o: OpenDatabase): Promise<string[]> {
  const st = await schemaStatus(o);
  if (st.state === 'ahead') throw newerSchema(st);
  const provider: MigrationProvider = { getMigrations: async () => migrations(o.engine) };
  const { error, results } = await new Migrator({ db: o.db, provider }).migrateToLatest();
  const done = (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw storeError('store.migrate_failed', `migration ${failed ?? '(unknown)'} failed on ${o.where}: ${(error as Error).message ?? String(error)}`, {
      cause: error,
      details: { applied: done },
    });
  }
  return done;
}

export function newerSchema(st: SchemaStatus) {
  return storeError(
    'store.schema_newer',
    `the database at ${st.where} has a newer schema than this build knows (${st.unknown.join(', ')}); refusing to use it`,
    {
      hint: 'run the iyesmp version that migrated it (or newer)',
      details: { unknown: st.unknown, known: st.known },
    },
  );
}

/** A postgres URL without its password, for logs and messages. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@');
}
