/**
 * Where username/password accounts live. The in-memory store here is for tests and single-node
 * demos; the persistence issue replaces it with SQL behind the same interface, which is why every
 * method is async.
 */
export interface StoredAccount {
  accountId: string;
  /** Case-folded username used for uniqueness and lookup. */
  usernameKey: string;
  /** Username as the player typed it at registration. */
  username: string;
  displayName: string;
  /** Self-describing hash string (algorithm, parameters, salt, hash); see password-hash.ts. */
  passwordHash: string;
  createdAt: number;
  data?: Record<string, unknown>;
}

export interface AccountStore {
  /** Insert; resolves false (and stores nothing) if the username key is taken. */
  create(account: StoredAccount): Promise<boolean>;
  findByUsername(usernameKey: string): Promise<StoredAccount | undefined>;
  findById(accountId: string): Promise<StoredAccount | undefined>;
  /** Replace the password hash (used to upgrade parameters after a successful login). */
  updatePasswordHash(accountId: string, passwordHash: string): Promise<void>;
}

export class MemoryAccountStore implements AccountStore {
  readonly #byId = new Map<string, StoredAccount>();
  readonly #idByName = new Map<string, string>();

  async create(account: StoredAccount): Promise<boolean> {
    if (this.#idByName.has(account.usernameKey) || this.#byId.has(account.accountId)) return false;
    this.#byId.set(account.accountId, { ...account });
    this.#idByName.set(account.usernameKey, account.accountId);
    return true;
  }

  async findByUsername(usernameKey: string): Promise<StoredAccount | undefined> {
    const id = this.#idByName.get(usernameKey);
    return id === undefined ? undefined : this.#copy(id);
  }

  async findById(accountId: string): Promise<StoredAccount | undefined> {
    return this.#copy(accountId);
  }

  async updatePasswordHash(accountId: string, passwordHash: string): Promise<void> {
    const a = this.#byId.get(accountId);
    if (a) a.passwordHash = passwordHash;
  }

  #copy(id: string): StoredAccount | undefined {
    const a = this.#byId.get(id);
    return a === undefined ? undefined : { ...a };
  }
}
