import { createHash, createPrivateKey, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { IyesmpError } from '../errors.js';
import type { FastSessionMinter } from '../pki/index.js';
import type { KeyAlgorithm, MintedSession } from '../pki/types.js';
import { pemToDerList } from '../pki/index.js';
import { deriveNetcodeClientId, issueNetcodeHandoff } from '../netcode/handoff.js';
import type { ResolvedNetcodeIssuer } from '../netcode/config.js';
import type { z } from 'zod';
import type { Handoff as HandoffSchema } from '../protocol/families/auth.js';
import type { ExpectedPlayer as ExpectedPlayerSchema } from '../protocol/families/hostctl.js';
import type { HostRegistry } from './host-registry.js';
import type { HandOff, Sessions } from './sessions.js';

/**
 * Hand-off: from "these players play together" (a confirmed match or a started lobby) to every
 * player holding a session certificate for a session the host has acknowledged.
 *
 *   start -> pick host (or wait: "no host available", retried each tick)
 *         -> Sessions.create, `session.ready` to each player
 *         -> each player claims its seat (`session.claim`, with its public key): a cert is minted now,
 *            so a bad key is refused to that player alone
 *         -> every seat claimed: `session.create` on the host with address + fingerprint per player
 *         -> host ack: every pending claim is answered with its Handoff
 *
 * Claims are answered only after the host's ack, so a client never races the host's allow-list.
 *
 * The transport is chosen per game mode (`transportFor`). For netcode there is no certificate: a
 * claim only marks the seat taken, the host is told each seat's client id, and the answer carries
 * a connect token sealed with the key shared with the hosts.
 */

/** Host transports the Auth server can hand players to. */
export type HandoffTransportKind = 'quic' | 'netcode';

export type WireHandoff = z.output<typeof HandoffSchema>;
type WireExpectedPlayer = z.output<typeof ExpectedPlayerSchema>;

export interface SeatPlayer {
  playerId: string;
  displayName: string;
}

export interface StartRequest {
  origin: { kind: 'lobby' | 'match'; id: string };
  players: SeatPlayer[];
  mode?: string;
  regions?: string[];
  /** game data for the host (lobby settings, ticket ext) */
  ext?: unknown;
}

/** What the coordinator needs from the server around it. */
export interface HandoffDeps {
  registry: HostRegistry;
  sessions: Sessions;
  minter: FastSessionMinter;
  logger: Logger;
  keyDelivery: 'client' | 'seed';
  /** key type the server generates in the seed design; default: the SessionAuth key's */
  seedKeyAlgorithm?: KeyAlgorithm;
  sessionTtlSeconds: number;
  /** which transport a game mode is played on (default quic) */
  transportFor?: (mode: string | undefined) => HandoffTransportKind;
  /** the shared key and token settings; required for netcode sessions */
  netcode?: ResolvedNetcodeIssuer;
  claimTimeoutMs: number;
  hostAckTimeoutMs: number;
  /** how long the host waits for players after creation */
  joinTimeoutMs: number;
  /** how long a start may wait for a free host before the players are told it failed */
  noHostTimeoutMs: number;
  /** the host's control connection, if it is connected */
  createOnHost(hostName: string, body: CreateBody, timeoutMs: number): Promise<{ endpoint: { kind: string; address?: { host: string; port: number }; tlsName?: string } }>;
  /** best effort: ask the host to drop a session */
  cancelOnHost(hostName: string, sessionId: string, reason: string): void;
  /** tell a connected player something (no-op when it is offline) */
  notifyPlayer(playerId: string, type: 'session.ready', body: SessionReadyBody): void;
  notifyCancelled(playerId: string, body: { matchId: string; reason: string; requeued: boolean }): void;
  /** tell a player its start still waits for a free host (`session.waiting`; 1.1 clients only) */
  notifyWaiting?(playerId: string, body: WaitingBody): void;
}

export interface WaitingBody {
  matchId?: string;
  lobbyId?: string;
  since: number;
  attempt: number;
  giveUpAt: number;
  reason: string;
}

/** How often a waiting start is re-announced to its players. */
const WAITING_NOTICE_MS = 5_000;

type WaitingStart = StartRequest & { since: number; attempt: number; toldAt: number };

export interface CreateBody {
  sessionId: string;
  transport: HandoffTransportKind;
  mode?: string;
  expiresAt: number;
  players: WireExpectedPlayer[];
  ext?: unknown;
}

export interface SessionReadyBody {
  sessionId: string;
  transport: HandoffTransportKind;
  needsPublicKey: boolean;
  lobbyId?: string;
  matchId?: string;
  claimBy: number;
}

interface Seat {
  player: SeatPlayer;
  seatId: string;
  address?: string;
  /** the player claimed (for quic: its cert is minted) */
  claimed: boolean;
  minted?: MintedSession & { privateKeyPem?: string };
  waiters: Array<{ resolve: (h: WireHandoff) => void; reject: (e: unknown) => void }>;
}

interface Pending {
  sessionId: string;
  hostName: string;
  transport: HandoffTransportKind;
  req: StartRequest;
  seats: Map<string, Seat>;
  claimBy: number;
  /** `rehosting`: the chosen host refused or did not acknowledge; looking for another one */
  state: 'claiming' | 'creating' | 'rehosting';
  /** hosts that refused or did not acknowledge this session: never asked again */
  tried: Set<string>;
  /** since the first host failed: the re-pick gives up after noHostTimeoutMs */
  rehost?: { since: number; attempt: number; toldAt: number; reason: string; busy: boolean };
}

/** Session cert player ids are `[A-Za-z0-9][A-Za-z0-9._-]{0,63}`; account player ids (`guest:abc`) are not. */
export function seatIdOf(playerId: string): string {
  // only the `<method>:` separator becomes a dot, so two account ids never share a seat id;
  // anything else that does not fit becomes a hash
  const plain = playerId.replace(':', '.');
  if (/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(plain) && !/^p-[0-9a-f]{32}$/.test(plain)) return plain;
  return 'p-' + createHash('sha256').update(playerId).digest('hex').slice(0, 32);
}

export class HandoffCoordinator {
  readonly #deps: HandoffDeps;
  readonly #pending = new Map<string, Pending>();
  /** starts waiting for a host with room */
  #waiting: WaitingStart[] = [];

  constructor(deps: HandoffDeps) {
    this.#deps = deps;
  }

  /** Sessions being set up (claims and host creation), for operators and tests. */
  get pendingCount(): number {
    return this.#pending.size;
  }

  get waitingForHost(): number {
    return this.#waiting.length;
  }

  /** The transport a start is played on: the mode's, or quic. */
  transportOf(req: { mode?: string | undefined }): HandoffTransportKind {
    return this.#deps.transportFor?.(req.mode) ?? 'quic';
  }

  async start(req: StartRequest, now: number): Promise<void> {
    const transport = this.transportOf(req);
    if (transport === 'netcode' && !this.#deps.netcode) {
      // the server refuses such configs at start; this guards programmatic use
      this.#deps.logger.error({ origin: req.origin, mode: req.mode }, 'netcode game mode without a netcode key');
      for (const p of req.players) this.#deps.notifyCancelled(p.playerId, { matchId: req.origin.id, reason: 'netcode is not configured on the auth server', requeued: false });
      return;
    }
    const pick = this.#deps.registry.pick({ transport, ...(req.regions?.length ? { regions: req.regions } : {}) });
    if (!pick.ok) {
      this.#deps.logger.warn({ origin: req.origin, transport, detail: pick.detail }, 'no host available; will retry');
      const w: WaitingStart = { ...req, since: now, attempt: 1, toldAt: now };
      this.#waiting.push(w);
      this.#tellWaiting(w);
      return;
    }
    await this.#open(req, pick.host.name, transport, now);
  }

  async #open(req: StartRequest, hostName: string, transport: HandoffTransportKind, now: number): Promise<void> {
    const d = this.#deps;
    const sessionId = randomUUID();
    d.registry.reserve(hostName, sessionId, now);
    try {
      await d.sessions.create(
        {
          id: sessionId,
          hostName,
          transport,
          players: req.players.map((p) => p.playerId),
          origin: req.origin,
          ...(req.mode !== undefined ? { mode: req.mode } : {}),
          ...(req.ext !== undefined ? { ext: req.ext } : {}),
        },
        now,
      );
    } catch (err) {
      d.registry.release(sessionId);
      d.logger.warn({ err: errInfo(err), origin: req.origin }, 'could not create the session');
      for (const p of req.players) d.notifyCancelled(p.playerId, { matchId: req.origin.id, reason: (err as Error).message, requeued: false });
      return;
    }
    const p: Pending = {
      sessionId,
      hostName,
      transport,
      req,
      seats: new Map(req.players.map((pl) => [pl.playerId, { player: pl, seatId: seatIdOf(pl.playerId), claimed: false, waiters: [] }])),
      claimBy: Date.now() + d.claimTimeoutMs,
      state: 'claiming',
      tried: new Set(),
    };
    this.#pending.set(sessionId, p);
    d.logger.info({ sessionId, host: hostName, transport, players: req.players.length, origin: req.origin }, 'session created; waiting for claims');
    const ready: SessionReadyBody = {
      sessionId,
      transport,
      needsPublicKey: transport === 'quic' && d.keyDelivery === 'client',
      claimBy: p.claimBy,
      ...(req.origin.kind === 'lobby' ? { lobbyId: req.origin.id } : { matchId: req.origin.id }),
    };
    for (const pl of req.players) d.notifyPlayer(pl.playerId, 'session.ready', ready);
  }

  /**
   * `session.ready` again for a player who reconnects while its session is being set up or runs.
   * `transport` is the running session's (from its record) when it is no longer pending here.
   */
  readyFor(playerId: string, sessionId: string, transport?: string): SessionReadyBody | undefined {
    const p = this.#pending.get(sessionId);
    const claimBy = p ? p.claimBy : Date.now() + this.#deps.claimTimeoutMs;
    const kind: HandoffTransportKind = p?.transport ?? (transport === 'netcode' ? 'netcode' : 'quic');
    return {
      sessionId,
      transport: kind,
      needsPublicKey: kind === 'quic' && this.#deps.keyDelivery === 'client' && p !== undefined && p.seats.get(playerId)?.minted === undefined,
      claimBy,
    };
  }

  /** A player claims its seat; resolves once the host acknowledged the session. */
  async claim(playerId: string, sessionId: string, publicKey: Uint8Array | undefined, address: string): Promise<WireHandoff> {
    const d = this.#deps;
    const status = await d.sessions.statusOf(playerId);
    if (status.state === 'handed-off' && status.sessionId === sessionId) {
      const h = status.handOff.credentials as WireHandoff;
      // a netcode token is short-lived and tied to one client address: a returning player gets a
      // fresh one for the same seat (the host accepts it once the old connection has timed out)
      if (h.transport.kind === 'netcode') return this.#netcodeWire(sessionId, h.playerId, h.host.address);
      // a reconnecting player gets the very same hand-off
      return h;
    }
    const p = this.#pending.get(sessionId);
    const seat = p?.seats.get(playerId);
    if (!p || !seat) throw new IyesmpError('refused', 'unknown_session', `there is no seat for you in session ${sessionId}`);
    if (p.state === 'claiming' && p.transport === 'netcode') {
      seat.claimed = true;
      seat.address = address;
    } else if (p.state === 'claiming') {
      if (d.keyDelivery === 'client') {
        if (!publicKey) throw new IyesmpError('input', 'bad_request', 'session.claim needs publicKey (SPKI DER of a fresh key pair)');
        try {
          seat.minted = await d.minter.mint({ publicKey, sessionId, playerId: seat.seatId, ttlSeconds: d.sessionTtlSeconds });
        } catch (err) {
          throw new IyesmpError('input', 'bad_request', `the public key was refused: ${(err as Error).message}`);
        }
      } else {
        seat.minted = await d.minter.mintWithNewKey({
          sessionId,
          playerId: seat.seatId,
          ttlSeconds: d.sessionTtlSeconds,
          ...(d.seedKeyAlgorithm ? { algorithm: d.seedKeyAlgorithm } : {}),
        });
      }
      seat.claimed = true;
      seat.address = address;
    }
    const answer = new Promise<WireHandoff>((resolve, reject) => seat.waiters.push({ resolve, reject }));
    if (p.state === 'claiming' && [...p.seats.values()].every((s) => s.claimed)) {
      p.state = 'creating';
      void this.#createOnHost(p);
    }
    return answer;
  }

  async #createOnHost(p: Pending): Promise<void> {
    const d = this.#deps;
    const now = () => Date.now();
    let acked = false;
    try {
      await d.sessions.sentToHost(p.sessionId, now());
      const players: WireExpectedPlayer[] = [...p.seats.values()].map((s) => ({
        playerId: s.seatId,
        accountId: s.player.playerId,
        displayName: s.player.displayName,
        address: s.address!,
        ...(p.transport === 'netcode'
          ? { netcodeClientId: deriveNetcodeClientId(p.sessionId, s.seatId).toString() }
          : { certFingerprint: Buffer.from(s.minted!.fingerprint, 'hex') }),
      }));
      const body: CreateBody = {
        sessionId: p.sessionId,
        transport: p.transport,
        expiresAt: now() + d.joinTimeoutMs,
        players,
        ...(p.req.mode !== undefined ? { mode: p.req.mode } : {}),
        ...(p.req.ext !== undefined ? { ext: p.req.ext } : {}),
      };
      const ack = await d.createOnHost(p.hostName, body, d.hostAckTimeoutMs);
      acked = true;
      const ep = ack.endpoint;
      const handOffs: Record<string, HandOff> = {};
      const wire = new Map<string, WireHandoff>();
      if (p.transport === 'netcode') {
        if (ep.kind !== 'netcode' || !ep.address) throw new IyesmpError('refused', 'host_refused', 'the host answered without a netcode endpoint');
        const address = { host: ep.address.host, port: ep.address.port };
        // tokens need an IP literal: a host that registered a name fails the session here, before anything is recorded
        for (const [playerId, s] of p.seats) wire.set(playerId, this.#netcodeWire(p.sessionId, s.seatId, address));
      } else {
        if (ep.kind !== 'quic' || !ep.address || !ep.tlsName) throw new IyesmpError('refused', 'host_refused', 'the host answered without a QUIC endpoint');
        for (const [playerId, s] of p.seats) wire.set(playerId, quicWire(p.sessionId, s, { host: ep.address.host, port: ep.address.port }, ep.tlsName));
      }
      d.registry.release(p.sessionId);
      for (const [playerId, h] of wire) {
        const a = h.host.address;
        handOffs[playerId] = {
          sessionId: p.sessionId,
          host: { name: p.hostName, address: `${a.host}:${a.port}`, ...(p.transport === 'quic' ? { tlsName: h.host.tlsName } : {}) },
          transport: p.transport,
          credentials: h,
          expiresAt: h.expiresAt,
        };
      }
      await d.sessions.hostAcked(p.sessionId, handOffs, now());
      this.#pending.delete(p.sessionId);
      d.logger.info({ sessionId: p.sessionId, host: p.hostName }, 'host acknowledged; players handed off');
      for (const [playerId, s] of p.seats) for (const w of s.waiters.splice(0)) w.resolve(wire.get(playerId)!);
    } catch (err) {
      d.logger.warn({ sessionId: p.sessionId, host: p.hostName, err: errInfo(err) }, 'session creation on the host failed');
      // refused or not acknowledged: nothing runs on that host, so another host can take the session
      if (!acked && this.#pending.get(p.sessionId) === p) {
        const why = err instanceof IyesmpError ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : 'host error';
        if (await this.#startRehost(p, why)) return;
      }
      // the host runs a session nobody will join: let it free the slot now rather than at the no-show deadline
      if (acked) d.cancelOnHost(p.hostName, p.sessionId, 'the auth server could not complete the hand-off');
      await this.#fail(p, err instanceof IyesmpError ? `${err.code}: ${err.message}` : 'host error');
    }
  }

  /**
   * The host refused `session.create` or did not acknowledge it: remember it, free its slot, and
   * pick the next suitable host (retried each tick) until noHostTimeoutMs after the first failure.
   * The claims stay open; players get `session.waiting` meanwhile. False when the time is up.
   */
  async #startRehost(p: Pending, why: string): Promise<boolean> {
    const d = this.#deps;
    const now = Date.now();
    const failed = p.hostName;
    p.tried.add(failed);
    d.registry.release(p.sessionId);
    // a host that timed out may still create it late: tell it to drop the session (best effort)
    d.cancelOnHost(failed, p.sessionId, 'the session went to another host');
    if (p.rehost && now - p.rehost.since > d.noHostTimeoutMs) return false;
    const first = p.rehost === undefined;
    p.rehost ??= { since: now, attempt: 0, toldAt: now, reason: why, busy: false };
    p.rehost.reason = why;
    p.rehost.busy = true; // the tick must not pick for it while this runs
    p.state = 'rehosting';
    try {
      // no host while it waits, so the death of the host that failed does not touch it
      await d.sessions.rehost(p.sessionId, '', now);
    } catch (err) {
      d.logger.warn({ sessionId: p.sessionId, err: errInfo(err) }, 'could not move the session to another host');
      return false;
    }
    d.logger.info({ sessionId: p.sessionId, failedHosts: [...p.tried] }, 'picking another host for the session');
    if (first) this.#tellRehosting(p);
    p.rehost.busy = false;
    await this.#tryRehost(p, now);
    return true;
  }

  /** One re-pick attempt: send the session to the next host, or keep waiting, or give up. */
  async #tryRehost(p: Pending, now: number): Promise<void> {
    const d = this.#deps;
    const r = p.rehost!;
    if (r.busy || p.state !== 'rehosting' || this.#pending.get(p.sessionId) !== p) return;
    r.busy = true;
    try {
      await this.#rehostOnce(p, r, now);
    } finally {
      r.busy = false;
    }
  }

  async #rehostOnce(p: Pending, r: NonNullable<Pending['rehost']>, now: number): Promise<void> {
    const d = this.#deps;
    r.attempt++;
    const pick = d.registry.pick({ transport: p.transport, exclude: [...p.tried], ...(p.req.regions?.length ? { regions: p.req.regions } : {}) });
    if (!pick.ok) {
      if (now - r.since > d.noHostTimeoutMs) {
        await this.#fail(p, `no other host took the session (${r.reason})`);
        return;
      }
      // keep the domain's ack deadline from running out while we look
      await d.sessions.rehost(p.sessionId, '', now).catch(() => undefined);
      if (now - r.toldAt >= WAITING_NOTICE_MS) {
        r.toldAt = now;
        this.#tellRehosting(p);
      }
      return;
    }
    const hostName = pick.host.name;
    try {
      d.registry.reserve(hostName, p.sessionId, now);
      await d.sessions.rehost(p.sessionId, hostName, now);
    } catch (err) {
      d.registry.release(p.sessionId);
      d.logger.warn({ sessionId: p.sessionId, host: hostName, err: errInfo(err) }, 'could not move the session to another host');
      return;
    }
    d.logger.info({ sessionId: p.sessionId, host: hostName, attempt: r.attempt }, 'session goes to another host');
    p.hostName = hostName;
    p.state = 'creating';
    void this.#createOnHost(p);
  }

  #tellRehosting(p: Pending): void {
    const r = p.rehost!;
    const body: WaitingBody = {
      ...(p.req.origin.kind === 'lobby' ? { lobbyId: p.req.origin.id } : { matchId: p.req.origin.id }),
      since: r.since,
      attempt: r.attempt,
      giveUpAt: r.since + this.#deps.noHostTimeoutMs,
      reason: 'the game host did not take the session; trying another',
    };
    for (const s of p.seats.values()) this.#deps.notifyWaiting?.(s.player.playerId, body);
  }

  /** A netcode hand-off: a fresh connect token for the seat, naming the host's netcode address. */
  #netcodeWire(sessionId: string, seatId: string, address: { host: string; port: number }): WireHandoff {
    const nc = this.#deps.netcode;
    if (!nc) throw new IyesmpError('input', 'netcode_no_key', 'netcode sessions need the netcode key on the auth server');
    const { connectToken } = issueNetcodeHandoff({ ...nc, host: { publicAddresses: [address] }, sessionId, playerId: seatId });
    return {
      sessionId,
      playerId: seatId,
      // the token is what expires: a client that has not connected by then asks again
      expiresAt: Date.now() + nc.expireSeconds * 1000,
      // netcode has no TLS; the protocol's Handoff still wants a name, so it carries the address
      host: { address, tlsName: address.host },
      transport: { kind: 'netcode', connectToken: new Uint8Array(connectToken) },
    };
  }

  async #fail(p: Pending, reason: string): Promise<void> {
    const d = this.#deps;
    this.#pending.delete(p.sessionId);
    d.registry.release(p.sessionId);
    await d.sessions.fail(p.sessionId, reason, Date.now()).catch(() => undefined);
    const e = new IyesmpError('refused', 'session_failed', `the game session could not be set up (${reason})`);
    for (const s of p.seats.values()) {
      for (const w of s.waiters.splice(0)) w.reject(e);
      d.notifyCancelled(s.player.playerId, { matchId: p.req.origin.id, reason: `session failed: ${reason}`, requeued: false });
    }
  }

  /** The domain failed a session on its own (host ack timeout): forget it here too. */
  async forget(sessionId: string, reason: string): Promise<void> {
    const p = this.#pending.get(sessionId);
    if (p) await this.#fail(p, reason);
  }

  async tick(now: number): Promise<void> {
    const d = this.#deps;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const w of waiting) {
      const transport = this.transportOf(w);
      const pick = d.registry.pick({ transport, ...(w.regions?.length ? { regions: w.regions } : {}) });
      if (pick.ok) await this.#open(w, pick.host.name, transport, now);
      else if (now - w.since > d.noHostTimeoutMs) {
        d.logger.warn({ origin: w.origin }, 'gave up waiting for a host');
        for (const p of w.players) d.notifyCancelled(p.playerId, { matchId: w.origin.id, reason: 'no host available', requeued: false });
      } else {
        w.attempt++;
        if (now - w.toldAt >= WAITING_NOTICE_MS) {
          w.toldAt = now;
          this.#tellWaiting(w);
        }
        this.#waiting.push(w);
      }
    }
    const wall = Date.now();
    for (const p of [...this.#pending.values()]) {
      if (p.state === 'claiming' && wall > p.claimBy) await this.#fail(p, 'not every player claimed its seat in time');
      else if (p.state === 'rehosting') await this.#tryRehost(p, wall);
    }
  }

  #tellWaiting(w: WaitingStart): void {
    const body: WaitingBody = {
      ...(w.origin.kind === 'lobby' ? { lobbyId: w.origin.id } : { matchId: w.origin.id }),
      since: w.since,
      attempt: w.attempt,
      giveUpAt: w.since + this.#deps.noHostTimeoutMs,
      reason: 'no game host is free',
    };
    for (const p of w.players) this.#deps.notifyWaiting?.(p.playerId, body);
  }

  /** Shutdown: refuse every claim still waiting. */
  close(): void {
    const e = new IyesmpError('io', 'shutting_down', 'the auth server is shutting down');
    for (const p of this.#pending.values()) for (const s of p.seats.values()) for (const w of s.waiters.splice(0)) w.reject(e);
    this.#pending.clear();
    this.#waiting = [];
  }
}

function quicWire(sessionId: string, s: Seat, address: { host: string; port: number }, tlsName: string): WireHandoff {
  const m = s.minted!;
  return {
    sessionId,
    playerId: s.seatId,
    expiresAt: m.notAfter.getTime(),
    host: { address, tlsName },
    transport: {
      kind: 'quic',
      alpn: 'iyesmp-host/1',
      sessionCert: new Uint8Array(m.certDer),
      chain: pemToDerList(m.issuerPem).map((d) => new Uint8Array(d)),
      ...(m.privateKeyPem ? { privateKey: new Uint8Array(createPrivateKey(m.privateKeyPem).export({ type: 'pkcs8', format: 'der' })) } : {}),
    },
  };
}

export function errInfo(err: unknown): { code?: string; message: string } {
  if (err instanceof IyesmpError) return { code: err.code, message: err.message };
  return { message: err instanceof Error ? err.message : String(err) };
}
