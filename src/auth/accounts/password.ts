import { randomUUID } from 'node:crypto';
import { HashQueue } from './hash-queue.js';
import { LoginLockout } from './lockout.js';
import { DEFAULT_SCRYPT, hashPassword, needsRehash, verifyPassword, type ScryptParams } from './password-hash.js';
import type { AccountStore, StoredAccount } from './store.js';
import { accountError, type AuthError } from '../errors.js';
import { cleanDisplayName, stringField, type Account, type AccountProvider, type AuthContext, type Credentials } from './types.js';

export interface PasswordOptions {
  store: AccountStore;
  scrypt?: ScryptParams;
  minPasswordLength?: number;
  /** Upper bound so a huge password cannot be used to burn CPU in scrypt. */
  maxPasswordLength?: number;
  newAccountId?: () => string;
  /** Back-off after failed logins, per account and per address (default on; `false` turns it off). */
  lockout?: LoginLockout | false;
  /** Bounds the hashes running at once, logins first (default: 2 at once). */
  hashes?: HashQueue;
}

export interface RegisterRequest {
  username: string;
  password: string;
  displayName?: string;
  data?: Record<string, unknown>;
}

// Usernames are identifiers, not display text: a conservative ASCII set avoids look-alike accounts.
const USERNAME = /^[a-z0-9][a-z0-9_.-]{2,31}$/;

export function usernameKey(username: string): string {
  return username.normalize('NFKC').toLowerCase();
}

/**
 * Username + password accounts. Credentials: `{ method: 'password', username, password }`.
 * Unknown usernames still pay for one scrypt run so response time does not reveal which names exist.
 */
export class PasswordProvider implements AccountProvider {
  readonly method = 'password';
  readonly #store: AccountStore;
  readonly #params: ScryptParams;
  readonly #minLen: number;
  readonly #maxLen: number;
  readonly #newId: () => string;
  readonly #lockout: LoginLockout | undefined;
  readonly #hashes: HashQueue;
  #dummyHash: Promise<string> | undefined;

  constructor(opts: PasswordOptions) {
    this.#store = opts.store;
    this.#params = opts.scrypt ?? DEFAULT_SCRYPT;
    this.#minLen = opts.minPasswordLength ?? 8;
    this.#maxLen = opts.maxPasswordLength ?? 1024;
    this.#newId = opts.newAccountId ?? randomUUID;
    this.#lockout = opts.lockout === false ? undefined : (opts.lockout ?? new LoginLockout());
    this.#hashes = opts.hashes ?? new HashQueue();
  }

  async register(req: RegisterRequest, ctx: AuthContext): Promise<Account> {
    const key = usernameKey(req.username);
    if (!USERNAME.test(key)) {
      throw accountError('auth.invalid_request', `username "${req.username}" is not allowed`, {
        hint: '3-32 characters: letters, digits, "_", "." or "-", starting with a letter or digit',
      });
    }
    this.#checkPasswordShape(req.password, true);
    const displayName = (req.displayName === undefined ? undefined : cleanDisplayName(req.displayName)) ?? req.username;
    const stored: StoredAccount = {
      accountId: this.#newId(),
      usernameKey: key,
      username: req.username,
      displayName,
      passwordHash: await this.#hashes.run('register', () => hashPassword(req.password, this.#params)),
      createdAt: ctx.now,
    };
    if (req.data !== undefined) stored.data = req.data;
    if (!(await this.#store.create(stored))) {
      throw accountError('auth.username_taken', `username "${req.username}" is already registered`);
    }
    return this.#toAccount(stored, undefined);
  }

  async authenticate(credentials: Credentials, ctx: AuthContext): Promise<Account> {
    const username = stringField(credentials, 'username', { max: 64 })!;
    const password = stringField(credentials, 'password', { max: this.#maxLen })!;
    // unknown usernames are tracked like known ones, so a lock does not reveal which names exist
    const keys = { account: usernameKey(username), ...(ctx.remoteAddress !== undefined ? { address: ctx.remoteAddress } : {}) };
    this.#lockout?.check(keys, ctx.now);
    const stored = await this.#store.findByUsername(keys.account);
    const hash = stored?.passwordHash ?? (await this.#dummy());
    const ok = await this.#hashes.run('login', () => verifyPassword(password, hash));
    if (!stored || !ok) {
      this.#lockout?.failed(keys, ctx.now);
      throw this.#bad();
    }
    this.#lockout?.succeeded(keys);
    if (needsRehash(stored.passwordHash, this.#params)) {
      await this.#store.updatePasswordHash(stored.accountId, await this.#hashes.run('login', () => hashPassword(password, this.#params)));
    }
    return this.#toAccount(stored, credentials.ext);
  }

  /** The policy new passwords must meet, for servers and clients that want to say it up front. */
  get policy(): { minLength: number; maxLength: number } {
    return { minLength: this.#minLen, maxLength: this.#maxLen };
  }

  #checkPasswordShape(password: string, registering: boolean): void {
    if (password.length > this.#maxLen) {
      throw accountError('auth.password_too_long', `password is longer than ${this.#maxLen} characters`);
    }
    if (registering && [...password].length < this.#minLen) {
      throw accountError('auth.weak_password', `password must have at least ${this.#minLen} characters`);
    }
  }

  #dummy(): Promise<string> {
    this.#dummyHash ??= hashPassword(randomUUID(), this.#params);
    return this.#dummyHash;
  }

  // One message for "no such user" and "wrong password": the client must not learn which.
  #bad(): AuthError {
    return accountError('auth.bad_credentials', 'wrong username or password');
  }

  #toAccount(s: StoredAccount, ext: unknown): Account {
    const a: Account = { playerId: `password:${s.accountId}`, accountId: s.accountId, method: this.method, displayName: s.displayName };
    if (s.data !== undefined) a.data = s.data;
    if (ext !== undefined) a.ext = ext;
    return a;
  }
}
