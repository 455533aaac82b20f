// A ClientLink (one game client's control stream on the Auth) keeps no logger of its own: a pino
// child with its bindings was ~0.3 KB per idle player. Each line it logs still carries the client's
// name and address, exactly as a child made at connect time would.
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { ClientLink, type ClientEndpointContext } from '../../src/auth/client-endpoint.js';
import { authFamily, ProtocolConnection } from '../../src/protocol/index.js';
import type { PeerConnection, PeerStream } from '../../src/transport/index.js';
import { duplexPair } from '../support/duplex.js';
import { samples } from '../protocol/fixtures.js';

function setup(remotePort: number) {
  const lines: Record<string, unknown>[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const logger = pino({ level: 'info' }, dest);
  const child = vi.spyOn(logger, 'child');
  const server = {
    logger,
    options: { name: 'auth-1', gameVersion: '1.0.0' },
    accounts: { authenticate: async () => ({ playerId: 'pl-1', displayName: 'Ada', method: 'guest' }), provider: () => undefined },
    limits: { admit: () => undefined },
    lobbies: { list: () => [] },
    loginOutcome: () => undefined,
    clientLoggedIn: () => undefined,
    clientLoggedOut: () => undefined,
    clientGone: () => undefined,
    resumeFor: async () => undefined,
  } as unknown as ClientEndpointContext;
  const conn = {
    peer: { name: 'client-7' },
    remoteHost: '203.0.113.9',
    remotePort,
    viaProxy: undefined,
    admission: { helloReceived: () => undefined, trust: () => ({ ok: true }), distrust: () => true, release: () => undefined },
    close: async () => undefined,
  } as unknown as PeerConnection;
  const { client: a, server: b } = duplexPair();
  const link = new ClientLink(server, conn, { id: 0, ...b, cancel: () => undefined } as PeerStream);
  const client = ProtocolConnection.dial(authFamily, a, { gameVersion: '1.0.0', hello: samples['iyesmp-auth/1']!.hello.dialer as never });
  return { link, client, lines, child, conn: conn as { remotePort: number } };
}

describe('ClientLink logging', () => {
  it('makes no logger until it logs, and its lines carry the client and its address', async () => {
    const { link, client, lines, child, conn } = setup(40000);
    await client.ready;
    expect(child).not.toHaveBeenCalled();
    // the peer migrates: the lines keep naming the address it came from, as before
    conn.remotePort = 40001;
    await expect(client.request('account.login', { method: 'guest', displayName: 'Ada' })).resolves.toMatchObject({ accountId: 'pl-1' });
    const login = lines.find((l) => l.msg === 'login');
    expect(login).toMatchObject({ client: 'client-7', remote: '203.0.113.9:40000', playerId: 'pl-1', method: 'guest' });
    expect(link.account?.playerId).toBe('pl-1');
    await client.close();
  });

  it('answers with handlers shared by every link, each on its own link', async () => {
    const one = setup(40010);
    const two = setup(40020);
    await Promise.all([one.client.ready, two.client.ready]);
    await one.client.request('account.login', { method: 'guest', displayName: 'Ada' });
    // the second link is not logged in: its own state answers, not the first link's
    await expect(two.client.request('lobby.list', {})).rejects.toMatchObject({ code: 'login_required' });
    await expect(one.client.request('lobby.list', {})).resolves.toEqual({ lobbies: [] });
    await Promise.all([one.client.close(), two.client.close()]);
  });
});
