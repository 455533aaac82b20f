/**
 * The QUIC host's TLS-time policy: a refused session certificate is reported with why, in words
 * (it once read "... not no-such-session-here").
 */
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionPolicy } from '../../src/host/transports/quic/player-endpoint.js';
import type { HostSessions } from '../../src/host/sessions.js';
import { VerifyGate, type Refusal } from '../../src/transport/verify.js';
import { makeFixture, type Fixture } from '../transport/fixture.js';

let f: Fixture;
beforeAll(async () => {
  f = await makeFixture();
}, 120_000);
afterAll(async () => {
  await f?.cleanup();
});

const chainOf = (pem: string): Uint8Array[] =>
  (pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []).map((p) => new Uint8Array(new X509Certificate(p).raw));

/** A table with at most one session, whose players are given. */
function table(players?: Array<{ playerId: string; fingerprint?: string }>): Pick<HostSessions, 'session'> {
  return { session: (id: string) => (players && id === f.session.sessionId ? { players } : undefined) } as unknown as Pick<HostSessions, 'session'>;
}

async function refusalFor(t: Pick<HostSessions, 'session'>, chain = chainOf(f.session.cert)): Promise<Refusal | undefined> {
  const gate = new VerifyGate(f.verifier, sessionPolicy(t), undefined, () => undefined);
  const r = await gate.verify(chain);
  return r.ok ? undefined : r.refusal;
}

describe('sessionPolicy', () => {
  it('names the session that does not run here', async () => {
    const r = await refusalFor(table());
    expect(r).toMatchObject({ reason: 'wrong_session', message: `session ${f.session.sessionId} does not run on this host` });
  });

  it('names the player that is not expected, or has no certificate seat', async () => {
    expect(await refusalFor(table([{ playerId: 'someone-else', fingerprint: 'ab' }]))).toMatchObject({
      reason: 'wrong_session',
      message: `player ${f.session.playerId} is not expected in session ${f.session.sessionId}`,
    });
    expect((await refusalFor(table([{ playerId: f.session.playerId }])))?.message).toContain('joins over netcode');
  });

  it('admits the announced certificate, refuses another, and refuses a non-session certificate for its role', async () => {
    expect(await refusalFor(table([{ playerId: f.session.playerId, fingerprint: f.session.fingerprint }]))).toBeUndefined();
    expect((await refusalFor(table([{ playerId: f.session.playerId, fingerprint: '00'.repeat(32) }])))?.reason).toBe('wrong_fingerprint');
    expect((await refusalFor(table(), chainOf(f.client.cert)))?.reason).toBe('wrong_role');
  });

  it('refuses a certificate that does not verify for that, whatever the table says', async () => {
    const foreign = await refusalFor(table(), chainOf(f.foreignClient.cert));
    expect(foreign?.reason).not.toBe('wrong_session');
  });
});
