/**
 * `iyesmp serve auth|host` as subprocesses of the built CLI, from configs made by `iyesmp config scaffold`.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initPki } from '../../src/pki/index.js';
import { authClient, until, type Fx } from './helpers.js';
import { freeTcpPort, freeUdpPort } from '../support/net.js';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
const cli = path.join(root, 'bin/iyesmp.js');

let dir: string;
const children: ChildProcess[] = [];

function start(args: string[]): { child: ChildProcess; out: () => string; err: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [cli, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, out: () => out, err: () => err, exit };
}

beforeAll(async () => {
  // other helpers' work in progress may fail to typecheck; tsc still emits dist/
  await run('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, timeout: 240_000 }).catch(() => undefined);
  dir = await mkdtemp(path.join(tmpdir(), 'iyesmp-serve-'));
  await initPki({
    dir: path.join(dir, 'pki'),
    allowUnencryptedCaKeys: true,
    authIpAddresses: ['127.0.0.1'],
    hosts: [{ name: 'host-1', ipAddresses: ['127.0.0.1'] }],
  });
}, 300_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('iyesmp serve', () => {
  it('runs auth and host from scaffolded configs, serves a client, and stops cleanly on SIGTERM', async () => {
    const [clients, hosts, players, netcode] = [await freeUdpPort(), await freeUdpPort(), await freeUdpPort(), await freeUdpPort()];
    await run(process.execPath, [cli, 'netcode', 'keygen', '-o', 'pki/netcode.key'], { cwd: dir });
    await run(process.execPath, [cli, 'config', 'scaffold', 'auth', '--dir', 'pki', '--out', 'auth.toml'], { cwd: dir });
    await run(
      process.execPath,
      [cli, 'config', 'scaffold', 'host', '--dir', 'pki', '--public-address', '127.0.0.1', '--auth-server', `127.0.0.1:${hosts}`, '--out', 'host.toml'],
      { cwd: dir },
    );
    const authToml = (await readFile(path.join(dir, 'auth.toml'), 'utf8'))
      .replace('port = 7350', `port = ${clients}`)
      .replace('port = 7351', `port = ${hosts}`)
      .replaceAll('"0.0.0.0"', '"127.0.0.1"')
      // any free port for /metrics: other tests run servers at the same time
      .replace('listen = "127.0.0.1:9464"', 'listen = "127.0.0.1:0"')
      // a netcode game mode, with the key shared with the host
      .replace('# private_key_file = "pki/netcode.key"', 'private_key_file = "pki/netcode.key"')
      .concat('\n[matchmaking.modes.brawl]\nplayers = 4\ntransport = "netcode"\n');
    const hostToml = (await readFile(path.join(dir, 'host.toml'), 'utf8'))
      .replace('port = 7400', `port = ${players}`)
      .replaceAll('"0.0.0.0"', '"127.0.0.1"')
      .replace('listen = "127.0.0.1:9465"', 'listen = "127.0.0.1:0"')
      .replace(/(\[transports\.netcode\]\n(?:#.*\n)*)enabled = false\nport = 40000/, `$1enabled = true\nport = ${netcode}`);
    expect(hostToml).toContain(`port = ${netcode}`);
    await writeFile(path.join(dir, 'auth.toml'), authToml);
    await writeFile(path.join(dir, 'host.toml'), hostToml);

    const auth = start(['serve', 'auth', '--config', 'auth.toml']);
    await until(() => auth.out().includes('auth server listening'), 'auth server start', 30_000);
    // state goes to the embedded database beside the config, created at the first start
    expect(auth.out()).toMatch(/"engine":"sqlite".*"msg":"state kept in the database"/);
    expect(auth.out()).not.toMatch(/kept in memory/);
    // --json: logs go to stderr, the one JSON document (with the host's stats) to stdout at exit
    const host = start(['serve', 'host', '--config', 'host.toml', '--json']);
    await until(() => host.err().includes('registered with the auth server'), 'host registration', 30_000);
    await until(() => auth.out().includes('"host":"host-1"'), 'auth seeing the host', 30_000);
    // the host runs its netcode transport and registers it beside QUIC
    await until(() => auth.out().includes('"transports":["quic","netcode"]'), 'netcode registration', 30_000);
    expect(host.err()).toContain(`"netcode":{"host":"127.0.0.1","port":${netcode}}`);
    for (const line of auth.out().trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();

    // a client with the scaffolded PKI's client cert logs in
    const { openPki } = await import('../../src/pki/index.js');
    const pki = await openPki(path.join(dir, 'pki'));
    const name = pki.list('client')[0]!.name;
    const fx = { verifier: await pki.verifier() } as Fx;
    const c = await authClient(fx, clients, { cert: await pki.chainPem(name), key: pki.path(pki.get(name).keyFile!) });
    const login = await c.proto.request('account.login', { method: 'guest', displayName: 'smoke' });
    expect(login.displayName).toBe('smoke');
    await c.close();

    // stray datagrams to the player endpoint: no session expects this address
    const stray = createSocket('udp4');
    await new Promise<void>((r) => stray.bind(0, '127.0.0.1', r));
    for (let i = 0; i < 3; i++) await new Promise<void>((r) => stray.send(Buffer.alloc(1200, 1), players, '127.0.0.1', () => r()));
    const strayPort = stray.address().port;
    stray.close();
    await until(() => host.err().includes('allow-list dropped'), 'the drop log line', 15_000);

    host.child.kill('SIGTERM');
    expect(await host.exit).toBe(0);
    expect(host.err()).toContain('host server stopped');
    const doc = JSON.parse(host.out());
    expect(doc.data.stats.allowList).toMatchObject({ lastDroppedFrom: `127.0.0.1:${strayPort}` });
    expect(doc.data.stats.allowList.dropped).toBeGreaterThanOrEqual(1);
    expect(doc.data.stats.allowList.droppedBytes).toBeGreaterThanOrEqual(1200);
    expect(doc.data.stats).toMatchObject({ sessions: 0, players: 0, outbox: { size: 0 }, authLinks: { total: 1 } });
    auth.child.kill('SIGTERM');
    expect(await auth.exit).toBe(0);
    expect(auth.out()).toContain('auth server stopped');
    expect(auth.err()).toBe('');
  }, 120_000);

  it('serve broker reloads its trust list and certificate on SIGHUP, and a SIGHUP while stopping does not kill it', async () => {
    const port = await freeTcpPort();
    await run(
      process.execPath,
      [cli, 'config', 'scaffold', 'host', '--dir', 'pki', '--public-address', '127.0.0.1', '--auth-server', '127.0.0.1:7351', '--out', 'broker.toml'],
      { cwd: dir },
    );
    const toml = (await readFile(path.join(dir, 'broker.toml'), 'utf8'))
      .replaceAll('"0.0.0.0"', '"127.0.0.1"')
      .replace('listen = "127.0.0.1:9465"', 'listen = "127.0.0.1:0"')
      .replace(/(\[transports\.mqtt\]\n(?:#.*\n)*)enabled = false/, '$1enabled = true')
      .replace('port = 8883', `port = ${port}`);
    expect(toml).toContain(`port = ${port}`);
    await writeFile(path.join(dir, 'broker.toml'), toml);
    // Up to three runs: a SIGHUP that lands in the last milliseconds of the process's exit, after
    // Node has let go of its signal handlers, still ends it by the signal (about 1 run in 10 here,
    // sending the two back to back). Before the fix every run ended so: the handler was gone as soon
    // as the stop began.
    let outcome: { code: number | null; signal: NodeJS.Signals | null; out: string } | undefined;
    for (let attempt = 0; attempt < 3 && outcome?.code !== 0; attempt++) {
      const broker = start(['serve', 'broker', '--config', 'broker.toml']);
      await until(() => broker.out().includes('mqtt broker listening'), 'broker start', 30_000);
      broker.child.kill('SIGHUP');
      await until(() => broker.out().includes('reloaded certificates and trust list'), 'the reload log line', 15_000);
      expect(broker.child.exitCode).toBeNull();
      // the first stop signal, then a SIGHUP (systemctl reload racing a stop): still a clean exit
      broker.child.kill('SIGTERM');
      broker.child.kill('SIGHUP');
      const code = await broker.exit;
      outcome = { code, signal: broker.child.signalCode, out: broker.out() };
    }
    expect(outcome).toMatchObject({ code: 0, signal: null });
    expect(outcome!.out).toContain('shutting down');
  }, 90_000);

  it('reports a config error the iyesmp way: exit 3, a message, no stack', async () => {
    await writeFile(path.join(dir, 'bad.toml'), 'kind = "auth"\n[listen.clients]\nport = "many"\n');
    const p = start(['serve', 'auth', '--config', 'bad.toml']);
    expect(await p.exit).toBe(3);
    expect(p.err()).toMatch(/error: .*bad\.toml is not a valid config/);
    expect(p.err()).toContain('listen.clients.port');
    expect(p.err()).not.toMatch(/\n\s+at /);
  }, 60_000);
});
