import { TypedEmitter } from '../events/emitter.js';
import type { AllowList, AllowListEvent } from './allow-list.js';
import type { HostSessionEvent } from './events.js';
import type { SessionView } from './session.js';
import { SessionTable, type AdmissionRequest, type ConnectionBinding, type HostLoad, type SessionTableOptions } from './session-table.js';
import type { ActionResult, AdmissionResult, CreateResult, ExpectedPlayer, GameResults, SessionSpec } from './types.js';

export interface HostSessionsEvents {
  /** what the table decided: rosters, admissions, begins, closes, ends (transports, the game, the outbox) */
  session: HostSessionEvent;
  /** a source address to let through or to drop again (the transports' packet filters) */
  allow: AllowListEvent;
}

export interface HostSessionsOptions extends SessionTableOptions {
  /** a listener threw; the table's state is already changed and the other listeners still run */
  onListenerError?: (err: unknown) => void;
}

/** What a driver's user may read of the allow-list; only the table changes it. */
export type AllowListView = Pick<AllowList, 'allows' | 'has' | 'keys' | 'refCount' | 'size'>;

/**
 * The session table's driver: transports and the server call the table through it, and after each
 * call it delivers what the call queued, allow-list changes first (a filter lets a player through
 * before anyone is told to expect it), then the table's events in order. A listener may call back
 * in: its call's allow-list changes go out at once, its table events after the event being
 * delivered, so no listener sees the table half-way through a change.
 */
export class HostSessions extends TypedEmitter<HostSessionsEvents> {
  readonly #table: SessionTable;
  #delivering = false;

  constructor(opts: HostSessionsOptions) {
    super();
    const { onListenerError, ...table } = opts;
    this.#table = new SessionTable(table);
    if (onListenerError) this.setListenerErrorHandler(onListenerError);
  }

  get allowList(): AllowListView {
    return this.#table.allowList;
  }

  // ---- inputs: each delivers the events it caused before it returns ----

  create(spec: SessionSpec, now: number): CreateResult {
    return this.#run(this.#table.create(spec, now));
  }

  addPlayers(sessionId: string, players: readonly ExpectedPlayer[], now: number): CreateResult {
    return this.#run(this.#table.addPlayers(sessionId, players, now));
  }

  admit(req: AdmissionRequest, now: number): AdmissionResult {
    return this.#run(this.#table.admit(req, now));
  }

  ready(connectionId: string, now: number): ActionResult {
    return this.#run(this.#table.ready(connectionId, now));
  }

  unready(connectionId: string, now: number): ActionResult {
    return this.#run(this.#table.unready(connectionId, now));
  }

  leave(connectionId: string, now: number): ActionResult {
    return this.#run(this.#table.leave(connectionId, now));
  }

  connectionClosed(connectionId: string, now: number): ActionResult {
    return this.#run(this.#table.connectionClosed(connectionId, now));
  }

  removePlayer(sessionId: string, playerId: string, now: number): ActionResult {
    return this.#run(this.#table.removePlayer(sessionId, playerId, now));
  }

  end(sessionId: string, results: GameResults, now: number): ActionResult {
    return this.#run(this.#table.end(sessionId, results, now));
  }

  cancel(sessionId: string, now: number, detail?: string): ActionResult {
    return this.#run(this.#table.cancel(sessionId, now, detail));
  }

  tick(now: number): void {
    return this.#run(this.#table.tick(now));
  }

  // ---- views ----

  load(): HostLoad {
    return this.#table.load();
  }

  connection(connectionId: string): ConnectionBinding | undefined {
    return this.#table.connection(connectionId);
  }

  nextDeadline(): number | undefined {
    return this.#table.nextDeadline();
  }

  session(sessionId: string): SessionView | undefined {
    return this.#table.session(sessionId);
  }

  sessions(): SessionView[] {
    return this.#table.sessions();
  }

  /** Delivers what the last input queued; `result` is the input's answer, passed through. */
  #run<T>(result: T): T {
    for (const e of this.#table.allowList.takeEvents()) this.emit('allow', e);
    // a call made by a listener: the outer loop delivers its table events after the current one
    if (this.#delivering) return result;
    this.#delivering = true;
    try {
      const pending = this.#table.takeEvents();
      for (let i = 0; i < pending.length; i++) {
        this.emit('session', pending[i]!);
        pending.push(...this.#table.takeEvents());
      }
    } finally {
      this.#delivering = false;
    }
    return result;
  }
}
