/**
 * `iyesmp netcode serve --admin-http`: the servers' log schema on stderr and netcode metrics that
 * move when a real client connects and exchanges payloads. Runs the built CLI (npx tsc -p tsconfig.json).
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cli, freeUdpPort } from '../e2e/harness.js';

let dir: string;
beforeAll(() => {
  assertBuilt();
  dir = mkdtempSync(path.join(tmpdir(), 'iyesmp-ncmetrics-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, [cli, ...args], { cwd: dir, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

const sample = (text: string, series: string): number => Number(new RegExp(`^${series.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);

describe('netcode serve --admin-http', () => {
  it('logs in the servers schema and counts packets, clients and drops on /metrics', async () => {
    expect((await run(['netcode', 'keygen', '-o', 'k.key'])).code).toBe(0);
    const port = await freeUdpPort();
    const server = spawn(
      process.execPath,
      [cli, 'netcode', 'serve', '--key', 'k.key', '--bind', `127.0.0.1:${port}`, '--echo', '--admin-http', '127.0.0.1:0', '--json'],
      { cwd: dir },
    );
    let stderr = '';
    server.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => server.on('exit', (c) => r(c)));
    try {
      const end = Date.now() + 30_000;
      while (!stderr.includes('"event":"listening"')) {
        if (Date.now() > end) throw new Error(`no listening line: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const lines = stderr
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      const admin = lines.find((l) => l.event === 'admin_http_listening')!;
      expect(admin).toMatchObject({ level: 'info', component: 'netcode' });
      expect(lines.find((l) => l.event === 'listening')).toMatchObject({ level: 'info', component: 'netcode', msg: 'listening', maxClients: 64 });
      const base = `http://${String(admin.address)}`;
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      const before = await (await fetch(`${base}/metrics`)).text();
      expect(sample(before, 'iyesmp_netcode_clients')).toBe(0);

      expect((await run(['netcode', 'token', '--key', 'k.key', '--server', `127.0.0.1:${port}`, '--client-id', '7', '-o', 'p.token'])).code).toBe(0);
      const c = await run(['netcode', 'connect', 'p.token', '--send', '3', '--timeout-ms', '10000', '--json']);
      expect(c.code, c.stderr).toBe(0);
      // a token of another key: dropped by the protocol, counted by reason
      expect((await run(['netcode', 'keygen', '-o', 'x.key'])).code).toBe(0);
      expect(
        (await run(['netcode', 'token', '--key', 'x.key', '--server', `127.0.0.1:${port}`, '--client-id', '8', '--timeout', '1', '-o', 'x.token'])).code,
      ).toBe(0);
      expect((await run(['netcode', 'connect', 'x.token', '--timeout-ms', '2000', '--json'])).code).not.toBe(0);

      const after = await (await fetch(`${base}/metrics`)).text();
      expect(sample(after, 'iyesmp_netcode_packets_total{direction="in"}')).toBeGreaterThanOrEqual(5);
      expect(sample(after, 'iyesmp_netcode_packets_total{direction="out"}')).toBeGreaterThanOrEqual(5);
      expect(sample(after, 'iyesmp_netcode_received_bytes_total')).toBeGreaterThan(1000);
      expect(sample(after, 'iyesmp_netcode_dropped_packets_total{reason="decrypt_failed"}')).toBeGreaterThanOrEqual(1);
      expect(after).toMatch(/^process_resident_memory_bytes \d+/m);
      const connect = stderr
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.event === 'connect');
      expect(connect).toMatchObject({ level: 'info', component: 'netcode', clientId: '7', msg: 'client connected' });
      expect(typeof connect!.time === 'string' && connect!.time.endsWith('Z')).toBe(true);
    } finally {
      server.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  }, 120_000);
});
