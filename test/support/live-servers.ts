/**
 * Real Auth and Host servers on loopback for tests that drive them from the outside (the client
 * library, hand-offs): a dev PKI in a temp folder, and the options every such server shares
 * (ephemeral ports, the PKI's certificates), to which a test adds only what it is about.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { expect } from 'vitest';
import type { ZodType } from 'zod';
import { AuthServer, type AuthServerOptions } from '../../src/auth/server.js';
import type { SessionRecord } from '../../src/auth/sessions.js';
import { connectToAuth, type AuthClient, type ConnectOptions, type GameSession, type HostTicket } from '../../src/client/index.js';
import type { HostGame } from '../../src/host/game.js';
import { HostServer, type HostServerOptions } from '../../src/host/server.js';
import { initPki, type Pki } from '../../src/pki/index.js';
import { failureOf } from './assert.js';
import { MemoryBus, Network } from './memory-bus.js';
import { pollUntil } from './wait.js';

/** Quiet unless IYESMP_TEST_LOG names a level. */
export const silent = pino({ level: process.env.IYESMP_TEST_LOG ?? 'silent' });

/** Auth timings short enough for a test to see a silent peer dropped: 300 ms heartbeats, 4 missed, 100 ms ticks. */
export const quickAuth = { heartbeatIntervalMs: 300, missedHeartbeats: 4, tickIntervalMs: 100 } satisfies Partial<AuthServerOptions>;

/** A host with room for four sessions that re-dials a lost Auth server within a second. */
export const quickHost = { capacity: { sessions: 4 }, reconnectInitialMs: 200, reconnectMaxMs: 1000 } satisfies Partial<HostServerOptions>;

export interface DevPki {
  dir: string;
  pki: Pki;
  /** path of the master CA certificate (the client library reads it) */
  masterPem: string;
  cleanup(): Promise<void>;
}

/** A dev PKI for `localhost` / 127.0.0.1 with one host, `host-1`, in a new temp folder; `now` backdates it. */
export async function devPki(prefix: string, now?: Date): Promise<DevPki> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  const pki = await initPki({
    dir: path.join(dir, 'pki'),
    allowUnencryptedCaKeys: true,
    authDnsNames: ['localhost'],
    authIpAddresses: ['127.0.0.1'],
    hosts: [{ name: 'host-1', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] }],
    ...(now ? { now } : {}),
  });
  return { dir, pki, masterPem: pki.path(pki.get('master').certFile), cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** The PKI's first client certificate, as `connectToAuth` takes an identity. */
export async function clientIdentity(pki: Pki): Promise<{ cert: string; key: string }> {
  const client = pki.list().find((e) => e.role === 'client');
  if (!client?.keyFile) throw new Error('the PKI has no client certificate');
  return { cert: await pki.chainPem(client.name), key: pki.path(client.keyFile) };
}

/** An Auth server on loopback ports the OS picks, with the PKI's auth certificate; `over` adds the rest. */
export async function authOptions(pki: Pki, over: Partial<AuthServerOptions> = {}): Promise<AuthServerOptions> {
  return {
    clients: { host: '127.0.0.1', port: 0 },
    hosts: { host: '127.0.0.1', port: 0 },
    cert: await pki.chainPem('auth'),
    key: pki.path(pki.get('auth').keyFile!),
    verifier: over.verifier ?? (await pki.verifier()),
    minter: await pki.sessionMinter(),
    ...over,
  };
}

/** `host-1` on a loopback port the OS picks, registering with the Auth server at `authHostPort`; `over` adds the rest. */
export async function hostOptions(pki: Pki, authHostPort: number, over: Partial<HostServerOptions> = {}): Promise<HostServerOptions> {
  return {
    name: 'host-1',
    publicAddress: '127.0.0.1',
    listen: { host: '127.0.0.1', port: 0 },
    cert: await pki.chainPem('host-1'),
    key: pki.path(pki.get('host-1').keyFile!),
    verifier: over.verifier ?? (await pki.verifier()),
    authServers: [{ host: '127.0.0.1', port: authHostPort }],
    ...over,
  };
}

/** How `connectToAuth` reaches an Auth server's client port on loopback as `identity`, trusting `masterPem`. */
export function authAddress(clientPort: number, identity: { cert: string; key: string }, masterPem: string) {
  return { address: `127.0.0.1:${clientPort}`, serverName: 'localhost', identity, trust: { caPem: masterPem } };
}

type Closable = { close(o: { graceMs: number }): Promise<void> };

/**
 * A live-server test file's teardown: its clients in the order given (ignoring errors: the test may
 * have closed them), then its servers with a short grace, then the PKI folder. Tolerates a setup
 * that failed part-way (undefined servers, no PKI).
 */
export async function closeLive(
  clients: Iterable<{ close(): Promise<void> }>,
  servers: Iterable<Closable | undefined>,
  dev: DevPki | undefined,
): Promise<void> {
  for (const c of clients) await c.close().catch(() => undefined);
  for (const s of servers) await s?.close({ graceMs: 200 });
  await dev?.cleanup();
}

/** A running Auth server (and `host-1`) on loopback, its dev PKI, and the clients a test opened. */
export interface LiveServers<E> {
  dev: DevPki;
  auth: AuthServer;
  /** undefined until `startHost()` where the host was deferred */
  host: HostServer<E> | undefined;
  /** the identity `connect` presents (the PKI's first client certificate unless the test chose) */
  identity: { cert: string; key: string };
  /** every session the Auth server ended, in order */
  ended: SessionRecord[];
  /** clients and game sessions to close at teardown (last opened first) */
  open: Array<{ close(): Promise<void> }>;
  /** `connectToAuth` with this test's game version and schema; `over` adds the rest. */
  connect(over?: Partial<ConnectOptions<E>>): Promise<AuthClient<E>>;
  /** `connect`, logged in as the guest `name`; `id` is its player id. */
  player(name?: string, over?: Partial<ConnectOptions<E>>): Promise<AuthClient<E> & { id: string }>;
  /** Starts `host-1` (once; later calls return it) and waits until it registered. */
  startHost(): Promise<HostServer<E>>;
  close(): Promise<void>;
}

/** What a test adds to the servers' defaults; `stop` runs once the servers closed (e.g. a broker it started). */
export interface LiveOptions {
  auth?: Partial<AuthServerOptions>;
  host?: Partial<HostServerOptions>;
  stop?: () => void;
}

/**
 * The set-up of a real-server client test: a dev PKI, an Auth server with quick timings, and
 * `host-1` running `game`. A test states only what differs: `options` (given the PKI), `deferHost`
 * to start the host later, `identity` for another client certificate.
 */
export async function startLiveServers<E>(o: {
  prefix: string;
  /** backdates the PKI */
  now?: Date;
  gameVersion: string;
  extSchema?: ZodType<E>;
  identity?: (pki: Pki) => Promise<{ cert: string; key: string }>;
  options?: (dev: DevPki) => LiveOptions | Promise<LiveOptions>;
  game: HostGame<E>;
  deferHost?: boolean;
}): Promise<LiveServers<E>> {
  const dev = await devPki(o.prefix, o.now);
  const pki = dev.pki;
  const open: Array<{ close(): Promise<void> }> = [];
  const ended: SessionRecord[] = [];
  let auth: AuthServer | undefined;
  let host: HostServer<E> | undefined;
  let extra: LiveOptions = {};
  const close = async () => {
    await closeLive(open.reverse(), [host, auth], undefined);
    extra.stop?.();
    await dev.cleanup();
  };
  try {
    const identity = await (o.identity ?? clientIdentity)(pki);
    extra = (await o.options?.(dev)) ?? {};
    const verifier = await pki.verifier();
    const a = await AuthServer.start(await authOptions(pki, { verifier, gameVersion: o.gameVersion, ...quickAuth, logger: silent, ...extra.auth }));
    auth = a;
    a.on('session-ended', (r) => ended.push(r));
    const startHost = async (): Promise<HostServer<E>> => {
      if (host) return host;
      host = await HostServer.start<E>(
        await hostOptions(pki, a.hostPort, { verifier, ...quickHost, version: o.gameVersion, logger: silent, ...extra.host }),
        o.game,
      );
      await pollUntil(() => a.connectedHosts().includes('host-1'), 'the host to register', 20_000, 50);
      return host;
    };
    if (!o.deferHost) await startHost();
    const connect = async (over: Partial<ConnectOptions<E>> = {}): Promise<AuthClient<E>> => {
      const c = await connectToAuth<E>({
        ...authAddress(a.clientPort, identity, dev.masterPem),
        gameVersion: o.gameVersion,
        ...(o.extSchema ? { extSchema: o.extSchema } : {}),
        ...over,
      });
      open.push(c);
      return c;
    };
    return {
      dev,
      auth: a,
      get host() {
        return host;
      },
      identity,
      ended,
      open,
      connect,
      async player(name, over) {
        const c = await connect(over);
        const { accountId } = await c.login({ method: 'guest', ...(name !== undefined ? { displayName: name } : {}) });
        return Object.assign(c, { id: accountId });
      },
      startHost,
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}

// ---- held tickets and starts (servers-requeue, servers-requeue-cluster, servers-setup-hold, servers-lobby-hold)

/** The game version and mode of the tests of players still in a game. */
export const HOLD_VERSION = '1.0.0';
export const HOLD_MODE = 'duel';

/**
 * `startLiveServers` for a hold test: HOLD_VERSION, a PKI backdated a day, matches of two, and `auth`
 * added to the Auth server's options (`deferHost`: no host until `startHost()`).
 */
export function startHoldServers(prefix: string, game: HostGame, auth: Partial<AuthServerOptions> = {}, deferHost = false): Promise<LiveServers<unknown>> {
  return startLiveServers({
    prefix,
    now: new Date(Date.now() - 86_400_000),
    gameVersion: HOLD_VERSION,
    game,
    deferHost,
    options: () => ({ auth: { matchSize: 2, ...auth } }),
  });
}

/** Ends each game (a draw) as soon as it begins. */
export const instantGame: HostGame = {
  begin(s) {
    setImmediate(() => s.end({ outcomes: Object.fromEntries(s.players.map((p) => [p.playerId, { result: 'draw' }])) }));
  },
};

/** Games that never end by themselves: the session stays live. */
export const idleGame: HostGame = { begin() {} };

/**
 * Holds back the host's reports of ended sessions at these Auth servers while `hold()` is in force
 * (as load does it in bench/handoff.bench.js): the players have their results, the Auth still sees
 * them in their session. `release()` lets the reports through.
 */
export interface ReportGate {
  hold(): void;
  release(): void;
}

export function gateReports(...auths: AuthServer[]): ReportGate {
  let gate: Promise<void> | undefined;
  let open = () => {};
  for (const auth of auths) {
    const record = auth.recordResults.bind(auth);
    auth.recordResults = async (hostName, body) => {
      await gate;
      return record(hostName, body);
    };
  }
  return {
    hold: () => void (gate ??= new Promise<void>((r) => (open = r))),
    release: () => {
      open();
      gate = undefined;
    },
  };
}

/** A guest logged in at `auth` (game version HOLD_VERSION), closed with `open`; `id` is its player id. */
export async function guestAt(auth: AuthServer, dev: DevPki, open: AuthClient[], over: Partial<ConnectOptions> = {}): Promise<AuthClient & { id: string }> {
  const c = await connectToAuth({ ...authAddress(auth.clientPort, await clientIdentity(dev.pki), dev.masterPem), gameVersion: HOLD_VERSION, ...over });
  open.push(c);
  const { accountId } = await c.login({ method: 'guest' });
  return Object.assign(c, { id: accountId });
}

/** `a` and `b` are matched (HOLD_MODE) and play one game on the host; resolves once `a` has its result. */
export async function playOneGame(a: AuthClient, b: AuthClient): Promise<{ ta: HostTicket; tb: HostTicket; games: GameSession[] }> {
  const [ta, tb] = await Promise.all([a.matchmake({ mode: HOLD_MODE, timeoutMs: 20_000 }), b.matchmake({ mode: HOLD_MODE, timeoutMs: 20_000 })]);
  const games = await Promise.all([a.joinHost(ta), b.joinHost(tb)]);
  await Promise.all(games.map((g) => g.ready()));
  await games[0]!.result;
  return { ta, tb, games };
}

/** `a` queues again (HOLD_MODE) and its matchmake fails: the error, and how long it took. */
export async function queueAgainFails(a: AuthClient): Promise<{ err: unknown; waitedMs: number }> {
  const queuedAt = Date.now();
  const err = await failureOf(a.matchmake({ mode: HOLD_MODE, timeoutMs: 20_000 }), 'queued again and matched, not refused');
  return { err, waitedMs: Date.now() - queuedAt };
}

/**
 * `p` and `q` queue again (HOLD_MODE) while the host's reports are held: at `mm` (the Auth running
 * the matchmaker) both tickets wait, held by `session`, through three ticks; once `reports` go
 * through they are matched together into a new session. Resolves their tickets.
 */
export async function heldUntilReported(mm: AuthServer, reports: ReportGate, session: string, p: AuthClient, q: AuthClient): Promise<[HostTicket, HostTicket]> {
  const again = [p, q].map((c) => c.matchmake({ mode: HOLD_MODE, timeoutMs: 20_000 }));
  for (const t of again) t.catch(() => undefined);
  await pollUntil(() => mm.matchmaker.stats.queuedTickets === 2, 'both tickets to be queued', 10_000, 20);
  for (let i = 0; i < 3; i++) await mm.tick();
  expect(mm.matchmaker.stats).toEqual({ queuedTickets: 2, queuedPlayers: 2, pendingMatches: 0 });
  expect(mm.matchmaker.heldSessions()).toEqual([session]);
  reports.release();
  const [tp, tq] = await Promise.all(again);
  expect(tp!.sessionId).toBe(tq!.sessionId);
  expect(tp!.sessionId).not.toBe(session);
  return [tp!, tq!];
}

// ---- two Auth nodes of one cluster (servers-requeue-cluster, servers-lobby-cluster)

export type NodeName = 'auth-a' | 'auth-b';

/**
 * Two Auth nodes of one cluster, `auth-a` and `auth-b` (HOLD_VERSION, matches of two), on an
 * in-memory bus where `leader` runs the matchmaker; `auth` is added to both nodes' options (the
 * same objects: a `sessionStore` or `stores` given there is shared). `host-1` runs `game` and
 * registers with both; it reports its sessions' ends to `reportsTo` (first in its list) while that
 * node is up.
 */
export async function startTwoNodes(
  dev: DevPki,
  o: { leader: NodeName; reportsTo: NodeName; game: HostGame; auth?: Partial<AuthServerOptions> },
): Promise<{ a: AuthServer; b: AuthServer; host: HostServer }> {
  const net = new Network();
  net.leader = o.leader;
  const node = async (name: NodeName) =>
    AuthServer.start(
      await authOptions(dev.pki, { name, gameVersion: HOLD_VERSION, matchSize: 2, cluster: new MemoryBus(name, net), ...quickAuth, logger: silent, ...o.auth }),
    );
  const a = await node('auth-a');
  const b = await node('auth-b');
  const [first, second] = o.reportsTo === 'auth-a' ? [a, b] : [b, a];
  const host = await HostServer.start(
    await hostOptions(dev.pki, first.hostPort, {
      ...quickHost,
      authServers: [
        { host: '127.0.0.1', port: first.hostPort },
        { host: '127.0.0.1', port: second.hostPort },
      ],
      version: HOLD_VERSION,
      logger: silent,
    }),
    o.game,
  );
  await pollUntil(() => a.connectedHosts().includes('host-1') && b.connectedHosts().includes('host-1'), 'the host to register with both nodes', 20_000, 50);
  return { a, b, host };
}
