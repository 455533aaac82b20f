import { AuthDomain, type AuthDomainEvents, type AuthDomainOptions } from '../../src/auth/domain.js';

type Event<N extends keyof AuthDomainEvents, T> = Extract<AuthDomainEvents[N], { type: T }>;

const domains = new WeakMap<object, AuthDomain>();

/**
 * The cores through their driver, which delivers their events after each call. `domainOf` finds
 * it again from a core, for tests that build a core and subscribe later.
 */
export function domain(opts: AuthDomainOptions = {}): AuthDomain {
  const d = new AuthDomain(opts);
  for (const core of [d.lobbies, d.matchmaker, d.registry, d.sessions]) domains.set(core, d);
  return d;
}

export function domainOf(core: object): AuthDomain {
  const d = domains.get(core);
  if (!d) throw new Error('not a core of a test domain');
  return d;
}

/** Calls `fn` with each `type` event of one core as the driver delivers it. */
export function onEvent<N extends keyof AuthDomainEvents, T extends AuthDomainEvents[N]['type']>(
  d: AuthDomain,
  name: N,
  type: T,
  fn: (e: Event<N, T>) => void,
): void {
  d.on(name, (e) => {
    if (e.type === type) fn(e as Event<N, T>);
  });
}
