import { z } from 'zod';
import { address, bool, filePath, logging, nonEmpty, port, posInt, protocolId } from './fields.js';

/**
 * The Auth server's config (`kind = "auth"`). Rendered commented from templates/auth.toml;
 * keys are snake_case as usual in TOML. Paths: see `filePath`.
 */
export function authConfigSchema(baseDir?: string) {
  const file = () => filePath(baseDir);
  const listener = (defPort: number) => z.strictObject({ address: address().default('0.0.0.0'), port: port().default(defPort) }).prefault({});
  return z
    .strictObject({
      kind: z.literal('auth', { error: 'expected "auth"' }),
      server: z.strictObject({ name: nonEmpty('a node name').default('auth-1') }).prefault({}),
      listen: z
        .strictObject({
          clients: listener(7350),
          hosts: listener(7351),
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
            .strictObject({ min_length: posInt().default(10), allow_registration: bool().default(true) })
            .prefault({}),
          token: z
            .strictObject({
              issuer: nonEmpty().optional(),
              audience: nonEmpty().optional(),
              jwks_url: z.url({ error: 'expected a URL' }).optional(),
              secret_file: file().optional(),
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
          transport: z.enum(['quic', 'netcode', 'mqtt'], { error: 'expected one of "quic", "netcode", "mqtt"' }).default('quic'),
        })
        .prefault({}),
      sessions: z
        .strictObject({
          ttl_seconds: posInt().default(3600),
          key_delivery: z.enum(['client', 'seed'], { error: 'expected "client" or "seed"' }).default('client'),
        })
        .prefault({}),
      netcode: z
        .strictObject({
          private_key_file: file().optional(),
          protocol_id: protocolId().default('0x1'),
          token_expire_seconds: posInt().default(30),
          timeout_seconds: posInt().default(10),
        })
        .prefault({}),
      database: z
        .strictObject({
          path: file().default('./auth-data'),
          url: z.string({ error: 'expected a postgres:// URL' }).regex(/^postgres(ql)?:\/\//, { error: 'expected a postgres:// URL' }).optional(),
        })
        .prefault({}),
      logging: logging(),
    })
    .superRefine((c, ctx) => {
      if (c.accounts.mode === 'token' && !c.accounts.token.jwks_url && !c.accounts.token.secret_file) {
        ctx.addIssue({ code: 'custom', path: ['accounts', 'token'], message: 'accounts.mode is "token": set jwks_url or secret_file' });
      }
      if (c.accounts.mode === 'custom' && !c.accounts.custom.module) {
        ctx.addIssue({ code: 'custom', path: ['accounts', 'custom', 'module'], message: 'accounts.mode is "custom": set module to your accounts module' });
      }
      if (c.listen.clients.port === c.listen.hosts.port && c.listen.clients.address === c.listen.hosts.address) {
        ctx.addIssue({ code: 'custom', path: ['listen', 'hosts', 'port'], message: 'listen.hosts and listen.clients must not share a port' });
      }
      if (c.matchmaking.transport === 'netcode' && !c.netcode.private_key_file) {
        ctx.addIssue({ code: 'custom', path: ['netcode', 'private_key_file'], message: 'matchmaking.transport is "netcode": set the shared private key file' });
      }
    });
}

export type AuthConfig = z.output<ReturnType<typeof authConfigSchema>>;
