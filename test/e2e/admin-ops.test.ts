/**
 * End-to-end operations: `iyesmp serve auth|host` as separate processes with their admin ports on,
 * driven by `iyesmp admin ...` and `iyesmp top` the way an operator would. A host drained by SIGTERM
 * in the middle of a game lets it finish, the result is recorded, the process exits 0, and new games
 * go to the other host (a rolling deploy loses no game). Runs the built CLI: build first
 * (`npx tsc -p tsconfig.json`).
 */
import { execFile } from 'node:child_process';
import { appendFile } from 'node:fs/promises';
import path from 'node:path';
import { createElement } from 'react';
import { render } from 'ink-testing-library';
import { describe, expect, it } from 'vitest';
import {
  addHost,
  cli,
  e2eLifecycle,
  freeUdpPort,
  iyesmp,
  makeDeployment,
  Procs,
  startAuth,
  startBot,
  startHost,
  until,
  waitLine,
  type Deployment,
  type ExtraHost,
  type Proc,
} from './harness.js';
import { ANSI } from '../cli/helpers.js';

const T = 240_000;
let d: Deployment;
let procs: Procs;
let host2: ExtraHost;

e2eLifecycle(async () => {
  d = await makeDeployment();
  procs = new Procs(d.dir);
  await iyesmp(d.dir, ['certs', 'issue', 'admin', 'ops', '--dir', 'pki', '--json']);
  host2 = await addHost(d, 'host-2');
  // the scaffolds leave [admin] commented out: switch it on, on free loopback ports
  for (const file of [d.authToml, d.hostToml, host2.toml]) {
    await appendFile(path.join(d.dir, file), `\n[admin]\naddress = "127.0.0.1"\nport = ${await freeUdpPort()}\n`);
  }
  return { d, procs };
});

/** Runs the CLI in the deployment folder; resolves its exit code, stdout and stderr (never rejects). */
function cliRun(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { cwd: d.dir, timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code as number) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function adminJson(args: string[]): Promise<any> {
  const r = await cliRun([...args, '--json']);
  if (r.code !== 0) throw new Error(`iyesmp ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout).data;
}

async function authAndHost(): Promise<{ auth: Proc; host: Proc }> {
  const auth = startAuth(procs, d);
  await waitLine(procs, auth, 'auth server listening');
  const host = startHost(procs, d);
  await waitLine(procs, host, 'registered with the auth server');
  return { auth, host };
}

describe('operations, separate processes', () => {
  it(
    'rolling deploy: SIGTERM drains host-1 mid-game; the game finishes, its result is recorded, host-1 exits 0, new games go to host-2',
    async () => {
      const { auth, host } = await authAndHost();
      // a game on host-1, held before its first move
      const a = startBot(procs, d, { name: 'bot-a', flow: 'matchmake', hold: true });
      const b = startBot(procs, d, { name: 'bot-b', flow: 'matchmake', hold: true });
      await waitLine(procs, a, 'ready');
      await waitLine(procs, b, 'ready');
      const h2 = startHost(procs, d, 'host-2', host2.toml);
      await waitLine(procs, h2, 'registered with the auth server');

      host.kill('SIGTERM');
      await waitLine(procs, host, 'draining');
      // the Auth server stops picking it at once
      await until(procs, 'auth to see host-1 draining', async () => {
        const hosts = (await adminJson(['admin', 'hosts', '-c', d.authToml])).hosts as Array<{ name: string; draining: boolean }>;
        return hosts.find((h) => h.name === 'host-1')?.draining === true;
      });
      // new players are matched onto host-2 meanwhile
      const c = startBot(procs, d, { name: 'bot-c', flow: 'matchmake' });
      const e = startBot(procs, d, { name: 'bot-e', flow: 'matchmake' });
      await waitLine(procs, c, 'end');
      await waitLine(procs, e, 'end');
      for (const bot of [c, e]) expect((bot.find('ticket')[0]!.host as { port: number }).port).toBe(host2.playersPort);
      // host-1 still runs its game: the players move now, and finish it
      expect(host.running).toBe(true);
      a.send('go');
      b.send('go');
      const end = await waitLine(procs, a, 'end');
      expect(end.reason).toBe('completed');
      const sessionId = a.find('ticket')[0]!.sessionId;
      await waitLine(procs, auth, 'session results recorded', (l) => l.sessionId === sessionId && l.host === 'host-1');
      expect(await host.exited).toBe(0);
      expect(host.find('drained: games over, results delivered')).toHaveLength(1);
      const results = (await adminJson(['admin', 'results', '-c', d.authToml])).results as Array<{ sessionId: string; host: string; reason: string }>;
      expect(results.find((r) => r.sessionId === sessionId)).toMatchObject({ host: 'host-1', reason: 'completed' });
      expect(results.some((r) => r.host === 'host-2')).toBe(true);
    },
    T,
  );

  it(
    'a second SIGTERM stops a draining host at once: its game is cancelled, the Auth server records that, exit 0',
    async () => {
      const { auth, host } = await authAndHost();
      const a = startBot(procs, d, { name: 'bot-a', flow: 'matchmake', hold: true });
      const b = startBot(procs, d, { name: 'bot-b', flow: 'matchmake', hold: true });
      await waitLine(procs, a, 'ready');
      await waitLine(procs, b, 'ready');
      host.kill('SIGTERM');
      await waitLine(procs, host, 'draining');
      host.kill('SIGTERM');
      expect(await host.exited).toBe(0);
      expect(host.find('second signal: stopping now, cancelling the games still running')).toHaveLength(1);
      const sessionId = a.find('ticket')[0]!.sessionId;
      await waitLine(procs, auth, 'session results recorded', (l) => l.sessionId === sessionId && l.reason === 'cancelled');
    },
    T,
  );

  it(
    'an admin drain with a short deadline cancels the game still running at the deadline; the result says so, exit 0',
    async () => {
      const { auth, host } = await authAndHost();
      const a = startBot(procs, d, { name: 'bot-a', flow: 'matchmake', hold: true });
      const b = startBot(procs, d, { name: 'bot-b', flow: 'matchmake', hold: true });
      await waitLine(procs, a, 'ready');
      await waitLine(procs, b, 'ready');
      const r = await adminJson(['admin', 'drain', 'host-1', '-c', d.authToml, '--deadline', '2s', '--yes']);
      expect(r).toMatchObject({ host: 'host-1', sessions: 1 });
      await waitLine(procs, host, 'drain deadline reached; cancelling the games still running');
      expect(await host.exited).toBe(0);
      const sessionId = a.find('ticket')[0]!.sessionId;
      await waitLine(procs, auth, 'session results recorded', (l) => l.sessionId === sessionId && l.reason === 'cancelled');
    },
    T,
  );

  it(
    'iyesmp admin drain HOST through the Auth server: the idle host drains and exits 0, and the audit log names the admin',
    async () => {
      await authAndHost();
      const h2 = startHost(procs, d, 'host-2', host2.toml);
      await waitLine(procs, h2, 'registered with the auth server');
      const r = await adminJson(['admin', 'drain', 'host-2', '-c', d.authToml, '--deadline', '1m', '--reason', 'kernel update', '--yes']);
      expect(r).toMatchObject({ host: 'host-2', sessions: 0 });
      expect(await h2.exited).toBe(0);
      const audit = (await adminJson(['admin', 'audit', '-c', d.authToml, '--action', 'drain'])).entries;
      expect(audit.at(-1)).toMatchObject({
        action: 'drain',
        target: 'host-2',
        outcome: 'ok',
        actor: { name: 'admin-ops' },
        details: { reason: 'kernel update' },
      });
      // the Host's own admin port drains it too (through its config)
      const { host } = { host: procs.all.find((p) => p.name === 'host')! };
      const st = await adminJson(['admin', 'status', '-c', d.hostToml]);
      expect(st).toMatchObject({ kind: 'host', node: 'host-1', sessions: 0, hosts: [{ name: 'host-1', draining: false }] });
      // a Host's kick removes a player from its sessions: nobody is in one here
      const kick = await cliRun(['admin', 'kick', 'someone', '-c', d.hostToml, '--yes', '--json']);
      expect(kick.code).toBe(4); // nothing to act on (docs/operations.md)
      expect(JSON.parse(kick.stdout).error.code).toBe('admin.unknown_player');
      const self = await adminJson(['admin', 'drain', '-c', d.hostToml, '--yes']);
      expect(self.host).toBe('host-1');
      expect(await host.exited).toBe(0);
    },
    T,
  );

  it(
    'iyesmp admin kick ends a bot connection; a non-admin certificate is refused (exit 6) on the admin port',
    async () => {
      await authAndHost();
      // a lone bot waits in the queue (no opponent)
      const bot = startBot(procs, d, { name: 'bot-k', flow: 'matchmake' });
      const login = await waitLine(procs, bot, 'login');
      const players = (await adminJson(['admin', 'players', '-c', d.authToml])).players as Array<{ playerId: string; queued?: string }>;
      expect(players.find((p) => p.playerId === login.accountId)).toMatchObject({ queued: 'tictactoe' });
      await adminJson(['admin', 'kick', String(login.accountId), '-c', d.authToml, '--reason', 'test kick', '--yes']);
      expect(await waitLine(procs, bot, 'kick')).toMatchObject({ code: 'kicked', reason: 'test kick' });

      const refused = await cliRun(['admin', 'status', '-c', d.authToml, '--cert', 'pki/certs/host-1.pem', '--key', 'pki/keys/host-1.key.pem', '--json']);
      expect(refused.code).toBe(6);
      expect(JSON.parse(refused.stdout)).toMatchObject({ ok: false, command: 'admin status' });
      const client = await cliRun(['admin', 'status', '-c', d.authToml, '--cert', d.client.cert, '--key', d.client.key]);
      expect(client.code).toBe(6);
      expect(client.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
    },
    T,
  );

  it(
    'iyesmp top renders a real deployment at 80 columns, --json gives one snapshot, and the live view refreshes',
    async () => {
      await authAndHost();
      const once = await cliRun(['top', '-c', d.authToml, '--once']);
      expect(once.code, once.stderr).toBe(0);
      expect(once.stdout).toContain('host-1');
      expect(once.stdout).toContain('HAND-OFFS');
      expect(once.stdout).not.toMatch(ANSI);
      for (const line of once.stdout.split('\n')) expect(line.length, line).toBeLessThanOrEqual(80);
      const snap = await adminJson(['top', '-c', d.authToml]);
      expect(snap).toMatchObject({ kind: 'auth', hosts: [{ name: 'host-1', state: 'alive' }] });

      // the live component, fed by a real admin connection: a host that registers shows up
      const { connectAdmin } = await import('../../dist/cli/admin-client.js');
      const { Top } = await import('../../dist/ui/Top.js');
      const admin = await connectAdmin({ config: path.join(d.dir, d.authToml), dir: path.join(d.dir, 'pki') }, 'test');
      try {
        const fetch = () => admin.proto.request('server.status', {});
        const app = render(createElement(Top, { fetch, intervalMs: 300, address: admin.address, color: false }));
        try {
          await until(procs, 'top to show host-1', () => app.lastFrame()?.includes('host-1'));
          expect(app.lastFrame()).not.toContain('host-2');
          const h2 = startHost(procs, d, 'host-2', host2.toml);
          await waitLine(procs, h2, 'registered with the auth server');
          await until(procs, 'top to show host-2', () => app.lastFrame()?.includes('host-2'));
        } finally {
          app.unmount();
        }
      } finally {
        await admin.close();
      }
    },
    T,
  );
});
