// The `[admin]` table a scaffolded config carries: commented out, with the commands a new operator
// runs to switch it on; followed to the letter they give a running admin port. `config check`
// refuses an admin port that takes another listener's UDP port and warns about one beyond loopback.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, json, run, tempDir } from './helpers.js';
import { adminExposure, adminPortClashes } from '../../dist/config/admin.js';
import { freeUdpPorts } from '../../dist/demo/ports.js';

let tmp: ReturnType<typeof tempDir>;
let pki: string;

beforeAll(() => {
  tmp = tempDir('iyesmp-config-admin-');
  pki = path.join(tmp.dir, 'my pki'); // a space: the commands in the comment must quote it
  const r = run([
    'certs',
    'init',
    '--dir',
    pki,
    '--auth-name',
    'localhost',
    '--auth-ip',
    '127.0.0.1',
    '--hosts',
    '1',
    '--host-ip',
    '127.0.0.1',
    '--yes',
    '--insecure-no-passphrase',
  ]);
  if (r.code !== 0) throw new Error(r.stderr);
});
afterAll(() => tmp?.cleanup());

/** The comment's shell commands (after "1."/"2."/"3."), split into words the way a shell would for these. */
function commentCommands(text: string): string[][] {
  return [...text.matchAll(/^#\s+\d\.\s.*?:\s+(iyesmp .+?)(?:\s{3}\(.*)?$/gm)].map((m) =>
    [...m[1]!.matchAll(/'([^']*)'|(\S+)/g)].map((w) => w[1] ?? w[2]!).slice(1),
  );
}

function uncommentAdmin(text: string): string {
  return text.replace(/^# (\[admin\])\n# (address = .*)\n# (port = .*)$/m, '$1\n$2\n$3');
}

describe('config scaffold: the [admin] table', () => {
  it('auth and host configs carry it commented out, with the cert command, the check and the look, relative to the file', () => {
    for (const kind of ['auth', 'host'] as const) {
      const dir = path.join(tmp.dir, `etc-${kind}`);
      const file = path.join(dir, `${kind}.toml`);
      expect(run(['config', 'scaffold', kind, '--dir', pki, '--out', file]).code).toBe(0);
      const text = readFileSync(file, 'utf8');
      expect(text).toMatch(/^# \[admin\]\n# address = "127\.0\.0\.1"\n# port = 7[34]\d2$/m);
      expect(commentCommands(text)).toEqual([
        ['certs', 'issue', 'admin', 'YOUR_NAME', '--dir', '../my pki'],
        ['config', 'check', `${kind}.toml`],
        ['admin', 'status', '-c', `${kind}.toml`, '--dir', '../my pki'],
      ]);
      // off as scaffolded: the config has no admin port until the operator switches it on
      expect(run(['config', 'check', file]).code).toBe(0);
      writeFileSync(file, uncommentAdmin(text));
      const c = run(['config', 'check', file, '--json']);
      expect(c.code, c.stderr).toBe(0);
      expect(json(c).data.warnings.filter((w: string) => w.includes('admin port'))).toEqual([]);
    }
  });

  it('in a bundle (no PKI beside the config) the comment asks for the PKI folder instead of naming one', () => {
    const out = path.join(tmp.dir, 'auth-bundle.tar.gz');
    expect(run(['bundle', 'auth', 'auth', '--dir', pki, '--out', out]).code).toBe(0);
    const unpacked = path.join(tmp.dir, 'unpacked');
    mkdirSync(unpacked);
    expect(spawnSync('tar', ['-xzf', out, '-C', unpacked]).status).toBe(0);
    const [issue, , look] = commentCommands(readFileSync(path.join(unpacked, 'auth', 'auth.toml'), 'utf8'));
    expect(issue).toEqual(['certs', 'issue', 'admin', 'YOUR_NAME', '--dir', 'PKI_DIR']);
    expect(look).toEqual(['admin', 'status', '-c', 'auth.toml', '--dir', 'PKI_DIR']);
  });

  it('followed as written, the comment gives a running admin port that `admin status` reads', async () => {
    const dir = path.join(tmp.dir, 'follow');
    mkdirSync(dir);
    const file = path.join(dir, 'auth.toml');
    expect(run(['config', 'scaffold', 'auth', '--dir', pki, '--out', file]).code).toBe(0);
    const ports = await freeUdpPorts(3);
    let text = readFileSync(file, 'utf8');
    const [issue, check, look] = commentCommands(text);
    // free ports instead of the defaults, so the test never meets another server
    text = uncommentAdmin(text)
      .replace(/^port = 7350$/m, `port = ${ports[0]}`)
      .replace(/^port = 7351$/m, `port = ${ports[1]}`)
      .replace(/^port = 7352$/m, `port = ${ports[2]}`);
    writeFileSync(file, text);
    expect(
      run(
        issue!.map((w) => w.replace('YOUR_NAME', 'alice')),
        { cwd: dir },
      ).code,
    ).toBe(0);
    expect(run(check!, { cwd: dir }).code).toBe(0);
    const server = spawn(process.execPath, [BIN, 'serve', 'auth', '-c', file], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    server.stdout.on('data', (b) => (log += b));
    server.stderr.on('data', (b) => (log += b));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`serve auth did not listen:\n${log}`)), 30_000);
        const poll = setInterval(() => {
          if (log.includes('auth server listening')) {
            clearInterval(poll);
            clearTimeout(timer);
            resolve();
          }
        }, 100);
        server.once('exit', (code) => reject(new Error(`serve auth exited (${code}):\n${log}`)));
      });
      const s = run([...look!, '--json'], { cwd: dir });
      expect(s.code, s.stderr).toBe(0);
      expect(json(s)).toMatchObject({ ok: true, command: 'admin status', data: { kind: 'auth' } });
    } finally {
      server.kill('SIGKILL');
    }
  }, 60_000);
});

describe('config check: the [admin] table', () => {
  // rendered from the folder the configs are written to: the relative paths in them resolve from there
  const scaffolded = (kind: 'auth' | 'host') =>
    uncommentAdmin(json(run(['config', 'scaffold', kind, '--dir', pki, '--json'], { cwd: tmp.dir })).data.text as string);

  it('refuses an admin port that another listener of the server already takes, naming both keys and the line', () => {
    const cases: Array<[string, string, string]> = [
      [scaffolded('auth').replace(/^port = 7352$/m, 'port = 7350'), 'auth-clash.toml', 'listen.clients.port'],
      [scaffolded('auth').replace(/^port = 7352$/m, 'port = 7351'), 'auth-clash2.toml', 'listen.hosts.port'],
      [scaffolded('host').replace(/^port = 7402$/m, 'port = 7400'), 'host-clash.toml', 'transports.quic.port'],
    ];
    for (const [text, name, other] of cases) {
      const file = path.join(tmp.dir, name);
      writeFileSync(file, text);
      const r = run(['config', 'check', file, '--json']);
      expect(r.code, name).toBe(1);
      const problems = json(r).error.details.problems;
      expect(problems).toEqual([expect.objectContaining({ path: 'admin.port', message: expect.stringContaining(`is also ${other}`) })]);
      expect(problems[0].line).toBe(
        text.split('\n').findIndex(
          (l, i, all) =>
            l.startsWith('port =') &&
            all
              .slice(0, i)
              .reverse()
              .find((x) => x.startsWith('['))
              ?.trim() === '[admin]',
        ) + 1,
      );
    }
  });

  it('warns (and still accepts) an admin port beyond loopback', () => {
    const file = path.join(tmp.dir, 'exposed.toml');
    writeFileSync(file, scaffolded('auth').replace(/^(\[admin\]\n)address = "127\.0\.0\.1"$/m, '$1address = "0.0.0.0"'));
    const r = run(['config', 'check', file, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r).data.warnings).toContainEqual(expect.stringMatching(/^the admin port listens on every interface \(udp 7352\)/));
  });

  it('rules: overlapping addresses clash, different addresses or ports do not; loopback is not warned about', () => {
    const admin = (address: string, port = 7352) => ({ address, port });
    expect(adminPortClashes(admin('127.0.0.1'), [['x', '0.0.0.0', 7352]])).toHaveLength(1);
    expect(adminPortClashes(admin('0.0.0.0'), [['x', '10.0.0.1', 7352]])).toHaveLength(1);
    expect(adminPortClashes(admin('127.0.0.1'), [['x', '10.0.0.1', 7352]])).toEqual([]);
    expect(adminPortClashes(admin('127.0.0.1'), [['x', '0.0.0.0', 7350]])).toEqual([]);
    expect(adminPortClashes(undefined, [['x', '0.0.0.0', 7352]])).toEqual([]);
    for (const a of ['127.0.0.1', '127.0.0.2', '::1', 'localhost']) expect(adminExposure(admin(a)), a).toBeUndefined();
    for (const a of ['0.0.0.0', '::', '10.0.0.5', '203.0.113.7']) expect(adminExposure(admin(a))?.key, a).toBe('admin.address');
  });
});
