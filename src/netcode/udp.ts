import dgram from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns';
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { type NetcodeAddress, addressesEqual, makeAddress, parseAddress } from './address.js';
import { NetcodeClientCore } from './client.js';
import { ClientState, type ClientStateValue, DEFAULT_SOCKET_BUFFER_BYTES, type NetcodeVersion, clientStateName } from './constants.js';
import { type NetcodeServerConfig, NetcodeServerCore, type OutgoingDatagram, type ServerEvent } from './server.js';

/** Clocks the adapters feed into the cores; replaceable for tests. */
export interface NetcodeClock {
  /** Monotonic seconds. */
  now(): number;
  /** Wall clock, unix seconds. */
  unix(): bigint;
}

let unixSeconds = -1;
let unixBig = 0n;

export const systemClock: NetcodeClock = {
  now: () => performance.now() / 1000,
  // read for every datagram the server receives: the BigInt is made once a second, not per call
  unix: () => {
    const s = Math.floor(Date.now() / 1000);
    if (s !== unixSeconds) {
      unixSeconds = s;
      unixBig = BigInt(s);
    }
    return unixBig;
  },
};

function toAddress(a: NetcodeAddress | string): NetcodeAddress {
  return typeof a === 'string' ? parseAddress(a) : a;
}

/**
 * Parsed source addresses, cached by host then port: parsing text per datagram showed up in
 * profiles, and two lookups on strings the socket already made beat building a key per datagram.
 * One object per source also lets addressKey() cache its key. Bounded.
 */
const rinfoCache = new Map<string, Map<number, NetcodeAddress>>();
let rinfoCached = 0;

function fromRinfo(r: dgram.RemoteInfo): NetcodeAddress | undefined {
  let ports = rinfoCache.get(r.address);
  const hit = ports?.get(r.port);
  if (hit) return hit;
  try {
    const a = makeAddress(r.address, r.port);
    if (rinfoCached >= 8192) {
      rinfoCache.clear();
      rinfoCached = 0;
      ports = undefined;
    }
    if (!ports) rinfoCache.set(r.address, (ports = new Map()));
    ports.set(r.port, a);
    rinfoCached++;
    return a;
  } catch {
    return undefined;
  }
}

/**
 * dgram resolves the destination of every send, and its default (dns.lookup) answers even an IP
 * literal on the next tick: a closure and a tick per datagram. Netcode addresses are IP literals,
 * answered here at once; anything else still goes to dns.lookup.
 */
let lastLiteral = '';

function literalLookup(host: string, family: number, callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  // the same host string as the last send (one object per address): skip isIP's regular expression
  if (host === lastLiteral || isIP(host) !== 0) {
    lastLiteral = host;
    callback(null, host, family);
  } else dnsLookup(host, family, callback);
}

function createUdpSocket(family: 4 | 6): dgram.Socket {
  return dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', ipv6Only: family === 6, lookup: literalLookup as dgram.SocketOptions['lookup'] });
}

/** What a socket's buffers came out as: the kernel caps them silently. */
export interface SocketBufferReport {
  requested: number;
  /** granted (Linux reports twice the grant, for its own bookkeeping: halved here) */
  receive: number;
  send: number;
  /** the kernel granted less than requested */
  capped: boolean;
  /** says what was capped and which sysctl raises it; set when capped */
  warning?: string;
}

const kib = (n: number): string => (n >= 1 << 20 && n % (1 << 20) === 0 ? `${n / (1 << 20)} MiB` : `${Math.round(n / 1024)} KiB`);

/**
 * Asks for `bytes` of receive and send buffer on a bound socket and reads back what it got. Linux
 * grants at most net.core.rmem_max / wmem_max without an error, so the shortfall is only visible here.
 */
export function applySocketBuffers(socket: dgram.Socket, bytes: number): SocketBufferReport {
  if (!Number.isInteger(bytes) || bytes < 1) throw new RangeError(`socket buffer size must be a positive integer, got ${bytes}`);
  let receive: number;
  let send: number;
  try {
    socket.setRecvBufferSize(bytes);
    socket.setSendBufferSize(bytes);
  } catch {
    // some platforms refuse rather than cap: keep what the socket has and report it
  }
  // Linux doubles the value it grants when reporting it (socket(7), SO_RCVBUF)
  const scale = process.platform === 'linux' ? 0.5 : 1;
  try {
    receive = socket.getRecvBufferSize() * scale;
    send = socket.getSendBufferSize() * scale;
  } catch {
    return { requested: bytes, receive: 0, send: 0, capped: false };
  }
  const capped = receive < bytes || send < bytes;
  const report: SocketBufferReport = { requested: bytes, receive, send, capped };
  if (capped) {
    report.warning =
      `netcode socket buffers are ${kib(receive)} receive / ${kib(send)} send, less than the ${kib(bytes)} asked for: ` +
      `the kernel caps them at net.core.rmem_max / net.core.wmem_max, and a busy server will lose datagrams ` +
      `(raise them, e.g. sysctl -w net.core.rmem_max=${bytes} net.core.wmem_max=${bytes}, or configure a smaller size)`;
  }
  return report;
}

/** Lets queued sends (disconnect packets) leave before a socket is closed. */
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 20));

function sendAll(sockets: (family: 4 | 6) => dgram.Socket | undefined, out: OutgoingDatagram[]): void {
  for (const d of out) {
    // without a callback, send errors arrive as the socket's 'error' event, reported as 'warning':
    // UDP is best effort and an unreachable peer must not take the process down
    sockets(d.to.family)?.send(d.data, d.to.port, d.to.host);
  }
}

/**
 * A source filter consulted for every received datagram before the core parses it: `admit` returns
 * whether to pass it on (and counts). `AddressAllowList` (src/transport/allow-list.ts) is one.
 */
export interface DatagramFilter {
  admit(host: string, port: number, bytes: number): boolean;
}

export interface NetcodeUdpServerOptions extends Omit<NetcodeServerConfig, 'address'> {
  /** Where to listen, e.g. "127.0.0.1:40000" or "[::1]:0" (port 0 picks a free port). */
  bind: NetcodeAddress | string;
  /** How tokens name this server; defaults to the bound address (with the real port). */
  address?: NetcodeAddress | string;
  /** Update interval; keep-alives go out at 10 Hz regardless. Default 10 ms. */
  tickMs?: number;
  /**
   * Socket receive/send buffer sizes in bytes. Default 4 MiB (DEFAULT_SOCKET_BUFFER_BYTES), as the C
   * reference server; the kernel may cap them (see `socketBuffers` and the 'warning' event).
   */
  socketBufferBytes?: number;
  clock?: NetcodeClock;
  /** Drop datagrams this filter does not admit, before any parsing or decryption. Default: none. */
  filter?: DatagramFilter;
}

export interface NetcodeUdpServerEvents {
  connect: [Extract<ServerEvent, { type: 'connect' }>];
  disconnect: [Extract<ServerEvent, { type: 'disconnect' }>];
  payload: [Extract<ServerEvent, { type: 'payload' }>];
  warning: [Error];
}

/** A netcode server on one UDP socket. Events: connect, disconnect, payload, warning. */
export class NetcodeUdpServer extends EventEmitter<NetcodeUdpServerEvents> {
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** running totals for operators (metrics): datagrams in and out, and those the filter dropped unread */
  readonly traffic = { packetsIn: 0, bytesIn: 0, packetsOut: 0, filtered: 0 };

  private constructor(
    readonly core: NetcodeServerCore,
    private readonly socket: dgram.Socket,
    readonly boundAddress: NetcodeAddress,
    private readonly clock: NetcodeClock,
    tickMs: number,
    filter: DatagramFilter | undefined,
    /** the socket buffers as granted; `capped` (with a `warning`) when the kernel gave less */
    readonly socketBuffers: SocketBufferReport,
  ) {
    super();
    // after listen() resolves, so a listener attached right away hears it
    if (socketBuffers.warning) setImmediate(() => this.emit('warning', new Error(socketBuffers.warning)));
    socket.on('message', (msg, rinfo) => {
      // first, so an unexpected source costs a map lookup: no parsing, no crypto, no state
      if (filter && !filter.admit(rinfo.address, rinfo.port, msg.byteLength)) {
        this.traffic.filtered++;
        return;
      }
      this.traffic.packetsIn++;
      this.traffic.bytesIn += msg.byteLength;
      const from = fromRinfo(rinfo);
      if (!from) return;
      this.core.receive(msg, from, this.clock.now(), this.clock.unix());
      this.flush();
    });
    socket.on('error', (err) => this.emit('warning', err));
    this.timer = setInterval(() => {
      this.core.update(this.clock.now());
      this.flush();
    }, tickMs);
    // the socket keeps the process alive while open; the timer alone must not
    this.timer.unref();
  }

  static async listen(o: NetcodeUdpServerOptions): Promise<NetcodeUdpServer> {
    const bind = toAddress(o.bind);
    const socket = createUdpSocket(bind.family);
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(bind.port, bind.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    let buffers: SocketBufferReport;
    try {
      buffers = applySocketBuffers(socket, o.socketBufferBytes ?? DEFAULT_SOCKET_BUFFER_BYTES);
    } catch (err) {
      socket.close();
      throw err;
    }
    const bound = makeAddress(socket.address().address, socket.address().port);
    const clock = o.clock ?? systemClock;
    try {
      const core = new NetcodeServerCore(
        {
          protocolId: o.protocolId,
          privateKey: o.privateKey,
          maxClients: o.maxClients,
          address: o.address ? toAddress(o.address) : bound,
          ...(o.challengeKey ? { challengeKey: o.challengeKey } : {}),
          ...(o.version ? { version: o.version } : {}),
        },
        clock.now(),
      );
      return new NetcodeUdpServer(core, socket, bound, clock, o.tickMs ?? 10, o.filter, buffers);
    } catch (err) {
      socket.close();
      throw err;
    }
  }

  sendPayload(clientIndex: number, payload: Uint8Array): boolean {
    const ok = this.core.sendPayload(clientIndex, payload);
    this.flush();
    return ok;
  }

  disconnectClient(clientIndex: number): boolean {
    const ok = this.core.disconnectClient(clientIndex);
    this.flush();
    return ok;
  }

  /** Disconnects every client (ten disconnect packets each), then closes the socket. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.core.disconnectAll();
    this.flush();
    await settle();
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  /** made once: a closure per flush showed in profiles */
  private readonly socketOf = (): dgram.Socket => this.socket;

  private flush(): void {
    const out = this.core.takeDatagrams();
    this.traffic.packetsOut += out.length;
    sendAll(this.socketOf, out);
    for (const e of this.core.takeEvents()) {
      if (e.type === 'connect') this.emit('connect', e);
      else if (e.type === 'disconnect') this.emit('disconnect', e);
      else this.emit('payload', e);
    }
  }
}

export interface NetcodeUdpClientOptions {
  tickMs?: number;
  clock?: NetcodeClock;
  /** default 1.02 */
  version?: NetcodeVersion;
  /** Socket receive/send buffer sizes; default 4 MiB as the server's (a capped size is reported as 'warning'). */
  socketBufferBytes?: number;
}

export interface NetcodeUdpClientEvents {
  state: [ClientStateValue, ClientStateValue];
  payload: [Uint8Array];
  warning: [Error];
}

/** A netcode client over UDP (one socket per address family, opened on demand). Events: state, payload. */
export class NetcodeUdpClient extends EventEmitter<NetcodeUdpClientEvents> {
  readonly core: NetcodeClientCore;
  private readonly sockets = new Map<4 | 6, dgram.Socket>();
  private readonly clock: NetcodeClock;
  private readonly timer: NodeJS.Timeout;
  private readonly socketBufferBytes: number;
  private closed = false;
  /** per address family, once its socket is bound */
  readonly socketBuffers = new Map<4 | 6, SocketBufferReport>();
  /**
   * Per address family, the server its socket is connected to. While the core is connected, the
   * socket is connect()ed to that server: a send then names no address (dgram skips the lookup and
   * port checks, the kernel its route lookup: about 12% of the client's CPU per round trip in
   * bench/netcode.bench.js), and the kernel drops datagrams from anyone else before they reach us.
   */
  private readonly peers = new Map<4 | 6, NetcodeAddress>();

  constructor(o: NetcodeUdpClientOptions = {}) {
    super();
    this.socketBufferBytes = o.socketBufferBytes ?? DEFAULT_SOCKET_BUFFER_BYTES;
    if (!Number.isInteger(this.socketBufferBytes) || this.socketBufferBytes < 1) {
      throw new RangeError(`socket buffer size must be a positive integer, got ${this.socketBufferBytes}`);
    }
    this.clock = o.clock ?? systemClock;
    this.core = new NetcodeClientCore(this.clock.now(), o.version);
    this.timer = setInterval(() => this.tick(), o.tickMs ?? 10);
    this.timer.unref();
  }

  get state(): ClientStateValue {
    return this.core.state;
  }

  get stateName(): string {
    return clientStateName(this.core.state);
  }

  connect(token: Uint8Array): void {
    this.core.connect(token, this.clock.now());
    this.tick();
  }

  sendPayload(payload: Uint8Array): boolean {
    const ok = this.core.sendPayload(payload);
    this.flush();
    return ok;
  }

  disconnect(): void {
    this.core.disconnect(this.clock.now());
    this.flush();
  }

  /** Resolves with the state once it is connected or at/below disconnected; rejects after timeoutMs. */
  waitUntilSettled(timeoutMs: number): Promise<ClientStateValue> {
    const settled = (s: number): boolean => s === ClientState.connected || s <= ClientState.disconnected;
    if (settled(this.core.state)) return Promise.resolve(this.core.state);
    return new Promise((resolve, reject) => {
      const onState = (s: ClientStateValue): void => {
        if (!settled(s)) return;
        clearTimeout(t);
        this.off('state', onState);
        resolve(s);
      };
      const t = setTimeout(() => {
        this.off('state', onState);
        reject(new Error(`still ${this.stateName} after ${timeoutMs} ms`));
      }, timeoutMs);
      this.on('state', onState);
    });
  }

  /** Sends disconnect packets if connected, then closes the sockets. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.disconnect();
    this.closed = true;
    clearInterval(this.timer);
    await settle();
    await Promise.all([...this.sockets.values()].map((s) => new Promise<void>((r) => s.close(() => r()))));
    this.sockets.clear();
  }

  private socketFor(family: 4 | 6): dgram.Socket | undefined {
    if (this.closed) return undefined;
    let s = this.sockets.get(family);
    if (!s) {
      s = createUdpSocket(family);
      s.on('message', (msg, rinfo) => {
        const from = fromRinfo(rinfo);
        if (!from || this.closed) return;
        const now = this.clock.now();
        this.core.receive(msg, from, now);
        this.core.update(now);
        this.flush();
      });
      // a connected socket hears ICMP port-unreachable as ECONNREFUSED; an unconnected one never
      // did, and the core times out a vanished server as before
      s.on('error', (err: NodeJS.ErrnoException) => err.code !== 'ECONNREFUSED' && this.emit('warning', err));
      // the socket binds on its first send; the buffers can only be set once it is bound
      const socket = s;
      s.once('listening', () => {
        const report = applySocketBuffers(socket, this.socketBufferBytes);
        this.socketBuffers.set(family, report);
        if (report.warning) this.emit('warning', new Error(report.warning));
      });
      this.sockets.set(family, s);
    }
    return s;
  }

  private tick(): void {
    if (this.closed) return;
    this.core.update(this.clock.now());
    this.flush();
  }

  private flush(): void {
    for (const d of this.core.takeDatagrams()) this.send(d);
    for (const e of this.core.takeEvents()) {
      if (e.type === 'state') {
        this.pin(e.state);
        this.emit('state', e.state, e.previous);
      } else this.emit('payload', e.payload);
    }
  }

  private send(d: OutgoingDatagram): void {
    const s = this.socketFor(d.to.family);
    if (!s) return;
    const peer = this.peers.get(d.to.family);
    if (peer) {
      if (addressesEqual(peer, d.to)) {
        s.send(d.data);
        return;
      }
      // the core moved on to another server (a new token): a connected socket refuses other addresses
      this.unpin(d.to.family);
    }
    try {
      s.send(d.data, d.to.port, d.to.host);
    } catch (err) {
      // connected behind our back (a connect that completed late): undo it and send as before
      if ((err as NodeJS.ErrnoException).code !== 'ERR_SOCKET_DGRAM_IS_CONNECTED') throw err;
      this.unpin(d.to.family);
      s.send(d.data, d.to.port, d.to.host);
    }
  }

  /** Connects the socket to the server once the core is connected; disconnects it on any other state. */
  private pin(state: ClientStateValue): void {
    const server = this.core.serverAddress;
    if (state !== ClientState.connected || !server) {
      for (const family of [...this.peers.keys()]) this.unpin(family);
      return;
    }
    const s = this.sockets.get(server.family);
    if (!s || this.peers.has(server.family)) return;
    try {
      // only a bound socket connects at once (dgram queues the rest until 'listening', and a send
      // naming an address would then throw); the address is an IP literal, answered by literalLookup
      s.address();
      s.connect(server.port, server.host, () => {});
      s.remoteAddress(); // throws unless connected now
      this.peers.set(server.family, server);
    } catch {
      // stays unconnected: sends name the address as before
    }
  }

  private unpin(family: 4 | 6): void {
    this.peers.delete(family);
    try {
      this.sockets.get(family)?.disconnect();
    } catch {
      // not connected after all
    }
  }
}
