import { z } from 'zod';
import { defineFamily } from '../family.js';
import { Address, Count, Der, DurationMs, Empty, Ext, Id, Name, Text, TimeMs, TransportKind, bytes } from '../schemas/common.js';
import { hostFamily } from './host.js';

/** client ↔ auth: accounts, lobbies, matchmaking, hand-off to a host, kicks. */

// ---- accounts
const LoginGuest = z.object({ method: z.literal('guest'), displayName: Name.optional(), deviceId: Id.optional(), ext: Ext });
const LoginPassword = z.object({ method: z.literal('password'), username: Name, password: z.string().min(1).max(1024), ext: Ext });
const LoginToken = z.object({ method: z.literal('token'), token: z.string().min(1).max(4096), ext: Ext });
/** Game- or platform-specific login (Steam ticket, console account...); `provider` names the verifier. */
const LoginCustom = z.object({ method: z.literal('custom'), provider: Name, credentials: bytes(8192), ext: Ext });
export const LoginRequest = z.discriminatedUnion('method', [LoginGuest, LoginPassword, LoginToken, LoginCustom]);
/**
 * (1.2) A new username + password account. Servers that do not offer registration refuse it
 * (`auth.registration_disabled`; a 1.1 server answers `unknown_type`). The password bound here is
 * the wire's; the server's own policy (length) refuses with its own codes.
 */
export const RegisterRequest = z.object({ username: Name, password: z.string().min(1).max(4096), displayName: Name.optional(), ext: Ext });
export const LoginResponse = z.object({
  accountId: Id,
  displayName: Name,
  isNew: z.boolean(),
  /** A resume token for `method: 'token'` logins. */
  token: z.object({ value: z.string().max(4096), expiresAt: TimeMs }).optional(),
  ext: Ext,
});

// ---- lobbies
const Visibility = z.enum(['public', 'private']);
const LobbyState = z.enum(['open', 'starting', 'in_game', 'closed']);
export const LobbyMember = z.object({ accountId: Id, displayName: Name, ready: z.boolean(), isOwner: z.boolean() });
export const LobbyInfo = z.object({
  lobbyId: Id,
  name: Name,
  ownerId: Id,
  visibility: Visibility,
  state: LobbyState,
  mode: Name.optional(),
  region: Name.optional(),
  maxPlayers: z.int().min(1).max(1024),
  hasPassword: z.boolean(),
  members: z.array(LobbyMember).max(1024),
});
export const LobbySummary = LobbyInfo.omit({ members: true }).extend({ playerCount: Count });
const LobbyRef = z.object({ lobbyId: Id, ext: Ext });
const LobbyReply = z.object({ lobby: LobbyInfo, ext: Ext });
/**
 * A private lobby's join code (1.1). Short and read aloud; receivers normalise case and dashes.
 * Only the creator learns it, in the `lobby.create` reply; others join with it.
 */
export const JoinCode = z.string().min(1).max(64);

// ---- matchmaking
const MatchRef = z.object({ matchId: Id, ext: Ext });

// ---- hand-off
export const HandoffTransport = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('quic'),
    alpn: z.literal(hostFamily.name),
    /** Session certificate (DER) signed by SessionAuth for the public key the client sent. */
    sessionCert: Der,
    /** Issuer chain the client presents with it (SessionAuth), DER each. */
    chain: z.array(Der).max(4),
    /** Only in the seed design (auth generates the key pair): PKCS#8 DER. */
    privateKey: bytes(4096).optional(),
  }),
  z.object({
    kind: z.literal('netcode'),
    /** The 2048-byte netcode.io 1.02 connect token. */
    connectToken: bytes(2048),
  }),
  z.object({
    kind: z.literal('mqtt'),
    brokerUrl: z.string().min(1).max(512),
    room: Id,
    sessionCert: Der,
    chain: z.array(Der).max(4),
    privateKey: bytes(4096).optional(),
    /** the host's Ed25519 public key for this session: the player pins it, never learning it from the broker */
    hostKey: bytes(64).optional(),
    topicPrefix: z.string().min(1).max(256).optional(),
    game: z.string().min(1).max(64).optional(),
  }),
]);
export const Handoff = z.object({
  sessionId: Id,
  playerId: Id,
  host: z.object({ address: Address, tlsName: z.string().min(1).max(253) }),
  expiresAt: TimeMs,
  transport: HandoffTransport,
  ext: Ext,
});

export const authFamily = defineFamily({
  name: 'iyesmp-auth/1',
  /**
   * 1.1 adds `joinCode` (lobby.create reply, lobby.join) and the events `session.lost` and
   * `session.waiting`. A 1.0 peer closes on an event it does not know, so a server sends the new
   * events only when the negotiated minor is at least 1 (`kick` with code `session_lost` otherwise).
   * 1.2 adds `account.register`, `lobbyId` in `match.queue` (queue a lobby as a party) and the
   * events `match.queued` and `match.dequeued` (sent only to peers that negotiated 1.2).
   * 1.3 folds the seat claim into the match confirmation: `match.found` says which transport the
   * session uses and whether the client must bring a public key (`transport`, `needsPublicKey`;
   * older clients drop them), `match.confirm` asks for the seat to be claimed with it (`claim`,
   * and the key: `publicKey`; older servers drop both, so clients send them only when 1.3 was
   * negotiated), and such a seat is claimed when the session starts: its Handoff is pushed with the event
   * `session.handoff` once the host accepted the session, with no `session.ready` and no
   * `session.claim`. A key the server refuses is told with `session.key_refused`, and that player
   * alone then gets `session.ready` and claims as before. Both events go only to peers that
   * negotiated 1.3; lobby starts and older clients keep `session.ready` + `session.claim`.
   * 1.4 lets `session.handoff` leave out an issuer chain the connection already carried
   * (`sameChain`): only to peers that negotiated 1.4, as a 1.3 client would drop the flag and
   * present no chain.
   */
  version: { major: 1, minor: 4 },
  roles: { dialer: 'client', listener: 'auth' },
  hello: {
    dialer: z.object({ locale: z.string().max(35).optional(), platform: Name.optional(), ext: Ext }),
    listener: z.object({ serverName: Name, time: TimeMs, motd: Text.optional(), ext: Ext }),
  },
  requests: {
    'account.login': { from: 'dialer', request: LoginRequest, response: LoginResponse },
    'account.logout': { from: 'dialer', request: Empty, response: Empty },
    /** (1.2) Creates a password account and logs this connection in as it (`isNew: true`). */
    'account.register': { from: 'dialer', request: RegisterRequest, response: LoginResponse },

    'lobby.create': {
      from: 'dialer',
      request: z.object({
        name: Name,
        visibility: Visibility,
        maxPlayers: z.int().min(1).max(1024),
        mode: Name.optional(),
        region: Name.optional(),
        password: z.string().min(1).max(256).optional(),
        ext: Ext,
      }),
      /** `joinCode` (1.1): a private lobby's code, for its creator only */
      response: LobbyReply.extend({ joinCode: JoinCode.optional() }),
    },
    'lobby.list': {
      from: 'dialer',
      request: z.object({ mode: Name.optional(), region: Name.optional(), cursor: Text.optional(), limit: z.int().min(1).max(100).optional(), ext: Ext }),
      response: z.object({ lobbies: z.array(LobbySummary).max(100), cursor: Text.optional(), ext: Ext }),
    },
    'lobby.join': {
      from: 'dialer',
      /**
       * `joinCode` (1.1) joins a private lobby by its code; `lobbyId` is then not looked at (1.0
       * servers require it: clients that only know the code send the code there too). Before 1.1
       * a private lobby's code went in `password`, which servers keep accepting.
       */
      request: z.object({ lobbyId: Id, password: z.string().max(256).optional(), joinCode: JoinCode.optional(), ext: Ext }),
      response: LobbyReply,
    },
    'lobby.leave': { from: 'dialer', request: LobbyRef, response: Empty },
    'lobby.ready': { from: 'dialer', request: z.object({ lobbyId: Id, ready: z.boolean(), ext: Ext }), response: Empty },
    'lobby.start': { from: 'dialer', request: LobbyRef, response: Empty },
    'lobby.kick': { from: 'dialer', request: z.object({ lobbyId: Id, accountId: Id, reason: Text.optional(), ext: Ext }), response: Empty },
    'lobby.set_owner': { from: 'dialer', request: z.object({ lobbyId: Id, accountId: Id, ext: Ext }), response: Empty },

    'match.queue': {
      from: 'dialer',
      /**
       * `lobbyId` (1.2): the lobby's owner queues every member of that lobby as one party (they are
       * matched together or not at all). Older servers drop it and queue the sender alone, so
       * clients send it only when 1.2 was negotiated.
       */
      request: z.object({ mode: Name, regions: z.array(Name).max(16).optional(), lobbyId: Id.optional(), ext: Ext }),
      response: z.object({ ticketId: Id, estimatedWaitMs: DurationMs.optional(), ext: Ext }),
    },
    'match.cancel': { from: 'dialer', request: z.object({ ticketId: Id, ext: Ext }), response: Empty },
    /**
     * (1.3) `claim: true` claims the seat with the confirmation: when the match starts the server
     * pushes the hand-off (`session.handoff`) instead of sending `session.ready`. `publicKey` is
     * the SPKI DER public key of a fresh key pair, when `match.found` said `needsPublicKey` (it
     * implies `claim`); the session certificate is minted for it as soon as the session starts.
     * Without either, the seat is claimed after `session.ready` as in 1.2.
     */
    'match.confirm': {
      from: 'dialer',
      request: MatchRef.extend({ claim: z.boolean().optional(), publicKey: bytes(1024).optional() }),
      response: Empty,
    },
    'match.decline': { from: 'dialer', request: MatchRef, response: Empty },

    /**
     * Claims a seat after `session.ready`. For certificate transports the client sends the public
     * key of a fresh key pair (SPKI DER) and gets back a session cert for it.
     */
    'session.claim': {
      from: 'dialer',
      request: z.object({ sessionId: Id, publicKey: bytes(1024).optional(), ext: Ext }),
      response: Handoff,
    },
  },
  events: {
    'lobby.updated': { from: 'listener', body: LobbyReply },
    'lobby.owner_changed': { from: 'listener', body: z.object({ lobbyId: Id, ownerId: Id, ext: Ext }) },
    'lobby.kicked': { from: 'listener', body: z.object({ lobbyId: Id, reason: Text, ext: Ext }) },
    'lobby.closed': { from: 'listener', body: z.object({ lobbyId: Id, reason: Text, ext: Ext }) },

    'match.found': {
      from: 'listener',
      body: z.object({
        matchId: Id,
        ticketId: Id,
        mode: Name,
        playerCount: Count,
        confirmBy: TimeMs,
        /** (1.3) the transport the session will use */
        transport: TransportKind.optional(),
        /** (1.3) whether `match.confirm` should carry a public key (certificate transports, keys made by clients) */
        needsPublicKey: z.boolean().optional(),
        ext: Ext,
      }),
    },
    /**
     * (1.2) The owner of this player's lobby queued the lobby as a party: `ticketId` is the party's
     * ticket (any member may `match.cancel` it; `match.found` follows for everyone).
     */
    'match.queued': { from: 'listener', body: z.object({ ticketId: Id, mode: Name, lobbyId: Id, byAccountId: Id, ext: Ext }) },
    /**
     * (1.2) A party ticket left the queue before any match was found (a member cancelled, or the
     * lobby changed). Once a match was found, `match.cancelled` says it instead.
     */
    'match.dequeued': { from: 'listener', body: z.object({ ticketId: Id, reason: Text, ext: Ext }) },
    'match.cancelled': {
      from: 'listener',
      body: z.object({ matchId: Id, reason: Text, requeued: z.boolean(), ext: Ext }),
    },

    /** A game session has a seat for this client: claim it with `session.claim`. */
    'session.ready': {
      from: 'listener',
      body: z.object({
        sessionId: Id,
        transport: TransportKind,
        needsPublicKey: z.boolean(),
        lobbyId: Id.optional(),
        matchId: Id.optional(),
        claimBy: TimeMs,
        ext: Ext,
      }),
    },

    /**
     * (1.3) The hand-off of a seat claimed with `match.confirm`: sent once the host accepted the
     * session (what `session.claim` answers otherwise). Only to peers that negotiated 1.3.
     */
    'session.handoff': {
      from: 'listener',
      /**
       * (1.4) `sameChain`: the transport's `chain` is sent empty and is the chain of the last
       * `session.handoff` on this connection that carried one (it is the same SessionAuth chain
       * for every hand-off until the CA rotates): the push then fits one datagram.
       */
      body: z.object({ matchId: Id, handoff: Handoff, sameChain: z.literal(true).optional(), ext: Ext }),
    },
    /**
     * (1.3) The key sent with `match.confirm` was refused (`code` as a refused claim's:
     * `bad_request`, or `mint_failed`). The seat stays open for this player alone: `session.ready`
     * follows, to claim it with a fresh key before `claimBy`.
     */
    'session.key_refused': {
      from: 'listener',
      body: z.object({ sessionId: Id, matchId: Id, code: z.string().min(1).max(64), reason: Text, ext: Ext }),
    },

    /**
     * (1.1) The game host of this player's session stopped answering: the session is over (its
     * results, if any, are lost). The auth connection stays open; the player may queue again.
     */
    'session.lost': { from: 'listener', body: z.object({ sessionId: Id, reason: Text, ext: Ext }) },
    /**
     * (1.1) A confirmed match or started lobby has no game host yet; the server keeps trying.
     * Sent when the wait starts and then now and again. `since` is when it began looking, `attempt`
     * counts the tries so far, `giveUpAt` is when it will cancel (`match.cancelled`, "no host available").
     */
    'session.waiting': {
      from: 'listener',
      body: z.object({
        matchId: Id.optional(),
        lobbyId: Id.optional(),
        since: TimeMs,
        attempt: Count,
        giveUpAt: TimeMs.optional(),
        reason: Text.optional(),
        ext: Ext,
      }),
    },

    /** The server is about to close this connection (banned, logged in elsewhere, update required). */
    kick: { from: 'listener', body: z.object({ code: z.string().max(64), reason: Text, ext: Ext }) },
  },
});

export type AuthFamily = typeof authFamily;
