// A simulated network and clock for the sans-IO cores: datagrams are delivered by address, time advances
// in fixed steps, and a filter can drop any datagram. Deterministic: no sockets, no timers.
import {
  type ClientEvent,
  NetcodeClientCore,
  type NetcodeAddress,
  NetcodeServerCore,
  type ServerEvent,
  addressKey,
  generateConnectToken,
  parseAddress,
  type GenerateConnectTokenOptions,
  type NetcodeVersion,
} from '../../src/netcode/index.js';

export const KEY = new Uint8Array(32).fill(7);
export const PROTOCOL = 0x1234n;
export const UNIX_BASE = 1_800_000_000n;

export interface Datagram {
  from: NetcodeAddress;
  to: NetcodeAddress;
  data: Uint8Array;
}

export class SimClient {
  readonly core: NetcodeClientCore;
  readonly events: ClientEvent[] = [];
  constructor(
    readonly address: NetcodeAddress,
    now: number,
    version?: NetcodeVersion,
  ) {
    this.core = new NetcodeClientCore(now, version);
  }
  get states(): number[] {
    return this.events.filter((e) => e.type === 'state').map((e) => (e as { state: number }).state);
  }
  get payloads(): string[] {
    return this.events.filter((e) => e.type === 'payload').map((e) => Buffer.from((e as { payload: Uint8Array }).payload).toString());
  }
}

export class SimServer {
  readonly events: ServerEvent[] = [];
  constructor(readonly core: NetcodeServerCore) {}
  ofType<T extends ServerEvent['type']>(t: T): Extract<ServerEvent, { type: T }>[] {
    return this.events.filter((e) => e.type === t) as Extract<ServerEvent, { type: T }>[];
  }
}

export class SimNet {
  time = 0;
  readonly servers = new Map<string, SimServer>();
  readonly clients: SimClient[] = [];
  /** Return false to drop a datagram. */
  filter: (d: Datagram) => boolean = () => true;
  readonly log: Datagram[] = [];
  private nextPort = 50000;

  get unix(): bigint {
    return UNIX_BASE + BigInt(Math.floor(this.time));
  }

  addServer(address: string, maxClients = 4, protocolId = PROTOCOL, privateKey = KEY, version?: NetcodeVersion): SimServer {
    const s = new SimServer(new NetcodeServerCore({ protocolId, privateKey, address, maxClients, ...(version ? { version } : {}) }, this.time));
    this.servers.set(addressKey(s.core.address), s);
    return s;
  }

  addClient(host = '10.0.0.1', version?: NetcodeVersion): SimClient {
    const c = new SimClient(parseAddress(`${host.includes(':') ? `[${host}]` : host}:${this.nextPort++}`), this.time, version);
    this.clients.push(c);
    return c;
  }

  token(servers: string[], o: Partial<GenerateConnectTokenOptions> = {}): Uint8Array {
    return generateConnectToken({
      privateKey: KEY,
      protocolId: PROTOCOL,
      clientId: 42n,
      publicServerAddresses: servers,
      expireSeconds: 30,
      timeoutSeconds: 5,
      createTimestamp: this.unix,
      ...o,
    });
  }

  connect(c: SimClient, token: Uint8Array): void {
    c.core.connect(token, this.time);
    this.pump();
  }

  /** Delivers everything queued, repeatedly, until quiet (bounded). */
  pump(): void {
    for (let round = 0; round < 50; round++) {
      const batch: Datagram[] = [];
      for (const c of this.clients) {
        for (const d of c.core.takeDatagrams()) batch.push({ from: c.address, to: d.to, data: d.data });
        c.events.push(...c.core.takeEvents());
      }
      for (const s of this.servers.values()) {
        for (const d of s.core.takeDatagrams()) batch.push({ from: s.core.address, to: d.to, data: d.data });
        s.events.push(...s.core.takeEvents());
      }
      if (batch.length === 0) return;
      for (const d of batch) {
        this.log.push(d);
        if (!this.filter(d)) continue;
        this.deliver(d);
      }
    }
    throw new Error('network did not go quiet');
  }

  deliver(d: Datagram): void {
    const server = this.servers.get(addressKey(d.to));
    if (server) server.core.receive(d.data, d.from, this.time, this.unix);
    const client = this.clients.find((c) => addressKey(c.address) === addressKey(d.to));
    if (client) client.core.receive(d.data, d.from, this.time);
  }

  /** Advances the clock by `seconds` in 10 ms steps, updating every core; stops early when `until` holds. */
  run(seconds: number, until?: () => boolean): void {
    const steps = Math.round(seconds / 0.01);
    for (let i = 0; i < steps; i++) {
      this.time = Math.round((this.time + 0.01) * 1000) / 1000;
      for (const s of this.servers.values()) s.core.update(this.time);
      for (const c of this.clients) c.core.update(this.time);
      this.pump();
      if (until?.()) return;
    }
  }
}
