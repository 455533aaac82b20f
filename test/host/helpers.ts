import { createHash } from 'node:crypto';
import type { VerifiedPeer } from '../../src/pki/types.js';
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

/**
 * A sans-IO core behind a proxy that, like its driver, takes the core's queued events after every
 * call; `events` holds all of them, oldest first, and `deliver` (if given) gets each as it is taken.
 */
export function driven<T extends { takeEvents(): unknown[] }>(
  core: T,
  deliver?: (event: ReturnType<T['takeEvents']>[number]) => void,
): { core: T; events: ReturnType<T['takeEvents']> } {
  const events = [] as unknown[] as ReturnType<T['takeEvents']>;
  const proxy = new Proxy(core, {
    get(target, key) {
      const v: unknown = Reflect.get(target, key, target);
      if (typeof v !== 'function' || key === 'takeEvents') return v;
      return (...args: unknown[]) => {
        const result: unknown = v.apply(target, args);
        const taken = target.takeEvents() as ReturnType<T['takeEvents']>;
        events.push(...taken);
        if (deliver) for (const e of taken) deliver(e);
        return result;
      };
    },
  });
  return { core: proxy, events };
}

export function ofType<E extends { type: string }, T extends E['type']>(events: readonly E[], t: T): Extract<E, { type: T }>[] {
  return events.filter((e): e is Extract<E, { type: T }> => e.type === t);
}
