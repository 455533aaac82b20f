/**
 * `[accounts.token]` as the template documents it (issue 12): a token mode with only `jwks_url`
 * passes `config check` and `serve` builds a provider that verifies JWTs from that URL; the key
 * sources exclude each other and the algorithm list fits the key source.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkConfigText, formatProblem, type Checked } from '../../src/config/load.js';
import { scaffoldConfig } from '../../src/config/scaffold.js';
import type { AuthConfig } from '../../src/config/auth.js';
import { authOptionsFromConfig } from '../../src/serve/config.js';
import { checkConfigCommand } from '../../src/commands/config-check.js';
import { TRUST_DIR } from '../../src/pki/trust.js';
import { makeFx, type Fx } from './helpers.js';

const silent = pino({ level: 'silent' });
let fx: Fx;
let authText: string;
let server: Server;
let jwksUrl: string;
let keys: Awaited<ReturnType<typeof generateKeyPair>>;

beforeAll(async () => {
  fx = await makeFx();
  authText = (
    await scaffoldConfig({ kind: 'auth', pkiDir: fx.pki.dir, entries: fx.pki.manifest.entries, trustDir: TRUST_DIR, outFile: path.join(fx.dir, 'auth.toml') })
  ).text;
  keys = await generateKeyPair('EdDSA', { extractable: true });
  const jwk = { ...(await exportJWK(keys.publicKey)), kid: 'idp-1' };
  server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  await writeFile(path.join(fx.dir, 'idp.pem'), await exportSPKI(keys.publicKey));
}, 60_000);

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await fx?.cleanup();
});

const tokenText = (lines: string) => authText.replace(/^mode = "guest"/m, 'mode = "token"').replace('[accounts.token]\n', `[accounts.token]\n${lines}\n`);

function tokenMode(lines: string): Checked {
  return checkConfigText(tokenText(lines), { baseDir: fx.dir });
}

function config(r: Checked): AuthConfig {
  if (!r.ok) throw new Error(r.problems.map(formatProblem).join('\n'));
  return r.config as AuthConfig;
}

const jwt = (claims: { sub: string; aud?: string }) => {
  const j = new SignJWT({ name: 'Ada' })
    .setProtectedHeader({ alg: 'EdDSA', kid: 'idp-1' })
    .setSubject(claims.sub)
    .setIssuer('https://id.example.com/')
    .setExpirationTime('10m');
  return (claims.aud ? j.setAudience(claims.aud) : j).sign(keys.privateKey);
};

describe('[accounts.token]: JWTs as the template says', () => {
  it('only jwks_url: config check passes and serve verifies tokens from that JWKS', async () => {
    const o = await authOptionsFromConfig(config(tokenMode(`jwks_url = "${jwksUrl}"`)), silent);
    const a = await o.accounts!.authenticate({ method: 'token', token: await jwt({ sub: 'p1' }) }, { now: Date.now() });
    expect(a).toMatchObject({ accountId: 'p1', displayName: 'Ada', method: 'token' });
  });

  it('issuer and audience are checked when set; key_file works the same way', async () => {
    const o = await authOptionsFromConfig(
      config(tokenMode('key_file = "idp.pem"\nissuer = "https://id.example.com/"\naudience = "my-game"\nalgorithms = ["EdDSA"]')),
      silent,
    );
    expect((await o.accounts!.authenticate({ method: 'token', token: await jwt({ sub: 'p2', aud: 'my-game' }) }, { now: Date.now() })).accountId).toBe('p2');
    await expect(o.accounts!.authenticate({ method: 'token', token: await jwt({ sub: 'p2', aud: 'other' }) }, { now: Date.now() })).rejects.toMatchObject({
      code: 'auth.token_audience',
    });
  });

  it('config check refuses what serve could not run', async () => {
    const bad = (lines: string) => {
      const r = tokenMode(lines);
      return r.ok ? [] : r.problems.map(formatProblem);
    };
    expect(bad('')).toEqual([expect.stringMatching(/set jwks_url, key_file or secret_file/)]);
    expect(bad(`jwks_url = "${jwksUrl}"\nkey_file = "idp.pem"`)).toEqual([expect.stringMatching(/only one of/)]);
    expect(bad(`jwks_url = "${jwksUrl}"\nalgorithms = ["HS256"]`)).toEqual([expect.stringMatching(/public keys never verify HS/)]);
    expect(bad(`jwks_url = "${jwksUrl}"\nalgorithms = ["none"]`)).toEqual([expect.stringMatching(/"none" is never accepted/)]);
    expect(bad('jwks_url = "http://id.example.com/jwks.json"')).toEqual([expect.stringMatching(/https/)]);
  });

  it('a secret file too short for HS256 is an input error naming the key', async () => {
    await writeFile(path.join(fx.dir, 'short.secret'), 'short\n');
    await expect(authOptionsFromConfig(config(tokenMode('secret_file = "short.secret"')), silent)).rejects.toMatchObject({
      code: 'config_invalid',
      message: expect.stringContaining('accounts.token'),
    });
  });

  it('config check builds the same keys as serve: a bad or missing key file fails it, naming the key', async () => {
    const file = path.join(fx.dir, 'token-auth.toml');
    await writeFile(file, tokenText('key_file = "idp.pem"'));
    expect((await checkConfigCommand(file)).warnings.filter((w) => w.startsWith('accounts.token'))).toEqual([]);
    await writeFile(path.join(fx.dir, 'garbage.pem'), 'not a key\n');
    await writeFile(file, tokenText('key_file = "garbage.pem"'));
    await expect(checkConfigCommand(file)).rejects.toMatchObject({
      kind: 'check',
      code: 'config_invalid',
      details: { problems: [{ path: 'accounts.token.key_file' }] },
    });
    await expect(authOptionsFromConfig(config(tokenMode('key_file = "garbage.pem"')), silent)).rejects.toMatchObject({ code: 'config_invalid' });
    await writeFile(file, tokenText('secret_file = "short.secret"'));
    await expect(checkConfigCommand(file)).rejects.toMatchObject({
      kind: 'check',
      details: { problems: [{ path: 'accounts.token.secret_file', message: expect.stringContaining('32 bytes') }] },
    });
    await writeFile(file, tokenText('secret_file = "absent.secret"'));
    // serve cannot start without it, so neither does check (it once only warned)
    await expect(checkConfigCommand(file)).rejects.toMatchObject({
      kind: 'check',
      code: 'config_invalid',
      details: { problems: [{ message: expect.stringContaining('absent.secret') }] },
    });
  });
});
