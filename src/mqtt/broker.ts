/**
 * The embedded MQTT broker: aedes 1.2 (MQTT 3.1.1) behind node:tls with mutual TLS. A peer's
 * identity is its certificate, checked by this PKI's verifier (a Host cert, or a session cert
 * minted by SessionAuth at hand-off), never its MQTT username. Access is decided by `BrokerAcl`
 * (acl.ts): players get only the literal topics the host granted them, never a wildcard nor `$`
 * topics. Every peer is bounded: connections per address and in total, packet size, publish rate,
 * time to finish TLS and CONNECT.
 *
 * Several nodes can share state through `mq` and `persistence` (mqemitter-redis and
 * aedes-persistence-redis): grants travel on the control topic, so every node applies them, and a
 * `grants` store (Redis) keeps those in force for a node that starts later. A `kick` command
 * disconnects the seat's client on every node and refuses its reconnects until the session's `clear`.
 */
import { createServer, type Server, type TLSSocket } from 'node:tls';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { once } from 'node:events';
import type { Aedes, AedesOptions, Client } from 'aedes';
import { sessionIdentityOf } from '../pki/names.js';
import type { PeerVerifier } from '../pki/types.js';
import { type AclOptions, BrokerAcl, type BrokerIdentity, brokerClientIdOf, CONTROL_TOPIC, type GrantCommand, parseGrantCommands } from './acl.js';
import { mqttError } from './errors.js';
import type { GrantStore } from './grant-store.js';
import { PacketGuard } from './packet-guard.js';

export interface BrokerLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface EmbeddedBrokerOptions {
  /** the broker's server certificate (PEM, leaf then chain) and key: the Host cert of the PKI */
  cert: string | Buffer;
  key: string | Buffer;
  verifier: PeerVerifier;
  /** listen address (default 127.0.0.1) and port (default 0: any free port) */
  host?: string;
  port?: number;
  /** the name clients dial (default: `host`) for `url()` */
  publicHost?: string;
  acl?: AclOptions;
  /** largest MQTT packet a client may send (default 64 KiB) */
  maxPacketBytes?: number;
  /** open connections in total (default 10000) and per source address (default 32) */
  maxConnections?: number;
  maxPerAddress?: number;
  /** TLS handshake plus CONNECT must finish within this (default 10 s) */
  handshakeTimeoutMs?: number;
  /** shared state for scale-out (mqemitter-redis, aedes-persistence-redis) */
  mq?: AedesOptions['mq'];
  persistence?: AedesOptions['persistence'];
  /** grants and kicks in force, shared by the nodes (redis.ts), read at start; closed with the broker */
  grants?: GrantStore;
  /** broker id (distinct per node) */
  id?: string;
  now?: () => number;
  logger?: BrokerLogger;
}

const silent: BrokerLogger = { info() {}, warn() {} };

export class EmbeddedBroker {
  readonly aedes: Aedes;
  readonly acl: BrokerAcl;
  readonly #server: Server;
  readonly #ids = new WeakMap<object, BrokerIdentity>();
  readonly #perAddress = new Map<string, number>();
  readonly #opts: EmbeddedBrokerOptions;
  readonly #log: BrokerLogger;
  #closed = false;

  private constructor(aedes: Aedes, server: Server, acl: BrokerAcl, opts: EmbeddedBrokerOptions) {
    this.aedes = aedes;
    this.#server = server;
    this.acl = acl;
    this.#opts = opts;
    this.#log = opts.logger ?? silent;
  }

  static async start(opts: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
    const { Aedes } = await import('aedes');
    const acl = new BrokerAcl(opts.acl);
    const now = opts.now ?? Date.now;
    const log = opts.logger ?? silent;
    // the handlers need the instance (identities); it is assigned before any connection arrives
    let self: EmbeddedBroker | undefined;
    const idOf = (c: Client | null): BrokerIdentity | undefined => (c ? self?.identityOf(c) : undefined);
    const aedes = await Aedes.createBroker({
      ...(opts.id ? { id: opts.id } : {}),
      ...(opts.mq ? { mq: opts.mq } : {}),
      ...(opts.persistence ? { persistence: opts.persistence } : {}),
      maxClientsIdLength: 200,
      connectTimeout: opts.handshakeTimeoutMs ?? 10_000,
      authenticate(client, _user, _pass, done) {
        const id = idOf(client);
        const d = id ? acl.connect(id, client.id) : { ok: false as const, reason: 'no verified certificate' };
        if (d.ok) return done(null, true);
        log.warn({ clientId: client.id, reason: d.reason }, 'mqtt connect refused');
        const err = Object.assign(new Error(d.reason), { returnCode: 5 as const });
        done(err as never, false);
      },
      authorizePublish(client, packet, done) {
        if (!client) return done(null); // the broker's own messages
        const id = idOf(client);
        if (id?.kind === 'host') {
          if (packet.topic !== CONTROL_TOPIC || !opts.grants) return done(null);
          // recorded before any node applies it, so a node starting meanwhile loads it or gets the message
          const cmds = parseGrantCommands(packet.payload as Buffer);
          if (!cmds) return done(null);
          opts.grants.save(cmds).then(
            () => done(null),
            (e: Error) => {
              log.warn({ err: e.message }, 'mqtt grants not recorded in the shared store (nodes started later miss them)');
              done(null);
            },
          );
          return;
        }
        const d = id ? acl.publish(id, client.id, packet.topic, packet.retain, now()) : { ok: false as const, reason: 'unknown client' };
        if (d.ok) return done(null);
        log.warn({ clientId: client.id, topic: packet.topic, reason: d.reason }, 'mqtt publish refused');
        done(new Error(d.reason)); // MQTT 3.1.1 has no refusal for a publish: the client is disconnected
      },
      authorizeSubscribe(client, sub, done) {
        const id = idOf(client);
        const d = id ? acl.subscribe(id, sub.topic) : { ok: false as const, reason: 'unknown client' };
        if (d.ok) return done(null, sub);
        log.warn({ clientId: client.id, topic: sub.topic, reason: d.reason }, 'mqtt subscribe refused');
        done(null, null); // SUBACK 0x80
      },
      authorizeForward(client, packet) {
        const id = idOf(client);
        return id && acl.deliver(id, packet.topic) ? packet : null;
      },
    });
    const server = createServer({
      cert: opts.cert,
      key: opts.key,
      requestCert: true,
      // the PKI's verifier decides (roles, SessionAuth, retired ClientAuths), not OpenSSL's CA list
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
      handshakeTimeout: opts.handshakeTimeoutMs ?? 10_000,
    });
    self = new EmbeddedBroker(aedes, server, acl, opts);
    await self.#listen();
    return self;
  }

  /** New TLS connections use this certificate and key; connected clients keep theirs (SIGHUP of `serve broker`). */
  setCertificate(cert: string, key: string): void {
    this.#server.setSecureContext({ cert, key, minVersion: 'TLSv1.2' });
  }

  identityOf(client: Client): BrokerIdentity | undefined {
    return this.#ids.get(client.conn);
  }

  address(): { host: string; port: number } {
    const a = this.#server.address();
    if (!a || typeof a === 'string') throw mqttError.as('io', 'mqtt_closed', 'the broker is not listening');
    return { host: this.#opts.publicHost ?? this.#opts.host ?? '127.0.0.1', port: a.port };
  }

  /** The URL players dial: mqtts://host:port */
  url(): string {
    const { host, port } = this.address();
    return `mqtts://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  /** Applies a grant on every node sharing this broker's emitter (the control topic carries it). */
  async grant(cmd: GrantCommand): Promise<void> {
    await this.#opts.grants?.save([cmd]);
    await new Promise<void>((resolve, reject) =>
      this.aedes.publish({ cmd: 'publish', topic: CONTROL_TOPIC, payload: Buffer.from(JSON.stringify(cmd)), qos: 0, retain: false, dup: false }, (e) =>
        e ? reject(e) : resolve(),
      ),
    );
  }

  get connections(): number {
    return this.aedes.connectedClients;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const closed = new Promise<void>((r) => this.#server.close(() => r()));
    await new Promise<void>((r) => this.aedes.close(() => r()));
    await closed;
    await this.#opts.grants?.close().catch(() => undefined);
  }

  async #listen(): Promise<void> {
    const o = this.#opts;
    const max = o.maxConnections ?? 10_000;
    const perAddress = o.maxPerAddress ?? 32;
    this.#server.maxConnections = max;
    this.#server.on('connection', (raw: Socket) => {
      const ip = raw.remoteAddress ?? '?';
      const n = (this.#perAddress.get(ip) ?? 0) + 1;
      if (n > perAddress) {
        this.#log.warn({ remote: ip, limit: perAddress }, 'mqtt connection refused: too many from this address');
        raw.destroy();
        return;
      }
      this.#perAddress.set(ip, n);
      raw.once('close', () => {
        const left = (this.#perAddress.get(ip) ?? 1) - 1;
        if (left <= 0) this.#perAddress.delete(ip);
        else this.#perAddress.set(ip, left);
      });
    });
    this.#server.on('secureConnection', (s) => void this.#admit(s));
    this.#server.on('tlsClientError', () => {}); // a failed handshake is the peer's problem; the socket is gone
    // grants from any node (or the in-process host) arrive on the control topic; while the store
    // loads they are also kept, to apply again after its (maybe older) copy
    let live: GrantCommand[] | undefined = o.grants ? [] : undefined;
    await new Promise<void>((r) =>
      this.aedes.subscribe(
        CONTROL_TOPIC,
        (packet, cb) => {
          const cmds = parseGrantCommands(packet.payload as Buffer);
          if (cmds) {
            live?.push(...cmds);
            for (const cmd of cmds) this.#control(cmd);
          } else this.#log.warn({ topic: CONTROL_TOPIC }, 'mqtt control message ignored: not a grant command');
          cb();
        },
        r,
      ),
    );
    if (o.grants) {
      let stored: GrantCommand[] = [];
      try {
        stored = await o.grants.load();
      } catch (e) {
        this.#log.warn({ err: (e as Error).message }, 'mqtt grants could not be read from the shared store: this node knows only those sent from now on');
      }
      // bounded like a control message: what the store holds is checked as if it came from the wire
      for (const c of stored) for (const cmd of parseGrantCommands(Buffer.from(JSON.stringify(c))) ?? []) this.acl.apply(cmd);
      for (const cmd of live ?? []) this.acl.apply(cmd);
      live = undefined;
      if (stored.length > 0) this.#log.info({ commands: stored.length }, 'mqtt grants loaded from the shared store');
    }
    this.aedes.on('clientDisconnect', (c) => this.acl.disconnected(c.id));
    this.#server.listen(o.port ?? 0, o.host ?? '127.0.0.1');
    try {
      await once(this.#server, 'listening');
    } catch (e) {
      throw mqttError.as('io', 'mqtt_broker_listen', `the MQTT broker cannot listen on ${o.host ?? '127.0.0.1'}:${o.port ?? 0}: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }

  /** A control command: the ACL changes; a kick or drop disconnects the seat's client if it is on this node. */
  #control(cmd: GrantCommand): void {
    this.acl.apply(cmd);
    if (cmd.op !== 'kick' && cmd.op !== 'drop') return;
    const clients = (this.aedes as unknown as { clients: Record<string, Client | undefined> }).clients;
    const c = clients[brokerClientIdOf(cmd.sessionId, cmd.playerId)];
    const id = c && this.identityOf(c);
    if (!c || id?.kind !== 'session' || id.sessionId !== cmd.sessionId || id.playerId !== cmd.playerId) return;
    this.#log.info({ clientId: c.id, op: cmd.op }, cmd.op === 'kick' ? 'mqtt client kicked' : 'mqtt client disconnected by the host');
    c.close();
    // aedes closes the socket only once its store forgot the client's subscriptions (a Redis round
    // trip on shared nodes): the kick does not wait for that
    c.conn.destroy();
  }

  async #admit(socket: TLSSocket): Promise<void> {
    socket.on('error', () => {});
    // one small packet answers another (PUBACK, a move, a block): Nagle would hold each for an ACK
    socket.setNoDelay(true);
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const leaf = socket.getPeerX509Certificate()?.raw;
    if (!leaf) {
      this.#log.warn({ remote }, 'mqtt connection refused: no client certificate');
      socket.destroy();
      return;
    }
    const der = new Uint8Array(leaf);
    const seat = sessionIdentityOf(der);
    const r = await this.#opts.verifier.verify([der], seat ? { kind: 'session', sessionId: seat.sessionId, playerId: seat.playerId } : { kind: 'host' });
    if (!r.ok) {
      this.#log.warn({ remote, reason: r.reason, message: r.message }, 'mqtt connection refused: certificate');
      socket.destroy();
      return;
    }
    if (socket.destroyed || this.#closed) return;
    const id: BrokerIdentity = seat
      ? { kind: 'session', sessionId: seat.sessionId, playerId: seat.playerId, fingerprint: r.peer.fingerprint }
      : { kind: 'host', name: r.peer.name, fingerprint: r.peer.fingerprint };
    const guard = new PacketGuard(this.#opts.maxPacketBytes ?? 64 * 1024);
    socket.pipe(guard);
    const conn = Duplex.from({ readable: guard, writable: socket });
    guard.on('error', (e) => {
      this.#log.warn({ remote, err: e.message }, 'mqtt connection closed');
      socket.destroy();
    });
    conn.on('error', () => socket.destroy());
    conn.on('close', () => socket.destroy());
    socket.on('close', () => conn.destroy());
    this.#ids.set(conn, id);
    this.aedes.handle(conn);
  }
}
