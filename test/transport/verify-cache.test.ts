/**
 * What the server remembers about a client certificate between logins (its fingerprint by its
 * bytes, its issuer and signature, the gate's accepted peers) never outlives what can change at run
 * time: the same certificate, accepted over a real connection, is refused once its ClientAuth is
 * retired, once the trust list no longer holds its issuer, and once it has expired.
 */
import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createVerifier, loadTrustBundle } from '../../src/pki/index.js';
import { IyesmpError } from '../../src/errors.js';
import { failureOf } from '../support/assert.js';
import { authClientOpts, authServerOpts, connect, echo, roundTrip, startServer, transportSuite } from './helpers.js';

const f = transportSuite();
const T = 60_000;
const refused = (p: Promise<unknown>): Promise<IyesmpError> => failureOf(p, 'connection succeeded but should have been refused');

/** The fixture's trust list with ClientAuth-1 still active (as before its retirement), and that CA. */
async function trustBeforeRetirement() {
  const bundle = await loadTrustBundle(path.join(f.pki.dir, 'trust'));
  const ca = bundle.clientAuths.find((c) => c.id === 1)!;
  ca.status = 'active';
  return { bundle, ca };
}

describe('verification remembered across logins', () => {
  it(
    'a ClientAuth retired after its certificate was accepted: the same certificate is refused',
    async () => {
      const { bundle, ca } = await trustBeforeRetirement();
      const server = await startServer(authServerOpts(f, { verifier: createVerifier(bundle) }));
      echo(server);
      const dial = () => connect(authClientOpts(f, server.port, f.retiredClient));
      const first = await dial();
      expect(first.peer.role).toBe('auth');
      expect((await roundTrip(first, Buffer.from('before'))).toString()).toBe('before');
      // twice: the second login is the one served from what the first left behind
      await (await dial()).close('again', { force: true });

      // retired in the running verifier's trust data (what a reload of the signed list changes)
      ca.status = 'retired';
      const e = await refused(dial());
      expect(e.code).toBe('retired_clientauth');

      // and a verifier built from the reloaded trust list on disk refuses it too, after the old one accepts it again
      ca.status = 'active';
      await (await dial()).close('again', { force: true });
      server.setVerifier(f.verifier);
      expect((await refused(dial())).code).toBe('retired_clientauth');
      expect(server.stats().refused.retired_clientauth).toBe(2);
    },
    T,
  );

  it(
    'a trust list rotated so that it no longer holds the issuer: the accepted certificate becomes unknown_issuer',
    async () => {
      const server = await startServer(authServerOpts(f));
      echo(server);
      const dial = () => connect(authClientOpts(f, server.port));
      await (await dial()).close('one', { force: true });
      await (await dial()).close('two', { force: true });
      server.setVerifier(f.foreignVerifier);
      expect((await refused(dial())).code).toBe('unknown_issuer');
      server.setVerifier(f.verifier);
      await (await dial()).close('three', { force: true });
    },
    T,
  );

  it(
    'a certificate accepted while valid is refused once the clock passes its expiry',
    async () => {
      let now = Date.now();
      const server = await startServer(authServerOpts(f, { now: () => new Date(now) }));
      echo(server);
      const dial = () => connect(authClientOpts(f, server.port));
      await (await dial()).close('one', { force: true });
      await (await dial()).close('two', { force: true });
      const notAfter = new Date(new X509Certificate(f.client.cert).validTo).getTime();
      now = notAfter + 1000;
      const why = new Promise<string>((resolve) => server.once('refused', (r) => resolve(r.message)));
      const e = await refused(dial());
      expect(e.code).toBe('expired');
      expect(await why).toMatch(/expired at/);
    },
    T,
  );
});
