/**
 * The CI provisioning script, run for real (templates/ci/provision.sh, bash, no terminal): it makes
 * an encrypted PKI from passphrase files, certificates, checked configs and one bundle per server.
 * Then the bundles are unpacked as on the servers and run as they are, the way a deployment would:
 * `serve auth|host` find their config through $IYESMP_CONFIG, ports and addresses come from
 * IYESMP_AUTH__/IYESMP_HOST__ overrides (free loopback ports here), the SessionAuth passphrase from
 * its file, and two bot players (test/e2e/bot.mjs) play a game on them. A second run reuses the PKI
 * and only adds the new host.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { assertBuilt, cli, freeUdpPort, GAME_MODULE, here, Procs, root, until, waitLine, type Proc } from './harness.js';

const SCRIPT = path.join(root, 'templates/ci/provision.sh');
let dir: string;
let procs: Procs;

/** Runs the script with `env` (and no terminal); resolves with its exit code and output. */
function provision(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', [SCRIPT], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function unpack(archive: string, into: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = spawn('tar', ['-xzf', archive, '-C', into], { stdio: 'ignore' });
    t.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`tar -xzf ${archive} exited ${code}`))));
  });
}

const base = () => ({
  IYESMP_CMD: `${process.execPath} ${cli}`,
  IYESMP_AUTH_ADDRESS: '127.0.0.1',
  IYESMP_HOST_ADDRESSES: '127.0.0.1',
  IYESMP_CA_PASSPHRASE_FILE: path.join(dir, 'ca.pass'),
  IYESMP_SESSIONAUTH_PASSPHRASE_FILE: path.join(dir, 'sessionauth.pass'),
});

beforeAll(async () => {
  assertBuilt();
  dir = await mkdtemp(path.join(tmpdir(), 'iyesmp-provision-'));
  procs = new Procs(dir);
  // the CI secrets, as a workflow writes them to files
  writeFileSync(path.join(dir, 'ca.pass'), 'ci secret for the master and clientauth keys\n', { mode: 0o600 });
  writeFileSync(path.join(dir, 'sessionauth.pass'), 'ci secret for the sessionauth key\n', { mode: 0o600 });
});
afterEach(async () => {
  await procs.killAll();
}, 30_000);
afterAll(async () => {
  await procs?.killAll();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 30_000);

describe('templates/ci/provision.sh', () => {
  it('passes shellcheck where it is installed', () => {
    const r = spawnSync('shellcheck', [SCRIPT], { encoding: 'utf8' });
    if (r.error) {
      console.warn('skipped: shellcheck is not installed');
      return;
    }
    expect(r.status, r.stdout).toBe(0);
  });

  it('refuses to start without the addresses, naming the variable', async () => {
    const r = await provision({ ...base(), IYESMP_AUTH_ADDRESS: '' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('IYESMP_AUTH_ADDRESS is not set');
  }, 60_000);

  it('provisions a deployment from secrets in files, and two bots play a game on its bundles', async () => {
    onTestFailed(() => console.error(procs.report(40)));
    const r = await provision({ ...base(), IYESMP_HOST_COUNT: '2', IYESMP_SCAFFOLD: 'systemd' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('./deploy/bundles');
    const manifest = JSON.parse(readFileSync(path.join(dir, 'pki/manifest.json'), 'utf8')) as {
      entries: Array<{ name: string; role: string; keyEncrypted: boolean }>;
    };
    // every CA key is encrypted: the passphrases came from the files
    for (const role of ['master', 'clientauth', 'sessionauth']) expect(manifest.entries.find((e) => e.role === role)?.keyEncrypted).toBe(true);
    expect(manifest.entries.filter((e) => e.role === 'host').map((e) => e.name)).toEqual(['host-1', 'host-2']);

    // on the "servers": the bundles unpacked, run unchanged
    const srv = path.join(dir, 'servers');
    await mkdir(srv);
    for (const b of ['iyesmp-auth-auth', 'iyesmp-host-host-1', 'iyesmp-host-host-2']) await unpack(path.join(dir, 'deploy/bundles', `${b}.tar.gz`), srv);
    const [clientsPort, hostsPort, p1, p2] = [await freeUdpPort(), await freeUdpPort(), await freeUdpPort(), await freeUdpPort()];
    const auth = procs.node('auth', [cli, 'serve', 'auth', '--grace-ms', '500'], {
      IYESMP_CONFIG: path.join(srv, 'auth/auth.toml'),
      IYESMP_AUTH__LISTEN__CLIENTS__ADDRESS: '127.0.0.1',
      IYESMP_AUTH__LISTEN__CLIENTS__PORT: String(clientsPort),
      IYESMP_AUTH__LISTEN__HOSTS__ADDRESS: '127.0.0.1',
      IYESMP_AUTH__LISTEN__HOSTS__PORT: String(hostsPort),
      IYESMP_AUTH__HOSTS__HEARTBEAT_INTERVAL_SECONDS: '1',
      IYESMP_AUTH__PKI__SESSION_AUTH_PASSPHRASE_FILE: path.join(dir, 'sessionauth.pass'),
      // several servers on one machine: each its own metrics port, as a deployment sets them
      IYESMP_AUTH__ADMIN_HTTP__LISTEN: '127.0.0.1:0',
    });
    const loaded = await waitLine(procs, auth, 'config loaded');
    expect(loaded).toMatchObject({ from: '$IYESMP_CONFIG', config: path.join(srv, 'auth/auth.toml') });
    expect(loaded.overrides).toContain('IYESMP_AUTH__LISTEN__CLIENTS__PORT');
    await waitLine(procs, auth, 'auth server listening');
    const hosts: Proc[] = [];
    for (const [name, port] of [
      ['host-1', p1],
      ['host-2', p2],
    ] as const) {
      hosts.push(
        procs.node(name, [cli, 'serve', 'host', '--game', GAME_MODULE, '--grace-ms', '500'], {
          IYESMP_CONFIG: path.join(srv, name, 'host.toml'),
          IYESMP_HOST__LISTEN__ADDRESS: '127.0.0.1',
          IYESMP_HOST__TRANSPORTS__QUIC__PORT: String(port),
          IYESMP_HOST__AUTH__SERVERS: `["127.0.0.1:${hostsPort}"]`,
          IYESMP_HOST__AUTH__RECONNECT_MAX_SECONDS: '1',
          IYESMP_HOST__ADMIN_HTTP__LISTEN: '127.0.0.1:0',
        }),
      );
    }
    for (const h of hosts) await waitLine(procs, h, 'registered with the auth server');

    // the game build ships the client certificate of the PKI and the Master cert of the trust list
    const bot = (name: string) =>
      procs.node(name, [
        path.join(here, 'bot.mjs'),
        JSON.stringify({
          name,
          flow: 'matchmake',
          auth: `127.0.0.1:${clientsPort}`,
          ca: path.join(srv, 'auth/trust/master.pem'),
          cert: path.join(dir, 'pki/certs/client-clientauth-1-1.pem'),
          key: path.join(dir, 'pki/keys/client-clientauth-1-1.key.pem'),
        }),
      ]);
    const [a, b] = [bot('bot-a'), bot('bot-b')];
    const ended = (p: Proc) => p.find('end').length > 0 || p.find('game-error').length > 0 || !p.running;
    await until(procs, 'both bots to finish the game', () => ended(a) && ended(b), 150_000);
    const [ea, eb] = [a.find('end')[0], b.find('end')[0]];
    expect(ea?.reason).toBe('completed');
    expect(eb?.results).toEqual(ea?.results);
    expect(((ea?.results ?? []) as Array<{ outcome: string }>).map((x) => x.outcome).sort()).toEqual(['loss', 'win']);
    const sessionId = a.find('ticket')[0]!.sessionId;
    await waitLine(procs, auth, 'session results recorded', (l) => l.sessionId === sessionId);
  }, 420_000);

  it('a second run reuses the PKI and only issues the new host', async () => {
    const before = readFileSync(path.join(dir, 'pki/certs/master.pem'), 'utf8');
    const host1 = readFileSync(path.join(dir, 'pki/certs/host-1.pem'), 'utf8');
    const r = await provision({ ...base(), IYESMP_HOST_COUNT: '3' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('reusing the PKI');
    expect(r.stderr).toContain('issuing host-3');
    expect(r.stderr).not.toContain('issuing host-1');
    expect(readFileSync(path.join(dir, 'pki/certs/master.pem'), 'utf8')).toBe(before);
    expect(readFileSync(path.join(dir, 'pki/certs/host-1.pem'), 'utf8')).toBe(host1);
    expect(readFileSync(path.join(dir, 'deploy/bundles/iyesmp-host-host-3.tar.gz')).length).toBeGreaterThan(0);
  }, 300_000);
});
