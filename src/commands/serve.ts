import type { Command } from 'commander';
import { action, type Output } from '../cli/output.js';

/**
 * `iyesmp serve auth|host --config FILE`: runs a server until SIGINT/SIGTERM (drain, then exit 0).
 * Logs are pino JSON lines on stdout (on stderr with --json, whose one document is printed at exit).
 * SIGHUP re-reads the TLS certificate/key and the trust list (e.g. after `iyesmp certs retire`).
 */
interface ServeFlags {
  config: string;
  game?: string;
  graceMs?: string;
  passphraseFile?: string;
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
Signals: SIGINT/SIGTERM drain and exit 0; SIGHUP reloads certificates and the trust list.`,
    );

  serve
    .command('auth')
    .description('run an Auth server (accounts, lobbies, matchmaking, hand-off)')
    .requiredOption('-c, --config <file>', 'auth.toml (see `iyesmp config scaffold auth`)')
    .option('--grace-ms <ms>', 'how long shutdown waits for open streams', '3000')
    .option('--passphrase-file <file>', 'file holding the SessionAuth key passphrase (when the key is encrypted)')
    .addHelpText(
      'after',
      `
An encrypted SessionAuth key takes its passphrase from, first found: --passphrase-file,
pki.session_auth_passphrase_file, $IYESMP_SESSIONAUTH_PASSPHRASE, or the systemd credential
sessionauth-passphrase (LoadCredential=sessionauth-passphrase:FILE).

Examples:
  $ iyesmp serve auth --config ./auth.toml
  $ iyesmp serve auth --config ./auth.toml --passphrase-file /run/secrets/sessionauth.pass
  $ iyesmp serve auth --config ./auth.toml --json 2>auth.log`,
    )
    .action(
      action<ServeFlags>('serve auth', async (out, opts) => {
        const { loadConfig } = await import('../config/load.js');
        const config = await loadConfig(opts.config, 'auth');
        const logger = await makeLogger(config.logging.level, out);
        const { authOptionsFromConfig } = await import('../serve/config.js');
        const options = await authOptionsFromConfig(config, logger, opts.passphraseFile ? { passphraseFile: opts.passphraseFile } : {});
        const { startAuthServer } = await import('../auth/server.js');
        // signals are handled from before the start: a stop that comes while it binds is not lost
        let server: Awaited<ReturnType<typeof startAuthServer>> | undefined;
        const stopped = untilSignal(logger, async () => {
          await options.verifier.reload();
          await server?.reloadCertificates();
        });
        server = await startAuthServer(options);
        const signal = await stopped;
        await server.close({ graceMs: Number(opts.graceMs ?? 3000) });
        out.result('serve auth', { stopped: true, signal, clientsPort: server.clientPort, hostsPort: server.hostPort }, () => '');
        exitSoon();
      }),
    );

  serve
    .command('host')
    .description('run a Host server: registers with the Auth servers and runs game sessions')
    .requiredOption('-c, --config <file>', 'host.toml (see `iyesmp config scaffold host`)')
    .option(
      '--game <module>',
      'ES module exporting the game (`default` or `game`: { begin(session) }); default: a relay that forwards game messages between players',
    )
    .option('--grace-ms <ms>', 'how long shutdown waits to deliver results', '3000')
    .addHelpText(
      'after',
      `
Examples:
  $ iyesmp serve host --config ./host-1.toml
  $ iyesmp serve host --config ./host-1.toml --game ./dist/chess-host.js`,
    )
    .action(
      action<ServeFlags>('serve host', async (out, opts) => {
        const { loadConfig } = await import('../config/load.js');
        const config = await loadConfig(opts.config, 'host');
        const logger = await makeLogger(config.logging.level, out);
        const { hostFromConfig } = await import('../serve/config.js');
        const { options, game } = await hostFromConfig(config, logger, opts.game);
        const { startHostServer } = await import('../host/server.js');
        // signals are handled from before the start: a stop that comes while it binds is not lost
        let server: Awaited<ReturnType<typeof startHostServer>> | undefined;
        const stopped = untilSignal(logger, async () => {
          await options.verifier.reload();
          await server?.reloadCertificates();
        });
        server = await startHostServer(options, game);
        const signal = await stopped;
        await server.close({ graceMs: Number(opts.graceMs ?? 3000) });
        out.result(
          'serve host',
          { stopped: true, signal, playersPort: server.playerPort, unsentResults: server.domain.outbox.size, stats: server.stats() },
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
        const config = await loadConfig(opts.config, 'host');
        const logger = await makeLogger(config.logging.level, out);
        const { brokerFromConfig } = await import('../serve/broker.js');
        const broker = await brokerFromConfig(config, logger);
        const url = broker.url();
        logger.info({ url }, 'mqtt broker listening');
        const signal = await untilSignal(logger, async () => {});
        await broker.close();
        out.result('serve broker', { stopped: true, signal, url }, () => '');
        exitSoon();
      }),
    );
}

async function makeLogger(level: string, out: Output) {
  const { default: pino } = await import('pino');
  // stdout normally; stderr when stdout is reserved for the --json document
  const logger = pino({ level, base: { pid: process.pid } }, pino.destination({ fd: out.json ? 2 : 1, sync: true }));
  // a server keeps serving its other peers: a stray rejection is logged, not fatal
  process.on('unhandledRejection', (err) => logger.error({ message: err instanceof Error ? err.message : String(err) }, 'unhandled rejection'));
  return logger;
}

/**
 * Resolves with the signal that asked to stop; SIGHUP runs `reload` and keeps going. Later stop
 * signals are absorbed while the server drains: Ctrl-C reaches a whole process group, so a
 * supervisor (the demo, a shell script) often sends its own SIGTERM right after, and the default
 * action would kill the drain half-way.
 */
function untilSignal(logger: import('pino').Logger, reload: () => Promise<void>): Promise<string> {
  return new Promise((resolve) => {
    let stopping = false;
    const stop = (sig: string) => {
      if (stopping) {
        logger.info({ signal: sig }, 'already shutting down');
        return;
      }
      stopping = true;
      process.off('SIGHUP', onHup);
      logger.info({ signal: sig }, 'shutting down');
      resolve(sig);
    };
    const onInt = () => stop('SIGINT');
    const onTerm = () => stop('SIGTERM');
    const onHup = () => {
      reload().then(
        () => logger.info('reloaded certificates and trust list'),
        (err: unknown) =>
          logger.error({ code: (err as { code?: string }).code, message: (err as Error).message }, 'reload failed; keeping the running certificates'),
      );
    };
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    process.on('SIGHUP', onHup);
  });
}

/** The QUIC library may keep a handle for a moment after close; do not let it hold the exit. */
function exitSoon(): void {
  setTimeout(() => process.exit(process.exitCode ?? 0), 1500).unref();
}
