import { lobbyError, matchmakingError } from './errors.js';
import type { Lobbies, LobbyEvent } from './lobbies.js';
import type { Matchmaker, MatchmakingEvent, Ticket, TicketRequest } from './matchmaking.js';

/**
 * Lobbies queued as matchmaking parties: the owner queues every member as one ticket (the
 * matchmaker never splits a ticket). The party is the lobby *as it was when queued*, so any change
 * to the lobby (someone joins or leaves, it starts or closes) takes the ticket out of the queue:
 * the owner queues again with the new line-up. Sans-IO like the domain it joins: its driver
 * (AuthDomain) passes it the lobby and matchmaking events.
 */
export class PartyQueue {
  /** ticket id -> lobby id, for tickets queued as a lobby's party */
  readonly #lobbyOf = new Map<string, string>();
  /** lobby id -> its party's ticket id */
  readonly #ticketOf = new Map<string, string>();

  constructor(
    readonly lobbies: Pick<Lobbies, 'get'>,
    readonly matchmaker: Pick<Matchmaker, 'enqueue' | 'cancel'>,
    readonly now: () => number = Date.now,
  ) {}

  /** A lobby event (the driver passes each on): a new line-up, a start or a close drops the party's ticket. */
  lobbyChanged(e: LobbyEvent): void {
    if (e.type === 'joined' || e.type === 'left' || e.type === 'started' || e.type === 'closed') this.#drop(e.lobby.id);
  }

  /** A matchmaking event: a ticket that ends (matched and confirmed, cancelled, declined) is no longer the lobby's. */
  matchmakingChanged(e: MatchmakingEvent): void {
    if (e.type === 'removed') this.#forget(e.ticket.id);
    else if (e.type === 'confirmed') for (const t of e.match.tickets) this.#forget(t.id);
  }

  /**
   * Checks that `by` may queue this lobby (it owns it, the lobby is open and fits a match) and
   * returns its members in join order. Throws the lobby's own codes otherwise.
   */
  members(lobbyId: string, by: string): string[] {
    const lobby = this.lobbies.get(lobbyId);
    if (!lobby) throw lobbyError('lobby.not_found', `lobby ${lobbyId} does not exist`);
    if (!lobby.members.some((m) => m.playerId === by)) throw lobbyError('lobby.not_member', `you are not in lobby ${lobbyId}`);
    if (lobby.ownerId !== by) throw lobbyError('lobby.not_owner', 'only the lobby owner can queue the lobby');
    if (lobby.state !== 'open') throw lobbyError('lobby.started', 'this lobby has already started its game');
    if (this.#ticketOf.has(lobbyId)) {
      throw matchmakingError('mm.already_queued', `lobby ${lobbyId} is already queued (ticket ${this.#ticketOf.get(lobbyId)})`);
    }
    return lobby.members.map((m) => m.playerId);
  }

  /** Queues the lobby's members as one ticket (call `members` first for the checks). */
  enqueue(lobbyId: string, req: TicketRequest): Ticket {
    const ticket = this.matchmaker.enqueue(req, this.now());
    this.#lobbyOf.set(ticket.id, lobbyId);
    this.#ticketOf.set(lobbyId, ticket.id);
    return ticket;
  }

  /** The lobby a ticket was queued for, if it is a party ticket. */
  lobbyOfTicket(ticketId: string): string | undefined {
    return this.#lobbyOf.get(ticketId);
  }

  #drop(lobbyId: string): void {
    const ticketId = this.#ticketOf.get(lobbyId);
    if (ticketId === undefined) return;
    this.#forget(ticketId);
    // inside a proposed match this counts as the party declining; the others go back to the front
    try {
      this.matchmaker.cancel(ticketId, this.now());
    } catch {
      // already gone (matched and confirmed, or cancelled meanwhile)
    }
  }

  #forget(ticketId: string): void {
    const lobbyId = this.#lobbyOf.get(ticketId);
    if (lobbyId === undefined) return;
    this.#lobbyOf.delete(ticketId);
    if (this.#ticketOf.get(lobbyId) === ticketId) this.#ticketOf.delete(lobbyId);
  }
}
