/**
 * QUIC server endpoint: mutual TLS checked by a PeerVerifier during the handshake, one ALPN, a
 * source-address allow-list in front of QUIC, connection and stream limits, confirmation of each
 * accepted client, certificate reload and a draining shutdown. See docs/transport.md.
 */
import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { QUICServer, events as quicEvents } from '@matrixai/quic';
import type { QUICConnection, QUICStream } from '@matrixai/quic';
import type { PeerVerifier, VerifyPolicy } from '../pki/types.js';
import { IyesmpError } from '../errors.js';
import { TIMED_OUT, withTimeout } from '../events/timeout.js';
import { transportError } from './errors.js';
import { AddressAllowList, type AllowListStats } from './allow-list.js';
import { FilteredQUICSocket } from './filtered-socket.js';
import { ProxyRouter, parseTrustedProxies, type ProxyStats } from './proxy-protocol.js';
import { loadCredentials, type CredentialSources, type LoadedCredentials } from './credentials.js';
import { quicLogger, serverCrypto } from './quic-runtime.js';
import { VerifyGate, type PolicyResolver, type Refusal } from './verify.js';
import { AppClose, type AppCloseName } from './refusal.js';
import { ACCEPTED, HELLO_STREAM_ID, PreAdmission, decodeConfirm, isUniStream, readFrame, writeFrame } from './confirm.js';
import { PeerConnection, type ConnectionAdmissionHandle } from './connection.js';
import { ConnectionAdmission, type AdmissionRefusal, type AdmissionStage, type AdmitResult } from './admission.js';
import { checkAlpn } from './alpn.js';
import { offeredAlpn } from './initial-alpn.js';
import { printable } from '../net/printable.js';
import { formatHostPort } from '../net/address.js';

export interface ServerLimits {
  /** confirmed plus confirming connections; more are closed with `server_full`. Default 1000. */
  maxConnections?: number;
  /** concurrent bidirectional streams each peer may open. Default 100. */
  maxStreamsPerConnection?: number;
  /** close a connection after this long without a packet (QUIC max_idle_timeout). Default 30000. */
  idleTimeoutMs?: number;
  /** send a PING this often on idle connections (keeps NAT bindings and the idle timer alive). Default off. */
  keepAliveMs?: number;
  /** time for a new peer to finish the TLS handshake. Default 10000. */
  handshakeTimeoutMs?: number;
  /** time for a new peer to send its confirmation after the handshake. Default 10000. */
  confirmTimeoutMs?: number;
  /**
   * Connections not yet trusted (see `trustAt`) at once; the rest of maxConnections is kept for
   * trusted ones. Default maxConnections (nothing kept).
   */
  maxUnauthenticated?: number;
  /** untrusted connections from one source address. Default maxUnauthenticated. */
  maxUnauthenticatedPerAddress?: number;
  /** untrusted connections with one client certificate (fingerprint). Default maxUnauthenticated. */
  maxUnauthenticatedPerCert?: number;
  /** trusted connections of one account. Default maxConnections. */
  maxPerAccount?: number;
  /** from the handshake to the peer's first stream. Default 10000. */
  firstStreamTimeoutMs?: number;
  /** from the first stream to the hello (endpoints that report it). Default 10000. */
  helloTimeoutMs?: number;
  /** from the hello to the login (endpoints that report it). Default 30000. */
  loginTimeoutMs?: number;
}

export interface QuicServerOptions extends CredentialSources {
  /** address to bind; default `::` (IPv6 and IPv4) */
  host?: string;
  /** default 0: any free port (read it back from `server.port`) */
  port?: number;
  /** bind IPv6 only when host is `::` */
  ipv6Only?: boolean;
  /** the one application protocol this endpoint speaks, e.g. ALPN.host */
  alpn: string;
  verifier: PeerVerifier;
  /** what a client certificate must be; a function can choose per chain (e.g. per session) */
  policy: VerifyPolicy | PolicyResolver;
  /** when given, datagrams from other sources are dropped before QUIC sees them */
  allowList?: AddressAllowList | Iterable<string>;
  /**
   * Address ranges (`10.0.0.0/8`) of UDP proxies that prefix every datagram with a PROXY protocol v2
   * header naming the real client (proxy-protocol.ts). Datagrams from them without a valid header
   * are dropped; a header from any other source is never honoured. Default none.
   */
  trustedProxies?: Iterable<string>;
  limits?: ServerLimits;
  /** reload cert/key/ca when their files change (paths only) */
  watch?: boolean;
  /**
   * When a connection is trusted (no more deadlines, no longer counted as unauthenticated): at its
   * first stream (default), its hello, or when its endpoint logs it in (`conn.admission.trust`).
   */
  trustAt?: AdmissionStage;
  /** clock for the verifier and the admission deadlines (tests) */
  now?: () => Date;
  /**
   * @internal tests: confirm only the `accepted` way, as servers before `first-stream` did (a stream
   * before the HELLO is reset, the HELLO still awaited), to try new clients against such a server.
   */
  onlyAccepted?: boolean;
}

export interface ServerRefusal {
  reason: Refusal['reason'] | 'wrong_alpn' | 'server_full' | 'shutting_down' | 'confirm_failed' | AdmissionRefusal | `${AdmissionStage}_timeout`;
  message: string;
  /** refused leaf certificate, when the refusal is about a certificate */
  subject?: string;
  fingerprint?: string;
  /** peer address, when known (TLS-time refusals do not know it) */
  remote?: string;
  /** `wrong_alpn`: what the client offered (empty when it could not be read) */
  offeredAlpn?: string[];
}

export interface QuicServerStats {
  connections: number;
  confirming: number;
  /** connections not trusted yet (see `trustAt`) */
  unauthenticated: number;
  accepted: number;
  /** of `accepted`, those confirmed the old way (HELLO/ACCEPTED, confirm.ts): older clients still in use */
  acceptedLegacy: number;
  refused: Record<string, number>;
  allowList?: AllowListStats;
  /** present when the server has trusted proxies */
  proxies?: ProxyStats;
}

export interface QuicServerEvents {
  connection: [PeerConnection];
  refused: [ServerRefusal];
  reload: [{ fingerprint: string }];
  reloadError: [IyesmpError];
}

const DEFAULTS = {
  maxConnections: 1000,
  maxStreamsPerConnection: 100,
  idleTimeoutMs: 30_000,
  handshakeTimeoutMs: 10_000,
  confirmTimeoutMs: 10_000,
  firstStreamTimeoutMs: 10_000,
  helloTimeoutMs: 10_000,
  loginTimeoutMs: 30_000,
};

export class QuicServer extends EventEmitter<QuicServerEvents> {
  readonly alpn: string;
  /** present when the server filters sources; add/remove entries at any time */
  readonly allowList: AddressAllowList | undefined;

  private readonly quic: QUICServer;
  private readonly socket: FilteredQUICSocket;
  private readonly limits: Required<Omit<ServerLimits, 'keepAliveMs'>> & { keepAliveMs?: number };
  private readonly admission: ConnectionAdmission;
  private readonly onlyAccepted: boolean;
  private readonly clock: () => number;
  /** every handshaken connection by its admission id, until it stops */
  /** `stopped`: the cleanup at the connection's end; its own listener until the hand-over, the PeerConnection's close after. */
  private readonly byId = new Map<string, { conn: QUICConnection; pc?: PeerConnection; stopped: () => void }>();
  private nextId = 0;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private deadlineAt = Number.POSITIVE_INFINITY;
  private sources: CredentialSources;
  private creds: LoadedCredentials;
  private readonly live = new Set<PeerConnection>();
  private readonly raw = new Set<QUICConnection>();
  private confirming = 0;
  private accepted = 0;
  private acceptedLegacy = 0;
  private readonly refusedCounts: Record<string, number> = {};
  private draining = false;
  private closingP: Promise<void> | undefined;
  private watchers: FSWatcher[] = [];
  private reloadTimer: NodeJS.Timeout | undefined;

  /** @internal use createQuicServer */
  constructor(opts: QuicServerOptions, creds: LoadedCredentials) {
    super();
    this.alpn = checkAlpn(opts.alpn);
    this.sources = { cert: opts.cert, key: opts.key, ...(opts.ca === undefined ? {} : { ca: opts.ca }) };
    this.creds = creds;
    const maxConnections = opts.limits?.maxConnections ?? DEFAULTS.maxConnections;
    const maxUnauthenticated = opts.limits?.maxUnauthenticated ?? maxConnections;
    this.limits = {
      ...DEFAULTS,
      maxUnauthenticated,
      maxUnauthenticatedPerAddress: maxUnauthenticated,
      maxUnauthenticatedPerCert: maxUnauthenticated,
      maxPerAccount: maxConnections,
      ...opts.limits,
    };
    const l = this.limits;
    try {
      this.admission = new ConnectionAdmission({
        maxUnauthenticated: l.maxUnauthenticated,
        maxUnauthenticatedPerAddress: l.maxUnauthenticatedPerAddress,
        maxUnauthenticatedPerCert: l.maxUnauthenticatedPerCert,
        maxPerAccount: l.maxPerAccount,
        firstStreamMs: l.firstStreamTimeoutMs,
        helloMs: l.helloTimeoutMs,
        loginMs: l.loginTimeoutMs,
        trustAt: opts.trustAt ?? 'stream',
      });
    } catch (e) {
      throw transportError('bad_limits', (e as Error).message);
    }
    this.clock = opts.now ? () => opts.now!().getTime() : () => Date.now();
    this.onlyAccepted = opts.onlyAccepted === true;
    if (this.limits.keepAliveMs !== undefined && this.limits.idleTimeoutMs > 0 && this.limits.keepAliveMs >= this.limits.idleTimeoutMs) {
      throw transportError('bad_limits', 'keepAliveMs must be shorter than idleTimeoutMs');
    }
    this.allowList =
      opts.allowList === undefined ? undefined : opts.allowList instanceof AddressAllowList ? opts.allowList : new AddressAllowList(opts.allowList);
    const gate = new VerifyGate(opts.verifier, opts.policy, opts.now, (r) => this.countRefusal({ ...r }));
    this.gate = gate;
    const logger = quicLogger('QUICServer');
    const trusted = parseTrustedProxies(opts.trustedProxies ?? []);
    // a route must outlive the connection's silences, or replies would go straight to the client
    const idle = this.limits.idleTimeoutMs > 0 ? this.limits.idleTimeoutMs : 600_000;
    const proxies = trusted.length === 0 ? null : new ProxyRouter({ trusted, routeTtlMs: Math.max(idle, this.limits.handshakeTimeoutMs) + 10_000 });
    this.socket = new FilteredQUICSocket({ allowList: this.allowList ?? null, proxies, now: this.clock, logger: logger.getChild('QUICSocket') });
    this.quic = new QUICServer({
      crypto: serverCrypto(),
      socket: this.socket,
      minIdleTimeout: this.limits.handshakeTimeoutMs,
      logger,
      config: {
        cert: creds.cert,
        key: creds.key,
        ...(creds.ca.length > 0 ? { ca: creds.ca } : {}),
        verifyPeer: true,
        verifyCallback: gate.callback,
        applicationProtos: [this.alpn],
        maxIdleTimeout: this.limits.idleTimeoutMs,
        keepAliveIntervalTime: this.limits.keepAliveMs,
        initialMaxStreamsBidi: this.limits.maxStreamsPerConnection,
        // one unidirectional stream: the peer's confirmation (confirm.ts)
        initialMaxStreamsUni: 1,
      },
    });
  }

  private readonly gate: VerifyGate;

  /** @internal */
  async start(host: string, port: number, ipv6Only: boolean | undefined): Promise<void> {
    try {
      await this.socket.start({ host, port, ...(ipv6Only === undefined ? {} : { ipv6Only }) });
    } catch (e) {
      throw transportError('bind_failed', `cannot listen on UDP ${formatHostPort(host, port)}: ${(e as Error).message}`, {
        cause: e,
        hint: 'is the port in use, or the address not on this machine?',
      });
    }
    if (this.socket.proxies) this.socket.proxies.ipv4As = this.socket.type === 'ipv4' ? 'plain' : 'mapped';
    this.quic.addEventListener(quicEvents.EventQUICServerConnection.name, this.onQuicConnection);
    this.watchAlpn();
    try {
      await this.quic.start();
    } catch (e) {
      await this.socket.stop({ force: true }).catch(() => undefined);
      throw transportError('quic_start_failed', `the QUIC server did not start: ${(e as Error).message}`, { cause: e });
    }
  }

  get host(): string {
    return this.socket.host;
  }
  get port(): number {
    return this.socket.port;
  }
  /** SHA-256 of the certificate new connections are served with */
  get certFingerprint(): string {
    return this.creds.fingerprint;
  }
  get connections(): PeerConnection[] {
    return [...this.live];
  }

  stats(): QuicServerStats {
    return {
      connections: this.live.size,
      confirming: this.confirming,
      unauthenticated: this.admission.stats().unauthenticated,
      accepted: this.accepted,
      acceptedLegacy: this.acceptedLegacy,
      refused: { ...this.refusedCounts },
      ...(this.allowList ? { allowList: this.allowList.stats() } : {}),
      ...(this.socket.proxies ? { proxies: this.socket.proxies.stats() } : {}),
    };
  }

  /**
   * Re-reads the certificate, key and CA (from their files, or from new sources given here) and
   * serves new connections with them; open connections keep theirs. A bad set is refused with an
   * IyesmpError and the running one is kept.
   */
  async reload(sources?: Partial<CredentialSources>): Promise<void> {
    const next: CredentialSources = { ...this.sources, ...sources };
    const creds = await loadCredentials(next);
    this.quic.updateConfig({ cert: creds.cert, key: creds.key, ca: creds.ca.length > 0 ? creds.ca : undefined });
    this.sources = next;
    const filesChanged = creds.files.join('\n') !== this.creds.files.join('\n');
    this.creds = creds;
    if (filesChanged && this.watchers.length > 0) this.watchFiles();
    this.emit('reload', { fingerprint: creds.fingerprint });
  }

  /**
   * Replaces the verifier and/or policy for handshakes that start afterwards, e.g. with a verifier
   * built from a reloaded trust list (a ClientAuth was retired). Open connections are not re-checked.
   */
  setVerifier(verifier: PeerVerifier, policy?: VerifyPolicy | PolicyResolver): void {
    this.gate.verifier = verifier;
    if (policy !== undefined) this.gate.policy = policy;
    this.gate.clear();
  }

  /** @internal watch the credential files' folders (files are often replaced by rename) */
  watchFiles(): void {
    this.unwatch();
    const byDir = new Map<string, Set<string>>();
    for (const f of this.creds.files) {
      const d = path.dirname(f);
      if (!byDir.has(d)) byDir.set(d, new Set());
      byDir.get(d)!.add(path.basename(f));
    }
    for (const [dir, names] of byDir) {
      const w = watch(dir, (_event, filename) => {
        if (filename !== null && !names.has(filename.toString())) return;
        // several events arrive per write; reload once they settle
        clearTimeout(this.reloadTimer);
        this.reloadTimer = setTimeout(() => {
          this.reload().catch((e: unknown) =>
            this.emit('reloadError', e instanceof IyesmpError ? e : transportError('reload_failed', (e as Error).message, { cause: e })),
          );
        }, 200);
        this.reloadTimer.unref();
      });
      w.on('error', () => undefined);
      this.watchers.push(w);
    }
  }

  private unwatch(): void {
    for (const w of this.watchers) w.close();
    this.watchers = [];
    clearTimeout(this.reloadTimer);
  }

  /**
   * Graceful shutdown: stop accepting (new handshakes get no answer), let open streams finish for up
   * to `graceMs`, then reset what is left, close every connection with `shutting_down`, and release
   * the UDP socket. Idempotent.
   */
  close(opts: { graceMs?: number } = {}): Promise<void> {
    if (this.closingP) return this.closingP;
    const graceMs = opts.graceMs ?? 5000;
    this.closingP = (async () => {
      this.draining = true;
      this.unwatch();
      clearTimeout(this.deadlineTimer);
      this.quic.removeEventListener(quicEvents.EventQUICServerConnection.name, this.onQuicConnection);
      const timer = setTimeout(() => {
        for (const c of this.raw) c.destroyStreams(new Error('server shutting down'));
      }, graceMs);
      try {
        await this.quic.stop({
          isApp: true,
          errorCode: AppClose.shutting_down,
          reason: Buffer.from('shutting_down'),
          force: false,
        });
      } finally {
        clearTimeout(timer);
      }
      await this.socket.stop({ force: true });
    })();
    return this.closingP;
  }

  /**
   * quiche refuses a client that offers none of our ALPN ids inside the handshake, before any
   * connection event: wrap the (internal) accept of @matrixai/quic to learn of it, and read what
   * the client offered from a copy of its Initial packet (the original is decrypted in place).
   */
  private watchAlpn(): void {
    const q = this.quic as unknown as {
      acceptConnection: (remote: { host: string; port: number }, header: unknown, dcid: unknown, data: Uint8Array) => Promise<unknown>;
    };
    const accept = q.acceptConnection.bind(this.quic);
    q.acceptConnection = async (remote, header, dcid, data) => {
      const copy = Buffer.from(data);
      try {
        return await accept(remote, header, dcid, data);
      } catch (e) {
        if (closeCodeOf(e) === NO_APPLICATION_PROTOCOL) {
          const offered = offeredAlpn(copy) ?? [];
          const from = formatHostPort(remote.host, remote.port);
          this.countRefusal({
            reason: 'wrong_alpn',
            // the ALPN bytes are the stranger's own: escaped before they reach a log line or an operator's terminal
            message: `${from} offered ALPN ${offered.length > 0 ? offered.map(printable).join(', ') : '(unreadable)'}, this port speaks ${this.alpn}`,
            remote: from,
            offeredAlpn: offered,
          });
        }
        throw e;
      }
    };
  }

  private countRefusal(r: ServerRefusal): void {
    this.refusedCounts[r.reason] = (this.refusedCounts[r.reason] ?? 0) + 1;
    this.emit('refused', r);
  }

  private readonly onQuicConnection = (evt: Event): void => {
    const conn = (evt as unknown as { detail: QUICConnection }).detail;
    const id = `q${++this.nextId}`;
    this.raw.add(conn);
    const stopped = (): void => {
      this.raw.delete(conn);
      this.byId.delete(id);
      this.admission.close(id);
    };
    this.byId.set(id, { conn, stopped });
    conn.addEventListener(quicEvents.EventQUICConnectionStopped.name, stopped, { once: true });
    void this.admit(conn, id).catch(() => undefined);
  };

  /** Closes with an application code; the reason phrase is `reason` (default the code's name). */
  private async refuse(
    conn: QUICConnection,
    name: AppCloseName,
    message: string,
    reason: ServerRefusal['reason'] = name as ServerRefusal['reason'],
  ): Promise<void> {
    this.countRefusal({ reason, message, remote: formatHostPort(conn.remoteHost, conn.remotePort) });
    await conn.stop({ isApp: true, errorCode: AppClose[name], reason: Buffer.from(reason), force: true }).catch(() => undefined);
  }

  /** What every connection's admission handle calls, with its id (made once per server). */
  private readonly admissionOps: AdmissionOps = {
    helloReceived: (id) => {
      this.admission.reached(id, 'hello', this.clock());
      this.scheduleDeadlines();
    },
    trust: (id, account) => this.admission.trust(id, account),
    distrust: (id) => {
      const room = this.admission.distrust(id, this.clock());
      this.scheduleDeadlines();
      return room;
    },
    release: (id) => this.admission.release(id),
  };

  /** The server socket's route table, for every connection (proxy-protocol.ts). */
  private readonly viaProxy = (host: string, port: number): { host: string; port: number } | undefined => this.socket.viaProxy(host, port);

  /** One timer, at the earliest admission deadline. */
  private scheduleDeadlines(): void {
    const next = this.admission.nextDeadline();
    if (next === undefined || this.draining) {
      clearTimeout(this.deadlineTimer);
      this.deadlineAt = Number.POSITIVE_INFINITY;
      return;
    }
    if (next >= this.deadlineAt) return;
    clearTimeout(this.deadlineTimer);
    this.deadlineAt = next;
    this.deadlineTimer = setTimeout(
      () => {
        this.deadlineAt = Number.POSITIVE_INFINITY;
        this.closeExpired();
      },
      Math.max(0, next - this.clock()),
    );
    this.deadlineTimer.unref();
  }

  private closeExpired(): void {
    for (const { id, stage } of this.admission.expired(this.clock())) {
      const c = this.byId.get(id);
      if (!c) continue;
      const reason = `${stage}_timeout` as const;
      const message = `no ${stage === 'stream' ? 'stream' : stage} within the deadline`;
      if (c.pc) {
        this.countRefusal({ reason, message, remote: formatHostPort(c.conn.remoteHost, c.conn.remotePort) });
        void c.pc.close(reason, { force: true, code: 'deadline' }).catch(() => undefined);
      } else {
        void this.refuse(c.conn, 'deadline', message, reason);
      }
    }
    this.scheduleDeadlines();
  }

  /** Confirmation of one handshaken connection, in either mode; see confirm.ts. */
  private async admit(conn: QUICConnection, id: string): Promise<void> {
    if (this.draining) return this.refuse(conn, 'shutting_down', 'server is shutting down');
    if (this.live.size + this.confirming >= this.limits.maxConnections) {
      return this.refuse(conn, 'server_full', `already ${this.limits.maxConnections} connections`);
    }
    this.confirming++;
    let counted = true;
    const uncount = (): void => {
      if (counted) this.confirming--;
      counted = false;
    };
    // from now until the hand-over every stream the peer opens is watched: one may wait, more is refused
    const guard = new FirstStreamGuard(conn, this.limits.confirmTimeoutMs, this.onlyAccepted, (message) => void this.refuse(conn, 'confirm_failed', message));
    try {
      const verified = await this.gate.peerFor(conn.getRemoteCertsChain());
      if (guard.refused) return;
      if (!verified.ok) {
        this.countRefusal({ ...verified.refusal, remote: formatHostPort(conn.remoteHost, conn.remotePort) });
        await conn.stop({ isApp: true, errorCode: AppClose.refused, reason: Buffer.from(verified.refusal.reason), force: true }).catch(() => undefined);
        return;
      }
      const room = this.admission.open(id, { address: conn.remoteHost, cert: verified.peer.fingerprint }, this.clock());
      if (!room.ok) return this.refuse(conn, 'too_many_connections', room.message, room.reason);
      this.scheduleDeadlines();
      const stream = await guard.first;
      if (guard.refused) return;
      const legacy = stream?.streamId === HELLO_STREAM_ID;
      if (legacy) {
        const hello = await withTimeout(readFrame(stream.readable as unknown as ReadableStream<Uint8Array>), this.limits.confirmTimeoutMs);
        if (guard.refused) return;
        if (hello === TIMED_OUT || hello === undefined || decodeConfirm(hello) !== 'hello')
          return this.refuse(conn, 'confirm_failed', 'no valid confirmation from the peer');
      } else if (!stream) {
        return this.refuse(conn, 'confirm_failed', 'no valid confirmation from the peer');
      }
      if (this.draining) return this.refuse(conn, 'shutting_down', 'server is shutting down');
      const entry = this.byId.get(id);
      if (!entry || conn.closed) return; // stopped meanwhile
      // The hand-over, synchronous from here to `emit`: the guard stops watching streams as the
      // PeerConnection starts, so no stream falls between them.
      guard.stop();
      const pc = new PeerConnection({
        conn,
        peer: verified.peer,
        alpn: this.alpn,
        side: 'server',
        admission: new AdmissionHandle(this.admissionOps, id),
        viaProxy: this.viaProxy,
        ...(legacy ? {} : { firstStream: stream }),
      });
      entry.pc = pc;
      uncount();
      this.live.add(pc);
      // The PeerConnection's close (on the same stop, first of its close listeners) runs the
      // cleanup from here on: a second stop listener on the connection is ~0.3 KB per idle one.
      conn.removeEventListener(quicEvents.EventQUICConnectionStopped.name, entry.stopped);
      pc.once('close', () => {
        entry.stopped();
        this.live.delete(pc);
      });
      if (legacy) {
        const onFirstStream = (evt: Event): void => {
          if (isUniStream((evt as unknown as { detail: QUICStream }).detail.streamId)) return;
          conn.removeEventListener(quicEvents.EventQUICConnectionStream.name, onFirstStream);
          this.admission.reached(id, 'stream', this.clock());
          this.scheduleDeadlines();
        };
        conn.addEventListener(quicEvents.EventQUICConnectionStream.name, onFirstStream);
        await writeFrame(conn.newStream('uni').writable as unknown as WritableStream<Uint8Array>, ACCEPTED);
        this.admission.confirmed(id, this.clock());
      } else {
        // the protocol stream is the first stream: the hello deadline counts from the hand-over
        this.admission.reached(id, 'stream', this.clock());
      }
      this.scheduleDeadlines();
      this.accepted++;
      if (legacy) this.acceptedLegacy++;
      this.emit('connection', pc);
    } catch {
      await conn.stop({ isApp: true, errorCode: AppClose.confirm_failed, reason: Buffer.from('confirm_failed'), force: true }).catch(() => undefined);
    } finally {
      guard.stop();
      uncount();
    }
  }
}

/** The server's side of the admission handles, each call with the connection's id. */
interface AdmissionOps {
  helloReceived(id: string): void;
  trust(id: string, account?: string): AdmitResult;
  distrust(id: string): boolean;
  release(id: string): void;
}

/**
 * The admission's view of one connection, as its endpoint reports progress: one small object per
 * connection (an object of four closures was ~0.3 KB per idle connection).
 */
class AdmissionHandle implements ConnectionAdmissionHandle {
  constructor(
    private readonly ops: AdmissionOps,
    private readonly id: string,
  ) {}

  helloReceived(): void {
    this.ops.helloReceived(this.id);
  }
  trust(account?: string): AdmitResult {
    return this.ops.trust(this.id, account);
  }
  distrust(): boolean {
    return this.ops.distrust(this.id);
  }
  release(): void {
    this.ops.release(this.id);
  }
}

/**
 * Watches the streams a peer opens before its connection is handed to the application (the IO side
 * of PreAdmission): `first` resolves with the first stream (0 or 2), or undefined when none came in
 * time or the connection ended; any other stream is cancelled and `onViolation` closes the connection.
 */
class FirstStreamGuard {
  readonly first: Promise<QUICStream | undefined>;
  refused = false;
  private readonly rules: PreAdmission;
  private resolve!: (s: QUICStream | undefined) => void;
  private readonly timer: NodeJS.Timeout;
  private stopped = false;

  constructor(
    private readonly conn: QUICConnection,
    timeoutMs: number,
    onlyAccepted: boolean,
    private readonly onViolation: (message: string) => void,
  ) {
    this.rules = new PreAdmission(onlyAccepted);
    this.first = new Promise((r) => (this.resolve = r));
    this.timer = setTimeout(() => this.resolve(undefined), timeoutMs);
    conn.addEventListener(quicEvents.EventQUICConnectionStream.name, this.onStream);
    conn.addEventListener(quicEvents.EventQUICConnectionStopped.name, this.onStopped, { once: true });
    // Streams whose data came with the handshake exist before this guard (`streamMap` is internal to
    // @matrixai/quic; it is only read), in the order quiche reported them.
    const existing = (conn as unknown as { streamMap?: Map<number, QUICStream> }).streamMap;
    for (const s of [...(existing?.values() ?? [])]) if (s.initiated === 'peer') this.see(s);
  }

  /** Stops watching (the PeerConnection takes the streams over, or the connection is refused). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    this.conn.removeEventListener(quicEvents.EventQUICConnectionStream.name, this.onStream);
    this.conn.removeEventListener(quicEvents.EventQUICConnectionStopped.name, this.onStopped);
    this.resolve(undefined);
  }

  private see(s: QUICStream): void {
    if (this.refused) return void s.cancel(new Error('connection refused'));
    const verdict = this.rules.stream(s.streamId);
    if (verdict.ok) return void this.resolve(s);
    s.cancel(new Error(verdict.message));
    if (verdict.keepWaiting) return;
    this.refused = true;
    this.stop();
    this.onViolation(verdict.message);
  }

  private readonly onStream = (evt: Event): void => this.see((evt as unknown as { detail: QUICStream }).detail);
  private readonly onStopped = (): void => this.stop();
}

/** CRYPTO_ERROR for the TLS alert no_application_protocol (120). */
const NO_APPLICATION_PROTOCOL = 0x100 + 120;

/** The QUIC close code in an error from @matrixai/quic or its causes. */
function closeCodeOf(e: unknown): number | undefined {
  for (let x = e, depth = 0; x !== undefined && x !== null && depth < 5; x = (x as { cause?: unknown }).cause, depth++) {
    const code = (x as { data?: { errorCode?: unknown } }).data?.errorCode;
    if (typeof code === 'number') return code;
  }
  return undefined;
}

/**
 * Starts a QUIC server. Resolves once it listens; `server.port` tells the port when 0 was asked.
 *
 * ```ts
 * const server = await createQuicServer({ host: '::', port: 4433, alpn: ALPN.host, cert, key,
 *   verifier, policy: { kind: 'host' } });
 * server.on('connection', (conn) => conn.on('stream', (s) => bindProtocol(s.readable, s.writable)));
 * ```
 */
export async function createQuicServer(opts: QuicServerOptions): Promise<QuicServer> {
  const creds = await loadCredentials(opts);
  const server = new QuicServer(opts, creds);
  await server.start(opts.host ?? '::', opts.port ?? 0, opts.ipv6Only);
  if (opts.watch) server.watchFiles();
  return server;
}
