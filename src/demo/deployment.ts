import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AuthClient, GameSession, HostTicket } from '../client/index.js';
import type { Output } from '../cli/output.js';
import { adminNotice, enableAdmin, pickAdminPort } from './admin.js';
import { demoError } from './errors.js';
import { orTimeout } from '../events/timeout.js';
import { formatHostPort } from '../net/address.js';
import type { ManifestEntry } from '../pki/types.js';
import { type DemoGame, type DemoGameName, type DemoMove, loadDemoGame, PACKAGE_ROOT } from './example-game.js';
import { freeUdpPorts } from './ports.js';
import { ServerProcess, type LogLine } from './server-process.js';
import { Story } from './story.js';
import { setTomlValue } from './toml-edit.js';

/** Time limits of each wait: generous, because a loaded CI machine is slow, but always bounded. */
const LIMIT = { serverStart: 20_000, login: 15_000, match: 20_000, join: 15_000, game: 20_000, record: 10_000, stop: 8_000 };
const LOOPBACK = '127.0.0.1';
const BOT_NAMES = ['ada', 'bob'] as const;

export interface DeploymentInput {
  out: Output;
  story: Story;
  devDir: string;
  pkiDir: string;
  entries: ManifestEntry[];
  /** ports to use; unset ones are picked free on loopback */
  ports: { auth?: number; authHosts?: number; host?: number };
  keepRunning: boolean;
  /** the example game the bots play (default tictactoe) */
  game?: DemoGameName;
  /** PostgreSQL URL for the Auth state (default: the embedded database in the dev folder) */
  database?: string;
  /** Auth nodes to run (2 needs `database`): the second bot plays through the second node */
  authNodes?: number;
  /** how players reach the host (default quic); mqtt runs the turn-based transport */
  transport?: 'quic' | 'netcode' | 'mqtt';
  /** with mqtt: the host's embedded broker, or the machine's mosquitto binary */
  broker?: 'embedded' | 'mosquitto';
}

/** What the demo reports (the `data` of `iyesmp demo --json`, next to the PKI fields). */
export interface DeploymentReport {
  servers: {
    /** `adminAddress`: its admin port (`iyesmp admin`, `iyesmp top`) */
    auth: { pid: number | undefined; address: string; hostsAddress: string; adminAddress: string; config: string; log: string; exitCode?: number | null };
    /** with --auth-nodes 2: the second Auth node */
    auth2?: { pid: number | undefined; address: string; hostsAddress: string; config: string; log: string; exitCode?: number | null };
    host: { name: string; pid: number | undefined; address: string; config: string; game: string; log: string; exitCode?: number | null };
  };
  /** `mark`: the player's side, "X"/"O" in tic-tac-toe, "w"/"b" in chess */
  players: { name: string; accountId: string; seat: string; mark: string | undefined; outcome: string | undefined; certFingerprint: string }[];
  session: { id: string; host: string; hostAddress: string; transport: string };
  /** tic-tac-toe: `board` holds the nine cells and moves are `{ cell, by }`; chess: `board` is the final FEN and moves are `{ san, by }` */
  game: { name: DemoGameName; reason: string; result: string; board: (string | null)[] | string; moves: DemoMove['record'][] };
  recorded: { byAuth: boolean; sessionId: string; players: number };
  /** where the Auth state was kept */
  database: { engine: 'sqlite' | 'postgres'; where: string };
  /** milliseconds per phase, in order; see README */
  timings: Record<Phase, number>;
  keptRunning: boolean;
}

export type Phase = 'servers' | 'login' | 'match' | 'handoff' | 'connect' | 'ready' | 'game' | 'record' | 'shutdown';

interface Bot {
  name: string;
  client: AuthClient<unknown>;
  accountId?: string;
  ticket?: HostTicket<unknown>;
  game?: GameSession<unknown>;
}

/**
 * Runs the dev deployment: `iyesmp serve auth` and `iyesmp serve host --game <tic-tac-toe>` as
 * child processes on the configs `iyesmp demo` scaffolded (the same commands an operator runs),
 * then two bot players in this process that log in, are matched, take their hand-offs, join the
 * host and play a game to its result, which the Auth server records. Every server is stopped on
 * the way out, whatever happens (`--keep-running` waits for Ctrl-C first).
 */
export async function runDeployment(input: DeploymentInput): Promise<DeploymentReport> {
  const { story, out } = input;
  const ttt: DemoGame = await loadDemoGame(input.game ?? 'tictactoe');
  const servers: ServerProcess[] = [];
  const bots: Bot[] = [];
  const marks = new Map<string, number>();
  let last = story.now();
  const phase = (p: Phase): void => {
    const t = story.now();
    marks.set(p, Math.round(t - last));
    last = t;
  };

  // A signal during the run: stop the servers like after an error (the exit hook is the last resort).
  let interrupted: (err: Error) => void = () => undefined;
  const interruption = new Promise<never>((_, reject) => (interrupted = reject));
  interruption.catch(() => undefined);
  // One handler for the whole run; what a signal means changes once the servers are kept running.
  let onStop: (sig: NodeJS.Signals) => void = (sig) => interrupted(demoError('interrupted', `interrupted by ${sig}; the servers were stopped`));
  const onSignal = (sig: NodeJS.Signals) => onStop(sig);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let mosquitto: { url: string; stop(): Promise<void> } | undefined;
  try {
    const ports: Awaited<ReturnType<typeof pickPorts>> & { auth2?: number; authHosts2?: number } = await pickPorts(input.ports);
    if (input.authNodes === 2) [ports.auth2, ports.authHosts2] = await freeUdpPorts(2, LOOPBACK);
    if (input.transport === 'mqtt' && input.broker === 'mosquitto') {
      const { startMosquitto } = await import('./mosquitto.js');
      mosquitto = await startMosquitto(input.devDir, input.pkiDir, input.entries);
      story.tell(
        'mqtt',
        `mosquitto listening on ${mosquitto.url} (dynamic security; config ${displayPath(path.join(input.devDir, 'mosquitto', 'mosquitto.conf'))})`,
      );
    }
    const files = await writeRunConfigs(input, ports, mosquitto?.url);
    const logDir = path.join(input.devDir, 'logs');
    await mkdir(logDir, { recursive: true });
    const bin = path.join(PACKAGE_ROOT, 'bin', 'iyesmp.js');
    // -- servers
    const auth = ServerProcess.spawn({
      name: 'auth',
      bin,
      args: ['serve', 'auth', '--config', files.auth, '--grace-ms', '1000'],
      cwd: input.devDir,
      logFile: path.join(logDir, 'auth.log'),
      onLog: (l) => tellAuth(story, l),
    });
    servers.push(auth);
    story.tell('auth', `started: iyesmp serve auth --config ${displayPath(files.auth)}  (pid ${auth.pid})`);
    await race(
      auth.waitFor((l) => l.msg === 'auth server listening', LIMIT.serverStart, 'listening'),
      interruption,
    );
    // --auth-nodes 2: a second Auth node on the same PostgreSQL database (docs/store.md)
    let auth2: ServerProcess | undefined;
    if (files.auth2 && ports.auth2) {
      auth2 = ServerProcess.spawn({
        name: 'auth-2',
        bin,
        args: ['serve', 'auth', '--config', files.auth2, '--grace-ms', '1000'],
        cwd: input.devDir,
        logFile: path.join(logDir, 'auth-2.log'),
        onLog: (l) => tellAuth(story, l, 'auth-2'),
      });
      story.tell('auth-2', `started: iyesmp serve auth --config ${displayPath(files.auth2)}  (pid ${auth2.pid}), same database`);
      await race(
        auth2.waitFor((l) => l.msg === 'matchmaking leader', LIMIT.serverStart, 'a matchmaking leader'),
        interruption,
      );
    }

    const host = ServerProcess.spawn({
      name: files.hostName,
      bin,
      args: ['serve', 'host', '--config', files.host, '--game', ttt.hostGameFile, '--grace-ms', '1000'],
      cwd: input.devDir,
      logFile: path.join(logDir, `${files.hostName}.log`),
      onLog: (l) => tellHost(story, files.hostName, l),
    });
    servers.push(host);
    if (auth2) servers.push(auth2);
    story.tell(files.hostName, `started: iyesmp serve host --config ${displayPath(files.host)} --game ${displayPath(ttt.hostGameFile)}  (pid ${host.pid})`);
    await race(
      host.waitFor((l) => l.msg === 'registered with the auth server', LIMIT.serverStart, 'registered with the auth server'),
      interruption,
      serverDeath(servers),
    );
    if (auth2)
      await race(
        auth2.waitFor((l) => l.msg === 'host registered', LIMIT.serverStart, 'the host registered'),
        interruption,
        serverDeath(servers),
      );
    phase('servers');

    // -- players
    const clientEntry = input.entries.find((e) => e.role === 'client');
    if (!clientEntry?.keyFile) throw demoError('demo_no_client', 'the dev PKI has no client certificate');
    const master = input.entries.find((e) => e.role === 'master')!;
    const { connectToAuth } = await import('../client/index.js');
    const play = async <T>(p: Promise<T>): Promise<T> => race(p, interruption, serverDeath(servers));

    for (const name of BOT_NAMES) {
      // with two Auth nodes, one player on each
      const port = auth2 && ports.auth2 && name === BOT_NAMES[1] ? ports.auth2 : ports.auth;
      const client = await play(
        connectToAuth<unknown>({
          address: formatHostPort(LOOPBACK, port),
          identity: { cert: path.join(input.pkiDir, clientEntry.certFile), key: path.join(input.pkiDir, clientEntry.keyFile) },
          trust: { caPem: path.join(input.pkiDir, master.certFile) },
          gameVersion: ttt.GAME_VERSION,
          extSchema: ttt.extSchema,
          connectTimeoutMs: LIMIT.login,
        }),
      );
      bots.push({ name, client });
    }
    await play(
      Promise.all(
        bots.map(async (b) => {
          const who = await b.client.login({ method: 'guest', displayName: b.name });
          b.accountId = who.accountId;
          story.tell(
            b.name,
            `logged in to "${b.client.welcome.serverName}" as ${who.accountId} (game build ${ttt.GAME_VERSION}, client cert ${clientEntry.name})`,
          );
        }),
      ),
    );
    phase('login');

    // -- matchmaking and hand-off
    let found = 0;
    let matchedAt = 0;
    const handoffs = bots.map((b) =>
      b.client.matchmake({
        mode: ttt.MODE,
        timeoutMs: LIMIT.match,
        onStatus: (s) => {
          if (s.phase === 'queued') story.tell(b.name, `queued for "${ttt.MODE}"`);
          if (s.phase === 'found') {
            story.tell(b.name, `matched: ${s.matchId} (${s.playerCount} players); confirming`);
            if (++found === bots.length) matchedAt = story.now();
          }
          if (s.phase === 'requeued') story.tell(b.name, `the match fell through (${s.reason}); queued again`);
          if (s.phase === 'waiting') story.tell(b.name, `waiting for a host (${Math.round(s.waitedMs / 1000)} s)`);
          if (s.phase === 'claiming') story.tell(b.name, `claiming a seat in session ${s.sessionId} with a fresh key pair`);
        },
      }),
    );
    const tickets = await play(Promise.all(handoffs));
    const handoffEnd = story.now();
    marks.set('match', Math.round((matchedAt || handoffEnd) - last));
    marks.set('handoff', Math.round(handoffEnd - (matchedAt || handoffEnd)));
    last = handoffEnd;
    tickets.forEach((t, i) => {
      const b = bots[i]!;
      b.ticket = t;
      const fp = t.credentials?.fingerprint ?? '(none)';
      story.tell(
        b.name,
        `hand-off: session ${t.sessionId}, seat ${t.playerId}, host ${formatHostPort(t.host.host, t.host.port)} (${t.transport}), session cert sha256 ${short(fp)}`,
      );
    });

    // -- the game host
    await play(
      Promise.all(
        bots.map(async (b) => {
          b.game = await withTimeout(b.client.joinHost(b.ticket!), LIMIT.join, `${b.name} could not join the game host`);
          story.tell(b.name, `connected to the game host with the session cert (mutual TLS, allow-listed address)`);
        }),
      ),
    );
    phase('connect');

    const moves: DemoMove['record'][] = [];
    const nameOf = (seat: string) => bots.find((b) => b.ticket?.playerId === seat)?.name ?? seat;
    // told from the event itself: the first move can come before an awaiting continuation would run
    const began = new Promise<string[]>((resolve) =>
      bots[0]!.game!.once('begin', (b) => {
        story.tell('game', `begins: ${ttt.begins(b.order.map(nameOf))}`);
        resolve(b.order);
      }),
    );
    const games = bots.map((b, i) =>
      // one player tells the moves (both see the same states)
      ttt.play(
        b.game!,
        i === 0
          ? (m) => {
              moves.push(m.record);
              story.tell(nameOf(m.by), `plays ${m.text}   ${m.board}`);
            }
          : undefined,
      ),
    );
    for (const g of games) g.catch(() => undefined);
    await play(
      Promise.all(
        bots.map(async (b) => {
          await b.game!.ready();
          story.tell(b.name, 'ready');
        }),
      ),
    );
    await play(began);
    phase('ready');

    const ends = await play(withTimeout(Promise.all(games), LIMIT.game, 'the game did not finish'));
    const end = ends[0]!;
    const final = ttt.final(end);
    if (final) story.block(final.block);
    const winner = end.results.find((r) => r.outcome === 'win');
    const result = winner ? `${nameOf(winner.playerId)} wins` : end.results.every((r) => r.outcome === 'draw') ? 'draw' : end.reason;
    story.tell('game', `over (${end.reason}): ${result}`);
    phase('game');

    const sessionId = tickets[0]!.sessionId;
    // the host reports to any one Auth node
    const recordedBy = (a: ServerProcess) =>
      a.waitFor((l) => l.msg === 'session results recorded' && l.sessionId === sessionId, LIMIT.record, `results recorded for ${sessionId}`);
    const recorded = await race(auth2 ? Promise.any([recordedBy(auth), recordedBy(auth2)]) : recordedBy(auth), interruption);
    phase('record');

    for (const b of bots) await b.client.close().catch(() => undefined);
    const sessionLine = auth.lines.find((l) => l.msg === 'session created; waiting for claims' && l.sessionId === sessionId);
    const fpOf = (b: Bot) => b.ticket?.credentials?.fingerprint ?? '';
    const report: DeploymentReport = {
      servers: {
        auth: {
          pid: auth.pid,
          address: formatHostPort(LOOPBACK, ports.auth),
          hostsAddress: formatHostPort(LOOPBACK, ports.authHosts),
          adminAddress: formatHostPort(LOOPBACK, files.adminPort),
          config: files.auth,
          log: auth.logFile,
        },
        ...(auth2 && ports.auth2 && ports.authHosts2 && files.auth2
          ? {
              auth2: {
                pid: auth2.pid,
                address: formatHostPort(LOOPBACK, ports.auth2),
                hostsAddress: formatHostPort(LOOPBACK, ports.authHosts2),
                config: files.auth2,
                log: auth2.logFile,
              },
            }
          : {}),
        host: {
          name: files.hostName,
          pid: host.pid,
          address: formatHostPort(LOOPBACK, ports.host),
          config: files.host,
          game: ttt.hostGameFile,
          log: host.logFile,
        },
      },
      players: bots.map((b) => {
        const r = end.results.find((x) => x.playerId === b.ticket?.playerId);
        const mark = final?.sides[b.ticket!.playerId];
        return { name: b.name, accountId: b.accountId!, seat: b.ticket!.playerId, mark, outcome: r?.outcome, certFingerprint: fpOf(b) };
      }),
      session: {
        id: sessionId,
        host: typeof sessionLine?.host === 'string' ? sessionLine.host : files.hostName,
        hostAddress: formatHostPort(tickets[0]!.host.host, tickets[0]!.host.port),
        transport: tickets[0]!.transport,
      },
      game: { name: ttt.name, reason: end.reason, result, board: final?.board ?? [], moves },
      recorded: { byAuth: true, sessionId, players: Number(recorded.players ?? end.results.length) },
      database: input.database
        ? { engine: 'postgres', where: input.database.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@') }
        : { engine: 'sqlite', where: path.join(input.devDir, 'auth-data') },
      timings: {} as Record<Phase, number>,
      keptRunning: input.keepRunning,
    };

    if (input.keepRunning) {
      const stopped = new Promise<void>((resolve) => {
        onStop = () => resolve();
        // a server that dies meanwhile ends the wait too (and is reported by its exit code)
        void Promise.race(servers.map((s) => s.exited)).then(() => resolve());
      });
      // where each server's /metrics is ([admin_http] on a free port): from its "admin http listening" line
      const metrics = servers.map((s) => s.lines.find((l) => l.event === 'admin_http_listening')?.address).filter((a): a is string => typeof a === 'string');
      keepRunningNotice(out, story, report, input, clientEntry, master, ttt, metrics);
      await stopped;
      out.note('');
    }
    const codes = await stopAll(servers, story);
    phase('shutdown');
    report.servers.auth.exitCode = codes[0] ?? null;
    report.servers.host.exitCode = codes[1] ?? null;
    if (report.servers.auth2) report.servers.auth2.exitCode = codes[2] ?? null;
    // a server that crashed (while kept running) or had to be killed is a failed run, said plainly
    const bad = servers.find((_, i) => codes[i] !== 0);
    if (bad) {
      throw demoError('demo_server_failed', `the ${bad.name} server did not stop cleanly (exit ${String(codes[servers.indexOf(bad)])})`, {
        hint: `its log is in ${bad.logFile}`,
      });
    }
    report.timings = Object.fromEntries(
      ['servers', 'login', 'match', 'handoff', 'connect', 'ready', 'game', 'record', 'shutdown'].map((p) => [p, marks.get(p as Phase) ?? 0]),
    ) as Record<Phase, number>;
    return report;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    for (const b of bots) await b.client.close().catch(() => undefined);
    if (servers.some((s) => s.running)) await stopAll(servers, story);
    await mosquitto?.stop();
  }
}

async function pickPorts(want: DeploymentInput['ports']): Promise<{ auth: number; authHosts: number; host: number }> {
  const free = await freeUdpPorts(3, LOOPBACK);
  const ports = { auth: want.auth ?? free[0]!, authHosts: want.authHosts ?? free[1]!, host: want.host ?? free[2]! };
  const values = Object.values(ports);
  if (new Set(values).size !== values.length) {
    throw demoError('same_port', `the demo needs three different ports; got ${values.join(', ')}`);
  }
  return ports;
}

/**
 * Points the scaffolded configs at loopback and the chosen ports, leaving everything else as
 * `config scaffold` wrote it (comments included), so they are the files an operator would run.
 */
async function writeRunConfigs(
  input: DeploymentInput,
  ports: { auth: number; authHosts: number; host: number; auth2?: number; authHosts2?: number },
  brokerUrl?: string,
): Promise<{ auth: string; host: string; hostName: string; auth2?: string; adminPort: number }> {
  const auth = path.join(input.devDir, 'auth.toml');
  const hostEntry = input.entries.find((e) => e.role === 'host');
  if (!hostEntry) throw demoError('demo_no_host', 'the dev PKI has no host certificate');
  const host = path.join(input.devDir, `${hostEntry.name}.toml`);
  const quote = JSON.stringify;
  let a = await readFile(auth, 'utf8');
  a = setTomlValue(a, 'listen.clients', 'address', quote(LOOPBACK));
  a = setTomlValue(a, 'listen.clients', 'port', String(ports.auth));
  a = setTomlValue(a, 'listen.hosts', 'address', quote(LOOPBACK));
  a = setTomlValue(a, 'listen.hosts', 'port', String(ports.authHosts));
  const adminPort = await pickAdminPort(Object.values(ports));
  a = enableAdmin(a, adminPort);
  // any free port, so a demo never collides with a deployment on this machine
  a = setTomlValue(a, 'admin_http', 'listen', quote(`${LOOPBACK}:0`));
  if (input.database) {
    a = setTomlValue(a, 'database', 'url', quote(input.database));
    // a fresh database gets its schema (a shared one may be at any version this build knows)
    a = setTomlValue(a, 'database', 'migrate', 'true');
  }
  // the game mode's transport (every Auth node hands off the same way)
  if (input.transport === 'mqtt' || input.transport === 'netcode') a = setTomlValue(a, 'matchmaking', 'transport', quote(input.transport));
  // netcode tokens are sealed with the key the demo wrote into the dev PKI, shared with the host
  if (input.transport === 'netcode') a = setTomlValue(a, 'netcode', 'private_key_file', quote('pki/netcode.key'));
  let auth2: string | undefined;
  const authServers = [formatHostPort(LOOPBACK, ports.authHosts)];
  if (ports.auth2 !== undefined && ports.authHosts2 !== undefined) {
    auth2 = path.join(input.devDir, 'auth-2.toml');
    let b = setTomlValue(a, 'server', 'name', quote('auth-2'));
    b = setTomlValue(b, 'listen.clients', 'port', String(ports.auth2));
    b = setTomlValue(b, 'listen.hosts', 'port', String(ports.authHosts2));
    b = setTomlValue(b, 'admin', 'port', String(await pickAdminPort([...Object.values(ports), adminPort])));
    await writeFile(auth2, b);
    authServers.push(formatHostPort(LOOPBACK, ports.authHosts2));
  }
  let h = await readFile(host, 'utf8');
  h = setTomlValue(h, 'listen', 'address', quote(LOOPBACK));
  h = setTomlValue(h, 'transports.quic', 'port', String(ports.host));
  h = setTomlValue(h, 'auth', 'servers', `[${authServers.map((x) => quote(x)).join(', ')}]`);
  h = setTomlValue(h, 'admin_http', 'listen', quote(`${LOOPBACK}:0`));
  if (input.transport === 'netcode') {
    h = setTomlValue(h, 'transports.netcode', 'enabled', 'true');
    h = setTomlValue(h, 'transports.netcode', 'port', String((await freeUdpPorts(1, LOOPBACK))[0]));
  }
  if (input.transport === 'mqtt') {
    // the mode's players are handed off to the host's MQTT room (docs/turns.md)
    h = setTomlValue(h, 'transports.mqtt', 'enabled', 'true');
    h = setTomlValue(h, 'transports.mqtt', 'port', String(await freeTcpPort(LOOPBACK)));
    if (brokerUrl) {
      // Mosquitto: the host keeps each room's ACL through its dynamic-security plugin
      h = setTomlValue(h, 'transports.mqtt', 'broker', quote(brokerUrl));
      h = setTomlValue(h, 'transports.mqtt', 'acl', quote('dynsec'));
    }
  }
  await writeFile(auth, a);
  await writeFile(host, h);
  return { auth, host, hostName: hostEntry.name, ...(auth2 ? { auth2 } : {}), adminPort };
}

/** A free TCP port on loopback (the embedded MQTT broker listens on TCP). */
async function freeTcpPort(host: string): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const a = srv.address();
      srv.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

/** Selected Auth server log lines, told as they arrive. */
function tellAuth(story: Story, l: LogLine, name = 'auth'): void {
  switch (l.msg) {
    case 'auth server listening':
      return story.tell(name, `listening: players on udp ${LOOPBACK}:${String(l.clients)}, hosts on udp ${LOOPBACK}:${String(l.hosts)}`);
    case 'session created; waiting for claims':
      return story.tell(
        name,
        `picked host ${String(l.host)} for session ${String(l.sessionId)} (${String(l.players)} players, ${String(l.transport)}); sent session.ready`,
      );
    case 'host acknowledged; players handed off':
      return story.tell(name, `${String(l.host)} reserved the seats; hand-offs sent (session certs minted by SessionAuth)`);
    case 'session results recorded':
      return story.tell(name, `results of session ${String(l.sessionId)} recorded (${String(l.players)} players, ${String(l.reason)})`);
    default:
      if (l.level >= 40) story.tell(name, `${l.level >= 50 ? 'error' : 'warning'}: ${l.msg}`);
  }
}

/** Selected Host server log lines, told as they arrive. */
function tellHost(story: Story, name: string, l: LogLine): void {
  switch (l.msg) {
    case 'host server listening':
      return story.tell(name, `listening: players on udp ${LOOPBACK}:${String(l.players)} (allow-list empty until a session is announced)`);
    case 'registered with the auth server':
      return story.tell(name, `registered with the auth server (heartbeat every ${Math.round(Number(l.heartbeatMs) / 1000)} s)`);
    case 'session ended':
      return story.tell(name, `session ${String(l.sessionId)} ended; results sent to the auth server`);
    default:
      if (l.level >= 40) story.tell(name, `${l.level >= 50 ? 'error' : 'warning'}: ${l.msg}`);
  }
}

async function stopAll(servers: ServerProcess[], story: Story): Promise<(number | null)[]> {
  const codes: (number | null)[] = [];
  // the host first: it finishes delivering results while the auth server still listens
  for (const s of [...servers].reverse()) {
    const was = s.running;
    const r = await s.stop(LIMIT.stop);
    if (was) story.tell(s.name, r.signal ? `stopped (${r.signal})` : `stopped (exit ${r.code})`);
    codes.unshift(r.code);
  }
  return codes;
}

/** Rejects as soon as any server exits: a wait on the players must not outlive a dead server. */
function serverDeath(servers: ServerProcess[]): Promise<never> {
  const p = Promise.race(servers.map((s) => s.failure()));
  p.catch(() => undefined);
  return p;
}

function race<T>(p: Promise<T>, ...failures: Promise<never>[]): Promise<T> {
  return Promise.race([p, ...failures]);
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return orTimeout(p, ms, () => demoError('demo_timeout', `${what} within ${Math.round(ms / 1000)} s`));
}

/** A path as a person would type it from here: relative below the working folder, else absolute. */
export function displayPath(p: string): string {
  const r = path.relative(process.cwd(), p);
  return r === '' ? '.' : r.startsWith('..') || path.isAbsolute(r) ? p : r;
}

function short(fp: string): string {
  const hex = fp.replace(/[^0-9a-f]/gi, '').toLowerCase();
  return hex.length > 16 ? `${hex.slice(0, 16)}…` : hex;
}

function keepRunningNotice(
  out: Output,
  story: Story,
  r: DeploymentReport,
  input: DeploymentInput,
  client: ManifestEntry,
  master: ManifestEntry,
  ttt: DemoGame,
  metrics: string[] = [],
): void {
  out.note(
    [
      '',
      out.noteStyle.bold('Play on this deployment (two terminals, or one with --bot):'),
      `  node ${displayPath(ttt.playFile)} --server ${r.servers.auth.address} \\`,
      `    --cert ${displayPath(path.join(input.pkiDir, client.certFile))} --key ${displayPath(path.join(input.pkiDir, client.keyFile!))} \\`,
      `    --ca ${displayPath(path.join(input.pkiDir, master.certFile))}`,
      `Server logs: ${displayPath(r.servers.auth.log)}, ${displayPath(r.servers.host.log)}`,
      ...adminNotice(r.servers.auth, input.pkiDir, displayPath, out.noteStyle.bold, metrics),
      '',
    ].join('\n'),
  );
  // last, so whoever waits for it has the instructions above already
  story.tell('demo', 'the servers keep running; Ctrl-C stops them');
}
