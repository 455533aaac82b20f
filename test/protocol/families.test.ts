import { describe, expect, it } from 'vitest';
import { ALPN, adminFamily, authFamily, hostctlFamily, hostFamily, type FamilyDef, type Side } from '../../src/protocol/index.js';
import { samples } from './fixtures.js';
import { makePair, ofKind, openPair } from './helpers.js';

const families: FamilyDef[] = [authFamily, hostctlFamily, hostFamily, adminFamily];

function senders(from: Side | 'both'): Side[] {
  return from === 'both' ? ['dialer', 'listener'] : [from];
}

describe('family catalogue', () => {
  it('uses the fixed family names as ALPN ids', () => {
    expect([authFamily.name, hostctlFamily.name, hostFamily.name]).toEqual([ALPN.auth, ALPN.hostctl, ALPN.host]);
    expect(ALPN).toEqual({ auth: 'iyesmp-auth/1', hostctl: 'iyesmp-hostctl/1', host: 'iyesmp-host/1', admin: 'iyesmp-admin/1' });
  });

  it.each(families.map((f) => [f.name, f] as const))('%s: every message has samples and every sample a message', (name, family) => {
    const s = samples[name]!;
    expect(Object.keys(s.requests).sort()).toEqual(Object.keys(family.requests).sort());
    expect(Object.keys(s.events).sort()).toEqual(Object.keys(family.events).sort());
  });
});

describe.each(families.map((f) => [f.name, f] as const))('%s round trips', (name, family) => {
  const s = samples[name]!;

  it('hello bodies arrive intact', () => {
    const p = makePair(family);
    p.dialer.start(s.hello.dialer as never);
    p.flush();
    expect(ofKind(p.listenerEvents, 'hello')[0]!.body).toEqual(s.hello.dialer);
    p.listener.acceptHello(s.hello.listener as never);
    p.flush();
    expect(p.dialer.negotiated).toEqual(family.version);
    expect(ofKind(p.listenerEvents, 'ready')[0]!.peerHello).toEqual(s.hello.dialer);
    expect(ofKind(p.dialerEvents, 'ready')[0]!.peerHello).toEqual(s.hello.listener);
  });

  for (const [type, def] of Object.entries(family.requests)) {
    for (const side of senders(def.from)) {
      it(`request ${type} from the ${side}, and its responses`, () => {
        const fx = s.requests[type]!;
        for (const reqBody of fx.request) {
          for (const resBody of fx.response) {
            const p = openPair(family, s.hello);
            const sender = side === 'dialer' ? p.dialer : p.listener;
            const receiver = side === 'dialer' ? p.listener : p.dialer;
            const senderEvents = side === 'dialer' ? p.dialerEvents : p.listenerEvents;
            const receiverEvents = side === 'dialer' ? p.listenerEvents : p.dialerEvents;
            const id = (sender.request as (t: string, b: unknown) => number)(type, reqBody);
            p.flush();
            const got = ofKind(receiverEvents as { kind: string }[], 'request') as unknown as { id: number; type: string; body: unknown }[];
            expect(got).toHaveLength(1);
            expect(got[0]!.type).toBe(type);
            expect(got[0]!.body).toEqual(reqBody);
            receiver.respond(got[0]!.id, resBody);
            p.flush();
            const res = ofKind(senderEvents as { kind: string }[], 'response') as unknown as { id: number; type: string; body: unknown }[];
            expect(res).toEqual([{ kind: 'response', id, type, body: resBody }]);
          }
        }
      });
    }
  }

  for (const [type, def] of Object.entries(family.events)) {
    for (const side of senders(def.from)) {
      it(`event ${type} from the ${side}`, () => {
        for (const body of s.events[type]!) {
          const p = openPair(family, s.hello);
          const sender = side === 'dialer' ? p.dialer : p.listener;
          const receiverEvents = side === 'dialer' ? p.listenerEvents : p.dialerEvents;
          (sender.notify as (t: string, b: unknown) => void)(type, body);
          p.flush();
          expect(receiverEvents).toEqual([{ kind: 'event', type, body }]);
        }
      });
    }
  }

  it('refuses to send a message from the wrong side', () => {
    const p = openPair(family, s.hello);
    for (const [type, def] of Object.entries(family.requests)) {
      if (def.from === 'both') continue;
      const wrong = def.from === 'dialer' ? p.listener : p.dialer;
      expect(() => (wrong.request as (t: string, b: unknown) => number)(type, s.requests[type]!.request[0])).toThrow(/cannot send/);
    }
  });
});
