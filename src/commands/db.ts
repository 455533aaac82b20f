import type { Command } from 'commander';
import { action } from '../cli/output.js';

/**
 * `iyesmp db migrate | status`: the Auth servers' database (docs/store.md). It is found like
 * `serve auth` finds it, from `[database]` of an auth.toml (`-c`), or named directly with
 * `--database` (a postgres:// URL or the embedded database's folder).
 */
interface DbFlags {
  config?: string;
  database?: string;
}

export function register(program: Command): void {
  const db = program
    .command('db')
    .description("the Auth servers' database: schema status and migrations")
    .addHelpText(
      'after',
      `
Examples:
  $ iyesmp db status -c auth.toml
  $ iyesmp db migrate -c auth.toml
  $ iyesmp db migrate --database postgres://iyesmp@db.example.com/iyesmp --json`,
    );

  const where = (c: Command) =>
    c
      .option('-c, --config <file>', 'auth.toml whose [database] to use')
      .option('--database <url-or-folder>', 'a postgres:// URL, or the folder of an embedded database (instead of -c)');

  where(db.command('status').description('which migrations the database has and which it lacks'))
    .addHelpText(
      'after',
      `
state: empty (no schema yet), current, behind (migrations pending: run db migrate), or ahead (a
newer iyesmp migrated it: this build refuses to serve it). Exit 0 in every state but ahead (4).

Examples:
  $ iyesmp db status -c auth.toml
  $ iyesmp db status --database ./auth-data --json`,
    )
    .action(
      action<DbFlags>('db status', async (out, opts) => {
        const { openDatabase, schemaStatus, EMBEDDED_FILE, KNOWN_MIGRATIONS } = await import('../store/index.js');
        const loc = await location(opts);
        if (loc.path !== undefined) {
          // status only looks: a missing embedded database is reported, not created
          const { existsSync } = await import('node:fs');
          const { join } = await import('node:path');
          const file = join(loc.path, EMBEDDED_FILE);
          if (!existsSync(file)) {
            const st = { engine: 'sqlite', where: file, known: KNOWN_MIGRATIONS, applied: [], pending: KNOWN_MIGRATIONS, unknown: [], state: 'empty' };
            out.result('db status', st, () => `sqlite ${file}: empty (not created yet; serve auth or db migrate creates it)`);
            return 0;
          }
        }
        const database = await openDatabase(loc);
        try {
          const st = await schemaStatus(database);
          out.result('db status', st, () =>
            [
              `${st.engine} ${st.where}: ${st.state}`,
              `  applied: ${st.applied.join(', ') || '(none)'}`,
              ...(st.pending.length ? [`  pending: ${st.pending.join(', ')} (run \`iyesmp db migrate\`)`] : []),
              ...(st.unknown.length ? [`  unknown to this build: ${st.unknown.join(', ')} (a newer iyesmp migrated it)`] : []),
            ].join('\n'),
          );
          return st.state === 'ahead' ? 4 : 0;
        } finally {
          await database.close();
        }
      }),
    );

  where(db.command('migrate').description('bring the schema up to date (creates it in an empty database)'))
    .addHelpText(
      'after',
      `
Each migration runs in its own transaction; a failed one leaves the database at the last that
succeeded. Back up first (docs/store.md). Refuses a database migrated by a newer iyesmp.

Examples:
  $ iyesmp db migrate -c auth.toml
  $ iyesmp db migrate --database postgres://iyesmp@127.0.0.1/iyesmp --json`,
    )
    .action(
      action<DbFlags>('db migrate', async (out, opts) => {
        const { openDatabase, schemaStatus, migrateToLatest } = await import('../store/index.js');
        const database = await openDatabase(await location(opts));
        try {
          const applied = await migrateToLatest(database);
          const st = await schemaStatus(database);
          out.result('db migrate', { ...st, migrated: applied }, () =>
            applied.length ? `${st.where}: applied ${applied.join(', ')}; now current` : `${st.where}: already current (${st.applied.length} migration(s))`,
          );
        } finally {
          await database.close();
        }
      }),
    );
}

async function location(opts: DbFlags): Promise<{ url?: string; path?: string }> {
  if (opts.database !== undefined) {
    if (/^postgres(ql)?:\/\//.test(opts.database)) return { url: opts.database };
    const path = await import('node:path');
    return { path: path.resolve(opts.database) };
  }
  if (opts.config === undefined) {
    const { cliError } = await import('../cli/errors.js');
    throw cliError('missing_option', 'name the database: -c auth.toml (its [database]) or --database URL-or-folder');
  }
  const { loadConfig } = await import('../config/load.js');
  const { databaseOf } = await import('../serve/store.js');
  return databaseOf(await loadConfig(opts.config, 'auth'));
}
