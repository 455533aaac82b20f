import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { SECRET_MODE, writeFileAtomic } from '../fs/atomic.js';
import { resultsError } from './errors.js';

/**
 * A results sink a studio points at its own backend: every result is POSTed as JSON to a URL,
 * signed, retried with exponential backoff until the receiver answers 2xx, and queued on disk
 * meanwhile, so neither a receiver outage nor a restart of this server loses one. Besides the
 * session store, not instead of it.
 *
 * Delivery is at least once; each body carries an `id` (the session id) and the same id is sent on
 * every attempt, so a receiver that drops ids it has already stored sees each result exactly once.
 *
 * Signature: `X-Iyesmp-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, over
 * the exact bytes of the body; a receiver recomputes it and refuses old timestamps (replays).
 *
 * The queue is one file per result (`<sha256(id)>.json`, mode 0600, in a 0700 folder), written
 * atomically: a delete settles it. A result that still fails after `maxAttempts`, or arrives when
 * `maxPending` are waiting, is moved to `failed/` and reported, never silently dropped.
 */
export interface WebhookOptions {
  url: string;
  secret: Uint8Array;
  queueDir: string;
  timeoutMs?: number;
  maxAttempts?: number;
  maxPending?: number;
  /** first retry delay, doubled per attempt up to `maxDelayMs` (with jitter) */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** injected for tests */
  fetch?: typeof fetch;
  now?: () => number;
  random?: () => number;
  log?: WebhookLog;
}

export interface WebhookLog {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}

export interface WebhookStats {
  pending: number;
  delivered: number;
  failedAttempts: number;
  setAside: number;
}

interface Item {
  v: 1;
  id: string;
  /** the exact body, signed and sent on every attempt */
  body: string;
  attempts: number;
  firstAt: number;
  nextAt: number;
  lastError?: string;
}

export const SIGNATURE_HEADER = 'x-iyesmp-signature';
const FAILED_DIR = 'failed';
const FILE = /^[0-9a-f]{64}\.json$/;
const MIN_SECRET_BYTES = 32;

/** The signature header value for a body at unix time `t` (seconds). */
export function signWebhook(secret: Uint8Array, t: number, body: string): string {
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

/** Checks a signature header as a receiver does: right HMAC over "<t>.<body>", and `t` within `toleranceSeconds` of `nowSeconds`. */
export function verifyWebhook(secret: Uint8Array, header: string | undefined, body: string, nowSeconds: number, toleranceSeconds = 300): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (!m) return false;
  const t = Number(m[1]);
  if (Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const want = Buffer.from(signWebhook(secret, t, body).slice(-64), 'hex');
  return timingSafeEqual(want, Buffer.from(m[2]!, 'hex'));
}

/** Reads a webhook secret file: its text, trimmed, at least 32 bytes. */
export async function readWebhookSecret(file: string, key = 'results.webhook.secret_file'): Promise<Uint8Array> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw resultsError('webhook_secret', `${key}: cannot read ${file} (${code === 'ENOENT' ? 'no such file' : (code ?? 'error')})`, {
      details: { key },
      hint: 'write a random secret of at least 32 bytes to it (e.g. `openssl rand -hex 32 > FILE; chmod 600 FILE`) and give the same one to your receiver',
    });
  }
  const secret = Buffer.from(text.trim(), 'utf8');
  if (secret.length < MIN_SECRET_BYTES) {
    throw resultsError('webhook_secret', `${key}: ${file} holds ${secret.length} bytes; a webhook secret needs at least ${MIN_SECRET_BYTES}`, {
      details: { key },
      hint: '`openssl rand -hex 32 > FILE` makes one',
    });
  }
  return secret;
}

export class WebhookSink {
  readonly #o: Required<Omit<WebhookOptions, 'log'>> & { log: WebhookLog | undefined };
  readonly #items = new Map<string, Item>();
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #abort: AbortController | undefined;
  #closed = false;
  #delivered = 0;
  #failedAttempts = 0;
  #setAside = 0;
  /** ids this process delivered: a second enqueue of one is ignored (bounded, oldest forgotten) */
  readonly #done = new Set<string>();

  private constructor(o: WebhookOptions) {
    this.#o = {
      timeoutMs: 10_000,
      maxAttempts: 50,
      maxPending: 100_000,
      initialDelayMs: 1000,
      maxDelayMs: 300_000,
      fetch: globalThis.fetch,
      now: Date.now,
      random: Math.random,
      ...o,
      log: o.log,
    };
  }

  /** Opens the queue folder (creating it, mode 0700) and schedules what an earlier run left in it. */
  static async open(o: WebhookOptions): Promise<WebhookSink> {
    const s = new WebhookSink(o);
    try {
      await fs.mkdir(path.join(o.queueDir, FAILED_DIR), { recursive: true, mode: 0o700 });
      const names = (await fs.readdir(o.queueDir)).filter((n) => FILE.test(n));
      const now = s.#o.now();
      for (const name of names) {
        const file = path.join(o.queueDir, name);
        try {
          const item = JSON.parse(await fs.readFile(file, 'utf8')) as Item;
          if (item.v !== 1 || typeof item.id !== 'string' || typeof item.body !== 'string') throw new Error('not a queued result');
          s.#items.set(item.id, { ...item, nextAt: now });
        } catch (err) {
          await fs.rename(file, path.join(o.queueDir, FAILED_DIR, name)).catch(() => undefined);
          s.#o.log?.error({ event: 'webhook_set_aside', file, message: (err as Error).message }, 'webhook: a damaged queue file was set aside');
        }
      }
    } catch (err) {
      throw resultsError('webhook_queue', `results.webhook.queue_dir ${o.queueDir}: ${(err as Error).message}`, { cause: err });
    }
    if (s.#items.size > 0) s.#o.log?.info({ event: 'webhook_restored', pending: s.#items.size }, 'webhook: results restored from the queue');
    s.#schedule();
    return s;
  }

  get stats(): WebhookStats {
    return { pending: this.#items.size, delivered: this.#delivered, failedAttempts: this.#failedAttempts, setAside: this.#setAside };
  }

  /**
   * Queues one result for delivery: written to disk before this resolves. `id` names it for the
   * receiver (duplicates are dropped by it); the same id queued twice is sent once.
   */
  async enqueue(id: string, type: string, data: unknown): Promise<void> {
    if (this.#closed || this.#items.has(id) || this.#done.has(id)) return;
    const now = this.#o.now();
    const body = JSON.stringify({ id, type, createdAt: new Date(now).toISOString(), data });
    const item: Item = { v: 1, id, body, attempts: 0, firstAt: now, nextAt: now };
    if (this.#items.size >= this.#o.maxPending) {
      await this.#setAsideItem(item, `${this.#o.maxPending} results already wait for delivery`);
      return;
    }
    // on disk before it can be attempted: a delivery's delete never races this write
    await this.#save(item);
    if (this.#closed) return;
    this.#items.set(id, item);
    this.#schedule();
  }

  /** Stops delivering (an attempt under way is cut short); what is queued stays on disk for the next run. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#abort?.abort();
    await this.#inFlight?.catch(() => undefined);
  }

  /** Resolves once nothing is in flight (tests, shutdown reports). */
  async idle(): Promise<void> {
    while (this.#inFlight) await this.#inFlight.catch(() => undefined);
  }

  #fileOf(id: string): string {
    return path.join(this.#o.queueDir, `${createHash('sha256').update(id).digest('hex')}.json`);
  }

  async #save(item: Item): Promise<void> {
    await writeFileAtomic(this.#fileOf(item.id), JSON.stringify(item), { mode: SECRET_MODE });
  }

  async #setAsideItem(item: Item, why: string): Promise<void> {
    this.#items.delete(item.id);
    const to = path.join(this.#o.queueDir, FAILED_DIR, path.basename(this.#fileOf(item.id)));
    await writeFileAtomic(to, JSON.stringify({ ...item, lastError: why }), { mode: SECRET_MODE });
    await fs.rm(this.#fileOf(item.id), { force: true });
    this.#setAside++;
    this.#o.log?.error({ event: 'webhook_set_aside', id: item.id, attempts: item.attempts, file: to, reason: why }, 'webhook: result set aside, not delivered');
  }

  /** One attempt at a time, to the item due first; the timer sleeps until the next is due. */
  #schedule(): void {
    if (this.#closed || this.#inFlight) return;
    clearTimeout(this.#timer);
    let next: Item | undefined;
    for (const it of this.#items.values()) if (!next || it.nextAt < next.nextAt) next = it;
    if (!next) return;
    const item = next;
    const wait = Math.max(0, item.nextAt - this.#o.now());
    this.#timer = setTimeout(() => {
      this.#inFlight = this.#attempt(item).finally(() => {
        this.#inFlight = undefined;
        this.#schedule();
      });
    }, wait);
    this.#timer.unref?.();
  }

  async #attempt(item: Item): Promise<void> {
    if (!this.#items.has(item.id)) return;
    const t = Math.floor(this.#o.now() / 1000);
    item.attempts++;
    let problem: string | undefined;
    let retryAfterMs: number | undefined;
    this.#abort = new AbortController();
    const timer = setTimeout(() => this.#abort?.abort(), this.#o.timeoutMs);
    try {
      const res = await this.#o.fetch(this.#o.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'iyesmp-results-webhook/1',
          'x-iyesmp-id': item.id,
          'x-iyesmp-attempt': String(item.attempts),
          [SIGNATURE_HEADER]: signWebhook(this.#o.secret, t, item.body),
        },
        body: item.body,
        signal: this.#abort.signal,
        redirect: 'manual',
      });
      // the answer's body is not used: read it away (bounded by the timeout) so the connection is reused
      await res.arrayBuffer().catch(() => undefined);
      if (res.status >= 200 && res.status < 300) {
        this.#items.delete(item.id);
        this.#done.add(item.id);
        if (this.#done.size > 10_000) this.#done.delete(this.#done.values().next().value!);
        await fs.rm(this.#fileOf(item.id), { force: true });
        this.#delivered++;
        this.#o.log?.info({ event: 'webhook_delivered', id: item.id, attempts: item.attempts, status: res.status }, 'webhook: result delivered');
        return;
      }
      problem = `HTTP ${res.status}`;
      const ra = Number(res.headers.get('retry-after'));
      if ((res.status === 429 || res.status === 503) && Number.isFinite(ra) && ra > 0) retryAfterMs = ra * 1000;
    } catch (err) {
      problem = this.#closed ? 'shutting down' : (err as Error).name === 'AbortError' ? `no answer within ${this.#o.timeoutMs} ms` : (err as Error).message;
    } finally {
      clearTimeout(timer);
      this.#abort = undefined;
    }
    this.#failedAttempts++;
    item.lastError = problem;
    if (item.attempts >= this.#o.maxAttempts) return this.#setAsideItem(item, `${item.attempts} attempts failed, last: ${problem}`);
    const backoff = Math.min(this.#o.maxDelayMs, this.#o.initialDelayMs * 2 ** (item.attempts - 1)) * (0.5 + this.#o.random() / 2);
    item.nextAt = this.#o.now() + Math.min(this.#o.maxDelayMs, Math.max(backoff, retryAfterMs ?? 0));
    await this.#save(item).catch(() => undefined);
    this.#o.log?.warn(
      { event: 'webhook_retry', id: item.id, attempts: item.attempts, reason: problem, retryInMs: Math.round(item.nextAt - this.#o.now()) },
      'webhook: delivery failed; will retry',
    );
  }
}
