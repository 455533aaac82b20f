/**
 * Login tokens from a studio's identity provider (issue 12): JWTs verified with jose against a JWKS
 * served by a local HTTP server, a key file, or a shared secret; every refusal has its own code.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportSPKI, generateKeyPair, type JWK, SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JwtProvider, jwtKeysFromFile, jwtSecret, remoteJwks } from '../../src/auth/accounts/index.js';

const now = Date.parse('2026-12-06T10:00:00Z');
const sec = (ms: number) => Math.floor(ms / 1000);
const ISS = 'https://id.example.com/';
const AUD = 'my-game';

type Keys = Awaited<ReturnType<typeof generateKeyPair>>;
let es: Keys;
let other: Keys;
let esJwk: JWK;
let server: Server;
let base: string;
let fetches = 0;
/** what the JWKS endpoint does: answer, never answer, or send too much */
let mode: 'ok' | 'hang' | 'huge' = 'ok';
const hanging: ServerResponse[] = [];

beforeAll(async () => {
  es = await generateKeyPair('ES256', { extractable: true });
  other = await generateKeyPair('ES256', { extractable: true });
  esJwk = { ...(await exportJWK(es.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  server = createServer((_req, res) => {
    fetches++;
    if (mode === 'hang') {
      hanging.push(res);
      return;
    }
    const body = mode === 'huge' ? JSON.stringify({ keys: [esJwk], pad: 'x'.repeat(200_000) }) : JSON.stringify({ keys: [esJwk] });
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const r of hanging) r.destroy();
  await new Promise((resolve) => server.close(resolve));
});

function sign(claims: Record<string, unknown>, opts: { key?: Keys['privateKey']; alg?: string; kid?: string; iss?: string; aud?: string; exp?: number } = {}) {
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: opts.alg ?? 'ES256', kid: opts.kid ?? 'k1' })
    .setIssuedAt(sec(now))
    .setIssuer(opts.iss ?? ISS)
    .setAudience(opts.aud ?? AUD)
    .setExpirationTime(opts.exp ?? sec(now) + 600);
  return jwt.sign(opts.key ?? es.privateKey);
}

const login = (p: JwtProvider, token: string, at = now) => p.authenticate({ method: 'token', token }, { now: at });
const refusedWith = (code: string) => expect.objectContaining({ code });

describe('JWT login tokens from a JWKS URL', () => {
  const provider = () => new JwtProvider({ keys: remoteJwks(`${base}/jwks.json`, { timeoutMs: 300 }), issuer: ISS, audience: AUD });

  it('accepts a token signed by a key of the set, and fetches the set once', async () => {
    mode = 'ok';
    fetches = 0;
    const p = provider();
    const a = await login(p, await sign({ sub: 'u42', name: 'Zed', data: { tier: 'gold' } }));
    expect(a).toMatchObject({ playerId: 'token:u42', accountId: 'u42', method: 'token', displayName: 'Zed', data: { tier: 'gold' } });
    await login(p, await sign({ sub: 'u43' }));
    expect(fetches).toBe(1);
  });

  it('refuses each bad token with its own code', async () => {
    mode = 'ok';
    const p = provider();
    await expect(login(p, await sign({ sub: 'u' }, { iss: 'https://evil.example/' }))).rejects.toThrow(refusedWith('auth.token_issuer'));
    await expect(login(p, await sign({ sub: 'u' }, { aud: 'other-game' }))).rejects.toThrow(refusedWith('auth.token_audience'));
    await expect(login(p, await sign({ sub: 'u' }, { exp: sec(now) - 60 }))).rejects.toThrow(refusedWith('auth.token_expired'));
    await expect(login(p, await sign({ sub: 'u' }, { key: other.privateKey }))).rejects.toThrow(refusedWith('auth.token_signature'));
    const none = new UnsecuredJWT({ sub: 'u' })
      .setIssuer(ISS)
      .setAudience(AUD)
      .setExpirationTime(sec(now) + 600)
      .encode();
    await expect(login(p, none)).rejects.toThrow(refusedWith('auth.token_algorithm'));
    // an HS256 token "signed" with the public key's bytes: the key-confusion attack
    const hs = await sign({ sub: 'u' }, { alg: 'HS256', key: new TextEncoder().encode(JSON.stringify(esJwk)) as never });
    await expect(login(p, hs)).rejects.toThrow(refusedWith('auth.token_algorithm'));
    await expect(login(p, 'not.a.jwt')).rejects.toThrow(refusedWith('auth.token_invalid'));
    await expect(login(p, await sign({ name: 'no sub' }))).rejects.toThrow(refusedWith('auth.token_invalid'));
  });

  it('expiry uses the clock passed in, with the configured skew', async () => {
    const p = new JwtProvider({ keys: remoteJwks(`${base}/jwks.json`), clockSkewSeconds: 10 });
    const t = await sign({ sub: 'u' }, { exp: sec(now) + 60 });
    expect((await login(p, t, now + 65_000)).accountId).toBe('u');
    await expect(login(p, t, now + 75_000)).rejects.toThrow(refusedWith('auth.token_expired'));
  });

  it('a JWKS endpoint that never answers fails the login at the timeout, not later', async () => {
    mode = 'hang';
    const p = provider();
    const t0 = performance.now();
    await expect(login(p, await sign({ sub: 'u' }))).rejects.toThrow(refusedWith('auth.token_keys_unavailable'));
    expect(performance.now() - t0).toBeLessThan(2_000);
  });

  it('a key set larger than the bound is refused', async () => {
    mode = 'huge';
    const p = new JwtProvider({ keys: remoteJwks(`${base}/jwks.json`, { maxBytes: 16 * 1024 }), issuer: ISS, audience: AUD });
    await expect(login(p, await sign({ sub: 'u' }))).rejects.toThrow(refusedWith('auth.token_keys_unavailable'));
    mode = 'ok';
  });
});

describe('JWT login tokens from a key file', () => {
  it('a PEM public key verifies, and refuses another key', async () => {
    const p = new JwtProvider({ keys: jwtKeysFromFile(await exportSPKI(es.publicKey)), issuer: ISS, audience: AUD });
    expect((await login(p, await sign({ sub: 'pem' }))).accountId).toBe('pem');
    await expect(login(p, await sign({ sub: 'u' }, { key: other.privateKey }))).rejects.toThrow(refusedWith('auth.token_signature'));
  });

  it('a JWK set file verifies by kid', async () => {
    const p = new JwtProvider({ keys: jwtKeysFromFile(JSON.stringify({ keys: [esJwk] })), audience: AUD });
    expect((await login(p, await sign({ sub: 'jwks' }))).accountId).toBe('jwks');
    await expect(login(p, await sign({ sub: 'u' }, { kid: 'k9' }))).rejects.toThrow(refusedWith('auth.token_signature'));
  });

  it('private key material is refused when the file is read', async () => {
    const priv = await exportJWK(es.privateKey);
    expect(() => jwtKeysFromFile(JSON.stringify(priv))).toThrow(/private/);
    expect(() => jwtKeysFromFile('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n')).toThrow(/private/);
    expect(() => jwtKeysFromFile('hello')).toThrow(/not a PEM public key/);
  });
});

describe('JWT login tokens with a shared secret', () => {
  const secret = 'a-secret-of-at-least-thirty-two-bytes!!';
  it('HS256 verifies; a secret shorter than 32 bytes and HS* with public keys are refused up front', async () => {
    const p = new JwtProvider({ keys: jwtSecret(secret), audience: AUD });
    const t = await sign({ sub: 'hs' }, { alg: 'HS256', key: new TextEncoder().encode(secret) as never });
    expect((await login(p, t)).accountId).toBe('hs');
    await expect(login(p, await sign({ sub: 'u' }))).rejects.toThrow(refusedWith('auth.token_algorithm'));
    expect(() => jwtSecret('short')).toThrow(/32 bytes/);
    expect(() => new JwtProvider({ keys: jwtKeysFromFile(JSON.stringify({ keys: [esJwk] })), algorithms: ['HS256'] })).toThrow(/HS256/);
  });
});
