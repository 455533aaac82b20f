/**
 * Joining a turn-based session over MQTT: the same GameSession as QUIC and netcode, driven by the
 * turns protocol's player machine (src/turns) over one MQTT connection with the session
 * certificate. The host's key comes from the hand-off and is pinned; everything the host says
 * (roster, begin, game messages, the end) arrives host-signed on the player's topics, and an action
 * is a signed move the host validates with the game's rules. After a lost connection the client
 * reconnects, registers again and resyncs the verified log before it plays on.
 */
import { randomBytes } from 'node:crypto';
import { IyesmpError } from '../errors.js';
import { orTimeout } from '../events/timeout.js';
import { brokerClientIdOf, topicIdOf } from '../mqtt/acl.js';
import type { MqttLink } from '../mqtt/link.js';
import { TurnsPlayer, type PlayerAction, type PlayerEvent } from '../turns/index.js';
import { badServerData, clientError, hostLost } from './errors.js';
import { GameSession, type DriverSink, type HostDriver } from './game-session.js';
import type { HostTicket } from './handoff.js';
import type { JoinHostOptions } from './join-host.js';
import { resolveTrust } from './trust.js';

/** The action name moves of `GameSession.action` travel under (the host transport's GAME_ACTION). */
const GAME_ACTION = 'game.action';

export async function joinMqttHost<Ext>(ticket: HostTicket<Ext>, opts: JoinHostOptions<Ext>): Promise<GameSession<Ext>> {
  const m = ticket.mqtt;
  const creds = ticket.credentials;
  if (!m || !creds || !m.hostKey) throw badServerData('hand-off', 'an MQTT hand-off needs the broker, the room, the host key and a session certificate');
  if (!opts.trust) throw clientError('no_trust', "joining an MQTT session needs `trust` (the PKI Master certificate) to check the broker's certificate");
  // the broker's certificate is a Host certificate of this PKI, checked like a QUIC host's
  const verifier = await resolveTrust(opts.trust);
  const verify = async (chain: Uint8Array[]): Promise<string | undefined> => {
    const r = await verifier.verify(chain, { kind: 'host' });
    return r.ok ? undefined : `${r.message} (${r.reason})`;
  };
  const player = new TurnsPlayer({
    ...(m.topicPrefix ? { prefix: m.topicPrefix } : {}),
    game: m.game ?? 'turns',
    room: m.room,
    sessionId: ticket.sessionId,
    playerId: topicIdOf(ticket.playerId),
    hostKey: m.hostKey,
    random: (n) => new Uint8Array(randomBytes(n)),
    now: Date.now(),
  });
  const { MqttLink } = await import('../mqtt/link.js');
  let link: MqttLink;
  try {
    link = await MqttLink.connect({
      url: m.brokerUrl,
      cert: creds.certPem,
      key: creds.keyPem,
      verify,
      servername: ticket.host.tlsName,
      clientId: brokerClientIdOf(ticket.sessionId, ticket.playerId),
      will: player.will,
      reconnectMs: 1000,
      dropInFlightOnReconnect: true,
      // the driver subscribes again after a reconnection (player.start), so a refusal reaches it
      resubscribe: false,
      connectTimeoutMs: opts.connectTimeoutMs ?? 15_000,
    });
  } catch (err) {
    throw clientError('host_lost', `cannot reach the game's MQTT broker ${m.brokerUrl}: ${(err as Error).message}`, { cause: err });
  }
  const driver = new MqttDriver<Ext>(link, player, topicIdOf(ticket.playerId), opts.idleTimeoutMs ?? 30_000);
  const game = GameSession.fromDriver(
    driver,
    { sessionId: ticket.sessionId, playerId: ticket.playerId, state: 'waiting', players: [], hostGameVersion: '' },
    opts,
  );
  drivers.set(game, driver as MqttDriver<unknown>);
  driver.start();
  return game;
}

const drivers = new WeakMap<object, MqttDriver<unknown>>();

/** The MQTT driver under a GameSession (tests: kill its connection, count reconnects). @internal */
export function mqttDriverOf(game: object): MqttDriver<unknown> | undefined {
  return drivers.get(game);
}

interface Waiter {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

/** @internal the MQTT HostDriver (exported for tests that kill its connection) */
export class MqttDriver<Ext> implements HostDriver<Ext> {
  readonly transport = 'mqtt' as const;
  readonly link: MqttLink;
  readonly player: TurnsPlayer;
  #sink: DriverSink | undefined;
  #early: { type: string; body: unknown }[] = [];
  #closed = false;
  #registered = false;
  #queue: Promise<void> = Promise.resolve();
  #tick: NodeJS.Timeout | undefined;
  #lostTimer: NodeJS.Timeout | undefined;
  /** ready() was called: registrations go out (before that they wait here) */
  #wantsReady = false;
  #heldRegistration: PlayerAction[] = [];
  readonly #registeredWaiters: Waiter[] = [];
  readonly #readyWaiters: Waiter[] = [];
  /** our moves in flight, in the order sent: the host answers them in that order */
  readonly #moves: Waiter[] = [];
  /** times the connection came back */
  reconnects = 0;

  constructor(
    link: MqttLink,
    player: TurnsPlayer,
    readonly turnsId: string,
    /** how long the broker may stay unreachable before the game is lost (`idleTimeoutMs`) */
    lostAfterMs: number,
  ) {
    this.link = link;
    this.player = player;
    // a host (and its embedded broker) that died: the link would try again every second for as
    // long as the game object lives; after lostAfterMs the game ends as a silent QUIC host's does
    link.on('offline', () => {
      if (this.#closed || this.#lostTimer) return;
      this.#lostTimer = setTimeout(() => {
        this.#lostTimer = undefined;
        if (!this.link.connected) this.#end(`the game's MQTT broker could not be reached for ${lostAfterMs} ms`);
      }, lostAfterMs);
      this.#lostTimer.unref?.();
    });
    link.on('message', (msg) => this.#run(() => player.receive({ topic: msg.topic, payload: msg.payload, retained: msg.retained }, Date.now())));
    // removed from the session (an admin kick, or away past the reconnect grace): aedes refuses the
    // seat's reconnection; the turns host refuses its registration where the broker let it in
    link.on('refused', ({ message }) => this.#removed(`the broker refused its reconnection (${message})`));
    link.on('reconnected', () => {
      clearTimeout(this.#lostTimer);
      this.#lostTimer = undefined;
      this.reconnects++;
      // a move whose answer was lost with the connection: the game may send it again once resynced
      for (const w of this.#moves.splice(0))
        w.reject(new IyesmpError('refused', 'move_lost', 'the connection dropped before the host answered the move; move again'));
      // register again, then fetch and verify the log from genesis before playing on
      this.#run(() => {
        const out = player.start(Date.now());
        try {
          out.push(...player.resync(Date.now()));
        } catch {
          // not registered yet: start() syncs once the registration is in the log
        }
        return out;
      });
    });
  }

  start(): void {
    this.#run(() => this.player.start(Date.now()));
    // the player asks again for a sync answer that did not come
    this.#tick = setInterval(() => this.#run(() => this.player.tick(Date.now())), 1000);
    this.#tick.unref?.();
  }

  attach(sink: DriverSink): void {
    this.#sink = sink;
    for (const ev of this.#early.splice(0)) sink.event(ev);
  }

  /**
   * A turn-based player's registration is its ready: it is published only now, so the game (which
   * begins once every seat registered) cannot start before this client listens.
   */
  async ready(ready: boolean, timeoutMs: number): Promise<void> {
    if (!ready) throw clientError.as('usage', 'not_supported', 'a turn-based MQTT session has no "not ready": leave instead');
    if (!this.#wantsReady) {
      this.#wantsReady = true;
      const held = this.#heldRegistration.splice(0);
      this.#run(() => held);
    }
    if (this.#registered) return;
    await this.#wait(this.#registeredWaiters, timeoutMs, 'registering with the host');
  }

  async action(ext: Ext, timeoutMs: number): Promise<Ext | undefined> {
    const deadline = Date.now() + timeoutMs;
    let actions: PlayerAction[] | undefined;
    // a move goes only over a live connection, once the log is caught up and a round is open
    while (actions === undefined) {
      const left = deadline - Date.now();
      if (left <= 0) throw clientError('timeout', `the move could not be sent within ${timeoutMs} ms (not connected, or the log is not caught up)`);
      if (this.#closed) throw clientError.as('io', 'closed', 'the game session is closed');
      if (!this.link.connected || !this.player.ready) {
        await this.#wait(this.#readyWaiters, Math.min(left, 1000), 'waiting for the round').catch(() => undefined);
        continue;
      }
      try {
        actions = this.player.move(GAME_ACTION, ext, Date.now());
      } catch (err) {
        if ((err as IyesmpError).code !== 'turns_not_ready') throw err;
        await this.#wait(this.#readyWaiters, Math.min(left, 1000), 'waiting for the round').catch(() => undefined);
      }
    }
    const answer = new Promise<unknown>((resolve, reject) => this.#moves.push({ resolve, reject }));
    const sent = actions;
    this.#run(() => sent);
    return (await withTimeout(answer, Math.max(1, deadline - Date.now()), 'the move')) as Ext | undefined;
  }

  send(): void {
    throw clientError.as('usage', 'not_supported', 'a turn-based MQTT session carries moves (action), not one-way messages');
  }

  async leave(): Promise<void> {
    const actions = this.player.leave();
    this.#run(() => actions);
    await this.#queue;
  }

  async close(): Promise<void> {
    if (!this.#stop()) return;
    await this.link.end();
    this.#fail(clientError.as('io', 'closed', 'the game session was closed'));
    this.#sink?.close(({ ended, closing }) => (ended || closing ? undefined : hostLost('the MQTT connection closed')));
  }

  #deliver(ev: { type: string; body: unknown }): void {
    if (this.#sink) this.#sink.event(ev);
    else this.#early.push(ev);
  }

  #run(step: () => PlayerAction[]): void {
    this.#queue = this.#queue
      .then(async () => {
        if (this.#closed) return;
        const inFlight: Promise<void>[] = [];
        for (const a of step()) {
          switch (a.type) {
            case 'publish':
              if (!this.#wantsReady && a.retain && a.topic === this.player.will.topic && a.payload.length > 0) {
                this.#heldRegistration = [a];
                break;
              }
              inFlight.push(this.link.publish(a.topic, a.payload, { qos: a.qos, retain: a.retain }));
              break;
            case 'subscribe':
              await this.link.subscribe(a.topics, a.qos).catch(() => this.#retrySubscribe(a.topics, a.qos, 1));
              break;
            case 'unsubscribe':
              await this.link.unsubscribe(a.topics);
              break;
            case 'event':
              this.#onEvent(a.event);
              break;
            default:
              break;
          }
        }
        await Promise.all(inFlight);
      })
      .catch(() => undefined); // a lost connection: the link reconnects and the player resyncs
  }

  #onEvent(e: PlayerEvent): void {
    switch (e.type) {
      case 'registered':
        this.#registered = true;
        for (const w of this.#registeredWaiters.splice(0)) w.resolve(undefined);
        return;
      case 'round':
      case 'synced':
        if (this.player.ready) for (const w of this.#readyWaiters.splice(0)) w.resolve(undefined);
        return;
      case 'block':
        for (const entry of e.block.entries) {
          if (entry.kind === 'move' && entry.move.playerId === this.turnsId) this.#moves.shift()?.resolve(entry.reply);
        }
        if (this.player.ready) for (const w of this.#readyWaiters.splice(0)) w.resolve(undefined);
        return;
      case 'rejected':
        if (e.rejection.code === 'turns_removed') return this.#removed(e.rejection.message);
        if (e.rejection.seq !== undefined) this.#moves.shift()?.reject(new IyesmpError('refused', e.rejection.code, e.rejection.message));
        return;
      case 'message': {
        const d = e.data as { type?: unknown; body?: unknown } | undefined;
        if (d && typeof d.type === 'string') this.#deliver({ type: d.type, body: d.body });
        return;
      }
      case 'ended':
        this.#deliver({ type: 'game.end', body: e.results });
        void this.close();
        return;
      default:
        return;
    }
  }

  /**
   * A refused subscription is tried again a few times (about 11 s in all): a broker that takes
   * grants from the host asynchronously (Mosquitto's dynamic security) may hear of this seat a
   * moment after the hand-off. A player subscribes only to its seat's fixed topics (ctl, its sync
   * and challenge), so one still refused after that means the seat has lost them: removed (on
   * Mosquitto, which lets a kicked certificate reconnect, this is how the player learns it).
   */
  #retrySubscribe(topics: readonly string[], qos: 0 | 1 | 2, attempt: number): void {
    if (this.#closed) return;
    if (attempt > 10) return this.#removed(`the broker refuses this seat its topics (${topics.join(', ')})`);
    const t = setTimeout(() => {
      if (this.#closed) return;
      void this.link.subscribe(topics, qos).catch(() => this.#retrySubscribe(topics, qos, attempt + 1));
    }, 200 * attempt);
    t.unref?.();
  }

  /** The host removed this seat: the game ends for this player as on QUIC (`host_lost`, "removed"). */
  #removed(why: string): void {
    this.#end(`the host removed this player from the session (removed): ${why}`);
  }

  /** Marks the driver closed and stops its timers; false when it was already. */
  #stop(): boolean {
    if (this.#closed) return false;
    this.#closed = true;
    clearInterval(this.#tick);
    clearTimeout(this.#lostTimer);
    return true;
  }

  /** Ends the game with `host_lost` (unless it ended or was closed already) and closes the link. */
  #end(detail: string): void {
    if (!this.#stop()) return;
    const err = hostLost(detail);
    this.#fail(err);
    void this.link.end(true);
    this.#sink?.close(({ ended }) => (ended ? undefined : err));
  }

  #fail(err: Error): void {
    for (const w of [...this.#registeredWaiters.splice(0), ...this.#readyWaiters.splice(0), ...this.#moves.splice(0)]) w.reject(err);
  }

  #wait(list: Waiter[], timeoutMs: number, what: string): Promise<void> {
    if (this.#closed) return Promise.reject(clientError.as('io', 'closed', 'the game session is closed'));
    const p = new Promise<unknown>((resolve, reject) => list.push({ resolve, reject }));
    return withTimeout(p, timeoutMs, what).then(() => undefined);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return orTimeout(p, ms, () => clientError('timeout', `${what} got no answer within ${ms} ms`));
}
