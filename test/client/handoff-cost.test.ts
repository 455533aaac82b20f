/**
 * What a hand-off costs the client in key and certificate parsing. OpenSSL 3 takes 0.4-0.5 ms to
 * decode a private key (ten times a P-256 key generation) and about as long for a certificate;
 * at a burst of hand-offs the bench's player processes spent a third of their busy time there,
 * parsing the same key twice and the same certificate twice per ticket. The key made for the
 * confirmation is kept parsed, and a pushed hand-off's certificate is parsed once. Counted, not
 * timed: `node:crypto`'s parsers are wrapped to count their calls (they still do the real work).
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

const counts = vi.hoisted(() => ({ privateKeys: 0, certificates: 0 }));
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>();
  class CountedX509Certificate extends real.X509Certificate {
    constructor(...args: ConstructorParameters<typeof real.X509Certificate>) {
      super(...args);
      counts.certificates++;
    }
  }
  const createPrivateKey: typeof real.createPrivateKey = (key) => {
    counts.privateKeys++;
    return real.createPrivateKey(key);
  };
  return {
    ...real,
    default: { ...real, createPrivateKey, X509Certificate: CountedX509Certificate },
    createPrivateKey,
    X509Certificate: CountedX509Certificate,
  };
});

import { createPublicKey } from 'node:crypto';
import { AuthClient } from '../../src/client/index.js';
import { certifiedKey, newSessionKey, sessionKeyFromPem, ticketFromHandoff, type WireHandoff } from '../../src/client/handoff.js';
import { authFamily } from '../../src/protocol/index.js';
import { duplexPair } from '../support/duplex.js';
import { makePki, ScriptedPeer, wireHandoff, type PkiFixture } from './helpers.js';

let f: PkiFixture;
beforeAll(async () => {
  f = await makePki();
}, 60_000);
afterAll(async () => {
  await f.cleanup();
});

const reset = () => {
  counts.privateKeys = 0;
  counts.certificates = 0;
};

describe('parsing per hand-off', () => {
  it("a pushed hand-off (1.3) becomes a ticket with one certificate parsed and the confirmation's key not parsed again", async () => {
    const { client, server } = duplexPair();
    const peer = new ScriptedPeer(authFamily, server, { welcome: () => ({ serverName: 'auth-test', time: 1_700_000_000_000 }) });
    const c = await AuthClient.open(client, { gameVersion: '1.0.0' });
    try {
      const done = c.matchmake({ mode: 'duel' });
      await peer.respond((await peer.request('match.queue')).id, { ticketId: 'T1' });
      await peer.notify('match.found', {
        matchId: 'M1',
        ticketId: 'T1',
        mode: 'duel',
        playerCount: 2,
        confirmBy: Date.now() + 10_000,
        transport: 'quic',
        needsPublicKey: true,
      });
      const confirm = await peer.request('match.confirm');
      await peer.respond(confirm.id, {});
      const publicKey = (confirm.body as { publicKey: Uint8Array }).publicKey;
      const handoff = await wireHandoff(f.minter, { sessionId: 'S1', playerId: 'seat-1', publicKey });
      reset();
      await peer.notify('session.handoff', { matchId: 'M1', handoff });
      const ticket = await done;
      expect(createPublicKey(ticket.credentials!.keyPem).export({ format: 'der', type: 'spki' })).toEqual(Buffer.from(publicKey));
      // before: 2 and 2 (certifiedKey and ticketFromHandoff each parsed both)
      expect(counts).toEqual({ privateKeys: 0, certificates: 1 });
    } finally {
      await c.close();
    }
  });

  it('a key kept parsed is checked against the certificate without decoding its PEM; a key read from PEM is decoded once', async () => {
    const key = newSessionKey();
    const other = newSessionKey();
    const h = (await wireHandoff(f.minter, { sessionId: 'S2', playerId: 'seat-2', publicKey: key.publicKeyDer })) as unknown as WireHandoff<undefined>;
    reset();
    expect(certifiedKey(h, [other, key])).toBe(key);
    expect(ticketFromHandoff(h, key).credentials!.keyPem).toBe(key.keyPem);
    expect(counts.privateKeys).toBe(0);
    // from PEM (a key store's): parsed once, then kept
    const stored = sessionKeyFromPem(key.keyPem);
    reset();
    expect(certifiedKey(h, [stored])).toBe(stored);
    expect(ticketFromHandoff(h, stored).credentials!.keyPem).toBe(key.keyPem);
    expect(counts.privateKeys).toBe(0);
    // the wrong key is still refused
    expect(() => ticketFromHandoff(h, other)).toThrow(expect.objectContaining({ code: 'bad_server_data' }));
  });
});
