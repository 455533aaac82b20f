/** `[database] path` and its default resolve like every other relative path of a config: beside the file. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkConfigFile, checkConfigText } from '../../src/config/load.js';
import { tempDir } from '../cli/helpers.js';
import { MINIMAL_AUTH as AUTH } from './fixtures.js';

const tmp = tempDir('iyesmp-dbpath-');
afterAll(() => tmp.cleanup());

async function databaseOf(text: string, env: NodeJS.ProcessEnv = {}): Promise<{ path: string; url?: string }> {
  const dir = path.join(tmp.dir, 'etc', 'iyesmp');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'auth.toml');
  writeFileSync(file, text);
  const r = await checkConfigFile(file, env);
  if (!r.ok || r.kind !== 'auth') throw new Error(`expected a valid auth config: ${JSON.stringify(r)}`);
  return r.config.database;
}

describe('[database] path', () => {
  it('without the key: auth-data beside the config file, not in the working directory', async () => {
    const db = await databaseOf(AUTH);
    expect(db.path).toBe(path.join(tmp.dir, 'etc', 'iyesmp', 'auth-data'));
  });

  it('a relative path, from the file or from the environment, is beside the config file too; an absolute one is kept', async () => {
    expect((await databaseOf(`${AUTH}[database]\npath = "state/db"\n`)).path).toBe(path.join(tmp.dir, 'etc', 'iyesmp', 'state', 'db'));
    expect((await databaseOf(AUTH, { IYESMP_AUTH__DATABASE__PATH: 'from-env' })).path).toBe(path.join(tmp.dir, 'etc', 'iyesmp', 'from-env'));
    expect((await databaseOf(AUTH, { IYESMP_AUTH__DATABASE__PATH: '/var/lib/iyesmp/auth-data' })).path).toBe('/var/lib/iyesmp/auth-data');
  });

  it('text checked without a file (no folder to resolve against) keeps paths as written, the default included', () => {
    const r = checkConfigText(AUTH);
    if (!r.ok || r.kind !== 'auth') throw new Error('expected a valid auth config');
    expect(r.config.database.path).toBe('./auth-data');
    expect(r.config.pki.cert).toBe('auth.crt');
  });
});
