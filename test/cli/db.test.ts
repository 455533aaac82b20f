// `iyesmp db status|migrate` and how `serve auth` treats the schema it finds, through the built CLI.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, postgresUnavailable } from '../support/postgres.js';
import { json, run, STACK, tempDir } from './helpers.js';

let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir('iyesmp-db-');
});
afterAll(() => tmp?.cleanup());

/** Marks the embedded database at `dir` as migrated by a newer build (or forgets its migration). */
function tamper(dir: string, sql: string): void {
  const db = new Database(path.join(dir, 'auth.sqlite3'));
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}

describe('iyesmp db (embedded)', () => {
  it('status looks without creating; migrate creates the schema once; both --json', () => {
    const dir = path.join(tmp.dir, 'data');
    const s = run(['db', 'status', '--database', dir, '--json']);
    expect(s.code).toBe(0);
    expect(json(s)).toMatchObject({ ok: true, command: 'db status', data: { engine: 'sqlite', state: 'empty', applied: [], pending: ['0001_initial'] } });
    expect(existsSync(dir)).toBe(false);
    const m = run(['db', 'migrate', '--database', dir, '--json']);
    expect(m.code).toBe(0);
    expect(json(m).data).toMatchObject({ state: 'current', migrated: ['0001_initial'], applied: ['0001_initial'], pending: [], unknown: [] });
    const again = run(['db', 'migrate', '--database', dir]);
    expect([again.code, again.stdout]).toEqual([0, expect.stringContaining('already current')]);
  });

  it('a schema from a newer build: status says ahead (exit 4), migrate refuses it (exit 4, no stack)', () => {
    const dir = path.join(tmp.dir, 'ahead');
    expect(run(['db', 'migrate', '--database', dir]).code).toBe(0);
    tamper(dir, "insert into kysely_migration (name, timestamp) values ('9999_future', '2099-01-01T00:00:00.000Z')");
    const s = run(['db', 'status', '--database', dir, '--json']);
    expect(s.code).toBe(4);
    expect(json(s).data).toMatchObject({ state: 'ahead', unknown: ['9999_future'] });
    const m = run(['db', 'migrate', '--database', dir, '--json']);
    expect(m.code).toBe(4);
    expect(JSON.parse(m.stdout)).toMatchObject({ ok: false, error: { code: 'store.schema_newer' } });
    expect(m.stderr).not.toMatch(STACK);
  });

  it('-c with a config that has no [database] path: the embedded database beside that config, wherever db runs from', () => {
    const dir = path.join(tmp.dir, 'no-path');
    mkdirSync(dir, { recursive: true });
    const cfg = path.join(dir, 'auth.toml');
    writeFileSync(cfg, 'kind = "auth"\n[pki]\ntrust_dir = "trust"\ncert = "a.crt"\nkey = "a.key"\nsession_auth_cert = "s.crt"\nsession_auth_key = "s.key"\n');
    const s = run(['db', 'status', '-c', cfg, '--json'], { cwd: tmp.dir });
    expect(s.code).toBe(0);
    expect(json(s).data).toMatchObject({ engine: 'sqlite', state: 'empty', where: path.join(dir, 'auth-data', 'auth.sqlite3') });
  });

  it('names what is missing without -c or --database (exit 2); an unreachable server is exit 5 with its password hidden', () => {
    const none = run(['db', 'status']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('--database');
    const pg = run(['db', 'status', '--database', 'postgres://iyesmp:s3cret@127.0.0.1:1/nothing', '--json']);
    expect(pg.code).toBe(5);
    expect(JSON.parse(pg.stdout)).toMatchObject({ ok: false, error: { code: 'store.unreachable' } });
    expect(pg.stdout + pg.stderr).not.toContain('s3cret');
  });
});

describe('serve auth and the schema it finds', () => {
  let cfg: string;
  beforeAll(() => {
    const pki = path.join(tmp.dir, 'pki');
    const init = run(['certs', 'init', '--dir', pki, '--auth-ip', '127.0.0.1', '--yes', '--insecure-no-passphrase']);
    if (init.code !== 0) throw new Error(init.stderr);
    cfg = path.join(tmp.dir, 'srv', 'auth.toml');
    const s = run(['config', 'scaffold', 'auth', '--dir', pki, '--out', cfg]);
    if (s.code !== 0) throw new Error(s.stderr);
  }, 60_000);

  it('refuses a newer schema and an older one (without --migrate), exit 4 with a hint, no stack', () => {
    const data = path.join(tmp.dir, 'srv', 'auth-data');
    // the folder beside the config, as [database] path says
    expect(json(run(['db', 'migrate', '-c', cfg, '--json'])).data).toMatchObject({ where: path.join(data, 'auth.sqlite3'), state: 'current' });
    tamper(data, "insert into kysely_migration (name, timestamp) values ('9999_future', '2099-01-01T00:00:00.000Z')");
    const newer = run(['serve', 'auth', '-c', cfg, '--migrate']);
    expect(newer.code).toBe(4);
    expect(newer.stderr).toContain('newer schema');
    expect(newer.stderr).not.toMatch(STACK);
    tamper(data, "delete from kysely_migration where name in ('9999_future', '0001_initial')");
    const older = run(['serve', 'auth', '-c', cfg]);
    expect(older.code).toBe(4);
    expect(older.stderr).toMatch(/older schema.*0001_initial/);
    expect(older.stderr).toContain('iyesmp db migrate');
  });
});

const pgSkip = await postgresUnavailable();
describe.skipIf(pgSkip !== undefined)('iyesmp db (PostgreSQL)', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    db = await createTestDatabase('cli_db');
  }, 30_000);
  afterAll(async () => {
    await db?.drop();
  }, 30_000);

  it('an empty database: status empty, migrate makes it current', () => {
    expect(json(run(['db', 'status', '--database', db.url, '--json'])).data).toMatchObject({ engine: 'postgres', state: 'empty' });
    expect(json(run(['db', 'migrate', '--database', db.url, '--json'])).data).toMatchObject({ state: 'current', migrated: ['0001_initial'] });
    expect(json(run(['db', 'status', '--database', db.url, '--json'])).data).toMatchObject({ state: 'current', applied: ['0001_initial'] });
  });
});

describe('demo database flags', () => {
  it('--auth-nodes 2 needs --database; --database takes only postgres:// URLs; both refused before anything is written', () => {
    const two = run(['demo', '--auth-nodes', '2', '--json'], { cwd: tmp.dir });
    expect(two.code).toBe(2);
    expect(JSON.parse(two.stdout)).toMatchObject({ ok: false, error: { code: 'conflicting_flags' } });
    const bad = run(['demo', '--database', 'mysql://u:pw@h/db'], { cwd: tmp.dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('postgres://');
    expect(bad.stderr).not.toContain(':pw@');
    expect(run(['demo', '--auth-nodes', '3', '--database', 'postgres://x@127.0.0.1/y'], { cwd: tmp.dir }).code).toBe(2);
    expect(existsSync(path.join(tmp.dir, '.iyesmp-dev'))).toBe(false);
  });
});
