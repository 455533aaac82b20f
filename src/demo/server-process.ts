import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { IyesmpError } from '../errors.js';
import { TIMED_OUT, withTimeout } from '../events/timeout.js';
import { demoError } from './errors.js';

/** One pino JSON log line of a server (`msg` plus its fields). */
export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

interface Waiter {
  match: (l: LogLine) => boolean;
  resolve: (l: LogLine) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

// Every child still running; killed when this process exits, so an error, a bug or a signal never
// leaves a server behind. (If this process is killed outright, child-guard.ts stops them.)
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
  live.add(child);
  child.once('exit', () => live.delete(child));
}

/**
 * An `iyesmp serve auth|host` child process, as an operator would run it. Its JSON log lines are
 * parsed (to follow the story and to know when it is ready), copied to a log file and kept, so
 * a wait can also match a line that arrived before it began.
 */
export class ServerProcess {
  readonly lines: LogLine[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #waiters = new Set<Waiter>();
  #stderr: string[] = [];
  #exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  #log: WriteStream;

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly logFile: string,
    onLog: (line: LogLine) => void,
  ) {
    this.#log = createWriteStream(logFile, { flags: 'w' });
    this.#log.on('error', () => undefined); // the log file is a convenience; never fail the run over it
    createInterface({ input: child.stdout! }).on('line', (text) => {
      this.#log.write(text + '\n');
      let line: LogLine;
      try {
        const parsed = JSON.parse(text) as Partial<LogLine>;
        line = { ...parsed, level: levelNumber(parsed.level), msg: String(parsed.msg ?? '') };
      } catch {
        line = { level: 30, msg: text };
      }
      this.lines.push(line);
      onLog(line);
      for (const w of this.#waiters) {
        if (w.match(line)) this.#settle(w, () => w.resolve(line));
      }
    });
    createInterface({ input: child.stderr! }).on('line', (text) => {
      this.#log.write(text + '\n');
      this.#stderr.push(text);
      if (this.#stderr.length > 20) this.#stderr.shift();
    });
    this.exited = new Promise((resolve) => {
      // 'close' rather than 'exit': by then stdout and stderr are read to the end (the last words)
      child.once('close', (code, signal) => {
        this.#exit = { code, signal };
        for (const w of this.#waiters) this.#settle(w, () => w.reject(this.#diedError()));
        this.#log.end();
        resolve({ code, signal });
      });
    });
  }

  /** Starts `node <bin> ...args` with the given working folder; lines go to `onLog` as they come. */
  static spawn(o: { name: string; bin: string; args: string[]; cwd: string; logFile: string; onLog: (line: LogLine) => void }): ServerProcess {
    const guard = new URL('./child-guard.js', import.meta.url).href;
    const child = spawn(process.execPath, ['--import', guard, o.bin, ...o.args], {
      cwd: o.cwd,
      // the IPC channel is the child's lifeline to this process (see child-guard.ts)
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    track(child);
    child.once('error', () => undefined); // reported through 'exit' (spawn failures exit too)
    return new ServerProcess(o.name, child, o.logFile, o.onLog);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.#exit === undefined;
  }

  /** The first log line (past or future) that matches; fails if the server exits or time runs out. */
  waitFor(match: (l: LogLine) => boolean, timeoutMs: number, what: string): Promise<LogLine> {
    const seen = this.lines.find(match);
    if (seen) return Promise.resolve(seen);
    if (this.#exit) return Promise.reject(this.#diedError());
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        match,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#settle(w, () =>
            reject(
              demoError('demo_timeout', `the ${this.name} server did not report "${what}" within ${Math.round(timeoutMs / 1000)} s`, {
                hint: `its log is in ${this.logFile}`,
              }),
            ),
          );
        }, timeoutMs),
      };
      this.#waiters.add(w);
    });
  }

  /** Rejects (with the server's last words) when the process exits. */
  failure(): Promise<never> {
    return this.exited.then(() => {
      throw this.#diedError();
    });
  }

  /** SIGTERM (the server drains and exits 0); SIGKILL if it is still there after `timeoutMs`. */
  async stop(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.#exit) return this.#exit;
    this.child.kill('SIGTERM');
    // a host drains on SIGTERM (a game still running could hold it for minutes): halfway, the second
    // SIGTERM an operator would send stops it at once; SIGKILL only if even that is not enough
    const again = setTimeout(() => this.child.kill('SIGTERM'), Math.floor(timeoutMs / 2));
    if ((await withTimeout(this.exited, timeoutMs)) === TIMED_OUT) this.child.kill('SIGKILL');
    clearTimeout(again);
    return this.exited;
  }

  #settle(w: Waiter, fn: () => void): void {
    if (!this.#waiters.delete(w)) return;
    clearTimeout(w.timer);
    fn();
  }

  #diedError(): IyesmpError {
    const e = this.#exit;
    const why = e?.signal ? `was killed by ${e.signal}` : `exited with code ${e?.code ?? '?'}`;
    // The CLI prints its own clear "error: ..." and "hint: ..." lines on stderr: pass them on.
    const said = this.#stderr.map((l) => l.trim());
    const error = said
      .filter((l) => l.startsWith('error:'))
      .pop()
      ?.slice(6)
      .trim();
    const hint = said
      .filter((l) => l.startsWith('hint:'))
      .pop()
      ?.slice(5)
      .trim();
    return demoError('demo_server_exited', `the ${this.name} server ${why}${error ? `: ${error}` : ''}`, {
      hint: `${hint ? `${hint}; ` : ''}its log is in ${this.logFile}`,
    });
  }
}

const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };

/** The servers log levels as names (docs/operations.md); the demo compares them as pino's numbers. */
function levelNumber(level: unknown): number {
  if (typeof level === 'number') return level;
  return (typeof level === 'string' ? LEVELS[level] : undefined) ?? 30;
}
