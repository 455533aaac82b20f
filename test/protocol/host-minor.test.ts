/**
 * iyesmp-host/1.1 next to 1.0 peers: the reconnect secret is an optional field of the hello and
 * the welcome, so a 1.0 host drops the one a 1.1 client presents and a 1.0 client drops the one a
 * 1.1 host issues; neither side fails the handshake.
 */
import { describe, expect, it } from 'vitest';
import { hostFamily, ProtocolSession, type FamilyDef } from '../../src/protocol/index.js';
import { hostFamily10 } from '../support/families.js';

const welcome = { sessionId: 'ses-1', state: 'waiting', players: [], reconnectSecret: 'next-secret' };

/** Runs the hello exchange; returns what each side received of the other's hello body. */
function handshake(dialerFamily: FamilyDef, listenerFamily: FamilyDef) {
  const dialer = new ProtocolSession(dialerFamily, { side: 'dialer', gameVersion: '1.0.0', nowMs: 0 });
  const listener = new ProtocolSession(listenerFamily, { side: 'listener', gameVersion: '1.0.0', nowMs: 0 });
  const flush = () => {
    for (let i = 0; i < 10; i++) {
      const a = dialer.takeOutput();
      const b = listener.takeOutput();
      for (const c of a) listener.receive(c);
      for (const c of b) dialer.receive(c);
      if (a.length === 0 && b.length === 0) return;
    }
  };
  dialer.start({ sessionId: 'ses-1', playerId: 'pl-1', reconnectSecret: 'last-secret' } as never);
  flush();
  const hello = listener.takeEvents().find((e) => e.kind === 'hello') as { body: unknown } | undefined;
  listener.acceptHello(welcome as never);
  flush();
  const ready = dialer.takeEvents().find((e) => e.kind === 'ready') as { peerHello: unknown } | undefined;
  return { hostSaw: hello?.body, clientSaw: ready?.peerHello, negotiated: dialer.negotiated };
}

describe('iyesmp-host/1.1', () => {
  it('carries the reconnect secret both ways between 1.1 peers', () => {
    expect(hostFamily.version).toEqual({ major: 1, minor: 1 });
    const r = handshake(hostFamily, hostFamily);
    expect(r.negotiated).toEqual({ major: 1, minor: 1 });
    expect(r.hostSaw).toMatchObject({ reconnectSecret: 'last-secret' });
    expect(r.clientSaw).toMatchObject({ reconnectSecret: 'next-secret' });
  });

  it('a 1.0 host drops the secret a 1.1 client presents', () => {
    const r = handshake(hostFamily, hostFamily10());
    expect(r.negotiated).toEqual({ major: 1, minor: 0 });
    expect(r.hostSaw).toMatchObject({ sessionId: 'ses-1', playerId: 'pl-1' });
    expect(r.hostSaw).not.toHaveProperty('reconnectSecret');
  });

  it('a 1.0 client drops the secret a 1.1 host issues', () => {
    const r = handshake(hostFamily10(), hostFamily);
    expect(r.negotiated).toEqual({ major: 1, minor: 0 });
    expect(r.clientSaw).toMatchObject({ sessionId: 'ses-1', state: 'waiting' });
    expect(r.clientSaw).not.toHaveProperty('reconnectSecret');
  });
});
