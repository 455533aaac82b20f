import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from 'pino';
import { serveError } from './errors.js';
import { IyesmpError } from '../errors.js';
import { parseEndpoint } from '../net/address.js';
import { loadSessionMinter, pemToDerList, PKI_ERRORS, type PeerVerifier, type VerifyPolicy } from '../pki/index.js';
import { hasCodeOf } from '../errors.js';
import { loadCredentials } from '../transport/credentials.js';
import type { AuthConfig } from '../config/auth.js';
import type { HostConfig } from '../config/host.js';
import type { GrantStore } from '../mqtt/grant-store.js';
import {
  AccountService,
  CustomVerifierProvider,
  GuestProvider,
  JwtProvider,
  type JwtKeys,
  jwtKeysFromFile,
  jwtSecret,
  MemoryAccountStore,
  PasswordProvider,
  remoteJwks,
  type AccountProvider,
  type StudioVerifier,
} from '../auth/accounts/index.js';
import type { AuthServerOptions } from '../auth/server.js';
import type { AuthStores } from '../auth/stores.js';
import type { HandoffTransportKind } from '../auth/handoff/index.js';
import type { HostServerOptions } from '../host/server.js';
import { resolveNetcodeHost, resolveNetcodeIssuer } from '../netcode/config.js';
import type { HostTransportKind } from '../protocol/transports.js';
import { gameVersionRange } from '../protocol/version.js';
import { loadGame } from './game.js';
import type { HostGame } from '../host/game.js';
import { unservedAuthSettings, unservedHostSettings } from './unserved.js';
import { adminExposure } from '../config/admin.js';
import { ReloadableVerifier } from './verifier.js';
import type { ServerLimits } from '../transport/index.js';

/**
 * Where `serve auth` finds the SessionAuth key's passphrase, first found wins: `--passphrase-file`,
 * `pki.session_auth_passphrase_file`, $IYESMP_SESSIONAUTH_PASSPHRASE, then the systemd credential
 * `sessionauth-passphrase` ($CREDENTIALS_DIRECTORY, from `LoadCredential=`).
 */
export interface ServeSecrets {
  passphraseFile?: string;
  /** default: process.env */
  env?: NodeJS.ProcessEnv;
}

export const SESSIONAUTH_PASSPHRASE_ENV = 'IYESMP_SESSIONAUTH_PASSPHRASE';
export const SESSIONAUTH_CREDENTIAL = 'sessionauth-passphrase';
const PASSPHRASE_SOURCES = `--passphrase-file FILE, pki.session_auth_passphrase_file, $${SESSIONAUTH_PASSPHRASE_ENV}, or the systemd credential ${SESSIONAUTH_CREDENTIAL} (LoadCredential=${SESSIONAUTH_CREDENTIAL}:FILE)`;

/**
 * Turns a validated `auth.toml` into AuthServerOptions: reads the trust list, SessionAuth and account
 * settings, and checks the server certificate. `config check` runs exactly this, so whatever `serve`
 * refuses at start, `check` refuses too.
 */
export async function authOptionsFromConfig(
  c: AuthConfig,
  logger: Logger,
  secrets: ServeSecrets = {},
  /** the opened database (serve-store.ts); absent (`config check`): accounts and bans in memory */
  stores?: AuthStores,
): Promise<AuthServerOptions & { verifier: ReloadableVerifier }> {
  if (c.pki.key_passphrase_file) {
    throw serveError('config_unsupported', 'pki.key_passphrase_file: encrypted Auth server keys are not supported yet; use an unencrypted key (mode 0600)');
  }
  const passphrase = await sessionAuthPassphrase(c, secrets);
  const [verifier, minter, accounts] = await Promise.all([
    ReloadableVerifier.load(c.pki.trust_dir),
    loadSessionMinter({ certFile: c.pki.session_auth_cert, keyFile: c.pki.session_auth_key, ...(passphrase ? { passphrase: passphrase.read } : {}) }).catch(
      (err: unknown) => Promise.reject(sessionAuthKeyError(err, passphrase?.source)),
    ),
    accountsFrom(c, stores),
  ]);
  await checkServerCert(c.pki.cert, c.pki.key, verifier, { kind: 'auth-server' });
  const ratingFor = accounts.ratingFor;
  for (const u of unservedAuthSettings(c)) logger.warn({ event: 'setting_not_served', key: u.key }, u.message);
  const exposed = adminExposure(c.admin);
  if (exposed) logger.warn({ event: 'admin_port_exposed', key: exposed.key }, exposed.message);
  const defaultTransport = servedTransport(c.matchmaking.transport, 'matchmaking.transport');
  const modeTransports: Record<string, HandoffTransportKind> = {};
  const modeSizes: Record<string, number> = {};
  for (const [mode, m] of Object.entries(c.matchmaking.modes)) {
    if (m.transport !== undefined) modeTransports[mode] = servedTransport(m.transport, `matchmaking.modes.${mode}.transport`);
    if (m.players !== undefined) modeSizes[mode] = m.players;
  }
  // the key is read whenever it is configured, so a bad file shows at start rather than at the first netcode match
  const netcode = c.netcode.private_key_file ? await resolveNetcodeIssuer(c) : undefined;
  const v = c.clients;
  const s = c.sessions;
  return {
    name: c.server.name,
    clients: { host: c.listen.clients.address, port: c.listen.clients.port, trustedProxies: c.listen.clients.trusted_proxies },
    hosts: { host: c.listen.hosts.address, port: c.listen.hosts.port },
    ...(c.admin ? { admin: { host: c.admin.address, port: c.admin.port } } : {}),
    cert: c.pki.cert,
    key: c.pki.key,
    verifier,
    minter,
    accounts: accounts.service,
    ...(ratingFor ? { ratingFor } : {}),
    allowRegistration: c.accounts.mode === 'password' && c.accounts.password.allow_registration,
    keyDelivery: s.key_delivery,
    ...(s.seed_key_algorithm ? { seedKeyAlgorithm: s.seed_key_algorithm } : {}),
    sessionTtlSeconds: s.ttl_seconds,
    claimTimeoutMs: s.claim_timeout_seconds * 1000,
    hostAckTimeoutMs: s.host_ack_timeout_seconds * 1000,
    joinTimeoutMs: s.join_timeout_seconds * 1000,
    heartbeatIntervalMs: c.hosts.heartbeat_interval_seconds * 1000,
    missedHeartbeats: c.hosts.missed_heartbeats,
    clientConnections: {
      ...connectionLimits(v, { login_timeout_seconds: v.login_timeout_seconds, max_per_account: v.max_per_account }),
      ...(v.idle_timeout_seconds !== undefined ? { idleTimeoutMs: v.idle_timeout_seconds * 1000 } : {}),
    },
    ...(v.game_version_min !== undefined || v.game_version_below !== undefined
      ? {
          acceptGameVersion: gameVersionRange({
            ...(v.game_version_min !== undefined ? { min: v.game_version_min } : {}),
            ...(v.game_version_below !== undefined ? { below: v.game_version_below } : {}),
          }),
        }
      : {}),
    matchSize: c.matchmaking.players_per_match,
    modeSizes,
    defaultTransport,
    modeTransports,
    ...(netcode ? { netcode } : {}),
    ...(stores ? { stores } : {}),
    matchmaker: {
      maxMatchesInFlight: c.matchmaking.max_matches_in_flight,
      maxHoldMs: c.matchmaking.max_hold_seconds * 1000,
      defaults: {
        regionFallbackMs: c.matchmaking.region === 'strict' ? 365 * 86_400_000 : c.matchmaking.region === 'any' ? 0 : c.matchmaking.max_wait_seconds * 1000,
      },
    },
    logger,
  };
}

/** Every host transport is handed off (QUIC, netcode, and MQTT for turn-based games). */
function servedTransport(t: HostTransportKind, _key: string): HandoffTransportKind {
  return t;
}

async function accountsFrom(c: AuthConfig, stores?: AuthStores): Promise<{ service: AccountService; ratingFor?: AuthServerOptions['ratingFor'] }> {
  let ratingFor: AuthServerOptions['ratingFor'];
  const providers: AccountProvider[] = [];
  const a = c.accounts;
  switch (a.mode) {
    case 'guest':
      providers.push(new GuestProvider({ namePrefix: a.guest.name_prefix }));
      break;
    case 'password':
      providers.push(
        new PasswordProvider({
          store: stores?.accounts ?? new MemoryAccountStore(),
          minPasswordLength: a.password.min_length,
          maxPasswordLength: a.password.max_length,
        }),
      );
      break;
    case 'token':
      providers.push(await jwtProviderFrom(a.token));
      break;
    case 'custom': {
      const file = a.custom.module!;
      let mod: { verify?: StudioVerifier; default?: StudioVerifier; ratingFor?: unknown };
      try {
        mod = (await import(pathToFileURL(file).href)) as typeof mod;
      } catch (err) {
        throw serveError('config_module', `accounts.custom.module: cannot load ${file}: ${(err as Error).message}`);
      }
      const verify = mod.verify ?? mod.default;
      if (typeof verify !== 'function') throw serveError('config_module', `accounts.custom.module: ${file} must export a "verify" function`);
      providers.push(new CustomVerifierProvider({ verify }));
      // the module may also say where matchmaking ratings come from (else account.data.ratings)
      if (mod.ratingFor !== undefined) {
        if (typeof mod.ratingFor !== 'function')
          throw serveError(
            'config_module',
            `accounts.custom.module: ${file} exports "ratingFor", which must be a function (account, mode) => number | undefined`,
          );
        ratingFor = mod.ratingFor as AuthServerOptions['ratingFor'];
      }
      break;
    }
  }
  return { service: new AccountService({ providers, ...(stores ? { bans: stores.bans } : {}) }), ...(ratingFor ? { ratingFor } : {}) };
}

/**
 * `[accounts.token]`: JWTs verified against the JWKS URL, key file or secret the schema let through
 * (exactly one). `config check` builds it too, so both refuse the same key files; nothing is fetched here.
 */
export async function jwtProviderFrom(t: AuthConfig['accounts']['token']): Promise<JwtProvider> {
  const source = t.jwks_url !== undefined ? 'jwks_url' : t.key_file !== undefined ? 'key_file' : 'secret_file';
  try {
    let keys: JwtKeys;
    if (t.jwks_url) keys = remoteJwks(t.jwks_url, { timeoutMs: t.jwks_timeout_seconds * 1000, cacheMaxAgeMs: t.jwks_cache_seconds * 1000 });
    else if (t.key_file) keys = jwtKeysFromFile(await readText(t.key_file, 'accounts.token.key_file'), t.key_file);
    else keys = jwtSecret((await readText(t.secret_file!, 'accounts.token.secret_file')).trim());
    return new JwtProvider({
      keys,
      ...(t.algorithms ? { algorithms: t.algorithms } : {}),
      ...(t.issuer ? { issuer: t.issuer } : {}),
      ...(t.audience ? { audience: t.audience } : {}),
      clockSkewSeconds: t.clock_skew_seconds,
    });
  } catch (err) {
    if (err instanceof IyesmpError) throw err;
    throw serveError('config_invalid', `accounts.token.${source}: ${(err as Error).message}`, { details: { key: `accounts.token.${source}` } });
  }
}

/** What `serve host` runs: the options and the game (`--game`, else the config's `[game] module`). Shared with `config check`. */
export async function hostFromConfig(
  c: HostConfig,
  logger: Logger,
  gameFile?: string,
): Promise<{ options: HostServerOptions & { verifier: ReloadableVerifier }; game: HostGame }> {
  const options = await hostOptionsFromConfig(c, logger);
  return { options, game: await loadGame(gameFile, c.game.module) };
}

/** Turns a validated `host.toml` into HostServerOptions. */
export async function hostOptionsFromConfig(c: HostConfig, logger: Logger): Promise<HostServerOptions & { verifier: ReloadableVerifier }> {
  if (c.pki.key_passphrase_file) {
    throw serveError('config_unsupported', 'pki.key_passphrase_file: encrypted host keys are not supported yet; use an unencrypted key (mode 0600)');
  }
  if (!c.transports.quic.enabled)
    throw serveError('config_unsupported', 'transports.quic.enabled = false: serve host always runs the QUIC transport in this build (netcode runs beside it)');
  for (const u of unservedHostSettings(c)) logger.warn({ event: 'setting_not_served', key: u.key }, u.message);
  const exposed = adminExposure(c.admin);
  if (exposed) logger.warn({ event: 'admin_port_exposed', key: exposed.key }, exposed.message);
  const [verifier, netcode] = await Promise.all([ReloadableVerifier.load(c.pki.trust_dir), c.transports.netcode.enabled ? resolveNetcodeHost(c) : undefined]);
  // clients dial public_address and refuse a host whose certificate does not name it
  await checkServerCert(c.pki.cert, c.pki.key, verifier, { kind: 'host' }, { key: 'host.public_address', address: c.host.public_address });
  return {
    name: c.host.name,
    region: c.host.region,
    publicAddress: c.host.public_address,
    listen: { host: c.listen.address, port: c.transports.quic.port },
    ...(c.admin ? { admin: { host: c.admin.address, port: c.admin.port } } : {}),
    drainTimeoutMs: c.host.drain_timeout_seconds * 1000,
    cert: c.pki.cert,
    key: c.pki.key,
    verifier,
    authServers: c.auth.servers.map(parseHostPort),
    ...(c.auth.server_name ? { authServerName: c.auth.server_name } : {}),
    capacity: { sessions: c.host.capacity },
    ...(c.host.labels.game_version ? { version: c.host.labels.game_version } : {}),
    heartbeatIntervalMs: c.auth.heartbeat_seconds * 1000,
    reconnectMaxMs: c.auth.reconnect_max_seconds * 1000,
    idleTimeoutMs: c.transports.quic.idle_timeout_seconds * 1000,
    maxStreams: c.transports.quic.max_streams,
    connections: connectionLimits(c.transports.quic, { max_per_account: c.transports.quic.max_per_seat }),
    reconnectGraceMs: c.game.reconnect_grace_seconds * 1000,
    ...(c.game.min_players !== undefined ? { minPlayers: c.game.min_players } : {}),
    ...(netcode ? { netcode } : {}),
    ...(c.transports.mqtt.enabled ? { mqtt: await mqttFromConfig(c) } : {}),
    ...(c.outbox.dir ? { outboxDir: c.outbox.dir } : {}),
    logger,
  };
}

/** `[transports.mqtt]` as HostMqttOptions: the broker, and the Master certificate its certificate must chain to. */
async function mqttFromConfig(c: HostConfig): Promise<NonNullable<HostServerOptions['mqtt']>> {
  const m = c.transports.mqtt;
  const masterFile = path.join(c.pki.trust_dir, 'master.pem');
  let caPem: string;
  try {
    caPem = await readFile(masterFile, 'utf8');
  } catch (e) {
    throw serveError('config_unsupported', `transports.mqtt: cannot read the Master certificate ${masterFile} (pki.trust_dir): ${(e as Error).message}`);
  }
  return {
    broker: m.broker,
    port: m.port,
    caPem,
    topicPrefix: m.topic_prefix,
    acl: m.acl ?? 'control',
    encrypt: m.encrypt,
    ...(m.server_name ? { servername: m.server_name } : {}),
    embedded: {
      maxPerAddress: m.max_connections_per_address,
      acl: { prefix: m.topic_prefix, publishRate: m.publish_rate, publishBurst: m.publish_rate * 2 },
      ...(m.broker === 'embedded' ? await redisShared(m) : {}),
    },
  };
}

/** `redis_url`: the state embedded broker nodes share (each node is one host, or `serve broker`): messages, retained messages and the grants in force. */
export async function redisShared(m: HostConfig['transports']['mqtt']): Promise<{ mq?: unknown; persistence?: unknown; grants?: GrantStore; id?: string }> {
  if (!m.redis_url) return {};
  const { redisSharedState } = await import('../mqtt/redis.js');
  const { randomUUID } = await import('node:crypto');
  // a distinct broker id per node: aedes tells nodes apart by it
  return { ...redisSharedState(m.redis_url, m.redis_prefix), id: `iyesmp-${randomUUID()}` };
}

type LimitKeys =
  | 'max_connections'
  | 'max_unauthenticated'
  | 'max_unauthenticated_per_address'
  | 'max_unauthenticated_per_cert'
  | 'first_stream_timeout_seconds'
  | 'hello_timeout_seconds';

/** A config's connection limits as ServerLimits: only the keys it sets (the rest keep the server's defaults). */
function connectionLimits(
  c: { [K in LimitKeys]?: number | undefined },
  extra: { login_timeout_seconds?: number | undefined; max_per_account?: number | undefined },
): ServerLimits {
  const all: Array<[keyof ServerLimits, number | undefined]> = [
    ['maxConnections', c.max_connections],
    ['maxUnauthenticated', c.max_unauthenticated],
    ['maxUnauthenticatedPerAddress', c.max_unauthenticated_per_address],
    ['maxUnauthenticatedPerCert', c.max_unauthenticated_per_cert],
    ['maxPerAccount', extra.max_per_account],
    ['firstStreamTimeoutMs', c.first_stream_timeout_seconds && c.first_stream_timeout_seconds * 1000],
    ['helloTimeoutMs', c.hello_timeout_seconds && c.hello_timeout_seconds * 1000],
    ['loginTimeoutMs', extra.login_timeout_seconds && extra.login_timeout_seconds * 1000],
  ];
  return Object.fromEntries(all.filter(([, v]) => v !== undefined));
}

export function parseHostPort(s: string): { host: string; port: number } {
  const r = parseEndpoint(s);
  if (!r.ok) throw serveError('config_invalid', `"${s}" is not host:port`);
  return { ...r.value };
}

interface FoundPassphrase {
  /** where it came from, for messages (never the value) */
  source: string;
  read: () => Promise<string>;
}

async function sessionAuthPassphrase(c: AuthConfig, secrets: ServeSecrets): Promise<FoundPassphrase | undefined> {
  const env = secrets.env ?? process.env;
  if (secrets.passphraseFile) return fromFile(path.resolve(secrets.passphraseFile), '--passphrase-file');
  if (c.pki.session_auth_passphrase_file) return fromFile(c.pki.session_auth_passphrase_file, 'pki.session_auth_passphrase_file');
  const value = env[SESSIONAUTH_PASSPHRASE_ENV];
  if (value !== undefined && value !== '') return { source: `$${SESSIONAUTH_PASSPHRASE_ENV}`, read: async () => value };
  const creds = env.CREDENTIALS_DIRECTORY;
  if (creds) {
    const file = path.join(creds, SESSIONAUTH_CREDENTIAL);
    // a credentials folder without this credential is someone else's business: fall through
    const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) =>
      err.code === 'ENOENT' ? undefined : Promise.reject(unreadable(file, 'systemd credential', err)),
    );
    if (text !== undefined) return { source: `the systemd credential ${SESSIONAUTH_CREDENTIAL}`, read: async () => text.replace(/\r?\n$/, '') };
  }
  return undefined;
}

function fromFile(file: string, source: string): FoundPassphrase {
  return { source: `${source} ${file}`, read: async () => (await readText(file, source)).replace(/\r?\n$/, '') };
}

/** The PKI's own hint names the CA-key prompt and flags, which `serve` does not take. */
function sessionAuthKeyError(err: unknown, source: string | undefined): unknown {
  if (!hasCodeOf(err, PKI_ERRORS)) return err;
  if (err.code === 'passphrase_required') {
    return serveError('sessionauth_passphrase_required', 'the SessionAuth key is encrypted and no passphrase was given', {
      hint: `give it with ${PASSPHRASE_SOURCES}`,
    });
  }
  if (err.code === 'bad_passphrase') {
    return serveError('sessionauth_bad_passphrase', `the passphrase from ${source ?? '?'} does not decrypt the SessionAuth key (or the key file is damaged)`, {
      cause: err,
    });
  }
  return err;
}

/**
 * The server's certificate as its peers will see it: the key belongs to it, it chains to this PKI
 * in its role, and (hosts) it names the address clients dial.
 */
async function checkServerCert(
  certFile: string,
  keyFile: string,
  verifier: PeerVerifier,
  policy: VerifyPolicy,
  dialled?: { key: string; address: string },
): Promise<void> {
  const creds = await loadCredentials({ cert: certFile, key: keyFile });
  const r = await verifier.verify(pemToDerList(creds.cert, 'pki.cert'), policy);
  if (!r.ok)
    throw serveError('server_cert_refused', `pki.cert ${certFile}: ${r.message} (${r.reason})`, {
      hint: "use a certificate of this PKI issued for this server's role",
    });
  if (!dialled) return;
  const leaf = new X509Certificate(creds.cert);
  const a = dialled.address;
  if ((isIP(a) ? leaf.checkIP(a) : leaf.checkHost(a)) === undefined) {
    const names = leaf.subjectAltName ?? 'none';
    throw serveError('address_not_in_cert', `${dialled.key} = "${a}" is not a name in pki.cert (${names}): every client would refuse this server`, {
      hint: `set ${dialled.key} to a name the certificate carries, or issue one that carries it (iyesmp certs issue host NAME --dns/--ip)`,
    });
  }
}

function unreadable(file: string, what: string, err: NodeJS.ErrnoException) {
  return serveError('unreadable', `${what}: cannot read ${file} (${err.code ?? 'error'})`);
}

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw unreadable(file, what, err as NodeJS.ErrnoException);
  }
}
