import { type ChildProcess, execFile, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, repoRoot } from '../support/build.js';

const bin = path.join(repoRoot, 'bin/iyesmp.js');
let dir: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(args: string[], timeout = 30_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: dir, timeout }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const expectOk = (r: Run): void => expect(r.code, r.stderr).toBe(0);
const json = (r: Run) => JSON.parse(r.stdout) as { ok: boolean; data: Record<string, any>; error: Record<string, any> };

async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

beforeAll(() => {
  ensureBuilt(['dist/commands/netcode.js'], ['src/commands/netcode.ts', 'src/netcode']);
  dir = mkdtempSync(path.join(tmpdir(), 'iyesmp-netcode-cli-'));
}, 200_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('iyesmp netcode CLI', () => {
  it('keygen writes a 0600 hex key and refuses to overwrite without --force', async () => {
    const r = await run(['netcode', 'keygen', '-o', 'a.key', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r).data.format).toBe('hex');
    const file = path.join(dir, 'a.key');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const first = readFileSync(file, 'utf8');
    expect(first).toMatch(/^[0-9a-f]{64}\n$/);
    const again = await run(['netcode', 'keygen', '-o', 'a.key', '--json']);
    expect(again.code, again.stderr).toBe(4);
    expect(json(again).error.code).toBe('exists');
    expect(readFileSync(file, 'utf8')).toBe(first);
    const forced = await run(['netcode', 'keygen', '-o', 'a.key', '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(readFileSync(file, 'utf8')).not.toBe(first);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('token --json -> inspect --json round trip, and inspect with the wrong key says why', async () => {
    expectOk(await run(['netcode', 'keygen', '-o', 'k.key']));
    expectOk(await run(['netcode', 'keygen', '-o', 'other.key']));
    const t = await run([
      'netcode',
      'token',
      '--key',
      'k.key',
      '--server',
      '127.0.0.1:40000',
      '--server',
      '[::1]:40001',
      '--client-id',
      '0x2a',
      '--user-data',
      '73657373696f6e',
      '--protocol-id',
      '77',
      '--expire',
      '120',
      '--timeout',
      '7',
      '--json',
    ]);
    expect(t.code, t.stderr).toBe(0);
    const tok = json(t).data;
    expect(Buffer.from(tok.token, 'base64')).toHaveLength(2048);
    writeFileSync(path.join(dir, 't.b64'), tok.token);
    const i = await run(['netcode', 'inspect', 't.b64', '--key', 'k.key', '--protocol-id', '77', '--json']);
    expect(i.code, i.stderr).toBe(0);
    const rep = json(i).data;
    expect(rep.valid).toBe(true);
    expect(rep.public.servers).toEqual(['127.0.0.1:40000', '[::1]:40001']);
    expect(rep.public.timeoutSeconds).toBe(7);
    expect(rep.public.protocolId).toBe('77');
    expect(rep.private.clientId).toBe('42');
    expect(rep.private.userData).toBe('73657373696f6e');

    const wrongKey = await run(['netcode', 'inspect', 't.b64', '--key', 'other.key', '--json']);
    expect(wrongKey.code, wrongKey.stderr).toBe(3);
    expect(json(wrongKey).error.details.problems.map((p: { code: string }) => p.code)).toEqual(['decrypt_failed']);
    const human = await run(['netcode', 'inspect', 't.b64', '--key', 'other.key']);
    expect(human.code, human.stderr).toBe(3);
    expect(human.stderr).toMatch(/does not decrypt with this key/);

    const wrongProto = await run(['netcode', 'inspect', 't.b64', '--key', 'k.key', '--protocol-id', '78', '--json']);
    expect(wrongProto.code, wrongProto.stderr).toBe(3);
    expect(json(wrongProto).error.details.problems.map((p: { code: string }) => p.code)).toEqual(['wrong_protocol']);
  });

  it('inspect reports binary tokens with a bad version, a bad address type or past expiry', async () => {
    expectOk(await run(['netcode', 'keygen', '-o', 'k3.key']));
    expectOk(await run(['netcode', 'token', '--key', 'k3.key', '--server', '10.0.0.1:1', '--client-id', '5', '--expire', '0', '-o', 'old.bin']));
    const bytes = readFileSync(path.join(dir, 'old.bin'));
    expect(bytes).toHaveLength(2048);
    const codes = async (file: string) => {
      const r = await run(['netcode', 'inspect', file, '--key', 'k3.key', '--json']);
      expect(r.code, r.stderr).toBe(3);
      return json(r).error.details.problems.map((p: { code: string }) => p.code);
    };
    expect(await codes('old.bin')).toEqual(['expired']);
    const v = Buffer.from(bytes);
    v[11] = 0x31; // "NETCODE 1.01"
    writeFileSync(path.join(dir, 'v.bin'), v);
    expect(await codes('v.bin')).toEqual(['wrong_version']);
    const a = Buffer.from(bytes);
    a[1093] = 3; // first address type
    writeFileSync(path.join(dir, 'a.bin'), a);
    expect(await codes('a.bin')).toEqual(['bad_address_type']);
    writeFileSync(path.join(dir, 'short.bin'), bytes.subarray(0, 100));
    expect(await codes('short.bin')).toEqual(['wrong_length']);
  });

  it('token refuses timeout 0 and bad addresses with usage errors', async () => {
    expectOk(await run(['netcode', 'keygen', '-o', 'k4.key']));
    const z = await run(['netcode', 'token', '--key', 'k4.key', '--server', '127.0.0.1:1', '--client-id', '1', '--timeout', '0', '--json']);
    expect(z.code, z.stderr).toBe(2);
    expect(json(z).error.code).toBe('netcode_timeout_zero');
    const b = await run(['netcode', 'token', '--key', 'k4.key', '--server', 'example.com:1', '--client-id', '1', '--json']);
    expect(b.code, b.stderr).toBe(2);
  });

  it('serve --echo and connect --send 5 succeed on loopback; SIGTERM shuts down cleanly', async () => {
    expectOk(await run(['netcode', 'keygen', '-o', 's.key']));
    const port = await freeUdpPort();
    const server: ChildProcess = spawn(
      process.execPath,
      [bin, 'netcode', 'serve', '--key', 's.key', '--bind', `127.0.0.1:${port}`, '--echo', '--max-clients', '4', '--json'],
      { cwd: dir },
    );
    let stderr = '';
    let stdout = '';
    server.stderr!.on('data', (d) => (stderr += d));
    server.stdout!.on('data', (d) => (stdout += d));
    const exited = new Promise<number | null>((r) => server.on('exit', (code) => r(code)));
    try {
      const deadline = Date.now() + 20_000;
      while (!stderr.includes('"listening"')) {
        if (Date.now() > deadline) throw new Error(`server did not start: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      expectOk(await run(['netcode', 'token', '--key', 's.key', '--server', `127.0.0.1:${port}`, '--client-id', '9', '-o', 'p.token']));
      const c = await run(['netcode', 'connect', 'p.token', '--send', '5', '--timeout-ms', '10000', '--json'], 60_000);
      expect(c.code, c.stderr).toBe(0);
      const d = json(c).data;
      expect(d.state).toBe('connected');
      expect(d.echoed).toBe(5);
      expect(d.rttMs).toHaveLength(5);
      // a token for another key is never answered: the probe fails with the client's error state
      expectOk(await run(['netcode', 'keygen', '-o', 'x.key']));
      expectOk(await run(['netcode', 'token', '--key', 'x.key', '--server', `127.0.0.1:${port}`, '--client-id', '9', '--timeout', '1', '-o', 'x.token']));
      const bad = await run(['netcode', 'connect', 'x.token', '--timeout-ms', '10000', '--json'], 60_000);
      expect(bad.code).not.toBe(0);
      expect(json(bad).error.code).toBe('netcode_connection_request_timed_out');
    } finally {
      server.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/"event":"connect".*"clientId":"9"/);
    expect(stderr).toMatch(/"reason":"client_disconnect"/);
    expect(JSON.parse(stdout).data.connects).toBe(1);
  }, 120_000);

  it('--netcode-version 1.00: token, inspect, serve and connect; a 1.02 probe and a wrong flag are refused cleanly', async () => {
    expectOk(await run(['netcode', 'keygen', '-o', 'v.key']));
    const bad = await run(['netcode', 'token', '--key', 'v.key', '--server', '127.0.0.1:1', '--client-id', '1', '--netcode-version', '1.01', '--json']);
    expect(bad.code, bad.stderr).toBe(2);
    expect(json(bad).error.code).toBe('bad_netcode_version');
    const seqOnly = await run(['netcode', 'token', '--key', 'v.key', '--server', '127.0.0.1:1', '--client-id', '1', '--sequence', '5', '--json']);
    expect(json(seqOnly).error.code).toBe('netcode_sequence_not_in_version');

    const port = await freeUdpPort();
    const server: ChildProcess = spawn(
      process.execPath,
      [bin, 'netcode', 'serve', '--key', 'v.key', '--bind', `127.0.0.1:${port}`, '--echo', '--netcode-version', '1.00', '--json'],
      { cwd: dir },
    );
    let stderr = '';
    server.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => server.on('exit', (code) => r(code)));
    try {
      const deadline = Date.now() + 20_000;
      while (!stderr.includes('"listening"')) {
        if (Date.now() > deadline) throw new Error(`server did not start: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(stderr).toMatch(/"version":"1.00"/);
      const t1 = await run([
        'netcode',
        'token',
        '--key',
        'v.key',
        '--server',
        `127.0.0.1:${port}`,
        '--client-id',
        '3',
        '--netcode-version',
        '1.00',
        '-o',
        'v100.token',
        '--json',
      ]);
      expect(t1.code, t1.stderr).toBe(0);
      const t2 = await run(['netcode', 'token', '--key', 'v.key', '--server', `127.0.0.1:${port}`, '--client-id', '4', '--netcode-version', '1.00', '--json']);
      expect(BigInt(json(t2).data.sequence)).toBeGreaterThan(BigInt(json(t1).data.sequence));
      const i = await run(['netcode', 'inspect', 'v100.token', '--key', 'v.key', '--json']);
      expect(i.code, i.stderr).toBe(0);
      expect(json(i).data.public.version).toBe('NETCODE 1.00');

      const c = await run(['netcode', 'connect', 'v100.token', '--send', '3', '--netcode-version', '1.00', '--json'], 60_000);
      expect(c.code, c.stderr).toBe(0);
      expect(json(c).data.echoed).toBe(3);
      // the same token to a 1.02 client: refused at once, with the flag to use
      const mismatch = await run(['netcode', 'connect', 'v100.token', '--json'], 60_000);
      expect(json(mismatch).error.code).toBe('netcode_invalid_connect_token');
      expect(json(mismatch).error.hint).toMatch(/--netcode-version 1.00/);
      // a 1.02 client with a 1.02 token: the 1.00 server never answers
      expectOk(await run(['netcode', 'token', '--key', 'v.key', '--server', `127.0.0.1:${port}`, '--client-id', '5', '--timeout', '1', '-o', 'v102.token']));
      const old = await run(['netcode', 'connect', 'v102.token', '--json'], 60_000);
      expect(json(old).error.code).toBe('netcode_connection_request_timed_out');
    } finally {
      server.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/"event":"connect".*"clientId":"3"/);
  }, 120_000);
});
