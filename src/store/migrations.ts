import { type Kysely, type Migration } from 'kysely';

export type Engine = 'sqlite' | 'postgres';

/**
 * The schema's history, oldest first, as code (Kysely's Migrator runs them in order and records
 * each by name). Never edit a migration that has shipped: add the next one. The DDL is the same on
 * both engines except for the auto-increment column type, which SQL never standardised.
 */
export function migrations(engine: Engine): Record<string, Migration> {
  const serial = engine === 'postgres' ? 'bigserial' : 'integer';
  return {
    '0001_initial': {
      async up(db: Kysely<unknown>): Promise<void> {
        await db.schema
          .createTable('accounts')
          .addColumn('account_id', 'text', (c) => c.primaryKey())
          .addColumn('username_key', 'text', (c) => c.notNull().unique())
          .addColumn('username', 'text', (c) => c.notNull())
          .addColumn('display_name', 'text', (c) => c.notNull())
          .addColumn('password_hash', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('data', 'text')
          .execute();
        await db.schema
          .createTable('bans')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('target', 'text', (c) => c.notNull())
          .addColumn('reason', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('expires_at', 'bigint')
          .addColumn('by_whom', 'text')
          .execute();
        await db.schema.createIndex('bans_target').on('bans').column('target').execute();
        await db.schema
          .createTable('ratings')
          .addColumn('player_id', 'text', (c) => c.notNull())
          .addColumn('mode', 'text', (c) => c.notNull())
          .addColumn('rating', 'double precision', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('ratings_pk', ['player_id', 'mode'])
          .execute();
        await db.schema
          .createTable('lobbies')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('code', 'text', (c) => c.unique())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('node', 'text', (c) => c.notNull())
          .addColumn('snapshot', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('tickets')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('mode', 'text', (c) => c.notNull())
          .addColumn('node', 'text', (c) => c.notNull())
          .addColumn('ticket', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('tickets_node').on('tickets').column('node').execute();
        await db.schema
          .createTable('hosts')
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('node', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('address', 'text')
          .addColumn('region', 'text')
          .addColumn('transports', 'text', (c) => c.notNull())
          .addColumn('capacity', 'integer', (c) => c.notNull())
          .addColumn('active', 'integer', (c) => c.notNull())
          .addColumn('last_heartbeat', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('hosts_pk', ['name', 'node'])
          .execute();
        await db.schema
          .createTable('sessions')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('live', 'integer', (c) => c.notNull())
          .addColumn('unacked', 'integer', (c) => c.notNull())
          .addColumn('host_name', 'text', (c) => c.notNull())
          .addColumn('transport', 'text', (c) => c.notNull())
          .addColumn('record', 'text', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('sessions_live_host').on('sessions').columns(['live', 'host_name']).execute();
        await db.schema.createIndex('sessions_unacked').on('sessions').column('unacked').execute();
        await db.schema
          .createTable('session_players')
          .addColumn('session_id', 'text', (c) => c.notNull())
          .addColumn('player_id', 'text', (c) => c.notNull())
          .addColumn('live', 'integer', (c) => c.notNull())
          .addPrimaryKeyConstraint('session_players_pk', ['session_id', 'player_id'])
          .execute();
        await db.schema.createIndex('session_players_live').on('session_players').columns(['player_id', 'live']).execute();
        await db.schema
          .createTable('results')
          .addColumn('session_id', 'text', (c) => c.primaryKey())
          .addColumn('host', 'text', (c) => c.notNull())
          .addColumn('recorded_at', 'bigint', (c) => c.notNull())
          .addColumn('results', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('audit_log')
          .addColumn('id', serial, (c) => (engine === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
          .addColumn('at', 'bigint', (c) => c.notNull())
          .addColumn('actor_name', 'text', (c) => c.notNull())
          .addColumn('actor_fingerprint', 'text', (c) => c.notNull())
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('target', 'text')
          .addColumn('details', 'text', (c) => c.notNull())
          .addColumn('outcome', 'text', (c) => c.notNull())
          .addColumn('error', 'text')
          .execute();
        await db.schema.createIndex('audit_log_at').on('audit_log').column('at').execute();
        await db.schema
          .createTable('session_certs')
          .addColumn('serial', 'text', (c) => c.primaryKey())
          .addColumn('fingerprint', 'text', (c) => c.notNull())
          .addColumn('player_id', 'text', (c) => c.notNull())
          .addColumn('seat', 'text', (c) => c.notNull())
          .addColumn('session_id', 'text', (c) => c.notNull())
          .addColumn('issued_at', 'bigint', (c) => c.notNull())
          .addColumn('expires_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema.createIndex('session_certs_session').on('session_certs').column('session_id').execute();
      },
    },
  };
}

/** The names of every migration this build knows, oldest first. */
export const KNOWN_MIGRATIONS = Object.keys(migrations('sqlite'));
