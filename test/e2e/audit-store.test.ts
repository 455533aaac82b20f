// The audit log lives in the store when `serve auth` has one: an admin action taken before a restart
// is still listed by `iyesmp admin audit` after it (the in-memory log would have lost it).
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, json, run, tempDir } from '../cli/helpers.js';
import { freeUdpPorts } from '../../dist/demo/ports.js';

let tmp: ReturnType<typeof tempDir>;
const servers: ChildProcess[] = [];
beforeAll(() => {
  tmp = tempDir('iyesmp-audit-store-');
});
afterAll(() => {
  for (const s of servers) s.kill('SIGKILL');
  tmp?.cleanup();
});

function startAuth(config: string, cwd: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [BIN, 'serve', 'auth', '-c', config], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  servers.push(child);
  let log = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve auth did not listen:\n${log}`)), 30_000);
    const onData = (b: Buffer) => {
      log += b;
      if (log.includes('auth server listening')) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`serve auth exited (${code}):\n${log}`)));
  });
}

function stop(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}

describe('admin audit with a store', () => {
  it('an action audited before a restart of serve auth is listed after it', async () => {
    const cwd = tmp.dir;
    // the demo's dev PKI holds an admin cert and its auth.toml has [admin] on; the embedded database is the default
    expect(run(['demo', '--setup-only'], { cwd }).code).toBe(0);
    const config = path.join(cwd, '.iyesmp-dev', 'auth.toml');
    const [clients, hosts, admin] = await freeUdpPorts(3);
    writeFileSync(
      config,
      readFileSync(config, 'utf8')
        .replace(/^port = 7350$/m, `port = ${clients}`)
        .replace(/^port = 7351$/m, `port = ${hosts}`)
        .replace(/^port = 7352$/m, `port = ${admin}`)
        .replace(/^listen = "127\.0\.0\.1:9464"$/m, 'listen = "127.0.0.1:0"'),
    );
    const flags = ['-c', config, '--dir', path.join(cwd, '.iyesmp-dev', 'pki'), '--json'];

    let auth = await startAuth(config, cwd);
    const kick = run(['admin', 'kick', 'guest:nobody', '--reason', 'audit test', '--yes', ...flags], { cwd });
    // no such player: refused, and audited all the same
    expect(kick.code, kick.stderr).not.toBe(0);
    expect(json(kick).ok).toBe(false);
    expect(await stop(auth)).toBe(0);

    auth = await startAuth(config, cwd);
    const audit = run(['admin', 'audit', ...flags], { cwd });
    expect(audit.code, audit.stderr).toBe(0);
    const entries = json(audit).data.entries;
    expect(entries).toEqual([
      expect.objectContaining({ action: 'kick', target: 'guest:nobody', outcome: 'refused', actor: expect.objectContaining({ name: 'admin-dev' }) }),
    ]);
    expect(await stop(auth)).toBe(0);
  }, 90_000);
});
