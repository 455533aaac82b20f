// The admin role: Master issues it, only the admin policy accepts it, and that policy accepts no other role.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initPki, openPki, pemToDerList, type Pki, type VerifyPolicy, type VerifyResult } from '../../src/pki/index.js';
import { openssl, tempDir } from './helpers.js';

const T0 = new Date('2031-03-01T00:00:00Z');
const HOUR = 3_600_000;
const reason = (r: VerifyResult): string => (r.ok ? 'ok' : r.reason);

describe('admin certificates', () => {
  let dir: string;
  let cleanup: () => void;
  let pki: Pki;
  const der = async (name: string) => pemToDerList(await pki.certPem(name));

  beforeAll(async () => {
    ({ dir, cleanup } = tempDir());
    pki = await initPki({ dir: path.join(dir, 'pki'), allowUnencryptedCaKeys: true, now: T0 });
  });
  afterAll(() => cleanup());

  it('issues admin-<name> under Master, clientAuth only, 90 days by default, listed in the manifest', async () => {
    const issued = await pki.issueAdmin({ name: 'alice', now: T0 });
    expect(issued.entry).toMatchObject({ name: 'admin-alice', role: 'admin', issuer: 'master' });
    expect(new Date(issued.entry.notAfter).getTime() - T0.getTime()).toBe(90 * 24 * HOUR);
    const reopened = await openPki(pki.dir);
    expect(reopened.list('admin').map((e) => e.name)).toEqual(['admin-alice']);
    await expect(pki.issueAdmin({ name: 'alice', now: T0 })).rejects.toMatchObject({ code: 'name_taken' });
    await expect(pki.issueAdmin({ name: 'bad/name', now: T0 })).rejects.toMatchObject({ code: 'bad_name' });
    // openssl agrees it is a TLS client cert and not a TLS server cert
    const root = pki.path(pki.get('master').certFile);
    const at = ['-attime', String(T0.getTime() / 1000 + 3600)];
    const check = (purpose: string) => openssl(['verify', '-x509_strict', ...at, '-purpose', purpose, '-CAfile', root, issued.certPath]);
    expect(check('sslclient').status, check('sslclient').stderr).toBe(0);
    expect(check('sslserver').status).not.toBe(0);
  });

  it('only the admin policy accepts an admin cert, and it accepts nothing else', async () => {
    await pki.issueAdmin({ name: 'bob', now: T0 }).catch(() => undefined);
    const v = await pki.verifier();
    const now = new Date(T0.getTime() + HOUR);
    const admin = await der('admin-bob');
    const ok = await v.verify(admin, { kind: 'admin' }, now);
    expect(ok).toMatchObject({ ok: true, peer: { role: 'admin', name: 'admin-bob' } });
    const others: VerifyPolicy[] = [{ kind: 'auth-client' }, { kind: 'host' }, { kind: 'auth-server' }, { kind: 'session', sessionId: 's1' }];
    for (const policy of others) expect(reason(await v.verify(admin, policy, now)), policy.kind).toBe('wrong_role');
    const session = await (await pki.sessionMinter()).mintWithNewKey({ sessionId: 's1', playerId: 'p1', now });
    for (const chain of [await der('client-clientauth-1-1'), await der('host-1'), await der('auth'), await der('master'), [session.certDer]]) {
      expect(reason(await v.verify(chain, { kind: 'admin' }, now))).toBe('wrong_role');
    }
    const report = await pki.verifyCertFile(pki.path(pki.get('admin-bob').certFile), { role: 'admin', now });
    expect(report).toMatchObject({ ok: true, role: 'admin', name: 'admin-bob' });
  });
});
