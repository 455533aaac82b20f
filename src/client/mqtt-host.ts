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
import { brokerClientIdOf, topicIdOf } from '../mqtt/acl.js';
import type { MqttLink } from '../mqtt/link.js';
import { TurnsPlayer, type PlayerAction, type PlayerEvent } from '../turns/index.js';
import { badServerData, clientError, hostLost } from './errors.js';
import { GameSession, type DriverSink, type HostDriver } from './game-session.js';
import type { HostTicket } from './handoff.js';
import type { JoinHostOptions } from './join-host.js';
import { readPemSource } from './trust.js';

/** The action name moves of `GameSession.action` travel under (the host transport's GAME_ACTION). */
const GAME_ACTION = 'game.action';

export async function joinMqttHost<Ext>(ticket: HostTicket<Ext>, opts: JoinHostOptions<Ext>): Promise<GameSession<Ext>> {
  const m = ticket.mqtt;
  const creds = ticket.credentials;
  if (!m || !creds || !m.hostKey) throw badServerData('hand-off', 'an MQTT hand-off needs the broker, the room, the host key and a session certificate');
  const t = opts.trust;
  if (!t || 'verifier' in t) {
    throw clientError('no_trust', "joining an MQTT session needs `trust` as { caPem } or { trustDir }: the broker's certificate is checked by TLS", {
      hint: "give the PKI's master certificate (pki/trust/master.pem)",
    });
  }
  const ca =
    'caPem' in t
      ? await readPemSource(t.caPem, 'Master CA certificate')
      : await readPemSource(`${t.trustDir.replace(/\/$/, '')}/master.pem`, 'Master CA certificate').catch(() =>
          readPemSource(`${t.trustDir.replace(/\/$/, '')}/trust/master.pem`, 'Master CA certificate'),
        );
  const player = new TurnsPlayer({
    ...(m.topicPrefix ? { prefix: m.topicPrefix } : {}),
    game: m.game ?? 'turns',
    room: m.room,
    sessionId: ticket.sessionId,
    playerId: topicIdOf(ticket.playerId),
    hostKey: m.hostKey,
    random: (n) => new Uint8Array(randomBytes(n)),
  });
  const { MqttLink } = await import('../mqtt/link.js');
  let link: MqttLink;
  try {
    link = await MqttLink.connect({
      url: m.brokerUrl,
      cert: creds.certPem,
      key: creds.keyPem,
      ca,
      servername: ticket.host.tlsName,
      clientId: brokerClientIdOf(ticket.sessionId, ticket.playerId),
      will: player.will,
      reconnectMs: 1000,
      connectTimeoutMs: opts.connectTimeoutMs ?? 15_000,
    });
  } catch (err) {
    throw clientError('host_lost', `cannot reach the game's MQTT broker ${m.brokerUrl}: ${(err as Error).message}`, { cause: err });
  }
  const driver = new MqttDriver<Ext>(link, player, topicIdOf(ticket.playerId));
  const game = GameSession.fromDriver(
    driver,
    { sessionId: ticket.sessionId, playerId: ticket.playerId, state: 'waiting', players: [], hostGameVersion: '' },
    opts,
  );
  driver.start();
  return game;
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
  ) {
    this.link = link;
    this.player = player;
    link.on('message', (msg) => this.#run(() => player.receive({ topic: msg.topic, payload: msg.payload, retained: msg.retained }, Date.now())));
    link.on('reconnected', () => {
      this.reconnects++;
      this.#run(() => [...player.start(Date.now()), ...player.resync(Date.now())]);
    });
  }

  start(): void {
    this.#run(() => this.player.start(Date.now()));
  }

  attach(sink: DriverSink): void {
    this.#sink = sink;
    for (const ev of this.#early.splice(0)) sink.event(ev);
  }

  /** A turn-based player is ready once registered: its registration is its ready. */
  async ready(ready: boolean, timeoutMs: number): Promise<void> {
    if (!ready) throw clientError.as('usage', 'not_supported', 'a turn-based MQTT session has no "not ready": leave instead');
    if (this.#registered) return;
    await this.#wait(this.#registeredWaiters, timeoutMs, 'registering with the host');
  }

  async action(ext: Ext, timeoutMs: number): Promise<Ext | undefined> {
    if (!this.player.ready) await this.#wait(this.#readyWaiters, timeoutMs, 'waiting for the round');
    const answer = new Promise<unknown>((resolve, reject) => this.#moves.push({ resolve, reject }));
    let actions: PlayerAction[];
    try {
      actions = this.player.move(GAME_ACTION, ext, Date.now());
    } catch (err) {
      this.#moves.pop();
      throw err;
    }
    this.#run(() => actions);
    return (await withTimeout(answer, timeoutMs, 'the move')) as Ext | undefined;
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
    if (this.#closed) return;
    this.#closed = true;
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
              inFlight.push(this.link.publish(a.topic, a.payload, { qos: a.qos, retain: a.retain }));
              break;
            case 'subscribe':
              await this.link.subscribe(a.topics, a.qos);
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
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(clientError('timeout', `${what} got no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
