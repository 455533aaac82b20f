/**
 * Joining a netcode.io game host from a hand-off. The connect token is the seat's credential (no
 * certificates, no TLS); iyesmp's session messages (src/netcode/session/messages.ts) carry the
 * roster, readiness, the begin and the host's "bye" over unreliable datagrams. Game bytes
 * (`Uint8Array`) stay single unreliable datagrams; structured game data, actions and the results at
 * the end travel on a reliable channel next to them (src/netcode/session/reliable.ts), so this
 * driver gives the same GameSession a QUIC host gives and a game's code does not change with the
 * transport. What netcode still cannot do (bulk streams) it says.
 */
import { decode, encode } from '@msgpack/msgpack';
import type { z } from 'zod';
import { IyesmpError, isIyesmpError } from '../errors.js';
import { formatHostPort } from '../net/address.js';
import { ClientState, clientStateName, type ClientStateValue } from '../netcode/constants.js';
import { MAX_GAME_BYTES, encodeClientMessage, type StatusPlayer } from '../netcode/session/messages.js';
import { DEFAULT_NETCODE_VERSION } from '../netcode/constants.js';
import { NetcodeSessionClient, type Roster } from '../netcode/session/session-client.js';
import { decodeGameMessage, encodeGameMessage, type ReliableGameMessage } from '../netcode/session/game-messages.js';
import { ReliableChannel } from '../netcode/session/reliable.js';
import { connectTokenVersion } from '../netcode/token.js';
import type { NetcodeClock } from '../netcode/udp.js';
import { clientError, hostLost } from './errors.js';
import { GameSession, type DriverSink, type GameSessionOptions, type HostDriver, type PlayerStatus, type SessionState } from './game-session.js';
import type { HostTicket } from './handoff.js';

/**
 * How the game's `ext` values become netcode payload bytes and back. The default passes
 * `Uint8Array`s through unchanged (what a host game gets as `ext` on netcode) and refuses anything
 * else; `msgpackNetcodeCodec` sends structured values (the host game then decodes them).
 */
export interface NetcodeCodec<Ext> {
  encode(ext: Ext): Uint8Array;
  decode(bytes: Uint8Array): Ext;
}

export function bytesNetcodeCodec<Ext>(): NetcodeCodec<Ext> {
  return {
    encode: (ext) => {
      if (!(ext instanceof Uint8Array)) {
        throw clientError('netcode_bytes_only', 'a netcode.io session carries bytes: send a Uint8Array, or give joinHost a netcode codec', {
          hint: 'netcode: { codec: msgpackNetcodeCodec() } sends structured game data as MsgPack',
        });
      }
      return ext;
    },
    decode: (bytes) => bytes as unknown as Ext,
  };
}

/** Structured game data as MsgPack (no extension types; bounded like every decoder here). */
export function msgpackNetcodeCodec<Ext>(): NetcodeCodec<Ext> {
  const limits = { maxStrLength: MAX_GAME_BYTES, maxBinLength: MAX_GAME_BYTES, maxArrayLength: MAX_GAME_BYTES, maxMapLength: MAX_GAME_BYTES, maxExtLength: 0 };
  return { encode: (ext) => encode(ext), decode: (bytes) => decode(bytes, limits) as Ext };
}

export interface NetcodeJoinOptions<Ext> {
  /**
   * ext <-> payload bytes of unreliable game datagrams. Unset: `Uint8Array` game data goes as one
   * datagram and anything else on the reliable channel (MsgPack). Set: every `send` goes through
   * the codec as one unreliable datagram (game-defined binary formats).
   */
  codec?: NetcodeCodec<Ext>;
  /** how often ready/unready/leave are repeated until the host shows their effect; default 100 ms */
  resendMs?: number;
  /** netcode's clock (tests) */
  clock?: NetcodeClock;
}

export interface NetcodeJoinHostOptions<Ext> extends GameSessionOptions<Ext> {
  /** the netcode handshake plus the first roster; default 15 s (the token's own timeout may end it sooner) */
  connectTimeoutMs?: number;
  netcode?: NetcodeJoinOptions<Ext>;
}

/** Connects with the hand-off's connect token and waits for the host's roster. */
export async function joinNetcodeHost<Ext>(ticket: HostTicket<Ext>, opts: NetcodeJoinHostOptions<Ext>): Promise<GameSession<Ext>> {
  const token = ticket.connectToken;
  if (token === undefined) throw clientError('bad_server_data', 'the netcode.io hand-off carries no connect token');
  const where = formatHostPort(ticket.host.host, ticket.host.port);
  const timeoutMs = opts.connectTimeoutMs ?? 15_000;
  const seat = new NetcodeSessionClient({
    playerId: ticket.playerId,
    // the token says which wire version the Auth server and hosts speak (1.02, or 1.00 in compatibility mode)
    version: connectTokenVersion(token) ?? DEFAULT_NETCODE_VERSION,
    ...(opts.netcode?.resendMs === undefined ? {} : { resendMs: opts.netcode.resendMs }),
    ...(opts.netcode?.clock ? { clock: opts.netcode.clock } : {}),
  });
  const driver = new NetcodeDriver<Ext>(seat, opts, where);
  try {
    try {
      await seat.connect(token, timeoutMs);
    } catch (err) {
      throw connectError(err, where, timeoutMs);
    }
    // netcode has no welcome: asking for "not ready" is harmless at the start, and the host answers
    // every control message with the roster (or `begin` when the game is on), so this is the hello.
    try {
      await seat.setReady(false, timeoutMs);
    } catch (err) {
      throw seatError(err, seat, where, timeoutMs);
    }
  } catch (err) {
    await seat.close().catch(() => undefined);
    throw err;
  }
  const roster = seat.roster;
  const state: SessionState = seat.begun || roster?.phase === 'in_game' ? 'playing' : roster?.phase === 'ended' ? 'ended' : 'waiting';
  const game = GameSession.fromDriver(
    driver,
    { sessionId: ticket.sessionId, playerId: ticket.playerId, state, players: roster ? rosterStatus(roster.players) : [], hostGameVersion: '' },
    opts,
  );
  return game;
}

class NetcodeDriver<Ext> implements HostDriver<Ext> {
  readonly transport = 'netcode' as const;
  readonly #seat: NetcodeSessionClient;
  readonly #codec: NetcodeCodec<Ext>;
  readonly #extSchema: z.ZodType<Ext> | undefined;
  readonly #resendMs: number;
  readonly #where: string;
  #sink: DriverSink | undefined;
  #early: { type: string; body: unknown }[] = [];
  #closed = false;
  /** the player said ready: keep saying it until the begin arrives (a lost begin is answered again) */
  #wantReady = false;
  #beginWatch: ReturnType<typeof setInterval> | undefined;
  /** messages that failed the codec or the ext schema (UDP: dropped, like lost ones) */
  dropped = 0;
  readonly #customCodec: boolean;
  readonly #rel: ReliableChannel;
  readonly #pending = new Map<number, { resolve: (ext: Ext | undefined) => void; reject: (err: IyesmpError) => void; timer: NodeJS.Timeout }>();
  #nextAction = 1;
  #pump: ReturnType<typeof setInterval> | undefined;

  constructor(seat: NetcodeSessionClient, opts: NetcodeJoinHostOptions<Ext>, where: string) {
    this.#seat = seat;
    this.#codec = opts.netcode?.codec ?? bytesNetcodeCodec<Ext>();
    this.#customCodec = opts.netcode?.codec !== undefined;
    this.#rel = new ReliableChannel({ resendMs: opts.netcode?.resendMs ?? 100 });
    seat.on('reliable', (p) => this.#onReliable(p));
    this.#extSchema = opts.extSchema;
    this.#resendMs = opts.netcode?.resendMs ?? 100;
    this.#where = where;
    seat.on('status', (r) => this.#deliver({ type: 'players.status', body: { players: rosterStatus(r.players) } }));
    seat.on('begin', () => {
      this.#stopBeginWatch();
      this.#deliver({ type: 'game.begin', body: { order: (seat.roster?.players ?? []).filter((p) => p.status !== 'left').map((p) => p.playerId) } });
    });
    seat.on('game', (bytes) => this.#onGame(bytes));
    seat.on('bye', (b) => {
      // netcode carries no results: the host's `session_ended` is the end of the game
      if (b.code === 'session_ended') {
        this.#deliver({ type: 'game.end', body: { reason: seat.begun ? 'completed' : 'cancelled', message: b.message, results: [] } });
      }
    });
    seat.on('state', (s, prev) => {
      if (s <= ClientState.disconnected && prev > ClientState.disconnected) this.#onGone(s);
    });
  }

  attach(sink: DriverSink): void {
    this.#sink = sink;
    for (const ev of this.#early.splice(0)) sink.event(ev);
    if (!this.#seat.connected) this.#onGone(this.#seat.udp.state);
  }

  async ready(ready: boolean, timeoutMs: number): Promise<void> {
    this.#wantReady = ready;
    if (!ready) this.#stopBeginWatch();
    try {
      await this.#seat.setReady(ready, timeoutMs);
    } catch (err) {
      throw this.#callError(err, ready ? 'ready' : 'not ready', timeoutMs);
    }
    if (ready && !this.#seat.begun) this.#startBeginWatch();
  }

  /** A host-judged action on the reliable channel: resolves with the game's answer, rejects with its refusal. */
  action(ext: Ext, timeoutMs: number): Promise<Ext | undefined> {
    this.#checkExt(ext);
    const id = this.#nextAction++;
    return new Promise<Ext | undefined>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(clientError('timeout', `the game host did not answer the action within ${timeoutMs} ms (netcode.io)`, { details: { local: true } }));
      }, timeoutMs);
      timer.unref?.();
      this.#pending.set(id, { resolve, reject, timer });
      if (!this.#sendReliable({ type: 'act', id, ext })) {
        clearTimeout(timer);
        this.#pending.delete(id);
        reject(clientError('message_too_large', 'the action is over the size limit of the reliable channel (64 KiB), or too many messages wait to be sent'));
      }
    });
  }

  send(ext: Ext, opts: { channel?: string; seq?: number }): void {
    this.#checkExt(ext);
    const structured = !(ext instanceof Uint8Array) || opts.channel !== undefined || opts.seq !== undefined;
    if (structured && !this.#customCodec) {
      const m: ReliableGameMessage = { type: 'msg', ext };
      if (opts.channel !== undefined) m.channel = opts.channel;
      if (opts.seq !== undefined) m.seq = opts.seq;
      if (!this.#sendReliable(m))
        throw clientError('message_too_large', 'the message is over the size limit of the reliable channel (64 KiB), or too many messages wait');
      return;
    }
    if (opts.channel !== undefined || opts.seq !== undefined) {
      throw clientError('netcode_bytes_only', 'game datagrams through a codec have no channel or seq: put them in the game data');
    }
    const bytes = this.#codec.encode(ext);
    if (bytes.length > MAX_GAME_BYTES) {
      throw clientError('message_too_large', `a netcode.io message is at most ${MAX_GAME_BYTES} bytes, this one is ${bytes.length}`, {
        hint: 'split the data, or use a QUIC game mode for large state (bulk streams)',
      });
    }
    // false when not connected: a datagram may be lost anyway, and the close event tells the game
    this.#seat.send(bytes);
  }

  async leave(): Promise<void> {
    this.#wantReady = false;
    this.#stopBeginWatch();
    // repeated until the host's bye; bounded so a silent host does not hold the game
    if (this.#seat.connected) await this.#seat.leave(3_000).catch(() => undefined);
  }

  async close(): Promise<void> {
    this.#stopBeginWatch();
    this.#stopReliable();
    await this.#seat.close().catch(() => undefined);
    // close() sends the disconnect packets; if the state had already ended no event follows
    this.#onGone(this.#seat.udp.state);
  }

  #deliver(ev: { type: string; body: unknown }): void {
    if (this.#closed) return;
    if (this.#sink) this.#sink.event(ev);
    else this.#early.push(ev);
  }

  #onGame(bytes: Uint8Array): void {
    let ext: Ext;
    try {
      ext = this.#codec.decode(bytes);
    } catch {
      this.dropped++;
      return;
    }
    if (this.#extSchema) {
      const r = this.#extSchema.safeParse(ext);
      if (!r.success) {
        this.dropped++;
        return;
      }
      ext = r.data;
    }
    this.#deliver({ type: 'game.msg', body: { ext } });
  }

  #checkExt(ext: Ext): void {
    if (!this.#extSchema) return;
    const r = this.#extSchema.safeParse(ext);
    if (!r.success) throw clientError('bad_request', `the game data does not match the game's ext schema: ${r.error.issues[0]?.message ?? 'invalid'}`);
  }

  /** Validates incoming game data with the game's schema; undefined (counted as dropped) when it fails. */
  #parseExt(ext: unknown): { ext: Ext | undefined } | undefined {
    if (ext === undefined || !this.#extSchema) return { ext: ext as Ext | undefined };
    const r = this.#extSchema.safeParse(ext);
    if (!r.success) {
      this.dropped++;
      return undefined;
    }
    return { ext: r.data };
  }

  #sendReliable(m: ReliableGameMessage): boolean {
    if (!this.#rel.send(encodeGameMessage(m))) return false;
    this.#flushReliable();
    return true;
  }

  #flushReliable(): void {
    for (const d of this.#rel.poll(performance.now())) this.#seat.sendReliable(d);
    // resends and acks need a clock while anything is in flight
    if (!this.#rel.idle && !this.#pump && !this.#closed) {
      this.#pump = setInterval(() => {
        this.#flushReliable();
        if (this.#rel.idle) this.#stopReliable();
      }, 25);
      this.#pump.unref?.();
    }
  }

  #stopReliable(): void {
    clearInterval(this.#pump);
    this.#pump = undefined;
  }

  #onReliable(p: Uint8Array): void {
    const r = this.#rel.receive(p);
    if (!r.ok) {
      this.dropped++;
      void this.#seat.close().catch(() => undefined);
      return;
    }
    for (const bytes of r.messages) {
      const m = decodeGameMessage(bytes);
      if (!m) {
        this.dropped++;
        continue;
      }
      switch (m.type) {
        case 'msg': {
          const parsed = this.#parseExt(m.ext);
          if (!parsed) break;
          this.#deliver({
            type: 'game.msg',
            body: { ...parsed, ...(m.channel !== undefined ? { channel: m.channel } : {}), ...(m.seq !== undefined ? { seq: m.seq } : {}) },
          });
          break;
        }
        case 'res': {
          const p = this.#pending.get(m.id);
          if (!p) break; // answered after our timeout
          this.#pending.delete(m.id);
          clearTimeout(p.timer);
          if (!m.ok) {
            p.reject(new IyesmpError(m.kind as IyesmpError['kind'], m.code, m.message));
            break;
          }
          const parsed = this.#parseExt(m.ext);
          if (parsed) p.resolve(parsed.ext);
          else p.reject(clientError('bad_server_data', "the host's answer does not match the game's ext schema"));
          break;
        }
        case 'end': {
          const parsed = m.ext === undefined ? { ext: undefined } : this.#parseExt(m.ext);
          this.#deliver({
            type: 'game.end',
            body: { reason: m.reason, message: m.message, results: m.results, ...(parsed?.ext !== undefined ? { ext: parsed.ext } : {}) },
          });
          break;
        }
        default:
          this.dropped++; // client-bound messages only
      }
    }
    // acks for what arrived, at once
    this.#flushReliable();
  }

  #startBeginWatch(): void {
    this.#stopBeginWatch();
    const ready = encodeClientMessage({ type: 'ready' });
    // a bit slower than the seat's own repeats: this only guards against a lost `begin`
    this.#beginWatch = setInterval(() => {
      if (!this.#wantReady || this.#seat.begun || !this.#seat.connected) return this.#stopBeginWatch();
      this.#seat.udp.sendPayload(ready);
    }, this.#resendMs * 3);
    this.#beginWatch.unref?.();
  }

  #stopBeginWatch(): void {
    clearInterval(this.#beginWatch);
    this.#beginWatch = undefined;
  }

  #onGone(state: ClientStateValue): void {
    if (this.#closed || !this.#sink) return;
    this.#closed = true;
    this.#stopBeginWatch();
    this.#stopReliable();
    for (const [id, p] of this.#pending) {
      this.#pending.delete(id);
      clearTimeout(p.timer);
      p.reject(clientError.as('io', 'closed', 'the connection to the game host ended before it answered the action'));
    }
    const bye = this.#seat.bye;
    const where = this.#where;
    this.#sink.close(({ ended, closing }) => {
      if (ended || closing) return undefined;
      if (bye) return withDetails(hostLost(`the host closed it (${bye.code}: ${bye.message})`), { bye });
      if (state === ClientState.connectionTimedOut) {
        return withDetails(hostLost(`no packets from ${where} for the token's timeout (netcode.io connection timed out)`), {
          netcodeState: clientStateName(state),
        });
      }
      return withDetails(hostLost(`the host at ${where} disconnected this client`), { netcodeState: clientStateName(state) });
    });
    // the UDP sockets are the driver's: release them when the host ends the connection
    void this.#seat.close().catch(() => undefined);
  }

  /** A failed ready/unready: a timeout, or the connection ended (the session's close error replaces `closed`). */
  #callError(err: unknown, what: string, timeoutMs: number): IyesmpError {
    if (isIyesmpError(err) && err.code === 'timeout') {
      return clientError('timeout', `the game host did not confirm "${what}" within ${timeoutMs} ms (netcode.io)`, { details: { local: true } });
    }
    return clientError.as('io', 'closed', `the connection to the game host ended (${isIyesmpError(err) ? err.code : String(err)})`);
  }
}

function rosterStatus(players: StatusPlayer[]): PlayerStatus[] {
  return players.map((p) => ({
    playerId: p.playerId,
    ...(p.displayName ? { displayName: p.displayName } : {}),
    connected: p.status === 'connected' || p.status === 'ready',
    ready: p.status === 'ready',
  }));
}

/** A failed netcode handshake, in a player's words. */
function connectError(err: unknown, where: string, timeoutMs: number): IyesmpError {
  const code = isIyesmpError(err) ? err.code : '';
  const state = code.startsWith('netcode_') ? code.slice('netcode_'.length) : undefined;
  const details = { netcodeState: state ?? 'no_answer' };
  switch (state) {
    case 'connection_denied':
      return clientError('host_refused', `the game host at ${where} refused the connection (netcode.io: connection denied; it may be full)`, {
        hint: 'queue again for another game',
        details,
      });
    case 'connect_token_expired':
      return clientError('handoff_expired', `the hand-off to the game host at ${where} expired before the connection was made`, {
        hint: 'claim the seat again (log in again) to get a fresh connect token',
        details,
      });
    case 'invalid_connect_token':
      return clientError('bad_server_data', 'the server sent an unusable hand-off: the netcode.io connect token cannot be read', {
        hint: 'the server may run an incompatible version',
        details,
      });
    default:
      // request/response timed out (or our own wait ran out): nothing usable came back
      return clientError('timeout', `could not reach the game host at ${where} over netcode.io: no answer${state ? '' : ` within ${timeoutMs} ms`}`, {
        hint: 'check that UDP to that port is not blocked; a token the host cannot open (wrong key or address) also ends like this',
        details,
      });
  }
}

/** The host refused the seat (a bye before the roster) or never answered the first control message. */
function seatError(err: unknown, seat: NetcodeSessionClient, where: string, timeoutMs: number): IyesmpError {
  const bye = seat.bye;
  if (bye) {
    // the host's own code (a table refusal), passed on as it came
    return new IyesmpError('refused', bye.code, `the game host refused this seat: ${bye.message}`, {
      hint: bye.code === 'session_ended' ? 'the game is over' : 'claim the seat again, or queue for a new game',
      details: { bye },
    });
  }
  if (isIyesmpError(err) && err.code === 'timeout') {
    return clientError('timeout', `the game host at ${where} connected but sent no roster within ${timeoutMs} ms (netcode.io)`, {
      hint: 'the host may be overloaded; try joining again',
    });
  }
  return hostLost(`the host at ${where} ended the connection before the game session started (${clientStateName(seat.udp.state)})`);
}

function withDetails(e: IyesmpError, details: Record<string, unknown>): IyesmpError {
  return new IyesmpError(e.kind, e.code, e.message, { ...(e.hint === undefined ? {} : { hint: e.hint }), details });
}

export type { Roster };
