/**
 * The machine's PostgreSQL for tests (127.0.0.1:5432, trust auth; IYESMP_TEST_PG_URL overrides).
 * Each test file makes its own database with a unique name and drops it at the end. When the
 * server cannot be reached the tests skip, saying why; with IYESMP_REQUIRE_SERVICES=1 they fail.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const PG_ADMIN_URL = process.env.IYESMP_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const servicesRequired = (): boolean => process.env.IYESMP_REQUIRE_SERVICES === '1';

/** undefined when PostgreSQL answers; otherwise why not (a required service missing throws). */
export async function postgresUnavailable(): Promise<string | undefined> {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.query('select 1');
    return undefined;
  } catch (err) {
    const reason = `PostgreSQL at ${PG_ADMIN_URL} is unreachable (${(err as Error).message})`;
    if (servicesRequired()) throw new Error(`${reason}, and IYESMP_REQUIRE_SERVICES=1`);
    console.warn(`skipping PostgreSQL tests: ${reason}`);
    return reason;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** A fresh database named after the test file; `drop()` removes it (even with connections left open). */
export async function createTestDatabase(tag: string): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const name = `iyesmp_t_${tag
    .replace(/[^a-z0-9]/gi, '_')
    .toLowerCase()
    .slice(0, 24)}_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: PG_ADMIN_URL });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await admin(`create database "${name}"`);
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return { url: url.toString(), name, drop: () => admin(`drop database if exists "${name}" with (force)`) };
}
