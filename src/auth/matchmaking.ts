import { matchmakingError } from './errors.js';
import { EventQueue } from '../events/queue.js';

/**
 * Matchmaking queue, sans-IO: callers pass `now` (ms) into every method and call `tick(now)` on a
 * cadence of their choosing; the same inputs always give the same matches.
 *
 * Rules, per bucket (mode + players per match; tickets never meet across buckets):
 * - A ticket is a party of 1..matchSize players; a party is never split.
 * - The line is processed in order; each ticket in turn is the *anchor* of a match attempt, so the
 *   front of the line gets the first chance. Tickets put back after a failed confirm go to the front.
 * - Region: every member must list the match's region. A ticket with no list, or that has waited
 *   `regionFallbackMs`, accepts any region (but as an anchor still tries its own list first).
 * - Rating (modes with `rating` rules): every member's rating must be within the anchor's window of
 *   the anchor's rating. The window is `baseWindow + widenPerSecond * waited`, capped at `maxWindow`.
 *   The front of the line has usually waited longest, so its window is normally the widest.
 * - Candidates are taken nearest rating first, and an exact fill of the remaining seats with whole
 *   parties is found with a small subset-sum table, so a party of 3 is not stuck behind a party of 2.
 * - A formed match is *proposed*: every player must accept before `confirmTimeoutMs`. All accept:
 *   `confirmed` (hand it off). A decline or a timeout removes the decliner's / non-responder's ticket
 *   and puts the other tickets back at the front of the line with their original wait time.
 * - A ticket whose players are still in a live game session (`heldBy`: the caller looks them up) is
 *   queued but held out of matching until each of those sessions is over (`sessionOver`), then
 *   matched from its place in line: a player who queues the moment its result arrives may reach us
 *   before the host's report that the session ended. A hold lasts at most `maxHoldMs`; then the
 *   ticket is removed (`in_session`), so a session whose end never reaches us does not keep its
 *   players queued for ever.
 * - Likewise a ticket whose players are in a match confirmed here that is still being set up (the
 *   caller's hand-off has not said `setUpOver`): no session record exists yet, so the caller's
 *   look-up finds nothing, and matched now the new match would fail at its session's creation (the
 *   player is busy). The hold is then on the match's id; `setUpOver(matchId, sessionId)` moves it to
 *   the session that match became, or (no session: the set-up failed) releases it. A match whose
 *   set-up is never reported over stops holding after `maxHoldMs`. A start the caller sets up
 *   without us (a lobby's) holds its players the same way from `setUpStarted`.
 * - At most `maxMatchesInFlight` matches are in flight: proposed and unanswered, plus those the caller
 *   says it is still handing off (`tick`'s `handingOff`). A tick proposes only into the room left,
 *   earliest anchors in line first across all buckets; the rest wait in line. A burst of tickets
 *   then meets an Auth that can hand off what it proposes before the confirmation deadline passes,
 *   instead of proposals piling up behind its own work and expiring.
 */

export interface RatingRules {
  /** Rating difference accepted at once. */
  baseWindow: number;
  /** Added to the window per second waited. */
  widenPerSecond: number;
  /** The window never grows beyond this. */
  maxWindow: number;
}

export interface ModeRules {
  /** Absent: ratings are ignored for this mode. Present: every ticket must carry a rating. */
  rating?: RatingRules;
  /** After waiting this long a ticket accepts any region (default 30 s; Infinity never). */
  regionFallbackMs?: number;
  /** Time every player has to accept a proposed match (default 15 s). */
  confirmTimeoutMs?: number;
  /** Candidates examined per anchor and region, bounding the work of one tick (default 256). */
  maxCandidates?: number;
}

export interface TicketRequest {
  /** The party: these players are matched together or not at all. */
  players: string[];
  mode: string;
  /** Players per match. */
  matchSize: number;
  /** Preferred regions, best first. Empty or absent: any region. */
  regions?: string[];
  /** The party's rating (the caller decides how a party's ratings combine). */
  rating?: number;
  /** Game data carried through to the match, opaque to us. */
  ext?: unknown;
  /**
   * Live game sessions some member is still in (ids): the ticket waits out of matching until each
   * is over (`sessionOver`) or `maxHoldMs` has passed.
   */
  heldBy?: string[];
  /**
   * The ticket's id, when it is not new: a ticket another Auth node held, handed over when that
   * node went (its players follow this id). Default: a fresh one.
   */
  id?: string;
}

export interface Ticket {
  id: string;
  players: string[];
  mode: string;
  matchSize: number;
  regions: string[];
  rating: number | undefined;
  ext?: unknown;
  /** When the wait began; kept across re-queues so time already waited still counts. */
  waitingSince: number;
  /** The live sessions (or confirmed matches still being set up) holding it out of matching; absent when it may be matched. */
  heldBy?: string[];
  /**
   * Only on the ticket `enqueue` returns: a rough wait (ms), the matches ahead of it in its queue
   * over the rate matches were confirmed lately. Absent when no rate is known yet or when its
   * match still needs players who have not queued.
   */
  estimatedWaitMs?: number;
}

export interface Match {
  id: string;
  mode: string;
  matchSize: number;
  /** The region every member accepts; undefined when nobody named one. */
  region: string | undefined;
  tickets: Ticket[];
  players: string[];
  proposedAt: number;
  /** Accept before this time (ms). */
  deadline: number;
  accepted: string[];
}

/** `in_session`: held for `maxHoldMs` and a session of its players had still not ended. */
export type RemovalReason = 'cancelled' | 'declined' | 'timeout' | 'in_session';

export interface MatchmakingEvents {
  queued: { ticket: Ticket };
  /** A ticket left the queue for good (not by being matched). */
  removed: { ticket: Ticket; reason: RemovalReason; matchId?: string };
  /** Ask these players to accept. */
  proposed: { match: Match };
  accepted: { match: Match; playerId: string };
  /** Everyone accepted: hand the match off to a host. Its players are free to queue again. */
  confirmed: { match: Match };
  /** The proposal failed; `requeued` tickets are back at the front of the line. */
  failed: { match: Match; reason: 'declined' | 'timeout' | 'cancelled'; removed: Ticket[]; requeued: Ticket[] };
}
/** What the Matchmaker core queues: one of its events, named by `type`. */
export type MatchmakingEvent = { [K in keyof MatchmakingEvents]: { type: K } & MatchmakingEvents[K] }[keyof MatchmakingEvents];

export interface MatchmakerOptions {
  /** Rules by mode name; modes not listed use `defaults`. */
  modes?: Record<string, ModeRules>;
  defaults?: ModeRules;
  /** Largest matchSize accepted (default 128). */
  maxMatchSize?: number;
  /**
   * Matches in flight at most: proposed and not answered yet, plus those still being handed off
   * (`tick`'s `handingOff`). Default 128: at most about 3 s of the Auth's hand-off work at ~25 ms
   * each, well inside a confirmation deadline, while players who take seconds to confirm still
   * leave room for 20+ matches/s (the cap over the time a match spends in flight). Infinity: no cap.
   */
  maxMatchesInFlight?: number;
  /**
   * How long a ticket may be held out of matching because its players are in a live session
   * (`TicketRequest.heldBy`) before it is removed instead (default 60 s: a host reports a session's
   * end within moments, and a host that dies is noticed sooner, which ends its sessions). Also how
   * long a confirmed match whose set-up is never reported over (`setUpOver`) holds its players.
   */
  maxHoldMs?: number;
  newTicketId?: () => string;
  newMatchId?: () => string;
}

interface QTicket extends Ticket {
  /** Position in the line: smaller goes first. Negative for tickets put back at the front. */
  line: number;
  /** Set while matched inside one tick (so indexes skip it). */
  taken: boolean;
  matchId: string | undefined;
  /** The bucket it is queued in, if queued. */
  bucket: Bucket | undefined;
  /** Live sessions holding it out of matching (in its bucket's `held`); undefined when eligible. */
  holds: Set<string> | undefined;
  /** While held: removed at this time if still held. */
  heldUntil: number;
  /** Neighbours in its bucket's line (earlier, later) while queued and not held. */
  prev: QTicket | undefined;
  next: QTicket | undefined;
}

interface Bucket {
  key: string;
  mode: string;
  matchSize: number;
  rules: Required<Omit<ModeRules, 'rating'>> & { rating: RatingRules | undefined };
  /** Tickets that may be matched (and `players`, their players). */
  queued: Map<string, QTicket>;
  players: number;
  /** Tickets held out of matching while their players are in a live session. */
  held: Map<string, QTicket>;
  heldPlayers: number;
  /**
   * The line in order, kept as tickets come and go (no sort per tick): new tickets join at the back
   * (their line numbers only grow), tickets put back join at the front (theirs only shrink), and a
   * ticket released from a hold goes back to its place from the back.
   */
  head: QTicket | undefined;
  tail: QTicket | undefined;
}

interface PendingMatch extends Omit<Match, 'tickets' | 'accepted'> {
  tickets: QTicket[];
  accepted: Set<string>;
  bucket: Bucket;
}

const NO_REGION = '';
/** Default `maxMatchesInFlight`. */
export const MAX_MATCHES_IN_FLIGHT = 128;
/** Confirmations remembered for the wait estimate, and how old the oldest one may be. */
const RATE_SAMPLES = 64;
const RATE_WINDOW_MS = 60_000;
const MAX_ESTIMATE_MS = 86_400_000;
/** Default `maxHoldMs`. */
export const MAX_HOLD_MS = 60_000;

export class Matchmaker {
  readonly #events = new EventQueue<MatchmakingEvent>();
  readonly #opts: MatchmakerOptions;
  readonly #buckets = new Map<string, Bucket>();
  readonly #ticketOfPlayer = new Map<string, QTicket>();
  readonly #tickets = new Map<string, QTicket>();
  readonly #matches = new Map<string, PendingMatch>();
  /** Held tickets by the session (or match being set up) holding them. */
  readonly #heldBySession = new Map<string, Set<QTicket>>();
  /** Confirmed matches still being set up (no `setUpOver` yet): their players, and when to stop holding for them. */
  readonly #settingUp = new Map<string, { players: string[]; until: number }>();
  /** Player -> the confirmed match it is being set up in. */
  readonly #settingUpOf = new Map<string, string>();
  /** When the latest matches were confirmed, oldest first (at most RATE_SAMPLES). */
  readonly #confirmedAt: number[] = [];
  readonly #maxInFlight: number;
  readonly #maxHoldMs: number;
  #back = 0;
  #front = 0;
  #ids = 0;

  constructor(opts: MatchmakerOptions = {}) {
    const cap = opts.maxMatchesInFlight ?? MAX_MATCHES_IN_FLIGHT;
    if (!(cap >= 1) || (Number.isFinite(cap) && !Number.isInteger(cap))) {
      throw matchmakingError('mm.bad_request', `maxMatchesInFlight must be a whole number of at least 1 (or Infinity), got ${String(cap)}`);
    }
    const hold = opts.maxHoldMs ?? MAX_HOLD_MS;
    if (!(hold >= 0)) throw matchmakingError('mm.bad_request', `maxHoldMs must be 0 or more (or Infinity), got ${String(hold)}`);
    this.#opts = opts;
    this.#maxInFlight = cap;
    this.#maxHoldMs = hold;
  }

  /** Everything queued since the last take, oldest first (the driver delivers it after each input). */
  takeEvents(): MatchmakingEvent[] {
    return this.#events.take();
  }

  /** Window (rating difference accepted) for a ticket of this mode that has waited `waitedMs`. */
  ratingWindow(mode: string, waitedMs: number): number {
    const r = this.#rulesFor(mode).rating;
    return r ? windowOf(r, waitedMs) : Infinity;
  }

  enqueue(req: TicketRequest, now: number): Ticket {
    const maxSize = this.#opts.maxMatchSize ?? 128;
    const bad = (why: string) => matchmakingError('mm.bad_request', why);
    if (typeof req.mode !== 'string' || req.mode.length === 0 || req.mode.length > 64) throw bad('mode must be a string of 1-64 characters');
    if (!Number.isInteger(req.matchSize) || req.matchSize < 1 || req.matchSize > maxSize) {
      throw bad(`matchSize must be a whole number from 1 to ${maxSize}`);
    }
    if (!Array.isArray(req.players) || req.players.length === 0 || req.players.some((p) => typeof p !== 'string')) {
      throw bad('players must be a non-empty list of player ids');
    }
    if (new Set(req.players).size !== req.players.length) throw bad('a player appears twice in the party');
    if (req.players.length > req.matchSize) throw bad(`a party of ${req.players.length} cannot fit a match of ${req.matchSize}`);
    const regions = req.regions ?? [];
    if (!Array.isArray(regions) || regions.some((r) => typeof r !== 'string' || r.length === 0) || regions.length > 16) {
      throw bad('regions must be a list of up to 16 region names');
    }
    if (req.rating !== undefined && !Number.isFinite(req.rating)) throw bad('rating must be a finite number');
    const heldBy = req.heldBy ?? [];
    if (!Array.isArray(heldBy) || heldBy.some((id) => typeof id !== 'string' || id.length === 0)) throw bad('heldBy must be a list of session ids');
    // a member's match still being set up holds the ticket too (no session record to find yet)
    const settingUp = req.players.flatMap((p) => this.#settingUpOf.get(p) ?? []);
    const rules = this.#rulesFor(req.mode);
    if (rules.rating && req.rating === undefined) {
      throw matchmakingError('mm.rating_required', `mode "${req.mode}" is rated: the ticket needs a rating`);
    }
    for (const p of req.players) {
      const t = this.#ticketOfPlayer.get(p);
      if (t) throw matchmakingError('mm.already_queued', `player ${p} is already queued (ticket ${t.id})`);
    }
    const t: QTicket = {
      id: (req.id !== undefined && !this.#tickets.has(req.id) ? req.id : undefined) ?? this.#opts.newTicketId?.() ?? `tkt_${(++this.#ids).toString(36)}`,
      players: [...req.players],
      mode: req.mode,
      matchSize: req.matchSize,
      regions: [...new Set(regions)],
      rating: rules.rating ? req.rating : undefined,
      waitingSince: now,
      line: ++this.#back,
      taken: false,
      matchId: undefined,
      bucket: undefined,
      holds: undefined,
      heldUntil: 0,
      prev: undefined,
      next: undefined,
    };
    if (req.ext !== undefined) t.ext = req.ext;
    if (heldBy.length > 0 || settingUp.length > 0) {
      t.holds = new Set([...heldBy, ...settingUp]);
      t.heldUntil = now + this.#maxHoldMs;
      for (const id of t.holds) (this.#heldBySession.get(id) ?? this.#heldBySession.set(id, new Set()).get(id)!).add(t);
    }
    this.#tickets.set(t.id, t);
    for (const p of t.players) this.#ticketOfPlayer.set(p, t);
    this.#queue(t);
    this.#events.push({ type: 'queued', ticket: snap(t) });
    const out = snap(t);
    // a new ticket is at the back of its line: every other player queued in its bucket is ahead
    // (a held one waits for its session's end first: no estimate)
    const wait = t.holds ? undefined : this.#estimateWait(t.bucket!.players, t.matchSize, now);
    if (wait !== undefined) out.estimatedWaitMs = wait;
    return out;
  }

  /**
   * Session `sessionId` is over (ended, failed or lost): the tickets it held may be matched once no
   * other session holds them, from their place in line. Unknown ids are ignored.
   */
  sessionOver(sessionId: string, _now: number): void {
    const held = this.#heldBySession.get(sessionId);
    if (!held) return;
    this.#heldBySession.delete(sessionId);
    for (const t of held) {
      t.holds!.delete(sessionId);
      if (t.holds!.size > 0) continue;
      this.#unqueue(t);
      t.holds = undefined;
      this.#queue(t);
    }
  }

  /**
   * The set-up of confirmed match `matchId` is over: it became live session `sessionId` (the tickets
   * it held are held by that session now, until `sessionOver`), or it failed before any session
   * record existed (`sessionId` undefined: they are released). Unknown ids are ignored.
   */
  setUpOver(matchId: string, sessionId: string | undefined, now: number): void {
    const s = this.#settingUp.get(matchId);
    if (s) {
      this.#settingUp.delete(matchId);
      for (const p of s.players) if (this.#settingUpOf.get(p) === matchId) this.#settingUpOf.delete(p);
    }
    const held = this.#heldBySession.get(matchId);
    if (!held) return;
    if (sessionId === undefined || sessionId === matchId) {
      this.sessionOver(matchId, now);
      return;
    }
    this.#heldBySession.delete(matchId);
    const into = this.#heldBySession.get(sessionId) ?? this.#heldBySession.set(sessionId, new Set()).get(sessionId)!;
    for (const t of held) {
      t.holds!.delete(matchId);
      t.holds!.add(sessionId);
      into.add(t);
    }
  }

  /**
   * A start the caller sets up without us (a lobby's, by its id) holds its players' new tickets as
   * a confirmed match's does, until `setUpOver(id, ...)` or `maxHoldMs`.
   */
  setUpStarted(id: string, players: readonly string[], now: number): void {
    if (this.#settingUp.has(id)) return;
    this.#settingUp.set(id, { players: [...players], until: now + this.#maxHoldMs });
    for (const p of players) this.#settingUpOf.set(p, id);
  }

  /** The start (confirmed match, or one given to `setUpStarted`) a player is in that is still being set up. */
  settingUpOf(playerId: string): string | undefined {
    return this.#settingUpOf.get(playerId);
  }

  /** The sessions holding tickets now: the caller tells `sessionOver` of those no longer live. */
  heldSessions(): string[] {
    // matches being set up have no session record yet: `setUpOver` ends their holds
    return [...this.#heldBySession.keys()].filter((id) => !this.#settingUp.has(id));
  }

  /** Confirmed matches whose set-up has not been reported over (`setUpOver`). */
  get settingUp(): number {
    return this.#settingUp.size;
  }

  /** `playersThrough` players (this ticket's and those ahead) leave in whole matches at the recent rate. */
  #estimateWait(playersThrough: number, matchSize: number, now: number): number | undefined {
    if (playersThrough < matchSize) return undefined; // its match waits for players not queued yet
    const at = this.#confirmedAt;
    let first = 0;
    while (first < at.length && at[first]! < now - RATE_WINDOW_MS) first++;
    const samples = at.length - first;
    const span = now - at[first]!;
    if (samples < 2 || span <= 0) return undefined;
    const perMs = samples / span;
    // beyond a day the figure means nothing (and the wire caps durations)
    return Math.min(MAX_ESTIMATE_MS, Math.round(Math.ceil(playersThrough / matchSize) / perMs));
  }

  /** Cancel a ticket (by id). A ticket inside a proposed match counts as that match being declined. */
  cancel(ticketId: string, now: number): void {
    const t = this.#tickets.get(ticketId);
    if (!t) throw matchmakingError.as('conflict', 'mm.unknown_ticket', `no ticket ${ticketId} is queued`);
    if (t.matchId !== undefined) {
      this.#fail(this.#matches.get(t.matchId)!, new Set([t]), 'cancelled', now);
      return;
    }
    this.#unqueue(t);
    this.#forget(t);
    this.#events.push({ type: 'removed', ticket: snap(t), reason: 'cancelled' });
  }

  /** Cancel whatever ticket the player belongs to (any party member may). False if none. */
  cancelFor(playerId: string, now: number): boolean {
    const t = this.#ticketOfPlayer.get(playerId);
    if (!t) return false;
    this.cancel(t.id, now);
    return true;
  }

  /** The ticket (queued or in a proposed match) a player belongs to. */
  ticketOf(playerId: string): Ticket | undefined {
    const t = this.#ticketOfPlayer.get(playerId);
    return t && snap(t);
  }

  match(matchId: string): Match | undefined {
    const m = this.#matches.get(matchId);
    return m && matchSnap(m);
  }

  /** The cap on matches in flight (`maxMatchesInFlight`). */
  get maxMatchesInFlight(): number {
    return this.#maxInFlight;
  }

  get stats(): { queuedTickets: number; queuedPlayers: number; pendingMatches: number } {
    let tickets = 0;
    let players = 0;
    for (const b of this.#buckets.values()) {
      tickets += b.queued.size + b.held.size;
      players += b.players + b.heldPlayers;
    }
    return { queuedTickets: tickets, queuedPlayers: players, pendingMatches: this.#matches.size };
  }

  /** Queued tickets and players per bucket (mode and match size), for operators. */
  queues(): Array<{ mode: string; matchSize: number; tickets: number; players: number }> {
    return [...this.#buckets.values()].map((b) => ({
      mode: b.mode,
      matchSize: b.matchSize,
      tickets: b.queued.size + b.held.size,
      players: b.players + b.heldPlayers,
    }));
  }

  /** Tickets and players queued per game mode (the operator's queue sizes: metrics, admin views). */
  queuedByMode(): Map<string, { tickets: number; players: number }> {
    const out = new Map<string, { tickets: number; players: number }>();
    for (const q of this.queues()) {
      const m = out.get(q.mode) ?? out.set(q.mode, { tickets: 0, players: 0 }).get(q.mode)!;
      m.tickets += q.tickets;
      m.players += q.players;
    }
    return out;
  }

  accept(matchId: string, playerId: string, now: number): void {
    const m = this.#pending(matchId, playerId);
    if (m.accepted.has(playerId)) return;
    m.accepted.add(playerId);
    this.#events.push({ type: 'accepted', match: matchSnap(m), playerId });
    if (m.accepted.size === m.players.length) {
      this.#matches.delete(m.id);
      if (this.#confirmedAt.push(now) > RATE_SAMPLES) this.#confirmedAt.shift();
      for (const t of m.tickets) this.#forget(t);
      // until the caller's hand-off reports the set-up over, its players' new tickets are held
      this.setUpStarted(m.id, m.players, now);
      this.#events.push({ type: 'confirmed', match: matchSnap(m) });
    }
  }

  decline(matchId: string, playerId: string, now: number): void {
    const m = this.#pending(matchId, playerId);
    this.#fail(m, new Set([this.#ticketOfPlayer.get(playerId)!]), 'declined', now);
  }

  /**
   * Expire unconfirmed proposals, then form new matches, as many as `maxMatchesInFlight` leaves room
   * for beside the pending proposals and `load.handingOff` (confirmed matches the caller is still
   * handing off). Returns the matches proposed.
   */
  tick(now: number, load: { handingOff?: number } = {}): Match[] {
    this.#expireHolds(now);
    for (const m of [...this.#matches.values()]) {
      if (m.deadline <= now) {
        const silent = new Set(m.tickets.filter((t) => t.players.some((p) => !m.accepted.has(p))));
        this.#fail(m, silent, 'timeout', now);
      }
    }
    const room = this.#maxInFlight - this.#matches.size - Math.max(0, load.handingOff ?? 0);
    let groups: Array<{ b: Bucket; tickets: QTicket[]; region: string | undefined }> = [];
    if (room >= 1) {
      for (const b of this.#buckets.values()) {
        if (b.players < b.matchSize) continue;
        for (const g of formMatches(b, now, room)) groups.push({ b, ...g });
      }
    }
    if (groups.length > room) {
      // Line numbers are global (across buckets), so the earliest anchors in line go first; the
      // rest stay queued, unmarked, for a later tick.
      groups.sort((x, y) => x.tickets[0]!.line - y.tickets[0]!.line);
      for (const g of groups.slice(room)) for (const t of g.tickets) t.taken = false;
      groups = groups.slice(0, room);
    }
    // All state changes first, then the events: a listener reacting to one proposal (say, by
    // cancelling a ticket) must find every proposal of this tick already in place.
    const proposed = groups.map((g) => this.#propose(g.b, g.tickets, g.region, now));
    for (const match of proposed) this.#events.push({ type: 'proposed', match });
    return proposed;
  }

  /** Held tickets past `maxHoldMs` leave the queue (`in_session`); set-ups never reported over stop holding. */
  #expireHolds(now: number): void {
    // in confirmation order, so in `until` order: the first one still in time ends the scan
    for (const [id, s] of this.#settingUp) {
      if (s.until > now) break;
      this.setUpOver(id, undefined, now);
    }
    if (this.#heldBySession.size === 0) return;
    const late = new Set<QTicket>();
    for (const held of this.#heldBySession.values()) for (const t of held) if (t.heldUntil <= now) late.add(t);
    for (const t of late) {
      const ticket = snap(t);
      this.#unqueue(t);
      this.#forget(t);
      this.#events.push({ type: 'removed', ticket, reason: 'in_session' });
    }
  }

  #propose(b: Bucket, tickets: QTicket[], region: string | undefined, now: number): Match {
    const m: PendingMatch = {
      id: this.#opts.newMatchId?.() ?? `mch_${(++this.#ids).toString(36)}`,
      mode: b.mode,
      matchSize: b.matchSize,
      region,
      tickets,
      players: tickets.flatMap((t) => t.players),
      proposedAt: now,
      deadline: now + b.rules.confirmTimeoutMs,
      accepted: new Set(),
      bucket: b,
    };
    for (const t of tickets) {
      this.#unqueue(t);
      t.taken = false;
      t.matchId = m.id;
    }
    this.#matches.set(m.id, m);
    return matchSnap(m);
  }

  #fail(m: PendingMatch, remove: Set<QTicket>, reason: 'declined' | 'timeout' | 'cancelled', _now: number): void {
    this.#matches.delete(m.id);
    const removed: Ticket[] = [];
    const requeued: QTicket[] = [];
    for (const t of m.tickets) {
      t.matchId = undefined;
      if (remove.has(t)) {
        this.#forget(t);
        removed.push(snap(t));
      } else requeued.push(t);
    }
    // Front of the line, keeping their order among themselves: the last one placed is first.
    requeued.sort((a, b) => a.line - b.line);
    for (let i = requeued.length - 1; i >= 0; i--) {
      const t = requeued[i]!;
      t.line = -++this.#front;
      this.#queue(t);
    }
    const ms = matchSnap(m);
    for (const t of removed) this.#events.push({ type: 'removed', ticket: t, reason, matchId: m.id });
    this.#events.push({ type: 'failed', match: ms, reason, removed, requeued: requeued.map(snap) });
  }

  #pending(matchId: string, playerId: string): PendingMatch {
    const m = this.#matches.get(matchId);
    if (!m) throw matchmakingError('mm.unknown_match', `match ${matchId} is not awaiting confirmation`);
    if (!m.players.includes(playerId)) throw matchmakingError('mm.not_in_match', `player ${playerId} is not in match ${matchId}`);
    return m;
  }

  #rulesFor(mode: string): Bucket['rules'] {
    // own keys only: a client's mode named "constructor" or "__proto__" must not find Object's
    const modes = this.#opts.modes;
    const r = { ...this.#opts.defaults, ...(modes && Object.hasOwn(modes, mode) ? modes[mode] : undefined) };
    return {
      rating: r.rating,
      regionFallbackMs: r.regionFallbackMs ?? 30_000,
      confirmTimeoutMs: r.confirmTimeoutMs ?? 15_000,
      maxCandidates: r.maxCandidates ?? 256,
    };
  }

  #queue(t: QTicket): void {
    const key = `${t.mode}\u0000${t.matchSize}`;
    let b = this.#buckets.get(key);
    if (!b) {
      b = {
        key,
        mode: t.mode,
        matchSize: t.matchSize,
        rules: this.#rulesFor(t.mode),
        queued: new Map(),
        players: 0,
        held: new Map(),
        heldPlayers: 0,
        head: undefined,
        tail: undefined,
      };
      this.#buckets.set(key, b);
    }
    if (t.holds) {
      b.held.set(t.id, t);
      b.heldPlayers += t.players.length;
      t.bucket = b;
      return;
    }
    if (!b.head || t.line <= b.head.line) {
      // put back at the front (line numbers handed out there only shrink)
      t.prev = undefined;
      t.next = b.head;
      if (b.head) b.head.prev = t;
      else b.tail = t;
      b.head = t;
    } else {
      // new tickets belong at the back; one released from a hold walks back to its place
      let after = b.tail!;
      while (after.line > t.line) after = after.prev!;
      t.prev = after;
      t.next = after.next;
      if (after.next) after.next.prev = t;
      else b.tail = t;
      after.next = t;
    }
    b.queued.set(t.id, t);
    b.players += t.players.length;
    t.bucket = b;
  }

  #unqueue(t: QTicket): void {
    const b = t.bucket;
    if (!b) return;
    t.bucket = undefined;
    if (b.held.delete(t.id)) b.heldPlayers -= t.players.length;
    else if (b.queued.delete(t.id)) {
      if (t.prev) t.prev.next = t.next;
      else b.head = t.next;
      if (t.next) t.next.prev = t.prev;
      else b.tail = t.prev;
      t.prev = undefined;
      t.next = undefined;
      b.players -= t.players.length;
    }
    if (b.queued.size === 0 && b.held.size === 0 && this.#buckets.get(b.key) === b) this.#buckets.delete(b.key);
  }

  #forget(t: QTicket): void {
    this.#tickets.delete(t.id);
    for (const p of t.players) if (this.#ticketOfPlayer.get(p) === t) this.#ticketOfPlayer.delete(p);
    if (!t.holds) return;
    for (const id of t.holds) {
      const held = this.#heldBySession.get(id);
      if (held?.delete(t) && held.size === 0) this.#heldBySession.delete(id);
    }
    t.holds = undefined;
  }
}

function windowOf(r: RatingRules, waitedMs: number): number {
  return Math.min(r.maxWindow, r.baseWindow + (r.widenPerSecond * Math.max(0, waitedMs)) / 1000);
}

/**
 * One region's candidates sorted by (rating, line), with "next alive" links (union-find with path
 * compression) so taken tickets are skipped in amortised near-constant time. Hand-written because
 * this is the hot loop of a tick and needs exactly this shape.
 */
class RegionIndex {
  readonly tickets: QTicket[];
  readonly ratings: Float64Array;
  readonly #right: Int32Array; // #right[i]: next candidate index >= i that may be alive (m = none)
  readonly #left: Int32Array; // #left[i + 1]: next candidate index <= i that may be alive (-1 = none)

  constructor(tickets: QTicket[]) {
    this.tickets = tickets;
    const m = tickets.length;
    this.ratings = new Float64Array(m);
    for (let i = 0; i < m; i++) this.ratings[i] = tickets[i]!.rating ?? 0;
    this.#right = new Int32Array(m + 1);
    this.#left = new Int32Array(m + 1);
    for (let i = 0; i <= m; i++) {
      this.#right[i] = i;
      this.#left[i] = i; // stores (index + 1)
    }
  }

  /** First index >= rating (binary search). */
  lowerBound(rating: number): number {
    let lo = 0;
    let hi = this.tickets.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ratings[mid]! < rating) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Smallest alive index >= i, or length. */
  nextRight(i: number): number {
    const m = this.tickets.length;
    for (;;) {
      const j = find(this.#right, i);
      if (j >= m || !this.tickets[j]!.taken) return j;
      this.#right[j] = j + 1;
      i = j + 1;
    }
  }

  /** Largest alive index <= i, or -1. */
  nextLeft(i: number): number {
    for (;;) {
      const j = find(this.#left, i + 1) - 1;
      if (j < 0 || !this.tickets[j]!.taken) return j;
      this.#left[j + 1] = j; // link to (j - 1) + 1
      i = j - 1;
    }
  }
}

function find(parent: Int32Array, i: number): number {
  let root = i;
  while (parent[root] !== root) root = parent[root]!;
  while (parent[i] !== root) {
    const next = parent[i]!;
    parent[i] = root;
    i = next;
  }
  return root;
}

/** The first `limit` matches the line forms in order (the same a tick without a limit would form first). */
function formMatches(b: Bucket, now: number, limit: number): Array<{ tickets: QTicket[]; region: string | undefined }> {
  const line: QTicket[] = [];
  for (let t = b.head; t; t = t.next) line.push(t);
  const fallback = b.rules.regionFallbackMs;
  const anyRegion = (t: QTicket) => t.regions.length === 0 || now - t.waitingSince >= fallback;

  // Group by region: a ticket sits in the index of every region it accepts (all, if any region).
  const byRegion = new Map<string, QTicket[]>();
  for (const t of line) for (const r of t.regions) if (!byRegion.has(r)) byRegion.set(r, []);
  byRegion.set(NO_REGION, []);
  const anyTickets: QTicket[] = [];
  for (const t of line) {
    if (anyRegion(t)) anyTickets.push(t);
    else for (const r of t.regions) byRegion.get(r)!.push(t);
  }
  const indexes = new Map<string, RegionIndex>();
  // Sorted by (rating, line). Without rating rules every rating counts as 0, and the lists, taken
  // from the line in order, are sorted already: no sort at all.
  const byRating = (x: QTicket, y: QTicket) => (x.rating ?? 0) - (y.rating ?? 0) || x.line - y.line;
  const sort = (list: QTicket[]) => (b.rules.rating ? list.sort(byRating) : list);
  const anySorted = sort(anyTickets);
  for (const [r, list] of byRegion) {
    indexes.set(r, new RegionIndex(r === NO_REGION ? anySorted : mergeSorted(sort(list), anySorted, byRating)));
  }
  // Wildcard anchors try regions with the most candidates first, then "no region at all".
  const popular = [...indexes.entries()]
    .filter(([r]) => r !== NO_REGION)
    .sort((x, y) => y[1].tickets.length - x[1].tickets.length)
    .map(([r]) => r);

  const out: Array<{ tickets: QTicket[]; region: string | undefined }> = [];
  const need0 = b.matchSize;
  const scratch: Scratch = { reach: new Int32Array(need0 + 1), from: new Int32Array(need0 + 1), seen: [] };
  for (const anchor of line) {
    if (out.length >= limit) break;
    if (anchor.taken) continue;
    const wide = anyRegion(anchor);
    const tryRegions = wide ? [...anchor.regions, ...popular.filter((r) => !anchor.regions.includes(r)), NO_REGION] : anchor.regions;
    const window = b.rules.rating ? windowOf(b.rules.rating, now - anchor.waitingSince) : Infinity;
    for (const r of tryRegions) {
      const idx = indexes.get(r);
      if (!idx) continue;
      const picked = fill(idx, anchor, need0 - anchor.players.length, window, b.rules.maxCandidates, scratch);
      if (picked) {
        anchor.taken = true;
        for (const t of picked) t.taken = true;
        out.push({ tickets: [anchor, ...picked], region: r === NO_REGION ? undefined : r });
        break;
      }
    }
  }
  return out;
}

function mergeSorted<T>(a: T[], b: T[], cmp: (x: T, y: T) => number): T[] {
  const out: T[] = new Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) out[k++] = cmp(a[i]!, b[j]!) <= 0 ? a[i++]! : b[j++]!;
  while (i < a.length) out[k++] = a[i++]!;
  while (j < b.length) out[k++] = b[j++]!;
  return out;
}

interface Scratch {
  reach: Int32Array;
  from: Int32Array;
  seen: QTicket[];
}

/**
 * Candidates nearest the anchor's rating first (ties: earlier in line), stopping at the window edge
 * or after `maxCandidates`; returns whole parties that exactly fill `need` seats, or undefined.
 */
function fill(idx: RegionIndex, anchor: QTicket, need: number, window: number, maxCandidates: number, scratch: Scratch): QTicket[] | undefined {
  if (need === 0) return [];
  const ref = anchor.rating ?? 0;
  // reach[s] = index in `seen` of the candidate that first made sum s reachable (-1: not yet).
  // The arrays are reused across calls: allocating them per anchor showed up in profiles.
  const { reach, from, seen } = scratch;
  reach.fill(-1, 0, need + 1);
  reach[0] = -2;
  seen.length = 0;
  let examined = 0;
  const start = idx.lowerBound(ref);
  let r = idx.nextRight(start);
  let l = idx.nextLeft(start - 1);
  const m = idx.tickets.length;
  while (examined < maxCandidates) {
    if (r >= m && l < 0) return undefined;
    const dr = r < m ? idx.ratings[r]! - ref : Infinity;
    const dl = l >= 0 ? ref - idx.ratings[l]! : Infinity;
    if (dr > window && dl > window) return undefined;
    let pos: number;
    if (dr < dl || (dr === dl && idx.tickets[r]!.line < idx.tickets[l]!.line)) {
      pos = r;
      r = idx.nextRight(r + 1);
    } else {
      pos = l;
      l = idx.nextLeft(l - 1);
    }
    const c = idx.tickets[pos]!;
    if (c === anchor) continue;
    examined++;
    const size = c.players.length;
    if (size > need) continue;
    const ci = seen.length;
    seen.push(c);
    for (let s = need - size; s >= 0; s--) {
      if (reach[s] !== -1 && reach[s + size] === -1) {
        reach[s + size] = ci;
        from[s + size] = s;
      }
    }
    if (reach[need] !== -1) {
      const picked: QTicket[] = [];
      for (let s = need; s > 0; s = from[s]!) picked.push(seen[reach[s]!]!);
      return picked.reverse();
    }
  }
  return undefined;
}

function snap(t: QTicket): Ticket {
  const s: Ticket = {
    id: t.id,
    players: [...t.players],
    mode: t.mode,
    matchSize: t.matchSize,
    regions: [...t.regions],
    rating: t.rating,
    waitingSince: t.waitingSince,
  };
  if (t.ext !== undefined) s.ext = t.ext;
  if (t.holds) s.heldBy = [...t.holds];
  return s;
}

function matchSnap(m: PendingMatch): Match {
  return {
    id: m.id,
    mode: m.mode,
    matchSize: m.matchSize,
    region: m.region,
    tickets: m.tickets.map(snap),
    players: [...m.players],
    proposedAt: m.proposedAt,
    deadline: m.deadline,
    accepted: [...m.accepted],
  };
}
