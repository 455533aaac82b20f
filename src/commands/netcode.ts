import type { Command } from 'commander';
import { action } from '../cli/output.js';
import { outFile, outOption, outputAlias, type OutFlags } from '../cli/out-flag.js';
import { IyesmpError } from '../errors.js';
import { cliError } from '../cli/errors.js';
import type { NetcodeVersion } from '../netcode/constants.js';

/**
 * `iyesmp netcode ...`: key and token tools plus a standalone server and a client probe for netcode.io
 * 1.02 (1.00 with --netcode-version). The library (src/netcode) is imported inside each action so
 * `iyesmp --help` stays fast.
 */

const collect = (v: string, prev: string[]): string[] => [...prev, v];

const U64_MAX = (1n << 64n) - 1n;

/** Decimal or 0x-hex unsigned 64-bit integer. */
function parseU64(name: string, text: string | undefined, fallback?: bigint): bigint {
  if (text === undefined) {
    if (fallback !== undefined) return fallback;
    throw cliError('missing_option', `${name} is required`);
  }
  const t = text.trim();
  if (!/^(0x[0-9a-fA-F]{1,16}|\d{1,20})$/.test(t) || BigInt(t) > U64_MAX) {
    throw cliError('bad_number', `${name} must be an unsigned 64-bit integer (decimal or 0x hex), got "${text}"`);
  }
  return BigInt(t);
}

function parseInteger(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw cliError('bad_number', `${name} must be an integer from ${min} to ${max}, got "${text}"`);
  }
  return n;
}

const VERSION_FLAG = '--netcode-version <version>';
const VERSION_HELP = 'wire version: 1.02, or 1.00 for peers built on the 1.00 reference';

async function parseNetcodeVersion(text: string): Promise<NetcodeVersion> {
  const { isNetcodeVersion, NETCODE_VERSIONS } = await import('../netcode/constants.js');
  if (!isNetcodeVersion(text)) {
    throw cliError('bad_netcode_version', `--netcode-version must be one of ${NETCODE_VERSIONS.join(', ')}, got "${text}"`);
  }
  return text;
}

function parseAddr(flag: string, text: string, parse: (t: string) => unknown): void {
  try {
    parse(text);
  } catch (err) {
    throw cliError('bad_address', `${flag} ${text}: ${(err as Error).message}`, {
      hint: 'use an IP literal with a port: 203.0.113.7:40000 or [2001:db8::7]:40000',
    });
  }
}

/** Reads a token file: 2048 raw bytes, or base64 text of them (what `token --json` prints). */
async function readTokenFile(file: string): Promise<Uint8Array> {
  const { readFile } = await import('node:fs/promises');
  let raw: Buffer;
  try {
    raw = await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw cliError('not_found', `token file ${file} does not exist`);
    throw err;
  }
  if (raw.length === 2048) return new Uint8Array(raw);
  const text = raw.toString('latin1').trim();
  if (/^[A-Za-z0-9+/=\s]+$/.test(text)) {
    const decoded = Buffer.from(text.replace(/\s+/g, ''), 'base64');
    if (decoded.length === 2048) return new Uint8Array(decoded);
  }
  return new Uint8Array(raw);
}

async function readUserData(spec: string | undefined): Promise<Uint8Array | undefined> {
  if (spec === undefined) return undefined;
  let bytes: Uint8Array;
  if (spec.startsWith('@')) {
    const { readFile } = await import('node:fs/promises');
    bytes = new Uint8Array(await readFile(spec.slice(1)));
  } else {
    const hex = spec.replace(/^0x/, '');
    if (!/^([0-9a-fA-F]{2})*$/.test(hex)) {
      throw cliError('bad_user_data', '--user-data must be hex (an even number of hex digits) or @FILE');
    }
    bytes = new Uint8Array(Buffer.from(hex, 'hex'));
  }
  if (bytes.length > 256) throw cliError('bad_user_data', `user data is at most 256 bytes, got ${bytes.length}`);
  return bytes;
}

export function register(program: Command): void {
  const group = program
    .command('netcode')
    .description('netcode.io 1.02 (or 1.00): keys, connect tokens, a standalone server and a client probe')
    .addHelpText(
      'after',
      `
Examples:
  $ iyesmp netcode keygen -o netcode.key
  $ iyesmp netcode token --key netcode.key --server 203.0.113.7:40000 --client-id 42 -o player42.token
  $ iyesmp netcode serve --key netcode.key --bind 0.0.0.0:40000 --address 203.0.113.7:40000 --echo
  $ iyesmp netcode connect player42.token --send 5`,
    );

  group
    .command('keygen')
    .description('write a new 32-byte netcode private key (64 hex digits, mode 0600)')
    .addOption(outOption('key file to write', { default: 'netcode.key' }))
    .addOption(outputAlias())
    .option('--force', 'replace an existing file')
    .addHelpText(
      'after',
      `
The file holds the key as 64 hex digits and a newline. Auth servers (token issuers) and hosts share it.

Examples:
  $ iyesmp netcode keygen -o /etc/iyesmp/netcode.key
  $ iyesmp netcode keygen -o netcode.key --force --json`,
    )
    .action(
      action<OutFlags & { force?: boolean }>('netcode keygen', async (out, opts) => {
        const { generatePrivateKey, writePrivateKeyFile } = await import('../netcode/keyfile.js');
        const file = outFile(opts)!;
        await writePrivateKeyFile(file, generatePrivateKey(), Boolean(opts.force));
        out.result('netcode keygen', { file, format: 'hex', bytes: 32, mode: '0600' }, () => `wrote netcode private key to ${file} (hex, mode 0600)`);
      }),
    );

  group
    .command('token')
    .description('issue a connect token (for web backends and CI scripts)')
    .requiredOption('--key <file>', 'private key file')
    .option('--server <host:port>', 'public server address the client dials (repeat, in order; 1..32)', collect, [])
    .option('--internal-server <host:port>', 'address the server knows itself by, one per --server (default: same)', collect, [])
    .requiredOption('--client-id <n>', 'unique 64-bit client id (decimal or 0x hex)')
    .option('--user-data <hex|@file>', 'up to 256 bytes of user data, hex or @FILE (raw bytes)')
    .option('--protocol-id <n>', '64-bit protocol id (decimal or 0x hex)', '0')
    .option('--expire <seconds>', 'token lifetime; negative = never expires', '30')
    .option('--timeout <seconds>', 'connection timeout; negative disables; 0 is refused', '5')
    .addOption(outOption('write the 2048-byte binary token here (mode 0600)'))
    .addOption(outputAlias())
    .option(VERSION_FLAG, VERSION_HELP, '1.02')
    .option('--sequence <n>', '1.00: connect token sequence (the token nonce; never reuse one under a key). Default: from the clock')
    .option('--issuer-id <n>', '1.00: 0..1023, distinct for each issuer sharing the key (clock-derived sequences; default 0)')
    .addHelpText(
      'after',
      `
Without -o the token is printed as base64 (in data.token with --json).

Examples:
  $ iyesmp netcode token --key netcode.key --server 203.0.113.7:40000 --client-id 42 -o p42.token
  $ iyesmp netcode token --key netcode.key --server 127.0.0.1:40000 --server [::1]:40000 \\
      --client-id 0x2a --user-data 73657373696f6e --protocol-id 0x1122334455667788 --json`,
    )
    .action(
      action<{
        key: string;
        server: string[];
        internalServer: string[];
        clientId: string;
        userData?: string;
        protocolId: string;
        expire: string;
        timeout: string;
        out?: string;
        output?: string;
        netcodeVersion: string;
        sequence?: string;
        issuerId?: string;
      }>('netcode token', async (out, opts) => {
        const nc = await import('../netcode/index.js');
        const version = await parseNetcodeVersion(opts.netcodeVersion);
        if (version !== '1.00' && (opts.sequence !== undefined || opts.issuerId !== undefined)) {
          throw cliError('netcode_sequence_not_in_version', '--sequence and --issuer-id apply to --netcode-version 1.00 only');
        }
        if (opts.server.length === 0) throw cliError('missing_option', 'give at least one --server HOST:PORT');
        opts.server.forEach((s) => parseAddr('--server', s, nc.parseAddress));
        opts.internalServer.forEach((s) => parseAddr('--internal-server', s, nc.parseAddress));
        if (opts.internalServer.length && opts.internalServer.length !== opts.server.length) {
          throw cliError('bad_server_count', `give one --internal-server per --server (${opts.server.length}), got ${opts.internalServer.length}`);
        }
        const privateKey = await nc.readPrivateKeyFile(opts.key);
        const protocolId = parseU64('--protocol-id', opts.protocolId);
        const clientId = parseU64('--client-id', opts.clientId);
        const expireSeconds = parseInteger('--expire', opts.expire, 30, -1, 2 ** 40);
        const timeoutSeconds = parseInteger('--timeout', opts.timeout, 5, -(2 ** 31), 2 ** 31 - 1);
        const userData = await readUserData(opts.userData);
        const unixMs = Date.now();
        let sequence: bigint | undefined;
        if (version === '1.00') {
          sequence =
            opts.sequence !== undefined
              ? parseU64('--sequence', opts.sequence)
              : new nc.ConnectTokenSequence(parseInteger('--issuer-id', opts.issuerId, 0, 0, nc.MAX_TOKEN_ISSUER_ID)).next(unixMs);
        }
        const token = nc.generateConnectToken({
          version,
          ...(sequence !== undefined ? { sequence } : {}),
          createTimestamp: BigInt(Math.floor(unixMs / 1000)),
          privateKey,
          protocolId,
          clientId,
          publicServerAddresses: opts.server,
          ...(opts.internalServer.length ? { internalServerAddresses: opts.internalServer } : {}),
          expireSeconds,
          timeoutSeconds,
          ...(userData ? { userData } : {}),
        });
        const parsed = nc.readConnectToken(token, version);
        if (!parsed.ok) throw cliError('internal', `generated token does not read back: ${parsed.reason}`);
        const data: Record<string, unknown> = {
          version,
          ...(sequence !== undefined ? { sequence } : {}),
          clientId,
          protocolId,
          createTimestamp: parsed.value.createTimestamp,
          expireTimestamp: parsed.value.expireTimestamp,
          timeoutSeconds,
          servers: parsed.value.serverAddresses.map(nc.formatAddress),
        };
        const file = outFile(opts);
        if (file) {
          const { writeFile } = await import('node:fs/promises');
          await writeFile(file, token, { mode: 0o600 });
          data.file = file;
        } else {
          data.token = Buffer.from(token).toString('base64');
        }
        out.result('netcode token', data, () => (file ? `wrote connect token for client ${clientId} to ${file} (2048 bytes)` : (data.token as string)));
      }),
    );

  group
    .command('inspect <token-file>')
    .description('decode a connect token and say why it is invalid (exit 3 when invalid)')
    .requiredOption('--key <file>', 'private key file (to decrypt the private part)')
    .option('--protocol-id <n>', 'protocol id the token must carry')
    .addHelpText(
      'after',
      `
The token file may hold the 2048 raw bytes or their base64 text.
Problem codes: wrong_length, wrong_version, create_after_expire, bad_server_count, bad_address_type,
wrong_protocol, expired, timeout_zero, decrypt_failed (wrong key or altered token), private_*.

Examples:
  $ iyesmp netcode inspect p42.token --key netcode.key
  $ iyesmp netcode inspect p42.token --key netcode.key --protocol-id 0x1122334455667788 --json`,
    )
    .action(
      action<{ key: string; protocolId?: string }>('netcode inspect', async (out, opts, args) => {
        const file = args[0] as string;
        const nc = await import('../netcode/index.js');
        const key = await nc.readPrivateKeyFile(opts.key);
        const protocolId = opts.protocolId === undefined ? undefined : parseU64('--protocol-id', opts.protocolId);
        const report = nc.inspectConnectToken(await readTokenFile(file), key, {
          unixNow: BigInt(Math.floor(Date.now() / 1000)),
          ...(protocolId !== undefined ? { protocolId } : {}),
        });
        const human = (): string => {
          const lines: string[] = [];
          if (report.public) {
            const p = report.public;
            lines.push(`version        ${p.version}`, `protocol id    ${p.protocolId} (0x${p.protocolId.toString(16)})`);
            lines.push(`created        ${p.createTimestamp} (${new Date(Number(p.createTimestamp) * 1000).toISOString()})`);
            lines.push(`expires        ${p.expiresInSeconds === null ? 'never' : `${p.expireTimestamp} (${expiryText(p.expiresInSeconds)})`}`);
            lines.push(`timeout        ${p.timeoutSeconds} s`, `servers        ${p.servers.join(', ')}`);
          }
          if (report.private) {
            const q = report.private;
            lines.push(`client id      ${q.clientId}`, `internal       ${q.internalServers.join(', ')}`);
            lines.push(`user data      ${q.userData.length ? Buffer.from(q.userData).toString('hex') : '(empty)'}`);
          }
          lines.push(report.valid ? out.style.green('valid') : out.style.red('INVALID'));
          for (const pr of report.problems) lines.push(`  - ${pr.code}: ${pr.message}`);
          return lines.join('\n');
        };
        if (!report.valid) {
          if (!out.json) process.stdout.write(human() + '\n');
          throw cliError('netcode_token_invalid', `token ${file} is invalid: ${report.problems.map((p) => p.message).join('; ')}`, {
            details: report as unknown as Record<string, unknown>,
          });
        }
        out.result('netcode inspect', report, human);
      }),
    );

  group
    .command('serve')
    .description('run a standalone netcode server until SIGINT/SIGTERM (logs connects/disconnects to stderr)')
    .requiredOption('--key <file>', 'private key file')
    .requiredOption('--bind <host:port>', 'UDP address to listen on')
    .option('--address <host:port>', 'address tokens name this server by (default: --bind)')
    .option('--echo', 'send every payload back to its sender')
    .option('--max-clients <n>', 'client slots', '64')
    .option('--protocol-id <n>', '64-bit protocol id (decimal or 0x hex)', '0')
    .option(VERSION_FLAG, VERSION_HELP, '1.02')
    .option('--log-format <format>', 'log lines on stderr: "json" or "pretty" (default: json with --json, else pretty)')
    .option('--admin-http <host:port>', 'serve /metrics, /healthz and /readyz over HTTP on this address (e.g. 127.0.0.1:9466)')
    .option('--socket-buffer <bytes>', 'socket send/receive buffer size (the kernel may cap it at net.core.rmem_max)', String(4 * 1024 * 1024))
    .addHelpText(
      'after',
      `
Log lines go to stderr in the servers' log schema (time, level, msg, component "netcode", event,
ids; docs/operations.md): JSON with --json ({"event":"connect",...}), readable lines otherwise. With
--json a summary document is printed on stdout at shutdown.

Examples:
  $ iyesmp netcode serve --key netcode.key --bind 127.0.0.1:40000 --echo
  $ iyesmp netcode serve --key netcode.key --bind 0.0.0.0:40000 --address 203.0.113.7:40000 --max-clients 256 --json
  $ iyesmp netcode serve --key netcode.key --bind 0.0.0.0:40000 --admin-http 127.0.0.1:9466`,
    )
    .action(
      action<{
        key: string;
        bind: string;
        address?: string;
        echo?: boolean;
        maxClients: string;
        protocolId: string;
        netcodeVersion: string;
        logFormat?: string;
        adminHttp?: string;
        socketBuffer: string;
      }>('netcode serve', async (out, opts) => {
        const format = opts.logFormat ?? (out.json ? 'json' : 'pretty');
        if (format !== 'json' && format !== 'pretty') throw cliError('bad_flag', `--log-format "${format}": expected "json" or "pretty"`);
        const { makeServerLogger } = await import('../serve/log.js');
        const { wantsColor } = await import('../cli/output.js');
        const logger = makeServerLogger({ level: 'info', format, component: 'netcode', fd: 2, color: wantsColor(opts, process.stderr) });
        const nc = await import('../netcode/index.js');
        const version = await parseNetcodeVersion(opts.netcodeVersion);
        parseAddr('--bind', opts.bind, nc.parseAddress);
        if (opts.address) parseAddr('--address', opts.address, nc.parseAddress);
        const privateKey = await nc.readPrivateKeyFile(opts.key);
        const maxClients = parseInteger('--max-clients', opts.maxClients, 64, 1, 4096);
        const protocolId = parseU64('--protocol-id', opts.protocolId);
        const socketBufferBytes = parseInteger('--socket-buffer', opts.socketBuffer, 4 * 1024 * 1024, 1024, 1 << 30);
        const server = await nc.NetcodeUdpServer.listen({
          bind: opts.bind,
          ...(opts.address ? { address: opts.address } : {}),
          privateKey,
          protocolId,
          maxClients,
          version,
          socketBufferBytes,
        });
        const started = Date.now();
        const stats = { connects: 0, disconnects: 0, payloads: 0 };
        const addr = nc.formatAddress(server.core.address);
        let admin: import('../metrics/index.js').AdminHttp | undefined;
        if (opts.adminHttp) {
          const m = await import('../metrics/index.js');
          const registry = m.createRegistry();
          m.instrumentNetcode(registry, () => server);
          let stopping = false;
          process.once('SIGTERM', () => (stopping = true));
          admin = await m
            .startAdminHttp({ listen: opts.adminHttp, key: '--admin-http', registry, ready: () => ({ listening: { ok: !stopping } }) })
            .catch(async (err: unknown) => {
              await server.close();
              throw err;
            });
          logger.info({ event: 'admin_http_listening', address: admin.address }, 'admin http listening: /metrics /healthz /readyz');
        }
        logger.info(
          {
            event: 'listening',
            address: nc.formatAddress(server.boundAddress),
            tokenAddress: addr,
            maxClients,
            version,
            echo: Boolean(opts.echo),
            socketBuffers: server.socketBuffers,
          },
          'listening',
        );
        // client ids are u64: text, so JSON readers keep every digit
        server.on('connect', (e) => {
          stats.connects++;
          logger.info({ event: 'connect', clientIndex: e.clientIndex, clientId: String(e.clientId), remote: nc.formatAddress(e.address) }, 'client connected');
        });
        server.on('disconnect', (e) => {
          stats.disconnects++;
          logger.info(
            { event: 'disconnect', clientIndex: e.clientIndex, clientId: String(e.clientId), remote: nc.formatAddress(e.address), reason: e.reason },
            'client disconnected',
          );
        });
        server.on('payload', (e) => {
          stats.payloads++;
          if (opts.echo) server.sendPayload(e.clientIndex, e.payload);
        });
        server.on('warning', (err) => logger.warn({ event: 'warning', message: err.message }, 'socket warning'));
        const signal = await new Promise<string>((resolve) => {
          process.once('SIGINT', () => resolve('SIGINT'));
          process.once('SIGTERM', () => resolve('SIGTERM'));
        });
        logger.info({ event: 'shutdown', signal, clients: server.core.numConnectedClients }, 'shutting down: disconnecting clients');
        await server.close();
        await admin?.close();
        const summary = {
          address: addr,
          uptimeSeconds: Math.round((Date.now() - started) / 1000),
          ...stats,
          drops: server.core.drops,
          traffic: server.traffic,
          ...(admin ? { adminHttp: admin.address } : {}),
        };
        out.result('netcode serve', summary, () => '');
      }),
    );

  group
    .command('connect <token-file>')
    .description('probe a server: connect with a token, exchange payloads with an echo server, report')
    .option('--send <n>', 'payloads to send and expect back', '0')
    .option('--timeout-ms <n>', 'limit for connecting and for each echo', '10000')
    .option('--size <bytes>', 'payload size (1..1200)', '64')
    .option(VERSION_FLAG, VERSION_HELP, '1.02')
    .addHelpText(
      'after',
      `
Exit 0 when connected and every payload came back; otherwise the error names the client state
(connection_denied, connection_request_timed_out, connect_token_expired, invalid_connect_token, ...).

Examples:
  $ iyesmp netcode connect p42.token
  $ iyesmp netcode connect p42.token --send 5 --timeout-ms 3000 --json`,
    )
    .action(
      action<{ send: string; timeoutMs: string; size: string; netcodeVersion: string }>('netcode connect', async (out, opts, args) => {
        const version = await parseNetcodeVersion(opts.netcodeVersion);
        const file = args[0] as string;
        const count = parseInteger('--send', opts.send, 0, 0, 100_000);
        const timeoutMs = parseInteger('--timeout-ms', opts.timeoutMs, 10_000, 1, 600_000);
        const payloadBytes = parseInteger('--size', opts.size, 64, 1, 1200);
        const nc = await import('../netcode/index.js');
        const token = await readTokenFile(file);
        const parsed = nc.readConnectToken(token, version);
        // servers refuse tokens past their expire time; say so up front instead of only timing out
        if (parsed.ok && parsed.value.expireTimestamp <= BigInt(Math.floor(Date.now() / 1000))) {
          out.warn(`token expired at ${new Date(Number(parsed.value.expireTimestamp) * 1000).toISOString()}; servers will ignore it`);
        }
        const r = await nc.probeServer(token, { count, timeoutMs, payloadBytes, version });
        if (!r.ok) {
          const kind = r.state === 'invalid_connect_token' ? 'input' : r.state === 'connection_denied' ? 'refused' : 'io';
          const tokenVersion = nc.connectTokenVersion(token);
          const hint = tokenVersion && tokenVersion !== version ? { hint: `the token is netcode ${tokenVersion}: pass --netcode-version ${tokenVersion}` } : {};
          throw new IyesmpError(kind, `netcode_${r.state}`, r.error ?? `connection failed: ${r.state}`, {
            ...hint,
            details: r as unknown as Record<string, unknown>,
          });
        }
        const avg = r.rttMs.length ? r.rttMs.reduce((a, b) => a + b, 0) / r.rttMs.length : undefined;
        out.result('netcode connect', { ...r, rttAvgMs: avg }, () =>
          [
            `connected to ${r.server} as slot ${r.clientIndex} of ${r.maxClients}`,
            count ? `echoed ${r.echoed}/${r.sent} payloads, rtt avg ${avg?.toFixed(2)} ms, max ${Math.max(...r.rttMs).toFixed(2)} ms` : '',
          ]
            .filter(Boolean)
            .join('\n'),
        );
      }),
    );
}

/** "in 30 s" ahead, "expired 166 s ago" behind: a negative countdown reads as a typo. */
function expiryText(n: number): string {
  return n > 0 ? `in ${n} s` : n === 0 ? 'now' : `expired ${-n} s ago`;
}
