/**
 * MQTT as a Host transport, for turn-based games: each session is a room of the turns protocol
 * (src/turns) on a broker, with this host as coordinator and arbiter. The host runs one `TurnsHost`
 * per session, performs its actions through one MQTT connection (our Host certificate), keeps the
 * broker's ACL in step with the room (grants: the embedded broker's control topic, or Mosquitto's
 * dynamic security), and backs the protocol's "validate" with the game's action handler, so a
 * `HostGame` written for QUIC (onAction, broadcast, end) runs unchanged.
 *
 * Admission: the broker lets a seat in only with its session certificate (client id bound to the
 * seat) and grants its register topic only to it; a registration on that topic is the seat's proof,
 * so the table is asked to admit an `mqtt` credential with the fingerprint the Auth server announced.
 * Players' ready is their registration: a turn-based player registers when it joins to play.
 *
 * Removal: when the table says a seat left for good (an operator's kick through `removePlayer`, a
 * seat past its grace), the turns room drops it (leave block, no more grants, its registrations
 * refused) and the broker gets a `kick`: the grant goes, the client is disconnected on every node,
 * and its reconnects are refused (embedded aedes) or find no topic granted (Mosquitto).
 */
import { randomBytes } from 'node:crypto';
import { TypedEmitter } from '../../../events/emitter.js';
import { TIMED_OUT, withTimeout } from '../../../events/timeout.js';
import { brokerClientIdOf, topicIdOf, type GrantCommand } from '../../../mqtt/acl.js';
import type { GrantSink } from '../../../mqtt/grants.js';
import type { MqttLink } from '../../../mqtt/link.js';
import { TurnsHost, type HostAction, type HostEvent, type RoomAcl } from '../../../turns/index.js';
import type { HostSessionEvent } from '../../events.js';
import type { GameMessage } from '../../game.js';
import { roster } from '../quic/player-endpoint.js';
import type { GameEndNotice } from '../quic/transport.js';
import type { HostTransport, HostTransportContext, HostTransportEvents, SeatRef, TransportEndpoint } from '../transport.js';

/** The MQTT transport's extra needs: the game's answer to an action, and the end notice. */
export interface MqttTransportContext extends HostTransportContext {
  action(seat: SeatRef, ext: unknown): Promise<unknown>;
  endNotice(sessionId: string): GameEndNotice;
}

export interface MqttHostTransportOptions {
  /** the URL players dial (the hand-off carries it) */
  brokerUrl: string;
  /** the host's own connection to that broker, already open */
  link: MqttLink;
  grants: GrantSink;
  /** topic prefix (config `topic_prefix`, default "game") and game level (default "turns") */
  topicPrefix?: string;
  game?: string;
  /** moves per round before the round topic rotates (turns default: 1) */
  movesPerRound?: number;
  /** seal payloads with a room key */
  encrypt?: boolean;
  /** how long grants outlive a session's end, so the end block reaches the players (default 3 s) */
  endGraceMs?: number;
  random?: (n: number) => Uint8Array;
}

/** The action name moves of `GameSession.action` travel under. */
export const GAME_ACTION = 'game.action';

interface Room {
  sessionId: string;
  id: string;
  base: string;
  host: TurnsHost;
  seatOf: Map<string, string>;
  turnsOf: Map<string, string>;
  conns: Map<string, string>;
  queue: Promise<void>;
  /** grants, one after another, off the move path */
  grantQ: Promise<void>;
  /** grants, subscribes and unsubscribes not yet acknowledged (a round block waits for them) */
  pending: Set<Promise<void>>;
  ended: boolean;
  /** moves the game is judging now, and the messages it sent meanwhile */
  validating: number;
  held: Array<() => HostAction[]>;
  notice?: GameEndNotice;
}

export class MqttHostTransport extends TypedEmitter<HostTransportEvents> implements HostTransport {
  readonly kind = 'mqtt' as const;
  readonly #ctx: MqttTransportContext;
  readonly #o: MqttHostTransportOptions;
  readonly #rooms = new Map<string, Room>();
  readonly #byBase = new Map<string, Room>();
  readonly #prefix: string;
  readonly #game: string;
  readonly #timers = new Set<NodeJS.Timeout>();
  #closed = false;

  constructor(ctx: MqttTransportContext, o: MqttHostTransportOptions) {
    super();
    this.#ctx = ctx;
    this.#o = o;
    this.#prefix = o.topicPrefix ?? 'game';
    this.#game = o.game ?? 'turns';
    ctx.sessions.on('session', (e) => this.#onTable(e));
    o.link.on('message', (m) => {
      const room = this.#roomOfTopic(m.topic);
      if (room) this.#run(room, () => room.host.receive({ topic: m.topic, payload: m.payload, retained: m.retained }, Date.now()));
    });
    o.link.on('reconnected', () => {
      // a clean session lost our subscriptions: take every room's again
      for (const room of this.#rooms.values()) this.#run(room, () => room.host.start(Date.now()));
    });
  }

  endpoint(): TransportEndpoint {
    return { kind: 'mqtt', brokerUrl: this.#o.brokerUrl };
  }

  sessionEndpoint(sessionId: string): TransportEndpoint | undefined {
    const r = this.#rooms.get(sessionId);
    if (!r) return undefined;
    return {
      kind: 'mqtt',
      brokerUrl: this.#o.brokerUrl,
      room: r.id,
      topicPrefix: this.#prefix,
      game: this.#game,
      hostKey: new Uint8Array(r.host.publicKey) as Uint8Array<ArrayBuffer>,
    };
  }

  /** the turns machine of a session (tests, `top`) */
  room(sessionId: string): TurnsHost | undefined {
    return this.#rooms.get(sessionId)?.host;
  }

  send(seat: SeatRef, msg: GameMessage): boolean {
    const r = this.#rooms.get(seat.sessionId);
    const to = r?.turnsOf.get(seat.playerId);
    if (!r || !to || r.ended || !r.conns.has(seat.playerId)) return false;
    this.#hostSend(r, to, { type: 'game.msg', body: msg });
    return true;
  }

  /**
   * A host-signed message to one player or all. What the game says while it judges a move (the new
   * state) goes out after that move's block: a player who saw the state first would move on the
   * round that is just closing.
   */
  #hostSend(r: Room, to: string | undefined, data: unknown): void {
    const step = () => r.host.send(to, data, Date.now());
    if (r.validating > 0) r.held.push(step);
    else this.#run(r, step);
  }

  /**
   * Disconnects a seat's broker client (on every node) and tells the table its connection is lost:
   * its grant stays, so it may come back within the grace. To remove a seat for good call
   * `sessions.removePlayer`: the table's `left` status makes the broker kick it.
   */
  disconnect(seat: SeatRef): boolean {
    const r = this.#rooms.get(seat.sessionId);
    const c = r?.conns.get(seat.playerId);
    if (!r || !c || r.ended) return false;
    r.conns.delete(seat.playerId);
    const turnsId = r.turnsOf.get(seat.playerId);
    void this.#grantAfter(r, [{ op: 'drop', sessionId: r.sessionId, playerId: seat.playerId }]).then(
      () => {
        // its registration ends as its will would end it (Mosquitto publishes no will for a client it
        // kicks): the player registers again when it is back, and that admits it again. A player back
        // within these few milliseconds (it waits a second) would find its registration cleared.
        if (turnsId && !r.ended)
          this.#run(r, () => [{ type: 'publish', topic: r.host.topics.register(turnsId), payload: new Uint8Array(0), qos: 1, retain: true }]);
      },
      () => undefined,
    );
    this.#ctx.sessions.connectionClosed(c, this.#ctx.now());
    this.emit('event', { type: 'left', sessionId: r.sessionId, playerId: seat.playerId, connectionId: c, reason: 'disconnected by the host' });
    return true;
  }

  /** Broker commands after every grant already on its way (a late grant must not undo them). */
  #grantAfter(r: Room, cmds: GrantCommand[]): Promise<void> {
    const p = r.grantQ.then(() => this.#o.grants.apply(cmds));
    r.grantQ = p.catch(() => undefined);
    const t = p.catch((err: Error) => this.#warn(err));
    r.pending.add(t);
    void t.then(() => r.pending.delete(t));
    return p;
  }

  /** The table removed a seat for good: out of the turns room, kicked off the broker. */
  #remove(r: Room, seat: string): void {
    const turnsId = r.turnsOf.get(seat);
    if (!turnsId || r.host.removed(turnsId)) return;
    r.conns.delete(seat);
    this.#run(r, () => r.host.remove(turnsId, Date.now()));
    void this.#grantAfter(r, [{ op: 'kick', sessionId: r.sessionId, playerId: seat }]).catch(() => undefined);
  }

  /**
   * Ends the rooms still open and clears their grants, waiting up to `graceMs` (default 1 s) for
   * those publishes: a broker that is gone would never acknowledge them, and the link would keep
   * them queued for good (the host could not shut down). What is left then is dropped.
   */
  async close(opts: { graceMs?: number } = {}): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    const clears: GrantCommand[] = [];
    for (const r of this.#rooms.values()) {
      if (!r.ended) this.#run(r, () => r.host.end({ reason: 'aborted', results: [] }, Date.now()));
      clears.push({ op: 'clear', sessionId: r.sessionId });
    }
    const flushed = (async () => {
      await Promise.all([...this.#rooms.values()].map((r) => r.queue.then(() => Promise.all(r.pending))));
      await this.#o.grants.apply(clears).catch(() => undefined);
    })();
    const done = await withTimeout(flushed, opts.graceMs ?? 1000, { unref: true });
    this.#rooms.clear();
    this.#byBase.clear();
    await this.#o.link.end(done === TIMED_OUT);
  }

  #roomOfTopic(topic: string): Room | undefined {
    // <prefix>/<game>/<room>/...: the room's base is everything before its last one or two levels
    const parts = topic.split('/');
    for (const n of [2, 1]) {
      const r = this.#byBase.get(parts.slice(0, -n).join('/'));
      if (r) return r;
    }
    return undefined;
  }

  #onTable(e: HostSessionEvent): void {
    if (this.#closed) return;
    if (e.type === 'session_created') {
      if (this.#ctx.sessions.session(e.sessionId)?.transport === 'mqtt') this.#open(e.sessionId);
      return;
    }
    const r = 'sessionId' in e && e.sessionId !== undefined ? this.#rooms.get(e.sessionId) : undefined;
    if (!r || r.ended) return;
    // every step reads the clock when it runs: the log's timestamps must not go backwards
    switch (e.type) {
      case 'player_status':
        this.#hostSend(r, undefined, { type: 'players.status', body: { players: roster(e.roster) } });
        // a seat that left the table never comes back (kicked, timed out): nor on the broker
        if (e.status === 'left') this.#remove(r, e.playerId);
        return;
      case 'game_begin': {
        const order = e.roster.filter((p) => p.status !== 'left').map((p) => p.playerId);
        this.#hostSend(r, undefined, { type: 'game.begin', body: { order } });
        return;
      }
      case 'session_ended': {
        r.ended = true;
        const notice = r.notice ?? this.#ctx.endNotice(e.sessionId);
        this.#run(r, () => r.host.end(notice, Date.now()));
        const t = setTimeout(() => {
          this.#timers.delete(t);
          // after every grant still on its way: a late one must not bring the room back
          void r.queue
            .then(() => r.grantQ)
            .then(() => this.#o.grants.apply([{ op: 'clear', sessionId: r.sessionId }]))
            .catch((err: Error) => this.#warn(err));
          this.#rooms.delete(r.sessionId);
          this.#byBase.delete(r.base);
        }, this.#o.endGraceMs ?? 3000);
        t.unref?.();
        this.#timers.add(t);
        return;
      }
      case 'close_connection':
        // the end notice is readable until session_ended (the server forgets it then)
        if (e.reason === 'session_ended') r.notice ??= this.#ctx.endNotice(e.sessionId);
        for (const [seat, c] of r.conns) {
          if (c !== e.connectionId) continue;
          r.conns.delete(seat);
          // removed (kicked): the broker kick follows with the seat's `left` status
          if (e.reason === 'departed')
            this.emit('event', { type: 'left', sessionId: r.sessionId, playerId: seat, connectionId: c, reason: 'removed from the session' });
        }
        return;
      default:
        return;
    }
  }

  #open(sessionId: string): void {
    const view = this.#ctx.sessions.session(sessionId);
    if (!view) return;
    const seatOf = new Map<string, string>();
    const turnsOf = new Map<string, string>();
    for (const p of view.players) {
      const t = topicIdOf(p.playerId);
      seatOf.set(t, p.playerId);
      turnsOf.set(p.playerId, t);
    }
    const id = topicIdOf(sessionId);
    let host: TurnsHost;
    try {
      host = new TurnsHost({
        prefix: this.#prefix,
        game: this.#game,
        room: id,
        sessionId,
        players: [...turnsOf.values()],
        random: this.#o.random ?? ((n) => new Uint8Array(randomBytes(n))),
        ...(this.#o.movesPerRound !== undefined ? { movesPerRound: this.#o.movesPerRound } : {}),
        ...(this.#o.encrypt !== undefined ? { encrypt: this.#o.encrypt } : {}),
      });
    } catch (err) {
      this.#warn(err as Error);
      this.#ctx.sessions.cancel(sessionId, this.#ctx.now(), `the turns room could not start: ${(err as Error).message}`);
      return;
    }
    const base = `${this.#prefix}/${this.#game}/${id}`;
    const room: Room = {
      sessionId,
      id,
      base,
      host,
      seatOf,
      turnsOf,
      conns: new Map(),
      queue: Promise.resolve(),
      grantQ: Promise.resolve(),
      pending: new Set(),
      ended: false,
      validating: 0,
      held: [],
    };
    this.#rooms.set(sessionId, room);
    this.#byBase.set(base, room);
    this.#run(room, () => host.start(Date.now()));
  }

  /**
   * Runs what the machine returns, in order, one batch after another per room. Publishes go out
   * without waiting for each PUBACK (one connection keeps their order). Grants (one after another),
   * subscribes and unsubscribes go out without holding the next move behind their round trips: the
   * turns host grants and subscribes to a round's topic a round ahead, and a QoS 2 publish (the
   * block that opens a round, revealing its topic) waits for all of them, so the broker enforces
   * the topic before anyone learns it. An `acl` still waits for every publish before it.
   */
  #run(r: Room, step: () => HostAction[]): void {
    const link = this.#o.link;
    const track = (p: Promise<void>): void => {
      const t = p.catch((err: Error) => this.#warn(err));
      r.pending.add(t);
      void t.then(() => r.pending.delete(t));
    };
    r.queue = r.queue
      .then(async () => {
        const actions = step();
        let inFlight: Promise<void>[] = [];
        for (const a of actions) {
          switch (a.type) {
            case 'publish':
              if (a.qos === 2) await Promise.all(r.pending);
              // all at QoS 1 or below: a broker may deliver a QoS 2 message (a block that opens a
              // round) after a QoS 1 one sent later (the game's new state), and a player who saw
              // the state first would move on the closing round. Blocks are numbered: a duplicate
              // QoS 1 delivery is ignored by the players.
              inFlight.push(link.publish(a.topic, a.payload, { qos: Math.min(a.qos, 1) as 0 | 1, retain: a.retain }));
              break;
            case 'subscribe':
              track(link.subscribe(a.topics, a.qos));
              break;
            case 'unsubscribe':
              track(link.unsubscribe(a.topics));
              break;
            case 'acl': {
              const before = Promise.all(inFlight);
              before.catch(() => undefined); // handled where the grant waits for it
              inFlight = [];
              const cmds = this.#grantsOf(r, a.acl);
              const grant = r.grantQ.then(async () => {
                await before;
                await this.#o.grants.apply(cmds);
              });
              r.grantQ = grant.catch(() => undefined);
              track(grant);
              break;
            }
            case 'validate':
              r.validating++;
              void this.#validate(r, a);
              break;
            case 'event':
              this.#onTurns(r, a.event);
              break;
          }
        }
        await Promise.all(inFlight);
      })
      .catch((err: Error) => this.#warn(err));
  }

  #grantsOf(r: Room, acl: RoomAcl): GrantCommand[] {
    return Object.entries(acl.players).map(([turnsId, g]) => ({
      op: 'grant' as const,
      sessionId: r.sessionId,
      playerId: r.seatOf.get(turnsId) ?? turnsId,
      grant: { subscribe: g.subscribe, publish: g.publish, retain: g.retain },
    }));
  }

  async #validate(r: Room, a: Extract<HostAction, { type: 'validate' }>): Promise<void> {
    const seat = r.seatOf.get(a.playerId);
    let verdict: { ok: true; reply?: unknown } | { ok: false; code: string; message?: string };
    if (!seat) verdict = { ok: false, code: 'not_expected', message: 'no such seat' };
    else if (a.action !== GAME_ACTION) verdict = { ok: false, code: 'unknown_action', message: `actions are "${GAME_ACTION}"` };
    else {
      try {
        const reply = await this.#ctx.action({ sessionId: r.sessionId, playerId: seat }, a.data);
        verdict = reply === undefined ? { ok: true } : { ok: true, reply };
      } catch (err) {
        const e = err as { code?: unknown; message?: unknown };
        const code = typeof e.code === 'string' && /^[a-z][a-z0-9_]{0,63}$/.test(e.code) ? e.code : 'turns_illegal_move';
        verdict = { ok: false, code, ...(typeof e.message === 'string' ? { message: e.message } : {}) };
      }
    }
    this.#run(r, () => r.host.validated(a.id, verdict, Date.now()));
    if (--r.validating === 0) for (const step of r.held.splice(0)) this.#run(r, step);
  }

  #onTurns(r: Room, e: HostEvent): void {
    const now = this.#ctx.now();
    const sessions = this.#ctx.sessions;
    switch (e.type) {
      case 'registered': {
        const seat = r.seatOf.get(e.registration.playerId);
        if (!seat) return;
        const p = sessions.session(r.sessionId)?.players.find((x) => x.playerId === seat);
        if (!p?.fingerprint) return;
        const old = r.conns.get(seat);
        if (old) sessions.connectionClosed(old, now);
        const connectionId = `mqtt/${r.sessionId}/${seat}/${e.registration.epoch}`;
        const res = sessions.admit(
          {
            // the broker checked the certificate; MQTT gives the host no player address, so the announced one stands
            source: { ip: p.address.ip, port: p.address.port ?? 0 },
            peer: {
              sessionId: r.sessionId,
              playerId: seat,
              credential: { kind: 'mqtt', fingerprint: p.fingerprint, brokerClientId: brokerClientIdOf(r.sessionId, seat) },
            },
            connectionId,
          },
          now,
        );
        if (!res.ok) {
          this.emit('event', { type: 'refused', reason: res.reason, message: res.message, sessionId: r.sessionId, playerId: seat });
          return;
        }
        r.conns.set(seat, connectionId);
        this.emit('event', { type: 'joined', sessionId: r.sessionId, playerId: seat, connectionId, reconnect: res.reconnect, remote: 'mqtt' });
        sessions.ready(connectionId, now);
        return;
      }
      case 'left': {
        const seat = r.seatOf.get(e.playerId);
        const c = seat && r.conns.get(seat);
        if (!seat || !c) return;
        r.conns.delete(seat);
        sessions.connectionClosed(c, now);
        this.emit('event', { type: 'left', sessionId: r.sessionId, playerId: seat, connectionId: c, reason: 'registration cleared' });
        return;
      }
      case 'rejected':
      case 'alert': {
        const who = e.playerId === undefined ? undefined : r.seatOf.get(e.playerId);
        const what = e.type === 'rejected' ? `${e.rejection.code}: ${e.rejection.message}` : `${e.code}: ${e.message}`;
        this.#ctx.logger.info({ sessionId: r.sessionId, playerId: who, event: e.type }, `turns ${e.type}: ${what}`);
        return;
      }
      default:
        return;
    }
  }

  #warn(error: Error): void {
    this.emit('event', { type: 'warning', error });
  }
}
