/**
 * A scripted player for the durability tests: connects to an Auth server, runs `steps` in order and
 * prints one JSON line per step (`{"ev":"<do>","ok":true,...}` or `{"ev":"<do>","ok":false,"code"}`),
 * then `{"ev":"done"}`; it stays connected (a lobby member stays a member) until "quit" on stdin.
 *
 *   node test/e2e/account-client.mjs '{"auth":"127.0.0.1:port","ca","cert","key","steps":[...]}'
 *
 * steps: { do: "register"|"login", username, password } | { do: "guest", name } | { do: "lobby-create", name } (private)
 *        | { do: "lobby-join-code", code }
 */
import { createInterface } from 'node:readline';
import { connectToAuth } from '../../dist/client/index.js';

const cfg = JSON.parse(process.argv[2] ?? '{}');
const out = (ev, data = {}) => process.stdout.write(`${JSON.stringify({ ev, ...data })}\n`);
setTimeout(() => process.exit(3), cfg.maxMs ?? 120_000).unref();
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'quit') process.exit(0);
});

const members = (l) => l.members.map((m) => m.accountId).sort();
let client;
try {
  client = await connectToAuth({
    address: cfg.auth,
    serverName: '127.0.0.1',
    identity: { cert: cfg.cert, key: cfg.key },
    trust: { caPem: cfg.ca },
    gameVersion: '1.0.0',
  });
} catch (err) {
  out('connect', { ok: false, code: err?.code ?? 'error', message: err?.message });
  process.exit(2);
}
client.on('kick', (k) => out('kick', { code: k.code, reason: k.reason }));
for (const s of cfg.steps ?? []) {
  try {
    switch (s.do) {
      case 'register':
        out(s.do, { ok: true, accountId: (await client.register({ username: s.username, password: s.password })).accountId });
        break;
      case 'guest':
        out(s.do, { ok: true, accountId: (await client.login({ method: 'guest', displayName: s.name ?? 'guest' })).accountId });
        break;
      case 'login':
        out(s.do, { ok: true, accountId: (await client.login({ method: 'password', username: s.username, password: s.password })).accountId });
        break;
      case 'lobby-create': {
        const l = await client.lobbies.create({ name: s.name, visibility: 'private', maxPlayers: 4, mode: 'tictactoe' });
        out(s.do, { ok: true, lobbyId: l.lobbyId, code: l.joinCode, members: members(l) });
        break;
      }
      case 'lobby-join-code': {
        const l = await client.lobbies.joinByCode(s.code);
        out(s.do, { ok: true, lobbyId: l.lobbyId, name: l.name, members: members(l) });
        break;
      }
      default:
        out(s.do, { ok: false, code: 'unknown_step' });
    }
  } catch (err) {
    out(s.do, { ok: false, code: err?.code ?? 'error', message: err?.message });
  }
}
out('done');
