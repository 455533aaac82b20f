import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { IyesmpError } from '../errors.js';
import { errInfo } from './err-info.js';
import { authError } from './errors.js';
import type { TicketRequest } from './matchmaking.js';

/**
 * Several Auth nodes serving one deployment (docs/store.md). They share one database for state,
 * and a message bus for what must happen now: a bus implementation (src/store: PostgreSQL
 * LISTEN/NOTIFY, with an advisory lock electing the matchmaking leader) carries `ClusterMessage`s.
 *
 * One node at a time, the leader, runs the matchmaker: the other nodes forward their players'
 * queue, confirm, decline and cancel requests to it, and their claims to the node that runs the
 * session's hand-off. Notices for a player not connected here (match.found, session.ready, lobby
 * updates) are sent on the bus; the node holding the player delivers them. A ban is announced so
 * every node kicks the player. When the leader goes, another takes the lock, and every node sends
 * it again the tickets its players still wait on.
 */
export interface ClusterBus {
  readonly node: string;
  /** `to`: a node name, or '*' for every node (the sender included) */
  send(to: string, msg: ClusterMessage): Promise<void>;
  onMessage(listener: (from: string, msg: ClusterMessage) => void): void;
  /** the node that runs the matchmaker now, if one is known */
  leader(): string | undefined;
  onLeaderChange(listener: (leader: string | undefined) => void): void;
  close(): Promise<void>;
}

/**
 * `lobbyEnded`: a lobby's game ended, failed or was lost as another node than the lobby's saw it; the
 * lobby's node closes the lobby (ended) or opens it again (failed, lost: the reason)
 */
export type ClusterOp = 'enqueue' | 'cancel' | 'cancelFor' | 'accept' | 'decline' | 'claim' | 'lobby' | 'lobbyEnded';
/** lobby requests a member connected to another node sends to the lobby's node (besides `join`) */
export type LobbyOp = 'leave' | 'setReady' | 'start' | 'kick' | 'setOwner';

/**
 * What a player whose protocol is older than a notice's `minMinor` gets instead (the same news in an
 * event it knows). A node that does not know this field delivers the notice as before, to players
 * of `minMinor` and later only.
 */
export interface OlderNotice {
  type: string;
  body: unknown;
}

export type ClusterMessage =
  | { t: 'notify'; playerId: string; minMinor: number; type: string; body: unknown; older?: OlderNotice }
  | { t: 'kick'; playerId: string; code: string; reason: string }
  | { t: 'call'; id: string; op: ClusterOp; args: unknown[] }
  | { t: 'reply'; id: string; ok: true; value: unknown }
  | { t: 'reply'; id: string; ok: false; error: { kind: string; code: string; message: string } };

/** What the coordinator needs from the Auth server (AuthServer implements it). */
export interface ClusterHost {
  readonly logger: Logger;
  /** runs a forwarded request here (this node is the leader, or runs the session) */
  perform(op: ClusterOp, args: unknown[], from: string): Promise<unknown>;
  /** delivers a notice (or to a player older than `minMinor`, `older` if given) to a player connected here; false when it is not */
  deliverLocal(playerId: string, minMinor: number, type: string, body: unknown, older?: OlderNotice): boolean;
  kickLocal(playerId: string, code: string, reason: string): void;
  /** this node took the lead from `previous` (gone): what it held is stale */
  tookOverFrom?(previous: string): void;
}

/** Requests a node that does not run the matchmaker (or the session) forwards (ClientEndpointContext.forward). */
export interface ForwardingOps {
  enqueue(req: TicketRequest, displayNames: Record<string, string>): Promise<{ id: string }>;
  cancel(ticketId: string, playerId: string): Promise<void>;
  /** `offer` (1.3): the player's public key and address, for the leader's hand-off */
  accept(matchId: string, playerId: string, offer?: { publicKey?: Uint8Array; address: string }): Promise<void>;
  decline(matchId: string, playerId: string): Promise<void>;
}

/** The request forwarded to the leader when a player of another node queues. */
export interface ForwardedTicket {
  req: TicketRequest;
  displayNames: Record<string, string>;
}

export class ClusterCoordinator {
  readonly bus: ClusterBus;
  readonly #host: ClusterHost;
  readonly #calls = new Map<string, { resolve: (v: unknown) => void; reject: (e: unknown) => void; timer: NodeJS.Timeout }>();
  /** tickets this node forwarded, by ticket id, so a new leader gets them again */
  readonly #forwarded = new Map<string, ForwardedTicket & { playerIds: string[] }>();
  /** which node runs each session's hand-off (learnt from the session.ready it relayed) */
  readonly #sessionNode = new Map<string, string>();
  readonly #callTimeoutMs: number;

  constructor(bus: ClusterBus, host: ClusterHost, opts: { callTimeoutMs?: number } = {}) {
    this.bus = bus;
    this.#host = host;
    this.#callTimeoutMs = opts.callTimeoutMs ?? 10_000;
    bus.onMessage((from, msg) => this.#received(from, msg));
    let previous: string | undefined;
    const changed = (leader: string | undefined) => {
      if (leader === undefined) return;
      this.#host.logger.info({ leader, me: bus.node }, 'matchmaking leader');
      if (leader === bus.node && previous !== undefined && previous !== bus.node) this.#host.tookOverFrom?.(previous);
      previous = leader;
      void this.#reforward(leader);
    };
    bus.onLeaderChange(changed);
    // the bus may have learnt the leader before this coordinator existed
    const known = bus.leader();
    if (known !== undefined) queueMicrotask(() => changed(known));
  }

  get isLeader(): boolean {
    return this.bus.leader() === this.bus.node;
  }

  /** Calls `op` on `node` and resolves its answer (errors come back as IyesmpErrors with their code). */
  call(node: string, op: ClusterOp, args: unknown[]): Promise<unknown> {
    const id = randomUUID();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#calls.delete(id);
        reject(authError('cluster_timeout', `Auth node ${node} did not answer ${op} in time`));
      }, this.#callTimeoutMs);
      this.#calls.set(id, { resolve, reject, timer });
      this.bus.send(node, { t: 'call', id, op, args }).catch((err: unknown) => {
        clearTimeout(timer);
        this.#calls.delete(id);
        reject(err);
      });
    });
  }

  /** The leader, or a clear error when none is known yet. */
  leaderOrThrow(): string {
    const l = this.bus.leader();
    if (l === undefined) throw authError('cluster_no_leader', 'no Auth node runs the matchmaker right now; try again shortly');
    return l;
  }

  /** Queues on the leader and remembers the ticket until it is matched or cancelled. */
  async enqueue(t: ForwardedTicket): Promise<{ id: string }> {
    const r = (await this.call(this.leaderOrThrow(), 'enqueue', [t])) as { id: string };
    this.#forwarded.set(r.id, { ...t, playerIds: [...t.req.players] });
    return r;
  }

  /** A ticket of ours was matched, cancelled or removed: stop re-sending it. */
  forgetPlayer(playerId: string): void {
    for (const [id, t] of this.#forwarded) if (t.playerIds.includes(playerId)) this.#forwarded.delete(id);
  }

  /** Whether another node runs this session's hand-off (learnt from the session.ready it relayed). */
  runsElsewhere(sessionId: string): boolean {
    const n = this.#sessionNode.get(sessionId);
    return n !== undefined && n !== this.bus.node;
  }

  /** The node running this session's hand-off (the leader unless learnt otherwise). */
  sessionNode(sessionId: string): string {
    return this.#sessionNode.get(sessionId) ?? this.leaderOrThrow();
  }

  /**
   * Sends a notice to whichever node holds the player (every node hears it; the one holding the
   * player delivers), to a player older than `minMinor` as `older` when given.
   */
  relay(playerId: string, minMinor: number, type: string, body: unknown, older?: OlderNotice): void {
    this.bus
      .send('*', { t: 'notify', playerId, minMinor, type, body, ...(older ? { older } : {}) })
      .catch((err: unknown) => this.#host.logger.warn({ err: errInfo(err) }, 'cluster relay failed'));
  }

  kickEverywhere(playerId: string, code: string, reason: string): void {
    this.bus.send('*', { t: 'kick', playerId, code, reason }).catch((err: unknown) => this.#host.logger.warn({ err: errInfo(err) }, 'cluster kick failed'));
  }

  async close(): Promise<void> {
    for (const c of this.#calls.values()) {
      clearTimeout(c.timer);
      c.reject(authError('cluster_timeout', 'the Auth node is shutting down'));
    }
    this.#calls.clear();
    await this.bus.close();
  }

  #received(from: string, msg: ClusterMessage): void {
    switch (msg.t) {
      case 'notify': {
        if (from === this.bus.node) return; // delivered locally before it was relayed
        if (!this.#host.deliverLocal(msg.playerId, msg.minMinor, msg.type, msg.body, msg.older)) return;
        if (msg.type === 'session.ready' || msg.type === 'session.handoff') {
          // a pushed hand-off (1.3) names its session inside
          const b = msg.body as { sessionId?: string; handoff?: { sessionId?: string } };
          const sid = b.sessionId ?? b.handoff?.sessionId;
          if (sid) {
            this.#sessionNode.set(sid, from);
            // bounded: a claim comes within minutes of its session.ready; the oldest are long settled
            if (this.#sessionNode.size > 10_000) this.#sessionNode.delete(this.#sessionNode.keys().next().value!);
          }
        }
        if (
          msg.type === 'session.ready' ||
          msg.type === 'session.handoff' ||
          msg.type === 'match.dequeued' ||
          (msg.type === 'match.cancelled' && !(msg.body as { requeued?: boolean }).requeued)
        ) {
          this.forgetPlayer(msg.playerId);
        }
        return;
      }
      case 'kick':
        if (from !== this.bus.node) this.#host.kickLocal(msg.playerId, msg.code, msg.reason);
        return;
      case 'call':
        this.#host.perform(msg.op, msg.args, from).then(
          (value) => this.bus.send(from, { t: 'reply', id: msg.id, ok: true, value: value ?? null }),
          (err: unknown) => {
            const e = err instanceof IyesmpError ? err : authError('cluster_failed', (err as Error)?.message ?? String(err));
            return this.bus.send(from, { t: 'reply', id: msg.id, ok: false, error: { kind: e.kind, code: e.code, message: e.message } });
          },
        );
        return;
      case 'reply': {
        const c = this.#calls.get(msg.id);
        if (!c) return;
        clearTimeout(c.timer);
        this.#calls.delete(msg.id);
        if (msg.ok) c.resolve(msg.value);
        else c.reject(new IyesmpError(msg.error.kind as never, msg.error.code, msg.error.message));
        return;
      }
    }
  }

  /** A new leader knows none of the tickets the old one held: send ours again. */
  async #reforward(leader: string): Promise<void> {
    const pending = [...this.#forwarded.entries()];
    this.#forwarded.clear();
    for (const [id, t] of pending) {
      try {
        // the same ticket id: its players follow it (match.found names it)
        const args = [{ req: { ...t.req, id }, displayNames: t.displayNames }];
        // this node took the lead itself: its own matchmaker takes the tickets it had sent away
        if (leader === this.bus.node) {
          await this.#host.perform('enqueue', args, this.bus.node);
          continue;
        }
        const r = (await this.call(leader, 'enqueue', args)) as { id: string };
        this.#forwarded.set(r.id, t);
      } catch (err) {
        this.#host.logger.warn({ err: errInfo(err), players: t.playerIds }, 'could not hand a ticket to the new matchmaking leader');
      }
    }
    if (pending.length > 0) this.#host.logger.info({ leader, tickets: pending.length }, 'tickets handed to the new matchmaking leader');
  }
}
