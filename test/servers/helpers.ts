/**
 * Shared pieces of the server integration tests: a real dev PKI in a temp folder, Auth and Host
 * servers on loopback, and minimal scripted clients built directly on connectQuic + ProtocolConnection.
 */
import { generateKeyPairSync, createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { initPki, type IyesmpVerifier, type Pki } from '../../src/pki/index.js';
import { ProtocolConnection, authFamily, hostFamily, hostctlFamily, type AuthFamily, type HostFamily, type HostctlFamily } from '../../src/protocol/index.js';
import { ALPN, connectQuic, type PeerConnection } from '../../src/transport/index.js';
import { AuthServer, type AuthServerOptions } from '../../src/auth/server.js';
import { HostServer, type HostServerOptions } from '../../src/host/server.js';
import type { HostGame } from '../../src/host/game.js';
import type { WireHandoff } from '../../src/auth/handoff/index.js';
import { silent } from '../support/live-servers.js';
import { pollUntil } from '../support/wait.js';

export { silent };

export interface Creds {
  cert: string;
  key: string;
}

export interface Fx {
  dir: string;
  pki: Pki;
  verifier: IyesmpVerifier;
  auth: Creds;
  host: Creds;
  host2: Creds;
  client: Creds;
  retiredClient: Creds;
  cleanup(): Promise<void>;
}

async function creds(pki: Pki, name: string): Promise<Creds> {
  return { cert: await pki.chainPem(name), key: pki.path(pki.get(name).keyFile!) };
}

export async function makeFx(): Promise<Fx> {
  const dir = await mkdtemp(path.join(tmpdir(), 'iyesmp-servers-'));
  const past = new Date(Date.now() - 86_400_000);
  const pki = await initPki({
    dir: path.join(dir, 'pki'),
    allowUnencryptedCaKeys: true,
    authDnsNames: ['localhost'],
    authIpAddresses: ['127.0.0.1'],
    hosts: [
      { name: 'host-1', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] },
      { name: 'host-2', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] },
    ],
    now: past,
  });
  const rotated = await pki.rotateClientAuth({ now: past });
  await pki.retireClientAuth(1);
  return {
    dir,
    pki,
    verifier: await pki.verifier(),
    auth: await creds(pki, 'auth'),
    host: await creds(pki, 'host-1'),
    host2: await creds(pki, 'host-2'),
    client: { cert: rotated.client!.chainPem, key: rotated.client!.keyPath },
    retiredClient: await creds(pki, 'client-clientauth-1-1'),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * The usual life of a test file: one Fx made before its tests, and what they start (push a closer
 * onto `closers`) closed newest first after them, then the Fx removed. Call at the file's top level.
 */
export function fxSuite(): { readonly fx: Fx; closers: Array<() => Promise<unknown>> } {
  let fx: Fx | undefined;
  const closers: Array<() => Promise<unknown>> = [];
  beforeAll(async () => {
    fx = await makeFx();
  }, 60_000);
  afterAll(async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    await fx?.cleanup();
  }, 30_000);
  return {
    get fx(): Fx {
      if (!fx) throw new Error('the Fx is made in beforeAll; use it inside a test or hook');
      return fx;
    },
    closers,
  };
}

export async function startAuth(fx: Fx, over: Partial<AuthServerOptions> = {}): Promise<AuthServer> {
  return AuthServer.start({
    clients: { host: '127.0.0.1', port: 0 },
    hosts: { host: '127.0.0.1', port: 0 },
    cert: fx.auth.cert,
    key: fx.auth.key,
    verifier: fx.verifier,
    minter: await fx.pki.sessionMinter(),
    heartbeatIntervalMs: 300,
    missedHeartbeats: 4,
    tickIntervalMs: 100,
    logger: silent,
    ...over,
  });
}

export async function startHost<E>(fx: Fx, authPort: number, game: HostGame<E>, over: Partial<HostServerOptions> = {}): Promise<HostServer<E>> {
  return HostServer.start<E>(
    {
      name: 'host-1',
      publicAddress: '127.0.0.1',
      listen: { host: '127.0.0.1', port: 0 },
      cert: fx.host.cert,
      key: fx.host.key,
      verifier: fx.verifier,
      authServers: [{ host: '127.0.0.1', port: authPort }],
      capacity: { sessions: 4 },
      reconnectInitialMs: 200,
      reconnectMaxMs: 1000,
      logger: silent,
      ...over,
    },
    game,
  );
}

/** Polls until `fn` returns a truthy value (or throws after timeoutMs). */
export function until<T>(fn: () => T | Promise<T>, what: string, timeoutMs = 15_000): Promise<NonNullable<T>> {
  return pollUntil(fn, what, timeoutMs, 50);
}

type Ev = { type: string; body: Record<string, unknown> };

/** Records events and lets a test wait for one. */
class Inbox {
  readonly events: Ev[] = [];
  push(ev: Ev): void {
    this.events.push(ev);
  }
  next(type: string, pred: (b: Record<string, unknown>) => boolean = () => true, timeoutMs = 15_000): Promise<Record<string, unknown>> {
    return until(() => this.events.find((e) => e.type === type && pred(e.body))?.body, `event ${type}`, timeoutMs);
  }
}

export interface ScriptedClient {
  conn: PeerConnection;
  proto: ProtocolConnection<AuthFamily, 'dialer'>;
  inbox: Inbox;
  close(): Promise<void>;
}

export async function authClient(fx: Fx, port: number, creds: Creds = fx.client): Promise<ScriptedClient> {
  const conn = await connectQuic({
    host: '127.0.0.1',
    port,
    alpn: ALPN.auth,
    cert: creds.cert,
    key: creds.key,
    verifier: fx.verifier,
    serverPolicy: { kind: 'auth-server' },
  });
  const proto = ProtocolConnection.dial(authFamily, conn.openStream(), { gameVersion: '1.0.0', hello: {} });
  const inbox = new Inbox();
  proto.on('event', (ev) => inbox.push(ev as Ev));
  await proto.ready;
  return { conn, proto, inbox, close: async () => void (await conn.close('bye', { force: true }).catch(() => undefined)) };
}

/** A fresh P-256 key pair, as a game client would make for its session cert. */
export function sessionKeys(): { publicKey: Uint8Array<ArrayBuffer>; privateKeyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    publicKey: new Uint8Array(publicKey.export({ type: 'spki', format: 'der' })),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
  };
}

export function derToPem(der: Uint8Array): string {
  const b64 = Buffer.from(der)
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

export function fingerprint(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}

export interface HostClient {
  conn: PeerConnection;
  proto: ProtocolConnection<HostFamily, 'dialer'>;
  inbox: Inbox;
}

/** Connects to the host named in a hand-off with the session cert it carries. */
export async function joinHost(fx: Fx, h: WireHandoff, privateKeyPem: string, over: { sessionId?: string; certPem?: string } = {}): Promise<HostClient> {
  if (h.transport.kind !== 'quic') throw new Error('expected a quic hand-off');
  const chain = (over.certPem ?? derToPem(h.transport.sessionCert)) + h.transport.chain.map(derToPem).join('');
  const conn = await connectQuic({
    host: h.host.address.host,
    port: h.host.address.port,
    alpn: ALPN.host,
    cert: chain,
    key: privateKeyPem,
    verifier: fx.verifier,
    serverPolicy: { kind: 'host' },
    serverName: h.host.tlsName,
    timeoutMs: 5_000,
  });
  const proto = ProtocolConnection.dial(hostFamily, conn.openStream(), {
    gameVersion: '1.0.0',
    hello: { sessionId: over.sessionId ?? h.sessionId, playerId: h.playerId },
  });
  const inbox = new Inbox();
  proto.on('event', (ev) => inbox.push(ev as Ev));
  return { conn, proto, inbox };
}

/**
 * A scripted host (host-2's certificate) on hostctl: registers, then heartbeats only while `beating`
 * is true. `family` is hostctl as the host speaks it (default: this build's; test/support/families.ts
 * has older minors).
 */
export async function scriptedHost(fx: Fx, port: number, o: { name?: string; family?: HostctlFamily } = {}) {
  const name = o.name ?? 'host-2';
  const conn = await connectQuic({
    host: '127.0.0.1',
    port,
    alpn: ALPN.hostctl,
    cert: fx.host2.cert,
    key: fx.host2.key,
    verifier: fx.verifier,
    serverPolicy: { kind: 'auth-server' },
  });
  const proto = ProtocolConnection.dial(o.family ?? hostctlFamily, conn.openStream(), { gameVersion: '1.0.0', hello: { hostName: name } });
  await proto.ready;
  const reg = await proto.request('host.register', {
    name,
    region: 'test',
    publicAddress: { host: '127.0.0.1', port: 9 },
    transports: [{ kind: 'quic', address: { host: '127.0.0.1', port: 9 }, tlsName: '127.0.0.1' }],
    capacity: { sessions: 2, players: 8 },
    version: '1.0.0',
    load: { sessions: 0, players: 0 },
  });
  const state = { beating: true };
  const timer = setInterval(() => {
    if (state.beating) proto.notify('host.heartbeat', { time: Date.now(), load: { sessions: 0, players: 0 } });
  }, reg.heartbeatIntervalMs);
  return {
    conn,
    proto,
    reg,
    state,
    close: async () => {
      clearInterval(timer);
      await conn.close('bye', { force: true }).catch(() => undefined);
    },
  };
}
