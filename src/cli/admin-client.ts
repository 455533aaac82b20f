/**
 * The operator's side of the admin channel, shared by `iyesmp admin ...` and `iyesmp top`: where the
 * server is (`--server`, or the `[admin]` table of its config), which Admin certificate to present
 * (`--cert/--key`, or the PKI folder's admin cert), and which CAs to trust (`--trust`, the config's
 * trust_dir, or the PKI folder). Heavy modules load lazily: this file is imported by command modules.
 */
import type { Command } from 'commander';
import { cliError } from './errors.js';
import { withTimeout } from '../events/timeout.js';
import { DIR_FLAG, DIR_HELP, resolvePkiDir } from './pki-dir.js';

export interface AdminFlags {
  server?: string;
  config?: string;
  cert?: string;
  key?: string;
  trust?: string;
  dir?: string;
  as?: string;
  serverName?: string;
  timeout?: string;
  /** kick, ban and drain: act without asking (required without a terminal, as for `certs retire`) */
  yes?: boolean;
}

export function addAdminOptions(cmd: Command): Command {
  return cmd
    .option('-s, --server <host:port>', "the server's admin port (default: the [admin] table of --config)")
    .option('-c, --config <file>', "the server's auth.toml or host.toml: its [admin] address and port, and its trust_dir")
    .option('--cert <file>', 'Admin certificate (PEM); default: the admin cert of the PKI folder')
    .option('--key <file>', 'its private key (PEM)')
    .option('--as <name>', 'which admin cert of the PKI folder, when it holds several (e.g. alice or admin-alice)')
    .option('--trust <dir>', 'trust folder (or PKI folder) to check the server with; default: --config trust_dir, else the PKI folder')
    .option(DIR_FLAG, DIR_HELP)
    .option('--server-name <name>', "name the server's certificate must carry (default: not checked, only its role and chain)")
    .option('--timeout <ms>', 'give up connecting after this long', '10000');
}

/**
 * The wire's bounds on what an operator types (ids and names 1..128 characters, reasons up to 1,024),
 * checked before anything is dialled so a long paste is a usage error naming the flag, not a protocol error.
 */
export function checkAdminText(what: string, value: string, max: number, o: { argument?: boolean } = {}): string {
  if (value.length === 0 || value.length > max) {
    throw cliError(o.argument ? 'invalid_argument' : 'bad_flag', `${what}: ${value.length === 0 ? 'empty' : `${value.length} characters, at most ${max}`}`);
  }
  return value;
}

/**
 * The y/N question in front of kick, ban and drain, the same guard as `certs retire`: a terminal asks
 * unless `--yes`; a script must pass `--yes` (usage error, exit 2, before anything is dialled).
 */
export async function confirmAdminAction(flags: AdminFlags, what: string, question: string): Promise<void> {
  const { confirmDestructive } = await import('./confirm.js');
  const where = flags.server ?? flags.config;
  await confirmDestructive({
    yes: flags.yes,
    what,
    question: where ? `${question} (on ${where})` : question,
    hint: 'pass --yes to confirm in a script',
  });
}

export interface AdminTarget {
  host: string;
  port: number;
  cert: string;
  key: string;
  trustDir: string;
}

/** Resolves where to connect and with which credentials, with a clear error for each missing piece. */
export async function resolveAdminTarget(flags: AdminFlags): Promise<AdminTarget> {
  const path = await import('node:path');
  let address: { host: string; port: number } | undefined;
  let trustDir = flags.trust;
  if (flags.server) address = parseServer(flags.server);
  if (flags.config) {
    const { checkConfigFile, formatProblem } = await import('../config/load.js');
    const r = await checkConfigFile(flags.config);
    if (!r.ok) throw cliError('config_invalid', `${flags.config} is not a valid config:\n${r.problems.map((p) => '  ' + formatProblem(p)).join('\n')}`);
    trustDir ??= r.config.pki.trust_dir;
    if (!address) {
      const a = r.config.admin;
      if (!a) {
        throw cliError('missing_option', `${flags.config} has no [admin] table: this server has no admin port`, {
          hint: 'add [admin] (address, port) to the config and restart the server, or pass --server HOST:PORT',
        });
      }
      // a server listening on every address is reached on loopback from its own machine
      const host = a.address === '0.0.0.0' ? '127.0.0.1' : a.address === '::' ? '::1' : a.address;
      address = { host, port: a.port };
    }
  }
  if (!address) throw cliError('missing_option', 'which server? pass --server HOST:PORT (its admin port) or --config FILE (its config)');
  const dir = resolvePkiDir(flags.dir);
  let cert = flags.cert;
  let key = flags.key;
  if ((cert === undefined) !== (key === undefined)) throw cliError('missing_option', '--cert and --key go together');
  if (cert === undefined) {
    const { openPki } = await import('../pki/index.js');
    const pki = await openPki(dir);
    const admins = pki.list('admin');
    const wanted = flags.as;
    const pick = wanted ? admins.find((e) => e.name === wanted || e.name === `admin-${wanted}`) : admins.length === 1 ? admins[0] : undefined;
    if (!pick) {
      if (admins.length === 0 || wanted) {
        throw cliError('not_found', wanted ? `no admin certificate ${wanted} in ${dir}` : `the PKI folder ${dir} holds no admin certificate`, {
          hint: admins.length ? `known: ${admins.map((e) => e.name).join(', ')}` : 'issue one: iyesmp certs issue admin YOUR-NAME (or pass --cert and --key)',
        });
      }
      throw cliError('missing_option', `${dir} holds several admin certificates: say which with --as`, {
        hint: `known: ${admins.map((e) => e.name).join(', ')}`,
      });
    }
    if (!pick.keyFile) throw cliError('not_found', `the key of ${pick.name} is not kept in ${dir}`);
    cert = pki.path(pick.certFile);
    key = pki.path(pick.keyFile);
  }
  // PEM text (library callers, tests) is passed through; anything else is a file path
  const file = (v: string) => (v.includes('-----BEGIN') ? v : path.resolve(v));
  return { ...address, cert: file(cert), key: file(key!), trustDir: path.resolve(trustDir ?? dir) };
}

function parseServer(text: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^\s:[\]]+):(\d+)$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw cliError('bad_address', `--server ${text}: expected HOST:PORT or [IPv6]:PORT (the server's admin port)`);
  }
  return { host: m[1]!, port };
}

export type AdminConnection = Awaited<ReturnType<typeof connectAdmin>>;

/** Dials the admin port and says hello; the caller closes it. */
export async function connectAdmin(flags: AdminFlags, tool: string) {
  const target = await resolveAdminTarget(flags);
  const [{ connectQuic, ALPN }, { loadTrustBundle, createVerifier }, { ProtocolConnection, adminFamily, ADMIN_PROTOCOL_LIMITS }] = await Promise.all([
    import('../transport/index.js'),
    import('../pki/index.js'),
    import('../protocol/index.js'),
  ]);
  const verifier = createVerifier(await loadTrustBundle(target.trustDir));
  // the admin port is an Auth server's or a Host's: either role's certificate will do
  const either: import('../pki/types.js').PeerVerifier = {
    async verify(chain, _policy, now) {
      const asAuth = await verifier.verify(chain, { kind: 'auth-server' }, now);
      return asAuth.ok ? asAuth : verifier.verify(chain, { kind: 'host' }, now);
    },
  };
  const timeoutMs = Number(flags.timeout ?? 10_000);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100) throw cliError('bad_number', `--timeout ${flags.timeout}: expected milliseconds (at least 100)`);
  const conn = await connectQuic({
    host: target.host,
    port: target.port,
    alpn: ALPN.admin,
    cert: target.cert,
    key: target.key,
    verifier: either,
    serverPolicy: { kind: 'auth-server' },
    ...(flags.serverName ? { serverName: flags.serverName } : {}),
    timeoutMs,
    confirm: 'first-stream',
  });
  try {
    // the welcome confirms the connection: a refusal by the transport replaces the hello's error
    // (an older server confirms the `accepted` way instead, and the hello goes again on a new stream)
    const { proto, ready } = await conn.openConfirmed(async (stream) => {
      const p = ProtocolConnection.dial(adminFamily, stream, { gameVersion: '0.0.0', hello: { tool }, limits: ADMIN_PROTOCOL_LIMITS });
      return { proto: p, ready: await p.ready };
    });
    return {
      proto,
      kind: ready.peerHello.kind,
      node: ready.peerHello.node,
      address: `${target.host}:${target.port}`,
      async close() {
        await withTimeout(proto.close('normal', 'done'), 500);
        await conn.close('done').catch(() => undefined);
      },
    };
  } catch (err) {
    await conn.close('hello failed').catch(() => undefined);
    throw err;
  }
}

/** Runs one admin session: connect, `work`, close (also on failure). */
export async function withAdmin<T>(flags: AdminFlags, tool: string, work: (a: AdminConnection) => Promise<T>): Promise<T> {
  const a = await connectAdmin(flags, tool);
  try {
    return await work(a);
  } catch (err) {
    // a refusal arrives as a code only; the admin codes keep the kind (and so the exit code) the
    // server gave them, e.g. "nothing to act on" is 4, not the generic 6 of a refusal
    const [{ ADMIN_ERRORS }, { IyesmpError, isIyesmpError }] = await Promise.all([import('../auth/errors.js'), import('../errors.js')]);
    if (!isIyesmpError(err) || !Object.hasOwn(ADMIN_ERRORS, err.code)) throw err;
    const kind = ADMIN_ERRORS[err.code as keyof typeof ADMIN_ERRORS];
    if (kind === err.kind) throw err;
    throw new IyesmpError(kind, err.code, err.message, {
      cause: err,
      ...(err.hint === undefined ? {} : { hint: err.hint }),
      ...(err.details === undefined ? {} : { details: err.details }),
    });
  } finally {
    await a.close();
  }
}
