import { randomBytes } from 'node:crypto';
import { cleanDisplayName, stringField, type Account, type AccountProvider, type AuthContext, type Credentials } from './types.js';

export interface GuestOptions {
  /** Random source for player ids (tests inject a fixed one). */
  randomId?: () => string;
  /** display name of a guest who sends none: this prefix and 4 characters of its id (default "Guest-") */
  namePrefix?: string;
}

/**
 * No account at all: the player picks a display name and gets a fresh player id each login.
 * Credentials: `{ method: 'guest', displayName?: string }`.
 */
export class GuestProvider implements AccountProvider {
  readonly method = 'guest';
  readonly #randomId: () => string;
  readonly #namePrefix: string;

  constructor(opts: GuestOptions = {}) {
    this.#randomId = opts.randomId ?? (() => randomBytes(12).toString('base64url'));
    this.#namePrefix = opts.namePrefix ?? 'Guest-';
  }

  async authenticate(credentials: Credentials, _ctx: AuthContext): Promise<Account> {
    const id = this.#randomId();
    const raw = stringField(credentials, 'displayName', { optional: true, max: 256 });
    const displayName = (raw === undefined ? undefined : cleanDisplayName(raw)) ?? `${this.#namePrefix}${id.slice(0, 4)}`;
    const account: Account = { playerId: `guest:${id}`, accountId: id, method: this.method, displayName };
    if (credentials.ext !== undefined) account.ext = credentials.ext;
    return account;
  }
}
