import { writeSync } from 'node:fs';
import pino, { type Logger } from 'pino';

/**
 * The one log schema of every server command (`serve auth`, `serve host`, `netcode serve`): one
 * JSON object per line with
 *   time       ISO 8601 UTC, e.g. "2026-12-06T12:49:31.123Z"
 *   level      a name: "trace" | "debug" | "info" | "warn" | "error" | "fatal"
 *   msg        a fixed sentence (numbers and names are fields, so searches match)
 *   component  "auth" | "host" | "netcode" | "broker" (which server wrote it)
 *   event      a stable snake_case name of what happened: the caller's `event` field, else derived
 *              from `msg` (its text before the first ":"), e.g. "auth server listening" ->
 *              "auth_server_listening", "client refused: …" -> "client_refused"
 *   pid, node  the process and the server's name
 * plus ids when the line is about one: sessionId, playerId, host, transport, remote, reason, code.
 * `format = "pretty"` prints the same records as readable lines (colour unless NO_COLOR/--no-color).
 */
export type LogFormat = 'json' | 'pretty';
export type ServerComponent = 'auth' | 'host' | 'netcode' | 'broker';

export interface ServerLoggerOptions {
  level: string;
  format: LogFormat;
  component: ServerComponent;
  /** the server's name (`server.name`, `host.name`) */
  node?: string;
  /** 1 = stdout, 2 = stderr */
  fd: number;
  /** ANSI colours in pretty lines */
  color?: boolean;
}

/** The snake_case event name of a message: its text before the first ":" (dynamic detail follows it by convention). */
export function eventOf(msg: string): string {
  const head = msg.split(':', 1)[0] ?? '';
  const slug = head
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  return slug.slice(0, 64) || 'log';
}

export function makeServerLogger(o: ServerLoggerOptions): Logger {
  const dest = o.format === 'pretty' ? prettyDestination(o.fd, Boolean(o.color)) : pino.destination({ fd: o.fd, sync: true });
  return pino(
    {
      level: o.level,
      base: { pid: process.pid, component: o.component, ...(o.node ? { node: o.node } : {}) },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      hooks: {
        // every line gets an `event`: the caller's own, else one derived from the message
        logMethod(args, method) {
          const [first, second] = args as unknown[];
          if (typeof first === 'string') return method.apply(this, [{ event: eventOf(first) }, ...(args as [string])] as never);
          if (first && typeof first === 'object' && typeof second === 'string' && (first as { event?: unknown }).event === undefined) {
            return method.apply(this, [{ ...(first as object), event: eventOf(second) }, ...(args.slice(1) as [string])] as never);
          }
          return method.apply(this, args as never);
        },
      },
    },
    dest,
  );
}

const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/** A level as a name, whether a line carries a name (this schema) or pino's number (library loggers). */
export function levelName(level: unknown): string {
  if (typeof level === 'string') return level;
  if (typeof level === 'number') return LEVEL_NAMES[level] ?? String(level);
  return 'info';
}

const ANSI = { dim: '\x1b[2m', red: '\x1b[31m', yellow: '\x1b[33m', cyan: '\x1b[36m', magenta: '\x1b[35m', reset: '\x1b[0m' };
const LEVEL_COLOR: Record<string, string> = { trace: ANSI.dim, debug: ANSI.dim, info: ANSI.cyan, warn: ANSI.yellow, error: ANSI.red, fatal: ANSI.magenta };
/** fields every line has, shown in the line's head rather than repeated as key=value */
const HEAD_FIELDS = new Set(['time', 'level', 'msg', 'component', 'event', 'pid', 'node']);

/**
 * One pretty line for one JSON record: `12:49:31.123 INFO  auth  auth server listening clients=7350`.
 * Hand-written because pino-pretty is not a dependency, and this is 30 lines with no worker thread.
 */
export function prettyLine(rec: Record<string, unknown>, color: boolean): string {
  const paint = (code: string | undefined, s: string) => (color && code ? `${code}${s}${ANSI.reset}` : s);
  const time = typeof rec.time === 'string' ? rec.time.slice(11, 23) : new Date().toISOString().slice(11, 23);
  const level = levelName(rec.level);
  const fields = Object.entries(rec)
    .filter(([k, v]) => !HEAD_FIELDS.has(k) && v !== undefined)
    .map(([k, v]) => `${paint(ANSI.dim, `${k}=`)}${typeof v === 'string' ? (/[\s"=]/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`);
  const head = `${paint(ANSI.dim, time)} ${paint(LEVEL_COLOR[level], level.toUpperCase().padEnd(5))} ${paint(ANSI.dim, String(rec.component ?? '').padEnd(7))}`;
  return `${head} ${String(rec.msg ?? '')}${fields.length ? ` ${fields.join(' ')}` : ''}`;
}

/** A pino destination that turns each JSON line into a pretty one, written synchronously (no line lost at exit). */
function prettyDestination(fd: number, color: boolean): { write(s: string): void } {
  return {
    write(chunk: string) {
      for (const line of chunk.split('\n')) {
        if (line === '') continue;
        let text: string;
        try {
          text = prettyLine(JSON.parse(line) as Record<string, unknown>, color);
        } catch {
          text = line;
        }
        writeSync(fd, `${text}\n`);
      }
    },
  };
}
