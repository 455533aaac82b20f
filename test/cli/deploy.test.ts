/**
 * Deployment files and bundles (issue #13, deployment): `iyesmp bundle auth|host`, `iyesmp config
 * scaffold systemd|docker|compose|k8s`, each file run through its own validator where it is installed
 * (systemd-analyze verify, docker compose config, kubectl kustomize), and every environment override
 * they set checked against the config schema of the bundles they run.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkConfigFile, formatProblem } from '../../src/config/load.js';
import { BIN, json, run, tempDir } from './helpers.js';

const t = tempDir('iyesmp-deploy-');
const dir = t.dir;
afterAll(() => t.cleanup());

/** A tool on PATH, or undefined (the test then says it skipped and why). */
function tool(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

function unpack(archive: string, into: string): void {
  mkdirSync(into, { recursive: true });
  const r = spawnSync('tar', ['-xzf', archive, '-C', into], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
}

/** Every IYESMP_AUTH__/IYESMP_HOST__ variable a deployment file sets, with its value as the file gives it. */
function overridesIn(text: string): Array<{ kind: 'auth' | 'host'; name: string; value: string }> {
  const found: Array<{ kind: 'auth' | 'host'; name: string; value: string }> = [];
  // systemd: Environment=NAME=value; compose: NAME: value; k8s: { name: NAME, value: value }
  const re = /(IYESMP_(AUTH|HOST)__[A-Z0-9_]+)(?:=|: |, value: )(.+?)(?: }|$)/gm;
  for (const m of text.matchAll(re)) {
    if (m.index !== undefined && text.lastIndexOf('\n', m.index) < text.lastIndexOf('#', m.index)) continue; // a comment
    let value = m[3]!.trim();
    if (/^'.*'$/.test(value)) value = value.slice(1, -1);
    else if (/^".*"$/.test(value)) value = JSON.parse(value) as string;
    found.push({ kind: m[2]!.toLowerCase() as 'auth' | 'host', name: m[1]!, value });
  }
  return found;
}

/** The bundles' configs accept every override a deployment file sets (paths resolved to real files). */
async function expectOverridesValid(text: string, bundles: string, fileFor: (value: string) => string | undefined): Promise<void> {
  const o = overridesIn(text);
  expect(o.length).toBeGreaterThan(0);
  for (const kind of ['auth', 'host'] as const) {
    const env: NodeJS.ProcessEnv = {};
    for (const x of o.filter((v) => v.kind === kind)) env[x.name] = fileFor(x.value) ?? x.value;
    const r = await checkConfigFile(path.join(bundles, kind === 'auth' ? 'auth/auth.toml' : 'host-1/host.toml'), env);
    expect(r.ok, r.ok ? '' : r.problems.map(formatProblem).join('\n')).toBe(true);
    expect((r.overrides ?? []).length).toBe(Object.keys(env).length);
  }
}

beforeAll(() => {
  const init = run(['certs', 'init', '--yes', '--insecure-no-passphrase', '--dir', 'pki', '--hosts', '2', '--auth-name', 'auth.example.test', '--json'], {
    cwd: dir,
  });
  expect(init.code, init.stderr).toBe(0);
  for (const [kind, name] of [
    ['auth', 'auth'],
    ['host', 'host-1'],
    ['host', 'host-2'],
  ] as const) {
    const r = run(['bundle', kind, name, '--dir', 'pki', '--json'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
  }
}, 120_000);

describe('iyesmp bundle', () => {
  it('packs config, cert, key (0600) and trust list into a 0600 archive that unpacks to NAME/ and passes config check', () => {
    const archive = path.join(dir, 'iyesmp-host-host-1.tar.gz');
    expect(statSync(archive).mode & 0o777).toBe(0o600);
    const list = spawnSync('tar', ['-tzvf', archive], { encoding: 'utf8' }).stdout;
    expect(list).toMatch(/^-rw------- .* host-1\/tls\/host\.key$/m);
    expect(list).toMatch(/^-rw-r--r-- .* host-1\/tls\/host\.pem$/m);
    expect(list).toMatch(/host-1\/trust\/master\.pem$/m);
    expect(list).toMatch(/host-1\/trust\/clientauths\.json\.sig$/m);
    expect(list).toMatch(/host-1\/host\.toml$/m);
    const into = path.join(dir, 'unpacked');
    unpack(archive, into);
    expect(statSync(path.join(into, 'host-1/tls/host.key')).mode & 0o777).toBe(0o600);
    const toml = readFileSync(path.join(into, 'host-1/host.toml'), 'utf8');
    expect(toml).toContain('cert = "tls/host.pem"');
    expect(toml).toContain('trust_dir = "trust"');
    const check = run(['config', 'check', path.join(into, 'host-1/host.toml'), '--json']);
    expect(check.code, check.stderr).toBe(0);
    unpack(path.join(dir, 'iyesmp-auth-auth.tar.gz'), into);
    expect(statSync(path.join(into, 'auth/tls/sessionauth.key')).mode & 0o777).toBe(0o600);
    expect(run(['config', 'check', path.join(into, 'auth/auth.toml')]).code).toBe(0);
  });

  it('packs a given config with its PKI paths pointed into the bundle', () => {
    expect(
      run(['config', 'scaffold', 'host', '--dir', 'pki', '--name', 'host-2', '--auth-server', '10.1.2.3:7351', '--out', 'h2.toml'], { cwd: dir }).code,
    ).toBe(0);
    const r = run(['bundle', 'host', 'host-2', '--dir', 'pki', '--config', 'h2.toml', '--out', 'h2.tar.gz', '--json'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(json(r).data).toMatchObject({ kind: 'host', name: 'host-2', root: 'host-2', checked: true, file: path.join(dir, 'h2.tar.gz') });
    const into = path.join(dir, 'given');
    unpack(path.join(dir, 'h2.tar.gz'), into);
    const toml = readFileSync(path.join(into, 'host-2/host.toml'), 'utf8');
    expect(toml).toContain('servers = ["10.1.2.3:7351"]');
    expect(toml).toContain('key = "tls/host.key"');
  });

  it('refuses to replace an archive without --force, an unknown name, a wrong role and a config of the other kind', () => {
    const again = run(['bundle', 'host', 'host-1', '--dir', 'pki', '--json'], { cwd: dir });
    expect(again.code).toBe(4);
    expect(json(again).error.code).toBe('exists');
    expect(run(['bundle', 'host', 'host-1', '--dir', 'pki', '--force'], { cwd: dir }).code).toBe(0);
    const unknown = run(['bundle', 'host', 'host-9', '--dir', 'pki', '--out', 'x.tar.gz', '--json'], { cwd: dir });
    expect(unknown.code).toBe(3);
    expect(json(unknown).error.hint).toContain('host-1, host-2');
    expect(json(run(['bundle', 'host', 'auth', '--dir', 'pki', '--out', 'x.tar.gz', '--json'], { cwd: dir })).error.message).toContain('is a auth certificate');
    const other = run(['bundle', 'auth', 'auth', '--dir', 'pki', '--config', 'h2.toml', '--out', 'x.tar.gz', '--json'], { cwd: dir });
    expect(json(other).error.message).toContain('is not a auth config');
    // a config naming a file the bundle does not carry fails the bundle's own check: nothing written
    const auth = run(['config', 'scaffold', 'auth', '--dir', 'pki'], { cwd: dir }).stdout;
    writeFileSync(path.join(dir, 'token-secret.key'), 'a shared secret of more than thirty-two bytes\n');
    writeFileSync(
      path.join(dir, 'a-token.toml'),
      auth.replace('mode = "guest"', 'mode = "token"').replace('# secret_file = "token-secret.key"', 'secret_file = "token-secret.key"'),
    );
    expect(run(['config', 'check', 'a-token.toml'], { cwd: dir }).code).toBe(0);
    const notPacked = run(['bundle', 'auth', 'auth', '--dir', 'pki', '--config', 'a-token.toml', '--out', 'x.tar.gz', '--json'], { cwd: dir });
    expect(notPacked.code).toBe(1);
    expect(json(notPacked).error.message).toContain('auth/token-secret.key');
    expect(json(notPacked).error.message).not.toContain('iyesmp-bundle-');
    expect(json(notPacked).error.hint).toContain('absolute paths');
    expect(() => statSync(path.join(dir, 'x.tar.gz'))).toThrow();
  });
});

describe('iyesmp config scaffold systemd|docker|compose|k8s', () => {
  const bundles = path.join(dir, 'bundles');
  beforeAll(() => {
    for (const f of ['iyesmp-auth-auth.tar.gz', 'iyesmp-host-host-1.tar.gz', 'iyesmp-host-host-2.tar.gz']) unpack(path.join(dir, f), bundles);
  });

  it('systemd: hardened units that pass systemd-analyze verify, with overrides the configs accept', async () => {
    const r = run(
      ['config', 'scaffold', 'systemd', '--dir', 'pki', '--exec', BIN, '--grace-ms', '120000', '--drain-seconds', '60', '--out', 'systemd', '--json'],
      { cwd: dir },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(json(r).data.files.map((f: { name: string }) => f.name)).toEqual(['iyesmp-auth@.service', 'iyesmp-host@.service']);
    const host = readFileSync(path.join(dir, 'systemd/iyesmp-host@.service'), 'utf8');
    const auth = readFileSync(path.join(dir, 'systemd/iyesmp-auth@.service'), 'utf8');
    for (const unit of [auth, host]) {
      for (const line of [
        'DynamicUser=yes',
        'ProtectSystem=strict',
        'NoNewPrivileges=yes',
        'CapabilityBoundingSet=\n',
        'KillSignal=SIGTERM',
        'Restart=on-failure',
      ])
        expect(unit).toContain(line);
      expect(unit).toContain(`ExecStart=${BIN} serve`);
    }
    expect(host).toContain('LoadCredential=host.key:/etc/iyesmp/%i/tls/host.key');
    expect(host).toContain('--grace-ms 120000');
    expect(host).toContain('TimeoutStopSec=240s');
    expect(auth).toContain('LoadCredential=sessionauth.key:/etc/iyesmp/%i/tls/sessionauth.key');
    // %d (the credentials folder) and %S (/var/lib) are systemd's; stand-ins for the schema check
    await expectOverridesValid(`${auth}\n${host}`, bundles, (v) => v.replace('%d', '/run/credentials').replace('%S', '/var/lib').replace('%i', 'x'));
    if (!tool('systemd-analyze', ['--version'])) {
      console.warn('skipped: systemd-analyze verify (systemd-analyze is not installed)');
      return;
    }
    const sd = path.join(dir, 'systemd');
    const v = spawnSync('systemd-analyze', ['verify', path.join(sd, 'iyesmp-auth@auth.service'), path.join(sd, 'iyesmp-host@host-1.service')], {
      encoding: 'utf8',
    });
    const ours = v.stderr
      .split('\n')
      .filter((l) => l.includes('iyesmp-'))
      .join('\n');
    expect(v.status, v.stderr).toBe(0);
    expect(ours).toBe('');
    // systemd's own hardening score (0 best, 10 worst); "OK" is below 4.0 on its scale
    const sec = spawnSync('systemd-analyze', ['security', '--offline=true', path.join(sd, 'iyesmp-host@host-1.service')], { encoding: 'utf8' });
    const level = Number(/exposure level for \S+: ([\d.]+)/.exec(sec.stdout)?.[1]);
    if (Number.isNaN(level)) console.warn(`skipped: systemd-analyze security --offline (not supported here: ${sec.stderr.trim().split('\n')[0]})`);
    else expect(level).toBeLessThanOrEqual(2);
  });

  it('docker: a multi-stage, non-root image on node:20-slim', () => {
    const r = run(['config', 'scaffold', 'docker', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const files = json(r).data.files as Array<{ name: string; text: string }>;
    const dockerfile = files.find((f) => f.name === 'Dockerfile')!.text;
    expect(dockerfile.match(/^FROM node:20-slim/gm)).toHaveLength(2);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toContain('COPY --from=build');
    expect(files.find((f) => f.name === '.dockerignore')!.text).toMatch(/^\*\.key$/m);
  });

  it('compose: PostgreSQL, an Auth node and two hosts with UDP ports, secrets as files, health checks; docker compose config accepts it', async () => {
    const out = path.join(dir, 'compose');
    const r = run(['config', 'scaffold', 'compose', '--dir', 'pki', '--out', out], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const text = readFileSync(path.join(out, 'compose.yaml'), 'utf8');
    for (const s of [
      '  postgres:',
      '  auth:',
      '  host-1:',
      '  host-2:',
      '"7350:7350/udp"',
      '"7400:7400/udp"',
      '"7401:7401/udp"',
      '/healthz',
      'service_healthy',
    ])
      expect(text).toContain(s);
    expect(text).toContain('file: ./bundles/host-2/tls/host.key');
    // the database password reaches the Auth node as a libpq password file, not in the URL
    expect(text).toMatch(/IYESMP_AUTH__DATABASE__URL: postgres:\/\/iyesmp@postgres:5432\/iyesmp\n/);
    expect(text).toMatch(/^ {6}PGPASSFILE: \/run\/secrets\/pgpass$/m);
    // an empty PostgreSQL gets its schema at the first start, or serve auth refuses it (store.schema_behind)
    expect(text).toMatch(/^ {6}IYESMP_AUTH__DATABASE__MIGRATE: "true"$/m);
    await expectOverridesValid(text, bundles, () => undefined);
    // a second scaffold over it is refused, all files or none
    const again = run(['config', 'scaffold', 'compose', '--dir', 'pki', '--out', out, '--json'], { cwd: dir });
    expect(again.code).toBe(4);
    const compose = tool('docker', ['compose', 'version']) ? ['docker', 'compose'] : tool('docker-compose', ['version']) ? ['docker-compose'] : undefined;
    if (!compose) {
      console.warn('skipped: docker compose config (neither `docker compose` nor `docker-compose` is installed)');
      return;
    }
    spawnSync('cp', ['-r', bundles, path.join(out, 'bundles')]);
    mkdirSync(path.join(out, 'secrets'), { recursive: true });
    writeFileSync(path.join(out, 'secrets/postgres-password'), 'not-a-real-password\n', { mode: 0o600 });
    writeFileSync(path.join(out, 'secrets/pgpass'), 'postgres:5432:iyesmp:iyesmp:not-a-real-password\n', { mode: 0o600 });
    const v = spawnSync(compose[0]!, [...compose.slice(1), 'config', '-q'], { cwd: out, encoding: 'utf8' });
    expect(v.status, v.stderr).toBe(0);
  });

  it('k8s: kustomize builds the Auth Deployment and Services, one Deployment per host on its hostPort, keys as Secrets', async () => {
    const out = path.join(dir, 'k8s');
    const r = run(['config', 'scaffold', 'k8s', '--dir', 'pki', '--image', 'registry.test/iyesmp:1', '--out', out, '--json'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const all = ['auth.yaml', 'host-host-1.yaml', 'host-host-2.yaml'].map((f) => readFileSync(path.join(out, f), 'utf8')).join('\n');
    expect(all).toContain('protocol: UDP');
    expect(all).toContain('hostPort: 7401');
    expect(all).toContain('/readyz');
    // the root file system and the config mount are read-only: the embedded database gets a volume
    expect(all).toContain('{ name: IYESMP_AUTH__DATABASE__PATH, value: /var/lib/iyesmp/auth-data }');
    expect(all).toMatch(/- \{ name: data, mountPath: \/var\/lib\/iyesmp \}/);
    await expectOverridesValid(all, bundles, () => undefined);
    if (!tool('kubectl', ['version', '--client'])) {
      console.warn('skipped: kubectl kustomize (kubectl is not installed)');
      return;
    }
    spawnSync('cp', ['-r', bundles, path.join(out, 'bundles')]);
    const v = spawnSync('kubectl', ['kustomize', out], { encoding: 'utf8' });
    expect(v.status, v.stderr).toBe(0);
    const docs = v.stdout.split(/^---$/m);
    const kinds = docs.map((d) => /^kind: (\w+)$/m.exec(d)?.[1]).sort();
    expect(kinds).toEqual([
      'ConfigMap',
      'ConfigMap',
      'ConfigMap',
      'Deployment',
      'Deployment',
      'Deployment',
      'Namespace',
      'Secret',
      'Secret',
      'Secret',
      'Service',
      'Service',
    ]);
    const secret = docs.find((d) => /^kind: Secret$/m.test(d) && d.includes('host.key:'));
    expect(secret).toBeDefined();
    // the Secret's names are the ones the Deployments mount (kustomize appends a hash to both)
    for (const name of v.stdout.matchAll(/secretName: (\S+)/g)) expect(v.stdout).toContain(`name: ${name[1]}\n`);
  });

  it('config check validates the deployment files: overrides against the schema, then their own validator', () => {
    for (const f of ['systemd/iyesmp-host@.service', 'systemd/iyesmp-auth@.service', 'compose/compose.yaml', 'k8s/kustomization.yaml', 'k8s/auth.yaml']) {
      const r = run(['config', 'check', f, '--json'], { cwd: dir });
      expect(r.code, `${f}: ${r.stdout}${r.stderr}`).toBe(0);
      expect(json(r).data.valid).toBe(true);
    }
    const unit = json(run(['config', 'check', 'systemd/iyesmp-host@.service', '--json'], { cwd: dir })).data;
    expect(unit.overrides.map((o: { key: string }) => o.key).sort()).toEqual(['outbox.dir', 'pki.key']);
    // a unit with a misspelt override, and one with a misspelt directive
    const text = readFileSync(path.join(dir, 'systemd/iyesmp-host@.service'), 'utf8');
    writeFileSync(path.join(dir, 'systemd/bad@.service'), text.replace('IYESMP_HOST__OUTBOX__DIR', 'IYESMP_HOST__OUTBOX__DIRECTORY'));
    const bad = run(['config', 'check', 'systemd/bad@.service', '--json'], { cwd: dir });
    expect(bad.code).toBe(1);
    expect(json(bad).error.details.problems[0]).toMatchObject({
      path: 'outbox.directory',
      line: text.split('\n').findIndex((l) => l.includes('OUTBOX__DIR')) + 1,
    });
    expect(json(bad).error.message).toContain('$IYESMP_HOST__OUTBOX__DIRECTORY');
    if (tool('systemd-analyze', ['--version'])) {
      writeFileSync(path.join(dir, 'systemd/typo@.service'), text.replace('NoNewPrivileges=yes', 'NoNewPrivilegez=yes'));
      const typo = run(['config', 'check', 'systemd/typo@.service', '--json'], { cwd: dir });
      expect(typo.code).toBe(1);
      expect(json(typo).error.message).toContain('NoNewPrivilegez');
    } else console.warn('skipped: systemd-analyze verify of a broken unit (systemd-analyze is not installed)');
  });
});
