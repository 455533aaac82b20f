import type { Command } from 'commander';
import { action, type Output } from '../cli/output.js';
import { withTimeout } from '../events/timeout.js';

/**
 * `iyesmp serve auth|host --config FILE`: runs a server until SIGINT/SIGTERM (drain, then exit 0).
 * Logs are JSON lines on stdout in the schema of serve/log.ts (or pretty lines), on stderr with
 * --json, whose one document is printed at exit. [admin_http] serves /metrics, /healthz, /readyz.
 * SIGHUP re-reads the TLS certificate/key and the trust list (e.g. after `iyesmp certs retire`).
 */
interface ServeFlags {
  config?: string;
  game?: string;
  graceMs?: string;
  passphraseFile?: string;
  migrate?: boolean;
}

export function register(program: Command): void {
  const serve = program
    .command('serve')
    .description('run an Auth server or a Host server from its config file')
    .addHelpText(
      'after',
      `
Examples:
  $ iyesmp config scaffold auth --out auth.toml && iyesmp serve auth --config auth.toml
  $ iyesmp serve host --config host-1.toml --game ./dist/my-game.js
Signals: SIGINT/SIGTERM stop and exit 0 (serve host: SIGTERM first drains, see its --help);
SIGHUP reloads certificates and the trust list.

Without --config the file is $IYESMP_CONFIG, else ./iyesmp-auth.toml (./iyesmp-host.toml), else
/etc/iyesmp/auth.toml (/etc/iyesmp/host.toml). Any key can be overridden from the environment, before
validation: IYESMP_AUTH__SECTION__KEY for auth, IYESMP_HOST__SECTION__KEY for host, e.g.
IYESMP_AUTH__LISTEN__CLIENTS__PORT=7350 or IYESMP_HOST__PKI__KEY=/run/secrets/host.key
(\`iyesmp config check\` shows what they change).`,
    );

  serve
    .command('auth')
    .description('run an Auth server (accounts, lobbies, matchmaking, hand-off)')
    .option('-c, --config <file>', 'auth.toml (see `iyesmp config scaffold auth`); default $IYESMP_CONFIG, then ./iyesmp-auth.toml, then /etc/iyesmp/auth.toml')
    .option('--grace-ms <ms>', 'how long shutdown waits for open streams', '3000')
    .option('--passphrase-file <file>', 'file holding the SessionAuth key passphrase (when the key is encrypted)')
    .option('--migrate', 'bring an older database schema up to date before serving (same as database.migrate = true)')
    .addHelpText(
      'after',
      `
An encrypted SessionAuth key takes its passphrase from, first found: --passphrase-file,
pki.session_auth_passphrase_file, $IYESMP_SESSIONAUTH_PASSPHRASE, or the systemd credential
sessionauth-passphrase (LoadCredential=sessionauth-passphrase:FILE).
State lives in [database]: PostgreSQL when url is set, else the embedded database in path (created
when missing). A schema newer than this build is refused; an older one is migrated only with
--migrate or database.migrate = true (or run \`iyesmp db migrate\`).

Examples:
  $ iyesmp serve auth --config ./auth.toml
  $ iyesmp serve auth --config ./auth.toml --passphrase-file /run/secrets/sessionauth.pass
  $ iyesmp serve auth --config ./auth.toml --json 2>auth.log`,
    )
    .action(
      action<ServeFlags>('serve auth', async (out, opts) => {
        const { loadConfig } = await import('../config/load.js');
        const { discoverConfig, envOverrides } = await import('../config/env.js');
        const found = discoverConfig('auth', opts.config);
        const config = await loadConfig(found.file, 'auth');
        const logger = await makeLogger(config.logging, 'auth', config.server.name, out);
        logger.info({ config: found.file, from: found.from, overrides: envOverrides('auth', process.env).map((o) => o.variable) }, 'config loaded');
        const { authOptionsFromConfig } = await import('../serve/config.js');
        const { openStoreFromConfig } = await import('../serve/store.js');
        const stores = await openStoreFromConfig(config, { migrate: opts.migrate === true });
        if (stores.migrated.length > 0) logger.info({ database: stores.database.where, migrations: stores.migrated }, 'database schema migrated');
        logger.info({ engine: stores.database.engine, database: stores.database.where }, 'state kept in the database');
        const options = await authOptionsFromConfig(config, logger, opts.passphraseFile ? { passphraseFile: opts.passphraseFile } : {}, stores).catch(
          async (err: unknown) => {
            await stores.close();
            throw err;
          },
        );
        // on PostgreSQL, Auth nodes sharing the database serve one deployment (docs/store.md)
        if (config.database.url) {
          const { openPgCluster, clusterSecret } = await import('../store/pg-cluster.js');
          options.cluster = await openPgCluster({
            url: config.database.url,
            node: config.server.name,
            secret: await clusterSecret(config.pki.session_auth_key),
            logger: logger.child({ part: 'cluster' }),
          }).catch(async (err: unknown) => {
            await stores.close();
            throw err;
          });
        }
        const release = async (): Promise<void> => {
          await options.cluster?.close();
          await stores.close();
        };
        // the webhook's secret and queue, and the admin listener's address, are checked before the
        // QUIC endpoints bind: a bad one stops the start with nothing half-running
        const sink = await openWebhook(config.results.webhook, logger).catch(async (err: unknown) => {
          await release();
          throw err;
        });
        const admin = await openAdminHttp(config.admin_http, logger).catch(async (err: unknown) => {
          await sink?.close();
          await release();
          throw err;
        });
        const { startAuthServer } = await import('../auth/server.js');
        // signals are handled from before the start: a stop that comes while it binds is not lost
        let server: Awaited<ReturnType<typeof startAuthServer>> | undefined;
        const stopped = watchSignals(
          logger,
          reloadTls(options.verifier, () => server),
          { drains: false },
        ).first;
        server = await startAuthServer(options).catch(async (err: unknown) => {
          await sink?.close();
          await admin?.close();
          await release();
          throw err;
        });
        const auth = server;
        if (sink)
          auth.on(
            'session-ended',
            (r) =>
              void sink
                .enqueue(r.id, 'session.ended', sessionResult(r))
                .catch((err: unknown) =>
                  logger.error({ event: 'webhook_enqueue_failed', sessionId: r.id, message: (err as Error).message }, 'webhook: could not queue a result'),
                ),
          );
        let stopping = false;
        admin?.attach((m, registry) => {
          m.instrumentAuthServer(auth, registry);
          if (sink) m.instrumentResultsSink(registry, 'webhook', () => sink.stats);
          return async () => ({ listening: { ok: !stopping, ...(stopping ? { detail: 'shutting down' } : {}) }, ...(await storeCheck(auth)) });
        });
        const signal = await stopped;
        stopping = true;
        await server.close({ graceMs: Number(opts.graceMs ?? 3000) });
        await sink?.close();
        await admin?.close();
        await stores.close();
        out.result(
          'serve auth',
          {
            stopped: true,
            signal,
            clientsPort: server.clientPort,
            hostsPort: server.hostPort,
            ...(server.adminPort ? { adminPort: server.adminPort } : {}),
            ...(admin ? { adminHttp: admin.address } : {}),
            ...(sink ? { webhook: sink.stats } : {}),
          },
          () => '',
        );
        exitSoon();
      }),
    );

  serve
    .command('host')
    .description('run a Host server: registers with the Auth servers and runs game sessions')
    .option('-c, --config <file>', 'host.toml (see `iyesmp config scaffold host`); default $IYESMP_CONFIG, then ./iyesmp-host.toml, then /etc/iyesmp/host.toml')
    .option(
      '--game <module>',
      'ES module exporting the game (`default` or `game`: { begin(session) }); default: a relay that forwards game messages between players',
    )
    .option('--grace-ms <ms>', 'how long shutdown waits to deliver results', '3000')
    .addHelpText(
      'after',
      `
Drain: SIGTERM, or \`iyesmp admin drain HOST\`, stops new sessions here (the Auth servers are
told), lets running games finish for up to host.drain_timeout_seconds (then cancels them),
delivers the results and exits 0. A second SIGTERM, or SIGINT, stops at once.

Examples:
  $ iyesmp serve host --config ./host-1.toml
  $ iyesmp serve host --config ./host-1.toml --game ./dist/chess-host.js
  $ kill -TERM $(pidof iyesmp)      # rolling deploy: drain this host, then exit 0`,
    )
    .action(
      action<ServeFlags>('serve host', async (out, opts) => {
        const { loadConfig } = await import('../config/load.js');
        const { discoverConfig, envOverrides } = await import('../config/env.js');
        const found = discoverConfig('host', opts.config);
        const config = await loadConfig(found.file, 'host');
        const logger = await makeLogger(config.logging, 'host', config.host.name, out);
        logger.info({ config: found.file, from: found.from, overrides: envOverrides('host', process.env).map((o) => o.variable) }, 'config loaded');
        const { hostFromConfig } = await import('../serve/config.js');
        const { options, game } = await hostFromConfig(config, logger, opts.game);
        const admin = await openAdminHttp(config.admin_http, logger);
        const { startHostServer } = await import('../host/server.js');
        // signals are handled from before the start: a stop that comes while it binds is not lost
        let server: Awaited<ReturnType<typeof startHostServer>> | undefined;
        const signals = watchSignals(
          logger,
          reloadTls(options.verifier, () => server),
          { drains: true },
        );
        server = await startHostServer(options, game).catch(async (err: unknown) => {
          await admin?.close();
          throw err;
        });
        const running = server;
        let stopping = false;
        admin?.attach((m, registry) => {
          m.instrumentHostServer(running, registry);
          return () => {
            const links = running.connectedAuthServers().length;
            return {
              // a draining host takes no new sessions: not ready for the load balancer either
              listening: { ok: !stopping, ...(stopping ? { detail: 'draining or shutting down' } : {}) },
              auth_link: { ok: links > 0, detail: `registered with ${links} of ${running.stats().authLinks.total} Auth servers` },
            };
          };
        });
        // an admin drain (through an Auth server or the admin port) ends the same way as SIGTERM
        const first = await Promise.race([signals.first, running.whenDrained().then(() => 'drained')]);
        stopping = true;
        let signal = first;
        if (first === 'SIGTERM') {
          // drain: games finish up to the deadline, results go out; a second signal stops at once
          running.startDrain({ reason: 'SIGTERM', by: 'signal' });
          const again = await Promise.race([signals.next(), running.whenDrained().then(() => undefined)]);
          if (again) logger.warn({ signal: again }, 'second signal: stopping now, cancelling the games still running');
          signal = again ? `SIGTERM+${again}` : 'SIGTERM';
        }
        await running.close({ graceMs: Number(opts.graceMs ?? 3000) });
        await admin?.close();
        out.result(
          'serve host',
          {
            stopped: true,
            signal,
            playersPort: server.playerPort,
            ...(running.adminPort ? { adminPort: running.adminPort } : {}),
            unsentResults: server.domain.outbox.size,
            stats: server.stats(),
            ...(admin ? { adminHttp: admin.address } : {}),
          },
          () => '',
        );
        exitSoon();
      }),
    );
  serve
    .command('broker')
    .description("run the embedded MQTT broker alone, for turn-based games (a host's [transports.mqtt] with its certificate)")
    .requiredOption('-c, --config <file>', 'a host.toml: its [pki], [listen] address and [transports.mqtt] port and limits')
    .addHelpText(
      'after',
      `
The broker uses the host certificate of the config as its server certificate, accepts only
certificates of the PKI (session certificates of players, host certificates of game hosts), and
takes each room's ACL from the hosts over $CONTROL/iyesmp/v1. Point hosts at it with
[transports.mqtt] broker = "mqtts://<this machine>:<port>", acl = "control".

Examples:
  $ iyesmp serve broker --config ./broker.toml`,
    )
    .action(
      action<ServeFlags>('serve broker', async (out, opts) => {
        const { loadConfig } = await import('../config/load.js');
        const { discoverConfig } = await import('../config/env.js');
        const found = discoverConfig('host', opts.config);
        const config = await loadConfig(found.file, 'host');
        const logger = await makeLogger(config.logging, 'broker', config.host.name, out);
        const { brokerFromConfig } = await import('../serve/broker.js');
        const { broker, reload } = await brokerFromConfig(config, logger);
        const url = broker.url();
        logger.info({ url }, 'mqtt broker listening');
        const signal = await watchSignals(logger, reload, { drains: false }).first;
        await broker.close();
        out.result('serve broker', { stopped: true, signal, url }, () => '');
        exitSoon();
      }),
    );
}

async function makeLogger(logging: { level: string; format: 'json' | 'pretty' }, component: 'auth' | 'host' | 'broker', node: string, out: Output) {
  const { makeServerLogger } = await import('../serve/log.js');
  // stdout normally; stderr when stdout is reserved for the --json document (out.color is that stream's)
  const logger = makeServerLogger({ level: logging.level, format: logging.format, component, node, fd: out.json ? 2 : 1, color: out.color });
  // a server keeps serving its other peers: a stray rejection is logged, not fatal
  process.on('unhandledRejection', (err) => logger.error({ message: err instanceof Error ? err.message : String(err) }, 'unhandled rejection'));
  return logger;
}

type MetricsModule = typeof import('../metrics/index.js');
type ReadyChecks = () => Record<string, import('../metrics/index.js').ReadyCheck> | Promise<Record<string, import('../metrics/index.js').ReadyCheck>>;

/**
 * The admin HTTP listener ([admin_http]) with the server's own metrics registry, bound before the
 * server so a bad address stops the start early; undefined when it is turned off. Until `attach`
 * registers the server's metrics and readiness checks, /readyz says "starting".
 */
async function openAdminHttp(c: { enabled: boolean; listen: string }, logger: import('pino').Logger) {
  if (!c.enabled) return undefined;
  const m = await import('../metrics/index.js');
  const registry = m.createRegistry();
  let checks: ReadyChecks = () => ({ listening: { ok: false, detail: 'starting' } });
  const http = await m.startAdminHttp({ listen: c.listen, registry, ready: () => checks() });
  logger.info({ event: 'admin_http_listening', address: http.address, port: http.port }, 'admin http listening: /metrics /healthz /readyz');
  return {
    address: http.address,
    close: () => http.close(),
    attach: (instrument: (m: MetricsModule, registry: import('prom-client').Registry) => ReadyChecks): void => {
      checks = instrument(m, registry);
    },
  };
}

/**
 * A session store that can say whether it is reachable (a database: `reachable()` or `ping()`) is one
 * more readiness check, bounded to 2 s so a hung database answers "not ready" rather than hanging /readyz.
 */
async function storeCheck(server: { sessions: { store: unknown } }): Promise<Record<string, { ok: boolean; detail?: string }>> {
  const store = server.sessions.store as { reachable?: () => boolean | Promise<boolean>; ping?: () => Promise<unknown> } | undefined;
  const probe =
    typeof store?.reachable === 'function' ? () => store.reachable!() : typeof store?.ping === 'function' ? () => store.ping!().then(() => true) : undefined;
  if (!probe) return {};
  const ok =
    (await withTimeout(
      Promise.resolve()
        .then(probe)
        .catch(() => false),
      2000,
    )) === true;
  return { store: { ok, ...(ok ? {} : { detail: 'the session store is not reachable' }) } };
}

async function openWebhook(w: import('../config/auth.js').AuthConfig['results']['webhook'], logger: import('pino').Logger) {
  if (w.url === undefined || w.secret_file === undefined) return undefined;
  const { WebhookSink, readWebhookSecret } = await import('../results/webhook.js');
  const secret = await readWebhookSecret(w.secret_file);
  const sink = await WebhookSink.open({
    url: w.url,
    secret,
    queueDir: w.queue_dir,
    timeoutMs: w.timeout_seconds * 1000,
    maxAttempts: w.max_attempts,
    maxPending: w.max_pending,
    log: logger,
  });
  logger.info({ event: 'webhook_ready', url: redactUrl(w.url), queueDir: w.queue_dir, pending: sink.stats.pending }, 'results webhook ready');
  return sink;
}

/** What the webhook sends for an ended session: the Auth server's record, without hand-off credentials. */
function sessionResult(r: import('../auth/sessions.js').SessionRecord) {
  const res = (r.results ?? {}) as { reason?: string; endedAt?: number; results?: unknown; ext?: unknown };
  return {
    sessionId: r.id,
    state: r.state,
    host: r.hostName,
    transport: r.transport,
    mode: r.mode ?? null,
    origin: r.origin ?? null,
    players: r.players,
    createdAt: new Date(r.createdAt).toISOString(),
    endedAt: new Date(r.endedAt ?? res.endedAt ?? r.updatedAt).toISOString(),
    reason: res.reason ?? r.reason ?? null,
    results: res.results ?? [],
    ...(res.ext !== undefined ? { ext: res.ext } : {}),
  };
}

/** A URL for the log: no credentials, no query (either may hold a token). */
function redactUrl(u: string): string {
  const url = new URL(u);
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/** SIGHUP of auth and host: the trust list, then the server's certificate and key once it has started. */
function reloadTls(verifier: { reload(): Promise<unknown> }, server: () => { reloadCertificates(): Promise<void> } | undefined): () => Promise<void> {
  return async () => {
    await verifier.reload();
    await server()?.reloadCertificates();
  };
}

/**
 * The stop signals (SIGINT, SIGTERM) and SIGHUP, watched from before the server starts: `first`
 * resolves with the first stop signal, `next()` with the one after it (serve host: SIGTERM drains, a
 * second signal stops at once). Later stop signals nobody waits for are absorbed: Ctrl-C reaches a
 * whole process group, so a supervisor (the demo, a shell script) often sends its own SIGTERM right
 * after, and the default action would kill the shutdown half-way. SIGHUP runs `reload`; with
 * `drains` (a host still runs its games while draining) it keeps doing so after the first stop
 * signal, and that first SIGTERM is logged as a drain; otherwise a SIGHUP while stopping is logged
 * and ignored.
 */
function watchSignals(
  logger: import('pino').Logger,
  reload: () => Promise<void>,
  { drains }: { drains: boolean },
): { first: Promise<string>; next: () => Promise<string> } {
  let waiters: Array<(sig: string) => void> = [];
  let stopping = false;
  let resolveFirst!: (sig: string) => void;
  const first = new Promise<string>((r) => {
    resolveFirst = r;
  });
  const onHup = () => {
    // keep the handler while stopping: SIGHUP's default action would kill the shutdown half-way
    if (stopping && !drains) return logger.info({ signal: 'SIGHUP' }, 'already shutting down; nothing reloaded');
    reload().then(
      () => logger.info('reloaded certificates and trust list'),
      (err: unknown) =>
        logger.error({ code: (err as { code?: string }).code, message: (err as Error).message }, 'reload failed; keeping the running certificates'),
    );
  };
  const stop = (sig: string) => {
    if (!stopping) {
      stopping = true;
      logger.info({ signal: sig }, drains && sig === 'SIGTERM' ? 'draining, then stopping' : 'shutting down');
      resolveFirst(sig);
      return;
    }
    const w = waiters;
    waiters = [];
    if (w.length === 0) logger.info({ signal: sig }, 'already shutting down');
    for (const f of w) f(sig);
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGHUP', onHup);
  return { first, next: () => new Promise<string>((r) => waiters.push(r)) };
}

/**
 * The QUIC library may keep a handle for a moment after close; do not let it hold the exit. And
 * once the loop is empty, exit through `process.exit` rather than the natural teardown: that one
 * closes the signal handles first (SIGHUP back to its default action, which kills) and then takes a
 * while, so a `systemctl reload` racing the stop could still end the process by a signal.
 */
function exitSoon(): void {
  const exit = () => process.exit(process.exitCode ?? 0);
  setTimeout(exit, 1500).unref();
  process.once('beforeExit', exit);
}
