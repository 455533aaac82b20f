import { EventQueue } from '../events/queue.js';
import { type NetcodeAddress, addressKey, addressesEqual, parseAddress } from './address.js';
import { decryptChallengeToken, encryptChallengeToken } from './challenge.js';
import {
  DEFAULT_NETCODE_VERSION,
  GLOBAL_SEQUENCE_START,
  KEY_BYTES,
  MAC_BYTES,
  MAX_CONNECT_TOKEN_ENTRIES,
  MAX_PENDING_HANDSHAKES,
  MAX_PAYLOAD_BYTES,
  NUM_DISCONNECT_PACKETS,
  type NetcodeVersion,
  PACKET_SEND_RATE,
  PacketType,
  U64_MAX,
  netcodeWire,
} from './constants.js';
import { type Packet, type RequestRejection, readConnectionRequest, readPacket, sealPacket, writePacket } from './packet.js';
import { ReplayProtection } from './replay.js';
import { randomBytes } from './sodium.js';

export interface NetcodeServerConfig {
  protocolId: bigint;
  /** The 32-byte key shared with whoever issues connect tokens. */
  privateKey: Uint8Array;
  /** How tokens name this server (their internal address list); a token not listing it is ignored. */
  address: NetcodeAddress | string;
  maxClients: number;
  /** Random per server start unless given (tests). */
  challengeKey?: Uint8Array;
  /** Wire version; default 1.02. Requests of the other version are dropped as `wrong_size`. */
  version?: NetcodeVersion;
}

export type DisconnectReason = 'client_disconnect' | 'timed_out' | 'server_disconnect';

export interface ConnectedClientInfo {
  clientIndex: number;
  clientId: bigint;
  /** The 256 bytes of user data from the connect token. */
  userData: Uint8Array;
  address: NetcodeAddress;
}

export type ServerEvent =
  | ({ type: 'connect' } & ConnectedClientInfo)
  | ({ type: 'disconnect'; reason: DisconnectReason } & ConnectedClientInfo)
  | { type: 'payload'; clientIndex: number; clientId: bigint; payload: Uint8Array };

export interface OutgoingDatagram {
  to: NetcodeAddress;
  data: Uint8Array;
}

/** Why datagrams were dropped; for operators and tests, never sent anywhere. */
export type ServerDropReason =
  | RequestRejection
  | 'size'
  | 'no_key'
  | 'unreadable'
  | 'server_address_not_in_token'
  | 'address_already_connected'
  | 'client_id_already_connected'
  | 'token_already_used'
  | 'too_many_mappings'
  | 'bad_challenge_token';

interface Slot {
  clientId: bigint;
  address: NetcodeAddress;
  key: string;
  sendKey: Uint8Array;
  recvKey: Uint8Array;
  timeout: number;
  /** a number: exact to 2^53 packets, and no BigInt per packet sent */
  sequence: number;
  lastSend: number;
  lastRecv: number;
  confirmed: boolean;
  userData: Uint8Array;
  replay: ReplayProtection;
}

interface Mapping {
  sendKey: Uint8Array;
  recvKey: Uint8Array;
  lastAccess: number;
  /** Absolute time the handshake mapping lapses; -1 never. */
  expireTime: number;
  timeout: number;
}

const ALLOWED: readonly boolean[] = [true, false, false, true, true, true, true];
/** returned by take*() when nothing is pending: no new array per input on the hot path (callers only read it) */
const NOTHING: never[] = Object.freeze([]) as never[];

/**
 * Sans-IO netcode server (1.02, or 1.00 by config): datagrams, source addresses and time go in; datagrams (with destination)
 * and events come out via takeDatagrams()/takeEvents(). `now` is monotonic seconds; `unixNow` is the
 * wall clock in seconds, used only for token expiry. Never throws on received bytes.
 * The challenge/denied sequence starts at 2^63 for every core, in 1.00 too: the 1.00 reference restarts
 * it at 0 after a stop, which can repeat a (key, nonce) pair that per-client packets use.
 */
export class NetcodeServerCore {
  readonly protocolId: bigint;
  readonly version: NetcodeVersion;
  readonly address: NetcodeAddress;
  readonly maxClients: number;
  private readonly maxPacketBytes: number;
  private readonly privateKey: Uint8Array;
  private readonly challengeKey: Uint8Array;
  private time: number;
  private challengeSequence = 0n;
  private globalSequence = GLOBAL_SEQUENCE_START;
  private readonly slots: (Slot | undefined)[];
  private readonly byAddress = new Map<string, number>();
  private readonly byClientId = new Map<bigint, number>();
  private readonly mappings = new Map<string, Mapping>();
  /** Token MAC (hex) -> first address and time seen; insertion order is age order. */
  private readonly tokenHistory = new Map<string, { key: string; time: number }>();
  private numConnected = 0;
  private outbox: OutgoingDatagram[] = [];
  private readonly events = new EventQueue<ServerEvent>();
  private lastPrune: number;
  /** Counters of ignored datagrams by reason. */
  readonly drops: Partial<Record<ServerDropReason, number>> = {};

  constructor(config: NetcodeServerConfig, now = 0) {
    if (config.privateKey.length !== KEY_BYTES) throw new RangeError('private key must be 32 bytes');
    if (!Number.isInteger(config.maxClients) || config.maxClients < 1 || config.maxClients > 4096) {
      throw new RangeError(`max clients must be 1..4096, got ${config.maxClients}`);
    }
    if (config.protocolId < 0n || config.protocolId > U64_MAX) throw new RangeError('protocol id must fit in u64');
    this.protocolId = config.protocolId;
    this.version = config.version ?? DEFAULT_NETCODE_VERSION;
    this.maxPacketBytes = netcodeWire(this.version).maxPacketBytes;
    this.privateKey = config.privateKey;
    this.address = typeof config.address === 'string' ? parseAddress(config.address) : config.address;
    this.maxClients = config.maxClients;
    this.challengeKey = config.challengeKey ?? randomBytes(KEY_BYTES);
    this.slots = new Array<Slot | undefined>(config.maxClients).fill(undefined);
    this.time = now;
    this.lastPrune = now;
  }

  get numConnectedClients(): number {
    return this.numConnected;
  }

  client(clientIndex: number): ConnectedClientInfo | undefined {
    const s = this.slots[clientIndex];
    return s ? { clientIndex, clientId: s.clientId, userData: s.userData, address: s.address } : undefined;
  }

  clients(): ConnectedClientInfo[] {
    const out: ConnectedClientInfo[] = [];
    for (let i = 0; i < this.slots.length; i++) {
      const c = this.client(i);
      if (c) out.push(c);
    }
    return out;
  }

  takeDatagrams(): OutgoingDatagram[] {
    const o = this.outbox;
    if (o.length === 0) return NOTHING as OutgoingDatagram[];
    this.outbox = [];
    return o;
  }

  takeEvents(): ServerEvent[] {
    return this.events.size === 0 ? (NOTHING as ServerEvent[]) : this.events.take();
  }

  /** Processes one received datagram. */
  receive(data: Uint8Array, from: NetcodeAddress, now: number, unixNow: bigint): void {
    this.time = now;
    if (data.length <= 1 || data.length > this.maxPacketBytes) return this.drop('size');
    const fromKey = addressKey(from);
    const clientIndex = this.byAddress.get(fromKey) ?? -1;
    if (data[0] === PacketType.connectionRequest) return this.processRequest(data, from, fromKey, unixNow);
    const slot = clientIndex >= 0 ? this.slots[clientIndex] : undefined;
    const mapping = slot ? undefined : this.findMapping(fromKey);
    const key = slot?.recvKey ?? mapping?.recvKey ?? null;
    if (!key) return this.drop('no_key');
    const p = readPacket(data, key, this.protocolId, ALLOWED, slot?.replay, this.version);
    if (!p) return this.drop('unreadable');
    switch (p.type) {
      case PacketType.connectionResponse:
        return this.processResponse(p.challengeSequence, p.challengeToken, from, fromKey, slot, mapping);
      case PacketType.keepAlive:
        if (slot) {
          slot.lastRecv = now;
          slot.confirmed = true;
        }
        return;
      case PacketType.payload:
        if (slot) {
          slot.lastRecv = now;
          slot.confirmed = true;
          this.events.push({ type: 'payload', clientIndex, clientId: slot.clientId, payload: p.payload });
        }
        return;
      case PacketType.disconnect:
        if (slot) this.freeSlot(clientIndex, 'client_disconnect');
        return;
    }
  }

  /** Sends keep-alives to idle clients and times out silent ones. Call often (e.g. every 10-100 ms). */
  update(now: number): void {
    this.time = now;
    for (let i = 0; i < this.slots.length; i++) {
      const s = this.slots[i];
      if (s && s.lastSend + 1 / PACKET_SEND_RATE <= now) {
        this.sendToClient(s, { type: PacketType.keepAlive, clientIndex: i, maxClients: this.maxClients });
      }
    }
    for (let i = 0; i < this.slots.length; i++) {
      const s = this.slots[i];
      if (s && s.timeout > 0 && s.lastRecv + s.timeout <= now) this.freeSlot(i, 'timed_out');
    }
    if (now - this.lastPrune >= 1) {
      this.lastPrune = now;
      for (const [k, m] of this.mappings) if (this.mappingExpired(m)) this.mappings.delete(k);
    }
  }

  /** Queues a payload for a connected client; returns false when the slot is empty. */
  sendPayload(clientIndex: number, payload: Uint8Array): boolean {
    if (payload.length < 1 || payload.length > MAX_PAYLOAD_BYTES) {
      throw new RangeError(`payload must be 1..${MAX_PAYLOAD_BYTES} bytes, got ${payload.length}`);
    }
    const s = this.slots[clientIndex];
    if (!s) return false;
    // an unconfirmed client may have missed the handshake keep-alive: repeat it before each payload
    if (!s.confirmed) this.sendToClient(s, { type: PacketType.keepAlive, clientIndex, maxClients: this.maxClients });
    // sealed directly: no packet object per payload
    this.outbox.push({ to: s.address, data: sealPacket(PacketType.payload, payload, s.sequence++, s.sendKey, this.protocolId, this.version) });
    s.lastSend = this.time;
    return true;
  }

  /** Server-initiated disconnect: ten disconnect packets, then the slot is freed. */
  disconnectClient(clientIndex: number): boolean {
    const s = this.slots[clientIndex];
    if (!s) return false;
    for (let i = 0; i < NUM_DISCONNECT_PACKETS; i++) this.sendToClient(s, { type: PacketType.disconnect });
    this.freeSlot(clientIndex, 'server_disconnect');
    return true;
  }

  disconnectAll(): void {
    for (let i = 0; i < this.slots.length; i++) this.disconnectClient(i);
  }

  private drop(reason: ServerDropReason): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
  }

  private processRequest(data: Uint8Array, from: NetcodeAddress, fromKey: string, unixNow: bigint): void {
    const r = readConnectionRequest(data, this.protocolId, unixNow, this.privateKey, this.version);
    if (!r.ok) return this.drop(r.reason);
    const t = r.token;
    if (!t.serverAddresses.some((a) => addressesEqual(a, this.address))) return this.drop('server_address_not_in_token');
    if (this.byAddress.has(fromKey)) return this.drop('address_already_connected');
    if (this.byClientId.has(t.clientId)) return this.drop('client_id_already_connected');
    const mac = Buffer.from(r.request.privateData.subarray(r.request.privateData.length - MAC_BYTES)).toString('hex');
    if (!this.tokenHistoryAccepts(mac, fromKey)) return this.drop('token_already_used');
    if (this.numConnected >= this.maxClients) {
      return this.sendGlobal({ type: PacketType.connectionDenied }, from, t.serverToClientKey);
    }
    if (!this.addMapping(fromKey, t.serverToClientKey, t.clientToServerKey, t.timeoutSeconds)) return this.drop('too_many_mappings');
    const sequence = this.challengeSequence++;
    const challengeToken = encryptChallengeToken({ clientId: t.clientId, userData: t.userData }, sequence, this.challengeKey);
    this.sendGlobal({ type: PacketType.connectionChallenge, challengeSequence: sequence, challengeToken }, from, t.serverToClientKey);
  }

  private processResponse(
    challengeSequence: bigint,
    encrypted: Uint8Array,
    from: NetcodeAddress,
    fromKey: string,
    slot: Slot | undefined,
    mapping: Mapping | undefined,
  ): void {
    const ct = decryptChallengeToken(encrypted, challengeSequence, this.challengeKey);
    if (!ct) return this.drop('bad_challenge_token');
    if (slot || !mapping) return this.drop('address_already_connected');
    if (this.byClientId.has(ct.clientId)) return this.drop('client_id_already_connected');
    if (this.numConnected >= this.maxClients) {
      return this.sendGlobal({ type: PacketType.connectionDenied }, from, mapping.sendKey);
    }
    const clientIndex = this.slots.findIndex((s) => s === undefined);
    const s: Slot = {
      clientId: ct.clientId,
      address: from,
      key: fromKey,
      sendKey: mapping.sendKey,
      recvKey: mapping.recvKey,
      timeout: mapping.timeout,
      sequence: 0,
      lastSend: this.time,
      lastRecv: this.time,
      confirmed: false,
      userData: ct.userData,
      replay: new ReplayProtection(),
    };
    // the slot now owns the keys; the handshake mapping is no longer needed
    this.mappings.delete(fromKey);
    this.slots[clientIndex] = s;
    this.byAddress.set(fromKey, clientIndex);
    this.byClientId.set(ct.clientId, clientIndex);
    this.numConnected++;
    this.sendToClient(s, { type: PacketType.keepAlive, clientIndex, maxClients: this.maxClients });
    this.events.push({ type: 'connect', clientIndex, clientId: s.clientId, userData: s.userData, address: s.address });
  }

  private freeSlot(clientIndex: number, reason: DisconnectReason): void {
    const s = this.slots[clientIndex];
    if (!s) return;
    this.slots[clientIndex] = undefined;
    this.byAddress.delete(s.key);
    this.byClientId.delete(s.clientId);
    this.mappings.delete(s.key);
    this.numConnected--;
    this.events.push({ type: 'disconnect', reason, clientIndex, clientId: s.clientId, userData: s.userData, address: s.address });
  }

  /** A token is new (remember it, evicting the oldest when full) or was seen from this same address. */
  private tokenHistoryAccepts(mac: string, fromKey: string): boolean {
    const seen = this.tokenHistory.get(mac);
    if (seen) return seen.key === fromKey;
    if (this.tokenHistory.size >= MAX_CONNECT_TOKEN_ENTRIES) {
      const oldest = this.tokenHistory.keys().next().value;
      if (oldest !== undefined) this.tokenHistory.delete(oldest);
    }
    this.tokenHistory.set(mac, { key: fromKey, time: this.time });
    return true;
  }

  private mappingExpired(m: Mapping): boolean {
    return (m.timeout > 0 && m.lastAccess + m.timeout < this.time) || (m.expireTime >= 0 && m.expireTime < this.time);
  }

  private findMapping(key: string): Mapping | undefined {
    const m = this.mappings.get(key);
    if (!m || this.mappingExpired(m)) return undefined;
    m.lastAccess = this.time;
    return m;
  }

  private addMapping(key: string, sendKey: Uint8Array, recvKey: Uint8Array, timeout: number): boolean {
    const existing = this.mappings.get(key);
    if (!existing && this.mappings.size >= MAX_PENDING_HANDSHAKES) {
      for (const [k, m] of this.mappings) if (this.mappingExpired(m)) this.mappings.delete(k);
      if (this.mappings.size >= MAX_PENDING_HANDSHAKES) return false;
    }
    this.mappings.set(key, { sendKey, recvKey, lastAccess: this.time, expireTime: timeout >= 0 ? this.time + timeout : -1, timeout });
    return true;
  }

  private sendToClient(s: Slot, packet: Packet): void {
    this.outbox.push({ to: s.address, data: writePacket(packet, s.sequence++, s.sendKey, this.protocolId, this.version) });
    s.lastSend = this.time;
  }

  private sendGlobal(packet: Packet, to: NetcodeAddress, key: Uint8Array): void {
    this.outbox.push({ to, data: writePacket(packet, this.globalSequence++, key, this.protocolId, this.version) });
  }
}
