import type { AuthConfig } from '../config/auth.js';
import type { SqlAuthStores } from '../store/index.js';

/**
 * The database `serve auth` and `iyesmp db` use, from `[database]`: PostgreSQL when `url` is set,
 * otherwise the embedded engine in `path` (a folder beside the config by default). The store
 * module (and its drivers) load only here, when a server or `db` actually needs them.
 */
export interface DatabaseChoice {
  url?: string;
  path?: string;
}

export function databaseOf(c: Pick<AuthConfig, 'database'>, override: { url?: string } = {}): DatabaseChoice {
  const url = override.url ?? c.database.url;
  return url ? { url } : { path: c.database.path };
}

export async function openStoreFromConfig(c: Pick<AuthConfig, 'database'>, o: { migrate?: boolean; url?: string } = {}): Promise<SqlAuthStores> {
  const { openAuthStores } = await import('../store/index.js');
  return openAuthStores({ ...databaseOf(c, o.url !== undefined ? { url: o.url } : {}), migrate: o.migrate === true || c.database.migrate });
}
