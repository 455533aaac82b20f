import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { TypedEmitter } from '../events/emitter.js';
import { SECRET_MODE, writeFileAtomic } from '../fs/atomic.js';
import { ioError } from '../pki/fsutil.js';
import type { OutboxBody } from './host-domain.js';
import type { OutboxEvent, OutboxItem, OutboxKind } from './outbox.js';
import type { SessionReport } from './types.js';

/**
 * The results outbox on disk, so a host restarted while every Auth server is down still delivers
 * what its games reported. One file per item (`<sha256(id)>.json`, mode 0600, in a 0700 folder),
 * written atomically and fsynced before the write counts, removed once the item is delivered or
 * dropped. One file per item rather than a journal: a delete is the whole of settling, there is no
 * compaction, and a damaged file costs one item, which is set aside in `corrupt/` and reported.
 * The folder is bounded: at most the outbox's capacity of files (a drop deletes the file), each at
 * most `maxEntryBytes`, together at most `maxTotalBytes`; an item over a bound stays in memory only.
 * An adapter: the outbox's driver hands it the outbox's events (`apply`), and it reports what it
 * could not do as `warning` events; the host goes on either way.
 *
 * The domain's clock is monotonic and starts afresh in every process, so each file also records the
 * wall clock at the time of writing; on restore its times are carried onto the new process's clock.
 */

const FORMAT = 1;
const CORRUPT_DIR = 'corrupt';
const FILE = /^[0-9a-f]{64}\.json$/;
/** temp files of an atomic write cut short by a crash */
const TEMP = /^\..*\.tmp/;

export interface OutboxClock {
  /** the domain's (monotonic) clock, the one the outbox's times are in */
  mono: () => number;
  /** wall clock, ms since the epoch */
  wall: () => number;
}

export interface OutboxStoreOptions {
  dir: string;
  clock: OutboxClock;
  /** largest item written, in bytes; a larger one is kept in memory only (and reported). Default 256 KiB */
  maxEntryBytes?: number;
  /** most bytes the folder holds; an item that would pass it is kept in memory only. Default 64 MiB */
  maxTotalBytes?: number;
}

export type OutboxStoreEvent =
  | { type: 'set_aside'; file: string; movedTo: string; message: string }
  | { type: 'not_saved'; id: string; kind: OutboxKind; message: string }
  | { type: 'remove_failed'; id: string; message: string };

export interface OutboxStoreEvents {
  /** a file set aside as damaged, an item kept in memory only, a file that could not be removed */
  warning: OutboxStoreEvent;
}

interface Saved {
  v: typeof FORMAT;
  id: string;
  kind: OutboxKind;
  body: OutboxBody;
  enqueuedAt: number;
  /** the domain clock and the wall clock when written */
  mono: number;
  wall: number;
}

export class OutboxStore extends TypedEmitter<OutboxStoreEvents> {
  readonly dir: string;
  readonly #clock: OutboxClock;
  readonly #maxEntryBytes: number;
  readonly #maxTotalBytes: number;
  /** ids with a file, and the file's size */
  readonly #onDisk = new Map<string, number>();
  /** ids whose write is queued and not begun: settled before their turn, they are never written */
  readonly #toWrite = new Set<string>();
  #totalBytes = 0;
  /** writes and deletes run one after another, so a delete never overtakes its item's write */
  #chain: Promise<void> = Promise.resolve();

  private constructor(opts: OutboxStoreOptions) {
    super();
    this.dir = opts.dir;
    this.#clock = opts.clock;
    this.#maxEntryBytes = opts.maxEntryBytes ?? 256 * 1024;
    this.#maxTotalBytes = opts.maxTotalBytes ?? 64 * 1024 * 1024;
  }

  /** Opens (creating it, mode 0700) the folder. */
  static async open(opts: OutboxStoreOptions): Promise<OutboxStore> {
    try {
      await fs.mkdir(opts.dir, { recursive: true, mode: 0o700 });
      await fs.chmod(opts.dir, 0o700);
      await fs.readdir(opts.dir);
    } catch (err) {
      throw ioError(err, 'open the results outbox folder', opts.dir);
    }
    return new OutboxStore(opts);
  }

  /**
   * Every item on disk, oldest first, with its times on this process's clock, for the driver to put
   * back into the outbox (their files are there already: `apply` does not write them again).
   * Damaged files are set aside.
   */
  async load(): Promise<OutboxItem<OutboxBody>[]> {
    const items: Array<OutboxItem<OutboxBody> & { file: string }> = [];
    const monoNow = this.#clock.mono();
    const wallNow = this.#clock.wall();
    for (const name of await fs.readdir(this.dir)) {
      const file = path.join(this.dir, name);
      if (TEMP.test(name)) {
        await fs.rm(file, { force: true });
        continue;
      }
      if (!FILE.test(name)) continue;
      let saved: Saved;
      let size: number;
      try {
        const text = await fs.readFile(file, 'utf8');
        size = Buffer.byteLength(text);
        saved = parseSaved(text);
        if (fileName(saved.id) !== name) throw new Error('its name does not match the id it holds');
      } catch (err) {
        await this.#setAside(file, (err as Error).message);
        continue;
      }
      // the saved time `t` happened (wall at save - ...) ago: place it that far back on today's clock
      const shift = monoNow - (wallNow - saved.wall) - saved.mono;
      this.#track(saved.id, size);
      items.push({ id: saved.id, kind: saved.kind, body: rebase(saved.body, shift), enqueuedAt: saved.enqueuedAt + shift, file: name });
    }
    items.sort((a, b) => a.enqueuedAt - b.enqueuedAt || (a.file < b.file ? -1 : 1));
    return items.map(({ file: _file, ...item }) => item);
  }

  /**
   * Keeps the folder in step with the outbox: its driver passes every event the outbox queued, in
   * order, as soon as it takes them. The I/O runs in that order on the store's own time (`idle`).
   */
  apply(e: OutboxEvent<OutboxBody>): void {
    if (e.type === 'added') {
      if (this.#onDisk.has(e.item.id)) return;
      this.#toWrite.add(e.item.id);
      this.#run(() => this.#save(e.item));
      return;
    }
    // delivered or dropped before its write began: the write is skipped and there is no file to delete
    if (!this.#toWrite.delete(e.id) && this.#onDisk.has(e.id)) this.#run(() => this.#remove(e.id));
  }

  /** Resolves when every write and delete asked for so far is done. */
  idle(): Promise<void> {
    return this.#chain;
  }

  #run(op: () => Promise<void>): void {
    this.#chain = this.#chain.then(op);
  }

  async #save(item: OutboxItem<OutboxBody>): Promise<void> {
    if (!this.#toWrite.delete(item.id)) return; // delivered or dropped while it waited
    const saved: Saved = {
      v: FORMAT,
      id: item.id,
      kind: item.kind,
      body: item.body,
      enqueuedAt: item.enqueuedAt,
      mono: this.#clock.mono(),
      wall: this.#clock.wall(),
    };
    try {
      const data = JSON.stringify(saved);
      const size = Buffer.byteLength(data);
      if (size > this.#maxEntryBytes) throw new Error(`it is larger than ${this.#maxEntryBytes} bytes`);
      if (this.#totalBytes + size > this.#maxTotalBytes) throw new Error(`the folder already holds ${this.#totalBytes} of its ${this.#maxTotalBytes} bytes`);
      this.#track(item.id, size);
      await writeFileAtomic(path.join(this.dir, fileName(item.id)), data, { mode: SECRET_MODE });
    } catch (err) {
      this.#untrack(item.id);
      // still delivered from memory while this process runs; only a restart would lose it
      this.emit('warning', {
        type: 'not_saved',
        id: item.id,
        kind: item.kind,
        message: `outbox item ${item.id} not saved to ${this.dir}: ${(err as Error).message}`,
      });
    }
  }

  // not fsynced: a file that comes back after a crash is delivered again, which receivers dedupe by id
  async #remove(id: string): Promise<void> {
    this.#untrack(id);
    try {
      await fs.rm(path.join(this.dir, fileName(id)), { force: true });
    } catch (err) {
      this.emit('warning', { type: 'remove_failed', id, message: `outbox item ${id} delivered but its file stays in ${this.dir}: ${(err as Error).message}` });
    }
  }

  #track(id: string, size: number): void {
    this.#onDisk.set(id, size);
    this.#totalBytes += size;
  }

  #untrack(id: string): void {
    this.#totalBytes -= this.#onDisk.get(id) ?? 0;
    this.#onDisk.delete(id);
  }

  async #setAside(file: string, why: string): Promise<void> {
    const aside = path.join(this.dir, CORRUPT_DIR);
    const movedTo = path.join(aside, `${path.basename(file)}.${this.#clock.wall()}`);
    try {
      await fs.mkdir(aside, { recursive: true, mode: 0o700 });
      await fs.rename(file, movedTo);
    } catch (err) {
      this.emit('warning', {
        type: 'set_aside',
        file,
        movedTo: '',
        message: `outbox file ${file} is damaged (${why}) and could not be moved aside: ${(err as Error).message}`,
      });
      return;
    }
    this.emit('warning', { type: 'set_aside', file, movedTo, message: `outbox file ${file} is damaged (${why}); moved to ${movedTo}` });
  }
}

function fileName(id: string): string {
  return `${createHash('sha256').update(id).digest('hex')}.json`;
}

function parseSaved(text: string): Saved {
  const s = JSON.parse(text) as Partial<Saved> | null;
  if (typeof s !== 'object' || s === null) throw new Error('not a JSON object');
  if (s.v !== FORMAT) throw new Error(`unknown format version ${String(s.v)}`);
  if (typeof s.id !== 'string' || s.id.length === 0) throw new Error('no id');
  if (s.kind !== 'result' && s.kind !== 'telemetry') throw new Error('unknown kind');
  for (const k of ['enqueuedAt', 'mono', 'wall'] as const) if (!Number.isFinite(s[k])) throw new Error(`no ${k}`);
  const b = s.body as { kind?: unknown; report?: Partial<SessionReport> | null; telemetry?: unknown } | null | undefined;
  const ok =
    typeof b === 'object' &&
    b !== null &&
    b.kind === s.kind &&
    (b.kind === 'result'
      ? typeof b.report === 'object' &&
        b.report !== null &&
        typeof b.report.sessionId === 'string' &&
        Number.isFinite(b.report.endedAt) &&
        Number.isFinite(b.report.createdAt)
      : typeof b.telemetry === 'object' && b.telemetry !== null);
  if (!ok) throw new Error('the body does not match its kind');
  return s as Saved;
}

/** A report's times moved onto this process's clock (telemetry holds durations only). */
function rebase(body: OutboxBody, shift: number): OutboxBody {
  if (body.kind !== 'result') return body;
  const r = body.report;
  return {
    kind: 'result',
    report: { ...r, createdAt: r.createdAt + shift, endedAt: r.endedAt + shift, ...(r.beganAt !== undefined ? { beganAt: r.beganAt + shift } : {}) },
  };
}
