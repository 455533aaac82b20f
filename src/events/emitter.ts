/**
 * The shared emitter of iyesmp's drivers (the client objects, ProtocolConnection): named events
 * typed by an event map over Node's EventEmitter (game programmers know its `on`/`off`/`once`),
 * plus `next()` to await one event as a promise. Sans-IO cores do not emit: they queue
 * (events/queue.ts says why), and their drivers re-emit here.
 * The library never emits an event named `error`: Node would throw it when nobody listens, and
 * nothing a server sends may throw out of the library.
 */
import { EventEmitter, on } from 'node:events';
import { errorFactory, type ErrorCodeOf, type IyesmpError } from '../errors.js';
import { setDeadline } from './timeout.js';

/** The codes `next()` rejects with, and their kinds. */
export const EVENTS_ERRORS = {
  aborted: 'conflict',
  timeout: 'io',
} as const;
export type EventsErrorCode = ErrorCodeOf<typeof EVENTS_ERRORS>;
const eventsError = errorFactory(EVENTS_ERRORS);

export type EventMap = Record<string, unknown>;

export class TypedEmitter<M extends object> {
  readonly #ee = new EventEmitter();
  /** Called when a listener throws; the library carries on. */
  #onListenerError: (err: unknown) => void = () => {};

  constructor() {
    this.#ee.setMaxListeners(100);
  }

  protected setListenerErrorHandler(fn: (err: unknown) => void): void {
    this.#onListenerError = fn;
  }

  on<K extends keyof M & string>(name: K, fn: (arg: M[K]) => void): this {
    this.#ee.on(name, fn as (arg: unknown) => void);
    return this;
  }

  once<K extends keyof M & string>(name: K, fn: (arg: M[K]) => void): this {
    this.#ee.once(name, fn as (arg: unknown) => void);
    return this;
  }

  off<K extends keyof M & string>(name: K, fn: (arg: M[K]) => void): this {
    this.#ee.off(name, fn as (arg: unknown) => void);
    return this;
  }

  /**
   * Resolves with the next `name` event that passes `filter`. Rejects with IyesmpError
   * `timeout` after `timeoutMs`, `aborted` when the signal fires, or with the error `failWith`
   * returns once it returns one (checked now and after every event: e.g. the connection closed).
   */
  next<K extends keyof M & string>(
    name: K,
    opts: {
      filter?: (arg: M[K]) => boolean;
      timeoutMs?: number;
      signal?: AbortSignal;
      failWith?: () => IyesmpError | undefined;
      what?: string;
    } = {},
  ): Promise<M[K]> {
    return new Promise<M[K]>((resolve, reject) => {
      const early = opts.failWith?.();
      if (early) return reject(early);
      if (opts.signal?.aborted) return reject(aborted(opts.what));
      let timer: ReturnType<typeof setTimeout> | undefined;
      const cleanup = (): void => {
        this.#ee.off(name, onEvent);
        this.#ee.off('__any', onAny);
        opts.signal?.removeEventListener('abort', onAbort);
        if (timer) clearTimeout(timer);
      };
      const onEvent = (arg: M[K]): void => {
        if (opts.filter && !opts.filter(arg)) return;
        cleanup();
        resolve(arg);
      };
      const onAny = (): void => {
        const e = opts.failWith?.();
        if (e) {
          cleanup();
          reject(e);
        }
      };
      const onAbort = (): void => {
        cleanup();
        reject(aborted(opts.what));
      };
      this.#ee.on(name, onEvent as (arg: unknown) => void);
      this.#ee.on('__any', onAny);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      if (opts.timeoutMs !== undefined) {
        const ms = opts.timeoutMs;
        // an event waiting in a socket after a stall is read first (a settled wait ignores this)
        timer = setDeadline(() => {
          cleanup();
          reject(eventsError('timeout', `${opts.what ?? `waiting for ${name}`}: no answer within ${ms} ms`));
        }, ms);
        timer.unref?.();
      }
    });
  }

  /**
   * The `name` events as an async iterator, for `for await` loops; ends when the signal aborts
   * (the loop then throws an AbortError, as node:events `on` does) or when the loop breaks.
   */
  async *stream<K extends keyof M & string>(name: K, opts: { signal?: AbortSignal } = {}): AsyncGenerator<M[K]> {
    for await (const args of on(this.#ee, name, opts.signal ? { signal: opts.signal } : {})) yield (args as [M[K]])[0];
  }

  /** Emits to the listeners; a listener that throws is reported, never propagated. */
  protected emit<K extends keyof M & string>(name: K, arg: M[K]): void {
    for (const fn of this.#ee.rawListeners(name)) {
      try {
        (fn as (a: unknown) => void)(arg);
      } catch (err) {
        try {
          this.#onListenerError(err);
        } catch {
          // a failing reporter must not break the connection
        }
      }
    }
    this.#ee.emit('__any');
  }
}

function aborted(what: string | undefined): IyesmpError {
  return eventsError('aborted', `${what ?? 'the operation'} was cancelled`);
}
