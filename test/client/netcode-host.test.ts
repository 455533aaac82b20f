/**
 * joinHost with a netcode.io hand-off, against a real NetcodeHostTransport on loopback driven by a
 * host-domain session table in this process: the same GameSession API as QUIC (roster, ready,
 * begin, messages both ways, end, leave), what netcode cannot do (actions, channels, large data)
 * refused clearly, and the failures a player may meet (seat refused, host unreachable, host gone,
 * hand-off expired) as errors with codes a game can match.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { joinHost, msgpackNetcodeCodec, type GameSession } from '../../src/client/index.js';
import { ticketFromHandoff, type HostTicket } from '../../src/client/handoff.js';
import { IyesmpError } from '../../src/errors.js';
import { HostSessions } from '../../src/host/sessions.js';
import { formatAddress } from '../../src/netcode/address.js';
import type { NetcodeVersion } from '../../src/netcode/constants.js';
import { ConnectTokenSequence } from '../../src/netcode/token-sequence.js';
import { issueNetcodeHandoff } from '../../src/netcode/handoff.js';
import { netcodeExpectedPlayer } from '../../src/host/transports/netcode/seat.js';
import { NetcodeHostTransport, type NetcodeHostEvent } from '../../src/host/transports/netcode/transport.js';
import { decode, encode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { pollUntil } from '../support/wait.js';

const KEY = new Uint8Array(32).fill(3);
const OTHER_KEY = new Uint8Array(32).fill(4);
const PROTOCOL = 0x77n;
const T = 60_000;

interface Host {
  table: HostSessions;
  transport: NetcodeHostTransport;
  events: NetcodeHostEvent[];
  now: { ms: number };
}

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => undefined);
});

async function startHost(
  o: { version?: NetcodeVersion; action?: (seat: { sessionId: string; playerId: string }, ext: unknown) => unknown } = {},
): Promise<Host> {
  const table = new HostSessions({ maxSessions: 4, maxPlayers: 16 });
  const now = { ms: 0 };
  const transport = await NetcodeHostTransport.listen({
    sessions: table,
    privateKey: KEY,
    protocolId: PROTOCOL,
    bind: '127.0.0.1:0',
    maxClients: 8,
    nowMs: () => now.ms,
    ...(o.version ? { version: o.version } : {}),
    ...(o.action ? { action: o.action } : {}),
  });
  cleanup.push(() => transport.close());
  const events: NetcodeHostEvent[] = [];
  transport.on('netcode', (e) => events.push(e));
  return { table, transport, events, now };
}

function createSession(h: Host, sessionId: string, players: string[]): void {
  const r = h.table.create(
    {
      sessionId,
      transport: 'netcode',
      players: players.map((playerId) => netcodeExpectedPlayer(sessionId, { playerId, displayName: `Player ${playerId}`, address: '127.0.0.1' })),
    },
    h.now.ms,
  );
  if (!r.ok) throw new Error(r.message);
}

/** What the client library makes of the Auth server's netcode hand-off. */
function ticket<Ext = Uint8Array>(
  h: Host,
  sessionId: string,
  playerId: string,
  o: { key?: Uint8Array; timeoutSeconds?: number; version?: NetcodeVersion } = {},
): HostTicket<Ext> {
  const address = h.transport.endpoint().address;
  const { connectToken } = issueNetcodeHandoff({
    privateKey: o.key ?? KEY,
    protocolId: PROTOCOL,
    host: { publicAddresses: [formatAddress(h.transport.boundAddress)] },
    sessionId,
    playerId,
    expireSeconds: 30,
    timeoutSeconds: o.timeoutSeconds ?? 5,
    ...(o.version === '1.00' ? { version: o.version, tokenSequence: new ConnectTokenSequence() } : {}),
  });
  return ticketFromHandoff<Ext>(
    {
      sessionId,
      playerId,
      expiresAt: Date.now() + 30_000,
      host: { address, tlsName: `${address.host}:${address.port}` },
      transport: { kind: 'netcode', connectToken: new Uint8Array(connectToken) },
    },
    undefined,
  );
}

async function join<Ext = Uint8Array>(t: HostTicket<Ext>, extra: Parameters<typeof joinHost<Ext>>[1] = { gameVersion: '1.0.0' }): Promise<GameSession<Ext>> {
  const g = await joinHost<Ext>(t, extra);
  cleanup.push(() => g.close());
  return g;
}

/** Polls every 10 ms. */
function until<T>(check: () => T | undefined | null | false, what: string, timeoutMs = 15_000): Promise<T> {
  return pollUntil(check, what, timeoutMs, 10) as Promise<T>;
}

/** UDP may drop a datagram even on loopback: repeat until seen, as a game would. */
async function repeatUntil<T>(action: () => void, check: () => T | undefined | null | false, what: string): Promise<T> {
  return until(() => (action(), check()), what);
}

async function failure(p: Promise<unknown>): Promise<IyesmpError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(IyesmpError);
  return e as IyesmpError;
}

describe('joinHost over netcode.io', () => {
  it('joins with the connect token and plays: roster, ready, begin, bytes both ways, end', { timeout: T }, async () => {
    const h = await startHost();
    createSession(h, 'S1', ['ada', 'bob']);
    const ada = await join(ticket(h, 'S1', 'ada'));
    expect(ada.transport).toBe('netcode');
    expect(ada.sessionId).toBe('S1');
    expect(ada.playerId).toBe('ada');
    expect(ada.state).toBe('waiting');
    expect(ada.players.find((p) => p.playerId === 'ada')).toEqual({ playerId: 'ada', displayName: 'Player ada', connected: true, ready: false });
    expect(ada.players.find((p) => p.playerId === 'bob')).toMatchObject({ connected: false, ready: false });

    const bob = await join(ticket(h, 'S1', 'bob'));
    await ada.ready();
    expect(h.table.session('S1')?.players.find((p) => p.playerId === 'ada')?.status).toBe('ready');
    expect(ada.state).toBe('waiting');
    // the roster the host sends after each change reaches the other player as `status`
    await until(() => bob.players.find((p) => p.playerId === 'ada')?.ready, 'bob to see ada ready');

    const begins = Promise.all([ada.waitForBegin({ timeoutMs: 15_000 }), bob.waitForBegin({ timeoutMs: 15_000 })]);
    await bob.ready();
    const [beganA] = await begins;
    expect(beganA.order.sort()).toEqual(['ada', 'bob']);
    expect(ada.state).toBe('playing');
    expect(h.table.session('S1')?.phase).toBe('in_game');

    // host -> player: the game's bytes arrive as `message` with ext = the bytes
    const got: number[] = [];
    ada.on('message', (m) => got.push((m.ext as Uint8Array)[0]!));
    await repeatUntil(
      () => h.transport.send({ sessionId: 'S1', playerId: 'ada' }, new Uint8Array([42])),
      () => got.includes(42),
      'ada to get 42',
    );
    // player -> host
    const heard = () => h.events.find((e) => e.type === 'message' && e.playerId === 'bob' && e.data[0] === 7);
    await repeatUntil(() => bob.send(new Uint8Array([7, 8])), heard, 'the host to hear bob');

    // the host ends the session: netcode has no results on the wire, the end still arrives
    const ended = ada.next('end', { timeoutMs: 15_000 });
    const closed = ada.next('close', { timeoutMs: 15_000 });
    expect(h.table.end('S1', { outcomes: { ada: { result: 'win' }, bob: { result: 'loss' } } }, h.now.ms).ok).toBe(true);
    expect(await ended).toMatchObject({ reason: 'completed', results: [] });
    expect(await ada.result).toMatchObject({ reason: 'completed' });
    expect(await closed).toEqual({});
    expect(ada.state).toBe('ended');
    expect(ada.closed).toBe(true);
  });

  it('joins a netcode 1.00 host with a 1.00 token: the client speaks the version its token names', { timeout: T }, async () => {
    const h = await startHost({ version: '1.00' });
    createSession(h, 'S100', ['ada']);
    const ada = await join(ticket(h, 'S100', 'ada', { version: '1.00' }));
    expect(ada.transport).toBe('netcode');
    expect(ada.players.find((p) => p.playerId === 'ada')).toMatchObject({ connected: true });
    expect(h.table.session('S100')?.players.find((p) => p.playerId === 'ada')?.status).toBe('connected');
  });

  it('bounds what one player can make the host hold on the reliable channel: waiting actions, message size', { timeout: T }, async () => {
    // a game that never answers: every action waits
    let asked = 0;
    const h = await startHost({
      action: () => {
        asked++;
        return new Promise(() => undefined);
      },
    });
    createSession(h, 'S9', ['ada']);
    const ada = await join(ticket(h, 'S9', 'ada'));
    const answers = Array.from({ length: 12 }, (_, i) => ada.action(new Uint8Array([i]), { timeoutMs: 20_000 }).catch((e: IyesmpError) => e));
    const refused = await Promise.all(answers.slice(8));
    // the first 8 wait for the game; the rest are refused at once, and the game never saw them
    expect(refused.map((e) => (e as IyesmpError).code)).toEqual(['busy', 'busy', 'busy', 'busy']);
    expect(asked).toBe(8);
    // a message over the reliable channel's limit is refused before it leaves the client
    expect(() => ada.send({ big: 'x'.repeat(70_000) } as unknown as Uint8Array)).toThrow(expect.objectContaining({ code: 'message_too_large' }));
  });

  it('carries structured data and actions on the reliable channel; refuses what it cannot carry, with the reason', { timeout: T }, async () => {
    const h = await startHost();
    createSession(h, 'S2', ['ada']);
    const ada = await join(ticket(h, 'S2', 'ada'));
    // this host was given no game to answer actions: the refusal comes back over the reliable channel
    const act = await failure(ada.action(new Uint8Array([1])));
    expect(act.code).toBe('not_supported');
    expect(act.message).toMatch(/this host takes no actions/);
    // a channel, or data that is not bytes, goes reliably and arrives as sent
    ada.send(new Uint8Array([1]), { channel: 'chat' });
    ada.send({ not: 'bytes' } as unknown as Uint8Array);
    await until(() => h.events.filter((e) => e.type === 'game_message').length === 2, 'the structured messages');
    const structured = h.events.filter((e): e is Extract<NetcodeHostEvent, { type: 'game_message' }> => e.type === 'game_message');
    expect(structured.map((e) => e.message)).toEqual([{ ext: new Uint8Array([1]), channel: 'chat' }, { ext: { not: 'bytes' } }]);
    // plain bytes stay one datagram, within netcode's limit
    expect(() => ada.send(new Uint8Array(1200))).toThrow(expect.objectContaining({ code: 'message_too_large' }));
    // the largest payload goes through
    await repeatUntil(
      () => ada.send(new Uint8Array(1199).fill(5)),
      () => h.events.find((e) => e.type === 'message' && e.data.length === 1199),
      'a full datagram',
    );
  });

  it('carries structured game data with the MsgPack codec, checked by the ext schema', { timeout: T }, async () => {
    const Ext = z.object({ move: z.int().min(0).max(8) });
    type Ext = z.output<typeof Ext>;
    const h = await startHost();
    createSession(h, 'S3', ['ada']);
    const ada = await join<Ext>(ticket<Ext>(h, 'S3', 'ada'), { gameVersion: '1.0.0', extSchema: Ext, netcode: { codec: msgpackNetcodeCodec<Ext>() } });
    await repeatUntil(
      () => ada.send({ move: 4 }),
      () => h.events.find((e) => e.type === 'message'),
      'the move',
    );
    const m = h.events.find((e): e is Extract<NetcodeHostEvent, { type: 'message' }> => e.type === 'message')!;
    expect(decode(m.data)).toEqual({ move: 4 });
    expect(() => ada.send({ move: 9 })).toThrow(expect.objectContaining({ code: 'bad_request' }));

    const got: Ext[] = [];
    ada.on('message', (msg) => got.push(msg.ext!));
    // a message that fails the schema (or is not MsgPack) is dropped like a lost datagram
    await repeatUntil(
      () => {
        h.transport.send({ sessionId: 'S3', playerId: 'ada' }, encode({ move: 99 }));
        h.transport.send({ sessionId: 'S3', playerId: 'ada' }, new Uint8Array([0xc1]));
        h.transport.send({ sessionId: 'S3', playerId: 'ada' }, encode({ move: 2 }));
      },
      () => got.length > 0,
      'a valid move',
    );
    expect(got.every((g) => g.move === 2)).toBe(true);
  });

  it('random game bytes from the host never throw out of the library: valid ones arrive, the rest are dropped', { timeout: T }, async () => {
    const Ext = z.object({ n: z.int() });
    type Ext = z.output<typeof Ext>;
    const h = await startHost();
    createSession(h, 'S9', ['ada']);
    const errors: unknown[] = [];
    const ada = await join<Ext>(ticket<Ext>(h, 'S9', 'ada'), {
      gameVersion: '1.0.0',
      extSchema: Ext,
      netcode: { codec: msgpackNetcodeCodec<Ext>() },
      onListenerError: (e) => errors.push(e),
    });
    const got: unknown[] = [];
    ada.on('message', (m) => got.push(m.ext));
    const junk = fc.sample(
      fc.oneof(
        fc.uint8Array({ maxLength: 1199 }),
        fc.jsonValue().map((v) => encode(v)),
      ),
      { numRuns: 300, seed: 42 },
    );
    for (const bytes of junk) if (bytes.length <= 1199) h.transport.send({ sessionId: 'S9', playerId: 'ada' }, bytes);
    await repeatUntil(
      () => h.transport.send({ sessionId: 'S9', playerId: 'ada' }, encode({ n: 1 })),
      () => got.some((g) => (g as Ext).n === 1),
      'the valid message',
    );
    expect(got.every((g) => Ext.safeParse(g).success)).toBe(true);
    expect(errors).toEqual([]);
    expect(ada.closed).toBe(false);
  });

  it("a seat the host does not expect is refused with the host's reason", { timeout: T }, async () => {
    const h = await startHost();
    createSession(h, 'S4', ['ada']);
    const e = await failure(joinHost(ticket(h, 'S4', 'mallory'), { gameVersion: '1.0.0' }));
    expect(e.code).toBe('not_expected');
    expect(e.message).toMatch(/^the game host refused this seat: /);
    const gone = await failure(joinHost(ticket(h, 'NOPE', 'ada'), { gameVersion: '1.0.0' }));
    expect(gone.code).toBe('unknown_session');
  });

  it('a host that cannot open the token is a timeout that says where', { timeout: T }, async () => {
    const h = await startHost();
    createSession(h, 'S5', ['ada']);
    const e = await failure(joinHost(ticket(h, 'S5', 'ada', { key: OTHER_KEY, timeoutSeconds: 1 }), { gameVersion: '1.0.0' }));
    expect(e.code).toBe('timeout');
    expect(e.message).toContain(`could not reach the game host at ${formatAddress(h.transport.boundAddress)} over netcode.io`);
    expect(e.details).toMatchObject({ netcodeState: 'connection_request_timed_out' });
  });

  it('an expired hand-off is refused before any packet', async () => {
    const h = await startHost();
    const t = ticket(h, 'S6', 'ada');
    const e = await failure(joinHost(t, { gameVersion: '1.0.0', now: () => t.expiresAt + 1 }));
    expect(e.code).toBe('handoff_expired');
    expect(h.events).toEqual([]);
  });

  it('a host that goes away is host_lost with its reason; result rejects', { timeout: T }, async () => {
    const h = await startHost();
    createSession(h, 'S7', ['ada']);
    const ada = await join(ticket(h, 'S7', 'ada'));
    const closed = ada.next('close', { timeoutMs: 20_000 });
    await h.transport.close();
    const { error } = await closed;
    expect(error?.code).toBe('host_lost');
    expect(error?.message).toMatch(/the connection to the game host was lost: .*host_shutdown/);
    expect((await failure(ada.result)).code).toBe('host_lost');
    expect((await failure(ada.ready())).code).toBe('host_lost');
    expect(() => ada.send(new Uint8Array([1]))).toThrow(expect.objectContaining({ code: 'host_lost' }));
  });

  it('leave tells the host and closes without an error', { timeout: T }, async () => {
    const h = await startHost();
    createSession(h, 'S8', ['ada', 'bob']);
    const ada = await join(ticket(h, 'S8', 'ada'));
    const closed = ada.next('close', { timeoutMs: 20_000 });
    await ada.leave('bored');
    expect(await closed).toEqual({});
    // the host took the leave (the session, now short of players, is over)
    expect(h.events.find((e) => e.type === 'control' && e.action === 'leave')).toMatchObject({ playerId: 'ada', result: { ok: true } });
    expect(h.table.session('S8')?.players.find((p) => p.playerId === 'ada')?.status ?? 'left').toBe('left');
    expect((await failure(ada.result)).code).toBe('closed');
  });
});
