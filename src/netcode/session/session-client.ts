import { EventEmitter } from 'node:events';
import { IyesmpError } from '../../errors.js';
import { ClientState, type ClientStateValue, clientStateName } from '../constants.js';
import type { NetcodeVersion } from '../constants.js';
import { type NetcodeClock, NetcodeUdpClient } from '../udp.js';
import { netcodeSessionError, type NetcodeSessionErrorCode } from './errors.js';
import {
  type ClientMessage,
  type SessionPhaseName,
  type StatusPlayer,
  StatusAssembler,
  decodeHostMessage,
  encodeClientMessage,
  encodeGame,
} from './messages.js';
import { ReliableChannel } from './reliable.js';

export interface NetcodeSessionClientOptions {
  /** the player id from the hand-off: how this client finds itself in the roster */
  playerId: string;
  /** how often a control message is repeated until its effect is seen; default 100 ms */
  resendMs?: number;
  clock?: NetcodeClock;
  tickMs?: number;
  /** the wire version of the connect token the client will use (default 1.02) */
  version?: NetcodeVersion;
}

export interface Roster {
  phase: SessionPhaseName;
  players: StatusPlayer[];
}

export interface NetcodeSessionClientEvents {
  /** the whole roster, each time a complete one has arrived */
  status: [Roster];
  /** the game began (once) */
  begin: [];
  /** game bytes from the host */
  game: [Uint8Array];
  /** a datagram of the reliable channel (reliable.ts), for its owner to feed to a ReliableChannel */
  reliable: [Uint8Array];
  /** the host's reason, just before it disconnects this client */
  bye: [{ code: string; message: string }];
  /** the netcode client state changed */
  state: [ClientStateValue, ClientStateValue];
  warning: [Error];
}

/**
 * The client's side of a netcode seat: a `NetcodeUdpClient` plus iyesmp's session messages, with
 * the repeats that make them reliable enough (see messages.ts). For game clients and tests; the
 * host side is `NetcodeHostTransport`.
 */
export class NetcodeSessionClient extends EventEmitter<NetcodeSessionClientEvents> {
  readonly udp: NetcodeUdpClient;
  readonly playerId: string;
  #roster: Roster | undefined;
  #begun = false;
  #bye: { code: string; message: string } | undefined;
  readonly #assembler = new StatusAssembler();
  readonly #resendMs: number;

  constructor(o: NetcodeSessionClientOptions) {
    super();
    this.playerId = o.playerId;
    this.#resendMs = o.resendMs ?? 100;
    this.udp = new NetcodeUdpClient({
      ...(o.clock ? { clock: o.clock } : {}),
      ...(o.tickMs !== undefined ? { tickMs: o.tickMs } : {}),
      ...(o.version ? { version: o.version } : {}),
    });
    this.udp.on('state', (s, p) => this.emit('state', s, p));
    this.udp.on('warning', (e) => this.emit('warning', e));
    this.udp.on('payload', (p) => this.#onPayload(p));
  }

  get roster(): Roster | undefined {
    return this.#roster;
  }
  get begun(): boolean {
    return this.#begun;
  }
  /** why the host let this client go, when it said */
  get bye(): { code: string; message: string } | undefined {
    return this.#bye;
  }
  get connected(): boolean {
    return this.udp.state === ClientState.connected;
  }

  /** Connects with the hand-off's token; rejects with `netcode_<state>` when the netcode handshake fails. */
  async connect(connectToken: Uint8Array, timeoutMs = 30_000): Promise<void> {
    this.udp.connect(connectToken);
    const state = await this.udp.waitUntilSettled(timeoutMs);
    if (state !== ClientState.connected) {
      const name = clientStateName(state);
      // the client's states are ClientStateValue, and every one but `connected` is registered
      throw netcodeSessionError(`netcode_${name}` as NetcodeSessionErrorCode, `could not connect to the host: ${name.replace(/_/g, ' ')}`, {
        hint: 'ask the Auth server for a fresh hand-off; an expired or rejected token never connects',
      });
    }
  }

  /** One datagram of the reliable channel, as its `poll` made it; false unless connected. */
  sendReliable(datagram: Uint8Array): boolean {
    return this.udp.sendPayload(datagram);
  }

  /** Game bytes (at most 1199) to the host; false unless connected. UDP: may be lost. */
  send(data: Uint8Array): boolean {
    return this.udp.sendPayload(encodeGame(data));
  }

  /** Says ready (or not) and repeats it until the host's roster shows it, or the game began. */
  setReady(ready = true, timeoutMs = 15_000): Promise<void> {
    const want = ready ? 'ready' : 'connected';
    return this.#repeat({ type: ready ? 'ready' : 'unready' }, () => this.#begun || this.#ownStatus() === want, timeoutMs);
  }

  /** Resolves when the game begins (repeating ready meanwhile, in case the begin was lost). */
  waitForBegin(timeoutMs = 60_000): Promise<void> {
    return this.#repeat({ type: 'ready' }, () => this.#begun, timeoutMs);
  }

  /** Leaves the session for good; resolves once the host said bye or the connection is gone. */
  async leave(timeoutMs = 15_000): Promise<void> {
    try {
      await this.#repeat({ type: 'leave' }, () => this.#bye !== undefined, timeoutMs);
    } catch (err) {
      if (!this.#gone()) throw err;
    }
  }

  async close(): Promise<void> {
    await this.udp.close();
  }

  #ownStatus(): StatusPlayer['status'] | undefined {
    return this.#roster?.players.find((p) => p.playerId === this.playerId)?.status;
  }

  #gone(): boolean {
    return this.udp.state <= ClientState.disconnected;
  }

  /** Sends `m` every resendMs until `done()`; rejects when the connection ends first or on timeout. */
  #repeat(m: ClientMessage, done: () => boolean, timeoutMs: number): Promise<void> {
    const payload = encodeClientMessage(m);
    return new Promise((resolve, reject) => {
      const started = Date.now();
      const step = (): boolean => {
        if (done()) {
          resolve();
          return true;
        }
        if (this.#gone()) {
          const why = this.#bye ? `${this.#bye.code}: ${this.#bye.message}` : clientStateName(this.udp.state);
          const message = `the host ended the connection (${why})`;
          // the bye's code is the host's own (a table refusal or the game's), passed on as it came
          reject(this.#bye ? new IyesmpError('refused', this.#bye.code, message) : netcodeSessionError('disconnected', message));
          return true;
        }
        if (Date.now() - started > timeoutMs) {
          reject(netcodeSessionError('timeout', `no answer from the host to "${m.type}" within ${timeoutMs} ms`));
          return true;
        }
        this.udp.sendPayload(payload);
        return false;
      };
      if (step()) return;
      const timer = setInterval(() => {
        if (step()) clearInterval(timer);
      }, this.#resendMs);
    });
  }

  #onPayload(p: Uint8Array): void {
    if (ReliableChannel.owns(p)) {
      this.emit('reliable', p);
      return;
    }
    const m = decodeHostMessage(p);
    if (!m) return;
    switch (m.type) {
      case 'game':
        this.emit('game', m.data);
        return;
      case 'status': {
        const r = this.#assembler.add(m);
        if (r) {
          this.#roster = r;
          this.emit('status', r);
        }
        return;
      }
      case 'begin':
        if (!this.#begun) {
          this.#begun = true;
          this.emit('begin');
        }
        return;
      case 'bye':
        this.#bye = { code: m.code, message: m.message };
        this.emit('bye', this.#bye);
        return;
    }
  }
}
