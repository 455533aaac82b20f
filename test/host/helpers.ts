import { createHash } from 'node:crypto';
import type { VerifiedPeer } from '../../src/pki/types.js';
import type { Emitter } from '../../src/host/emitter.js';
import type { ExpectedPlayer, SessionSpec } from '../../src/host/types.js';

/** A deterministic SHA-256-looking fingerprint per label. */
export function fp(label: string): string {
  return createHash('sha256').update(label).digest('hex');
}

export function player(id: string, ip: string, port?: number): ExpectedPlayer {
  return { playerId: id, address: port === undefined ? { ip } : { ip, port }, fingerprint: fp(id), displayName: `Player ${id}` };
}

export function spec(sessionId: string, players: ExpectedPlayer[], extra: Partial<SessionSpec> = {}): SessionSpec {
  return { sessionId, transport: 'quic', players, settings: { map: 'dust' }, ...extra };
}

export function sessionPeer(sessionId: string, playerId: string, fingerprint = fp(playerId)): VerifiedPeer {
  return {
    role: 'session',
    name: playerId,
    subject: `CN=${playerId}`,
    fingerprint,
    serial: '01',
    notAfter: new Date('2030-01-01T00:00:00Z'),
    sessionId,
    playerId,
  };
}

/** Collects every event an emitter delivers. */
export function collect<E extends { type: string }>(emitter: Emitter<E>): E[] {
  const events: E[] = [];
  emitter.on((e) => events.push(e));
  return events;
}

/**
 * A sans-IO core behind a proxy that, like its driver, takes the core's queued events after every
 * call; `events` holds all of them, oldest first.
 */
export function driven<T extends { takeEvents(): unknown[] }>(core: T): { core: T; events: ReturnType<T['takeEvents']> } {
  const events = [] as unknown[] as ReturnType<T['takeEvents']>;
  const proxy = new Proxy(core, {
    get(target, key) {
      const v: unknown = Reflect.get(target, key, target);
      if (typeof v !== 'function' || key === 'takeEvents') return v;
      return (...args: unknown[]) => {
        const result: unknown = v.apply(target, args);
        events.push(...target.takeEvents());
        return result;
      };
    },
  });
  return { core: proxy, events };
}

export function ofType<E extends { type: string }, T extends E['type']>(events: readonly E[], t: T): Extract<E, { type: T }>[] {
  return events.filter((e): e is Extract<E, { type: T }> => e.type === t);
}
