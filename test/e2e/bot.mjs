/**
 * A bot game client as its own OS process, on the built library (dist/): connects to the Auth
 * server, logs in as a guest, finds a game (matchmaking, or a lobby it creates or joins), takes
 * the hand-off, joins the host and plays tic-tac-toe (first free cell) against test/e2e/ttt-game.mjs.
 * Everything that happens is printed on stdout as one JSON object per line (`{"ev": ...}`).
 *
 *   node test/e2e/bot.mjs '<json config>'
 *
 * config: { auth: "127.0.0.1:port", ca, cert, key, name, flow: "matchmake"|"lobby-create"|"lobby-join",
 *           mode?, lobbyName?, hold?: boolean (wait for a "go" line on stdin before moving),
 *           ticketOut?: file (the hand-off's seat, cert and key, for the stolen-cert test),
 *           localHost?: source address for both connections (e.g. "127.0.0.2"),
 *           hostIdleMs?, lingerMs?, maxMs?, register?: { username, password } (instead of a guest login) }
 * stdin lines: "go" (start moving when `hold`), "quit" (exit now).
 */
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { connectToAuth } from '../../dist/client/index.js';

const cfg = JSON.parse(process.argv[2] ?? '{}');
const mode = cfg.mode ?? 'tictactoe';
const out = (ev, data = {}) => process.stdout.write(`${JSON.stringify({ ev, ...data })}\n`);
const errInfo = (err) => ({ code: err?.code ?? 'error', message: err?.message ?? String(err) });

// never outlive a test run, whatever happens
setTimeout(() => {
  out('exit', { reason: 'maxMs' });
  process.exit(3);
}, cfg.maxMs ?? 180_000).unref();

let release;
const go = new Promise((r) => (release = r));
if (!cfg.hold) release();
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'go') release();
  if (line.trim() === 'quit') process.exit(0);
});

async function findTicket(client) {
  if (cfg.flow === 'matchmake') {
    return client.matchmake({
      mode,
      timeoutMs: 60_000,
      onStatus: (s) => out('matchmaking', { phase: s.phase, ...(s.ticketId ? { ticketId: s.ticketId } : {}) }),
    });
  }
  if (cfg.flow === 'lobby-create') {
    const lobby = await client.lobbies.create({ name: cfg.lobbyName, visibility: 'public', maxPlayers: 2, mode });
    out('lobby-created', { lobbyId: lobby.lobbyId });
    const full = await client.next('lobby', {
      filter: (l) => l.lobbyId === lobby.lobbyId && l.members.length === 2 && l.members.every((m) => m.isOwner || m.ready),
      timeoutMs: 60_000,
    });
    out('lobby-full', { members: full.members.map((m) => ({ accountId: m.accountId, ready: m.ready, isOwner: m.isOwner })) });
    await client.lobbies.ready(lobby.lobbyId);
    out('lobby-ready');
    const handoff = client.waitForHandoff({ lobbyId: lobby.lobbyId, timeoutMs: 60_000 });
    await client.lobbies.start(lobby.lobbyId);
    out('lobby-started');
    return handoff;
  }
  if (cfg.flow === 'lobby-join') {
    const until = Date.now() + 60_000;
    for (;;) {
      const { lobbies } = await client.lobbies.list({ mode });
      const l = lobbies.find((x) => x.name === cfg.lobbyName);
      if (l) {
        const joined = await client.lobbies.join(l.lobbyId);
        out('lobby-joined', { lobbyId: joined.lobbyId });
        const handoff = client.waitForHandoff({ lobbyId: l.lobbyId, timeoutMs: 60_000 });
        await client.lobbies.ready(l.lobbyId);
        out('lobby-ready');
        return handoff;
      }
      if (Date.now() > until) throw Object.assign(new Error(`no lobby named ${cfg.lobbyName}`), { code: 'no_lobby' });
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`unknown flow ${cfg.flow}`);
}

async function play(game) {
  let busy = false;
  let latest;
  const mine = () => latest?.marks?.[game.playerId];
  const move = async () => {
    if (busy || !latest || latest.result || latest.turn !== mine()) return;
    busy = true;
    try {
      await go;
      const cell = latest.board.indexOf(null);
      const res = await game.action({ t: 'move', cell });
      out('moved', { cell, reply: res });
    } catch (err) {
      out('move-refused', errInfo(err));
    } finally {
      busy = false;
    }
    void move(); // a state that arrived meanwhile
  };
  game.on('begin', (b) => out('begin', { order: b.order }));
  game.on('message', ({ ext }) => {
    if (ext?.t !== 'state') return;
    latest = ext;
    out('state', { board: ext.board, turn: ext.turn, mark: mine(), ...(ext.result ? { result: ext.result } : {}) });
    void move();
  });
  game.on('close', ({ error }) => out('game-close', error ? errInfo(error) : {}));
  await game.ready();
  out('ready');
  return game.result;
}

const gameVersion = cfg.gameVersion ?? '1.0.0';
const serverName = cfg.serverName ?? '127.0.0.1';

/** With `localHost` both connections send from that address (the host's allow-list sees the one auth saw). */
async function connectAuth() {
  return connectToAuth({
    address: cfg.auth,
    serverName,
    identity: { cert: cfg.cert, key: cfg.key },
    trust: { caPem: cfg.ca },
    gameVersion,
    ...(cfg.localHost ? { localHost: cfg.localHost } : {}),
  });
}

async function joinHost(client, ticket) {
  // joinHost binds the auth connection's localHost by default
  return client.joinHost(ticket, cfg.hostIdleMs ? { idleTimeoutMs: cfg.hostIdleMs } : {});
}

async function main() {
  let client;
  try {
    client = await connectAuth();
  } catch (err) {
    out('connect-refused', errInfo(err));
    process.exit(2);
  }
  out('connected', { serverName: client.welcome?.serverName });
  client.on('kick', (k) => out('kick', { code: k.code, reason: k.reason }));
  client.on('sessionLost', (l) => out('session-lost', { sessionId: l.sessionId, reason: l.reason }));
  client.on('close', ({ error }) => out('auth-close', error ? errInfo(error) : {}));

  // `register` ({ username, password }): a password account made for the test, else a guest
  const login = cfg.register ? await client.register(cfg.register) : await client.login({ method: 'guest', displayName: cfg.name ?? 'bot' });
  out('login', { accountId: login.accountId });
  const ticket = await findTicket(client);
  out('ticket', { sessionId: ticket.sessionId, playerId: ticket.playerId, host: ticket.host });
  if (cfg.ticketOut) {
    const t = {
      sessionId: ticket.sessionId,
      playerId: ticket.playerId,
      host: ticket.host,
      certPem: ticket.credentials.certPem,
      keyPem: ticket.credentials.keyPem,
    };
    writeFileSync(cfg.ticketOut, JSON.stringify(t), { mode: 0o600 });
    out('ticket-written', { file: cfg.ticketOut });
  }
  const game = await joinHost(client, ticket);
  out('joined', { state: game.state });
  try {
    const end = await play(game);
    out('end', { reason: end.reason, results: end.results });
  } catch (err) {
    out('game-error', errInfo(err));
  }
  await new Promise((r) => setTimeout(r, cfg.lingerMs ?? 300));
  await client.close().catch(() => undefined);
  out('exit', { reason: 'done' });
  process.exit(0);
}

main().catch((err) => {
  out('fatal', errInfo(err));
  process.exit(1);
});
