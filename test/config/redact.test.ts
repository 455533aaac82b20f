/** `config check` never echoes key material pasted into a config (issue #9, item 10). */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkConfigText, formatProblem } from '../../src/config/load.js';
import { redactSecrets } from '../../src/config/redact.js';
import { IyesmpError } from '../../src/errors.js';

const PEM = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
const BODY = PEM.split('\n')[1]!;
const B64 = randomBytes(48).toString('base64');

const auth = (pkiKey: string, extra = '') => `kind = "auth"
${extra}
[pki]
trust_dir = "trust"
cert = "auth.crt"
key = ${pkiKey}
session_auth_cert = "sa.crt"
session_auth_key = "sa.key"
`;

function problemsText(text: string): string {
  const r = checkConfigText(text);
  if (r.ok) throw new Error('expected problems');
  return r.problems.map(formatProblem).join('\n');
}

describe('config key material', () => {
  it('refuses a PEM key pasted into pki.key without echoing it', () => {
    const out = problemsText(auth(`"""\n${PEM}"""`));
    expect(out).toContain('pki.key: expected a file path, not the key or certificate itself');
    expect(out).toContain('not shown');
    expect(out).not.toContain('BEGIN');
    expect(out).not.toContain(BODY);
  });

  it('refuses a bare base64 key without echoing it', () => {
    const out = problemsText(auth(`"${B64}"`));
    expect(out).toContain('pki.key');
    expect(out).not.toContain(B64);
  });

  it('does not echo key material given for any other value either', () => {
    const out = problemsText(auth('"auth.key"', `[listen.clients]\nport = "${B64}"`));
    expect(out).toMatch(/listen\.clients\.port: expected .*key material/);
    expect(out).not.toContain(B64);
  });

  it('does not echo a PEM block from a TOML syntax error', () => {
    let err: unknown;
    try {
      checkConfigText(auth(`"${PEM.replace(/\n/g, '\\n')}" "x"`));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(IyesmpError);
    expect((err as IyesmpError).message).not.toContain(BODY);
  });

  it('keeps ordinary paths and words', () => {
    const path = '/home/JohnSmith2024/Projects/iyesmp/pki/keys/auth-2026.key';
    expect(redactSecrets(path)).toBe(path);
    expect(checkConfigText(auth(`"${path}"`)).ok).toBe(true);
    expect(redactSecrets(`a ${PEM.trim()} b`)).toBe('a [PEM block not shown] b');
  });
});
