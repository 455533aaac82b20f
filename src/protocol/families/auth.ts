import { z } from 'zod';
import { defineFamily } from '../family.js';
import { Address, Count, Der, DurationMs, Empty, Ext, Id, Name, Text, TimeMs, bytes } from '../schemas/common.js';

/** client ↔ auth: accounts, lobbies, matchmaking, hand-off to a host, kicks. */

// ---- accounts
const LoginGuest = z.object({ method: z.literal('guest'), displayName: Name.optional(), deviceId: Id.optional(), ext: Ext });
const LoginPassword = z.object({ method: z.literal('password'), username: Name, password: z.string().min(1).max(1024), ext: Ext });
const LoginToken = z.object({ method: z.literal('token'), token: z.string().min(1).max(4096), ext: Ext });
/** Game- or platform-specific login (Steam ticket, console account...); `provider` names the verifier. */
const LoginCustom = z.object({ method: z.literal('custom'), provider: Name, credentials: bytes(8192), ext: Ext });
export const LoginRequest = z.discriminatedUnion('method', [LoginGuest, LoginPassword, LoginToken, LoginCustom]);
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

// ---- matchmaking
const MatchRef = z.object({ matchId: Id, ext: Ext });

// ---- hand-off
export const HandoffTransport = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('quic'),
    alpn: z.literal('iyesmp-host/1'),
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
  version: { major: 1, minor: 0 },
  roles: { dialer: 'client', listener: 'auth' },
  hello: {
    dialer: z.object({ locale: z.string().max(35).optional(), platform: Name.optional(), ext: Ext }),
    listener: z.object({ serverName: Name, time: TimeMs, motd: Text.optional(), ext: Ext }),
  },
  requests: {
    'account.login': { from: 'dialer', request: LoginRequest, response: LoginResponse },
    'account.logout': { from: 'dialer', request: Empty, response: Empty },

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
      response: LobbyReply,
    },
    'lobby.list': {
      from: 'dialer',
      request: z.object({ mode: Name.optional(), region: Name.optional(), cursor: Text.optional(), limit: z.int().min(1).max(100).optional(), ext: Ext }),
      response: z.object({ lobbies: z.array(LobbySummary).max(100), cursor: Text.optional(), ext: Ext }),
    },
    'lobby.join': {
      from: 'dialer',
      request: z.object({ lobbyId: Id, password: z.string().max(256).optional(), ext: Ext }),
      response: LobbyReply,
    },
    'lobby.leave': { from: 'dialer', request: LobbyRef, response: Empty },
    'lobby.ready': { from: 'dialer', request: z.object({ lobbyId: Id, ready: z.boolean(), ext: Ext }), response: Empty },
    'lobby.start': { from: 'dialer', request: LobbyRef, response: Empty },
    'lobby.kick': { from: 'dialer', request: z.object({ lobbyId: Id, accountId: Id, reason: Text.optional(), ext: Ext }), response: Empty },
    'lobby.set_owner': { from: 'dialer', request: z.object({ lobbyId: Id, accountId: Id, ext: Ext }), response: Empty },

    'match.queue': {
      from: 'dialer',
      request: z.object({ mode: Name, regions: z.array(Name).max(16).optional(), ext: Ext }),
      response: z.object({ ticketId: Id, estimatedWaitMs: DurationMs.optional(), ext: Ext }),
    },
    'match.cancel': { from: 'dialer', request: z.object({ ticketId: Id, ext: Ext }), response: Empty },
    'match.confirm': { from: 'dialer', request: MatchRef, response: Empty },
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
      body: z.object({ matchId: Id, ticketId: Id, mode: Name, playerCount: Count, confirmBy: TimeMs, ext: Ext }),
    },
    'match.cancelled': {
      from: 'listener',
      body: z.object({ matchId: Id, reason: Text, requeued: z.boolean(), ext: Ext }),
    },

    /** A game session has a seat for this client: claim it with `session.claim`. */
    'session.ready': {
      from: 'listener',
      body: z.object({
        sessionId: Id,
        transport: z.enum(['quic', 'netcode', 'mqtt']),
        needsPublicKey: z.boolean(),
        lobbyId: Id.optional(),
        matchId: Id.optional(),
        claimBy: TimeMs,
        ext: Ext,
      }),
    },

    /** The server is about to close this connection (banned, logged in elsewhere, update required). */
    kick: { from: 'listener', body: z.object({ code: z.string().max(64), reason: Text, ext: Ext }) },
  },
});

export type AuthFamily = typeof authFamily;
