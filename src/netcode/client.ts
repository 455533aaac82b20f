import { EventQueue } from '../events/queue.js';
import { type NetcodeAddress, addressesEqual } from './address.js';
import {
  ClientState,
  type ClientStateValue,
  DEFAULT_NETCODE_VERSION,
  MAX_PAYLOAD_BYTES,
  NUM_DISCONNECT_PACKETS,
  type NetcodeVersion,
  PACKET_SEND_RATE,
  PacketType,
  netcodeWire,
} from './constants.js';
import { type Packet, lastReadSequence, readPacket, sealPacket, writePacket } from './packet.js';
import { ReplayProtection } from './replay.js';
import { type ConnectToken, readConnectToken } from './token.js';
import type { OutgoingDatagram } from './server.js';

export type ClientEvent = { type: 'state'; state: ClientStateValue; previous: ClientStateValue } | { type: 'payload'; payload: Uint8Array; sequence: bigint };

const ALLOWED: readonly boolean[] = [false, true, true, false, true, true, true];
/** returned by take*() when nothing is pending: no new array per input on the hot path (callers only read it) */
const NOTHING: never[] = Object.freeze([]) as never[];

/**
 * Sans-IO netcode client state machine (1.02, or 1.00 when constructed so). Feed it datagrams (with
 * their source) and monotonic time in seconds; collect datagrams to send and events. Follows the
 * STANDARD where the reference differs: one token-expiry window for the whole attempt, and a server
 * disconnect ends in "disconnected". A token of the other version ends in invalid_connect_token.
 */
export class NetcodeClientCore {
  private _state: ClientStateValue = ClientState.disconnected;
  private time: number;
  private token: ConnectToken | undefined;
  private serverIndex = 0;
  private _serverAddress: NetcodeAddress | undefined;
  private connectStart = 0;
  private lastSend = 0;
  private lastRecv = 0;
  private shouldDisconnect = false;
  private shouldDisconnectState: ClientStateValue = ClientState.disconnected;
  /** a number: exact to 2^53 packets, and no BigInt per packet sent */
  private sequence = 0;
  private _clientIndex = 0;
  private _maxClients = 0;
  private challengeSequence = 0n;
  private challengeToken: Uint8Array | undefined;
  private readonly replay = new ReplayProtection();
  private outbox: OutgoingDatagram[] = [];
  private readonly events = new EventQueue<ClientEvent>();

  private readonly maxPacketBytes: number;

  constructor(
    now = 0,
    readonly version: NetcodeVersion = DEFAULT_NETCODE_VERSION,
  ) {
    this.time = now;
    this.maxPacketBytes = netcodeWire(version).maxPacketBytes;
  }

  get state(): ClientStateValue {
    return this._state;
  }
  /** Index the server gave us (valid when connected). */
  get clientIndex(): number {
    return this._clientIndex;
  }
  get maxClients(): number {
    return this._maxClients;
  }
  /** The server currently being tried or connected to. */
  get serverAddress(): NetcodeAddress | undefined {
    return this._serverAddress;
  }
  /** Parsed public part of the current token. */
  get connectToken(): ConnectToken | undefined {
    return this.token;
  }

  takeDatagrams(): OutgoingDatagram[] {
    const o = this.outbox;
    if (o.length === 0) return NOTHING as OutgoingDatagram[];
    this.outbox = [];
    return o;
  }

  takeEvents(): ClientEvent[] {
    return this.events.size === 0 ? (NOTHING as ClientEvent[]) : this.events.take();
  }

  /** Starts connecting with a 2048-byte token; an unreadable token moves to invalid_connect_token (-5). */
  connect(tokenBytes: Uint8Array, now: number): void {
    this.disconnect(now);
    this.time = now;
    const parsed = readConnectToken(tokenBytes, this.version);
    if (!parsed.ok) {
      this.token = undefined;
      this.setState(ClientState.invalidConnectToken);
      return;
    }
    this.token = parsed.value;
    this.serverIndex = 0;
    this._serverAddress = parsed.value.serverAddresses[0];
    this.sequence = 0;
    this._clientIndex = 0;
    this._maxClients = 0;
    // the STANDARD's expiry window covers the whole attempt: set once here, not per server
    this.connectStart = now;
    this.resetBeforeNextConnect();
    this.setState(ClientState.sendingConnectionRequest);
  }

  receive(data: Uint8Array, from: NetcodeAddress, now: number): void {
    this.time = now;
    if (this._state <= ClientState.disconnected || !this.token || !this._serverAddress) return;
    if (data.length <= 1 || data.length > this.maxPacketBytes) return;
    // only the server being talked to matters; anything else is ignored before any work is done
    if (!addressesEqual(from, this._serverAddress)) return;
    const p = readPacket(data, this.token.serverToClientKey, this.token.protocolId, ALLOWED, this.replay, this.version);
    if (!p) return;
    const s = this._state;
    switch (p.type) {
      case PacketType.connectionDenied:
        if (s === ClientState.sendingConnectionRequest || s === ClientState.sendingConnectionResponse) {
          this.shouldDisconnect = true;
          this.shouldDisconnectState = ClientState.connectionDenied;
          this.lastRecv = now;
        }
        return;
      case PacketType.connectionChallenge:
        if (s === ClientState.sendingConnectionRequest) {
          this.challengeSequence = p.challengeSequence;
          this.challengeToken = p.challengeToken;
          this.lastRecv = now;
          this.setState(ClientState.sendingConnectionResponse);
        }
        return;
      case PacketType.keepAlive:
        if (s === ClientState.connected) {
          this.lastRecv = now;
        } else if (s === ClientState.sendingConnectionResponse) {
          this.lastRecv = now;
          this._clientIndex = p.clientIndex;
          this._maxClients = p.maxClients;
          this.setState(ClientState.connected);
        }
        return;
      case PacketType.payload:
        if (s === ClientState.connected) {
          this.lastRecv = now;
          this.events.push({ type: 'payload', payload: p.payload, sequence: BigInt(lastReadSequence()) });
        }
        return;
      case PacketType.disconnect:
        if (s === ClientState.connected) {
          this.shouldDisconnect = true;
          this.shouldDisconnectState = ClientState.disconnected;
          this.lastRecv = now;
        }
        return;
      default:
        return;
    }
  }

  /** Sends what is due and applies expiry, denial and timeouts. Call often (every 10-100 ms). */
  update(now: number): void {
    this.time = now;
    const t = this.token;
    if (this._state <= ClientState.disconnected || !t) return;
    this.sendPackets();
    if (this._state < ClientState.connected) {
      const window = Number(t.expireTimestamp - t.createTimestamp);
      if (now - this.connectStart >= window) return this.disconnectInternal(ClientState.connectTokenExpired, false);
    }
    if (this.shouldDisconnect) {
      // a denial moves on to the next server; a server disconnect while connected ends the session
      if (this.shouldDisconnectState !== ClientState.disconnected && this.connectToNextServer()) return;
      return this.disconnectInternal(this.shouldDisconnectState, false);
    }
    const timedOut = t.timeoutSeconds > 0 && this.lastRecv + t.timeoutSeconds < now;
    if (!timedOut) return;
    if (this._state === ClientState.sendingConnectionRequest) {
      if (!this.connectToNextServer()) this.disconnectInternal(ClientState.connectionRequestTimedOut, false);
    } else if (this._state === ClientState.sendingConnectionResponse) {
      if (!this.connectToNextServer()) this.disconnectInternal(ClientState.connectionResponseTimedOut, false);
    } else if (this._state === ClientState.connected) {
      this.disconnectInternal(ClientState.connectionTimedOut, false);
    }
  }

  /** Sends one payload (1..1200 bytes) when connected; returns false otherwise. */
  sendPayload(payload: Uint8Array): boolean {
    if (payload.length < 1 || payload.length > MAX_PAYLOAD_BYTES) {
      throw new RangeError(`payload must be 1..${MAX_PAYLOAD_BYTES} bytes, got ${payload.length}`);
    }
    if (this._state !== ClientState.connected) return false;
    // sealed directly: no packet object per payload
    const t = this.token!;
    this.outbox.push({
      to: this._serverAddress!,
      data: sealPacket(PacketType.payload, payload, this.sequence++, t.clientToServerKey, t.protocolId, this.version),
    });
    this.lastSend = this.time;
    return true;
  }

  /** Application disconnect: ten disconnect packets when active, then "disconnected". */
  disconnect(now?: number): void {
    if (now !== undefined) this.time = now;
    this.disconnectInternal(ClientState.disconnected, true);
  }

  private sendPackets(): void {
    const t = this.token!;
    if (this.lastSend + 1 / PACKET_SEND_RATE >= this.time) return;
    switch (this._state) {
      case ClientState.sendingConnectionRequest:
        return this.send({
          type: PacketType.connectionRequest,
          protocolId: t.protocolId,
          expireTimestamp: t.expireTimestamp,
          nonce: t.nonce,
          privateData: t.privateData,
        });
      case ClientState.sendingConnectionResponse:
        return this.send({ type: PacketType.connectionResponse, challengeSequence: this.challengeSequence, challengeToken: this.challengeToken! });
      case ClientState.connected:
        return this.send({ type: PacketType.keepAlive, clientIndex: 0, maxClients: 0 });
    }
  }

  /** Every packet, requests included, consumes a sequence number (as the reference). */
  private send(packet: Packet): void {
    const t = this.token!;
    const data = writePacket(packet, this.sequence++, t.clientToServerKey, t.protocolId, this.version);
    this.outbox.push({ to: this._serverAddress!, data });
    this.lastSend = this.time;
  }

  private connectToNextServer(): boolean {
    const t = this.token!;
    if (this.serverIndex + 1 >= t.serverAddresses.length) return false;
    this.serverIndex++;
    this._serverAddress = t.serverAddresses[this.serverIndex];
    this.resetBeforeNextConnect();
    this.setState(ClientState.sendingConnectionRequest);
    return true;
  }

  private resetBeforeNextConnect(): void {
    this.lastSend = this.time - 1;
    this.lastRecv = this.time;
    this.shouldDisconnect = false;
    this.shouldDisconnectState = ClientState.disconnected;
    this.challengeSequence = 0n;
    this.challengeToken = undefined;
    this.replay.reset();
  }

  private disconnectInternal(to: ClientStateValue, sendPackets: boolean): void {
    if (this._state <= ClientState.disconnected || this._state === to) return;
    if (sendPackets) for (let i = 0; i < NUM_DISCONNECT_PACKETS; i++) this.send({ type: PacketType.disconnect });
    this._clientIndex = 0;
    this._maxClients = 0;
    this.replay.reset();
    this.setState(to);
  }

  private setState(state: ClientStateValue): void {
    if (state === this._state) return;
    const previous = this._state;
    this._state = state;
    this.events.push({ type: 'state', state, previous });
  }
}
