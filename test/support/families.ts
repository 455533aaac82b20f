/**
 * Older versions of the protocol families, rebuilt from the current ones, so a test can put a peer
 * that speaks an earlier minor across from one that speaks the current one.
 */
import type { z } from 'zod';
import { authFamily, hostctlFamily, hostFamily, ProtocolSession, type FamilyDef } from '../../src/protocol/index.js';

/** The auth family as a 1.3 peer knew it: no `sameChain` in session.handoff. */
export function authFamily13(): FamilyDef {
  const handoff = authFamily.events['session.handoff'];
  return {
    ...authFamily,
    version: { major: 1, minor: 3 },
    events: { ...authFamily.events, 'session.handoff': { ...handoff, body: (handoff.body as z.ZodObject).omit({ sameChain: true }) } },
  };
}

/**
 * The auth family as a 1.2 peer knew it: no claim or publicKey in match.confirm, no transport/needsPublicKey
 * in match.found, no session.handoff / session.key_refused.
 */
export function authFamily12(): FamilyDef {
  const { 'session.handoff': _h, 'session.key_refused': _k, ...events } = authFamily13().events;
  const confirm = authFamily.requests['match.confirm'];
  const found = authFamily.events['match.found'];
  return {
    ...authFamily,
    version: { major: 1, minor: 2 },
    requests: { ...authFamily.requests, 'match.confirm': { ...confirm, request: (confirm.request as z.ZodObject).omit({ claim: true, publicKey: true }) } },
    events: { ...events, 'match.found': { ...found, body: (found.body as z.ZodObject).omit({ transport: true, needsPublicKey: true }) } },
  };
}

/** The auth family as a 1.1 peer knew it: no account.register, no lobbyId in match.queue, no match.queued. */
export function authFamily11(): FamilyDef {
  const f12 = authFamily12();
  const { 'match.queued': _q, 'match.dequeued': _d, ...events } = f12.events;
  const { 'account.register': _r, ...requests } = f12.requests;
  const queue = authFamily.requests['match.queue'];
  return {
    ...f12,
    version: { major: 1, minor: 1 },
    requests: { ...requests, 'match.queue': { ...queue, request: (queue.request as z.ZodObject).omit({ lobbyId: true }) } },
    events,
  };
}

/** The auth family as a 1.0 peer knew it: no joinCode fields, no session.lost / session.waiting. */
export function authFamily10(): FamilyDef {
  const f11 = authFamily11();
  const { 'session.lost': _l, 'session.waiting': _w, ...events } = f11.events;
  const join = authFamily.requests['lobby.join'];
  const create = authFamily.requests['lobby.create'];
  return {
    ...f11,
    version: { major: 1, minor: 0 },
    requests: {
      ...f11.requests,
      'lobby.join': { ...join, request: (join.request as z.ZodObject).omit({ joinCode: true }) },
      'lobby.create': { ...create, response: (create.response as z.ZodObject).omit({ joinCode: true }) },
    },
    events,
  };
}

/** The host family as 1.0 knew it: no reconnect secret in the hello or the welcome. */
export function hostFamily10(): FamilyDef {
  const { dialer, listener } = hostFamily.hello;
  return {
    ...hostFamily,
    version: { major: 1, minor: 0 },
    hello: { dialer: (dialer as z.ZodObject).omit({ reconnectSecret: true }), listener: (listener as z.ZodObject).omit({ reconnectSecret: true }) },
  };
}

/** The hostctl family as 1.1 knew it: no telemetry in session.ended. */
export function hostctlFamily11(): FamilyDef {
  const ended = hostctlFamily.requests['session.ended'];
  return {
    ...hostctlFamily,
    version: { major: 1, minor: 1 },
    requests: { ...hostctlFamily.requests, 'session.ended': { ...ended, request: (ended.request as z.ZodObject).omit({ telemetry: true }) } },
  };
}

/** The hostctl family as 1.0 knew it: no telemetry.report, no telemetry id. */
export function hostctlFamily10(): FamilyDef {
  const { 'telemetry.report': _t, ...requests } = hostctlFamily11().requests;
  return {
    ...hostctlFamily,
    version: { major: 1, minor: 0 },
    requests,
    events: {
      ...hostctlFamily.events,
      telemetry: { ...hostctlFamily.events.telemetry, body: (hostctlFamily.events.telemetry.body as z.ZodObject).omit({ id: true }) },
    },
  };
}

// loosely typed on purpose: the two sides use different copies of the family
export type LooseEvent = { kind: string; type?: string; body?: unknown; code?: string; id?: number };

/**
 * A dialer and a listener speaking (possibly) different versions of one family, past the hello
 * exchange, with the hello events already taken.
 */
export function openMixed(dialerFamily: FamilyDef, listenerFamily: FamilyDef, hello: { dialer: unknown; listener: unknown }) {
  const dialer = new ProtocolSession(dialerFamily, { side: 'dialer', gameVersion: '1.0.0', nowMs: 0 });
  const listener = new ProtocolSession(listenerFamily, { side: 'listener', gameVersion: '1.0.0', nowMs: 0 });
  const flush = () => {
    for (let i = 0; i < 20; i++) {
      const a = dialer.takeOutput();
      const b = listener.takeOutput();
      for (const c of a) listener.receive(c);
      for (const c of b) dialer.receive(c);
      if (a.length === 0 && b.length === 0) return;
    }
  };
  dialer.start(hello.dialer as never);
  flush();
  listener.acceptHello(hello.listener as never);
  flush();
  dialer.takeEvents();
  listener.takeEvents();
  return {
    dialer,
    listener,
    flush,
    request: (type: string, body: unknown) => (dialer.request as (t: string, b: unknown) => number)(type, body),
    listenerEvents: () => listener.takeEvents() as LooseEvent[],
    dialerEvents: () => dialer.takeEvents() as LooseEvent[],
  };
}
