/**
 * One mutually authenticated QUIC connection, confirmed by the server (a `first-stream` client's:
 * once `confirmedBy` saw the answer; see confirm.ts), as both servers and clients see it:
 * the verified peer, bidirectional streams as WHATWG `{ readable, writable }` pairs (what the
 * protocol layer binds to), and a close that says why.
 */
import { EventEmitter } from 'node:events';
import type { QUICConnection, QUICStream } from '@matrixai/quic';
import { events as quicEvents, errors as quicErrors } from '@matrixai/quic';
import type { VerifiedPeer } from '../pki/types.js';
import type { IyesmpError } from '../errors.js';
import { TIMED_OUT, withTimeout } from '../events/timeout.js';
import { transportError } from './errors.js';
import { AppClose, errorFromPeerClose, type AppCloseName } from './refusal.js';
import { ACCEPTED_STREAM_ID, HELLO, decodeConfirm, isUniStream, readFrame, writeFrame } from './confirm.js';
import type { AdmitResult } from './admission.js';

/**
 * What an endpoint tells the server's admission (admission.ts) about a connection it serves: the
 * hello arrived, the peer logged in (trusted, as an account) or out. A client's own connections
 * have no admission: everything is allowed.
 */
export interface ConnectionAdmissionHandle {
  helloReceived(): void;
  trust(account?: string): AdmitResult;
  /** false: the connection may not wait for another login here (the caller closes it) */
  distrust(): boolean;
  /**
   * A trusted connection is being turned away (its close follows shortly): it stops counting
   * against its account at once, so refused attempts cannot hold the account's share.
   */
  release(): void;
}

/** `@matrixai/events`' `EventAll`: every event of an `Evented` target, after its own listeners. */
const EVENT_ALL = 'EventAll';

const NO_ADMISSION: ConnectionAdmissionHandle = {
  helloReceived: () => undefined,
  trust: () => ({ ok: true }),
  distrust: () => true,
  release: () => undefined,
};

export interface PeerStream {
  /** QUIC stream id (client-opened: 4, 8, ...; server-opened: 1, 5, ...) */
  readonly id: number;
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  /** abort both directions at once (the peer sees a stream reset) */
  cancel(reason?: unknown): void;
}

export interface CloseInfo {
  /**
   * `closed` (this side called close), `peer_closed`, `idle_timeout`, `shutting_down`,
   * or another application-close name / `transport_error`
   */
  code: string;
  /** reason phrase sent or received, if any */
  message: string;
  byPeer: boolean;
}

export interface PeerConnectionEvents {
  stream: [PeerStream];
  close: [CloseInfo];
}

function toPeerStream(s: QUICStream): PeerStream {
  return {
    id: s.streamId,
    readable: s.readable as unknown as ReadableStream<Uint8Array>,
    writable: s.writable as unknown as WritableStream<Uint8Array>,
    cancel: (reason?: unknown) => s.cancel(reason),
  };
}

/** Maps an error the library reports at connection end to CloseInfo. */
function closeInfoFrom(err: unknown): CloseInfo | undefined {
  if (err instanceof quicErrors.ErrorQUICConnectionIdleTimeout) {
    return { code: 'idle_timeout', message: 'no packet from the peer within the idle timeout', byPeer: false };
  }
  const data = (err as { data?: { isApp?: boolean; errorCode?: number; reason?: Uint8Array } } | undefined)?.data;
  if (data === undefined || data.errorCode === undefined) return undefined;
  const message = data.reason ? Buffer.from(data.reason).toString('utf8') : '';
  const byPeer = err instanceof quicErrors.ErrorQUICConnectionPeer || err instanceof quicErrors.ErrorQUICConnectionPeerTLS;
  let code: string;
  if (data.isApp) {
    const name = (Object.keys(AppClose) as (keyof typeof AppClose)[]).find((k) => AppClose[k] === data.errorCode);
    code = name === 'normal' || name === undefined ? (byPeer ? 'peer_closed' : 'closed') : name;
  } else {
    code = data.errorCode === 0 ? (byPeer ? 'peer_closed' : 'closed') : 'transport_error';
  }
  return { code, message, byPeer };
}

/**
 * A client connection of `confirm: 'first-stream'` before the server's answer: what the server's
 * close means (refusal.ts) and the error at the connect deadline.
 */
export interface PendingConfirm {
  /** Date.now() by which the answer must have come */
  deadline: number;
  address: string;
  timeout: () => IyesmpError;
}

/**
 * How long a failed first exchange waits for the server's close before reporting the failure as is:
 * a refusing server may reset the stream a few packets before its CONNECTION_CLOSE arrives.
 */
const REFUSAL_GRACE_MS = 1000;

type PeerClose = { isApp: boolean; errorCode: number; reason: Uint8Array };

export class PeerConnection extends EventEmitter<PeerConnectionEvents> {
  readonly peer: VerifiedPeer;
  readonly alpn: string;
  readonly side: 'client' | 'server';
  readonly admission: ConnectionAdmissionHandle;
  /** resolves once the connection has fully ended, with why */
  readonly closed: Promise<CloseInfo>;

  private readonly conn: QUICConnection;
  private readonly stopConnection: ((opts: { isApp: true; errorCode: number; reason: Uint8Array; force: boolean }) => Promise<void>) | undefined;
  private readonly pending: PeerStream[] = [];
  private lastError: unknown;
  private closing: Promise<void> | undefined;
  private localClose: CloseInfo | undefined;
  private resolveClosed!: (info: CloseInfo) => void;
  private readonly route: ((host: string, port: number) => { host: string; port: number } | undefined) | undefined;
  /** `first-stream` client before the server answered; see confirmedBy */
  private pendingConfirm: PendingConfirm | undefined;
  /** `first-stream` (both sides): no confirmation uni streams, every peer uni stream is cancelled */
  private noUni: boolean;
  private openedBeforeConfirm = false;
  /** `openConfirmed` runs: an older server's reset of the first stream is answered by the `accepted` way */
  private olderAllowed = false;
  /** the `accepted` confirmation tried after the first stream's reset: true once the server accepted */
  private older: Promise<boolean> | undefined;
  /** the CONNECTION_CLOSE the peer sent, once it came */
  private peerClose: PeerClose | undefined;

  /** @internal built by the server at the hand-over, by the client after ACCEPTED or (`first-stream`) the handshake */
  constructor(opts: {
    conn: QUICConnection;
    peer: VerifiedPeer;
    alpn: string;
    side: 'client' | 'server';
    /** how to end this connection (the client also stops its socket); default `conn.stop` */
    stop?: (o: { isApp: true; errorCode: number; reason: Uint8Array; force: boolean }) => Promise<void>;
    admission?: ConnectionAdmissionHandle;
    /** the server socket's route table (proxy-protocol.ts) */
    viaProxy?: (host: string, port: number) => { host: string; port: number } | undefined;
    /** server, `first-stream` mode: the peer's protocol stream, held until now (delivered first) */
    firstStream?: QUICStream | undefined;
    /** client, `first-stream` mode: the server has not answered yet */
    confirm?: PendingConfirm;
  }) {
    super();
    this.conn = opts.conn;
    this.route = opts.viaProxy;
    this.admission = opts.admission ?? NO_ADMISSION;
    this.peer = opts.peer;
    this.alpn = opts.alpn;
    this.side = opts.side;
    this.stopConnection = opts.stop;
    this.closed = new Promise((r) => (this.resolveClosed = r));
    this.pendingConfirm = opts.confirm;
    this.noUni = opts.firstStream !== undefined || opts.confirm !== undefined;
    // Streams that arrive before anyone listens are queued, then handed to the first listener.
    (this as unknown as EventEmitter).on('newListener', (name: string | symbol) => {
      if (name !== 'stream') return;
      queueMicrotask(() => {
        while (this.pending.length > 0 && this.listenerCount('stream') > 0) this.emit('stream', this.pending.shift()!);
      });
    });
    if (opts.side === 'client') {
      // A server may open streams as soon as it accepts; they can arrive in the same packets as
      // ACCEPTED, before this object exists. Adopt them. (`streamMap` is internal to
      // @matrixai/quic; it is only read.) A server never adopts: a client's streams before the
      // hand-over are its first stream (given here) or refused (server.ts FirstStreamGuard).
      const existing = (this.conn as unknown as { streamMap?: Map<number, QUICStream> }).streamMap;
      for (const s of existing?.values() ?? []) {
        if (s.initiated === 'peer' && !isUniStream(s.streamId)) this.deliver(toPeerStream(s));
      }
    }
    if (opts.firstStream) this.deliver(toPeerStream(opts.firstStream));
    // One listener for the three events this needs: each listener of the connection (an `Evented`
    // target: a wrapper, its options, a set entry) is ~0.3 KB per idle connection. `EventAll`
    // comes right after each event's own listeners, in the same dispatch.
    this.conn.addEventListener(EVENT_ALL, this.onEvent);
  }

  get remoteHost(): string {
    return this.conn.remoteHost;
  }
  get remotePort(): number {
    return this.conn.remotePort;
  }
  /**
   * The trusted proxy this peer's datagrams come through now (server side, PROXY protocol v2), or
   * undefined when they come straight; `remoteHost` and `remotePort` are the real client's either way.
   */
  get viaProxy(): { host: string; port: number } | undefined {
    return this.route?.(this.conn.remoteHost, this.conn.remotePort);
  }
  get localPort(): number {
    return this.conn.localPort;
  }
  get isClosed(): boolean {
    return this.closing !== undefined || this.conn.closed;
  }

  /**
   * How many more bidirectional streams the peer currently lets this side open (its
   * maxStreamsPerConnection minus streams still open; QUIC returns credit as streams finish).
   */
  get streamsLeft(): number {
    return this.native().peerStreamsLeftBidi();
  }

  /**
   * Opens a bidirectional stream. Throws `IyesmpError('conflict', 'stream_limit')` when the peer's
   * concurrent-stream limit is reached: finish a stream (end both directions) and try again.
   */
  openStream(): PeerStream {
    if (this.pendingConfirm && this.openedBeforeConfirm) {
      // the server refuses a second stream before it admitted the connection (confirm.ts)
      throw transportError('stream_limit', 'only the first stream may be opened before the server answered on it', {
        hint: 'await confirmedBy(<the answer on the first stream>) first',
      });
    }
    // Checked here rather than by catching the library's ErrorQUICStreamLimit: @matrixai/quic 2.0.9
    // marks the stream id as used before failing, after which every later newStream() fails too.
    if (this.streamsLeft <= 0) {
      throw transportError('stream_limit', 'the peer allows no more concurrent streams on this connection', {
        hint: 'finish (end both directions of) an open stream first',
      });
    }
    const q = this.conn.newStream('bidi');
    if (this.pendingConfirm) {
      this.openedBeforeConfirm = true;
      if (this.olderAllowed) q.addEventListener(quicEvents.EventQUICStreamError.name, this.onFirstStreamError);
    }
    return toPeerStream(q);
  }

  /**
   * Client, `confirm: 'first-stream'`: opens the first stream and runs `exchange` on it (say hello,
   * await the welcome), whose result confirms the connection as in `confirmedBy`. An older server
   * (one that only knows `accepted`) resets that stream unread and keeps waiting for a HELLO: the
   * client then confirms the `accepted` way on this same connection (one more round trip), drops the
   * close the failed exchange asked for, and runs `exchange` again on a new stream. On other
   * connections it runs `exchange` on a new stream.
   */
  async openConfirmed<T>(exchange: (stream: PeerStream) => Promise<T>): Promise<T> {
    if (!this.pendingConfirm) return exchange(this.openStream());
    this.olderAllowed = true;
    try {
      let first: PeerStream;
      try {
        first = this.openStream();
      } catch (e) {
        return await this.confirm(Promise.reject(e));
      }
      return await this.confirm(exchange(first), () => exchange(this.openStream()));
    } finally {
      this.olderAllowed = false;
    }
  }

  /** Client, `confirm: 'first-stream'`: true until `confirmedBy` saw the server's answer. */
  get awaitingConfirmation(): boolean {
    return this.pendingConfirm !== undefined;
  }

  /**
   * Client, `confirm: 'first-stream'`: settles as `answer` (the server's answer on the first stream,
   * e.g. the protocol welcome), which confirms the connection. If it fails, or the connect deadline
   * passes first, the connection is closed and the error is the one the server's close means (a
   * refused certificate, `server_full`, `too_many_connections`, `deadline`, `shutting_down`...),
   * exactly what `confirm: 'accepted'` reports; without such a close it is `answer`'s own error, or
   * `timeout` at the deadline. On other connections it simply returns `answer`.
   */
  confirmedBy<T>(answer: Promise<T>): Promise<T> {
    return this.confirm(answer);
  }

  /** confirmedBy; `again` runs instead of failing when an older server accepted the connection meanwhile. */
  private async confirm<T>(answer: Promise<T>, again?: () => Promise<T>): Promise<T> {
    const c = this.pendingConfirm;
    if (!c) return answer;
    try {
      const r = await withTimeout(answer, Math.max(1, c.deadline - Date.now()));
      if (r !== TIMED_OUT) {
        this.pendingConfirm = undefined;
        return r;
      }
      throw c.timeout();
    } catch (e) {
      if (again && this.older && (await this.older)) {
        this.pendingConfirm = undefined;
        return again();
      }
      const refusal = await this.refusalFromClose(Math.min(REFUSAL_GRACE_MS, c.deadline - Date.now()));
      this.pendingConfirm = undefined;
      await this.close('', { force: true }).catch(() => undefined);
      throw refusal ?? e;
    }
  }

  /**
   * The error the peer's close means, waiting up to `waitMs` for a close that has not arrived yet;
   * undefined for a close that is no refusal (a normal one) or none.
   */
  private async refusalFromClose(waitMs: number): Promise<IyesmpError | undefined> {
    // an `accepted` confirmation tried meanwhile has already waited for the close
    if (!this.peerClose && !this.conn.closed && !this.older && waitMs > 0) await withTimeout(this.closed, waitMs);
    const close = this.peerClose ?? (this.localClose === undefined ? this.conn.getConnectionError() : undefined);
    if (!close || !this.pendingConfirm) return undefined;
    return errorFromPeerClose(close, { alpn: this.alpn, address: this.pendingConfirm.address });
  }

  /** quiche's connection object; internal to @matrixai/quic, read only for stream credit */
  private native(): { peerStreamsLeftBidi(): number } {
    return (this.conn as unknown as { conn: { peerStreamsLeftBidi(): number } }).conn;
  }

  /**
   * Closes the connection with a reason phrase the peer receives. By default it waits for open
   * streams to finish (both directions ended); `force` resets them at once. `code` (default
   * `normal`) is the application close the peer reads.
   */
  close(reason = '', opts: { force?: boolean; code?: AppCloseName } = {}): Promise<void> {
    if (this.closing) return this.closing;
    // the failed first exchange of openConfirmed asks for a close: not when an older server accepted meanwhile
    const older = this.pendingConfirm && !opts.force ? this.older : undefined;
    if (older) return older.then((accepted) => (accepted ? undefined : this.closeNow(reason, opts)));
    return this.closeNow(reason, opts);
  }

  private closeNow(reason: string, opts: { force?: boolean; code?: AppCloseName }): Promise<void> {
    if (this.closing) return this.closing;
    const code = opts.code ?? 'normal';
    const stop = (): Promise<void> => {
      this.localClose = { code: code === 'normal' ? 'closed' : code, message: reason, byPeer: false };
      const o = { isApp: true as const, errorCode: AppClose[code], reason: Buffer.from(reason, 'utf8'), force: opts.force ?? false };
      return this.stopConnection ? this.stopConnection(o) : this.conn.stop(o);
    };
    const c = this.pendingConfirm;
    // A first exchange that failed (the caller gives up before confirmedBy ran) may be a refusal whose
    // close is still on its way: closing first would lose it, so wait a moment for it.
    this.closing = c && !opts.force && !this.conn.closed ? this.refusalFromClose(Math.min(REFUSAL_GRACE_MS, c.deadline - Date.now())).then(stop, stop) : stop();
    return this.closing;
  }

  /** Resets every open stream without closing the connection (used by drain deadlines). */
  destroyStreams(reason?: unknown): void {
    this.conn.destroyStreams(reason);
  }

  private deliver(s: PeerStream): void {
    if (this.listenerCount('stream') > 0) this.emit('stream', s);
    else this.pending.push(s);
  }

  private readonly onEvent = (evt: Event): void => {
    const e = (evt as unknown as { detail: unknown }).detail;
    if (e instanceof quicEvents.EventQUICConnectionStream) this.onStream(e);
    else if (e instanceof quicEvents.EventQUICConnectionError) this.onError(e);
    else if (e instanceof quicEvents.EventQUICConnectionStopped) this.onStopped();
  };

  /**
   * The first stream of `openConfirmed` reset (or stopped) by the server before it answered, while
   * the connection stays open: what an older server does (the server of this release resets it only
   * as it closes the connection, and then the close decides). Say HELLO the older way at once.
   */
  private readonly onFirstStreamError = (evt: Event): void => {
    const err = (evt as unknown as { detail: unknown }).detail;
    if (!(err instanceof quicErrors.ErrorQUICStreamPeerRead || err instanceof quicErrors.ErrorQUICStreamPeerWrite)) return;
    const c = this.pendingConfirm;
    if (this.older || !c || !this.olderAllowed || this.peerClose || this.conn.closed) return;
    this.noUni = false; // its ACCEPTED comes on the server's first unidirectional stream
    this.older = helloAccepted(this.conn, Math.max(1, Math.min(REFUSAL_GRACE_MS, c.deadline - Date.now()))).then(
      (frame) => frame !== TIMED_OUT && frame !== undefined && decodeConfirm(frame) === 'accepted',
      () => false,
    );
  };

  private onStream(evt: Event): void {
    const s = (evt as unknown as { detail: QUICStream }).detail;
    if (isUniStream(s.streamId)) {
      // only the `accepted` confirmation uses unidirectional streams; it is handled before this object exists
      if (this.noUni || (s.streamId !== 2 && s.streamId !== 3)) s.cancel(new Error('unidirectional streams are not used'));
      return;
    }
    this.deliver(toPeerStream(s));
  }

  private onError(evt: Event): void {
    const err = (evt as unknown as { detail: unknown }).detail;
    this.lastError = err;
    const data = (err as { data?: Partial<PeerClose> } | undefined)?.data;
    const fromPeer = err instanceof quicErrors.ErrorQUICConnectionPeer || err instanceof quicErrors.ErrorQUICConnectionPeerTLS;
    if (fromPeer && data && typeof data.errorCode === 'number') {
      this.peerClose = { isApp: data.isApp === true, errorCode: data.errorCode, reason: data.reason ?? new Uint8Array() };
    }
  }

  private onStopped(): void {
    this.conn.removeEventListener(EVENT_ALL, this.onEvent);
    const info = this.localClose ?? closeInfoFrom(this.lastError) ?? { code: 'closed', message: '', byPeer: false };
    for (const s of this.pending.splice(0)) s.cancel(new Error('connection closed'));
    this.emit('close', info);
    this.resolveClosed(info);
  }
}

/**
 * The `accepted` confirmation (confirm.ts) on a client connection: HELLO on the client's first
 * unidirectional stream, then the frame the server answers on its own first one (undefined: not a
 * frame), or TIMED_OUT after `ms`. Rejects when the connection ends first.
 */
export async function helloAccepted(conn: QUICConnection, ms: number): Promise<Uint8Array | undefined | typeof TIMED_OUT> {
  // listen for the server's answer before saying hello, so it cannot be missed
  const answer = peerStream(conn, ACCEPTED_STREAM_ID);
  const confirmed = (async () => {
    await writeFrame(conn.newStream('uni').writable as unknown as WritableStream<Uint8Array>, HELLO);
    const s = await answer.stream;
    return readFrame(s.readable as unknown as ReadableStream<Uint8Array>);
  })();
  return withTimeout(confirmed, ms).finally(() => answer.stop());
}

/** The peer-opened stream with that id, once it appears; rejects if the connection ends first. */
function peerStream(conn: QUICConnection, id: number): { stream: Promise<QUICStream>; stop: () => void } {
  let stop = (): void => undefined;
  const stream = new Promise<QUICStream>((resolve, reject) => {
    const onStream = (evt: Event): void => {
      const s = (evt as unknown as { detail: QUICStream }).detail;
      if (s.streamId === id) {
        stop();
        resolve(s);
      }
    };
    const onStopped = (): void => {
      stop();
      reject(new Error('connection closed before confirmation'));
    };
    stop = () => {
      conn.removeEventListener(quicEvents.EventQUICConnectionStream.name, onStream);
      conn.removeEventListener(quicEvents.EventQUICConnectionStopped.name, onStopped);
    };
    conn.addEventListener(quicEvents.EventQUICConnectionStream.name, onStream);
    conn.addEventListener(quicEvents.EventQUICConnectionStopped.name, onStopped);
  });
  stream.catch(() => undefined);
  return { stream, stop };
}
