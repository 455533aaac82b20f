import { z } from 'zod';
import { isHmacAlgorithm, JWS_ALGORITHMS } from '../auth/accounts/jwt.js';
import { HOST_TRANSPORT_KINDS } from '../protocol/transports.js';
import { adminPortClashes } from './admin.js';
import { netcodeAuthConfigSection } from './netcode.js';
import { compareVersions } from '../protocol/version.js';
import { parseCidr } from '../net/address.js';
import { address, adminHttp, bool, connectionLimits, filePath, gameVersion, logging, nonEmpty, port, posInt } from './fields.js';

const TRANSPORT = () => z.enum(HOST_TRANSPORT_KINDS, { error: `expected one of ${HOST_TRANSPORT_KINDS.map((k) => `"${k}"`).join(', ')}` });
/** An address range (`10.0.0.0/8`, `2001:db8::/32`), or one address. */
const cidr = () =>
  z.string({ error: 'expected an address range such as "10.0.0.0/8"' }).superRefine((s, ctx) => {
    const r = parseCidr(s.trim());
    if (!r.ok) ctx.addIssue({ code: 'custom', message: r.error });
  });
/** Game mode names as clients send them in `match.queue` / `lobby.create` (the protocol's Name). */
const MODE_NAME = /^[^\s]{1,128}$/;

/**
 * The Auth server's config (`kind = "auth"`). Rendered commented from templates/auth.toml;
 * keys are snake_case as usual in TOML. Paths: see `filePath`.
 */
export function authConfigSchema(baseDir?: string) {
  const file = () => filePath(baseDir);
  const listenerShape = (defPort: number) => ({ address: address().default('0.0.0.0'), port: port().default(defPort) });
  const listener = (defPort: number) => z.strictObject(listenerShape(defPort)).prefault({});
  return z
    .strictObject({
      kind: z.literal('auth', { error: 'expected "auth"' }),
      server: z.strictObject({ name: nonEmpty('a node name').default('auth-1') }).prefault({}),
      listen: z
        .strictObject({
          clients: z
            .strictObject({
              ...listenerShape(7350),
              /**
               * UDP proxies (DDoS protection, load balancers) that prefix every datagram with a PROXY
               * protocol v2 header: their datagrams count as from the client the header names. Off when empty.
               */
              trusted_proxies: z.array(cidr(), { error: 'expected a list of address ranges' }).max(256).default([]),
            })
            .prefault({}),
          hosts: listener(7351),
        })
        .prefault({}),
      /** the operators' admin port (`iyesmp admin`, `iyesmp top`; Admin certificates only); absent: none */
      admin: z.strictObject({ address: address().default('127.0.0.1'), port: port().default(7352) }).optional(),
      clients: z
        .strictObject({
          /** oldest client game build accepted (inclusive), e.g. "1.4.0" */
          game_version_min: gameVersion().optional(),
          /** first client game build refused as too new (exclusive), e.g. "2.0.0" */
          game_version_below: gameVersion().optional(),
          ...connectionLimits(),
          login_timeout_seconds: posInt().optional(),
          /** logged-in connections of one account */
          max_per_account: posInt().optional(),
          /** a client connection silent this long is closed (QUIC idle timeout; clients ping every 10 s by default) */
          idle_timeout_seconds: posInt().max(3600, { error: 'expected a positive integer up to 3600' }).optional(),
        })
        .prefault({}),
      hosts: z
        .strictObject({
          heartbeat_interval_seconds: posInt().default(5),
          missed_heartbeats: posInt().max(100, { error: 'expected a positive integer up to 100' }).default(3),
        })
        .prefault({}),
      pki: z.strictObject({
        trust_dir: file(),
        cert: file(),
        key: file(),
        key_passphrase_file: file().optional(),
        session_auth_cert: file(),
        session_auth_key: file(),
        session_auth_passphrase_file: file().optional(),
      }),
      accounts: z
        .strictObject({
          mode: z.enum(['guest', 'password', 'token', 'custom'], { error: 'expected one of "guest", "password", "token", "custom"' }).default('guest'),
          guest: z.strictObject({ name_prefix: nonEmpty().default('guest-') }).prefault({}),
          password: z
            .strictObject({
              min_length: posInt().max(1024, { error: 'expected a positive integer up to 1024' }).default(10),
              /** longest password accepted (bounds the scrypt work a request can cause); 1024 is also the wire's bound for logins */
              max_length: posInt().max(1024, { error: 'expected a positive integer up to 1024 (the longest password a login can carry)' }).default(1024),
              /** serve `account.register` (iyesmp-auth 1.2) */
              allow_registration: bool().default(true),
            })
            .prefault({}),
          /** JWTs from the studio's identity provider: exactly one key source */
          token: z
            .strictObject({
              issuer: nonEmpty().optional(),
              audience: nonEmpty().optional(),
              jwks_url: jwksUrl().optional(),
              /** PEM public key or certificate, JWK or JWK set */
              key_file: file().optional(),
              /** shared HMAC secret (HS256/384/512), at least 32 bytes */
              secret_file: file().optional(),
              /** default: RS256, PS256, ES256, ES384, EdDSA/Ed25519 for public keys; HS256 for secret_file */
              algorithms: z
                .array(z.enum(JWS_ALGORITHMS, { error: `expected one of ${JWS_ALGORITHMS.map((a) => `"${a}"`).join(', ')} ("none" is never accepted)` }), {
                  error: 'expected a list of algorithm names',
                })
                .min(1, { error: 'expected at least one algorithm' })
                .optional(),
              clock_skew_seconds: z
                .number({ error: 'expected 0 to 300 seconds' })
                .int({ error: 'expected 0 to 300 seconds' })
                .min(0, { error: 'expected 0 to 300 seconds' })
                .max(300, { error: 'expected 0 to 300 seconds' })
                .default(30),
              /** one JWKS fetch gives up after this */
              jwks_timeout_seconds: posInt().max(60, { error: 'expected a positive integer up to 60' }).default(5),
              /** a fetched JWKS is reused this long (a token with an unknown kid refetches sooner, at most every 30 s) */
              jwks_cache_seconds: posInt().default(600),
            })
            .prefault({}),
          custom: z.strictObject({ module: file().optional() }).prefault({}),
        })
        .prefault({}),
      matchmaking: z
        .strictObject({
          players_per_match: posInt().default(2),
          max_wait_seconds: posInt().default(30),
          region: z.enum(['any', 'nearest', 'strict'], { error: 'expected one of "any", "nearest", "strict"' }).default('nearest'),
          transport: TRANSPORT().default('quic'),
          /** matches proposed or being handed off at once; a burst of queued players waits in line beyond it */
          max_matches_in_flight: posInt().max(100_000, { error: 'expected a positive integer up to 100000' }).default(128),
          /** a ticket whose players are still in a live session, or in a match still being set up, waits this long at most for it to end */
          max_hold_seconds: posInt().max(3600, { error: 'expected a positive integer up to 3600' }).default(60),
          /** per game mode: players per match and the host transport its games run on */
          modes: z
            .record(
              z.string(),
              z.strictObject({
                players: posInt().max(1024, { error: 'expected a positive integer up to 1024' }).optional(),
                transport: TRANSPORT().optional(),
              }),
              { error: 'expected a table of game modes' },
            )
            .default({}),
        })
        .prefault({}),
      sessions: z
        .strictObject({
          ttl_seconds: posInt().default(3600),
          key_delivery: z.enum(['client', 'seed'], { error: 'expected "client" or "seed"' }).default('client'),
          /** key type the server generates with key_delivery = "seed"; default: the SessionAuth key's */
          seed_key_algorithm: z.enum(['p256', 'p384', 'ed25519'], { error: 'expected one of "p256", "p384", "ed25519"' }).optional(),
          /** players must claim their seats within this after `session.ready` */
          claim_timeout_seconds: posInt().default(30),
          /** the host must acknowledge a new session within this */
          host_ack_timeout_seconds: posInt().default(15),
          /** players must reach the host within this after the hand-off */
          join_timeout_seconds: posInt().default(60),
        })
        .prefault({}),
      netcode: netcodeAuthConfigSection(baseDir),
      database: z
        .strictObject({
          // prefault, not default: the default goes through file() too, so it is resolved beside the
          // config file like a written path (default() would hand back './auth-data' as it is, and the
          // database would land in whatever folder the server was started from)
          path: file().prefault('./auth-data'),
          url: z
            .string({ error: 'expected a postgres:// URL' })
            .regex(/^postgres(ql)?:\/\//, { error: 'expected a postgres:// URL' })
            .optional(),
          /** bring an older schema up to date at start (else `serve auth` refuses it; `iyesmp db migrate` does it by hand) */
          migrate: z.boolean({ error: 'expected true or false' }).default(false),
        })
        .prefault({}),
      logging: logging(),
      admin_http: adminHttp(9464),
      results: z
        .strictObject({
          /** results POSTed to the studio's backend, signed, retried, queued on disk */
          webhook: z
            .strictObject({
              url: webhookUrl().optional(),
              /** the HMAC-SHA256 key shared with the receiver (the file's text, trimmed; at least 32 bytes) */
              secret_file: file().optional(),
              /** results waiting for delivery, one file each: they survive a restart (default: beside the config) */
              queue_dir: file().prefault('results-queue'),
              timeout_seconds: posInt().max(120, { error: 'expected a positive integer up to 120' }).default(10),
              /** attempts before a result is set aside in queue_dir/failed (backoff doubles from 1 s up to 5 min) */
              max_attempts: posInt().max(1000, { error: 'expected a positive integer up to 1000' }).default(50),
              /** results waiting at most; a new one past this is set aside at once */
              max_pending: posInt().default(100_000),
            })
            .prefault({}),
        })
        .prefault({}),
    })
    .superRefine((c, ctx) => {
      const w = c.results.webhook;
      if (w.url !== undefined && w.secret_file === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['results', 'webhook', 'secret_file'],
          message: 'results.webhook.url is set: set secret_file too (results are always signed)',
        });
      }
      const t = c.accounts.token;
      const sources = (['jwks_url', 'key_file', 'secret_file'] as const).filter((k) => t[k] !== undefined);
      if (c.accounts.mode === 'token' && sources.length === 0) {
        ctx.addIssue({ code: 'custom', path: ['accounts', 'token'], message: 'accounts.mode is "token": set jwks_url, key_file or secret_file' });
      }
      if (sources.length > 1) {
        ctx.addIssue({
          code: 'custom',
          path: ['accounts', 'token', sources[1]!],
          message: `set only one of jwks_url, key_file and secret_file (found ${sources.join(' and ')})`,
        });
      }
      // HS* with public keys is the algorithm-confusion attack; a shared secret signs only HS*
      const hmacWanted = t.secret_file !== undefined;
      const misfit = (t.algorithms ?? []).filter((a) => isHmacAlgorithm(a) !== hmacWanted);
      if (sources.length === 1 && misfit.length > 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['accounts', 'token', 'algorithms'],
          message: `${misfit.join(', ')} cannot be used with ${sources[0]}: ${hmacWanted ? 'a shared secret verifies HS256/384/512 only' : 'public keys never verify HS* algorithms'}`,
        });
      }
      if (c.accounts.mode === 'custom' && !c.accounts.custom.module) {
        ctx.addIssue({ code: 'custom', path: ['accounts', 'custom', 'module'], message: 'accounts.mode is "custom": set module to your accounts module' });
      }
      if (c.listen.clients.port === c.listen.hosts.port && c.listen.clients.address === c.listen.hosts.address) {
        ctx.addIssue({ code: 'custom', path: ['listen', 'hosts', 'port'], message: 'listen.hosts and listen.clients must not share a port' });
      }
      for (const issue of adminPortClashes(c.admin, [
        ['listen.clients.port', c.listen.clients.address, c.listen.clients.port],
        ['listen.hosts.port', c.listen.hosts.address, c.listen.hosts.port],
      ]))
        ctx.addIssue(issue);
      if (c.matchmaking.transport === 'netcode' && !c.netcode.private_key_file) {
        ctx.addIssue({ code: 'custom', path: ['netcode', 'private_key_file'], message: 'matchmaking.transport is "netcode": set the shared private key file' });
      }
      for (const [mode, m] of Object.entries(c.matchmaking.modes)) {
        if (!MODE_NAME.test(mode)) {
          ctx.addIssue({ code: 'custom', path: ['matchmaking', 'modes', mode], message: 'expected a game mode name of 1 to 128 characters without spaces' });
        }
        if (m.transport === 'netcode' && !c.netcode.private_key_file) {
          ctx.addIssue({
            code: 'custom',
            path: ['matchmaking', 'modes', mode, 'transport'],
            message: `mode "${mode}" uses netcode: set netcode.private_key_file (the key shared with the hosts)`,
          });
        }
      }
      if (c.accounts.password.max_length < c.accounts.password.min_length) {
        ctx.addIssue({
          code: 'custom',
          path: ['accounts', 'password', 'max_length'],
          message: `must be at least min_length (${c.accounts.password.min_length})`,
        });
      }
      if (c.sessions.seed_key_algorithm !== undefined && c.sessions.key_delivery !== 'seed') {
        ctx.addIssue({
          code: 'custom',
          path: ['sessions', 'seed_key_algorithm'],
          message: 'only used with key_delivery = "seed"; remove it or set key_delivery = "seed"',
        });
      }
      const v = c.clients;
      if (v.game_version_min !== undefined && v.game_version_below !== undefined && compareVersions(v.game_version_min, v.game_version_below) >= 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['clients', 'game_version_below'],
          message: `must be above game_version_min ("${v.game_version_min}"), or no client version is accepted`,
        });
      }
    });
}

/**
 * The identity provider's JWKS endpoint. https, except on a loopback address (a local IdP or test):
 * keys fetched over plain http from elsewhere could be swapped by anyone on the path.
 */
function jwksUrl() {
  return z.url({ error: 'expected a URL' }).refine(
    (u) => {
      const url = new URL(u);
      return url.protocol === 'https:' || (url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname));
    },
    { error: 'expected an https:// URL (http:// only on localhost)' },
  );
}

/** The studio's results endpoint: https, except on loopback (a local receiver, a test). */
function webhookUrl() {
  return z.url({ error: 'expected a URL' }).refine(
    (u) => {
      const url = new URL(u);
      return url.protocol === 'https:' || (url.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname));
    },
    { error: 'expected an https:// URL (http:// only on localhost)' },
  );
}

export type AuthConfig = z.output<ReturnType<typeof authConfigSchema>>;
