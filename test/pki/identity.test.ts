import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ID_PATTERN, initPki, pemToDerList, sessionIdentityOf } from '../../src/pki/index.js';
import { tempDir } from './helpers.js';

describe('sessionIdentityOf', () => {
  let cleanup: () => void;
  let sessionDer: Uint8Array;
  let hostDer: Uint8Array;

  beforeAll(async () => {
    let dir: string;
    ({ dir, cleanup } = tempDir());
    const pki = await initPki({ dir: path.join(dir, 'pki'), allowUnencryptedCaKeys: true, hosts: [{ name: 'h1', dnsNames: ['h1.example.org'] }] });
    sessionDer = (await (await pki.sessionMinter()).mintWithNewKey({ sessionId: 'S-1', playerId: 'guest.p_1' })).certDer;
    const host = pki.list().find((e) => e.role === 'host')!;
    hostDer = pemToDerList(readFileSync(pki.path(host.certFile), 'utf8'))[0]!;
  });
  afterAll(() => cleanup());

  it('reads the session and seat a session certificate names', () => {
    expect(sessionIdentityOf(sessionDer)).toEqual({ sessionId: 'S-1', playerId: 'guest.p_1' });
  });

  it('is undefined for other certificates and for bytes that are not one', () => {
    expect(sessionIdentityOf(hostDer)).toBeUndefined();
    expect(sessionIdentityOf(new Uint8Array([0x30, 0x03, 1, 2, 3]))).toBeUndefined();
  });

  it('shares one id charset', () => {
    for (const ok of ['a', 'S-1', 'guest.p_1', 'x'.repeat(64)]) expect(ID_PATTERN.test(ok), ok).toBe(true);
    for (const bad of ['', '-a', '.a', 'a/b', 'a:b', 'x'.repeat(65), 'a b']) expect(ID_PATTERN.test(bad), bad).toBe(false);
  });
});
