import type { z } from 'zod';
import { IyesmpError } from '../errors.js';
import { TypedEmitter } from '../events/emitter.js';
import { expireAfterInput, withTimeout } from '../events/timeout.js';
import { protocolError } from './errors.js';
import { BulkStreamDecoder, encodeBulkFrame, encodeBulkHeader, type BulkHeader } from './bulk.js';
import { ErrorCodes, ERROR_CODE_PATTERN } from './error-codes.js';
import type { ProtocolVersion } from './envelope.js';
import type {
  EventBody,
  EventTypes,
  FamilyDef,
  HelloBody,
  IncomingEvent,
  IncomingRequest,
  OtherSide,
  RequestBody,
  RequestTypes,
  ResponseBody,
  Side,
} from './family.js';
import { DEFAULT_BULK_LIMITS, type ProtocolLimits } from './limits.js';
import { ProtocolSession, type CloseInfo, type EarlySend, type RequestFailure, type SessionEvent, type SessionOptions } from './session.js';

/** What @matrixai/quic (and any WHATWG duplex) gives for one stream. */
export interface StreamPair {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
}

export interface ConnectionOptions<E = unknown> extends Omit<SessionOptions<E>, 'side' | 'nowMs'> {
  /** Clock; injectable for tests. Default Date.now. */
  now?: () => number;
  /** How often timeouts are checked while one is pending (hello, requests). Default 100 ms. */
  tickIntervalMs?: number;
  /**
   * Bytes queued for a peer that is not reading before the connection is closed with `busy`.
   * Default 4 MiB. Senders of many events can await flushed() to stay well below it.
   */
  maxQueuedBytes?: number;
  /** How long close() waits for the peer to take the close frame before aborting. Default 2 s. */
  closeTimeoutMs?: number;
  /** Called when an event/close listener throws (the connection carries on). */
  onListenerError?: (err: unknown) => void;
  /**
   * Called with each `protocol_error` (before the event's listeners): a server that only logs
   * them needs no emitter per connection (one is made on the first on()).
   */
  onProtocolError?: (e: { code: string; message: string; type?: string }) => void;
}

export interface ReadyInfo<F extends FamilyDef, S extends Side, E> {
  protocol: ProtocolVersion;
  peerGameVersion: string;
  peerHello: HelloBody<F, OtherSide<S>, E>;
}

export interface HelloInfo<F extends FamilyDef, E> {
  protocol: ProtocolVersion;
  peerGameVersion: string;
  body: HelloBody<F, 'dialer', E>;
}

type AnyRequestHandler<F extends FamilyDef, S extends Side, E> = (req: IncomingRequest<F, S, E>) => unknown;
type ConnectionEvents<F extends FamilyDef, S extends Side, E> = {
  event: IncomingEvent<F, S, E>;
  close: CloseInfo;
  /** `type`: the request whose body was refused (bad_request), when that was the fault */
  protocol_error: { code: string; message: string; type?: string };
};
type Listeners<F extends FamilyDef, S extends Side, E> = {
  [K in keyof ConnectionEvents<F, S, E>]: (arg: ConnectionEvents<F, S, E>[K]) => void;
};

/** A handler of a shared table (RequestHandlers): `this` is the target its connection was given. */
type TableHandler<T> = (this: T, body: never, req: { id: number; type: string }) => unknown;

/**
 * Request handlers made once and shared by every connection of one kind (each client link of the
 * Auth), instead of a closure per handler per connection: at 10,000 idle players those closures,
 * their contexts and a Map each were about 2 KB of heap per player. A connection takes the table
 * with `handleWith(table, target)`, and each handler runs with `this` set to that target.
 */
export class RequestHandlers<F extends FamilyDef, S extends Side, T, E = unknown> {
  readonly #map = new Map<string, TableHandler<T>>();

  /** Answers requests of one type on every connection given this table. */
  on<K extends RequestTypes<F, OtherSide<S>>>(
    type: K,
    handler: (this: T, body: RequestBody<F, K, E>, req: { id: number; type: K }) => ResponseBody<F, K, E> | Promise<ResponseBody<F, K, E>>,
  ): this {
    this.#map.set(type, handler as unknown as TableHandler<T>);
    return this;
  }

  get(type: string): TableHandler<T> | undefined {
    return this.#map.get(type);
  }
}

/** The shared emitter with `emit` opened to the connection that owns it. */
class Events<M extends object> extends TypedEmitter<M> {
  constructor(onListenerError: (err: unknown) => void) {
    super();
    this.setListenerErrorHandler(onListenerError);
  }

  override emit<K extends keyof M & string>(name: K, arg: M[K]): void {
    super.emit(name, arg);
  }
}

/**
 * Binds a ProtocolSession to a readable/writable stream pair and offers promises and handlers.
 * Create it with `ProtocolConnection.dial` / `.accept`, register handlers synchronously, then
 * `await conn.ready`. Handler errors become error replies; listener errors are reported to
 * onListenerError; nothing a peer sends can make it throw.
 */
export class ProtocolConnection<F extends FamilyDef, S extends Side, E = unknown> {
  readonly session: ProtocolSession<F, S, E>;
  /** Resolves once the hello exchange finished; rejects with IyesmpError('refused', code) otherwise. */
  readonly ready: Promise<ReadyInfo<F, S, E>>;
  /** Resolves when the connection is closed, for any reason. Never rejects. */
  readonly closed: Promise<CloseInfo>;
  /** Dialer: the answers to the requests pipelined with the hello (dial's `early`), in order; each settles as request()'s does. */
  early: Promise<unknown>[] = [];

  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  private readonly now: () => number;
  private readonly tickIntervalMs: number;
  /** Armed only while the session has a deadline (the hello, our pending requests): an idle connection costs no timer callbacks. */
  private timer: ReturnType<typeof setInterval> | undefined;
  /** Our requests awaiting an answer; made with the first (a listener may never send one). */
  private waiting: Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }> | undefined;
  /** This connection's own handlers (handle()); made with the first. */
  private handlers: Map<string, (body: never, req: { id: number; type: string }) => unknown> | undefined;
  /** Shared handlers (handleWith()) and the `this` they run with here. */
  private table: RequestHandlers<F, S, unknown, E> | undefined;
  private tableTarget: unknown;
  private fallback: AnyRequestHandler<F, S, E> | undefined;
  /** Made on the first on(): an idle server-side connection usually has no listener. */
  private events: Events<ConnectionEvents<F, S, E>> | undefined;
  /** Frames waiting for the writer: everything queued while a write is in flight goes out as one chunk. */
  private unwritten: Uint8Array[] = [];
  /** The running drain(), until it finds nothing left to write. */
  private draining: Promise<void> | undefined;
  private resolveReady!: (v: ReadyInfo<F, S, E>) => void;
  /** Set as `ready` resolves: request() then queues its frame in the caller's job, not a microtask later. */
  private isReady = false;
  private rejectReady!: (e: unknown) => void;
  private resolveClosed!: (v: CloseInfo) => void;
  private shutDown = false;
  private readonly onHello: ((hello: HelloInfo<F, E>) => unknown) | undefined;
  private readonly onListenerError: ((err: unknown) => void) | undefined;
  private readonly onProtocolError: ((e: { code: string; message: string; type?: string }) => void) | undefined;
  private readonly closeTimeoutMs: number;
  private readonly maxQueuedBytes: number;
  private queuedBytes = 0;
  /** Listener: holds the welcome's write for one turn, so the answers to the hello's requests go with it. */
  private writeHold: Promise<void> | undefined;

  private constructor(family: F, side: S, pair: StreamPair, options: ConnectionOptions<E>, onHello: ((hello: HelloInfo<F, E>) => unknown) | undefined) {
    this.now = options.now ?? Date.now;
    this.onHello = onHello;
    this.onListenerError = options.onListenerError;
    this.onProtocolError = options.onProtocolError;
    this.closeTimeoutMs = options.closeTimeoutMs ?? 2000;
    this.maxQueuedBytes = options.maxQueuedBytes ?? 4 * 1024 * 1024;
    this.session = new ProtocolSession<F, S, E>(family, { ...options, side, nowMs: this.now() });
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.ready.catch(() => {}); // callers that never await ready must not see an unhandled rejection
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.reader = pair.readable.getReader();
    this.writer = pair.writable.getWriter();
    this.tickIntervalMs = options.tickIntervalMs ?? 100;
    this.updateTimer();
  }

  /**
   * Opens the connection as the dialer and sends the hello, with `early` requests pipelined in it
   * (their answers: `conn.early`). Throws on an invalid hello or early request.
   */
  static dial<F extends FamilyDef, E = unknown>(
    family: F,
    pair: StreamPair,
    options: ConnectionOptions<E> & { hello: HelloBody<F, 'dialer', E>; early?: readonly EarlySend<F, 'dialer', E>[] },
  ): ProtocolConnection<F, 'dialer', E> {
    const conn = new ProtocolConnection<F, 'dialer', E>(family, 'dialer', pair, options, undefined);
    try {
      const ids = conn.session.start(options.hello, options.early);
      conn.early = ids.map((id) => {
        const result = new Promise<unknown>((resolve, reject) => (conn.waiting ??= new Map()).set(id, { resolve, reject }));
        result.catch(() => {}); // a caller that only awaits ready must not see an unhandled rejection
        return result;
      });
    } catch (err) {
      conn.session.close(ErrorCodes.internal, 'could not send the hello');
      conn.pump();
      throw err;
    }
    conn.pump();
    void conn.readLoop();
    return conn;
  }

  /**
   * Accepts a connection as the listener. `onHello` sees the peer's (already version-checked)
   * hello and returns the welcome body, or throws an IyesmpError whose code is sent as the refusal.
   */
  static accept<F extends FamilyDef, E = unknown>(
    family: F,
    pair: StreamPair,
    options: ConnectionOptions<E> & {
      onHello: (hello: HelloInfo<F, E>) => HelloBody<F, 'listener', E> | Promise<HelloBody<F, 'listener', E>>;
    },
  ): ProtocolConnection<F, 'listener', E> {
    const conn = new ProtocolConnection<F, 'listener', E>(family, 'listener', pair, options, options.onHello);
    void conn.readLoop();
    return conn;
  }

  // ---- API ---------------------------------------------------------------------------------------

  /** Sends a request and resolves with the response body; rejects with an IyesmpError. */
  async request<K extends RequestTypes<F, S>>(type: K, body: RequestBody<F, K, E>, opts: { timeoutMs?: number } = {}): Promise<ResponseBody<F, K, E>> {
    // once ready, no await before the frame is queued: a request made right after notify() (or
    // another request) joins the same write, and so the same datagram, instead of the next one
    if (!this.isReady) await this.ready;
    this.session.tick(this.now()); // so the deadline counts from now, not from the last tick
    const id = this.session.request(type, body, opts);
    const result = new Promise<unknown>((resolve, reject) => (this.waiting ??= new Map()).set(id, { resolve, reject }));
    this.pump();
    return (await result) as ResponseBody<F, K, E>;
  }

  /** Sends a one-way event. Throws if the connection is not open or the body is invalid. */
  notify<K extends EventTypes<F, S>>(type: K, body: EventBody<F, K, E>): void {
    this.session.notify(type, body);
    this.pump();
  }

  /** Answers requests of one type. Throw an IyesmpError with a snake_case code to refuse. */
  handle<K extends RequestTypes<F, OtherSide<S>>>(
    type: K,
    handler: (body: RequestBody<F, K, E>, req: { id: number; type: K }) => ResponseBody<F, K, E> | Promise<ResponseBody<F, K, E>>,
  ): this {
    (this.handlers ??= new Map()).set(type, handler as unknown as (body: never, req: { id: number; type: string }) => unknown);
    return this;
  }

  /**
   * Answers requests with a shared table, each handler run with `this` set to `target`. A type
   * given to handle() is answered by that handler instead. One table per connection.
   */
  handleWith<T>(table: RequestHandlers<F, S, T, E>, target: T): this {
    this.table = table as unknown as RequestHandlers<F, S, unknown, E>;
    this.tableTarget = target;
    return this;
  }

  /** 'request': fallback for types without handle(); its return value is the response body. */
  on(name: 'request', handler: AnyRequestHandler<F, S, E>): this;
  on<K extends keyof Listeners<F, S, E>>(name: K, listener: Listeners<F, S, E>[K]): this;
  on(name: string, fn: unknown): this {
    if (name === 'request') this.fallback = fn as AnyRequestHandler<F, S, E>;
    else (this.events ??= new Events((err) => this.reportListenerError(err))).on(name as keyof Listeners<F, S, E>, fn as (arg: unknown) => void);
    return this;
  }

  off<K extends keyof Listeners<F, S, E>>(name: K, listener: Listeners<F, S, E>[K]): this {
    this.events?.off(name, listener as (arg: ConnectionEvents<F, S, E>[K]) => void);
    return this;
  }

  /** Resolves once everything sent so far was handed to the stream (backpressure for bulk senders). */
  flushed(): Promise<void> {
    return this.draining ?? Promise.resolve();
  }

  /** Bytes handed to pump() but not yet accepted by the stream. */
  get queued(): number {
    return this.queuedBytes;
  }

  /** Sends a close frame with the reason, flushes, and ends both directions. */
  async close(code: string = ErrorCodes.normal, reason = ''): Promise<CloseInfo> {
    this.session.close(code, reason);
    this.pump();
    return this.closed;
  }

  // ---- plumbing ----------------------------------------------------------------------------------

  private async readLoop(): Promise<void> {
    let reason = 'stream ended';
    try {
      for (;;) {
        const { value, done } = await this.reader.read();
        if (done) break;
        if (value instanceof Uint8Array) this.session.receive(value);
        this.pump();
        if (this.session.state === 'closed') return;
      }
    } catch (err) {
      reason = `stream failed: ${describeError(err)}`;
    }
    this.session.transportClosed(reason);
    this.pump();
  }

  /** Moves queued output to the writer and dispatches queued events. */
  private pump(): void {
    const out = this.session.takeOutput();
    if (out.length > 0 && !this.shutDown) {
      for (const frame of out) {
        this.unwritten.push(frame);
        this.queuedBytes += frame.byteLength;
      }
      this.draining ??= this.drain();
      if (this.queuedBytes > this.maxQueuedBytes && this.session.state !== 'closed') {
        this.session.close(ErrorCodes.busy, 'the peer is not reading; too much data queued');
        this.pump();
        return;
      }
    }
    for (const ev of this.session.takeEvents()) this.dispatch(ev);
    this.updateTimer();
  }

  /**
   * Hands queued frames to the writer, all that queued meanwhile as one chunk per write. Over QUIC
   * each write is sent at once in its own datagram(s), so the replies and events one received
   * datagram produces (or a tick's worth of messages to one peer) share a datagram instead of
   * costing one each, on both sides.
   */
  private async drain(): Promise<void> {
    // let the rest of the current job (more answers, events) join the first write
    await undefined;
    if (this.writeHold !== undefined) {
      await this.writeHold;
      this.writeHold = undefined;
    }
    while (this.unwritten.length > 0) {
      const parts = this.unwritten;
      this.unwritten = [];
      const chunk = parts.length === 1 ? parts[0]! : concat(parts);
      try {
        await this.writer.write(chunk);
        this.queuedBytes -= chunk.byteLength;
      } catch (err) {
        // nothing more can be written on this stream
        this.queuedBytes = 0;
        this.unwritten = [];
        this.draining = undefined;
        this.session.transportClosed(`write failed: ${describeError(err)}`);
        this.pump();
        return;
      }
    }
    this.draining = undefined;
  }

  private readonly tick = (): void => {
    if (this.timer === undefined) return; // no deadline left (or shut down) while it waited
    this.session.tick(this.now());
    this.pump();
  };

  /** Ticks only while a deadline can pass: the hello exchange, or requests awaiting an answer. */
  private updateTimer(): void {
    const needed = !this.shutDown && this.session.nextDeadline() !== undefined;
    if (needed && this.timer === undefined) {
      let dueAt = performance.now() + this.tickIntervalMs;
      this.timer = setInterval(() => {
        // after a stall, answers already waiting in the socket are read before deadlines pass
        const due = dueAt;
        dueAt = performance.now() + this.tickIntervalMs;
        expireAfterInput(due, this.tick);
      }, this.tickIntervalMs);
      this.timer.unref?.();
    } else if (!needed && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private dispatch(ev: SessionEvent<F, S, E>): void {
    switch (ev.kind) {
      case 'hello':
        void this.answerHello(ev as unknown as HelloInfo<F, E>, ev.early);
        return;
      case 'ready':
        this.isReady = true;
        this.resolveReady({ protocol: ev.protocol, peerGameVersion: ev.peerGameVersion, peerHello: ev.peerHello });
        return;
      case 'request':
        void this.answerRequest(ev as IncomingRequest<F, S, E>);
        return;
      case 'response': {
        const w = this.waiting?.get(ev.id);
        this.waiting?.delete(ev.id);
        w?.resolve(ev.body);
        return;
      }
      case 'failure': {
        const w = this.waiting?.get(ev.id);
        this.waiting?.delete(ev.id);
        w?.reject(failureError(ev));
        return;
      }
      case 'event':
        this.emit('event', ev as IncomingEvent<F, S, E>);
        return;
      case 'protocol_error': {
        const info = { code: ev.code, message: ev.message, ...(ev.type !== undefined ? { type: ev.type } : {}) };
        if (this.onProtocolError !== undefined) {
          try {
            this.onProtocolError(info);
          } catch (err) {
            this.reportListenerError(err);
          }
        }
        this.emit('protocol_error', info);
        return;
      }
      case 'close': {
        const info: CloseInfo = { code: ev.code, reason: ev.reason, by: ev.by };
        this.rejectReady(
          new IyesmpError('refused', ev.code, `${this.session.family.name} connection closed before the hello finished: ${ev.reason || ev.code}`, {
            details: { ...info },
          }),
        );
        this.emit('close', info);
        void this.shutdown(info);
        return;
      }
    }
  }

  private async answerHello(hello: HelloInfo<F, E>, early: number): Promise<void> {
    try {
      const welcome = await this.onHello!({ protocol: hello.protocol, peerGameVersion: hello.peerGameVersion, body: hello.body });
      if (this.session.state !== 'hello') return;
      try {
        // Requests came with the hello: their answers (a guest login's within the same turn) and the
        // welcome share one write, one datagram. A slower handler's answer follows on its own.
        if (early > 0) this.writeHold = new Promise((resolve) => setImmediate(resolve));
        this.session.acceptHello(welcome as HelloBody<F, S, E>);
      } catch (err) {
        this.session.refuseHello(ErrorCodes.internal, 'the server could not build its welcome');
        this.reportListenerError(err);
      }
    } catch (err) {
      const { code, message } = refusal(err);
      this.session.refuseHello(code, message);
    }
    this.pump();
  }

  private async answerRequest(req: IncomingRequest<F, S, E>): Promise<void> {
    const handler = this.handlers?.get(req.type);
    const shared = handler === undefined ? this.table?.get(req.type) : undefined;
    try {
      let result: unknown;
      if (handler !== undefined) result = await handler(req.body as never, { id: req.id, type: req.type });
      else if (shared !== undefined) result = await shared.call(this.tableTarget, req.body as never, { id: req.id, type: req.type });
      else if (this.fallback !== undefined) result = await this.fallback(req);
      else throw protocolError.as('refused', ErrorCodes.unknownType, `this ${this.session.family.roles[this.session.side]} does not handle "${req.type}"`);
      if (this.session.state !== 'open') return;
      try {
        this.session.respond(req.id, result);
      } catch (err) {
        // The handler returned something that does not fit the response schema: our bug, not the peer's.
        this.reportListenerError(err);
        this.session.respondError(req.id, ErrorCodes.internal, 'internal error');
      }
    } catch (err) {
      if (this.session.state === 'open') {
        const { code, message } = refusal(err);
        if (code === ErrorCodes.internal) this.reportListenerError(err);
        this.session.respondError(req.id, code, message);
      }
    }
    this.pump();
  }

  private emit<K extends keyof ConnectionEvents<F, S, E>>(name: K, arg: ConnectionEvents<F, S, E>[K]): void {
    this.events?.emit(name, arg);
  }

  private reportListenerError(err: unknown): void {
    try {
      this.onListenerError?.(err);
    } catch {
      // a failing error reporter must not take the connection down
    }
  }

  private async shutdown(info: CloseInfo): Promise<void> {
    if (this.shutDown) return;
    this.shutDown = true;
    this.updateTimer();
    if (this.waiting !== undefined) {
      for (const [, w] of this.waiting) w.reject(protocolError.as('io', ErrorCodes.closed, `connection closed (${info.code})`));
      this.waiting.clear();
    }
    // The protocol is closed now; what follows only releases the streams.
    this.resolveClosed(info);
    // Cancelling/closing a stream the peer already tore down rejects; that is expected here.
    await this.reader.cancel(info.reason).catch(() => {});
    // Let the close frame drain, but a peer that stops reading must not pin this connection forever.
    const drained = await withTimeout(
      this.flushed()
        .then(() => this.writer.close())
        .then(
          () => true,
          () => false,
        ),
      this.closeTimeoutMs,
      { unref: true },
    );
    if (drained !== true) await this.writer.abort(info.reason).catch(() => {});
  }
}

/**
 * Turns a handler's exception into an error reply: IyesmpError codes pass, anything else is
 * `internal` (the peer learns that it failed, not why). Other transports answer with it too.
 */
export function refusal(err: unknown): { code: string; message: string } {
  if (likeIyesmpError(err) && ERROR_CODE_PATTERN.test(err.code) && err.kind !== 'internal') {
    return { code: err.code, message: err.message };
  }
  return { code: ErrorCodes.internal, message: 'internal error' };
}

/**
 * An IyesmpError, also one from another copy of this library: a game's handler may import the
 * built package (`iyesmp/protocol`) while the server runs from source, or two installed versions
 * meet; `instanceof` alone would turn every refusal of theirs into `internal`.
 */
function likeIyesmpError(err: unknown): err is Pick<IyesmpError, 'kind' | 'code' | 'message'> {
  if (err instanceof IyesmpError) return true;
  if (!(err instanceof Error) || err.name !== 'IyesmpError') return false;
  const e = err as Partial<IyesmpError>;
  return typeof e.code === 'string' && typeof e.kind === 'string';
}

function failureError(f: RequestFailure): IyesmpError {
  const kind = f.local ? 'io' : 'refused';
  return new IyesmpError(kind, f.code, f.local ? f.message : `"${f.type}" refused: ${f.message}`, {
    details: { type: f.type, id: f.id, local: f.local },
  });
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

// ---- bulk streams ------------------------------------------------------------------------------

/** Writes the header, then hands back a writer for payload frames. */
export async function openBulkStream<E = unknown>(
  writable: WritableStream<Uint8Array>,
  header: Omit<BulkHeader<E>, 'kind'>,
  opts: { extSchema?: z.ZodType<E>; maxFrameBytes?: number } = {},
): Promise<{ write(payload: Uint8Array): Promise<void>; close(): Promise<void> }> {
  const writer = writable.getWriter();
  const max = opts.maxFrameBytes ?? DEFAULT_BULK_LIMITS.maxFrameBytes;
  await writer.write(encodeBulkHeader(header, opts.extSchema));
  return {
    write: (payload) => writer.write(encodeBulkFrame(payload, max)),
    close: () => writer.close(),
  };
}

/**
 * Reads a bulk stream's header, then yields its payload frames. Rejects with an IyesmpError
 * ('input', code) on a bad header or oversize frame, after cancelling the stream with the reason.
 */
export async function acceptBulkStream<E = unknown>(
  readable: ReadableStream<Uint8Array>,
  opts: { limits?: Partial<ProtocolLimits>; extSchema?: z.ZodType<E>; family?: string } = {},
): Promise<{ header: BulkHeader<E>; frames: AsyncIterable<Uint8Array> }> {
  const reader = readable.getReader();
  const decoder = new BulkStreamDecoder<E>(opts);
  const queued: Uint8Array[] = [];
  const fail = async (code: string, message: string): Promise<never> => {
    await reader.cancel(`${code}: ${message}`).catch(() => {});
    throw new IyesmpError('input', code, message);
  };
  let header: BulkHeader<E> | undefined;
  while (header === undefined) {
    const { value, done } = await reader.read();
    if (done) return fail(ErrorCodes.malformed, 'bulk stream ended before its header');
    const r = decoder.push(value);
    if (r.error) return fail(r.error.code, r.error.message);
    header = r.header;
    queued.push(...r.frames);
  }
  async function* frames(): AsyncGenerator<Uint8Array> {
    try {
      yield* queued.splice(0);
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        const r = decoder.push(value);
        yield* r.frames;
        if (r.error) await fail(r.error.code, r.error.message);
      }
    } finally {
      reader.releaseLock();
    }
  }
  return { header, frames: frames() };
}

/**
 * An error as words for a close reason. The QUIC library's errors can have an empty message (an
 * idle timeout is only its class, ErrorQUICConnectionIdleTimeout): then the class name says it.
 */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err.message) return err.message;
  const description = (err as { description?: unknown }).description;
  return typeof description === 'string' && description ? `${err.name} (${description})` : err.name;
}
