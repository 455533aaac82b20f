import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import type { Logger } from 'pino';
import { serveError } from './errors.js';
import { IyesmpError } from '../errors.js';
import { parseEndpoint } from '../net/address.js';
import { loadSessionMinter } from '../pki/index.js';
import type { AuthConfig } from '../config/auth.js';
import type { HostConfig } from '../config/host.js';
import { AccountService, CustomVerifierProvider, GuestProvider, JwtProvider, type JwtKeys, jwtKeysFromFile, jwtSecret, MemoryAccountStore, PasswordProvider, remoteJwks, type AccountProvider, type StudioVerifier } from '../auth/accounts/index.js';
import type { AuthServerOptions } from '../auth/server.js';
import type { HandoffTransportKind } from '../auth/handoff/index.js';
import type { HostServerOptions } from '../host/server.js';
import { resolveNetcodeHost, resolveNetcodeIssuer } from '../netcode/config.js';
import type { HostTransportKind } from '../protocol/transports.js';
import { gameVersionRange } from '../protocol/version.js';
import { unservedAuthSettings, unservedHostSettings } from './unserved.js';
import { ReloadableVerifier } from './verifier.js';
import type { ServerLimits } from '../transport/index.js';

/** Turns a validated `auth.toml` into AuthServerOptions: reads the trust list, SessionAuth and account settings. */
export async function authOptionsFromConfig(c: AuthConfig, logger: Logger): Promise<AuthServerOptions & { verifier: ReloadableVerifier }> {
  if (c.pki.key_passphrase_file) {
    throw serveError('config_unsupported', 'pki.key_passphrase_file: encrypted Auth server keys are not supported yet; use an unencrypted key (mode 0600)');
  }
  const passphrase = c.pki.session_auth_passphrase_file ? passphraseFrom(c.pki.session_auth_passphrase_file) : undefined;
  const [verifier, minter, accounts] = await Promise.all([
    ReloadableVerifier.load(c.pki.trust_dir),
    loadSessionMinter({ certFile: c.pki.session_auth_cert, keyFile: c.pki.session_auth_key, ...(passphrase ? { passphrase } : {}) }),
    accountsFrom(c),
  ]);
  const ratingFor = accounts.ratingFor;
  for (const u of unservedAuthSettings(c)) logger.warn({ key: u.key }, u.message);
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
    clientConnections: connectionLimits(v, { login_timeout_seconds: v.login_timeout_seconds, max_per_account: v.max_per_account }),
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
    matchmaker: { defaults: { regionFallbackMs: c.matchmaking.region === 'strict' ? 365 * 86_400_000 : c.matchmaking.region === 'any' ? 0 : c.matchmaking.max_wait_seconds * 1000 } },
    logger,
  };
}

/** netcode and QUIC are handed off; MQTT (turn-based) is not served yet, so saying so beats ignoring it. */
function servedTransport(t: HostTransportKind, key: string): HandoffTransportKind {
  if (t === 'mqtt') throw serveError('config_unsupported', `${key} = "mqtt": serve auth hands off quic and netcode sessions only in this build`);
  return t;
}

async function accountsFrom(c: AuthConfig): Promise<{ service: AccountService; ratingFor?: AuthServerOptions['ratingFor'] }> {
  let ratingFor: AuthServerOptions['ratingFor'];
  const providers: AccountProvider[] = [];
  const a = c.accounts;
  switch (a.mode) {
    case 'guest':
      providers.push(new GuestProvider({ namePrefix: a.guest.name_prefix }));
      break;
    case 'password':
      providers.push(new PasswordProvider({ store: new MemoryAccountStore(), minPasswordLength: a.password.min_length, maxPasswordLength: a.password.max_length }));
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
        if (typeof mod.ratingFor !== 'function') throw serveError('config_module', `accounts.custom.module: ${file} exports "ratingFor", which must be a function (account, mode) => number | undefined`);
        ratingFor = mod.ratingFor as AuthServerOptions['ratingFor'];
      }
      break;
    }
  }
  return { service: new AccountService({ providers }), ...(ratingFor ? { ratingFor } : {}) };
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

/** Turns a validated `host.toml` into HostServerOptions. */
export async function hostOptionsFromConfig(c: HostConfig, logger: Logger): Promise<HostServerOptions & { verifier: ReloadableVerifier }> {
  if (c.pki.key_passphrase_file) {
    throw serveError('config_unsupported', 'pki.key_passphrase_file: encrypted host keys are not supported yet; use an unencrypted key (mode 0600)');
  }
  if (!c.transports.quic.enabled) throw serveError('config_unsupported', 'transports.quic.enabled = false: serve host always runs the QUIC transport in this build (netcode runs beside it)');
  for (const u of unservedHostSettings(c)) logger.warn({ key: u.key }, u.message);
  const [verifier, netcode] = await Promise.all([
    ReloadableVerifier.load(c.pki.trust_dir),
    c.transports.netcode.enabled ? resolveNetcodeHost(c) : undefined,
  ]);
  return {
    name: c.host.name,
    region: c.host.region,
    publicAddress: c.host.public_address,
    listen: { host: c.listen.address, port: c.transports.quic.port },
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
    ...(c.outbox.dir ? { outboxDir: c.outbox.dir } : {}),
    logger,
  };
}

type LimitKeys = 'max_connections' | 'max_unauthenticated' | 'max_unauthenticated_per_address' | 'max_unauthenticated_per_cert' | 'first_stream_timeout_seconds' | 'hello_timeout_seconds';

/** A config's connection limits as ServerLimits: only the keys it sets (the rest keep the server's defaults). */
function connectionLimits(c: { [K in LimitKeys]?: number | undefined }, extra: { login_timeout_seconds?: number | undefined; max_per_account?: number | undefined }): ServerLimits {
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

function passphraseFrom(file: string): () => Promise<string> {
  return async () => (await readText(file, 'passphrase file')).replace(/\r?\n$/, '');
}

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw serveError('unreadable', `${what}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}
