import type { z } from 'zod';
import type { ErrorKind } from '../../errors.js';
import { deriveNetcodeClientId } from '../../netcode/handoff.js';
import { formatHostPort } from '../../net/address.js';
import type { KeyAlgorithm } from '../../pki/types.js';
import type { Handoff as HandoffSchema } from '../../protocol/families/auth.js';
import type { ExpectedPlayer as ExpectedPlayerSchema } from '../../protocol/families/hostctl.js';
import { errInfo } from '../err-info.js';
import { HANDOFF_ERRORS, handoffError, type HandoffErrorCode } from '../errors.js';
import type { PickRequest, PickResult } from '../host-registry.js';
import type { HandOff, NewSession } from '../sessions.js';
import { seatIdOf, type HandoffTransportKind } from './seat.js';

/**
 * Hand-off: from "these players play together" (a confirmed match or a started lobby) to every
 * player holding a session certificate for a session the host has acknowledged.
 *
 *   start -> pick host (or wait: "no host available", retried each tick)
 *         -> session record created, `session.ready` to each player
 *         -> each player claims its seat (`session.claim`, with its public key): a cert is minted now,
 *            so a bad key is refused to that player alone
 *         -> every seat claimed: `session.create` on the host with address + fingerprint per player
 *         -> host ack: every pending claim is answered with its Handoff
 *
 * Pre-claimed seats (iyesmp-auth 1.3): a player whose connection negotiated 1.3 confirms a match
 * asking for its seat to be claimed with it, with the public key the session needs (`offer`; the
 * endpoint makes one for such a confirm only). When that match starts, its seat is claimed at
 * once: the cert is minted once the record is made, the player gets no `session.ready`, and its
 * Handoff goes out as `session.handoff` with the host's ack. A key the minter refuses is told to
 * that player alone (`session.key_refused`), who then gets `session.ready` and claims as before;
 * the other seats keep theirs. Seats without an offer (lobby starts, older clients) are claimed
 * with `session.claim` as above, in the same session.
 *
 * Claims are answered only after the host's ack, so a client never races the host's allow-list.
 * The session holds a slot on its host from the pick until it ends (HostPicker reserve, confirm on
 * the ack, release on failure; the server releases it when the results come). A host that refuses
 * or stays silent is asked again for that session only after a back-off (doubling per failure):
 * meanwhile another one is picked, or the session waits for a slot to free up (players hear
 * `session.waiting` with the reason) until noHostTimeoutMs after the first failure.
 *
 * The transport is chosen per game mode (`transportFor`). For netcode there is no certificate: a
 * claim only marks the seat taken, the host is told each seat's client id, and the answer carries
 * a connect token sealed with the key shared with the hosts.
 *
 * Sans-IO: inputs are method calls carrying `now`; outputs are actions queued for the driver
 * (`drain()`). Anything slow (minting, the session store, the host's answer) is an action with a
 * `ref`, answered by an input naming that ref; an answer to a ref no longer awaited is ignored.
 * Host choice is synchronous, so the core asks the registry (`HostPicker`) itself.
 */

export type WireHandoff = z.output<typeof HandoffSchema>;
type WireExpectedPlayer = z.output<typeof ExpectedPlayerSchema>;

/** The codes a claim is refused with (clients see them in the error reply); each has one kind. */
export type ClaimRefusalCode = Exclude<HandoffErrorCode, 'netcode_no_key'>;

export interface ClaimRefusal {
  kind: ErrorKind;
  code: ClaimRefusalCode;
  message: string;
}

/** A refusal as data, with the kind HANDOFF_ERRORS registers for its code. */
function refusal(code: ClaimRefusalCode, message: string): ClaimRefusal {
  return { kind: HANDOFF_ERRORS[code], code, message };
}

/** An error from the driver's side (store, host, minter), as data. */
export interface ErrorInfo {
  code?: string;
  message: string;
}

export interface SeatPlayer {
  playerId: string;
  displayName: string;
  /** the seat is claimed at the start with what the player sent with `match.confirm` (1.3); set by `start` from the offers */
  preclaim?: Offer;
}

/** What a 1.3 player sent with `match.confirm`: its public key (if the session needs one) and its address. */
export interface Offer {
  publicKey?: Uint8Array;
  /** the address the player's Auth connection comes from (allow-listed on the host) */
  address: string;
}

export interface StartRequest {
  origin: { kind: 'lobby' | 'match'; id: string };
  players: SeatPlayer[];
  mode?: string;
  regions?: string[];
  /** game data for the host (lobby settings, ticket ext) */
  ext?: unknown;
}

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

export interface WaitingBody {
  matchId?: string;
  lobbyId?: string;
  since: number;
  attempt: number;
  giveUpAt: number;
  reason: string;
}

export interface CancelledBody {
  matchId: string;
  reason: string;
  requeued: boolean;
}

/** (1.3) The hand-off of a pre-claimed seat. */
export interface PushedHandoffBody {
  matchId: string;
  handoff: WireHandoff;
}

/** (1.3) The key of a pre-claimed seat was refused; `session.ready` follows for that player. */
export interface KeyRefusedBody {
  sessionId: string;
  matchId: string;
  code: ClaimRefusalCode;
  reason: string;
}

/**
 * What a player is told (`session.waiting` goes to 1.1+ clients only, `session.handoff` and
 * `session.key_refused` to 1.3 ones, who alone make offers; the driver decides).
 */
export type PlayerNotice =
  | { type: 'session.ready'; body: SessionReadyBody }
  /** `waitedMs`: since the seat was claimed at the start (operators' hand-off figures; not sent) */
  | { type: 'session.handoff'; body: PushedHandoffBody; waitedMs: number }
  | { type: 'session.key_refused'; body: KeyRefusedBody }
  | { type: 'session.waiting'; body: WaitingBody }
  | { type: 'match.cancelled'; body: CancelledBody };

/** The host's answer to `session.create`. */
export interface HostEndpoint {
  kind: string;
  address?: { host: string; port: number };
  tlsName?: string;
  /** MQTT: the broker, the session's room and the host's key players pin */
  brokerUrl?: string;
  room?: string;
  topicPrefix?: string;
  game?: string;
  hostKey?: Uint8Array;
}

/** A minted session certificate, as the wire needs it (DER). */
export interface SeatCert {
  certDer: Uint8Array<ArrayBuffer>;
  /** SHA-256 of certDer, hex */
  fingerprint: string;
  expiresAt: number;
  /** SessionAuth chain */
  chain: Uint8Array<ArrayBuffer>[];
  /** seed key delivery: the key we generated, PKCS#8 */
  privateKey?: Uint8Array<ArrayBuffer>;
}

/** The store operations the hand-off records (see Sessions); `ref` present: answer with recorded/recordFailed. */
export type SessionRecordOp =
  | { op: 'create'; session: NewSession & { id: string } }
  | { op: 'sent-to-host'; sessionId: string }
  /** `hostName` empty: waiting for another host, so no host's death touches it */
  | { op: 'rehost'; sessionId: string; hostName: string }
  | { op: 'host-acked'; sessionId: string; handOffs: Record<string, HandOff> }
  | { op: 'fail'; sessionId: string; reason: string };

export type LogLevel = 'info' | 'warn' | 'error';

export type HandoffAction =
  | ({ type: 'session_record'; ref?: number; now: number } & SessionRecordOp)
  | { type: 'mint'; ref: number; sessionId: string; seatId: string; publicKey?: Uint8Array; algorithm?: KeyAlgorithm }
  | { type: 'create_on_host'; ref: number; host: string; body: CreateBody; timeoutMs: number; deadline: number }
  /** best effort: the host drops the session */
  | { type: 'cancel_on_host'; host: string; sessionId: string; reason: string }
  | { type: 'notify'; playerId: string; message: PlayerNotice }
  | { type: 'resolve_claim'; ref: number; handoff: WireHandoff }
  | { type: 'refuse_claim'; ref: number; error: ClaimRefusal }
  /**
   * A start is no longer being set up without a session record: it has one now (`sessionId`, live
   * until the records say otherwise), or it failed before one existed (no `sessionId`). The
   * matchmaker holds the new tickets of a match's players until this.
   */
  | { type: 'set_up_over'; origin: StartRequest['origin']; sessionId?: string }
  | { type: 'log'; level: LogLevel; msg: string; fields: Record<string, unknown> };

/** The host registry as the hand-off uses it (synchronous, sans-IO). */
export interface HostPicker {
  pick(req: PickRequest): PickResult;
  /** throws when the host is unknown or the id is taken */
  reserve(host: string, reservationId: string, now: number): unknown;
  /** the host acknowledged: the slot stays held until release */
  confirm(reservationId: string, now: number): void;
  release(reservationId: string): void;
}

export interface HandoffCoreOptions {
  hosts: HostPicker;
  /** session ids (injected so tests are deterministic) */
  newSessionId: () => string;
  keyDelivery: 'client' | 'seed';
  /** key type the server generates in the seed design; default: the SessionAuth key's */
  seedKeyAlgorithm?: KeyAlgorithm;
  /** which transport a game mode is played on (default quic) */
  transportFor?: (mode: string | undefined) => HandoffTransportKind;
  /**
   * A netcode connect token for one seat, naming the host's address; required for netcode
   * sessions. Throws when the address cannot go in a token (not an IP literal).
   */
  netcodeToken?: (req: { sessionId: string; seatId: string; address: { host: string; port: number }; now: number }) => {
    connectToken: Uint8Array<ArrayBuffer>;
    expiresAt: number;
  };
  claimTimeoutMs: number;
  hostAckTimeoutMs: number;
  /** how long the host waits for players after creation */
  joinTimeoutMs: number;
  /** how long a start may wait for a free host before the players are told it failed */
  noHostTimeoutMs: number;
  /** first back-off before a host that failed a session is asked again for it (default HOST_RETRY_MS) */
  hostRetryMs?: number;
  /** how long a confirm's offer waits for its match to start (default OFFER_TTL_MS) */
  offerTtlMs?: number;
}

/** How often a waiting start is re-announced to its players. */
export const WAITING_NOTICE_MS = 5_000;
/** Back-off before a host that refused or did not acknowledge a session is asked again for it; doubles per failure. */
export const HOST_RETRY_MS = 2_000;
/**
 * An offer not used by then is dropped: a match starts when its last player confirms, well within
 * the matchmaker's confirmation window.
 */
export const OFFER_TTL_MS = 120_000;
/** The back-off stops doubling at this many times the first. */
const HOST_RETRY_MAX_FACTOR = 8;

type WaitingStart = StartRequest & { since: number; attempt: number; toldAt: number };

interface Seat {
  player: SeatPlayer;
  seatId: string;
  address?: string;
  /** the player claimed (for quic: its cert is minted) */
  claimed: boolean;
  cert?: SeatCert;
  /** claims waiting for the host's ack */
  waiters: number[];
  /** pre-claimed (1.3): the Handoff is pushed to the player with the host's ack */
  push: boolean;
  /** when the seat was claimed at the start */
  since?: number;
}

/** The one slow step a pending session waits for, named by the ref of the action that started it. */
type Wait =
  | { ref: number; step: 'create' }
  | { ref: number; step: 'sent-to-host' }
  | { ref: number; step: 'host'; deadline: number }
  | { ref: number; step: 'host-acked'; wire: Map<string, WireHandoff> }
  | { ref: number; step: 'unhost'; first: boolean; failReason: string }
  | { ref: number; step: 'move'; hostName: string };

interface Pending {
  sessionId: string;
  hostName: string;
  transport: HandoffTransportKind;
  req: StartRequest;
  seats: Map<string, Seat>;
  claimBy: number;
  /** `recording`: the record is being created (no player knows the session yet); `rehosting`: the
   * chosen host refused or did not acknowledge; looking for another one */
  state: 'recording' | 'claiming' | 'creating' | 'rehosting';
  wait?: Wait;
  /** hosts that refused or did not acknowledge this session: not asked again before `until` */
  backoff: Map<string, { failures: number; until: number }>;
  /** since the first host failed: the re-pick gives up after noHostTimeoutMs */
  rehost?: { since: number; attempt: number; toldAt: number; reason: string; lastError: string };
}

interface Mint {
  sessionId: string;
  playerId: string;
  address: string;
  /** minted for a pre-claimed seat: no claim waits for it */
  pre?: boolean;
}

export class HandoffCore {
  readonly #o: HandoffCoreOptions;
  readonly #pending = new Map<string, Pending>();
  /** starts waiting for a host with room */
  #waiting: WaitingStart[] = [];
  /** claims whose certificate is being minted */
  readonly #mints = new Map<number, Mint>();
  /** what 1.3 players confirmed their match with, by player, until the match starts */
  readonly #offers = new Map<string, Offer & { matchId: string; at: number }>();
  #out: HandoffAction[] = [];
  #ref = 0;

  constructor(o: HandoffCoreOptions) {
    this.#o = o;
  }

  /** Sessions being set up (claims and host creation), for operators and tests. */
  get pendingCount(): number {
    return this.#pending.size;
  }

  get waitingForHost(): number {
    return this.#waiting.length;
  }

  /** Offers waiting for their match to start. */
  get offerCount(): number {
    return this.#offers.size;
  }

  /**
   * What a 1.3 client should send with `match.confirm` for a match of this mode: told in
   * `match.found` (a key only for certificate transports whose keys the clients make).
   */
  confirmNeeds(mode: string | undefined): { transport: HandoffTransportKind; needsPublicKey: boolean } {
    const transport = this.transportOf({ mode });
    return { transport, needsPublicKey: transport !== 'netcode' && this.#o.keyDelivery === 'client' };
  }

  /** The actions queued since the last drain, in order. */
  drain(): HandoffAction[] {
    const out = this.#out;
    this.#out = [];
    return out;
  }

  /** The transport a start is played on: the mode's, or quic. */
  transportOf(req: { mode?: string | undefined }): HandoffTransportKind {
    return this.#o.transportFor?.(req.mode) ?? 'quic';
  }

  // ---- inputs ------------------------------------------------------------------------------------

  /**
   * A 1.3 player confirmed match `matchId` with this: its seat is claimed when that match starts.
   * Call before the confirmation reaches the matchmaker (the last one starts the hand-off at once).
   * A newer offer of the player replaces an older one.
   */
  offer(playerId: string, matchId: string, offer: Offer, now: number): void {
    this.#offers.set(playerId, { matchId, address: offer.address, ...(offer.publicKey ? { publicKey: offer.publicKey } : {}), at: now });
  }

  /** The player's offer is void (its confirmation was refused, it left): its seat, if any, is claimed as before. */
  withdrawOffer(playerId: string, matchId?: string): void {
    const o = this.#offers.get(playerId);
    if (o && (matchId === undefined || o.matchId === matchId)) this.#offers.delete(playerId);
  }

  start(req0: StartRequest, now: number): void {
    const req = this.#withOffers(req0);
    const transport = this.transportOf(req);
    if (transport === 'netcode' && !this.#o.netcodeToken) {
      // the server refuses such configs at start; this guards programmatic use
      this.#log('error', 'netcode game mode without a netcode key', { origin: req.origin, mode: req.mode });
      for (const p of req.players) this.#cancelled(p.playerId, req.origin.id, 'netcode is not configured on the auth server');
      this.#out.push({ type: 'set_up_over', origin: req.origin });
      return;
    }
    const pick = this.#o.hosts.pick({ transport, ...(req.regions?.length ? { regions: req.regions } : {}) });
    if (!pick.ok) {
      this.#log('warn', 'no host available; will retry', { origin: req.origin, transport, detail: pick.detail });
      const w: WaitingStart = { ...req, since: now, attempt: 1, toldAt: now };
      this.#waiting.push(w);
      this.#tellWaiting(w);
      return;
    }
    this.#open(req, pick.host.name, transport, now);
  }

  /**
   * A player claims its seat. Returns the claim's ref: the claim is answered by a `resolve_claim`
   * (after the host's ack) or a `refuse_claim` action naming it.
   */
  claim(playerId: string, sessionId: string, publicKey: Uint8Array | undefined, address: string, now: number): number {
    const o = this.#o;
    const ref = ++this.#ref;
    const p = this.#pending.get(sessionId);
    const seat = p?.seats.get(playerId);
    if (!p || !seat || p.state === 'recording') {
      this.#refuse(ref, refusal('unknown_session', `there is no seat for you in session ${sessionId}`));
      return ref;
    }
    if (p.state !== 'claiming') {
      // the seat was claimed before: this answer comes with the others'
      seat.waiters.push(ref);
      return ref;
    }
    if (p.transport === 'netcode') {
      seat.claimed = true;
      seat.address = address;
      seat.waiters.push(ref);
      this.#maybeCreate(p, now);
      return ref;
    }
    if (o.keyDelivery === 'client' && !publicKey && seat.cert) {
      // the seat was pre-claimed with the key of the player's confirm (a player back after a
      // reconnect is offered the session without needsPublicKey): answered with the others
      seat.waiters.push(ref);
      return ref;
    }
    if (o.keyDelivery === 'client' && !publicKey) {
      this.#refuse(ref, refusal('bad_request', 'session.claim needs publicKey (SPKI DER of a fresh key pair)'));
      return ref;
    }
    this.#mints.set(ref, { sessionId, playerId, address });
    this.#out.push({
      type: 'mint',
      ref,
      sessionId,
      seatId: seat.seatId,
      ...(o.keyDelivery === 'client' ? { publicKey: publicKey! } : o.seedKeyAlgorithm ? { algorithm: o.seedKeyAlgorithm } : {}),
    });
    return ref;
  }

  /** The certificate of claim `ref` is minted. */
  minted(ref: number, cert: SeatCert, now: number): void {
    const m = this.#mints.get(ref);
    if (!m) return;
    this.#mints.delete(ref);
    const p = this.#pending.get(m.sessionId);
    const seat = p?.seats.get(m.playerId);
    if (!p || !seat) {
      if (!m.pre) this.#refuse(ref, refusal('unknown_session', `there is no seat for you in session ${m.sessionId}`));
      return;
    }
    // a second claim of the seat minted again: only while the host has not been told a fingerprint
    if (p.state === 'claiming') {
      seat.cert = cert;
      seat.claimed = true;
      seat.address = m.address;
      if (m.pre) seat.push = true;
    }
    if (!m.pre) seat.waiters.push(ref);
    this.#maybeCreate(p, now);
  }

  /** Minting for claim `ref` failed: a bad key is refused to that player alone. */
  mintFailed(ref: number, err: ErrorInfo): void {
    const m = this.#mints.get(ref);
    if (!m) return;
    this.#mints.delete(ref);
    const why =
      this.#o.keyDelivery === 'client'
        ? refusal('bad_request', `the public key was refused: ${err.message}`)
        : refusal('mint_failed', `the session certificate could not be made: ${err.message}`);
    if (!m.pre) return this.#refuse(ref, why);
    // a pre-claimed seat: this player alone is told, and claims its seat as before
    const p = this.#pending.get(m.sessionId);
    const seat = p?.seats.get(m.playerId);
    if (!p || !seat || p.state !== 'claiming' || seat.claimed) return;
    this.#log('info', 'the key of a confirm was refused; the player claims its seat', { sessionId: p.sessionId, playerId: m.playerId, err });
    this.#notify(m.playerId, { type: 'session.key_refused', body: { sessionId: p.sessionId, matchId: p.req.origin.id, code: why.code, reason: why.message } });
    this.#notify(m.playerId, { type: 'session.ready', body: this.#readyBody(p) });
  }

  /** The session store carried out the record with this ref. */
  recorded(ref: number, now: number): void {
    const taken = this.#take(ref);
    if (!taken) return;
    const { p, w } = taken;
    switch (w.step) {
      case 'create':
        p.state = 'claiming';
        p.claimBy = now + this.#o.claimTimeoutMs;
        this.#out.push({ type: 'set_up_over', origin: p.req.origin, sessionId: p.sessionId });
        this.#log('info', 'session created; waiting for claims', {
          sessionId: p.sessionId,
          host: p.hostName,
          transport: p.transport,
          players: p.req.players.length,
          origin: p.req.origin,
        });
        for (const s of p.seats.values()) {
          if (s.player.preclaim && this.#preclaim(p, s, s.player.preclaim, now)) continue;
          this.#notify(s.player.playerId, { type: 'session.ready', body: this.#readyBody(p) });
        }
        // every seat may be taken already (netcode offers)
        this.#maybeCreate(p, now);
        return;
      case 'sent-to-host':
        this.#sendCreate(p, now);
        return;
      case 'host-acked':
        this.#pending.delete(p.sessionId);
        this.#log('info', 'host acknowledged; players handed off', { sessionId: p.sessionId, host: p.hostName });
        for (const [playerId, s] of p.seats) {
          const handoff = w.wire.get(playerId)!;
          for (const r of s.waiters.splice(0)) this.#out.push({ type: 'resolve_claim', ref: r, handoff });
          if (s.push) this.#notify(playerId, { type: 'session.handoff', body: { matchId: p.req.origin.id, handoff }, waitedMs: now - (s.since ?? now) });
        }
        return;
      case 'unhost':
        this.#log('info', 'picking another host for the session', { sessionId: p.sessionId, failedHosts: [...p.backoff.keys()] });
        if (w.first) this.#tellRehosting(p);
        this.#tryRehost(p, now);
        return;
      case 'move':
        this.#log('info', 'session goes to another host', { sessionId: p.sessionId, host: w.hostName, attempt: p.rehost!.attempt });
        p.hostName = w.hostName;
        this.#startCreate(p, now);
        return;
      case 'host':
        return;
    }
  }

  /** The session store refused the record with this ref. */
  recordFailed(ref: number, err: ErrorInfo, now: number): void {
    const taken = this.#take(ref);
    if (!taken) return;
    const { p, w } = taken;
    switch (w.step) {
      case 'create':
        this.#pending.delete(p.sessionId);
        this.#o.hosts.release(p.sessionId);
        this.#log('warn', 'could not create the session', { err, origin: p.req.origin });
        for (const pl of p.req.players) this.#cancelled(pl.playerId, p.req.origin.id, err.message);
        this.#out.push({ type: 'set_up_over', origin: p.req.origin });
        return;
      case 'sent-to-host':
        this.#hostFailed(p, err, now);
        return;
      case 'host-acked':
        this.#log('warn', 'session creation on the host failed', { sessionId: p.sessionId, host: p.hostName, err });
        this.#abandonOnHost(p, failReason(err), now);
        return;
      case 'unhost':
        this.#log('warn', 'could not move the session to another host', { sessionId: p.sessionId, err });
        this.#fail(p, w.failReason, now);
        return;
      case 'move':
        // retried on the next tick
        this.#o.hosts.release(p.sessionId);
        this.#log('warn', 'could not move the session to another host', { sessionId: p.sessionId, host: w.hostName, err });
        return;
      case 'host':
        return;
    }
  }

  /** The host acknowledged `session.create` (ref of the create_on_host action). */
  hostAcked(ref: number, ep: HostEndpoint, now: number): void {
    const p = this.#take(ref, 'host')?.p;
    if (!p) return;
    const built = this.#wires(p, ep, now);
    if ('err' in built) {
      this.#log('warn', 'session creation on the host failed', { sessionId: p.sessionId, host: p.hostName, err: built.err });
      this.#abandonOnHost(p, failReason(built.err), now);
      return;
    }
    const wire = built.wire;
    // the host runs it now: the slot stays held until the session ends
    this.#o.hosts.confirm(p.sessionId, now);
    const handOffs: Record<string, HandOff> = {};
    for (const [playerId, h] of wire) {
      const a = h.host.address;
      handOffs[playerId] = {
        sessionId: p.sessionId,
        host: { name: p.hostName, address: formatHostPort(a.host, a.port), ...(p.transport === 'quic' ? { tlsName: h.host.tlsName } : {}) },
        transport: p.transport,
        credentials: h,
        expiresAt: h.expiresAt,
      };
    }
    const r = this.#record({ op: 'host-acked', sessionId: p.sessionId, handOffs }, now, true);
    p.wait = { ref: r, step: 'host-acked', wire };
  }

  /** The host refused `session.create`, its control connection is gone, or the request timed out. */
  hostRefused(ref: number, err: ErrorInfo, now: number): void {
    const p = this.#take(ref, 'host')?.p;
    if (!p) return;
    this.#log('warn', 'session creation on the host failed', { sessionId: p.sessionId, host: p.hostName, err });
    this.#hostFailed(p, err, now);
  }

  /**
   * A host was declared dead. A session waiting for its answer goes to another host; one still
   * collecting claims fails now (its players are told, instead of claiming seats on a dead host).
   */
  hostLost(hostName: string, now: number): void {
    for (const p of [...this.#pending.values()]) {
      if (p.hostName !== hostName) continue;
      const err = { message: `host ${hostName} stopped responding` };
      if (p.state === 'creating' && (p.wait?.step === 'sent-to-host' || p.wait?.step === 'host')) {
        p.wait = undefined;
        this.#hostFailed(p, err, now);
      } else if (p.state === 'claiming' || p.state === 'recording') {
        this.#fail(p, err.message, now);
      }
    }
  }

  /** The domain failed a session on its own (host ack timeout): forget it here too. */
  forget(sessionId: string, reason: string, now: number): void {
    const p = this.#pending.get(sessionId);
    if (p) this.#fail(p, reason, now);
  }

  tick(now: number): void {
    const ttl = this.#o.offerTtlMs ?? OFFER_TTL_MS;
    for (const [playerId, o] of this.#offers) if (now - o.at > ttl) this.#offers.delete(playerId);
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const w of waiting) {
      const transport = this.transportOf(w);
      const pick = this.#o.hosts.pick({ transport, ...(w.regions?.length ? { regions: w.regions } : {}) });
      if (pick.ok) this.#open(w, pick.host.name, transport, now);
      else if (now - w.since > this.#o.noHostTimeoutMs) {
        this.#log('warn', 'gave up waiting for a host', { origin: w.origin });
        for (const p of w.players) this.#cancelled(p.playerId, w.origin.id, 'no host available');
        this.#out.push({ type: 'set_up_over', origin: w.origin });
      } else {
        w.attempt++;
        if (now - w.toldAt >= WAITING_NOTICE_MS) {
          w.toldAt = now;
          this.#tellWaiting(w);
        }
        this.#waiting.push(w);
      }
    }
    for (const p of [...this.#pending.values()]) {
      if (p.state === 'claiming' && now > p.claimBy) this.#fail(p, 'not every player claimed its seat in time', now);
      else if (p.wait?.step === 'host' && now > p.wait.deadline) {
        // the driver's request normally times out first; this holds when it does not
        p.wait = undefined;
        this.#hostFailed(p, { code: 'timeout', message: `host ${p.hostName} did not acknowledge the session in time` }, now);
      } else if (p.state === 'rehosting') this.#tryRehost(p, now);
    }
  }

  /** Shutdown: refuse every claim still waiting. */
  close(): void {
    const e: ClaimRefusal = refusal('shutting_down', 'the auth server is shutting down');
    for (const p of this.#pending.values()) for (const s of p.seats.values()) for (const r of s.waiters.splice(0)) this.#refuse(r, e);
    for (const r of this.#mints.keys()) this.#refuse(r, e);
    this.#mints.clear();
    this.#pending.clear();
    this.#waiting = [];
    this.#offers.clear();
  }

  // ---- queries -----------------------------------------------------------------------------------

  /**
   * `session.ready` again for a player who reconnects while its session is being set up or runs.
   * `transport` is the running session's (from its record) when it is no longer pending here.
   */
  readyFor(playerId: string, sessionId: string, transport: string | undefined, now: number): SessionReadyBody {
    const p = this.#pending.get(sessionId);
    const claimBy = p && p.state !== 'recording' ? p.claimBy : now + this.#o.claimTimeoutMs;
    const kind: HandoffTransportKind = p?.transport ?? (transport === 'netcode' || transport === 'mqtt' ? transport : 'quic');
    return {
      sessionId,
      transport: kind,
      needsPublicKey: kind !== 'netcode' && this.#o.keyDelivery === 'client' && p !== undefined && p.seats.get(playerId)?.cert === undefined,
      claimBy,
    };
  }

  /** A netcode hand-off: a fresh connect token for the seat, naming the host's netcode address. */
  netcodeWire(sessionId: string, seatId: string, address: { host: string; port: number }, now: number): WireHandoff {
    const issue = this.#o.netcodeToken;
    if (!issue) throw handoffError.as('input', 'netcode_no_key', 'netcode sessions need the netcode key on the auth server');
    const { connectToken, expiresAt } = issue({ sessionId, seatId, address, now });
    return {
      sessionId,
      playerId: seatId,
      // the token is what expires: a client that has not connected by then asks again
      expiresAt,
      // netcode has no TLS; the protocol's Handoff still wants a name, so it carries the address
      host: { address, tlsName: address.host },
      transport: { kind: 'netcode', connectToken },
    };
  }

  // ---- steps -------------------------------------------------------------------------------------

  /** A match start with each player's offer for that match taken into its seat. */
  #withOffers(req: StartRequest): StartRequest {
    if (req.origin.kind !== 'match' || this.#offers.size === 0) return req;
    let any = false;
    const players = req.players.map((pl) => {
      const o = this.#offers.get(pl.playerId);
      if (!o || o.matchId !== req.origin.id) return pl;
      this.#offers.delete(pl.playerId);
      any = true;
      return { ...pl, preclaim: { address: o.address, ...(o.publicKey ? { publicKey: o.publicKey } : {}) } };
    });
    return any ? { ...req, players } : req;
  }

  /** Claims a seat with its player's offer; false when the offer cannot claim it (no key where one is needed). */
  #preclaim(p: Pending, s: Seat, offer: Offer, now: number): boolean {
    const o = this.#o;
    s.since = now;
    if (p.transport === 'netcode') {
      s.claimed = true;
      s.address = offer.address;
      s.push = true;
      return true;
    }
    if (o.keyDelivery === 'client' && !offer.publicKey) return false;
    const ref = ++this.#ref;
    this.#mints.set(ref, { sessionId: p.sessionId, playerId: s.player.playerId, address: offer.address, pre: true });
    this.#out.push({
      type: 'mint',
      ref,
      sessionId: p.sessionId,
      seatId: s.seatId,
      ...(o.keyDelivery === 'client' ? { publicKey: offer.publicKey! } : o.seedKeyAlgorithm ? { algorithm: o.seedKeyAlgorithm } : {}),
    });
    return true;
  }

  #open(req: StartRequest, hostName: string, transport: HandoffTransportKind, now: number): void {
    const sessionId = this.#o.newSessionId();
    this.#o.hosts.reserve(hostName, sessionId, now);
    const p: Pending = {
      sessionId,
      hostName,
      transport,
      req,
      seats: new Map(req.players.map((pl) => [pl.playerId, { player: pl, seatId: seatIdOf(pl.playerId), claimed: false, waiters: [], push: false }])),
      claimBy: 0,
      state: 'recording',
      backoff: new Map(),
    };
    this.#pending.set(sessionId, p);
    const ref = this.#record(
      {
        op: 'create',
        session: {
          id: sessionId,
          hostName,
          transport,
          players: req.players.map((pl) => pl.playerId),
          origin: req.origin,
          ...(req.mode !== undefined ? { mode: req.mode } : {}),
          ...(req.ext !== undefined ? { ext: req.ext } : {}),
        },
      },
      now,
      true,
    );
    p.wait = { ref, step: 'create' };
  }

  /** Each seat's hand-off on the endpoint the host acknowledged, or why there is none. */
  #wires(p: Pending, ep: HostEndpoint, now: number): { wire: Map<string, WireHandoff> } | { err: ErrorInfo } {
    const wire = new Map<string, WireHandoff>();
    const refused = (message: string) => ({ err: { code: 'host_refused', message } });
    if (p.transport === 'netcode') {
      if (ep.kind !== 'netcode' || !ep.address) return refused('the host answered without a netcode endpoint');
      const address = { host: ep.address.host, port: ep.address.port };
      try {
        // tokens need an IP literal: a host that registered a name fails the session here, before anything is recorded
        for (const [playerId, s] of p.seats) wire.set(playerId, this.netcodeWire(p.sessionId, s.seatId, address, now));
      } catch (e) {
        return { err: errInfo(e) };
      }
    } else if (p.transport === 'mqtt') {
      if (ep.kind !== 'mqtt' || !ep.brokerUrl || !ep.room || !ep.hostKey) return refused('the host answered without an MQTT room and host key');
      const broker = brokerAddress(ep.brokerUrl);
      if (!broker) return refused(`the host's broker URL ${ep.brokerUrl} is not mqtts://host:port`);
      for (const [playerId, s] of p.seats) wire.set(playerId, mqttWire(p.sessionId, s, broker, ep));
    } else {
      if (ep.kind !== 'quic' || !ep.address || !ep.tlsName) return refused('the host answered without a QUIC endpoint');
      for (const [playerId, s] of p.seats) wire.set(playerId, quicWire(p.sessionId, s, { host: ep.address.host, port: ep.address.port }, ep.tlsName));
    }
    return { wire };
  }

  #maybeCreate(p: Pending, now: number): void {
    if (p.state === 'claiming' && [...p.seats.values()].every((s) => s.claimed)) this.#startCreate(p, now);
  }

  #startCreate(p: Pending, now: number): void {
    p.state = 'creating';
    p.wait = { ref: this.#record({ op: 'sent-to-host', sessionId: p.sessionId }, now, true), step: 'sent-to-host' };
  }

  #sendCreate(p: Pending, now: number): void {
    const players: WireExpectedPlayer[] = [...p.seats.values()].map((s) => ({
      playerId: s.seatId,
      accountId: s.player.playerId,
      displayName: s.player.displayName,
      address: s.address!,
      ...(p.transport === 'netcode'
        ? { netcodeClientId: deriveNetcodeClientId(p.sessionId, s.seatId).toString() }
        : { certFingerprint: Buffer.from(s.cert!.fingerprint, 'hex') }),
    }));
    const body: CreateBody = {
      sessionId: p.sessionId,
      transport: p.transport,
      expiresAt: now + this.#o.joinTimeoutMs,
      players,
      ...(p.req.mode !== undefined ? { mode: p.req.mode } : {}),
      ...(p.req.ext !== undefined ? { ext: p.req.ext } : {}),
    };
    const ref = ++this.#ref;
    const deadline = now + this.#o.hostAckTimeoutMs;
    p.wait = { ref, step: 'host', deadline };
    this.#out.push({ type: 'create_on_host', ref, host: p.hostName, body, timeoutMs: this.#o.hostAckTimeoutMs, deadline });
  }

  /**
   * The host refused `session.create` or did not acknowledge it: nothing runs on it, so free its
   * slot, back off from it (for this session), and pick the next suitable host (retried each tick)
   * until noHostTimeoutMs after the first failure. The claims stay open; players get
   * `session.waiting` meanwhile.
   */
  #hostFailed(p: Pending, err: ErrorInfo, now: number): void {
    const failed = p.hostName;
    const b = p.backoff.get(failed) ?? { failures: 0, until: 0 };
    b.failures++;
    const first = this.#o.hostRetryMs ?? HOST_RETRY_MS;
    b.until = now + first * Math.min(2 ** (b.failures - 1), HOST_RETRY_MAX_FACTOR);
    p.backoff.set(failed, b);
    this.#o.hosts.release(p.sessionId);
    // a host that timed out may still create it late: tell it to drop the session (best effort)
    this.#out.push({ type: 'cancel_on_host', host: failed, sessionId: p.sessionId, reason: 'the session went to another host' });
    const why = err.code !== undefined ? `${err.code}: ${err.message}` : err.message;
    if (p.rehost && now - p.rehost.since > this.#o.noHostTimeoutMs) {
      this.#fail(p, `no host took the session in time (last: ${why})`, now);
      return;
    }
    const full = err.code?.startsWith('capacity') === true;
    const reason = `game host ${failed} ${full ? 'is full' : `did not take the session (${why})`}; trying another host${full ? ' or waiting for a free slot' : ''}`;
    const isFirst = p.rehost === undefined;
    p.rehost ??= { since: now, attempt: 0, toldAt: now, reason, lastError: why };
    p.rehost.reason = reason;
    p.rehost.lastError = why;
    p.state = 'rehosting';
    // no host while it waits, so the death of the host that failed does not touch it
    const ref = this.#record({ op: 'rehost', sessionId: p.sessionId, hostName: '' }, now, true);
    p.wait = { ref, step: 'unhost', first: isFirst, failReason: failReason(err) };
  }

  /** One re-pick attempt: send the session to the next host, or keep waiting, or give up. */
  #tryRehost(p: Pending, now: number): void {
    const r = p.rehost!;
    if (p.state !== 'rehosting' || p.wait) return;
    r.attempt++;
    const exclude = [...p.backoff].filter(([, b]) => b.until > now).map(([h]) => h);
    const pick = this.#o.hosts.pick({ transport: p.transport, exclude, ...(p.req.regions?.length ? { regions: p.req.regions } : {}) });
    if (!pick.ok) {
      if (now - r.since > this.#o.noHostTimeoutMs) {
        // "no host" is what clients map to no_host_available
        this.#fail(p, `no host took the session in time (last: ${r.lastError})`, now);
        return;
      }
      r.reason = `no game host can take it yet (${pick.detail})`;
      // keep the domain's ack deadline from running out while we look
      this.#record({ op: 'rehost', sessionId: p.sessionId, hostName: '' }, now, false);
      if (now - r.toldAt >= WAITING_NOTICE_MS) {
        r.toldAt = now;
        this.#tellRehosting(p);
      }
      return;
    }
    const hostName = pick.host.name;
    try {
      this.#o.hosts.reserve(hostName, p.sessionId, now);
    } catch (e) {
      this.#o.hosts.release(p.sessionId);
      this.#log('warn', 'could not move the session to another host', { sessionId: p.sessionId, host: hostName, err: { message: (e as Error).message } });
      return;
    }
    p.wait = { ref: this.#record({ op: 'rehost', sessionId: p.sessionId, hostName }, now, true), step: 'move', hostName };
  }

  /** The host runs a session nobody will join: let it free the slot now rather than at the no-show deadline. */
  #abandonOnHost(p: Pending, reason: string, now: number): void {
    this.#out.push({ type: 'cancel_on_host', host: p.hostName, sessionId: p.sessionId, reason: 'the auth server could not complete the hand-off' });
    this.#fail(p, reason, now);
  }

  #fail(p: Pending, reason: string, now: number): void {
    this.#pending.delete(p.sessionId);
    // its record's creation may still be under way: whatever held on this start now waits on the
    // record, which is failed (or never made: no record counts as over)
    if (p.state === 'recording') this.#out.push({ type: 'set_up_over', origin: p.req.origin, sessionId: p.sessionId });
    this.#o.hosts.release(p.sessionId);
    this.#record({ op: 'fail', sessionId: p.sessionId, reason }, now, false);
    const e: ClaimRefusal = refusal('session_failed', `the game session could not be set up (${reason})`);
    for (const s of p.seats.values()) {
      for (const r of s.waiters.splice(0)) this.#refuse(r, e);
      this.#cancelled(s.player.playerId, p.req.origin.id, `session failed: ${reason}`);
    }
  }

  // ---- output helpers ----------------------------------------------------------------------------

  /** The pending session waiting for `ref`, if any. */
  /** The session waiting for the answer with this ref (at this step, if given), no longer waiting; undefined for a stale answer. */
  #take(ref: number, step?: Wait['step']): { p: Pending; w: Wait } | undefined {
    for (const p of this.#pending.values()) {
      const w = p.wait;
      if (w?.ref !== ref) continue;
      if (step !== undefined && w.step !== step) return undefined;
      p.wait = undefined;
      return { p, w };
    }
    return undefined;
  }

  /** Queues a store operation; with `answer`, it gets a ref the driver answers with recorded/recordFailed. */
  #record(op: SessionRecordOp, now: number, answer: boolean): number {
    const ref = ++this.#ref;
    this.#out.push({ type: 'session_record', ...(answer ? { ref } : {}), now, ...op });
    return ref;
  }

  #readyBody(p: Pending): SessionReadyBody {
    return {
      sessionId: p.sessionId,
      transport: p.transport,
      needsPublicKey: p.transport !== 'netcode' && this.#o.keyDelivery === 'client',
      claimBy: p.claimBy,
      ...(p.req.origin.kind === 'lobby' ? { lobbyId: p.req.origin.id } : { matchId: p.req.origin.id }),
    };
  }

  #tellRehosting(p: Pending): void {
    const r = p.rehost!;
    const body: WaitingBody = {
      ...originField(p.req.origin),
      since: r.since,
      attempt: r.attempt,
      giveUpAt: r.since + this.#o.noHostTimeoutMs,
      reason: r.reason,
    };
    for (const s of p.seats.values()) this.#notify(s.player.playerId, { type: 'session.waiting', body });
  }

  #tellWaiting(w: WaitingStart): void {
    const body: WaitingBody = {
      ...originField(w.origin),
      since: w.since,
      attempt: w.attempt,
      giveUpAt: w.since + this.#o.noHostTimeoutMs,
      reason: 'no game host is free',
    };
    for (const p of w.players) this.#notify(p.playerId, { type: 'session.waiting', body });
  }

  #cancelled(playerId: string, matchId: string, reason: string): void {
    this.#notify(playerId, { type: 'match.cancelled', body: { matchId, reason, requeued: false } });
  }

  #notify(playerId: string, message: PlayerNotice): void {
    this.#out.push({ type: 'notify', playerId, message });
  }

  #refuse(ref: number, error: ClaimRefusal): void {
    this.#out.push({ type: 'refuse_claim', ref, error });
  }

  #log(level: LogLevel, msg: string, fields: Record<string, unknown>): void {
    this.#out.push({ type: 'log', level, msg, fields });
  }
}

function originField(origin: StartRequest['origin']): { lobbyId: string } | { matchId: string } {
  return origin.kind === 'lobby' ? { lobbyId: origin.id } : { matchId: origin.id };
}

/** The reason a session fails with after a store or host error (`code: message`; `host error` without a code). */
function failReason(err: ErrorInfo): string {
  return err.code !== undefined ? `${err.code}: ${err.message}` : 'host error';
}

/** host and port of an mqtts:// URL (the hand-off's host address; the TLS name is the host part) */
function brokerAddress(url: string): { host: string; port: number } | undefined {
  try {
    const u = new URL(url);
    if (u.protocol !== 'mqtts:' && u.protocol !== 'mqtt:') return undefined;
    return { host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port ? Number(u.port) : 8883 };
  } catch {
    return undefined;
  }
}

function mqttWire(sessionId: string, s: Seat, broker: { host: string; port: number }, ep: HostEndpoint): WireHandoff {
  const c = s.cert!;
  return {
    sessionId,
    playerId: s.seatId,
    expiresAt: c.expiresAt,
    host: { address: broker, tlsName: broker.host },
    transport: {
      kind: 'mqtt',
      brokerUrl: ep.brokerUrl!,
      room: ep.room!,
      sessionCert: c.certDer,
      chain: c.chain,
      ...(c.privateKey ? { privateKey: c.privateKey } : {}),
      hostKey: new Uint8Array(ep.hostKey!),
      ...(ep.topicPrefix ? { topicPrefix: ep.topicPrefix } : {}),
      ...(ep.game ? { game: ep.game } : {}),
    },
  };
}

function quicWire(sessionId: string, s: Seat, address: { host: string; port: number }, tlsName: string): WireHandoff {
  const c = s.cert!;
  return {
    sessionId,
    playerId: s.seatId,
    expiresAt: c.expiresAt,
    host: { address, tlsName },
    transport: {
      kind: 'quic',
      alpn: 'iyesmp-host/1',
      sessionCert: c.certDer,
      chain: c.chain,
      ...(c.privateKey ? { privateKey: c.privateKey } : {}),
    },
  };
}
