import { createPrivateKey, randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { issueNetcodeHandoff } from '../../netcode/handoff.js';
import type { ResolvedNetcodeIssuer } from '../../netcode/config.js';
import { pemToDerList, type FastSessionMinter } from '../../pki/index.js';
import type { KeyAlgorithm, MintedSession } from '../../pki/types.js';
import { errInfo } from '../err-info.js';
import { handoffError } from '../errors.js';
import type { Sessions } from '../sessions.js';
import {
  HandoffCore,
  type CreateBody,
  type HandoffAction,
  type HostEndpoint,
  type HostPicker,
  type Offer,
  type PlayerNotice,
  type SeatCert,
  type SessionReadyBody,
  type StartRequest,
  type WaitingBody,
  type WireHandoff,
} from './core.js';
import type { HandoffTransportKind } from './seat.js';

/**
 * The hand-off's IO shell: feeds HandoffCore its inputs with the time, and carries out the
 * actions it queues (store records, minting, the host's control connection, player notices,
 * logs). Every answer that comes back is fed in as an input and the queue run again. The server's
 * one timer calls `tick(now)`.
 */
export interface HandoffDriverOptions {
  registry: HostPicker;
  sessions: Pick<Sessions, 'create' | 'sentToHost' | 'rehost' | 'hostAcked' | 'fail' | 'statusOf'>;
  minter: Pick<FastSessionMinter, 'mint' | 'mintWithNewKey'>;
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
  /** the host's control connection, if it is connected (rejects otherwise) */
  createOnHost(hostName: string, body: CreateBody, timeoutMs: number): Promise<{ endpoint: HostEndpoint }>;
  /** best effort: ask the host to drop a session */
  cancelOnHost(hostName: string, sessionId: string, reason: string): void;
  /**
   * tell a connected player something (no-op when it is offline); `session.handoff` and
   * `session.key_refused` only to players that negotiated 1.3
   */
  notifyPlayer(
    playerId: string,
    type: Exclude<PlayerNotice['type'], 'session.waiting'>,
    body: Exclude<PlayerNotice, { type: 'session.waiting' }>['body'],
  ): void;
  /** a pushed hand-off (ok) or a refused key of a pre-claimed seat, for the operator's hand-off figures (as claims are) */
  noteHandoff?(ms: number, ok: boolean): void;
  /** a start is no longer being set up without a session record (see the `set_up_over` action) */
  setUpOver?(origin: StartRequest['origin'], sessionId: string | undefined): void;
  /** tell a player its start still waits for a free host (`session.waiting`; 1.1 clients only) */
  notifyWaiting(playerId: string, body: WaitingBody): void;
  newSessionId?: () => string;
  clock?: () => number;
}

export class HandoffDriver {
  readonly #o: HandoffDriverOptions;
  readonly #core: HandoffCore;
  readonly #now: () => number;
  /** claims waiting for their answer, by the core's ref */
  readonly #claims = new Map<number, { resolve: (h: WireHandoff) => void; reject: (e: unknown) => void }>();

  constructor(o: HandoffDriverOptions) {
    this.#o = o;
    this.#now = o.clock ?? Date.now;
    const nc = o.netcode;
    this.#core = new HandoffCore({
      hosts: o.registry,
      newSessionId: o.newSessionId ?? randomUUID,
      keyDelivery: o.keyDelivery,
      ...(o.seedKeyAlgorithm ? { seedKeyAlgorithm: o.seedKeyAlgorithm } : {}),
      ...(o.transportFor ? { transportFor: o.transportFor } : {}),
      ...(nc
        ? {
            netcodeToken: ({ sessionId, seatId, address, now }) => ({
              connectToken: new Uint8Array(issueNetcodeHandoff({ ...nc, host: { publicAddresses: [address] }, sessionId, playerId: seatId }).connectToken),
              expiresAt: now + nc.expireSeconds * 1000,
            }),
          }
        : {}),
      claimTimeoutMs: o.claimTimeoutMs,
      hostAckTimeoutMs: o.hostAckTimeoutMs,
      joinTimeoutMs: o.joinTimeoutMs,
      noHostTimeoutMs: o.noHostTimeoutMs,
    });
  }

  /** Sessions being set up (claims and host creation), for operators and tests. */
  get pendingCount(): number {
    return this.#core.pendingCount;
  }

  get waitingForHost(): number {
    return this.#core.waitingForHost;
  }

  transportOf(req: { mode?: string | undefined }): HandoffTransportKind {
    return this.#core.transportOf(req);
  }

  /** What `match.found` tells a 1.3 client to send with its confirmation. */
  confirmNeeds(mode: string | undefined): { transport: HandoffTransportKind; needsPublicKey: boolean } {
    return this.#core.confirmNeeds(mode);
  }

  /** A 1.3 player confirms `matchId` with this (before the matchmaker hears the confirmation). */
  offer(playerId: string, matchId: string, offer: Offer): void {
    this.#core.offer(playerId, matchId, offer, this.#now());
  }

  withdrawOffer(playerId: string, matchId?: string): void {
    this.#core.withdrawOffer(playerId, matchId);
  }

  start(req: StartRequest, now: number): void {
    this.#core.start(req, now);
    this.#run();
  }

  /** A player claims its seat; resolves once the host acknowledged the session. */
  async claim(playerId: string, sessionId: string, publicKey: Uint8Array | undefined, address: string): Promise<WireHandoff> {
    const status = await this.#o.sessions.statusOf(playerId);
    if (status.state === 'handed-off' && status.sessionId === sessionId) {
      const h = status.handOff.credentials as WireHandoff;
      // a netcode token is short-lived and tied to one client address: a returning player gets a
      // fresh one for the same seat (the host accepts it once the old connection has timed out)
      if (h.transport.kind === 'netcode') return this.#core.netcodeWire(sessionId, h.playerId, h.host.address, this.#now());
      // a reconnecting player gets the very same hand-off
      return h;
    }
    return new Promise<WireHandoff>((resolve, reject) => {
      this.#claims.set(this.#core.claim(playerId, sessionId, publicKey, address, this.#now()), { resolve, reject });
      this.#run();
    });
  }

  /** `session.ready` again for a player who reconnects while its session is being set up or runs. */
  readyFor(playerId: string, sessionId: string, transport?: string): SessionReadyBody {
    return this.#core.readyFor(playerId, sessionId, transport, this.#now());
  }

  /** The domain failed a session on its own (host ack timeout): forget it here too. */
  forget(sessionId: string, reason: string): void {
    this.#core.forget(sessionId, reason, this.#now());
    this.#run();
  }

  /** A host was declared dead; call before the session records learn it. */
  hostLost(hostName: string): void {
    this.#core.hostLost(hostName, this.#now());
    this.#run();
  }

  tick(now: number): void {
    this.#core.tick(now);
    this.#run();
  }

  /** Shutdown: refuse every claim still waiting. */
  close(): void {
    this.#core.close();
    this.#run();
  }

  /** Carries out the queued actions; answers arrive later and run the queue again. */
  #run(): void {
    for (const a of this.#core.drain()) {
      try {
        this.#do(a);
      } catch (err) {
        this.#o.logger.error({ err: errInfo(err), action: a.type }, 'hand-off action failed');
      }
    }
  }

  #do(a: HandoffAction): void {
    const o = this.#o;
    switch (a.type) {
      case 'log':
        o.logger[a.level](a.fields, a.msg);
        return;
      case 'notify':
        if (a.message.type === 'session.waiting') o.notifyWaiting(a.playerId, a.message.body);
        else o.notifyPlayer(a.playerId, a.message.type, a.message.body);
        if (a.message.type === 'session.handoff') o.noteHandoff?.(a.message.waitedMs, true);
        else if (a.message.type === 'session.key_refused') o.noteHandoff?.(0, false);
        return;
      case 'resolve_claim':
        this.#claims.get(a.ref)?.resolve(a.handoff);
        this.#claims.delete(a.ref);
        return;
      case 'refuse_claim':
        this.#claims.get(a.ref)?.reject(handoffError(a.error.code, a.error.message));
        this.#claims.delete(a.ref);
        return;
      case 'set_up_over':
        o.setUpOver?.(a.origin, a.sessionId);
        return;
      case 'cancel_on_host':
        o.cancelOnHost(a.host, a.sessionId, a.reason);
        return;
      case 'mint': {
        const req = { sessionId: a.sessionId, playerId: a.seatId, ttlSeconds: o.sessionTtlSeconds };
        const minted = a.publicKey
          ? o.minter.mint({ ...req, publicKey: a.publicKey })
          : o.minter.mintWithNewKey({ ...req, ...(a.algorithm ? { algorithm: a.algorithm } : {}) });
        this.#answer(
          minted.then((m) => seatCert(m)),
          (cert) => this.#core.minted(a.ref, cert, this.#now()),
          (err) => this.#core.mintFailed(a.ref, err),
        );
        return;
      }
      case 'create_on_host':
        this.#answer(
          o.createOnHost(a.host, a.body, a.timeoutMs),
          (ack) => this.#core.hostAcked(a.ref, ack.endpoint, this.#now()),
          (err) => this.#core.hostRefused(a.ref, err, this.#now()),
        );
        return;
      case 'session_record': {
        const done = this.#record(a);
        const ref = a.ref;
        if (ref === undefined) {
          done.catch(() => undefined);
          return;
        }
        this.#answer(
          done,
          () => this.#core.recorded(ref, this.#now()),
          (err) => this.#core.recordFailed(ref, err, this.#now()),
        );
        return;
      }
    }
  }

  #record(a: Extract<HandoffAction, { type: 'session_record' }>): Promise<unknown> {
    const s = this.#o.sessions;
    switch (a.op) {
      case 'create':
        return s.create(a.session, a.now);
      case 'sent-to-host':
        return s.sentToHost(a.sessionId, a.now);
      case 'rehost':
        return s.rehost(a.sessionId, a.hostName, a.now);
      case 'host-acked':
        return s.hostAcked(a.sessionId, a.handOffs, a.now);
      case 'fail':
        return s.fail(a.sessionId, a.reason, a.now);
    }
  }

  /** Feeds a promise's outcome back into the core, then runs what it queued. */
  #answer<T>(p: Promise<T>, ok: (v: T) => void, failed: (err: { code?: string; message: string }) => void): void {
    p.then(ok, (err: unknown) => failed(errInfo(err))).then(
      () => this.#run(),
      (err: unknown) => this.#o.logger.error({ err: errInfo(err) }, 'hand-off input failed'),
    );
  }
}

/**
 * The issuer chain as DER, decoded once per issuer PEM: every minted cert names the same one or two
 * (a rotation), and decoding the PEM per hand-off was measurable. The wire encoder only reads them.
 */
const chainCache = new Map<string, Uint8Array<ArrayBuffer>[]>();
function issuerChain(pem: string): Uint8Array<ArrayBuffer>[] {
  let chain = chainCache.get(pem);
  if (!chain) {
    chain = pemToDerList(pem).map((d) => new Uint8Array(d));
    // bounded: a SessionAuth rotation adds one entry; anything beyond a few is not a rotation
    if (chainCache.size >= 8) chainCache.clear();
    chainCache.set(pem, chain);
  }
  return chain;
}

/** A minted certificate as the wire carries it (DER), with the generated key in the seed design. */
function seatCert(m: MintedSession & { privateKeyPem?: string }): SeatCert {
  return {
    certDer: new Uint8Array(m.certDer),
    fingerprint: m.fingerprint,
    expiresAt: m.notAfter.getTime(),
    chain: issuerChain(m.issuerPem),
    ...(m.privateKeyPem ? { privateKey: new Uint8Array(createPrivateKey(m.privateKeyPem).export({ type: 'pkcs8', format: 'der' })) } : {}),
  };
}
