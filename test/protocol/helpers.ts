import type { z } from 'zod';
import { ProtocolSession, type FamilyDef, type SessionEvent, type SessionOptions, type Side } from '../../src/protocol/index.js';

export interface Pair<F extends FamilyDef, E> {
  dialer: ProtocolSession<F, 'dialer', E>;
  listener: ProtocolSession<F, 'listener', E>;
  dialerEvents: SessionEvent<F, 'dialer', E>[];
  listenerEvents: SessionEvent<F, 'listener', E>[];
  /** Moves bytes both ways until neither side has output left. */
  flush(): void;
}

type Opts<E> = Partial<Omit<SessionOptions<E>, 'side'>>;

export function makePair<F extends FamilyDef, E = unknown>(
  family: F,
  opts: { dialer?: Opts<E>; listener?: Opts<E>; extSchema?: z.ZodType<E> } = {},
): Pair<F, E> {
  const base = { gameVersion: '1.0.0', nowMs: 0, ...(opts.extSchema ? { extSchema: opts.extSchema } : {}) };
  const dialer = new ProtocolSession<F, 'dialer', E>(family, { ...base, ...opts.dialer, side: 'dialer' });
  const listener = new ProtocolSession<F, 'listener', E>(family, { ...base, ...opts.listener, side: 'listener' });
  const pair: Pair<F, E> = {
    dialer,
    listener,
    dialerEvents: [],
    listenerEvents: [],
    flush() {
      for (let round = 0; round < 100; round++) {
        const a = dialer.takeOutput();
        const b = listener.takeOutput();
        for (const chunk of a) listener.receive(chunk);
        for (const chunk of b) dialer.receive(chunk);
        pair.dialerEvents.push(...dialer.takeEvents());
        pair.listenerEvents.push(...listener.takeEvents());
        if (a.length === 0 && b.length === 0) return;
      }
      throw new Error('sessions kept talking for 100 rounds');
    },
  };
  return pair;
}

/** Runs the hello exchange with the given bodies; returns the pair in the open state. */
export function openPair<F extends FamilyDef, E = unknown>(
  family: F,
  hello: { dialer: unknown; listener: unknown },
  opts: Parameters<typeof makePair<F, E>>[1] = {},
): Pair<F, E> {
  const p = makePair<F, E>(family, opts);
  p.dialer.start(hello.dialer as never);
  p.flush();
  const h = p.listenerEvents.find((e) => e.kind === 'hello');
  if (!h) throw new Error(`no hello event: ${JSON.stringify(p.listenerEvents)}`);
  p.listener.acceptHello(hello.listener as never);
  p.flush();
  if (p.dialer.state !== 'open' || p.listener.state !== 'open') throw new Error('hello exchange failed');
  p.dialerEvents.length = 0;
  p.listenerEvents.length = 0;
  return p;
}

export function ofKind<T extends { kind: string }, K extends T['kind']>(events: T[], kind: K): Extract<T, { kind: K }>[] {
  return events.filter((e): e is Extract<T, { kind: K }> => e.kind === kind);
}

export type { Side };
