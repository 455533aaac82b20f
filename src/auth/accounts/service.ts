import { MemoryBanStore, strongestBan, type Ban, type BanStore } from './bans.js';
import { accountError, type AuthError } from '../errors.js';
import { type Account, type AccountProvider, type AuthContext, type Credentials } from './types.js';

/**
 * The one entry point the server calls on login: picks the provider by `credentials.method`,
 * then refuses banned accounts. Providers are plug-ins; add a studio's own with `use()`.
 */
export class AccountService {
  readonly #providers = new Map<string, AccountProvider>();
  /** Always present (in memory unless given) so the server can ban from studio code at any time. */
  readonly bans: BanStore;

  constructor(opts: { providers?: AccountProvider[]; bans?: BanStore } = {}) {
    for (const p of opts.providers ?? []) this.use(p);
    this.bans = opts.bans ?? new MemoryBanStore();
  }

  /** The installed provider for a login method (e.g. the password provider, for registration). */
  provider(method: string): AccountProvider | undefined {
    return this.#providers.get(method);
  }

  use(provider: AccountProvider): this {
    if (this.#providers.has(provider.method)) {
      throw new RangeError(`an account provider for method "${provider.method}" is already installed`);
    }
    this.#providers.set(provider.method, provider);
    return this;
  }

  get methods(): string[] {
    return [...this.#providers.keys()];
  }

  async authenticate(credentials: Credentials, ctx: AuthContext): Promise<Account> {
    if (typeof credentials !== 'object' || credentials === null || typeof credentials.method !== 'string') {
      throw accountError('auth.invalid_request', 'credentials must be an object with a "method" string');
    }
    const provider = this.#providers.get(credentials.method);
    if (!provider) {
      throw accountError('auth.unknown_method', `login method "${credentials.method.slice(0, 64)}" is not enabled`, {
        details: { enabled: this.methods },
      });
    }
    const account = await provider.authenticate(credentials, ctx);
    const ban = strongestBan(await this.bans.activeFor(account, ctx.now));
    if (ban) throw banError(ban);
    return account;
  }
}

/** The refusal a banned player gets: the reason and the expiry are in the message (it reaches the client). */
export function banError(ban: Ban): AuthError {
  return accountError('auth.banned', `this account is banned ${banUntil(ban)}: ${ban.reason}`, {
    details: { reason: ban.reason, expiresAt: ban.expiresAt },
  });
}

/** The latest time a JavaScript Date can hold (ms since the epoch): a ban cannot end later. */
export const MAX_BAN_UNTIL_MS = 8_640_000_000_000_000;

export function banUntil(ban: Pick<Ban, 'expiresAt'>): string {
  if (ban.expiresAt === null) return 'permanently';
  // a ban stored with an expiry past Date's range (by an older build or another writer) still refuses with its reason
  return ban.expiresAt > MAX_BAN_UNTIL_MS ? 'until further notice' : `until ${new Date(ban.expiresAt).toISOString()}`;
}
