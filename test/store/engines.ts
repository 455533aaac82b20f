/**
 * Both database engines for one shared test body: the embedded SQLite in a temporary folder and
 * the machine's PostgreSQL in a database made for this file (skipped with a reason when it is
 * unreachable; a failure with IYESMP_REQUIRE_SERVICES=1).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openAuthStores, type OpenStoreOptions, type SqlAuthStores } from '../../src/store/index.js';
import { createTestDatabase, postgresUnavailable } from '../support/postgres.js';

export interface TestEngine {
  name: 'sqlite' | 'postgres';
  /** why it is skipped, if it is */
  skip: string | undefined;
  /** where the database is (made on first use) */
  location(): Promise<{ url?: string; path?: string }>;
  open(opts?: Omit<OpenStoreOptions, 'url' | 'path'>): Promise<SqlAuthStores>;
  cleanup(): Promise<void>;
}

export async function testEngines(tag: string): Promise<TestEngine[]> {
  const pgSkip = await postgresUnavailable();
  let dir: string | undefined;
  let pgDb: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
  const sqlite: TestEngine = {
    name: 'sqlite',
    skip: undefined,
    async location() {
      dir ??= await mkdtemp(path.join(tmpdir(), `iyesmp-store-${tag}-`));
      return { path: dir };
    },
    async open(opts = {}) {
      return openAuthStores({ ...(await this.location()), ...opts });
    },
    async cleanup() {
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
  const postgres: TestEngine = {
    name: 'postgres',
    skip: pgSkip,
    async location() {
      pgDb ??= await createTestDatabase(tag);
      return { url: pgDb.url };
    },
    async open(opts = {}) {
      return openAuthStores({ migrate: true, poolSize: 4, ...(await this.location()), ...opts });
    },
    async cleanup() {
      await pgDb?.drop();
    },
  };
  return [sqlite, postgres];
}
