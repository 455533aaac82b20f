// `iyesmp demo` comes with an operator: an Admin certificate in the dev PKI and the Auth server's
// admin port switched on, so the commands `--keep-running` prints (`iyesmp admin status`, `iyesmp top`)
// work as printed against the running demo.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, json, ROOT, run, tempDir } from './helpers.js';

let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir('iyesmp-demo-admin-');
});
afterAll(() => tmp?.cleanup());

describe('iyesmp demo: the admin port', () => {
  it('--setup-only issues admin-dev and switches [admin] on in the dev auth.toml, which config check accepts', () => {
    const cwd = path.join(tmp.dir, 'setup');
    mkdirSync(cwd);
    const r = run(['demo', '--setup-only', '--json'], { cwd });
    expect(r.code, r.stderr).toBe(0);
    const d = json(r).data;
    expect(d.entries.filter((e: { role: string }) => e.role === 'admin').map((e: { name: string }) => e.name)).toEqual(['admin-dev']);
    const auth = readFileSync(path.join(cwd, '.iyesmp-dev', 'auth.toml'), 'utf8');
    expect(auth).toMatch(/^\[admin\]\naddress = "127\.0\.0\.1"\nport = \d+$/m);
    expect(auth).toMatch(/^# Operators' admin port/m); // the scaffold's comment stays
    const check = json(run(['config', 'check', path.join(cwd, '.iyesmp-dev', 'auth.toml'), '--json'], { cwd }));
    expect(check.ok).toBe(true);
  });

  it('--keep-running prints admin status and top commands that work against the running demo', async () => {
    const cwd = path.join(tmp.dir, 'keep');
    mkdirSync(cwd);
    // its own process group, so the finally below can remove the demo and its servers whatever happens
    const child = spawn(process.execPath, [BIN, 'demo', '--keep-running', '--json'], { cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no "keep running" notice:\n${stderr}`)), 60_000);
        child.once('exit', (code) => reject(new Error(`demo exited (${code}) before the notice:\n${stderr}`)));
        child.stderr.on('data', (b) => {
          stderr += b;
          if (stderr.includes('Ctrl-C stops them')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      const adminPort = Number(/admin port 127\.0\.0\.1:(\d+)/.exec(stderr)?.[1]);
      expect(adminPort, stderr).toBeGreaterThan(0);
      // run the commands exactly as printed (with --json)
      const printed = (cmd: string) => {
        const line = stderr.split('\n').find((l) => l.trim().startsWith(`iyesmp ${cmd} `));
        expect(line, `no "iyesmp ${cmd}" line in:\n${stderr}`).toBeDefined();
        return line!.trim().split(/\s+/).slice(1);
      };
      const status = run([...printed('admin status'), '--json'], { cwd });
      expect(status.code, status.stderr).toBe(0);
      const s = json(status);
      expect(s).toMatchObject({ ok: true, command: 'admin status', data: { kind: 'auth' } });
      expect(s.data.hosts).toEqual([expect.objectContaining({ name: 'host-1', state: 'alive' })]);
      // the demo's game went through this Auth server: two players handed off
      expect(s.data.handoffs.total).toBe(2);

      const top = run([...printed('top'), '--json'], { cwd });
      expect(top.code, top.stderr).toBe(0);
      expect(json(top).data.hosts.map((h: { name: string }) => h.name)).toEqual(['host-1']);

      // each server's /metrics, as printed: the Auth server counted the two logins of the game
      const urls = [...stderr.matchAll(/curl -s (http:\/\/127\.0\.0\.1:\d+\/metrics)/g)].map((m) => m[1]!);
      expect(urls).toHaveLength(2);
      const scraped = await Promise.all(urls.map(async (u) => (await fetch(u)).text()));
      expect(scraped[0]).toMatch(/^iyesmp_auth_logins_total\{method="guest",outcome="ok"\} 2$/m);
      expect(scraped[1]).toMatch(/^iyesmp_host_sessions_ended_total\{end="completed"\} 1$/m);
      // the sample Grafana dashboard asks for what these servers export (bar the netcode transport and
      // the results webhook, which the demo does not configure)
      const exported = new Set(scraped.flatMap((t) => [...t.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!)));
      const dashboard = readFileSync(path.join(ROOT, 'templates/grafana/iyesmp-dashboard.json'), 'utf8');
      const asked = new Set([...dashboard.matchAll(/\b((?:iyesmp|nodejs|process)_[a-z0-9_]+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, '')));
      expect(asked.size).toBeGreaterThan(30);
      const notConfigured = /^iyesmp_(netcode_|results_(delivered|delivery_failures|set_aside)_total$)/;
      expect([...asked].filter((n) => !exported.has(n) && !notConfigured.test(n))).toEqual([]);

      child.kill('SIGINT');
      const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('still running 20 s after SIGINT'), 20_000))]);
      expect(code, stderr).toBe(0);
      expect(JSON.parse(stdout).data.servers.auth.adminAddress).toBe(`127.0.0.1:${adminPort}`);
    } finally {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }, 120_000);
});
