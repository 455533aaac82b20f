/**
 * LAN mode: a game runs the Auth server and one Host server inside its own process so friends on
 * the same network can play without any infrastructure. Everything is ephemeral: a throwaway PKI in
 * a temp folder (made fresh each time, deleted on close), guest logins, one host running the
 * game's HostGame. Other players join with an *invite* (address, the LAN PKI's Master certificate
 * and a client certificate issued for them), which the hosting player passes on (a file, a QR
 * code...). Kept out of the client index: games that never self-host do not load server code.
 *
 * ```ts
 * const lan = await startLanServer({ game: myHostGame, gameVersion: '1.0.0' });
 * const client = await connectToAuth(lan.connectOptions({ gameVersion: '1.0.0' }));   // this player
 * await writeFile('invite.json', JSON.stringify(await lan.invite()));                   // for a friend
 * // the friend: connectToAuth(inviteConnectOptions(JSON.parse(text), { gameVersion: '1.0.0' }))
 * ```
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { networkInterfaces, tmpdir } from 'node:os';
import { isIP } from 'node:net';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import { z } from 'zod';
import { formatHostPort } from '../net/address.js';
import { initPki, type Pki } from '../pki/index.js';
import type { GameVersionCheck } from '../protocol/index.js';
import { AuthServer } from '../auth/server.js';
import { HostServer } from '../host/server.js';
import type { HostGame } from '../host/game.js';
import type { ConnectOptions } from '../client/connect.js';
import { lanError } from './errors.js';

export interface LanServerOptions<Ext = unknown> {
  /** the authoritative game code the in-process host runs */
  game: HostGame<Ext>;
  /** this build's version; by default players need the same major version */
  gameVersion: string;
  acceptGameVersion?: GameVersionCheck;
  /**
   * The address other players reach this machine at. Default: the first non-internal IPv4
   * address, or 127.0.0.1 when there is none (then only this machine can play).
   */
  advertise?: string;
  /** UDP port of the login endpoint (default any free port; the invite carries it) */
  port?: number;
  /** UDP port of the game endpoint (default any free port) */
  gamePort?: number;
  /** players per match, and per mode */
  matchSize?: number;
  modeSizes?: Record<string, number>;
  /** where the throwaway PKI goes; default a new temp folder, removed on close */
  dir?: string;
  logger?: Logger;
}

/** What a friend needs to join a LAN game. Contains a private key: share it only with that player. */
export const LanInvite = z.object({
  v: z.literal(1),
  address: z.string().min(3).max(300),
  serverName: z.string().min(1).max(253),
  gameVersion: z.string().max(64),
  caPem: z.string().min(1).max(20_000),
  certPem: z.string().min(1).max(40_000),
  keyPem: z.string().min(1).max(20_000),
});
export type LanInvite = z.output<typeof LanInvite>;

export class LanServer<Ext = unknown> {
  #closing: Promise<void> | undefined;

  private constructor(
    readonly auth: AuthServer,
    readonly host: HostServer<Ext>,
    readonly pki: Pki,
    readonly advertise: string,
    readonly gameVersion: string,
    private readonly ownDir: string | undefined,
    private readonly masterPem: string,
  ) {}

  static async start<Ext = unknown>(o: LanServerOptions<Ext>): Promise<LanServer<Ext>> {
    const advertise = o.advertise ?? lanAddress();
    if (isIP(advertise) === 0) {
      throw lanError('bad_address', `"${advertise}" is not an IP address; LAN mode advertises an IP`);
    }
    const logger = o.logger ?? pino({ level: 'silent' });
    const ownDir = o.dir === undefined ? await mkdtemp(path.join(tmpdir(), 'iyesmp-lan-')) : undefined;
    const dir = o.dir ?? ownDir!;
    const names = { dnsNames: ['localhost'], ipAddresses: [...new Set(['127.0.0.1', '::1', advertise])] };
    let auth: AuthServer | undefined;
    let host: HostServer<Ext> | undefined;
    try {
      // A throwaway PKI: its keys live only as long as this game, so they are stored unencrypted.
      const pki = await initPki({
        dir: path.join(dir, 'pki'),
        allowUnencryptedCaKeys: true,
        organization: 'iyesmp LAN game',
        authDnsNames: names.dnsNames,
        authIpAddresses: names.ipAddresses,
        hosts: [{ name: 'lan-host', ...names }],
        validityDays: { master: 30, clientauth: 30, sessionauth: 30, auth: 30, host: 30 },
      });
      const verifier = await pki.verifier();
      const v4 = isIP(advertise) === 4;
      const any = v4 ? '0.0.0.0' : '::';
      const loop = v4 ? '127.0.0.1' : '::1';
      const major = o.gameVersion.split('.')[0] ?? '0';
      const accept = o.acceptGameVersion ?? sameMajor(major);
      auth = await AuthServer.start({
        name: 'lan',
        clients: { host: any, port: o.port ?? 0 },
        hosts: { host: loop, port: 0 }, // only our own host dials in
        cert: await pki.chainPem('auth'),
        key: pki.path(pki.get('auth').keyFile!),
        verifier,
        minter: await pki.sessionMinter(),
        gameVersion: o.gameVersion,
        acceptGameVersion: accept,
        ...(o.matchSize === undefined ? {} : { matchSize: o.matchSize }),
        ...(o.modeSizes === undefined ? {} : { modeSizes: o.modeSizes }),
        heartbeatIntervalMs: 1000,
        logger: logger.child({ part: 'lan-auth' }),
      });
      host = await HostServer.start<Ext>(
        {
          name: 'lan-host',
          publicAddress: advertise,
          tlsName: advertise,
          listen: { host: any, port: o.gamePort ?? 0 },
          cert: await pki.chainPem('lan-host'),
          key: pki.path(pki.get('lan-host').keyFile!),
          verifier,
          authServers: [{ host: loop, port: auth.hostPort }],
          authServerName: loop,
          version: o.gameVersion,
          acceptGameVersion: accept,
          reconnectInitialMs: 100,
          reconnectMaxMs: 1000,
          logger: logger.child({ part: 'lan-host' }),
        },
        o.game,
      );
      await waitFor(() => auth!.connectedHosts().includes('lan-host'), 15_000, 'the in-process host did not register with the in-process login server');
      return new LanServer<Ext>(auth, host, pki, advertise, o.gameVersion, ownDir, await pki.certPem('master'));
    } catch (err) {
      await host?.close({ graceMs: 0 }).catch(() => undefined);
      await auth?.close({ graceMs: 0 }).catch(() => undefined);
      if (ownDir) await rm(ownDir, { recursive: true, force: true });
      throw err;
    }
  }

  /** `ip:port` of the login endpoint, as other players reach it. */
  get address(): string {
    const port = this.auth.clientPort;
    return formatHostPort(this.advertise, port);
  }

  /**
   * An invite for one more player: a client certificate issued by this LAN's PKI, with the
   * address and the Master certificate to check this server. The local player uses one too.
   */
  async invite(): Promise<LanInvite> {
    const issued = await this.pki.issueClient();
    const { readFile } = await import('node:fs/promises');
    return {
      v: 1,
      address: this.address,
      serverName: this.advertise,
      gameVersion: this.gameVersion,
      caPem: this.masterPem,
      certPem: issued.chainPem,
      keyPem: await readFile(issued.keyPath, 'utf8'),
    };
  }

  /** Options for connectToAuth for the player on this machine. */
  async connectOptions<E = Ext>(o: Omit<ConnectOptions<E>, 'address' | 'identity' | 'trust' | 'serverName'>): Promise<ConnectOptions<E>> {
    return inviteConnectOptions<E>(await this.invite(), o);
  }

  /** Ends running games, stops both servers and deletes the throwaway PKI. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.host.close({ graceMs: 500 }).catch(() => undefined);
      await this.auth.close({ graceMs: 500 }).catch(() => undefined);
      if (this.ownDir) await rm(this.ownDir, { recursive: true, force: true });
    })();
    return this.#closing;
  }
}

export function startLanServer<Ext = unknown>(o: LanServerOptions<Ext>): Promise<LanServer<Ext>> {
  return LanServer.start(o);
}

/** Checks an invite (from a file or a message) and turns it into connectToAuth options. */
export function inviteConnectOptions<E = unknown>(
  invite: unknown,
  o: Omit<ConnectOptions<E>, 'address' | 'identity' | 'trust' | 'serverName'>,
): ConnectOptions<E> {
  const r = LanInvite.safeParse(invite);
  if (!r.success) {
    throw lanError('bad_invite', 'this is not an iyesmp LAN invite', { hint: 'ask the hosting player for a new invite' });
  }
  const inv = r.data;
  return { ...o, address: inv.address, serverName: inv.serverName, identity: { cert: inv.certPem, key: inv.keyPem }, trust: { caPem: inv.caPem } };
}

/** The first non-internal IPv4 address of this machine, or loopback. */
export function lanAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

function sameMajor(major: string): GameVersionCheck {
  return (peer) => {
    const m = peer.split('.')[0] ?? '';
    if (m === major) return 'ok';
    return Number(m) < Number(major) ? 'too_old' : 'too_new';
  };
}

async function waitFor(fn: () => boolean, timeoutMs: number, message: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw lanError('lan_start_failed', message);
    await new Promise((r) => setTimeout(r, 50));
  }
}
