import type { AuthStores } from '../auth/stores.js';
import { migrateToLatest, newerSchema, openDatabase, schemaStatus, type OpenDatabase, type SchemaStatus, type StoreLocation } from './engine.js';
import { storeError } from './errors.js';
import {
  SqlAccountStore,
  SqlAuditStore,
  SqlBanStore,
  SqlCertLog,
  SqlHostDirectory,
  SqlLobbyStore,
  SqlRatingStore,
  SqlResultStore,
  SqlSessionStore,
  SqlTicketStore,
} from './stores.js';

/**
 * The Auth server's state in a real database (docs/store.md): `openAuthStores` opens PostgreSQL
 * (`url`) or the embedded SQLite folder (`path`), checks the schema, migrates when allowed, and
 * returns the stores src/auth defines.
 */
export * from './engine.js';
export * from './errors.js';
export * from './stores.js';
export { KNOWN_MIGRATIONS, type Engine } from './migrations.js';

export interface OpenStoreOptions extends StoreLocation {
  /**
   * Bring an older (or empty) schema up to date. Without it an empty embedded database is still
   * created (nothing to lose), but an older schema, or an empty PostgreSQL database, is refused.
   */
  migrate?: boolean;
  poolSize?: number;
}

export interface SqlAuthStores extends AuthStores {
  readonly database: OpenDatabase;
  /** the schema as found when opened, and the migrations applied since */
  readonly status: SchemaStatus;
  readonly migrated: string[];
}

export async function openAuthStores(opts: OpenStoreOptions): Promise<SqlAuthStores> {
  const database = await openDatabase(opts, opts.poolSize !== undefined ? { poolSize: opts.poolSize } : {});
  try {
    const status = await schemaStatus(database);
    let migrated: string[] = [];
    if (status.state === 'ahead') throw newerSchema(status);
    if (status.state !== 'current') {
      const fresh = status.state === 'empty' && database.engine === 'sqlite';
      if (!opts.migrate && !fresh) {
        const what =
          status.state === 'empty'
            ? 'has no iyesmp schema yet'
            : `is at an older schema (${status.pending.length} migration(s) pending: ${status.pending.join(', ')})`;
        throw storeError('store.schema_behind', `the database at ${database.where} ${what}`, {
          hint: 'run `iyesmp db migrate -c <config>`, or start with --migrate (or database.migrate = true)',
          details: { pending: status.pending },
        });
      }
      migrated = await migrateToLatest(database);
    }
    const db = database.db;
    return {
      database,
      status,
      migrated,
      durable: true,
      accounts: new SqlAccountStore(db),
      bans: new SqlBanStore(db),
      sessions: new SqlSessionStore(db),
      ratings: new SqlRatingStore(db),
      lobbies: new SqlLobbyStore(db),
      tickets: new SqlTicketStore(db),
      hosts: new SqlHostDirectory(db),
      results: new SqlResultStore(db),
      audit: new SqlAuditStore(db),
      certs: new SqlCertLog(db),
      close: () => database.close(),
    };
  } catch (err) {
    await database.close().catch(() => undefined);
    throw err;
  }
}
