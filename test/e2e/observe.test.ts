/**
 * Observability end to end, separate processes: the admin HTTP listener of `serve auth` and
 * `serve host` (/metrics during a real hand-off and game, /healthz, /readyz following the host's
 * link to the Auth server), and the results webhook receiving a signed result of a real game from
 * a local HTTP server that fails the first attempt (retried, delivered once).
 *
 * Builds nothing: `npx tsc -p tsconfig.json && npx vitest run test/e2e/observe.test.ts`.
 */
import { execFile, spawn } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyWebhook } from '../../src/results/webhook.js';
import {
  authConfigVariant,
  cli,
  e2eLifecycle,
  makeDeployment,
  Procs,
  sleep,
  startAuth,
  startBot,
  startHost,
  until,
  waitLine,
  type Deployment,
  type Proc,
} from './harness.js';

const T = 240_000;
let d: Deployment;
let procs: Procs;

e2eLifecycle(async () => {
  d = await makeDeployment();
  procs = new Procs(d.dir);
  return { d, procs };
});

/** The admin listener's address, from the server's log line. */
async function adminOf(p: Proc): Promise<string> {
  const l = await waitLine(procs, p, 'admin http listening: /metrics /healthz /readyz');
  expect(l).toMatchObject({ level: 'info', component: expect.any(String), event: 'admin_http_listening' });
  return `http://${String(l.address)}`;
}

async function get(url: string): Promise<{ status: number; text: string; type: string | null }> {
  const r = await fetch(url);
  return { status: r.status, text: await r.text(), type: r.headers.get('content-type') };
}

/** One sample of a scrape: `name{labels}` summed over the series whose labels include `labels`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) {
      sum += Number(m[3]);
      found = true;
    }
  }
  return found ? sum : Number.NaN;
}

/** Polls an async condition (an HTTP answer) until it holds; on timeout fails with the children's logs. */
async function poll(what: string, fn: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${procs.report()}`);
    await sleep(200);
  }
}

const ended = (p: Proc) => p.find('end').length > 0 || p.find('game-error').length > 0 || !p.running;

describe('observability, separate processes', () => {
  it(
    '/metrics moves during a hand-off and a game; /healthz answers; /readyz follows the host link; only GET',
    async () => {
      // the host first: alive, but not ready until an Auth server has it registered
      const host = startHost(procs, d);
      const hostAdmin = await adminOf(host);
      await waitLine(procs, host, 'host server listening');
      expect((await get(`${hostAdmin}/healthz`)).status).toBe(200);
      const notReady = await get(`${hostAdmin}/readyz`);
      expect(notReady.status).toBe(503);
      expect(JSON.parse(notReady.text).checks.auth_link.ok).toBe(false);

      const auth = startAuth(procs, d);
      await waitLine(procs, auth, 'auth server listening');
      const authAdmin = await adminOf(auth);
      await waitLine(procs, host, 'registered with the auth server');
      await poll('host /readyz 200', async () => (await get(`${hostAdmin}/readyz`)).status === 200);
      expect((await get(`${authAdmin}/readyz`)).status).toBe(200);

      const before = await get(`${authAdmin}/metrics`);
      expect(before.status).toBe(200);
      expect(before.type).toMatch(/^text\/plain/);
      expect(sample(before.text, 'iyesmp_matches_formed_total')).toBeNaN(); // no match yet: no series
      expect(sample(before.text, 'iyesmp_handoff_duration_seconds_count')).toBeNaN();
      expect(sample(before.text, 'iyesmp_hosts', { state: 'alive' })).toBe(1);
      expect(sample(before.text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
      expect(sample(before.text, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);

      const a = startBot(procs, d, { name: 'bot-a', flow: 'matchmake' });
      const b = startBot(procs, d, { name: 'bot-b', flow: 'matchmake' });
      await until(procs, 'both bots to finish the game', () => ended(a) && ended(b), 120_000);
      const sessionId = String(a.find('ticket')[0]?.sessionId);
      await waitLine(procs, auth, 'session results recorded', (l) => l.sessionId === sessionId);

      const after = (await get(`${authAdmin}/metrics`)).text;
      expect(sample(after, 'iyesmp_auth_logins_total', { method: 'guest', outcome: 'ok' })).toBe(2);
      expect(sample(after, 'iyesmp_auth_connections_accepted_total', { endpoint: 'client' })).toBeGreaterThanOrEqual(2);
      expect(sample(after, 'iyesmp_auth_connections_accepted_total', { endpoint: 'host' })).toBeGreaterThanOrEqual(1);
      expect(sample(after, 'iyesmp_matches_formed_total')).toBe(1);
      expect(sample(after, 'iyesmp_auth_sessions_total', { event: 'created' })).toBe(1);
      expect(sample(after, 'iyesmp_auth_sessions_total', { event: 'handed_off' })).toBe(1);
      expect(sample(after, 'iyesmp_auth_sessions_total', { event: 'ended' })).toBe(1);
      expect(sample(after, 'iyesmp_handoff_duration_seconds_count', { transport: 'quic' })).toBe(1);
      const handoffSeconds = sample(after, 'iyesmp_handoff_duration_seconds_sum', { transport: 'quic' });
      expect(handoffSeconds).toBeGreaterThan(0);
      expect(handoffSeconds).toBeLessThan(120);
      expect(sample(after, 'iyesmp_handoff_duration_seconds_bucket', { transport: 'quic', le: '+Inf' })).toBe(1);
      expect(sample(after, 'iyesmp_results_recorded_total')).toBe(1);
      expect(sample(after, 'iyesmp_host_capacity', { host: 'host-1' })).toBeGreaterThan(0);

      const hostMetrics = (await get(`${hostAdmin}/metrics`)).text;
      expect(sample(hostMetrics, 'iyesmp_host_admissions_total', { transport: 'quic', reconnect: 'false' })).toBe(2);
      expect(sample(hostMetrics, 'iyesmp_host_sessions_ended_total', { end: 'completed' })).toBe(1);
      expect(sample(hostMetrics, 'iyesmp_host_auth_links_up')).toBe(1);
      expect(sample(hostMetrics, 'iyesmp_allowlist_passed_packets_total', { transport: 'quic' })).toBeGreaterThan(0);
      expect(sample(hostMetrics, 'iyesmp_results_pending', { sink: 'auth' })).toBe(0);

      // bounded and read-only
      expect((await fetch(`${authAdmin}/metrics`, { method: 'POST', body: 'x' })).status).toBe(405);
      expect((await get(`${authAdmin}/nope`)).status).toBe(404);

      // the Auth server gone: the host is alive but no longer ready
      auth.kill('SIGTERM');
      await auth.exited;
      await poll('host /readyz 503', async () => (await get(`${hostAdmin}/readyz`)).status === 503);
      expect((await get(`${hostAdmin}/healthz`)).status).toBe(200);
    },
    T,
  );

  it(
    'the results webhook gets a signed result of a real game, retried after a 500, delivered once',
    async () => {
      const secret = 'an-e2e-webhook-secret-of-at-least-32-bytes';
      await writeFile(path.join(d.dir, 'webhook.secret'), `${secret}\n`, { mode: 0o600 });
      const got: Array<{ body: string; headers: IncomingMessage['headers']; status: number }> = [];
      const receiver: Server = createServer((req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          const status = got.length === 0 ? 500 : 200; // the first attempt fails
          got.push({ body, headers: req.headers, status });
          res.writeHead(status).end();
        });
      });
      await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
      try {
        const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/results`;
        const toml = await authConfigVariant(d, 'auth-webhook.toml', [
          ['results.webhook', 'url', JSON.stringify(url)],
          ['results.webhook', 'secret_file', '"webhook.secret"'],
          ['results.webhook', 'queue_dir', '"webhook-queue"'],
        ]);
        const auth = startAuth(procs, d, 'auth', toml);
        await waitLine(procs, auth, 'results webhook ready');
        const host = startHost(procs, d);
        await waitLine(procs, host, 'registered with the auth server');
        const a = startBot(procs, d, { name: 'bot-a', flow: 'matchmake' });
        const b = startBot(procs, d, { name: 'bot-b', flow: 'matchmake' });
        await until(procs, 'both bots to finish the game', () => ended(a) && ended(b), 120_000);
        const sessionId = String(a.find('ticket')[0]?.sessionId);

        await waitLine(procs, auth, 'webhook: result delivered', (l) => l.id === sessionId, 60_000);
        await sleep(1500); // a duplicate would come now
        expect(got.map((g) => g.status)).toEqual([500, 200]);
        expect(auth.find('webhook: delivery failed; will retry')).toHaveLength(1);
        for (const g of got) {
          // the same body, id and a valid signature on every attempt
          expect(g.body).toBe(got[0]!.body);
          expect(g.headers['x-iyesmp-id']).toBe(sessionId);
          expect(verifyWebhook(Buffer.from(secret), g.headers['x-iyesmp-signature'] as string, g.body, Math.floor(Date.now() / 1000))).toBe(true);
          expect(
            verifyWebhook(Buffer.from('another-secret-another-secret-another'), g.headers['x-iyesmp-signature'] as string, g.body, Date.now() / 1000),
          ).toBe(false);
        }
        const body = JSON.parse(got[1]!.body);
        expect(body).toMatchObject({ id: sessionId, type: 'session.ended', data: { sessionId, host: 'host-1', reason: 'completed' } });
        expect(body.data.results.map((r: { outcome: string }) => r.outcome).sort()).toEqual(['loss', 'win']);
        expect(body.data.results.map((r: { playerId: string }) => r.playerId).sort()).toEqual(body.data.players.slice().sort());
      } finally {
        receiver.closeAllConnections();
        await new Promise((r) => receiver.close(r));
      }
    },
    T,
  );

  it(
    'a result the receiver could not take yet survives a restart of the Auth server and is delivered by the next one',
    async () => {
      const secret = 'an-e2e-webhook-secret-of-at-least-32-bytes';
      await writeFile(path.join(d.dir, 'webhook2.secret'), `${secret}\n`, { mode: 0o600 });
      let status = 503; // the receiver is down for maintenance
      const got: Array<{ id: string; status: number }> = [];
      const receiver: Server = createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          got.push({ id: String(req.headers['x-iyesmp-id']), status });
          res.writeHead(status).end();
        });
      });
      await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
      try {
        const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/results`;
        const toml = await authConfigVariant(d, 'auth-webhook2.toml', [
          ['results.webhook', 'url', JSON.stringify(url)],
          ['results.webhook', 'secret_file', '"webhook2.secret"'],
          ['results.webhook', 'queue_dir', '"webhook2-queue"'],
        ]);
        const auth = startAuth(procs, d, 'auth', toml);
        await waitLine(procs, auth, 'results webhook ready');
        const host = startHost(procs, d);
        await waitLine(procs, host, 'registered with the auth server');
        const a = startBot(procs, d, { name: 'bot-a', flow: 'matchmake' });
        const b = startBot(procs, d, { name: 'bot-b', flow: 'matchmake' });
        await until(procs, 'both bots to finish the game', () => ended(a) && ended(b), 120_000);
        const sessionId = String(a.find('ticket')[0]?.sessionId);
        await waitLine(procs, auth, 'webhook: delivery failed; will retry', (l) => l.id === sessionId, 60_000);
        auth.kill('SIGTERM');
        expect(await auth.exited).toBe(0);
        expect((await readdir(path.join(d.dir, 'webhook2-queue'))).filter((f) => f.endsWith('.json'))).toHaveLength(1);

        status = 200; // back up
        const again = startAuth(procs, d, 'auth-again', toml);
        const restored = await waitLine(procs, again, 'webhook: results restored from the queue');
        expect(restored.pending).toBe(1);
        await waitLine(procs, again, 'webhook: result delivered', (l) => l.id === sessionId, 60_000);
        expect(got.filter((g) => g.status === 200)).toEqual([{ id: sessionId, status: 200 }]);
        expect((await readdir(path.join(d.dir, 'webhook2-queue'))).filter((f) => f.endsWith('.json'))).toEqual([]);
      } finally {
        receiver.closeAllConnections();
        await new Promise((r) => receiver.close(r));
      }
    },
    T,
  );

  it(
    'logging.format = "pretty": serve auth writes readable lines (no JSON; colour only when forced, never with NO_COLOR)',
    async () => {
      const toml = await authConfigVariant(d, 'auth-pretty.toml', [['logging', 'format', '"pretty"']]);
      const auth = startAuth(procs, d, 'auth', toml);
      await until(procs, 'the listening line', () => auth.raw.find((l) => l.includes('auth server listening')));
      const line = auth.raw.find((l) => l.includes('auth server listening'))!;
      expect(line).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}auth {4}auth server listening clients=\d+ hosts=\d+ name=auth/);
      expect(auth.lines).toEqual([]); // nothing parses as JSON
      expect(auth.raw.join('\n')).not.toContain('\x1b[');
      // fields after the message, readable: the store's line names its engine
      expect(auth.raw.some((l) => / INFO {2}auth {4}state kept in the database .*engine=sqlite/.test(l))).toBe(true);
      auth.kill('SIGTERM');
      await auth.exited;

      // colour when forced (a terminal), never with NO_COLOR
      const firstLine = async (env: NodeJS.ProcessEnv): Promise<string> => {
        const child = spawn(process.execPath, [cli, 'serve', 'auth', '--config', toml], { cwd: d.dir, env: { ...process.env, ...env } });
        let out = '';
        child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
        try {
          await poll('a listening line', async () => out.includes('auth server listening'), 30_000);
          return out.split('\n').find((l) => l.includes('auth server listening'))!;
        } finally {
          child.kill('SIGTERM');
          await new Promise((r) => child.once('exit', r));
        }
      };
      expect(await firstLine({ FORCE_COLOR: '1', NO_COLOR: '' })).toContain('\x1b[36mINFO ');
      expect(await firstLine({ FORCE_COLOR: '1', NO_COLOR: '1' })).not.toContain('\x1b[');
    },
    T,
  );

  it(
    'bad observability config is refused with the key and the reason: a bad listen address, a missing secret file, a port in use',
    async () => {
      const badListen = await authConfigVariant(d, 'auth-bad-listen.toml', [['admin_http', 'listen', '"localhost"']]);
      const check = await iyesmpRun(['config', 'check', badListen, '--json']);
      expect(check.code).toBe(1);
      expect(JSON.parse(check.stdout).error.details.problems).toEqual([
        expect.objectContaining({ path: 'admin_http.listen', message: expect.stringContaining('expected "host:port" to listen on') }),
      ]);

      const noSecret = await authConfigVariant(d, 'auth-no-secret.toml', [
        ['results.webhook', 'url', '"https://results.example.com/hook"'],
        ['results.webhook', 'secret_file', '"missing.secret"'],
      ]);
      const c2 = await iyesmpRun(['config', 'check', noSecret, '--json']);
      expect(c2.code).toBe(1);
      expect(JSON.parse(c2.stdout).error.details.problems[0]).toMatchObject({ path: 'results.webhook.secret_file', code: 'webhook_secret' });
      const s2 = await iyesmpRun(['serve', 'auth', '--config', noSecret, '--json']);
      expect(s2.code).toBe(3);
      const e2 = JSON.parse(s2.stdout).error;
      expect(e2.code).toBe('webhook_secret');
      expect(e2.message).toMatch(/^results\.webhook\.secret_file: cannot read .*missing\.secret \(no such file\)$/);
      expect(s2.stderr).not.toMatch(/\n\s+at /); // no stack trace

      const busy = createServer();
      await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
      try {
        const port = (busy.address() as AddressInfo).port;
        const inUse = await authConfigVariant(d, 'auth-in-use.toml', [['admin_http', 'listen', `"127.0.0.1:${port}"`]]);
        const s3 = await iyesmpRun(['serve', 'auth', '--config', inUse, '--json']);
        const e3 = JSON.parse(s3.stdout).error;
        expect([s3.code, e3.code]).toEqual([5, 'admin_http_listen']);
        expect(e3.message).toContain(`admin_http.listen = "127.0.0.1:${port}": cannot listen: the address is in use`);
        expect(e3.hint).toContain('enabled = false');
      } finally {
        busy.close();
      }
    },
    T,
  );
});

/** The CLI in the deployment folder, with its exit code (never throws). */
function iyesmpRun(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { cwd: d.dir, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
