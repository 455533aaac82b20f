/**
 * What iyesmp-auth/1.3 changes in the client library, against scripted auth peers: the match
 * confirmation carries a fresh public key (only when 1.3 was negotiated and `match.found` asks for
 * one), the hand-off is pushed (`session.handoff`) and becomes the ticket without a claim; a
 * refused key falls back to `session.ready` + `session.claim` with a new key; the wait for a pushed
 * hand-off fails on the match's cancellation and has its own deadline, moved by `session.waiting`.
 * The confirmation's key is in the key store before it is sent, so a client restarted before the
 * hand-off claims the seat offered again with it.
 */
import { X509Certificate, createPublicKey } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AuthClient, CONFIRMED_KEYS_ID, MemoryKeyStore, type MatchmakingStatus } from '../../src/client/index.js';
import { authFamily } from '../../src/protocol/index.js';
import { rejection } from '../support/assert.js';
import { makePki, ScriptedPeer, wireHandoff, type PkiFixture } from './helpers.js';
import { duplexPair } from '../support/duplex.js';

const welcome = () => ({ serverName: 'auth-test', time: 1_700_000_000_000 });

let f: PkiFixture;
beforeAll(async () => {
  f = await makePki();
}, 60_000);
afterAll(async () => {
  await f.cleanup();
});

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn().catch(() => undefined);
});

async function connect(o: { maxProtocolMinor?: number; claimTimeoutMs?: number; keyStore?: MemoryKeyStore } = {}) {
  const { client, server } = duplexPair();
  const peer = new ScriptedPeer(authFamily, server, { welcome });
  const c = await AuthClient.open(client, { gameVersion: '1.0.0', ...o });
  cleanup.push(() => c.close());
  return { c, peer };
}

const found = (matchId: string, ticketId: string, extra: Record<string, unknown> = {}) => ({
  matchId,
  ticketId,
  mode: 'duel',
  playerCount: 2,
  confirmBy: Date.now() + 10_000,
  transport: 'quic',
  needsPublicKey: true,
  ...extra,
});

/** Queues through matchmake and answers up to the confirmation; returns what the confirm carried. */
async function toConfirm(peer: ScriptedPeer<typeof authFamily>, matchId: string, ticketId: string) {
  await peer.respond((await peer.request('match.queue')).id, { ticketId });
  await peer.notify('match.found', found(matchId, ticketId));
  const confirm = await peer.request('match.confirm');
  await peer.respond(confirm.id, {});
  return confirm.body as { matchId: string; publicKey?: Uint8Array };
}

describe('iyesmp-auth/1.3 in the client', () => {
  it('negotiates 1.4; maxProtocolMinor: 3 announces 1.3, 2 announces 1.2', async () => {
    expect((await connect()).c.protocolVersion).toEqual({ major: 1, minor: 4 });
    expect((await connect({ maxProtocolMinor: 3 })).c.protocolVersion).toEqual({ major: 1, minor: 3 });
    expect((await connect({ maxProtocolMinor: 2 })).c.protocolVersion).toEqual({ major: 1, minor: 2 });
  });

  it('matchmake: the confirm carries a fresh public key and the pushed hand-off is the ticket, with no claim', async () => {
    const { c, peer } = await connect();
    const phases: MatchmakingStatus['phase'][] = [];
    const readies: unknown[] = [];
    c.on('sessionReady', (r) => readies.push(r));
    const done = c.matchmake({ mode: 'duel', onStatus: (s) => phases.push(s.phase) });
    const body = await toConfirm(peer, 'M1', 'T1');
    expect(body).toMatchObject({ matchId: 'M1', claim: true });
    expect(createPublicKey({ key: Buffer.from(body.publicKey!), format: 'der', type: 'spki' }).asymmetricKeyType).toBe('ec');
    await peer.notify('session.handoff', {
      matchId: 'M1',
      handoff: await wireHandoff(f.minter, { sessionId: 'S1', playerId: 'seat-1', publicKey: body.publicKey }),
    });
    const ticket = await done;
    expect(ticket).toMatchObject({ sessionId: 'S1', playerId: 'seat-1', transport: 'quic', serverMadeKey: false });
    // the private key of the key pair whose public half went with the confirmation, and the cert's
    expect(new X509Certificate(ticket.credentials!.certPem).publicKey.export({ format: 'der', type: 'spki' })).toEqual(Buffer.from(body.publicKey!));
    expect(createPublicKey(ticket.credentials!.keyPem).export({ format: 'der', type: 'spki' })).toEqual(Buffer.from(body.publicKey!));
    expect(phases).toEqual(['queued', 'found', 'confirmed', 'claiming']);
    expect(readies).toEqual([]);
    expect(peer.events.filter((e) => e.kind === 'request' && (e as { type: string }).type === 'session.claim')).toEqual([]);
  });

  it('(1.4) a push with sameChain takes the issuer chain of the last push that carried one', async () => {
    const { c, peer } = await connect();
    const pems: string[] = [];
    for (const [m, t, s] of [
      ['M1', 'T1', 'S1'],
      ['M2', 'T2', 'S2'],
    ] as const) {
      const done = c.matchmake({ mode: 'duel' });
      const body = await toConfirm(peer, m, t);
      const handoff = (await wireHandoff(f.minter, { sessionId: s, playerId: 'seat-1', publicKey: body.publicKey })) as { transport: { chain: Uint8Array[] } };
      // the second goes as a 1.4 server sends it: the chain left out
      if (m === 'M2')
        await peer.notify('session.handoff', { matchId: m, handoff: { ...handoff, transport: { ...handoff.transport, chain: [] } }, sameChain: true });
      else await peer.notify('session.handoff', { matchId: m, handoff });
      const ticket = await done;
      expect(ticket.sessionId).toBe(s);
      pems.push(ticket.credentials!.certPem);
    }
    // the leaf, then the same issuer chain both times
    const certs = (pem: string) => pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
    expect(certs(pems[0]!)).toHaveLength(2);
    expect(certs(pems[1]!)).toHaveLength(2);
    expect(certs(pems[1]!)[1]).toBe(certs(pems[0]!)[1]);
    expect(certs(pems[1]!)[0]).not.toBe(certs(pems[0]!)[0]);
  });

  it('no key when match.found asks for none (netcode), and none to a 1.2 server', async () => {
    const a = await connect();
    const doneA = a.c.matchmake({ mode: 'duel' });
    await a.peer.respond((await a.peer.request('match.queue')).id, { ticketId: 'T2' });
    await a.peer.notify('match.found', found('M2', 'T2', { transport: 'netcode', needsPublicKey: false }));
    const confirmA = await a.peer.request('match.confirm');
    expect(confirmA.body).toEqual({ matchId: 'M2', claim: true });
    await a.peer.respond(confirmA.id, {});
    const token = new Uint8Array(2048).fill(7);
    await a.peer.notify('session.handoff', {
      matchId: 'M2',
      handoff: {
        sessionId: 'S2',
        playerId: 'seat-2',
        expiresAt: Date.now() + 30_000,
        host: { address: { host: '127.0.0.1', port: 40000 }, tlsName: '127.0.0.1' },
        transport: { kind: 'netcode', connectToken: token },
      },
    });
    expect(await doneA).toMatchObject({ sessionId: 'S2', transport: 'netcode', connectToken: token });

    const b = await connect({ maxProtocolMinor: 2 });
    void b.c.matchmake({ mode: 'duel' }).catch(() => undefined);
    const confirmB = await toConfirm(b.peer, 'M3', 'T3');
    expect(confirmB).toEqual({ matchId: 'M3' }); // a 1.2 server gets no key, and answers with session.ready
  });

  it('a refused key: session.key_refused, then session.ready, and the seat is claimed with a new key', async () => {
    const { c, peer } = await connect();
    const refused: unknown[] = [];
    c.on('sessionKeyRefused', (r) => refused.push(r));
    const done = c.matchmake({ mode: 'duel' });
    const body = await toConfirm(peer, 'M4', 'T4');
    await peer.notify('session.key_refused', { sessionId: 'S4', matchId: 'M4', code: 'bad_request', reason: 'the public key was refused: no' });
    await peer.notify('session.ready', { sessionId: 'S4', transport: 'quic', needsPublicKey: true, matchId: 'M4', claimBy: Date.now() + 30_000 });
    const claim = await peer.request('session.claim');
    const claimKey = (claim.body as { publicKey: Uint8Array }).publicKey;
    expect(Buffer.from(claimKey).equals(Buffer.from(body.publicKey!))).toBe(false); // a fresh key, not the refused one
    await peer.respond(claim.id, await wireHandoff(f.minter, { sessionId: 'S4', playerId: 'seat-4', publicKey: claimKey }));
    expect(await done).toMatchObject({ sessionId: 'S4', playerId: 'seat-4' });
    expect(refused).toEqual([{ sessionId: 'S4', matchId: 'M4', code: 'bad_request', reason: 'the public key was refused: no' }]);
  });

  it('a seat offered again without needsPublicKey (after a reconnect) is claimed with the key of the confirmation', async () => {
    const { c, peer } = await connect();
    const done = c.matchmake({ mode: 'duel' });
    const body = await toConfirm(peer, 'M6', 'T6');
    await peer.notify('session.ready', { sessionId: 'S6', transport: 'quic', needsPublicKey: false, matchId: 'M6', claimBy: Date.now() + 30_000 });
    const claim = await peer.request('session.claim');
    expect((claim.body as { publicKey?: Uint8Array }).publicKey).toBeUndefined();
    await peer.respond(claim.id, await wireHandoff(f.minter, { sessionId: 'S6', playerId: 'seat-6', publicKey: body.publicKey }));
    expect(await done).toMatchObject({ sessionId: 'S6' });
  });

  it('waitForHandoff after confirmMatch: a cancelled match fails the wait (no session.ready will come)', async () => {
    const { c, peer } = await connect();
    const seen = c.next('matchFound');
    await peer.notify('match.found', found('M7', 'T7'));
    await seen;
    const confirmed = c.confirmMatch('M7');
    await peer.respond((await peer.request('match.confirm')).id, {});
    await confirmed;
    const wait = c.waitForHandoff();
    await peer.notify('match.cancelled', { matchId: 'M7', reason: 'session failed: not every player claimed its seat in time', requeued: false });
    expect((await rejection(wait)).code).toBe('match_cancelled');
  });

  it('the pushed hand-off has a deadline (claimTimeoutMs after confirmBy), moved later by session.waiting', async () => {
    const { c, peer } = await connect({ claimTimeoutMs: 300 });
    const seen = c.next('matchFound');
    await peer.notify('match.found', found('M8', 'T8', { confirmBy: Date.now() }));
    await seen;
    const confirmed = c.confirmMatch('M8');
    await peer.respond((await peer.request('match.confirm')).id, {});
    await confirmed;
    const t0 = Date.now();
    const wait = c.waitForHandoff();
    // the server looks for a host until 500 ms from now: our wait lasts past that (plus a host's ack)
    await peer.notify('session.waiting', { matchId: 'M8', since: Date.now(), attempt: 1, giveUpAt: Date.now() + 500, reason: 'no game host is free' });
    await new Promise((r) => setTimeout(r, 600));
    await peer.notify('session.handoff', { matchId: 'M8', handoff: await wireHandoff(f.minter, { sessionId: 'S8', playerId: 'seat-8' }) });
    expect(await wait).toMatchObject({ sessionId: 'S8', serverMadeKey: true });
    expect(Date.now() - t0).toBeGreaterThan(300);

    const { c: c2, peer: peer2 } = await connect({ claimTimeoutMs: 200 });
    const seen2 = c2.next('matchFound');
    await peer2.notify('match.found', found('M9', 'T9', { confirmBy: Date.now() }));
    await seen2;
    const confirmed2 = c2.confirmMatch('M9');
    await peer2.respond((await peer2.request('match.confirm')).id, {});
    await confirmed2;
    const e = await rejection(c2.waitForHandoff());
    expect(e.code).toBe('timeout');
    expect(e.message).toMatch(/not handed over in time/);
  });

  it('a confirmed match offered by session.ready after all is claimed under the claim deadline, and leaves no stale deadline behind', async () => {
    const { c, peer } = await connect({ claimTimeoutMs: 200 });
    const seen = c.next('matchFound');
    await peer.notify('match.found', found('M10', 'T10', { confirmBy: Date.now() }));
    await seen;
    const confirmed = c.confirmMatch('M10');
    const confirm = await peer.request('match.confirm');
    await peer.respond(confirm.id, {});
    await confirmed;
    const wait = c.waitForHandoff();
    await peer.notify('session.ready', { sessionId: 'S10', transport: 'quic', needsPublicKey: true, matchId: 'M10', claimBy: Date.now() + 30_000 });
    const claim = await peer.request('session.claim');
    // the key of the confirmation is kept for the claim
    expect((claim.body as { publicKey: Uint8Array }).publicKey).toEqual((confirm.body as { publicKey: Uint8Array }).publicKey);
    await new Promise((r) => setTimeout(r, 400)); // past the pushed hand-off's deadline: the claim's applies
    await peer.respond(
      claim.id,
      await wireHandoff(f.minter, { sessionId: 'S10', playerId: 'seat-10', publicKey: (claim.body as { publicKey: Uint8Array }).publicKey }),
    );
    expect(await wait).toMatchObject({ sessionId: 'S10' });
    const later = await rejection(c.waitForHandoff({ timeoutMs: 200 }));
    expect(later.message).toBe('waiting for the game session: no answer within 200 ms');
  });

  it("matchmake's timeoutMs, once the match is confirmed, lasts until the pushed hand-off's own deadline (as it does for a claim)", async () => {
    const { c, peer } = await connect({ claimTimeoutMs: 5_000 });
    const done = c.matchmake({ mode: 'duel', timeoutMs: 300 });
    const body = await toConfirm(peer, 'M11', 'T11');
    await new Promise((r) => setTimeout(r, 500)); // past timeoutMs
    await peer.notify('session.handoff', {
      matchId: 'M11',
      handoff: await wireHandoff(f.minter, { sessionId: 'S11', playerId: 'seat-11', publicKey: body.publicKey }),
    });
    expect(await done).toMatchObject({ sessionId: 'S11' });
  });

  it('a client restarted before the hand-off claims the seat offered again (no match named) with the confirmed key from its store; the late push is not a new hand-off', async () => {
    const keyStore = new MemoryKeyStore();
    const first = await connect({ keyStore });
    const queued = first.c.queue('duel');
    await first.peer.respond((await first.peer.request('match.queue')).id, { ticketId: 'T20' });
    await queued;
    const isFound = first.c.next('matchFound');
    await first.peer.notify('match.found', found('M20', 'T20'));
    await isFound;
    const confirming = first.c.confirmMatch('M20');
    const confirm = await first.peer.request('match.confirm');
    const publicKey = (confirm.body as { publicKey: Uint8Array }).publicKey;
    // stored before the confirmation went out
    expect(JSON.parse((await keyStore.get(CONFIRMED_KEYS_ID))!)).toMatchObject([{ matchId: 'M20' }]);
    await first.peer.respond(confirm.id, {});
    await confirming;
    await first.c.close();

    // the restarted game logs in again: the server offers the seat without the match and asks for no key
    const { c, peer } = await connect({ keyStore });
    await peer.notify('session.ready', { sessionId: 'S20', transport: 'quic', needsPublicKey: false, claimBy: Date.now() + 30_000 });
    const waiting = c.waitForHandoff();
    const claim = await peer.request('session.claim');
    expect(claim.body).toEqual({ sessionId: 'S20' });
    const handoff = await wireHandoff(f.minter, { sessionId: 'S20', playerId: 'seat-20', publicKey });
    await peer.respond(claim.id, handoff);
    const ticket = await waiting;
    expect(createPublicKey(ticket.credentials!.keyPem).export({ format: 'der', type: 'spki' })).toEqual(Buffer.from(publicKey));
    // the key now belongs to the session
    expect(await keyStore.get(CONFIRMED_KEYS_ID)).toBeUndefined();
    expect(await keyStore.get('S20')).toBe(ticket.credentials!.keyPem);

    // the host's ack also pushes the seat to this connection: the next wait does not take it again
    const pushed = c.next('sessionHandoff');
    await peer.notify('session.handoff', { matchId: 'M20', handoff });
    await pushed;
    const next = c.waitForHandoff();
    await peer.notify('session.ready', { sessionId: 'S21', transport: 'quic', needsPublicKey: true, claimBy: Date.now() + 30_000 });
    const claim2 = await peer.request('session.claim');
    expect(claim2.body).toMatchObject({ sessionId: 'S21' });
    const key2 = (claim2.body as { publicKey: Uint8Array }).publicKey;
    await peer.respond(claim2.id, await wireHandoff(f.minter, { sessionId: 'S21', playerId: 'seat-20', publicKey: key2 }));
    expect(await next).toMatchObject({ sessionId: 'S21' });
  });

  it('offered again with needsPublicKey after a restart, a seat whose certificate still came for the confirmed key is taken with that key', async () => {
    const keyStore = new MemoryKeyStore();
    const first = await connect({ keyStore });
    const queued = first.c.queue('duel');
    await first.peer.respond((await first.peer.request('match.queue')).id, { ticketId: 'T22' });
    await queued;
    const isFound = first.c.next('matchFound');
    await first.peer.notify('match.found', found('M22', 'T22'));
    await isFound;
    const confirming = first.c.confirmMatch('M22');
    const confirm = await first.peer.request('match.confirm');
    const confirmedKey = (confirm.body as { publicKey: Uint8Array }).publicKey;
    await first.peer.respond(confirm.id, {});
    await confirming;
    await first.c.close();

    // back before the server had certified the confirmed key: it asks for a key, the client sends a
    // fresh one, and the server's certificate for the confirmation still comes last
    const { c, peer } = await connect({ keyStore });
    await peer.notify('session.ready', { sessionId: 'S22', transport: 'quic', needsPublicKey: true, claimBy: Date.now() + 30_000 });
    const waiting = c.waitForHandoff();
    const claim = await peer.request('session.claim');
    expect(Buffer.from((claim.body as { publicKey: Uint8Array }).publicKey)).not.toEqual(Buffer.from(confirmedKey));
    await peer.respond(claim.id, await wireHandoff(f.minter, { sessionId: 'S22', playerId: 'seat-22', publicKey: confirmedKey }));
    const ticket = await waiting;
    expect(createPublicKey(ticket.credentials!.keyPem).export({ format: 'der', type: 'spki' })).toEqual(Buffer.from(confirmedKey));
    expect(await keyStore.get('S22')).toBe(ticket.credentials!.keyPem);
    expect(await keyStore.get(CONFIRMED_KEYS_ID)).toBeUndefined();
  });
});
