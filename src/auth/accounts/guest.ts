import { randomFillSync } from 'node:crypto';
import { cleanDisplayName, stringField, type Account, type AccountProvider, type AuthContext, type Credentials } from './types.js';

export interface GuestOptions {
  /** Random source for player ids (tests inject a fixed one). */
  randomId?: () => string;
  /** display name of a guest who sends none: this prefix and 4 characters of its id (default "Guest-") */
  namePrefix?: string;
}

const ID_BYTES = 12;
/** Random bytes for guest ids, filled for 256 ids at once: a randomBytes call per login cost 25x a slice of this. */
const idPool = Buffer.alloc(ID_BYTES * 256);
let idOffset = idPool.length;

/** 12 fresh random bytes (each slice of the pool is used once), base64url: 96 bits, as before. */
function pooledRandomId(): string {
  if (idOffset === idPool.length) {
    randomFillSync(idPool);
    idOffset = 0;
  }
  idOffset += ID_BYTES;
  return idPool.toString('base64url', idOffset - ID_BYTES, idOffset);
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
    this.#randomId = opts.randomId ?? pooledRandomId;
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
