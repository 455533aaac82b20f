import type { Account } from './types.js';

/** A ban names a player id, or an account within one provider (same thing today, but kept explicit). */
export type BanTarget = { playerId: string } | { method: string; accountId: string };

export interface Ban {
  target: BanTarget;
  reason: string;
  createdAt: number;
  /** ms since epoch; null means permanent. */
  expiresAt: number | null;
  by?: string;
}

/** Async so the persistence issue can put bans in SQL without changing callers. */
export interface BanStore {
  add(ban: Ban): Promise<void>;
  /** Removes every ban on the target; resolves how many were removed. */
  remove(target: BanTarget): Promise<number>;
  /** Bans on this account that are in force at `now`. */
  activeFor(account: Pick<Account, 'playerId' | 'method' | 'accountId'>, now: number): Promise<Ban[]>;
}

const keyOf = (t: BanTarget): string => ('playerId' in t ? `p:${t.playerId}` : `a:${t.method}:${t.accountId}`);

export class MemoryBanStore implements BanStore {
  readonly #bans = new Map<string, Ban[]>();

  async add(ban: Ban): Promise<void> {
    const k = keyOf(ban.target);
    this.#bans.set(k, [...(this.#bans.get(k) ?? []), { ...ban }]);
  }

  async remove(target: BanTarget): Promise<number> {
    const k = keyOf(target);
    const n = this.#bans.get(k)?.length ?? 0;
    this.#bans.delete(k);
    return n;
  }

  async activeFor(account: Pick<Account, 'playerId' | 'method' | 'accountId'>, now: number): Promise<Ban[]> {
    const out: Ban[] = [];
    for (const k of [keyOf({ playerId: account.playerId }), keyOf({ method: account.method, accountId: account.accountId })]) {
      const list = this.#bans.get(k);
      if (!list) continue;
      // Drop expired bans as we pass: a memory store needs no separate sweeper.
      const live = list.filter((b) => b.expiresAt === null || b.expiresAt > now);
      if (live.length === 0) this.#bans.delete(k);
      else if (live.length !== list.length) this.#bans.set(k, live);
      out.push(...live.map((b) => ({ ...b })));
    }
    return out;
  }
}

/** The ban a client is told about: the one lasting longest (permanent beats any expiry). */
export function strongestBan(bans: Ban[]): Ban | undefined {
  let best: Ban | undefined;
  for (const b of bans) {
    if (!best) best = b;
    else if (best.expiresAt === null) break;
    else if (b.expiresAt === null || b.expiresAt > best.expiresAt) best = b;
  }
  return best;
}
