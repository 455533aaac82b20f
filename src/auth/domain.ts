import { TypedEmitter } from '../events/emitter.js';
import { HostRegistry, type HostRegistryEvent, type HostRegistryOptions } from './host-registry.js';
import { Lobbies, type LobbyEvent, type LobbyOptions } from './lobbies.js';
import { Matchmaker, type MatchmakerOptions, type MatchmakingEvent } from './matchmaking.js';
import { PartyQueue } from './parties.js';
import { Sessions, type AuthSessionEvent, type SessionOptions } from './sessions.js';

export interface AuthDomainEvents {
  /** a lobby changed (with a snapshot of it after the change): its members hear it */
  lobby: LobbyEvent;
  /** a ticket was queued or removed, a match proposed, accepted, confirmed or failed */
  match: MatchmakingEvent;
  /** a host registered, unregistered or missed its heartbeats */
  host: HostRegistryEvent;
  /** a session record changed (created, handed off, ended, failed, lost) */
  session: AuthSessionEvent;
}

export interface AuthDomainOptions {
  lobbies?: LobbyOptions;
  matchmaker?: MatchmakerOptions;
  registry?: HostRegistryOptions;
  sessions?: SessionOptions;
  /** the parties' clock (their tickets are queued and cancelled at this time); default Date.now */
  now?: () => number;
  /** a listener threw; the cores' state is already changed and the other listeners still run */
  onListenerError?: (err: unknown) => void;
}

/**
 * The Auth server's domain cores (lobbies, matchmaker, host registry, session records) and their
 * driver. Each core queues its events; every call through the fields here is an input, and the
 * events it caused are delivered before it returns (for the session records, whose store is
 * asynchronous, before its promise settles). Lobby and matchmaking events reach the party queue
 * first, then the listeners. A listener may call back in: what its call queues is delivered after
 * the event being delivered, so no listener sees a core half-way through a change.
 */
export class AuthDomain extends TypedEmitter<AuthDomainEvents> {
  readonly lobbies: Lobbies;
  readonly matchmaker: Matchmaker;
  readonly registry: HostRegistry;
  readonly sessions: Sessions;
  /** lobbies queued as matchmaking parties */
  readonly parties: PartyQueue;
  readonly #cores: { lobbies: Lobbies; matchmaker: Matchmaker; registry: HostRegistry; sessions: Sessions };
  #delivering = false;

  constructor(opts: AuthDomainOptions = {}) {
    super();
    if (opts.onListenerError) this.setListenerErrorHandler(opts.onListenerError);
    this.#cores = {
      lobbies: new Lobbies(opts.lobbies),
      matchmaker: new Matchmaker(opts.matchmaker),
      registry: new HostRegistry(opts.registry),
      sessions: new Sessions(opts.sessions),
    };
    const deliver = () => this.#deliver();
    this.lobbies = driven(this.#cores.lobbies, deliver);
    this.matchmaker = driven(this.#cores.matchmaker, deliver);
    this.registry = driven(this.#cores.registry, deliver);
    this.sessions = driven(this.#cores.sessions, deliver);
    this.parties = new PartyQueue(this.lobbies, this.matchmaker, opts.now);
  }

  /**
   * Releases tickets held by sessions that are no longer live although no event said so here: they
   * ended through another Auth node (a cluster shares the session records), or in the moment between
   * a ticket's look-up and its enqueue. Call on a cadence (the server's tick).
   */
  async releaseHolds(now: number): Promise<void> {
    const held = this.matchmaker.heldSessions();
    if (held.length === 0) return;
    for (const id of await this.sessions.overOf(held)) this.matchmaker.sessionOver(id, now);
  }

  #deliver(): void {
    if (this.#delivering) return;
    this.#delivering = true;
    try {
      for (;;) {
        const { lobbies, matchmaker, registry, sessions } = this.#cores;
        const batch = [lobbies.takeEvents(), matchmaker.takeEvents(), registry.takeEvents(), sessions.takeEvents()] as const;
        if (batch.every((b) => b.length === 0)) return;
        for (const e of batch[0]) {
          this.parties.lobbyChanged(e);
          this.emit('lobby', e);
        }
        for (const e of batch[1]) {
          this.parties.matchmakingChanged(e);
          this.emit('match', e);
        }
        for (const e of batch[2]) this.emit('host', e);
        for (const e of batch[3]) {
          // a ticket its players queued before we heard that their session ended may be matched now
          if (e.type === 'ended' || e.type === 'failed' || e.type === 'lost') this.#cores.matchmaker.sessionOver(e.session.id, e.session.updatedAt);
          this.emit('session', e);
        }
      }
    } finally {
      this.#delivering = false;
    }
  }
}

/**
 * `core` as its users see it: each method call is an input after which `deliver` runs (once the
 * promise settles, for an asynchronous one), so callers need not know which calls queue events.
 * Properties and getters read the core itself.
 */
function driven<C extends object>(core: C, deliver: () => void): C {
  const methods = new Map<PropertyKey, unknown>();
  return new Proxy(core, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key, target);
      if (typeof value !== 'function' || key === 'takeEvents') return value;
      let method = methods.get(key);
      if (method === undefined) {
        method = (...args: unknown[]) => {
          let result: unknown;
          try {
            result = (value as (...a: unknown[]) => unknown).apply(target, args);
          } finally {
            deliver();
          }
          return result instanceof Promise ? result.finally(deliver) : result;
        };
        methods.set(key, method);
      }
      return method;
    },
  });
}
