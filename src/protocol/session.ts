import { EventQueue } from '../events/queue.js';
import type { z } from 'zod';
import { protocolError } from './errors.js';
import { MsgpackCodec } from './codec.js';
import { ERROR_CODE_PATTERN, ErrorCodes } from './error-codes.js';
import { MAX_EARLY_REQUESTS, MAX_REQUEST_ID, parseEnvelope, readableRequestId, type EarlyRequest, type Envelope, type ProtocolVersion } from './envelope.js';
import {
  maySend,
  type EventBody,
  type EventTypes,
  type FamilyDef,
  type HelloBody,
  type IncomingEvent,
  type IncomingRequest,
  type IncomingResponse,
  type OtherSide,
  type RequestDef,
  type RequestBody,
  type RequestTypes,
  type Side,
} from './family.js';
import { encodeFrame, Deframer } from './framing.js';
import { resolveLimits, type ProtocolLimits } from './limits.js';
import { droppedPath, summarizeIssues, checkBody } from './validate.js';
import { negotiateProtocol, verdictCode, type GameVersionCheck } from './version.js';

export interface SessionOptions<E = unknown> {
  side: Side;
  /** The game's own build version, sent in the hello. */
  gameVersion: string;
  /** Decides whether the peer's game version is acceptable. Default: accept any. */
  acceptGameVersion?: GameVersionCheck;
  /** Validates every `ext` slot received (and sent). Its output type should match E. */
  extSchema?: z.ZodType<E>;
  limits?: Partial<ProtocolLimits>;
  /** Current time; afterwards time only moves through tick(). */
  nowMs: number;
  /** The hello exchange must finish within this. Default 10 s. */
  helloTimeoutMs?: number;
  /** Default request timeout. Default 30 s. */
  requestTimeoutMs?: number;
  /** Requests from the peer awaiting our answer before we reply `busy`. Default 64. */
  maxIncomingInFlight?: number;
  /** Our own requests awaiting an answer before request() refuses. Default 1024. */
  maxOutgoingPending?: number;
  /** Bad messages tolerated (each answered with an error) before the connection is closed. Default 16. */
  maxPeerErrors?: number;
  /**
   * What is checked of the bodies this side sends. `true` (default): each is validated against its
   * schema, and what the schema does not name is dropped. `false`: sent as given, only encoded and
   * held to the frame limit; for a side whose bodies are built by its own code to the schema (the
   * Auth server: a check of every outgoing body was a tenth of its own work per hand-off). `'strict'`:
   * as `true`, and a body with anything the schema would drop is refused too, since with `false` it
   * would have gone out; the tests of a side that runs with `false` use it to catch such bodies.
   */
  checkOutgoing?: boolean | 'strict';
}

/** What a session keeps of its options. */
type SessionSettings<E> = {
  [K in
    | 'gameVersion'
    | 'acceptGameVersion'
    | 'extSchema'
    | 'helloTimeoutMs'
    | 'requestTimeoutMs'
    | 'maxIncomingInFlight'
    | 'maxOutgoingPending'
    | 'maxPeerErrors'
    | 'checkOutgoing']: SessionOptions<E>[K] | undefined;
} & { gameVersion: string };

export type SessionState = 'hello' | 'open' | 'closed';

/**
 * A request the dialer pipelines with its hello (start()). `minor`: the lowest minor of the family
 * this request (type and body) is valid in; leave it out when every minor takes it as sent.
 */
export type EarlySend<F extends FamilyDef, S extends Side, E = unknown> = {
  [K in RequestTypes<F, S>]: { type: K; body: RequestBody<F, K, E>; minor?: number; timeoutMs?: number };
}[RequestTypes<F, S>];
export type CloseOrigin = 'local' | 'peer' | 'transport';

export interface CloseInfo {
  code: string;
  reason: string;
  by: CloseOrigin;
}

/** A request we sent that ended without a response body: error reply, timeout, or close. */
export interface RequestFailure {
  kind: 'failure';
  id: number;
  type: string;
  code: string;
  message: string;
  /** True when produced locally (timeout, closed, invalid response), false for a peer's error reply. */
  local: boolean;
}

export type SessionEvent<F extends FamilyDef, S extends Side, E = unknown> =
  /**
   * Listener only: a compatible hello arrived; call acceptHello() or refuseHello(). `early`: how
   * many requests came with it (they become 'request' events once the hello is accepted).
   */
  | {
      kind: 'hello';
      protocol: ProtocolVersion;
      peerGameVersion: string;
      body: HelloBody<F, OtherSide<S>, E>;
      early: number;
    }
  /** Hello exchange finished; `peerHello` is the other side's hello (or welcome) body. */
  | {
      kind: 'ready';
      protocol: ProtocolVersion;
      peerGameVersion: string;
      peerHello: HelloBody<F, OtherSide<S>, E>;
    }
  | IncomingRequest<F, S, E>
  | IncomingEvent<F, S, E>
  | IncomingResponse<F, S, E>
  | RequestFailure
  /** The peer sent something invalid; an error reply or a close follows. Informational. */
  | { kind: 'protocol_error'; code: string; message: string /** the request refused, when the fault was its body */; type?: string }
  | ({ kind: 'close' } & CloseInfo);

interface Pending {
  type: string;
  deadline: number;
}

const REASON_MAX = 1024;

/**
 * Sans-IO protocol state machine for one connection's control stream. Feed it received bytes with
 * receive() and time with tick(); call its methods to send; collect bytes to write with
 * takeOutput() and what happened with takeEvents(). It never throws on peer input: anything bad
 * becomes an error reply or a close with a reason. Methods called with bad local input throw an
 * IyesmpError (that is a programming error on this side).
 */
export class ProtocolSession<F extends FamilyDef, S extends Side, E = unknown> {
  readonly family: F;
  readonly side: S;
  readonly limits: ProtocolLimits;
  private readonly codec: MsgpackCodec;
  private readonly deframer: Deframer;
  /** The options read after construction, in an object of one shape for every session (a copy of all was ~0.3 KB each). */
  private readonly opts: SessionSettings<E>;
  private readonly peerSide: Side;

  private stateValue: SessionState = 'hello';
  private helloSent = false;
  private helloReceived = false;
  private helloDeadline: number | undefined;
  private now: number;
  private nextId = 1;
  /** Our requests awaiting an answer, and the peer's awaiting ours; each made with its first entry (an empty Map is ~0.15 KB). */
  private pending: Map<number, Pending> | undefined;
  private incoming: Map<number, string> | undefined;
  private peerErrors = 0;
  private output: Uint8Array[] = [];
  private readonly events = new EventQueue<SessionEvent<F, S, E>>();
  private negotiatedValue: ProtocolVersion | undefined;
  private closeValue: CloseInfo | undefined;
  /** Dialer: requests sent in the hello, kept until the welcome says whether the listener took them. */
  private earlySent: EarlyRequest[] = [];
  /** Listener: requests that came in the hello, handled once it is accepted (dropped if refused). */
  private earlyReceived: EarlyRequest[] = [];

  constructor(family: F, options: SessionOptions<E> & { side: S }) {
    this.family = family;
    this.side = options.side;
    this.peerSide = options.side === 'dialer' ? 'listener' : 'dialer';
    this.opts = {
      gameVersion: options.gameVersion,
      acceptGameVersion: options.acceptGameVersion,
      extSchema: options.extSchema,
      helloTimeoutMs: options.helloTimeoutMs,
      requestTimeoutMs: options.requestTimeoutMs,
      maxIncomingInFlight: options.maxIncomingInFlight,
      maxOutgoingPending: options.maxOutgoingPending,
      maxPeerErrors: options.maxPeerErrors,
      checkOutgoing: options.checkOutgoing,
    };
    this.limits = resolveLimits(options.limits);
    this.codec = new MsgpackCodec(this.limits);
    this.deframer = new Deframer(this.limits.maxFrameBytes);
    this.now = options.nowMs;
    // The listener starts the clock at once: a peer that connects and says nothing is dropped.
    if (this.side === 'listener') this.helloDeadline = this.now + (options.helloTimeoutMs ?? 10_000);
  }

  get state(): SessionState {
    return this.stateValue;
  }
  /** Negotiated protocol version once the hello exchange finished. */
  get negotiated(): ProtocolVersion | undefined {
    return this.negotiatedValue;
  }
  get closeInfo(): CloseInfo | undefined {
    return this.closeValue;
  }
  get pendingRequests(): number {
    return this.pending?.size ?? 0;
  }
  /** Bytes held by the deframer waiting for the rest of a frame. */
  get bufferedBytes(): number {
    return this.deframer.bufferedBytes;
  }

  takeOutput(): Uint8Array[] {
    const out = this.output;
    this.output = [];
    return out;
  }

  takeEvents(): SessionEvent<F, S, E>[] {
    return this.events.take();
  }

  // ---- hello -----------------------------------------------------------------------------------

  /**
   * Dialer: sends the hello, with `early` requests pipelined in it (one flight instead of a round
   * trip each); returns their ids, answered as 'response' or 'failure' events like request()'s. A
   * listener that refuses the hello never acts on them (they fail with `closed`); one that predates
   * early requests welcomes without taking them, and they are then sent as ordinary requests.
   */
  start(body: HelloBody<F, S, E>, early: readonly EarlySend<F, S, E>[] = []): number[] {
    if (this.side !== 'dialer') throw protocolError('wrong_side', 'only the dialer sends a hello');
    if (this.helloSent || this.stateValue !== 'hello') {
      throw protocolError('hello_required', 'hello already sent or connection closed');
    }
    if (early.length > MAX_EARLY_REQUESTS)
      throw protocolError(ErrorCodes.badRequest, `at most ${MAX_EARLY_REQUESTS} requests go with a hello, not ${early.length}`);
    const checked = this.checkOutgoing(this.family.hello.dialer, body, 'hello');
    const sent: EarlyRequest[] = [];
    for (const e of early) {
      const def = this.requestDef(e.type);
      if (e.minor !== undefined && (!Number.isInteger(e.minor) || e.minor < 0 || e.minor > this.family.version.minor)) {
        throw protocolError(
          ErrorCodes.badRequest,
          `"${e.type}" is marked for minor ${e.minor}; this side speaks ${this.family.name} up to minor ${this.family.version.minor}`,
        );
      }
      sent.push({ id: this.allocateId(), type: e.type, body: this.checkOutgoing(def.request, e.body, e.type), ...(e.minor ? { minor: e.minor } : {}) });
    }
    this.send({
      kind: 'hello',
      family: this.family.name,
      protocol: this.family.version,
      game: this.opts.gameVersion,
      body: checked,
      ...(sent.length > 0 ? { early: sent } : {}),
    });
    this.helloSent = true;
    this.helloDeadline = this.now + (this.opts.helloTimeoutMs ?? 10_000);
    early.forEach((e, i) =>
      (this.pending ??= new Map()).set(sent[i]!.id, { type: e.type, deadline: this.now + (e.timeoutMs ?? this.opts.requestTimeoutMs ?? 30_000) }),
    );
    this.earlySent = sent;
    return sent.map((e) => e.id);
  }

  /** Listener: answers a 'hello' event positively. */
  acceptHello(body: HelloBody<F, S, E>): void {
    if (this.side !== 'listener' || !this.helloReceived || this.helloSent || this.stateValue !== 'hello') {
      throw protocolError('hello_required', 'no hello is waiting for an answer');
    }
    const checked = this.checkOutgoing(this.family.hello.listener, body, 'welcome');
    const early = this.earlyReceived;
    this.earlyReceived = [];
    this.send({
      kind: 'welcome',
      family: this.family.name,
      protocol: this.negotiatedValue!,
      game: this.opts.gameVersion,
      body: checked,
      ...(early.length > 0 ? { early: true } : {}),
    });
    this.helloSent = true;
    this.stateValue = 'open';
    this.helloDeadline = undefined;
    this.events.push({
      kind: 'ready',
      protocol: this.negotiatedValue!,
      peerGameVersion: this.peerGameVersion!,
      peerHello: this.peerHello as HelloBody<F, OtherSide<S>, E>,
    } as SessionEvent<F, S, E>);
    // the hello's requests, as if they had arrived right after the welcome
    const minor = this.negotiatedValue!.minor;
    for (const e of early) {
      if (this.isClosed()) return;
      if ((e.minor ?? 0) > minor) {
        // a newer peer's request, not a fault: answered, not counted against it
        const message = `"${e.type}" needs ${this.family.name} minor ${e.minor}; this connection speaks ${this.family.version.major}.${minor}`;
        this.protocolError(ErrorCodes.versionTooNew, message, e.type);
        this.sendError(e.id, ErrorCodes.versionTooNew, message);
      } else {
        this.onRequest(e.id, e.type, e.body);
      }
    }
  }

  /** Listener: refuses a 'hello' (bad session proof, banned build...). Closes the connection. */
  refuseHello(code: string, message: string): void {
    this.close(code, message);
  }

  private peerGameVersion: string | undefined;
  private peerHello: unknown;

  // ---- sending -----------------------------------------------------------------------------------

  /** Sends a request; returns its id. The answer arrives as a 'response' or 'failure' event. */
  request<K extends RequestTypes<F, S>>(type: K, body: RequestBody<F, K, E>, opts: { timeoutMs?: number } = {}): number {
    this.requireOpen();
    const def = this.requestDef(type);
    if ((this.pending?.size ?? 0) >= (this.opts.maxOutgoingPending ?? 1024)) {
      throw protocolError(ErrorCodes.busy, `too many requests awaiting an answer (${this.pending?.size ?? 0})`);
    }
    const checked = this.checkOutgoing(def.request, body, type);
    const id = this.allocateId();
    this.send({ kind: 'request', id, type, body: checked });
    const timeout = opts.timeoutMs ?? this.opts.requestTimeoutMs ?? 30_000;
    (this.pending ??= new Map()).set(id, { type, deadline: this.now + timeout });
    return id;
  }

  /** Sends a one-way event. */
  notify<K extends EventTypes<F, S>>(type: K, body: EventBody<F, K, E>): void {
    this.requireOpen();
    const def = Object.hasOwn(this.family.events, type) ? this.family.events[type] : undefined;
    if (def === undefined || !maySend(def.from, this.side)) {
      throw protocolError.as('usage', ErrorCodes.unknownType, `${this.roleName()} cannot send event "${type}" in ${this.family.name}`);
    }
    const checked = this.checkOutgoing(def.body, body, type);
    this.send({ kind: 'event', type, body: checked });
  }

  /**
   * Answers a received request. Throws (and keeps the request open, so the caller can still send
   * an error reply) when the body does not match the response schema or is too large.
   */
  respond(id: number, body: unknown): void {
    if (this.stateValue === 'closed') return; // answers after a close have nowhere to go
    const type = this.incoming?.get(id);
    if (type === undefined) throw protocolError('unknown_request', `no received request ${id} awaits an answer`);
    const checked = this.checkOutgoing(this.family.requests[type]!.response, body, `${type} response`);
    this.send({ kind: 'response', id, body: checked });
    this.answered(id);
  }

  /** Forgets an answered request; the last one drops the map (an idle listener keeps none). */
  private answered(id: number): boolean {
    const gone = this.incoming?.delete(id) ?? false;
    if (this.incoming?.size === 0) this.incoming = undefined;
    return gone;
  }

  /** Answers a received request with an error code and a human message. */
  respondError(id: number, code: string, message: string): void {
    if (this.stateValue === 'closed') return;
    if (!this.answered(id)) {
      throw protocolError('unknown_request', `no received request ${id} awaits an answer`);
    }
    this.sendError(id, ERROR_CODE_PATTERN.test(code) ? code : ErrorCodes.internal, message);
  }

  /** Sends a close frame with a reason and stops. Pending requests fail with `closed`. */
  close(code: string = ErrorCodes.normal, reason = ''): void {
    if (this.stateValue === 'closed') return;
    const safeCode = ERROR_CODE_PATTERN.test(code) ? code : ErrorCodes.internal;
    const safeReason = reason.length > REASON_MAX ? reason.slice(0, REASON_MAX) : reason;
    try {
      this.send({ kind: 'close', code: safeCode, reason: safeReason });
    } catch {
      // Cannot happen with bounded code and reason; closing must still proceed.
    }
    this.finish({ code: safeCode, reason: safeReason, by: 'local' });
  }

  /** The underlying stream ended or failed without a close frame. */
  transportClosed(reason = 'stream ended'): void {
    if (this.stateValue === 'closed') return;
    this.finish({ code: ErrorCodes.closed, reason, by: 'transport' });
  }

  /**
   * The earliest time tick() has something to expire (the hello deadline or a pending request's),
   * or undefined when nothing would: an idle open session needs no clock at all.
   */
  nextDeadline(): number | undefined {
    if (this.stateValue === 'closed') return undefined;
    let next = this.helloDeadline;
    for (const p of this.pending?.values() ?? []) if (next === undefined || p.deadline < next) next = p.deadline;
    return next;
  }

  /** Advances time: expires pending requests and the hello deadline. */
  tick(nowMs: number): void {
    if (nowMs > this.now) this.now = nowMs;
    if (this.stateValue === 'closed') return;
    if (this.helloDeadline !== undefined && this.now >= this.helloDeadline) {
      this.close(ErrorCodes.timeout, 'the hello exchange did not finish in time');
      return;
    }
    for (const [id, p] of this.pending ?? []) {
      if (this.now >= p.deadline) {
        this.pending?.delete(id);
        this.events.push({ kind: 'failure', id, type: p.type, code: ErrorCodes.timeout, message: `no answer to "${p.type}" in time`, local: true });
      }
    }
  }

  // ---- receiving ---------------------------------------------------------------------------------

  /** Feeds bytes read from the stream. Never throws. */
  receive(chunk: Uint8Array): void {
    if (this.stateValue === 'closed') return;
    const { frames, error } = this.deframer.push(chunk);
    for (const frame of frames) {
      if (this.isClosed()) return;
      try {
        this.handleFrame(frame);
      } catch {
        // Defensive: a bug in handling one frame closes this connection only.
        this.close(ErrorCodes.internal, 'internal error while handling a message');
      }
    }
    if (error && !this.isClosed()) {
      this.protocolError(error.code, error.message);
      this.close(error.code, error.message);
    }
  }

  private handleFrame(frame: Uint8Array): void {
    const decoded = this.codec.decode(frame);
    if (!decoded.ok) {
      this.protocolError(ErrorCodes.malformed, decoded.reason);
      this.close(ErrorCodes.malformed, `undecodable message: ${decoded.reason}`);
      return;
    }
    const parsed = parseEnvelope(decoded.value);
    if (!parsed.success) {
      const message = `invalid message: ${summarizeIssues(parsed.error)}`;
      const id = readableRequestId(decoded.value);
      this.protocolError(ErrorCodes.malformed, message);
      if (id !== undefined && this.stateValue === 'open' && !this.incoming?.has(id)) {
        this.sendError(id, ErrorCodes.badRequest, message);
        this.countPeerError();
      } else {
        this.close(ErrorCodes.malformed, message);
      }
      return;
    }
    const env = parsed.data;
    switch (env.kind) {
      case 'close':
        this.finish({ code: env.code, reason: env.reason, by: 'peer' });
        return;
      case 'hello':
        this.onHello(env);
        return;
      case 'welcome':
        this.onWelcome(env);
        return;
    }
    if (this.stateValue !== 'open') {
      this.violation(ErrorCodes.helloRequired, `"${env.kind}" before the hello exchange finished`);
      return;
    }
    switch (env.kind) {
      case 'request':
        this.onRequest(env.id, env.type, env.body);
        return;
      case 'response':
        this.onResponse(env.id, env.body);
        return;
      case 'error': {
        const p = this.pending?.get(env.id);
        if (p === undefined) return; // late answer to a request that already timed out
        this.pending?.delete(env.id);
        this.events.push({ kind: 'failure', id: env.id, type: p.type, code: env.code, message: env.message, local: false });
        return;
      }
      case 'event':
        this.onEvent(env.type, env.body);
        return;
    }
  }

  private onHello(env: { family: string; protocol: ProtocolVersion; game: string; body: unknown; early?: EarlyRequest[] | undefined }): void {
    if (this.side !== 'listener' || this.helloReceived) {
      this.violation(ErrorCodes.helloRequired, 'unexpected hello');
      return;
    }
    this.helloReceived = true;
    if (env.family !== this.family.name) {
      this.violation(ErrorCodes.wrongFamily, `this endpoint speaks ${this.family.name}, not ${env.family}`);
      return;
    }
    const nego = negotiateProtocol(this.family.version, env.protocol);
    if (nego.verdict !== 'ok') {
      this.violation(
        verdictCode(nego.verdict),
        `protocol ${env.protocol.major}.${env.protocol.minor} is ${nego.verdict === 'too_old' ? 'too old' : 'too new'} for ${this.family.name} ${this.family.version.major}.${this.family.version.minor}`,
      );
      return;
    }
    if (!this.gameVersionAcceptable(env.game)) return;
    const body = checkBody(this.family.hello.dialer, env.body, this.opts.extSchema);
    if (!body.ok) {
      this.violation(ErrorCodes.badRequest, `invalid hello: ${body.message}`);
      return;
    }
    const early = env.early ?? [];
    if (new Set(early.map((e) => e.id)).size !== early.length) {
      this.violation(ErrorCodes.badRequest, 'invalid hello: two early requests share an id');
      return;
    }
    this.negotiatedValue = nego.version;
    this.peerGameVersion = env.game;
    this.peerHello = body.value;
    this.earlyReceived = early;
    this.events.push({
      kind: 'hello',
      protocol: nego.version,
      peerGameVersion: env.game,
      body: body.value,
      early: early.length,
    } as SessionEvent<F, S, E>);
  }

  private onWelcome(env: { family: string; protocol: ProtocolVersion; game: string; body: unknown; early?: true | undefined }): void {
    if (this.side !== 'dialer' || !this.helloSent || this.stateValue !== 'hello') {
      this.violation(ErrorCodes.helloRequired, 'unexpected welcome');
      return;
    }
    if (env.family !== this.family.name) {
      this.violation(ErrorCodes.wrongFamily, `expected ${this.family.name}, the server answered as ${env.family}`);
      return;
    }
    // The listener picks; we only check it picked something we speak.
    const ours = this.family.version;
    if (env.protocol.major !== ours.major || env.protocol.minor > ours.minor) {
      const verdict = env.protocol.major < ours.major ? 'too_old' : 'too_new';
      this.violation(verdictCode(verdict), `server chose protocol ${env.protocol.major}.${env.protocol.minor}, this client speaks ${ours.major}.${ours.minor}`);
      return;
    }
    if (!this.gameVersionAcceptable(env.game)) return;
    const body = checkBody(this.family.hello.listener, env.body, this.opts.extSchema);
    if (!body.ok) {
      this.violation(ErrorCodes.badRequest, `invalid welcome: ${body.message}`);
      return;
    }
    this.negotiatedValue = env.protocol;
    this.peerGameVersion = env.game;
    this.peerHello = body.value;
    this.stateValue = 'open';
    this.helloDeadline = undefined;
    this.events.push({
      kind: 'ready',
      protocol: env.protocol,
      peerGameVersion: env.game,
      peerHello: body.value,
    } as SessionEvent<F, S, E>);
    const early = this.earlySent;
    this.earlySent = [];
    // a listener that predates early requests dropped them: they go again, now as ordinary requests
    if (env.early === true) return;
    for (const e of early) {
      if (!this.pending?.has(e.id)) continue; // timed out meanwhile
      if ((e.minor ?? 0) > env.protocol.minor) {
        const type = this.pending!.get(e.id)!.type;
        this.pending?.delete(e.id);
        const message = `"${type}" needs ${this.family.name} minor ${e.minor}; the server speaks ${env.protocol.major}.${env.protocol.minor}`;
        this.events.push({ kind: 'failure', id: e.id, type, code: ErrorCodes.versionTooNew, message, local: true });
        continue;
      }
      this.send({ kind: 'request', id: e.id, type: e.type, body: e.body });
    }
  }

  private gameVersionAcceptable(peerVersion: string): boolean {
    const check = this.opts.acceptGameVersion;
    if (check === undefined) return true;
    let verdict: ReturnType<GameVersionCheck>;
    try {
      verdict = check(peerVersion);
    } catch {
      verdict = false;
    }
    if (verdict === true || verdict === 'ok') return true;
    const v = verdict === 'too_new' ? 'too_new' : 'too_old';
    this.violation(
      verdictCode(v),
      `game version ${peerVersion} is ${v === 'too_old' ? 'too old; update the game' : 'too new for this server'} (this side runs ${this.opts.gameVersion})`,
    );
    return false;
  }

  private onRequest(id: number, type: string, body: unknown): void {
    if (this.incoming?.has(id)) {
      this.violation(ErrorCodes.badRequest, `request id ${id} is already in use`);
      return;
    }
    const def = Object.hasOwn(this.family.requests, type) ? this.family.requests[type] : undefined;
    if (def === undefined || !maySend(def.from, this.peerSide)) {
      this.rejectRequest(id, ErrorCodes.unknownType, `"${type}" is not a request a ${this.peerRoleName()} may send in ${this.family.name}`);
      return;
    }
    if ((this.incoming?.size ?? 0) >= (this.opts.maxIncomingInFlight ?? 64)) {
      this.sendError(id, ErrorCodes.busy, 'too many requests in flight; retry later');
      return;
    }
    const checked = checkBody(def.request, body, this.opts.extSchema);
    if (!checked.ok) {
      this.rejectRequest(id, ErrorCodes.badRequest, `invalid "${type}": ${checked.message}`, type);
      return;
    }
    (this.incoming ??= new Map()).set(id, type);
    this.events.push({ kind: 'request', id, type, body: checked.value } as SessionEvent<F, S, E>);
  }

  private onResponse(id: number, body: unknown): void {
    const p = this.pending?.get(id);
    if (p === undefined) return; // late answer to a request that already timed out
    this.pending?.delete(id);
    const checked = checkBody(this.family.requests[p.type]!.response, body, this.opts.extSchema);
    if (!checked.ok) {
      const message = `invalid response to "${p.type}": ${checked.message}`;
      this.protocolError(ErrorCodes.badRequest, message);
      this.events.push({ kind: 'failure', id, type: p.type, code: ErrorCodes.badRequest, message, local: true });
      this.countPeerError();
      return;
    }
    this.events.push({ kind: 'response', id, type: p.type, body: checked.value } as SessionEvent<F, S, E>);
  }

  private onEvent(type: string, body: unknown): void {
    const def = Object.hasOwn(this.family.events, type) ? this.family.events[type] : undefined;
    if (def === undefined || !maySend(def.from, this.peerSide)) {
      this.violation(ErrorCodes.unknownType, `"${type}" is not an event a ${this.peerRoleName()} may send in ${this.family.name}`);
      return;
    }
    const checked = checkBody(def.body, body, this.opts.extSchema);
    if (!checked.ok) {
      this.violation(ErrorCodes.badRequest, `invalid "${type}": ${checked.message}`);
      return;
    }
    this.events.push({ kind: 'event', type, body: checked.value } as SessionEvent<F, S, E>);
  }

  // ---- helpers -----------------------------------------------------------------------------------

  private requestDef(type: string): RequestDef {
    const def = Object.hasOwn(this.family.requests, type) ? this.family.requests[type] : undefined;
    if (def === undefined || !maySend(def.from, this.side)) {
      throw protocolError.as('usage', ErrorCodes.unknownType, `${this.roleName()} cannot send request "${type}" in ${this.family.name}`);
    }
    return def;
  }

  private rejectRequest(id: number, code: string, message: string, type?: string): void {
    this.protocolError(code, message, type);
    this.sendError(id, code, message);
    this.countPeerError();
  }

  /** A fault without an id to answer: report it and close. */
  private violation(code: string, message: string): void {
    this.protocolError(code, message);
    this.close(code, message);
  }

  private protocolError(code: string, message: string, type?: string): void {
    this.events.push({ kind: 'protocol_error', code, message, ...(type !== undefined ? { type } : {}) });
  }

  private countPeerError(): void {
    this.peerErrors++;
    if (this.peerErrors > (this.opts.maxPeerErrors ?? 16) && this.stateValue !== 'closed') {
      this.close(ErrorCodes.tooManyErrors, `closed after ${this.peerErrors} invalid messages`);
    }
  }

  private sendError(id: number, code: string, message: string): void {
    this.send({ kind: 'error', id, code, message: message.length > REASON_MAX ? message.slice(0, REASON_MAX) : message });
  }

  private finish(info: CloseInfo): void {
    this.stateValue = 'closed';
    this.closeValue = info;
    this.helloDeadline = undefined;
    for (const [id, p] of this.pending ?? []) {
      this.events.push({ kind: 'failure', id, type: p.type, code: ErrorCodes.closed, message: `connection closed (${info.code})`, local: true });
    }
    this.pending?.clear();
    this.incoming?.clear();
    this.events.push({ kind: 'close', ...info });
  }

  // A method, not a field test, so TypeScript does not narrow the state across calls that change it.
  private isClosed(): boolean {
    return this.stateValue === 'closed';
  }

  private requireOpen(): void {
    if (this.stateValue !== 'open') {
      throw protocolError.as(
        'conflict',
        this.stateValue === 'closed' ? ErrorCodes.closed : ErrorCodes.helloRequired,
        this.stateValue === 'closed' ? `the ${this.family.name} connection is closed` : 'the hello exchange has not finished',
      );
    }
  }

  private checkOutgoing(schema: z.ZodType, body: unknown, what: string): unknown {
    const mode = this.opts.checkOutgoing ?? true;
    if (mode === false) return body;
    const checked = checkBody(schema, body, this.opts.extSchema);
    if (!checked.ok) {
      throw protocolError(ErrorCodes.badRequest, `refusing to send invalid "${what}": ${checked.message}`);
    }
    if (mode === 'strict') {
      const extra = droppedPath(body, checked.value);
      if (extra !== undefined) throw protocolError(ErrorCodes.badRequest, `refusing to send "${what}": ${extra} is not in its schema`);
    }
    return checked.value;
  }

  private send(envelope: Envelope): void {
    let payload: Uint8Array;
    try {
      payload = this.codec.encode(envelope);
    } catch (err) {
      throw protocolError(ErrorCodes.badRequest, `cannot encode "${envelope.kind}" as MsgPack`, { cause: err });
    }
    if (payload.byteLength > this.limits.maxFrameBytes) {
      throw protocolError(
        ErrorCodes.frameTooLarge,
        `"${envelope.kind}" message is ${payload.byteLength} bytes, above the ${this.limits.maxFrameBytes}-byte frame limit`,
        { hint: 'send bulk data on a bulk stream' },
      );
    }
    this.output.push(encodeFrame(payload, this.limits.maxFrameBytes));
  }

  private allocateId(): number {
    for (;;) {
      const id = this.nextId;
      this.nextId = id >= MAX_REQUEST_ID ? 1 : id + 1;
      if (!this.pending?.has(id)) return id;
    }
  }

  private roleName(): string {
    return this.family.roles[this.side];
  }
  private peerRoleName(): string {
    return this.family.roles[this.peerSide];
  }
}
