import { accountError } from '../errors.js';

/**
 * Bounds how many password hashes run at once. Each scrypt run takes 64 MiB and a libuv pool
 * thread (4 by default, shared with file and DNS work); unbounded, a flood of registrations fills
 * the pool and every login waits behind it. Two lanes: logins of existing players go first, so
 * registrations can only ever delay them by the hashes already running.
 */
export type HashLane = 'login' | 'register';

export interface HashQueueOptions {
  /** Hashes running at once (default 2: half the default libuv pool). */
  maxConcurrent?: number;
  /** Waiting per lane beyond which a request is refused with `auth.busy` (default login 64, register 16). */
  maxQueued?: Partial<Record<HashLane, number>>;
}

export class HashQueue {
  readonly #max: number;
  readonly #maxQueued: Record<HashLane, number>;
  readonly #waiting: Record<HashLane, Array<() => void>> = { login: [], register: [] };
  #running = 0;

  constructor(opts: HashQueueOptions = {}) {
    this.#max = Math.max(1, opts.maxConcurrent ?? 2);
    this.#maxQueued = { login: opts.maxQueued?.login ?? 64, register: opts.maxQueued?.register ?? 16 };
  }

  /** Runs `hash` when a slot is free (logins before registrations), or refuses at once with `auth.busy`. */
  async run<T>(lane: HashLane, hash: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#max) {
      if (this.#waiting[lane].length >= this.#maxQueued[lane]) {
        throw accountError('auth.busy', 'the login service is busy; try again in a few seconds');
      }
      // release() hands its slot straight over, so #running already counts this call when it wakes
      await new Promise<void>((resolve) => this.#waiting[lane].push(resolve));
    } else {
      this.#running++;
    }
    try {
      return await hash();
    } finally {
      this.#release();
    }
  }

  /** Hashes running and waiting per lane (for metrics and tests). */
  get load(): { running: number; login: number; register: number } {
    return { running: this.#running, login: this.#waiting.login.length, register: this.#waiting.register.length };
  }

  #release(): void {
    const next = this.#waiting.login.shift() ?? this.#waiting.register.shift();
    if (next) next();
    else this.#running--;
  }
}
