/**
 * A real iyesmp PKI in a temp folder (made with src/pki), plus a foreign one, with the certificates
 * the transport tests need: server certs for auth and a host, client certs of an active, a retired
 * ClientAuth and an expired one, a session cert, and a cert from another PKI.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { initPki, type IyesmpVerifier, type Pki } from '../../src/pki/index.js';

export interface Creds {
  cert: string; // chain PEM (leaf first)
  key: string; // path to the key file or PEM
}

export interface Fixture {
  dir: string;
  pki: Pki;
  verifier: IyesmpVerifier;
  auth: Creds;
  host: Creds;
  /** client cert of the active ClientAuth-2 */
  client: Creds;
  /** client cert of ClientAuth-1, retired */
  retiredClient: Creds;
  expiredClient: Creds;
  /** client cert whose validity starts in five days */
  futureClient: Creds;
  /** client cert of a different PKI */
  foreignClient: Creds;
  /** the other PKI's verifier */
  foreignVerifier: IyesmpVerifier;
  /** a second auth cert, to test reload */
  auth2: Creds;
  session: Creds & { sessionId: string; playerId: string; fingerprint: string };
  cleanup(): Promise<void>;
}

async function creds(pki: Pki, name: string): Promise<Creds> {
  const e = pki.get(name);
  return { cert: await pki.chainPem(name), key: pki.path(e.keyFile!) };
}

export async function makeFixture(): Promise<Fixture> {
  const dir = await mkdtemp(path.join(tmpdir(), 'iyesmp-transport-'));
  try {
    return await build(dir);
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

async function build(dir: string): Promise<Fixture> {
  const past = new Date(Date.now() - 10 * 86_400_000);
  const common = {
    allowUnencryptedCaKeys: true,
    authDnsNames: ['localhost'],
    authIpAddresses: ['127.0.0.1', '::1'],
    hosts: [{ name: 'host-1', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'] }],
  };
  const pki = await initPki({ dir: path.join(dir, 'pki'), ...common, now: past });
  const foreign = await initPki({ dir: path.join(dir, 'foreign'), ...common, organization: 'someone else' });

  // ClientAuth-2 (also made in the past) signs the active client and the expired one; ClientAuth-1 is retired
  const rotated = await pki.rotateClientAuth({ now: past });
  const expired = await pki.issueClient({ name: 'client-expired', clientAuthId: 2, validityDays: 1, now: past });
  const future = await pki.issueClient({ name: 'client-future', clientAuthId: 2, validityDays: 30, now: new Date(Date.now() + 5 * 86_400_000) });
  const auth2 = await pki.issueAuth({ name: 'auth-2', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'] });
  await pki.retireClientAuth(1);

  const minter = await pki.sessionMinter();
  const sessionId = 'session-42';
  const playerId = 'player-7';
  const minted = await minter.mintWithNewKey({ sessionId, playerId, ttlSeconds: 3600 });

  const f: Fixture = {
    dir,
    pki,
    verifier: await pki.verifier(),
    auth: await creds(pki, 'auth'),
    host: await creds(pki, 'host-1'),
    client: { cert: rotated.client!.chainPem, key: rotated.client!.keyPath },
    retiredClient: await creds(pki, 'client-clientauth-1-1'),
    expiredClient: { cert: expired.chainPem, key: expired.keyPath },
    futureClient: { cert: future.chainPem, key: future.keyPath },
    foreignClient: await creds(foreign, 'client-clientauth-1-1'),
    foreignVerifier: await foreign.verifier(),
    auth2: { cert: auth2.chainPem, key: auth2.keyPath },
    session: {
      cert: minted.certPem + minted.issuerPem,
      key: minted.privateKeyPem,
      sessionId,
      playerId,
      fingerprint: minted.fingerprint,
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
  return f;
}
