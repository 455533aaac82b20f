import { strongestBan, type BanStore } from './bans.js';
import { AUTH_FAILURES, AuthError, type Account, type AccountProvider, type AuthContext, type Credentials } from './types.js';

/**
 * The one entry point the server calls on login: picks the provider by `credentials.method`,
 * then refuses banned accounts. Providers are plug-ins; add a studio's own with `use()`.
 */
export class AccountService {
  readonly #providers = new Map<string, AccountProvider>();
  readonly #bans: BanStore | undefined;

  constructor(opts: { providers?: AccountProvider[]; bans?: BanStore } = {}) {
    for (const p of opts.providers ?? []) this.use(p);
    this.#bans = opts.bans;
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
      throw new AuthError(AUTH_FAILURES.invalidRequest, 'credentials must be an object with a "method" string');
    }
    const provider = this.#providers.get(credentials.method);
    if (!provider) {
      throw new AuthError(AUTH_FAILURES.unknownMethod, `login method "${credentials.method.slice(0, 64)}" is not enabled`, {
        details: { enabled: this.methods },
      });
    }
    const account = await provider.authenticate(credentials, ctx);
    if (this.#bans) {
      const ban = strongestBan(await this.#bans.activeFor(account, ctx.now));
      if (ban) {
        const until = ban.expiresAt === null ? 'permanently' : `until ${new Date(ban.expiresAt).toISOString()}`;
        throw new AuthError(AUTH_FAILURES.banned, `this account is banned ${until}: ${ban.reason}`, {
          details: { reason: ban.reason, expiresAt: ban.expiresAt },
        });
      }
    }
    return account;
  }
}
