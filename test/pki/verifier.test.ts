// The peer verifier: acceptance per policy and the precise reason for each refusal.
import { createHash, generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVerifier, derFingerprint, initPki, loadTrustBundle, openPki, pemToDerList, type Pki, type VerifyResult } from '../../src/pki/index.js';
import { tempDir } from './helpers.js';

const T0 = new Date('2031-03-01T00:00:00Z');
const HOUR = 3_600_000;

function reason(r: VerifyResult): string {
  return r.ok ? 'ok' : r.reason;
}

describe('PeerVerifier', () => {
  let dir: string;
  let cleanup: () => void;
  let pki: Pki;
  let foreign: Pki;
  const der = async (p: Pki, name: string) => pemToDerList(await p.certPem(name));

  beforeAll(async () => {
    ({ dir, cleanup } = tempDir());
    pki = await initPki({ dir: path.join(dir, 'a'), allowUnencryptedCaKeys: true, now: T0 });
    // an independent PKI with the same names and organisation: its certs must not pass
    foreign = await initPki({ dir: path.join(dir, 'b'), allowUnencryptedCaKeys: true, now: T0 });
  });
  afterAll(() => cleanup());

  it('accepts each role under its policy and reports who the peer is', async () => {
    const v = await pki.verifier();
    const now = new Date(T0.getTime() + HOUR);
    const client = await v.verify(await der(pki, 'client-clientauth-1-1'), { kind: 'auth-client' }, now);
    expect(client).toMatchObject({ ok: true, peer: { role: 'client', name: 'client-clientauth-1-1', clientAuthId: 1 } });
    expect(await v.verify(await der(pki, 'host-1'), { kind: 'host' }, now)).toMatchObject({ ok: true, peer: { role: 'host', name: 'host-1' } });
    expect(await v.verify(await der(pki, 'auth'), { kind: 'auth-server' }, now)).toMatchObject({ ok: true, peer: { role: 'auth' } });
  });

  it('refuses a cert of another role with wrong_role', async () => {
    const v = await pki.verifier();
    const now = new Date(T0.getTime() + HOUR);
    expect(reason(await v.verify(await der(pki, 'host-1'), { kind: 'auth-client' }, now))).toBe('wrong_role');
    expect(reason(await v.verify(await der(pki, 'client-clientauth-1-1'), { kind: 'host' }, now))).toBe('wrong_role');
    expect(reason(await v.verify(await der(pki, 'auth'), { kind: 'host' }, now))).toBe('wrong_role');
    expect(reason(await v.verify(await der(pki, 'clientauth-1'), { kind: 'auth-client' }, now))).toBe('wrong_role');
    const s = await (await pki.sessionMinter()).mintWithNewKey({ sessionId: 'x', playerId: 'y', now });
    expect(reason(await v.verify([s.certDer], { kind: 'auth-client' }, now))).toBe('wrong_role');
  });

  it('refuses expired and not-yet-valid certs', async () => {
    const v = await pki.verifier();
    const chain = await der(pki, 'host-1');
    expect(reason(await v.verify(chain, { kind: 'host' }, new Date(T0.getTime() - 1000)))).toBe('not_yet_valid');
    expect(reason(await v.verify(chain, { kind: 'host' }, new Date(T0.getTime() + 400 * 24 * HOUR)))).toBe('expired');
    const s = await (await pki.sessionMinter()).mint({
      publicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'pem', type: 'spki' }).toString(),
      sessionId: 's1',
      playerId: 'p1',
      ttlSeconds: 600,
      now: new Date(T0.getTime() + HOUR),
    });
    const r = await v.verify([s.certDer], { kind: 'session', sessionId: 's1' }, new Date(T0.getTime() + HOUR + 601_000));
    expect(reason(r)).toBe('expired');
    expect(r.ok ? '' : r.message).toMatch(/expired at/);
    expect(reason(await v.verify([s.certDer], { kind: 'session', sessionId: 's1' }, new Date(T0.getTime() + HOUR - 120_000)))).toBe('not_yet_valid');
  });

  it('checks session, player and fingerprint of session certs', async () => {
    const v = await pki.verifier();
    const now = new Date(T0.getTime() + 2 * HOUR);
    const s = await (await pki.sessionMinter()).mintWithNewKey({ sessionId: 'match-7', playerId: 'alice', now });
    const chain = [s.certDer];
    const ok = await v.verify(chain, { kind: 'session', sessionId: 'match-7', playerId: 'alice', fingerprint: s.fingerprint }, now);
    expect(ok).toMatchObject({ ok: true, peer: { role: 'session', sessionId: 'match-7', playerId: 'alice', name: 'alice', fingerprint: s.fingerprint } });
    expect(reason(await v.verify(chain, { kind: 'session', sessionId: 'match-8' }, now))).toBe('wrong_session');
    expect(reason(await v.verify(chain, { kind: 'session', sessionId: 'match-7', playerId: 'bob' }, now))).toBe('wrong_session');
    const other = await (await pki.sessionMinter()).mintWithNewKey({ sessionId: 'match-7', playerId: 'alice', now });
    expect(reason(await v.verify(chain, { kind: 'session', sessionId: 'match-7', fingerprint: other.fingerprint }, now))).toBe('wrong_fingerprint');
    // colon-separated upper-case fingerprints are the same fingerprint
    const colon = s.fingerprint.toUpperCase().match(/../g)!.join(':');
    expect(reason(await v.verify(chain, { kind: 'session', sessionId: 'match-7', fingerprint: colon }, now))).toBe('ok');
  });

  it('refuses certs of a foreign PKI with unknown_issuer', async () => {
    const v = await pki.verifier();
    const now = new Date(T0.getTime() + HOUR);
    expect(reason(await v.verify(await der(foreign, 'client-clientauth-1-1'), { kind: 'auth-client' }, now))).toBe('unknown_issuer');
    // even when the foreign intermediate is sent along
    const chain = pemToDerList(await foreign.chainPem('client-clientauth-1-1'));
    expect(chain).toHaveLength(2);
    expect(reason(await v.verify(chain, { kind: 'auth-client' }, now))).toBe('unknown_issuer');
    expect(reason(await v.verify(await der(foreign, 'host-1'), { kind: 'host' }, now))).toBe('unknown_issuer');
    const fs = await (await foreign.sessionMinter()).mintWithNewKey({ sessionId: 's', playerId: 'p', now });
    expect(reason(await v.verify([fs.certDer], { kind: 'session', sessionId: 's' }, now))).toBe('unknown_issuer');
  });

  it('refuses a tampered certificate with bad_signature', async () => {
    const v = await pki.verifier();
    const now = new Date(T0.getTime() + HOUR);
    const [host] = await der(pki, 'host-1');
    // flip a bit in the last byte of the signature value: still parses, no longer verifies
    const sigFlip = Uint8Array.from(host!);
    sigFlip[sigFlip.length - 1]! ^= 0x01;
    expect(reason(await v.verify([sigFlip], { kind: 'host' }, now))).toBe('bad_signature');
    // change a character inside the role URI of the TBS: still parses, no longer verifies
    const tbsEdit = Buffer.from(host!);
    const at = tbsEdit.indexOf('role/host/host-1');
    expect(at).toBeGreaterThan(0);
    tbsEdit.write('role/host/host-2', at, 'latin1');
    expect(reason(await v.verify([new Uint8Array(tbsEdit)], { kind: 'host' }, now))).toBe('bad_signature');
  });

  it('refuses garbage with malformed', async () => {
    const v = await pki.verifier();
    expect(reason(await v.verify([], { kind: 'host' }))).toBe('malformed');
    expect(reason(await v.verify([new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01])], { kind: 'host' }))).toBe('malformed');
    const [host] = await der(pki, 'host-1');
    expect(reason(await v.verify([host!.subarray(0, host!.length - 20)], { kind: 'host' }))).toBe('malformed');
  });

  it('remembers issuer and signature per certificate, never the verdict: status, clock and policy are checked every time', async () => {
    const bundle = await loadTrustBundle(path.join(pki.dir, 'trust'));
    const v = createVerifier(bundle);
    const now = new Date(T0.getTime() + HOUR);
    const client = await der(pki, 'client-clientauth-1-1');
    expect(await v.verify(client, { kind: 'auth-client' }, now)).toMatchObject({ ok: true, peer: { clientAuthId: 1 } });
    // the same bytes again (issuer and signature now remembered): still judged against policy and clock
    expect(reason(await v.verify(client, { kind: 'host' }, now))).toBe('wrong_role');
    expect(reason(await v.verify(client, { kind: 'auth-client' }, new Date(T0.getTime() + 100 * 365 * 24 * HOUR)))).toBe('expired');
    // a ClientAuth retired after the first check refuses its certs from then on
    const ca = bundle.clientAuths.find((c) => c.id === 1)!;
    ca.status = 'retired';
    try {
      expect(reason(await v.verify(client, { kind: 'auth-client' }, now))).toBe('retired_clientauth');
    } finally {
      ca.status = 'active';
    }
    expect(reason(await v.verify(client, { kind: 'auth-client' }, now))).toBe('ok');
    // a bad signature stays bad, a foreign issuer stays unknown, on every call
    const forged = Uint8Array.from(client[0]!);
    forged[forged.length - 10]! ^= 0xff;
    const foreignClient = await der(foreign, 'client-clientauth-1-1');
    for (let i = 0; i < 2; i++) {
      expect(reason(await v.verify([forged], { kind: 'auth-client' }, now))).toMatch(/bad_signature|malformed/);
      expect(reason(await v.verify(foreignClient, { kind: 'auth-client' }, now))).toBe('unknown_issuer');
    }
  });

  it('fingerprints remembered by their bytes: the same bytes anywhere give the same hash, other bytes their own', async () => {
    const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
    const [client] = await der(pki, 'client-clientauth-1-1');
    const copy = Uint8Array.from(client!);
    expect(derFingerprint(client!)).toBe(sha(client!));
    // the same bytes in another array (each handshake brings its own), and as a view inside a larger one
    expect(derFingerprint(copy)).toBe(sha(client!));
    const padded = new Uint8Array(client!.length + 7);
    padded.set(client!, 3);
    expect(derFingerprint(padded.subarray(3, 3 + client!.length))).toBe(sha(client!));
    // an array it remembered, changed afterwards (to bytes never seen): the new bytes get their own hash
    const fresh = Uint8Array.from(client!);
    fresh[fresh.length - 5]! ^= 0x01;
    const before = derFingerprint(fresh);
    expect(before).toBe(sha(fresh));
    fresh[fresh.length - 6]! ^= 0x01;
    expect(derFingerprint(fresh)).toBe(sha(fresh));
    expect(derFingerprint(fresh)).not.toBe(before);
    expect(derFingerprint(client!)).toBe(sha(client!));
    // more certificates than it remembers: each still hashed right
    for (let i = 0; i < 20; i++) {
      const other = Uint8Array.from(client!);
      other[10]! ^= i + 1;
      expect(derFingerprint(other)).toBe(sha(other));
    }
    expect(derFingerprint(client!)).toBe(sha(client!));
  });

  it('accepts old client certs until their ClientAuth is retired, then refuses them', async () => {
    const now = new Date(T0.getTime() + 24 * HOUR);
    const oldClient = await der(pki, 'client-clientauth-1-1');
    const rot = await pki.rotateClientAuth({ now });
    expect(rot.clientAuth).toMatchObject({ name: 'clientauth-2', clientAuthId: 2, status: 'active' });
    expect(rot.active.map((e) => e.name)).toEqual(['clientauth-1', 'clientauth-2']);
    expect(rot.gameBuildFiles.map((f) => path.basename(f))).toEqual([
      'client-clientauth-2-1.pem',
      'client-clientauth-2-1.key.pem',
      'clientauth-2.pem',
      'master.pem',
    ]);
    // new client certs now come from the new ClientAuth
    const next = await pki.issueClient({ now });
    expect(next.entry.issuer).toBe('clientauth-2');

    // a server reloading trust/ after the rotation accepts both builds
    const v1 = createVerifier(await loadTrustBundle(pki.dir));
    expect(await v1.verify(oldClient, { kind: 'auth-client' }, now)).toMatchObject({ ok: true, peer: { clientAuthId: 1 } });
    expect(await v1.verify(pemToDerList(await pki.certPem(next.entry.name)), { kind: 'auth-client' }, now)).toMatchObject({
      ok: true,
      peer: { clientAuthId: 2 },
    });

    const retired = await pki.retireClientAuth(1);
    expect(retired.status).toBe('retired');
    // reopened from disk: the retirement is persisted in manifest and signed list
    const reopened = await openPki(pki.dir);
    expect(reopened.get('clientauth-1').status).toBe('retired');
    const v2 = createVerifier(await loadTrustBundle(path.join(pki.dir, 'trust')));
    const r = await v2.verify(oldClient, { kind: 'auth-client' }, now);
    expect(r).toEqual({
      ok: false,
      reason: 'retired_clientauth',
      message: "this game build's certificate was issued by a retired ClientAuth (clientauth-1): update the game",
    });
    expect(reason(await v2.verify(pemToDerList(await pki.certPem('client-clientauth-2-1')), { kind: 'auth-client' }, now))).toBe('ok');
    // no new certs from a retired ClientAuth, and the last active one cannot be retired
    await expect(pki.issueClient({ clientAuthId: 1, now })).rejects.toMatchObject({ code: 'clientauth_retired' });
    await expect(pki.retireClientAuth(2)).rejects.toMatchObject({ code: 'last_active_clientauth' });
    await expect(pki.retireClientAuth(1)).rejects.toMatchObject({ code: 'already_retired' });
  });
});
