import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, run, STACK, tempDir } from './helpers.js';
// built output (npm test builds first); tsconfig.test.json types it from src/
import { checkConfigText } from '../../dist/config/load.js';
import { parseDuration } from '../../dist/cli/duration.js';
import { IyesmpError } from '../../dist/errors.js';

let tmp: ReturnType<typeof tempDir>;
let pki: string;

beforeAll(() => {
  tmp = tempDir('iyesmp-config-');
  pki = path.join(tmp.dir, 'pki');
  const r = run([
    'certs',
    'init',
    '--dir',
    pki,
    '--auth-name',
    'auth.example.com',
    '--hosts',
    '2',
    '--host-ip',
    '198.51.100.1',
    '--yes',
    '--insecure-no-passphrase',
  ]);
  if (r.code !== 0) throw new Error(r.stderr);
});
afterAll(() => tmp?.cleanup());

describe('config scaffold → config check', () => {
  it('an auth config scaffolded from a PKI passes check and points at existing PKI files', () => {
    const file = path.join(tmp.dir, 'etc', 'auth.toml');
    const s = run(['config', 'scaffold', 'auth', '--dir', pki, '--out', file, '--json']);
    expect(s.code).toBe(0);
    const d = json(s).data;
    expect(d).toMatchObject({ kind: 'auth', file, cert: 'auth', text: null });
    // paths are relative to the config's folder
    expect(d.files.cert.startsWith('../pki/')).toBe(true);
    const c = run(['config', 'check', file, '--json']);
    expect(c.code).toBe(0);
    // the warnings are the ones serve logs at start: none for a scaffolded file ([database] is served)
    expect(json(c).data).toMatchObject({ kind: 'auth', valid: true, warnings: [] });
    expect(readFileSync(file, 'utf8')).toMatch(/^# iyesmp Auth server configuration/);
  });

  it('a host config uses the named host cert, its address and the Auth server name', () => {
    const file = path.join(tmp.dir, 'host-2.toml');
    const s = run(['config', 'scaffold', 'host', '--dir', pki, '--name', 'host-2', '--out', file]);
    expect(s.code).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('name = "host-2"');
    expect(text).toContain('servers = ["auth.example.com:7351"]');
    expect(run(['config', 'check', file]).code).toBe(0);
    const h1 = json(run(['config', 'scaffold', 'host', '--dir', pki, '--json'])).data.text;
    expect(h1).toContain('public_address = "198.51.100.1"');
  });

  it('refuses to overwrite without --force, overwrites with it', () => {
    const file = path.join(tmp.dir, 'keep.toml');
    writeFileSync(file, 'mine\n');
    const r = run(['config', 'scaffold', 'auth', '--dir', pki, '--out', file, '--json']);
    expect(r.code).toBe(4);
    expect(json(r).error.code).toBe('exists');
    expect(readFileSync(file, 'utf8')).toBe('mine\n');
    expect(run(['config', 'scaffold', 'auth', '--dir', pki, '--out', file, '--force']).code).toBe(0);
    expect(readFileSync(file, 'utf8')).toContain('kind = "auth"');
  });

  it('an unknown certificate name or kind is refused', () => {
    expect(run(['config', 'scaffold', 'host', '--dir', pki, '--name', 'host-7']).code).toBe(3);
    expect(run(['config', 'scaffold', 'host', '--dir', pki, '--name', 'auth']).code).toBe(2);
    expect(run(['config', 'scaffold', 'broker', '--dir', pki]).code).toBe(2);
  });
});

describe('config check', () => {
  function hostConfig(): string {
    return json(run(['config', 'scaffold', 'host', '--dir', pki, '--json'])).data.text as string;
  }

  it('names a bad key with what was expected, what was found and the line', () => {
    const text = hostConfig().replace('capacity = 64', 'capacity = "ten"');
    const line = text.split('\n').findIndex((l) => l.startsWith('capacity =')) + 1;
    const file = path.join(tmp.dir, 'bad-capacity.toml');
    writeFileSync(file, text);
    const r = run(['config', 'check', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`host.capacity: expected a positive integer, got "ten" (line ${line})`);
    expect(r.stderr).not.toMatch(STACK);
  });

  it('lists every problem at once, including unknown keys and missing ones, in JSON details', () => {
    const text = hostConfig()
      .replace('port = 7400', 'port = 70000')
      .replace('heartbeat_seconds = 5', 'heartbeat_secs = 5')
      .replace(/^public_address = .*$/m, '');
    const file = path.join(tmp.dir, 'many.toml');
    writeFileSync(file, text);
    const r = run(['config', 'check', file, '--json']);
    expect(r.code).toBe(1);
    const doc = json(r);
    expect(doc.error).toMatchObject({ kind: 'check', code: 'config_invalid' });
    const paths = doc.error.details.problems.map((p: any) => p.path).sort();
    expect(paths).toEqual(['auth.heartbeat_secs', 'host.public_address', 'transports.quic.port']);
    const unknown = doc.error.details.problems.find((p: any) => p.path === 'auth.heartbeat_secs');
    expect(unknown.message).toBe('unknown key');
    expect(unknown.line).toBe(text.split('\n').findIndex((l) => l.startsWith('heartbeat_secs')) + 1);
  });

  it('cross-field rules: no transport enabled, netcode without key', () => {
    const text = hostConfig().replace(/(\[transports\.quic\]\n(?:#.*\n)*)enabled = true/, '$1enabled = false');
    const file = path.join(tmp.dir, 'none.toml');
    writeFileSync(file, text);
    const r = run(['config', 'check', file, '--json']);
    expect(r.code).toBe(1);
    expect(json(r).error.details.problems[0].path).toBe('transports');

    const netcode = hostConfig()
      .replace(/(\[transports\.netcode\]\n(?:#.*\n)*)enabled = false/, '$1enabled = true')
      .replace(/^private_key_file = .*$/m, '');
    const file2 = path.join(tmp.dir, 'netcode.toml');
    writeFileSync(file2, netcode);
    const r2 = run(['config', 'check', file2, '--json']);
    expect(r2.code).toBe(1);
    expect(json(r2).error.details.problems.map((p: any) => p.path)).toEqual(['transports.netcode.private_key_file']);
  });

  it('a file that is not TOML at all exits 3 with its position', () => {
    const file = path.join(tmp.dir, 'junk.toml');
    writeFileSync(file, 'kind = "host"\n[host\nname = 1\n');
    const r = run(['config', 'check', file, '--json']);
    expect(r.code).toBe(3);
    const doc = json(r);
    expect(doc.error.code).toBe('not_toml');
    expect(doc.error.details.line).toBe(2);
  });

  it('a missing file exits 3; a wrong kind is named', () => {
    expect(run(['config', 'check', path.join(tmp.dir, 'absent.toml')]).code).toBe(3);
    const file = path.join(tmp.dir, 'kind.toml');
    writeFileSync(file, 'kind = "broker"\n');
    const r = run(['config', 'check', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('kind: expected "auth" or "host", got "broker" (line 1)');
  });

  it('fails (exit 1) on PKI files that do not exist, as serve would (issue 12)', () => {
    const file = path.join(tmp.dir, 'elsewhere', 'deep', 'host.toml');
    expect(run(['config', 'scaffold', 'host', '--dir', pki, '--out', file]).code).toBe(0);
    const moved = path.join(tmp.dir, 'moved.toml');
    writeFileSync(moved, readFileSync(file, 'utf8'));
    const r = run(['config', 'check', moved, '--json']);
    expect(r.code).toBe(1);
    expect(json(r).error.code).toBe('config_invalid');
    expect(json(r).error.message).toContain('would refuse to start');
    expect(existsSync(moved)).toBe(true);
  });
});

describe('decoders (fuzzed)', () => {
  it('checkConfigText never throws anything but an IyesmpError on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        try {
          const r = checkConfigText(text);
          expect(typeof r.ok).toBe('boolean');
        } catch (err) {
          expect(err).toBeInstanceOf(IyesmpError);
          expect((err as any).code).toBe('not_toml');
        }
      }),
      { numRuns: 300 },
    );
  });

  it('checkConfigText on structured junk reports problems with dotted paths, never crashes', () => {
    const value = fc.oneof(fc.integer(), fc.string({ maxLength: 10 }), fc.boolean(), fc.constant([1, 'a']));
    fc.assert(
      fc.property(
        fc.constantFrom('auth', 'host'),
        fc.dictionary(
          fc.constantFrom('host', 'auth', 'pki', 'listen', 'transports', 'zzz'),
          fc.dictionary(
            fc.string({ minLength: 1, maxLength: 8 }).filter((k) => /^[a-z_]+$/.test(k)),
            value,
            { maxKeys: 3 },
          ),
          { maxKeys: 4 },
        ),
        (kind, tables) => {
          const body = Object.entries(tables)
            .map(
              ([t, kv]) =>
                `[${t}]\n` +
                Object.entries(kv)
                  .map(([k, v]) => `${k} = ${JSON.stringify(v)}`)
                  .join('\n'),
            )
            .join('\n');
          const r = checkConfigText(`kind = "${kind}"\n${body}\n`);
          if (!r.ok) for (const p of r.problems) expect(typeof p.path).toBe('string');
        },
      ),
      { numRuns: 200 },
    );
  });

  it('parseDuration accepts n<unit> sums and rejects everything else with a usage error', () => {
    const unit = fc.constantFrom(['s', 1], ['m', 60], ['h', 3600], ['d', 86400], ['w', 604800], ['y', 31536000]);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 999 }), unit), { minLength: 1, maxLength: 3 }), (parts) => {
        const text = parts.map(([n, [u]]) => `${n}${u}`).join('');
        expect(parseDuration(text)).toBe(parts.reduce((a, [n, [, s]]) => a + n * (s as number), 0));
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 12 }), (text) => {
        try {
          const n = parseDuration(text);
          expect(Number.isInteger(n) && n >= 0).toBe(true);
        } catch (err) {
          expect(err).toBeInstanceOf(IyesmpError);
          expect((err as any).kind).toBe('usage');
        }
      }),
      { numRuns: 500 },
    );
  });
});
