/**
 * The server config fields added for the servers (auth: client versions, heartbeats, timeouts,
 * per-mode sizes and transports, seed key type; host: [game], netcode addresses) from scaffolded
 * configs: accepted values reach the server options, bad ones are named precisely.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkConfigText, formatProblem, type Checked } from '../../src/config/load.js';
import { scaffoldConfig } from '../../src/config/scaffold.js';
import type { AuthConfig } from '../../src/config/auth.js';
import type { HostConfig } from '../../src/config/host.js';
import { authOptionsFromConfig, hostOptionsFromConfig } from '../../src/serve/config.js';
import type { PasswordProvider } from '../../src/auth/accounts/index.js';
import { loadGame, relayGame } from '../../src/serve/game.js';
import { TRUST_DIR } from '../../src/pki/trust.js';
import { makeFx, type Fx } from './helpers.js';

const silent = pino({ level: 'silent' });
let fx: Fx;
let authText: string;
let hostText: string;

beforeAll(async () => {
  fx = await makeFx();
  const common = { pkiDir: fx.pki.dir, entries: fx.pki.manifest.entries, trustDir: TRUST_DIR };
  authText = (await scaffoldConfig({ kind: 'auth', ...common, outFile: path.join(fx.dir, 'auth.toml') })).text;
  hostText = (
    await scaffoldConfig({ kind: 'host', ...common, outFile: path.join(fx.dir, 'host.toml'), publicAddress: '127.0.0.1', authServers: ['127.0.0.1:7351'] })
  ).text;
  // where scaffolded configs point (commented out in auth.toml): the PKI folder
  await writeFile(path.join(fx.pki.dir, 'netcode.key'), randomBytes(32).toString('hex') + '\n', { mode: 0o600 });
  await writeFile(path.join(fx.dir, 'game.mjs'), 'export const game = { begin() {} };\n');
}, 60_000);

afterAll(async () => {
  await fx?.cleanup();
});

/** Puts `lines` right under `[table]` of a scaffolded config. */
function under(text: string, table: string, lines: string): string {
  const header = `[${table}]\n`;
  if (!text.includes(header)) throw new Error(`no ${header}`);
  return text.replace(header, header + lines + '\n');
}

function check(text: string): Checked {
  return checkConfigText(text, { baseDir: fx.dir });
}

function problems(text: string): string[] {
  const r = check(text);
  if (r.ok) throw new Error('expected problems');
  return r.problems.map(formatProblem);
}

const lineOf = (text: string, start: string) => text.split('\n').findIndex((l) => l.startsWith(start)) + 1;

describe('auth.toml: [listen.clients] trusted_proxies', () => {
  it('is off by default, and the ranges reach the client endpoint', async () => {
    const off = check(authText);
    if (!off.ok) throw new Error('scaffolded config invalid');
    expect((off as { config: AuthConfig }).config.listen.clients.trusted_proxies).toEqual([]);
    expect((await authOptionsFromConfig((off as { config: AuthConfig }).config, silent)).clients?.trustedProxies).toEqual([]);
    const r = check(under(authText, 'listen.clients', 'trusted_proxies = ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"]'));
    if (!r.ok) throw new Error(r.problems.map(formatProblem).join('\n'));
    const o = await authOptionsFromConfig((r as { config: AuthConfig }).config, silent);
    expect(o.clients).toMatchObject({ trustedProxies: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.7'] });
  });

  it('names a bad range with its key and line', () => {
    const t = under(authText, 'listen.clients', 'trusted_proxies = ["10.0.0.0/33", "proxy.example.com"]');
    const line = lineOf(t, 'trusted_proxies');
    expect(problems(t)).toEqual([
      expect.stringMatching(new RegExp(`^listen\\.clients\\.trusted_proxies\\.0: .*0\\.\\.32.*\\(line ${line}\\)$`)),
      expect.stringMatching(new RegExp(`^listen\\.clients\\.trusted_proxies\\.1: expected an address range like 10\\.0\\.0\\.0/8 .*\\(line ${line}\\)$`)),
    ]);
  });
});

describe('auth.toml: the new fields', () => {
  it('scaffolded configs stay valid and keep their defaults', async () => {
    const r = check(authText);
    expect(r.ok).toBe(true);
    const c = (r as { config: AuthConfig }).config;
    expect(c.hosts).toEqual({ heartbeat_interval_seconds: 5, missed_heartbeats: 3 });
    expect(c.sessions).toMatchObject({ claim_timeout_seconds: 30, host_ack_timeout_seconds: 15, join_timeout_seconds: 60 });
    expect(c.matchmaking.modes).toEqual({});
    const o = await authOptionsFromConfig(c, silent);
    expect(o.defaultTransport).toBe('quic');
    expect(o.netcode).toBeUndefined();
    expect(o.acceptGameVersion).toBeUndefined();
    // an older config without the new tables at all
    const old = authText.replace(/\[clients\]\n(#.*\n)*\n/, '').replace(/\[hosts\]\n(#.*\n|\w.*\n)*\n/, '');
    expect(old).not.toContain('[hosts]');
    expect(check(old).ok).toBe(true);
  });

  it('every field reaches the server options', async () => {
    let t = under(authText, 'clients', 'game_version_min = "1.4"\ngame_version_below = "2.0.0"');
    t = t.replace('heartbeat_interval_seconds = 5', 'heartbeat_interval_seconds = 2').replace('missed_heartbeats = 3', 'missed_heartbeats = 6');
    t = t
      .replace('claim_timeout_seconds = 30', 'claim_timeout_seconds = 11')
      .replace('host_ack_timeout_seconds = 15', 'host_ack_timeout_seconds = 12')
      .replace('join_timeout_seconds = 60', 'join_timeout_seconds = 13');
    t = t.replace('key_delivery = "client"', 'key_delivery = "seed"\nseed_key_algorithm = "ed25519"');
    t = t.replace('# private_key_file = "pki/netcode.key"', 'private_key_file = "pki/netcode.key"');
    t += '\n[matchmaking.modes.duel]\nplayers = 2\ntransport = "netcode"\n\n[matchmaking.modes.brawl]\nplayers = 8\n';
    const r = check(t);
    if (!r.ok) throw new Error(r.problems.map(formatProblem).join('\n'));
    const o = await authOptionsFromConfig((r as { config: AuthConfig }).config, silent);
    expect(o).toMatchObject({
      heartbeatIntervalMs: 2000,
      missedHeartbeats: 6,
      claimTimeoutMs: 11_000,
      hostAckTimeoutMs: 12_000,
      joinTimeoutMs: 13_000,
      keyDelivery: 'seed',
      seedKeyAlgorithm: 'ed25519',
      modeSizes: { duel: 2, brawl: 8 },
      modeTransports: { duel: 'netcode' },
      defaultTransport: 'quic',
    });
    expect(o.netcode?.privateKey).toHaveLength(32);
    expect(o.netcode).toMatchObject({ protocolId: 1n, expireSeconds: 30, timeoutSeconds: 10 });
    const accept = o.acceptGameVersion!;
    expect([accept('1.3.9'), accept('1.4'), accept('1.10.0'), accept('2.0'), accept('2.1')]).toEqual(['too_old', 'ok', 'ok', 'too_new', 'too_new']);
  });

  it('names each bad value with its key, what was expected and the line', () => {
    let t = under(authText, 'clients', 'game_version_min = "v1"');
    t = t.replace('missed_heartbeats = 3', 'missed_heartbeats = 0').replace('join_timeout_seconds = 60', 'join_timeout_seconds = "soon"');
    t = t.replace('key_delivery = "client"', 'key_delivery = "client"\nseed_key_algorithm = "rsa"');
    t += '\n[matchmaking.modes.duel]\nplayers = 2\ntransport = "udp"\nteams = 2\n';
    expect(problems(t).sort()).toEqual(
      [
        `clients.game_version_min: expected a version such as "1.4.0" (numbers and dots), got "v1" (line ${lineOf(t, 'game_version_min')})`,
        `hosts.missed_heartbeats: expected a positive integer, got 0 (line ${lineOf(t, 'missed_heartbeats')})`,
        `sessions.join_timeout_seconds: expected a positive integer, got "soon" (line ${lineOf(t, 'join_timeout_seconds')})`,
        `sessions.seed_key_algorithm: expected one of "p256", "p384", "ed25519", got "rsa" (line ${lineOf(t, 'seed_key_algorithm')})`,
        `matchmaking.modes.duel.transport: expected one of "quic", "netcode", "mqtt", got "udp" (line ${lineOf(t, 'transport = "udp"')})`,
        `matchmaking.modes.duel.teams: unknown key (line ${lineOf(t, 'teams')})`,
      ].sort(),
    );
  });

  it('cross-field rules name the key to fix', () => {
    let t = under(authText, 'clients', 'game_version_min = "2.0"\ngame_version_below = "1.9"');
    t = t.replace('key_delivery = "client"', 'key_delivery = "client"\nseed_key_algorithm = "p256"');
    t += '\n[matchmaking.modes.duel]\ntransport = "netcode"\n';
    const ps = problems(t);
    expect(ps).toContain(
      `clients.game_version_below: must be above game_version_min ("2.0"), or no client version is accepted (line ${lineOf(t, 'game_version_below')})`,
    );
    expect(ps).toContain(
      `sessions.seed_key_algorithm: only used with key_delivery = "seed"; remove it or set key_delivery = "seed" (line ${lineOf(t, 'seed_key_algorithm')})`,
    );
    expect(ps.find((p) => p.startsWith('matchmaking.modes.duel.transport:'))).toContain('mode "duel" uses netcode: set netcode.private_key_file');
    expect(ps).toHaveLength(3);
  });

  it('game modes named like Object members are ordinary modes; "__proto__" is refused, not dropped (issue 9, item 8)', async () => {
    const t = authText + '\n[matchmaking.modes.constructor]\nplayers = 3\n\n[matchmaking.modes.toString]\nplayers = 5\n';
    const r = check(t);
    if (!r.ok) throw new Error(r.problems.map(formatProblem).join('\n'));
    const o = await authOptionsFromConfig((r as { config: AuthConfig }).config, silent);
    expect(Object.hasOwn(o.modeSizes!, 'constructor') && o.modeSizes!.constructor).toBe(3);
    expect(Object.hasOwn(o.modeSizes!, 'toString') && o.modeSizes!.toString).toBe(5);
    const bad = authText + '\n[matchmaking.modes.__proto__]\nplayers = 4\n';
    expect(problems(bad)).toEqual([
      `matchmaking.modes.__proto__: the key "__proto__" is reserved; choose another name (line ${lineOf(bad, '[matchmaking.modes.__proto__]')})`,
    ]);
  });

  it('an mqtt game mode is served: its players are handed off to MQTT hosts', async () => {
    const r = check(authText + '\n[matchmaking.modes.chess]\ntransport = "mqtt"\n');
    expect(r.ok).toBe(true);
    const o = await authOptionsFromConfig((r as { config: AuthConfig }).config, silent);
    expect(o.modeTransports?.chess).toBe('mqtt');
  });

  it('[matchmaking] max_matches_in_flight reaches the matchmaker (default 128); 0 is named with its line (issue 14)', async () => {
    const scaffolded = check(authText);
    if (!scaffolded.ok) throw new Error('scaffolded config invalid');
    expect((await authOptionsFromConfig((scaffolded as { config: AuthConfig }).config, silent)).matchmaker?.maxMatchesInFlight).toBe(128);
    // an older config without the key gets the same default
    expect(authText).toMatch(/^max_matches_in_flight = 128$/m);
    const older = check(authText.replace(/^max_matches_in_flight = .*\n/m, ''));
    if (!older.ok) throw new Error(older.problems.map(formatProblem).join('\n'));
    expect((older as { config: AuthConfig }).config.matchmaking.max_matches_in_flight).toBe(128);
    const r = check(authText.replace(/^max_matches_in_flight = .*$/m, 'max_matches_in_flight = 8'));
    if (!r.ok) throw new Error(r.problems.map(formatProblem).join('\n'));
    const o = await authOptionsFromConfig((r as { config: AuthConfig }).config, silent);
    expect(o.matchmaker).toMatchObject({ maxMatchesInFlight: 8 });
    const bad = authText.replace(/^max_matches_in_flight = .*$/m, 'max_matches_in_flight = 0');
    expect(problems(bad)).toEqual([
      expect.stringMatching(
        new RegExp(`^matchmaking\\.max_matches_in_flight: expected a positive integer.*\\(line ${lineOf(bad, 'max_matches_in_flight')}\\)$`),
      ),
    ]);
  });

  it('[matchmaking] max_hold_seconds reaches the matchmaker as maxHoldMs (default 60 s); 0 and 3601 are named with their line', async () => {
    const scaffolded = check(authText);
    if (!scaffolded.ok) throw new Error('scaffolded config invalid');
    expect((await authOptionsFromConfig((scaffolded as { config: AuthConfig }).config, silent)).matchmaker?.maxHoldMs).toBe(60_000);
    expect(authText).toMatch(/^max_hold_seconds = 60$/m);
    // an older config without the key gets the same default
    const older = check(authText.replace(/^max_hold_seconds = .*\n/m, ''));
    if (!older.ok) throw new Error(older.problems.map(formatProblem).join('\n'));
    expect((await authOptionsFromConfig((older as { config: AuthConfig }).config, silent)).matchmaker?.maxHoldMs).toBe(60_000);
    const r = check(authText.replace(/^max_hold_seconds = .*$/m, 'max_hold_seconds = 5'));
    if (!r.ok) throw new Error(r.problems.map(formatProblem).join('\n'));
    expect((await authOptionsFromConfig((r as { config: AuthConfig }).config, silent)).matchmaker).toMatchObject({ maxHoldMs: 5000 });
    for (const v of ['0', '3601', '1.5', '"60"']) {
      const bad = authText.replace(/^max_hold_seconds = .*$/m, `max_hold_seconds = ${v}`);
      expect(problems(bad)).toEqual([
        expect.stringMatching(new RegExp(`^matchmaking\\.max_hold_seconds: expected a positive integer.*\\(line ${lineOf(bad, 'max_hold_seconds')}\\)$`)),
      ]);
    }
  });
});

describe('host.toml: [game] and the netcode keys', () => {
  it('scaffolded configs stay valid; the new fields reach the host options', async () => {
    expect(check(hostText).ok).toBe(true);
    let t = under(hostText, 'game', 'module = "game.mjs"\nmin_players = 2').replace('reconnect_grace_seconds = 15', 'reconnect_grace_seconds = 0');
    t = t.replace(/(\[transports\.netcode\]\n(?:#.*\n)*)enabled = false/, '$1enabled = true');
    t = t
      .replace('port = 40000', 'port = 40123\nbind_address = "127.0.0.1"\npublic_address = "127.0.0.2"')
      .replace('enforce_address = false', 'enforce_address = true');
    const r = check(t);
    if (!r.ok) throw new Error(r.problems.map(formatProblem).join('\n'));
    const c = (r as { config: HostConfig }).config;
    expect(c.game.module).toBe(path.join(fx.dir, 'game.mjs'));
    const o = await hostOptionsFromConfig(c, silent);
    expect(o).toMatchObject({ minPlayers: 2, reconnectGraceMs: 0, heartbeatIntervalMs: 5000 });
    expect(o.netcode).toMatchObject({ bind: '127.0.0.1:40123', address: '127.0.0.2:40123', enforceAddress: true, maxClients: 64, protocolId: 1n });
    expect(o.netcode!.privateKey).toHaveLength(32);
    // the template drops unannounced sources; turning that off is a line of its own
    expect(t).toMatch(/^drop_unannounced = true$/m);
    expect(o.netcode!.dropUnannounced).toBe(true);
    const optOut = check(t.replace('drop_unannounced = true', 'drop_unannounced = false')) as { config: HostConfig };
    expect((await hostOptionsFromConfig(optOut.config, silent)).netcode!.dropUnannounced).toBe(false);
    // `serve host` without --game runs the configured module; --game wins
    const configured = await loadGame(undefined, c.game.module);
    expect(configured).not.toBe(relayGame);
    expect(typeof configured.begin).toBe('function');
    // a config without [game] module goes back to the relay
    expect(await loadGame(undefined, (check(hostText) as { config: HostConfig }).config.game.module)).toBe(relayGame);
  });

  it('names bad values precisely', () => {
    let t = under(hostText, 'game', 'min_players = 0\nmodule = 3').replace('reconnect_grace_seconds = 15', 'reconnect_grace_seconds = -1');
    t = t.replace('enforce_address = false', 'enforce_address = "yes"').replace('max_clients = 64', 'max_clients = 5000\npublic_address = "not an address"');
    expect(problems(t).sort()).toEqual(
      [
        `game.min_players: expected a positive integer, got 0 (line ${lineOf(t, 'min_players')})`,
        `game.module: expected a file path, got 3 (line ${lineOf(t, 'module = 3')})`,
        `game.reconnect_grace_seconds: expected a whole number of seconds (0 or more), got -1 (line ${lineOf(t, 'reconnect_grace_seconds')})`,
        `transports.netcode.enforce_address: expected true or false, got "yes" (line ${lineOf(t, 'enforce_address')})`,
        `transports.netcode.max_clients: expected at most 4096 (netcode limit), got 5000 (line ${lineOf(t, 'max_clients')})`,
        `transports.netcode.public_address: expected an IP address or host name, got "not an address" (line ${lineOf(t, 'public_address = "not')})`,
      ].sort(),
    );
  });

  it('a configured game module that does not load is an input error naming the file', async () => {
    await writeFile(path.join(fx.dir, 'nogame.mjs'), 'export const other = 1;\n');
    const r = check(under(hostText, 'game', 'module = "nogame.mjs"'));
    await expect(loadGame(undefined, (r as { config: HostConfig }).config.game.module)).rejects.toMatchObject({
      code: 'game_module',
      message: expect.stringContaining('nogame.mjs'),
    });
  });
});

/** A pino logger that keeps its records, to see what serve tells the operator. */
function recordingLogger() {
  const lines: Array<{ level: number; key?: string; msg: string }> = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { logger, warnings: () => lines.filter((l) => l.level === 40) };
}

describe('settings the config accepts but this build does not serve', () => {
  it('serve auth names the keys it ignores; [database] is served (no warning, and its URL is never logged)', async () => {
    let t = authText.replace('path = "auth-data"', 'path = "auth-data"\nurl = "postgres://iyesmp:s3cret@db.example.com:5432/iyesmp"');
    t = t.replace('format = "json"', 'format = "pretty"');
    t = t.replace(/^mode = "guest"/m, 'mode = "password"');
    const r = check(t);
    if (!r.ok) throw new Error(r.problems.map(formatProblem).join('\n'));
    const rec = recordingLogger();
    await authOptionsFromConfig((r as { config: AuthConfig }).config, rec.logger);
    const byKey = new Map(rec.warnings().map((w) => [w.key, w.msg]));
    expect(byKey.has('database')).toBe(false);
    expect(JSON.stringify(rec.warnings())).not.toContain('s3cret');
    // pretty logs are served now (src/serve/log.ts): no warning about them
    expect(byKey.has('logging.format')).toBe(false);
    // registration is served now (account.register): no warning about it
    expect(byKey.has('accounts.password.allow_registration')).toBe(false);

    // the scaffolded file, [database] section included, starts without a warning
    const plain = recordingLogger();
    await authOptionsFromConfig((check(authText) as { config: AuthConfig }).config, plain.logger);
    expect(plain.warnings().map((w) => w.key)).toEqual([]);
  });

  it('password registration and the length policy are served: allow_registration becomes allowRegistration', async () => {
    let t = authText.replace(/^mode = "guest"/m, 'mode = "password"');
    t = t.replace(/^min_length = .*$/m, 'min_length = 12').replace(/^max_length = .*$/m, 'max_length = 40');
    const o = await authOptionsFromConfig((check(t) as { config: AuthConfig }).config, silent);
    expect(o.allowRegistration).toBe(true);
    const pw = o.accounts!.provider('password') as PasswordProvider;
    expect(pw.policy).toEqual({ minLength: 12, maxLength: 40 });
    const off = await authOptionsFromConfig(
      (check(t.replace(/^allow_registration = true$/m, 'allow_registration = false')) as { config: AuthConfig }).config,
      silent,
    );
    expect(off.allowRegistration).toBe(false);
    // guest mode has no password accounts to register
    expect((await authOptionsFromConfig((check(authText) as { config: AuthConfig }).config, silent)).allowRegistration).toBe(false);
    const bad = check(t.replace(/^max_length = .*$/m, 'max_length = 8'));
    expect(bad.ok).toBe(false);
  });

  it('a custom accounts module may export ratingFor: serve auth uses it for matchmaking ratings', async () => {
    await writeFile(
      path.join(fx.dir, 'accounts-rated.mjs'),
      'export async function verify(c) { return { accountId: "u1", displayName: "U" }; }\n' +
        'export function ratingFor(account, mode) { return mode === "ranked" ? 1234 : undefined; }\n',
    );
    const t = authText.replace(/^mode = "guest"/m, 'mode = "custom"').replace(/^# module = .*$/m, 'module = "accounts-rated.mjs"');
    const r = check(t);
    if (!r.ok) throw new Error(r.problems.map(formatProblem).join('\n'));
    const o = await authOptionsFromConfig((r as { config: AuthConfig }).config, silent);
    const account = { playerId: 'custom:u1', accountId: 'u1', method: 'custom', displayName: 'U' };
    expect(await o.ratingFor!(account, 'ranked')).toBe(1234);
    expect(await o.ratingFor!(account, 'casual')).toBeUndefined();

    await writeFile(path.join(fx.dir, 'accounts-badrating.mjs'), 'export const verify = async () => null;\nexport const ratingFor = 5;\n');
    const bad = check(t.replace('accounts-rated.mjs', 'accounts-badrating.mjs'));
    await expect(authOptionsFromConfig((bad as { config: AuthConfig }).config, silent)).rejects.toMatchObject({
      code: 'config_module',
      message: expect.stringContaining('ratingFor'),
    });
  });

  it('a guest name prefix is served; serve host names unused labels; [transports.mqtt] is served', async () => {
    const t = authText.replace(/^name_prefix = .*$/m, 'name_prefix = "Visitor-"');
    const o = await authOptionsFromConfig((check(t) as { config: AuthConfig }).config, silent);
    const acc = await o.accounts!.authenticate({ method: 'guest' }, { now: Date.now() } as never);
    expect(acc.displayName).toMatch(/^Visitor-/);

    let h = under(hostText, 'host.labels', 'tier = "gold"');
    h = h.replace(/(\[transports\.mqtt\]\n(#.*\n)*)enabled = false/, '$1enabled = true');
    const r = check(h);
    if (!r.ok) throw new Error(r.problems.map(formatProblem).join('\n'));
    const rec = recordingLogger();
    const ho = await hostOptionsFromConfig((r as { config: HostConfig }).config, rec.logger);
    const keys = rec.warnings().map((w) => w.key);
    expect(keys).toContain('host.labels');
    expect(keys).not.toContain('transports.mqtt');
    expect(ho.mqtt).toMatchObject({ broker: 'embedded', port: 8883, topicPrefix: 'game', acl: 'control' });
    expect(rec.warnings().find((w) => w.key === 'host.labels')!.msg).toContain('tier');
  });

  it('[transports.mqtt] redis_url makes the embedded broker one node of several on that Redis; a bad URL names the key', async () => {
    const on = hostText.replace(/(\[transports\.mqtt\]\n(#.*\n)*)enabled = false/, '$1enabled = true');
    const h = under(on, 'transports.mqtt', 'redis_url = "redis://127.0.0.1:6379/3"\nredis_prefix = "game-a:"');
    const r = check(h);
    if (!r.ok) throw new Error(r.problems.map(formatProblem).join('\n'));
    const ho = await hostOptionsFromConfig((r as { config: HostConfig }).config, silent);
    const embedded = ho.mqtt!.embedded as { mq?: { close(cb: () => void): void }; persistence?: unknown; id?: string };
    // lazily connecting clients: nothing is sent until the broker starts; closed here
    expect(embedded.mq).toBeDefined();
    expect(embedded.persistence).toBeDefined();
    expect(embedded.id).toMatch(/^iyesmp-/);
    await new Promise<void>((res) => embedded.mq!.close(() => res()));
    (embedded.persistence as { destroy?: (cb: () => void) => void }).destroy?.(() => undefined);
    expect(problems(under(on, 'transports.mqtt', 'redis_url = "http://127.0.0.1:6379"'))).toEqual([
      expect.stringMatching(/^transports\.mqtt\.redis_url: expected a redis:\/\/ or rediss:\/\/ URL/),
    ]);
  });
});

describe('connection limits and deadlines', () => {
  it("reach the Auth and Host server options; unset ones keep the servers' defaults", async () => {
    const plainAuth = await authOptionsFromConfig((check(authText) as { config: AuthConfig }).config, silent);
    expect(plainAuth.clientConnections).toEqual({});
    const a = check(
      under(
        authText,
        'clients',
        'max_unauthenticated = 40\nmax_unauthenticated_per_address = 5\nmax_per_account = 2\nfirst_stream_timeout_seconds = 3\nlogin_timeout_seconds = 20\nidle_timeout_seconds = 45',
      ),
    );
    if (!a.ok) throw new Error(a.problems.map(formatProblem).join('\n'));
    expect((await authOptionsFromConfig((a as { config: AuthConfig }).config, silent)).clientConnections).toEqual({
      maxUnauthenticated: 40,
      maxUnauthenticatedPerAddress: 5,
      maxPerAccount: 2,
      firstStreamTimeoutMs: 3000,
      loginTimeoutMs: 20_000,
      idleTimeoutMs: 45_000,
    });
    const h = check(under(hostText, 'transports.quic', 'max_unauthenticated_per_cert = 2\nmax_per_seat = 1\nhello_timeout_seconds = 4'));
    if (!h.ok) throw new Error(h.problems.map(formatProblem).join('\n'));
    expect((await hostOptionsFromConfig((h as { config: HostConfig }).config, silent)).connections).toEqual({
      maxUnauthenticatedPerCert: 2,
      maxPerAccount: 1,
      helloTimeoutMs: 4000,
    });
    expect(problems(under(authText, 'clients', 'login_timeout_seconds = 0'))).toEqual([
      expect.stringMatching(/^clients\.login_timeout_seconds: expected a positive integer, got 0/),
    ]);
  });
});
