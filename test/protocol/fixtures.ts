/** One valid sample body per message of every family, used by round-trip and mutation tests. */
const cert = new Uint8Array(300).map((_, i) => (i * 7) & 0xff);
const sha = new Uint8Array(32).fill(0xab);
const lobby = {
  lobbyId: 'lob-1',
  name: 'Friday night',
  ownerId: 'acc-1',
  visibility: 'public' as const,
  state: 'open' as const,
  mode: 'duel',
  region: 'eu-west',
  maxPlayers: 4,
  hasPassword: false,
  members: [
    { accountId: 'acc-1', displayName: 'Ada', ready: true, isOwner: true },
    { accountId: 'acc-2', displayName: 'Bob', ready: false, isOwner: false },
  ],
};
const handoff = {
  sessionId: 'ses-1',
  playerId: 'pl-1',
  host: { address: { host: '203.0.113.5', port: 4433 }, tlsName: 'host-eu-1.example.net' },
  expiresAt: 1_800_000_000_000,
  transport: { kind: 'quic' as const, alpn: 'iyesmp-host/1' as const, sessionCert: cert, chain: [cert] },
  ext: { seat: 2 },
};
const adminHost = {
  name: 'host-eu-1',
  region: 'eu-west',
  address: '203.0.113.5:4433',
  state: 'alive' as const,
  draining: false,
  load: 2,
  capacity: 50,
  active: 2,
  players: 4,
  version: '1.4.2',
  lastSeen: 1_700_000_000_000,
  transports: ['quic'],
};
const load = { sessions: 3, players: 12, cpu: 0.25, memory: 0.5 };
const results = [
  { playerId: 'pl-1', rank: 1, score: 10.5, outcome: 'win' as const },
  { playerId: 'pl-2', rank: 2, outcome: 'loss' as const },
];
const expected = {
  playerId: 'pl-1',
  accountId: 'acc-1',
  displayName: 'Ada',
  address: '198.51.100.7',
  certFingerprint: sha,
  netcodeClientId: '18446744073709551615',
};

export interface FamilySamples {
  hello: { dialer: unknown; listener: unknown };
  requests: Record<string, { request: unknown[]; response: unknown[] }>;
  events: Record<string, unknown[]>;
}

export const samples: Record<string, FamilySamples> = {
  'iyesmp-auth/1': {
    hello: {
      dialer: { locale: 'en-GB', platform: 'linux', ext: { build: 'steam' } },
      listener: { serverName: 'auth-1', time: 1_700_000_000_000, motd: 'welcome' },
    },
    requests: {
      'account.login': {
        request: [
          { method: 'guest', displayName: 'Ada', deviceId: 'dev-9' },
          { method: 'password', username: 'ada', password: 'correct horse' },
          { method: 'token', token: 'tok.abc' },
          { method: 'custom', provider: 'steam', credentials: new Uint8Array([1, 2, 3]), ext: { appId: 480 } },
        ],
        response: [{ accountId: 'acc-1', displayName: 'Ada', isNew: false, token: { value: 'tok.abc', expiresAt: 1_800_000_000_000 } }],
      },
      'account.logout': { request: [{}], response: [{}] },
      'account.register': {
        request: [
          { username: 'ada', password: 'correct horse battery', displayName: 'Ada' },
          { username: 'bob', password: 'x' },
        ],
        response: [{ accountId: 'password:acc-1', displayName: 'Ada', isNew: true }],
      },
      'lobby.create': {
        request: [{ name: 'Friday night', visibility: 'private', maxPlayers: 4, mode: 'duel', region: 'eu-west', password: 'pw', ext: { map: 'dust' } }],
        response: [{ lobby }, { lobby: { ...lobby, visibility: 'private' }, joinCode: 'K7XQ2M' }],
      },
      'lobby.list': {
        request: [{ mode: 'duel', limit: 20 }, {}],
        response: [{ lobbies: [{ ...lobby, members: undefined, playerCount: 2 }].map(({ members: _m, ...l }) => l), cursor: 'next' }],
      },
      'lobby.join': {
        request: [{ lobbyId: 'lob-1', password: 'pw' }, { lobbyId: 'K7XQ2M', joinCode: 'K7XQ2M' }, { lobbyId: 'lob-1' }],
        response: [{ lobby }],
      },
      'lobby.leave': { request: [{ lobbyId: 'lob-1' }], response: [{}] },
      'lobby.ready': { request: [{ lobbyId: 'lob-1', ready: true }], response: [{}] },
      'lobby.start': { request: [{ lobbyId: 'lob-1' }], response: [{}] },
      'lobby.kick': { request: [{ lobbyId: 'lob-1', accountId: 'acc-2', reason: 'afk' }], response: [{}] },
      'lobby.set_owner': { request: [{ lobbyId: 'lob-1', accountId: 'acc-2' }], response: [{}] },
      'match.queue': {
        request: [
          { mode: 'ranked', regions: ['eu-west', 'eu-central'], ext: { elo: 1500 } },
          { mode: 'duel', lobbyId: 'lob-1' },
        ],
        response: [{ ticketId: 'tk-1', estimatedWaitMs: 30_000 }],
      },
      'match.cancel': { request: [{ ticketId: 'tk-1' }], response: [{}] },
      'match.confirm': {
        request: [{ matchId: 'm-1' }, { matchId: 'm-1', claim: true }, { matchId: 'm-1', publicKey: new Uint8Array(91).fill(4) }],
        response: [{}],
      },
      'match.decline': { request: [{ matchId: 'm-1' }], response: [{}] },
      'session.claim': {
        request: [{ sessionId: 'ses-1', publicKey: new Uint8Array(91).fill(4) }, { sessionId: 'ses-1' }],
        response: [
          handoff,
          { ...handoff, transport: { kind: 'quic', alpn: 'iyesmp-host/1', sessionCert: cert, chain: [], privateKey: new Uint8Array(138).fill(9) } },
          { ...handoff, transport: { kind: 'netcode', connectToken: new Uint8Array(2048).fill(1) } },
          { ...handoff, transport: { kind: 'mqtt', brokerUrl: 'mqtts://broker.example.net:8883', room: 'room-7', sessionCert: cert, chain: [cert] } },
        ],
      },
    },
    events: {
      'lobby.updated': [{ lobby }],
      'lobby.owner_changed': [{ lobbyId: 'lob-1', ownerId: 'acc-2' }],
      'lobby.kicked': [{ lobbyId: 'lob-1', reason: 'afk' }],
      'lobby.closed': [{ lobbyId: 'lob-1', reason: 'owner left' }],
      'match.found': [
        { matchId: 'm-1', ticketId: 'tk-1', mode: 'ranked', playerCount: 2, confirmBy: 1_700_000_010_000 },
        { matchId: 'm-1', ticketId: 'tk-1', mode: 'ranked', playerCount: 2, confirmBy: 1_700_000_010_000, transport: 'quic', needsPublicKey: true },
      ],
      'match.queued': [{ ticketId: 'tk-1', mode: 'duel', lobbyId: 'lob-1', byAccountId: 'acc-1' }],
      'match.dequeued': [{ ticketId: 'tk-1', reason: 'the lobby changed' }],
      'match.cancelled': [{ matchId: 'm-1', reason: 'a player declined', requeued: true }],
      'session.ready': [{ sessionId: 'ses-1', transport: 'quic', needsPublicKey: true, matchId: 'm-1', claimBy: 1_700_000_020_000 }],
      'session.lost': [{ sessionId: 'ses-1', reason: 'the game host stopped answering' }],
      'session.handoff': [{ matchId: 'm-1', handoff }],
      'session.key_refused': [{ sessionId: 'ses-1', matchId: 'm-1', code: 'bad_request', reason: 'the public key is not a P-256 or Ed25519 key' }],
      'session.waiting': [
        { matchId: 'm-1', since: 1_700_000_020_000, attempt: 3, giveUpAt: 1_700_000_080_000, reason: 'no game host is free' },
        { lobbyId: 'lob-1', since: 1_700_000_020_000, attempt: 0 },
      ],
      kick: [
        { code: 'update_required', reason: 'this game build is retired' },
        { code: 'session_lost', reason: 'the game host stopped answering; session ses-1 is over' },
      ],
    },
  },
  'iyesmp-hostctl/1': {
    hello: { dialer: { hostName: 'host-eu-1' }, listener: { authNode: 'auth-1', time: 1_700_000_000_000 } },
    requests: {
      'host.register': {
        request: [
          {
            name: 'host-eu-1',
            region: 'eu-west',
            publicAddress: { host: '203.0.113.5', port: 4433 },
            transports: [
              { kind: 'quic', address: { host: '203.0.113.5', port: 4433 }, tlsName: 'host-eu-1.example.net' },
              { kind: 'netcode', address: { host: '203.0.113.5', port: 40000 } },
              { kind: 'mqtt', brokerUrl: 'mqtts://broker.example.net:8883' },
            ],
            capacity: { sessions: 50, players: 400 },
            version: '1.4.2',
            load,
          },
        ],
        response: [{ hostId: 'h-1', heartbeatIntervalMs: 5000 }],
      },
      'session.create': {
        request: [{ sessionId: 'ses-1', transport: 'quic', mode: 'duel', expiresAt: 1_700_003_600_000, players: [expected], ext: { map: 'dust' } }],
        response: [{ sessionId: 'ses-1', endpoint: { kind: 'quic', address: { host: '203.0.113.5', port: 4433 }, tlsName: 'host-eu-1.example.net' } }],
      },
      'session.expect': { request: [{ sessionId: 'ses-1', players: [expected] }], response: [{}] },
      'session.cancel': { request: [{ sessionId: 'ses-1', reason: 'lobby disbanded' }], response: [{}] },
      'session.ended': {
        request: [
          { sessionId: 'ses-1', endedAt: 1_700_000_900_000, reason: 'completed', results, ext: { replay: 'r-1' } },
          // 1.2: the session's telemetry with its results
          {
            sessionId: 'ses-1',
            endedAt: 1_700_000_900_000,
            reason: 'completed',
            results,
            telemetry: { id: 'telemetry:ses-1', entries: [{ at: 1_700_000_000_000, name: 'in_game_ms', value: 900_000, sessionId: 'ses-1' }] },
          },
        ],
        response: [{ sessionId: 'ses-1' }],
      },
      'telemetry.report': {
        request: [
          {
            id: 'telemetry:ses-1',
            entries: [{ at: 1_700_000_000_000, name: 'in_game_ms', value: 900_000, sessionId: 'ses-1' }],
            ext: { telemetry: { noShows: 0 } },
          },
        ],
        response: [{}],
      },
    },
    events: {
      'host.heartbeat': [
        { time: 1_700_000_000_000, load },
        { time: 1_700_000_000_000, load, draining: true },
      ],
      'host.drain': [{ reason: 'maintenance at 03:00' }, { reason: 'deploy', deadlineMs: 600_000 }],
      'player.joined': [{ sessionId: 'ses-1', playerId: 'pl-1', at: 1_700_000_000_500 }],
      'player.left': [{ sessionId: 'ses-1', playerId: 'pl-1', at: 1_700_000_800_000, reason: 'disconnected' }],
      telemetry: [{ entries: [{ at: 1_700_000_000_000, name: 'tick_ms', value: 15.6, sessionId: 'ses-1', tags: { map: 'dust' } }] }],
    },
  },
  'iyesmp-host/1': {
    hello: {
      dialer: { sessionId: 'ses-1', playerId: 'pl-1', proof: new Uint8Array(64).fill(3) },
      listener: {
        sessionId: 'ses-1',
        state: 'waiting',
        players: [{ playerId: 'pl-1', displayName: 'Ada', connected: true, ready: false, pingMs: 20 }],
      },
    },
    requests: {
      'player.ready': { request: [{ ready: true }], response: [{}] },
      'game.action': { request: [{ ext: { move: 'e2e4' } }], response: [{ ext: { ok: true } }] },
    },
    events: {
      'players.status': [{ players: [{ playerId: 'pl-1', connected: true, ready: true }] }],
      'game.begin': [{ startAt: 1_700_000_001_000, seed: new Uint8Array(32).fill(5), order: ['pl-1', 'pl-2'] }],
      'game.msg': [{ channel: 'chat', seq: 4, from: 'pl-1', ext: { text: 'gg' } }, {}],
      'game.end': [
        { reason: 'completed', message: 'White wins', results },
        { reason: 'completed', results, ext: { board: 'XOX-O-X--', winner: 'pl-1' } },
      ],
      'player.leaving': [{ reason: 'quit' }],
    },
  },
  'iyesmp-admin/1': {
    hello: { dialer: { tool: 'iyesmp admin' }, listener: { kind: 'auth', node: 'auth-1', time: 1_700_000_000_000 } },
    requests: {
      'server.status': {
        request: [{}],
        response: [
          {
            kind: 'auth',
            node: 'auth-1',
            version: '1.4.2',
            time: 1_700_000_000_000,
            startedAt: 1_699_999_000_000,
            players: 12,
            sessions: 3,
            hosts: [adminHost],
            queues: [{ mode: 'duel', matchSize: 2, tickets: 3, players: 3 }],
            handoffs: { total: 40, failed: 1, perSecond: 0.5, p50Ms: 12, p95Ms: 40.5, pending: 2 },
            refusals: [{ at: 1_700_000_000_000, endpoint: 'client', reason: 'unknown_issuer', message: 'foreign certificate', remote: '198.51.100.7:5000' }],
          },
          {
            kind: 'host',
            node: 'host-eu-1',
            version: '1.4.2',
            time: 1_700_000_000_000,
            startedAt: 1_699_999_000_000,
            players: 4,
            sessions: 2,
            hosts: [],
            queues: [],
            handoffs: { total: 0, failed: 0, perSecond: 0, p50Ms: null, p95Ms: null, pending: 0 },
            refusals: [],
            drain: { since: 1_700_000_000_000, deadline: 1_700_000_600_000, reason: 'deploy' },
          },
        ],
      },
      'players.list': {
        request: [{ limit: 50 }],
        response: [{ players: [{ playerId: 'guest:1', displayName: 'Ada', address: '198.51.100.7', queued: 'duel' }], total: 1 }],
      },
      'sessions.list': {
        request: [{}],
        response: [
          {
            sessions: [{ sessionId: 'ses-1', state: 'handed-off', host: 'host-eu-1', transport: 'quic', mode: 'duel', players: ['guest:1'], createdAt: 1 }],
            total: 1,
          },
        ],
      },
      'hosts.list': { request: [{}], response: [{ hosts: [adminHost] }] },
      'player.kick': { request: [{ playerId: 'guest:1', reason: 'abusive chat' }], response: [{ kicked: true }] },
      'player.ban': {
        request: [{ playerId: 'guest:1', reason: 'cheating', until: 1_700_086_400_000 }],
        response: [{ playerId: 'guest:1', reason: 'cheating', expiresAt: null, kicked: true }],
      },
      'player.unban': { request: [{ playerId: 'guest:1' }], response: [{ lifted: 1 }] },
      'host.drain': {
        request: [{ host: 'host-eu-1', reason: 'deploy', deadlineMs: 600_000 }],
        response: [{ host: 'host-eu-1', sessions: 2, deadline: 1_700_000_600_000 }],
      },
      'results.list': {
        request: [{ limit: 10, since: 0 }],
        response: [{ results: [{ sessionId: 'ses-1', host: 'host-eu-1', mode: 'duel', endedAt: 5, reason: 'completed', players: ['guest:1'], results }] }],
      },
      'audit.list': {
        request: [{ action: 'ban' }],
        response: [
          {
            entries: [
              {
                id: 1,
                at: 1_700_000_000_000,
                actor: { name: 'admin-alice', fingerprint: 'ab'.repeat(32) },
                action: 'ban',
                target: 'guest:1',
                details: { reason: 'cheating' },
                outcome: 'ok',
              },
            ],
          },
        ],
      },
    },
    events: {},
  },
};
