/**
 * netcode.io as a host transport, end to end on loopback: matchmaking for a netcode game mode, the
 * Auth server handing off connect tokens, players on `NetcodeSessionClient`, the game API, results,
 * and the host dropping sources the Auth server did not announce before netcode parses them.
 */
import { decodeGameMessage } from '../../src/netcode/session/game-messages.js';
import { ReliableChannel } from '../../src/netcode/session/reliable.js';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AuthServer } from '../../src/auth/server.js';
import type { WireHandoff } from '../../src/auth/handoff/index.js';
import type { SessionRecord } from '../../src/auth/sessions.js';
import type { GameSession, HostGame } from '../../src/host/game.js';
import type { HostServer } from '../../src/host/server.js';
import { deriveNetcodeClientId, issueNetcodeHandoff } from '../../src/netcode/handoff.js';
import { resolveNetcodeHost, resolveNetcodeIssuer, type ResolvedNetcodeIssuer } from '../../src/netcode/config.js';
import { NetcodeSessionClient } from '../../src/netcode/session/session-client.js';
import { NetcodeClientCore } from '../../src/netcode/client.js';
import { IyesmpError } from '../../src/errors.js';
import { authClient, makeFx, startAuth, startHost, until, type Fx, type ScriptedClient } from './helpers.js';
import { freeUdpPort } from '../support/net.js';

type Bytes = Uint8Array;

/** Relays each player's bytes to the others; a message [0xff] from a player ends the game with that player winning. */
function bytesGame(seen: GameSession<Bytes>[], received: Array<{ playerId: string; data: number[] }>): HostGame<Bytes> {
  return {
    begin(s) {
      seen.push(s);
      s.on('message', ({ playerId, ext }) => {
        const data = [...(ext ?? new Uint8Array())];
        received.push({ playerId, data });
        if (data[0] === 0xff) {
          s.end({
            outcomes: Object.fromEntries(
              s.players.map((p) => [p.playerId, { result: p.playerId === playerId ? 'win' : 'loss', placement: p.playerId === playerId ? 1 : 2 }]),
            ),
          });
        } else s.broadcast({ ext: Uint8Array.from([0xee, ...data]) }, { except: playerId });
      });
    },
  };
}

/** Sends (again) every 100 ms until `done()`; UDP may drop a datagram even on loopback under load. */
async function repeatUntil(send: () => void, done: () => boolean, what: string): Promise<void> {
  await until(
    () => {
      if (done()) return true;
      send();
      return false;
    },
    what,
    20_000,
  );
}

let fx: Fx;
let auth: AuthServer;
let host: HostServer<Bytes>;
let issuer: ResolvedNetcodeIssuer;
const games: GameSession<Bytes>[] = [];
const received: Array<{ playerId: string; data: number[] }> = [];
const clients: ScriptedClient[] = [];
const seats: NetcodeSessionClient[] = [];
const ended: SessionRecord[] = [];
/** the host's warn lines (the rate-limited drop log) */
const lines: Array<Record<string, any>> = [];

/** The first datagram a netcode client sends with this token: a well-formed connection request. */
function connectionRequest(token: Uint8Array): Uint8Array {
  const c = new NetcodeClientCore(0);
  c.connect(token, 0);
  c.update(0);
  const d = c.takeDatagrams()[0];
  if (!d) throw new Error('the client core sent no connection request');
  return d.data;
}

/** Sends `data` `times` times from a socket bound to `ip` (loopback has all of 127/8). */
async function sendFrom(ip: string, data: Uint8Array, to: { host: string; port: number }, times: number): Promise<void> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, ip, () => resolve());
  });
  for (let i = 0; i < times; i++) await new Promise<void>((resolve, reject) => s.send(data, to.port, to.host, (e) => (e ? reject(e) : resolve())));
  await new Promise<void>((resolve) => s.close(() => resolve()));
}

beforeAll(async () => {
  fx = await makeFx();
  // one key file, read by both sides through their config resolvers
  const keyFile = path.join(fx.dir, 'netcode.key');
  await writeFile(keyFile, randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
  issuer = await resolveNetcodeIssuer({ netcode: { private_key_file: keyFile, protocol_id: '0x1234', token_expire_seconds: 30, timeout_seconds: 10 } });
  const nc = await resolveNetcodeHost({
    host: { public_address: '127.0.0.1' },
    listen: { address: '127.0.0.1' },
    transports: { netcode: { port: await freeUdpPort(), private_key_file: keyFile, protocol_id: '0x1234', max_clients: 16 } },
  });
  auth = await startAuth(fx, { modeTransports: { 'nc-duel': 'netcode' }, netcode: issuer, joinTimeoutMs: 20_000 });
  auth.on('session-ended', (r) => ended.push(r));
  // a minimum above the session's size: the two-seat sessions below need both players
  const logger = pino({ level: 'warn' }, { write: (t: string) => void lines.push(JSON.parse(t)) });
  host = await startHost<Bytes>(fx, auth.hostPort, bytesGame(games, received), { netcode: nc, minPlayers: 5, logger, dropLogIntervalMs: 0 });
  await until(() => auth.registry.get('host-1')?.transports.includes('netcode'), 'host registered with netcode');
}, 60_000);

afterAll(async () => {
  for (const s of seats) await s.close().catch(() => undefined);
  for (const c of clients) await c.close();
  await host?.close({ graceMs: 200 });
  await auth?.close({ graceMs: 200 });
  await fx?.cleanup();
}, 30_000);

/** Two guests queue for the netcode mode, confirm, and claim their seats (no public key). */
async function matchTwo(): Promise<Array<{ client: ScriptedClient; handoff: WireHandoff; accountId: string }>> {
  const pair = await Promise.all([authClient(fx, auth.clientPort), authClient(fx, auth.clientPort)]);
  clients.push(...pair);
  const logins = await Promise.all(pair.map((c, i) => c.proto.request('account.login', { method: 'guest', displayName: `N${i}` })));
  const tickets = await Promise.all(pair.map((c) => c.proto.request('match.queue', { mode: 'nc-duel' })));
  const found = await Promise.all(pair.map((c, i) => c.inbox.next('match.found', (b) => b.ticketId === tickets[i]!.ticketId)));
  await Promise.all(pair.map((c) => c.proto.request('match.confirm', { matchId: found[0]!.matchId as string })));
  const ready = await Promise.all(pair.map((c) => c.inbox.next('session.ready', (b) => b.matchId === found[0]!.matchId)));
  expect(ready[0]).toMatchObject({ transport: 'netcode', needsPublicKey: false });
  const handoffs = await Promise.all(pair.map((c) => c.proto.request('session.claim', { sessionId: ready[0]!.sessionId as string }, { timeoutMs: 30_000 })));
  return pair.map((client, i) => ({ client, handoff: handoffs[i]!, accountId: logins[i]!.accountId }));
}

describe('netcode sessions through the Auth and Host servers', () => {
  it('matches two players on netcode, hands off tokens, runs the game both ways and reports the results', { timeout: 120_000 }, async () => {
    const [a, b] = await matchTwo();
    const sessionId = a!.handoff.sessionId;
    for (const p of [a!, b!]) {
      expect(p.handoff.transport.kind).toBe('netcode');
      expect(p.handoff.host.address).toEqual(host.netcode!.endpoint().address);
    }
    expect(host.domain.sessions.session(sessionId)).toMatchObject({ transport: 'netcode', minPlayers: 2 });
    // claiming again (a client that restarted) gives a fresh token for the same seat
    const again = await a!.client.proto.request('session.claim', { sessionId }, { timeoutMs: 10_000 });
    expect(again).toMatchObject({ sessionId, playerId: a!.handoff.playerId, transport: { kind: 'netcode' } });
    if (again.transport.kind !== 'netcode' || a!.handoff.transport.kind !== 'netcode') throw new Error('expected netcode hand-offs');
    expect(Buffer.from(again.transport.connectToken).equals(Buffer.from(a!.handoff.transport.connectToken))).toBe(false);

    // a token for another session's seat: authentic, but its client id is not this seat's
    const wrong = issueNetcodeHandoff({
      ...issuer,
      host: { publicAddresses: [host.netcode!.endpoint().address] },
      sessionId,
      playerId: a!.handoff.playerId,
      clientId: deriveNetcodeClientId('some-other-session', a!.handoff.playerId),
    });
    const impostor = new NetcodeSessionClient({ playerId: a!.handoff.playerId });
    seats.push(impostor);
    await impostor.connect(wrong.connectToken);
    const refused = await impostor.setReady(true).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(IyesmpError);
    expect((refused as IyesmpError).code).toBe('wrong_client_id');
    // and a token naming a session this host does not run
    const elsewhere = issueNetcodeHandoff({
      ...issuer,
      host: { publicAddresses: [host.netcode!.endpoint().address] },
      sessionId: 'not-on-this-host',
      playerId: 'x',
    });
    const stray = new NetcodeSessionClient({ playerId: 'x' });
    seats.push(stray);
    await stray.connect(elsewhere.connectToken);
    await expect(stray.setReady(true)).rejects.toMatchObject({ code: 'unknown_session' });
    expect(host.domain.sessions.session(sessionId)?.players.every((p) => p.status === 'expected')).toBe(true);

    // the real players connect with their tokens, ready up, and the game begins
    const [sa, sb] = [a!, b!].map((p) => new NetcodeSessionClient({ playerId: p.handoff.playerId }));
    seats.push(sa!, sb!);
    const gotA: number[][] = [];
    const gotB: number[][] = [];
    sa!.on('game', (d) => gotA.push([...d]));
    sb!.on('game', (d) => gotB.push([...d]));
    for (const [s, p] of [
      [sa!, a!],
      [sb!, b!],
    ] as const) {
      if (p.handoff.transport.kind !== 'netcode') throw new Error('expected a netcode hand-off');
      await s.connect(p.handoff.transport.connectToken);
    }
    await Promise.all([sa!.setReady(true), sb!.setReady(true)]);
    await Promise.all([sa!.waitForBegin(), sb!.waitForBegin()]);
    const game = await until(() => games.find((g) => g.id === sessionId), 'game begin');
    expect(game.transportKind).toBe('netcode');
    expect(game.players.map((p) => p.playerId).sort()).toEqual([a!.handoff.playerId, b!.handoff.playerId].sort());

    // player -> game -> other player (relayed by the game)
    await repeatUntil(
      () => sa!.send(Uint8Array.from([1, 2, 3])),
      () => gotB.some((d) => d.join() === '238,1,2,3'),
      'relay to B',
    );
    expect(received.some((m) => m.playerId === a!.handoff.playerId && m.data.join() === '1,2,3')).toBe(true);
    expect(gotA.some((d) => d.join() === '238,1,2,3')).toBe(false);
    // game -> one player
    await repeatUntil(
      () => expect(game.send(a!.handoff.playerId, { ext: Uint8Array.from([42]) })).toBe(true),
      () => gotA.some((d) => d[0] === 42),
      'send to A',
    );
    // structured game data goes on the reliable channel next to the datagrams
    const channel = new ReliableChannel();
    const structured: unknown[] = [];
    sa!.on('reliable', (p) => {
      const r = channel.receive(p);
      if (r.ok) for (const m of r.messages) structured.push(decodeGameMessage(m));
    });
    expect(game.send(a!.handoff.playerId, { ext: { not: 'bytes' } as unknown as Bytes, channel: 'chat' })).toBe(true);
    await until(() => structured.length > 0, 'the structured message');
    expect(structured[0]).toEqual({ type: 'msg', ext: { not: 'bytes' }, channel: 'chat' });
    await expect(game.openStream(a!.handoff.playerId, { purpose: 'state' })).rejects.toMatchObject({ code: 'not_supported' });

    // B ends the game (winner B); its players are let go and the results reach the Auth server
    await repeatUntil(
      () => sb!.send(Uint8Array.from([0xff])),
      () => game.ended,
      'game end',
    );
    const record = await until(() => ended.find((r) => r.id === sessionId), 'results at the auth server', 30_000);
    expect(record.state).toBe('ended');
    expect(record.transport).toBe('netcode');
    const results = (record.results as { results: Array<{ playerId: string; outcome?: string; rank?: number }> }).results;
    expect(results.find((r) => r.playerId === b!.accountId)).toMatchObject({ outcome: 'win', rank: 1 });
    expect(results.find((r) => r.playerId === a!.accountId)).toMatchObject({ outcome: 'loss', rank: 2 });
    await until(() => sa!.bye && sb!.bye, 'bye to both players');
    expect(sa!.bye!.code).toBe('session_ended');
    // the Auth server's acknowledgements of the results and telemetry may land after the bye
    await until(() => host.domain.outbox.size === 0, 'the outbox emptied by the acks');
    expect(host.domain.outbox.size).toBe(0);
  });

  it('drops a valid connection request from an address the Auth server did not announce before parsing; the players get in; the address is dropped again after the session', {
    timeout: 120_000,
  }, async () => {
    const [a, b] = await matchTwo();
    const sessionId = a!.handoff.sessionId;
    if (a!.handoff.transport.kind !== 'netcode' || b!.handoff.transport.kind !== 'netcode') throw new Error('expected netcode hand-offs');
    const nc = host.netcode!;
    const to = nc.endpoint().address;
    // the Auth server announced where each player claimed from, and the netcode socket lets only that through
    expect(host.domain.sessions.session(sessionId)!.players.map((p) => p.address)).toEqual([{ ip: '127.0.0.1' }, { ip: '127.0.0.1' }]);
    expect(nc.allowList.entries()).toEqual(['127.0.0.1']);
    expect(host.stats().netcode).toMatchObject({ dropUnannounced: true, allowList: { entries: 1 } });

    // a's own token, replayed from elsewhere: never parsed, never decrypted, counted and logged
    const core = nc.server.core;
    const receive = vi.spyOn(core, 'receive');
    const drops = { ...core.drops };
    const before = host.stats().netcode!.allowList.dropped;
    const linesBefore = lines.length; // the earlier test's players leave drop lines of their own
    await sendFrom('127.0.0.2', connectionRequest(a!.handoff.transport.connectToken), to, 3);
    await until(() => host.stats().netcode!.allowList.dropped >= before + 3, 'drops from 127.0.0.2');
    expect(receive).not.toHaveBeenCalled();
    expect(core.drops).toEqual(drops);
    expect(host.stats().netcode!.allowList.lastDroppedFrom).toMatch(/^127\.0\.0\.2:\d+$/);
    const logged = await until(
      () => lines.slice(linesBefore).find((l) => l.msg === 'allow-list dropped datagrams' && l.transport === 'netcode'),
      'the drop log line',
    );
    // the line is rate-limited and may be written after the first of the three datagrams
    expect(logged.allowList.dropped).toBeGreaterThanOrEqual(1);
    expect(logged.allowList.lastDroppedFrom).toMatch(/^127\.0\.0\.2:\d+$/);
    receive.mockRestore();

    // the players, from the announced address, connect and play; b ends the game
    const [sa, sb] = [a!, b!].map((p) => new NetcodeSessionClient({ playerId: p.handoff.playerId }));
    seats.push(sa!, sb!);
    await sa!.connect(a!.handoff.transport.connectToken);
    await sb!.connect(b!.handoff.transport.connectToken);
    await Promise.all([sa!.setReady(true), sb!.setReady(true)]);
    await Promise.all([sa!.waitForBegin(), sb!.waitForBegin()]);
    const game = await until(() => games.find((g) => g.id === sessionId), 'game begin');
    await repeatUntil(
      () => sb!.send(Uint8Array.from([0xff])),
      () => game.ended,
      'game end',
    );
    await until(() => ended.find((r) => r.id === sessionId), 'results at the auth server', 30_000);

    // the session is over: its players' address is not expected any more
    await until(() => nc.allowList.entries().length === 0, 'the address revoked');
    const after = vi.spyOn(core, 'receive');
    const dropped = host.stats().netcode!.allowList.dropped;
    await sendFrom('127.0.0.1', connectionRequest(b!.handoff.transport.connectToken), to, 3);
    await until(() => host.stats().netcode!.allowList.dropped >= dropped + 3, 'drops after the session');
    expect(after).not.toHaveBeenCalled();
    after.mockRestore();
  });

  it('refuses to start an Auth server whose netcode mode has no key, naming the mode', async () => {
    await expect(startAuth(fx, { modeTransports: { 'nc-duel': 'netcode' } })).rejects.toMatchObject({
      code: 'netcode_no_key',
      message: expect.stringContaining('mode "nc-duel"'),
    });
  });
});
