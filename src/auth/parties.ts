import { lobbyError, matchmakingError } from './errors.js';
import type { Lobbies, LobbyView } from './lobbies.js';
import type { Matchmaker, Ticket, TicketRequest } from './matchmaking.js';

/**
 * Lobbies queued as matchmaking parties: the owner queues every member as one ticket (the
 * matchmaker never splits a ticket). The party is the lobby *as it was when queued*, so any change
 * to the lobby (someone joins or leaves, it starts or closes) takes the ticket out of the queue:
 * the owner queues again with the new line-up. Sans-IO like the domain it joins.
 */
export class PartyQueue {
  /** ticket id -> lobby id, for tickets queued as a lobby's party */
  readonly #lobbyOf = new Map<string, string>();
  /** lobby id -> its party's ticket id */
  readonly #ticketOf = new Map<string, string>();

  constructor(
    readonly lobbies: Lobbies,
    readonly matchmaker: Matchmaker,
    readonly now: () => number = Date.now,
  ) {
    const changed = ({ lobby }: { lobby: LobbyView }) => this.#drop(lobby.id);
    lobbies.on('joined', changed);
    lobbies.on('left', changed);
    lobbies.on('started', changed);
    lobbies.on('closed', changed);
    // a ticket that ends (matched and confirmed, cancelled, declined) is no longer the lobby's
    matchmaker.on('removed', ({ ticket }) => this.#forget(ticket.id));
    matchmaker.on('confirmed', ({ match }) => {
      for (const t of match.tickets) this.#forget(t.id);
    });
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
