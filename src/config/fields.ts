import path from 'node:path';
import { z } from 'zod';
import { holdsKeyMaterial } from './redact.js';
import { parseEndpoint } from '../net/address.js';

/**
 * Small schema builders shared by the Auth and Host configs. Every message reads as
 * "expected ..." so the loader can print `key: expected X, got Y (line N)`.
 */
export const posInt = (what = 'a positive integer') =>
  z
    .number({ error: `expected ${what}` })
    .int({ error: `expected ${what}` })
    .positive({ error: `expected ${what}` });

export const port = () =>
  z
    .number({ error: 'expected a port number (1-65535)' })
    .int({ error: 'expected a port number (1-65535)' })
    .min(1, { error: 'expected a port number (1-65535)' })
    .max(65535, { error: 'expected a port number (1-65535)' });

export const nonEmpty = (what = 'a non-empty string') => z.string({ error: `expected ${what}` }).min(1, { error: `expected ${what}` });

export const bool = () => z.boolean({ error: 'expected true or false' });

const HOSTNAME = /^(?=.{1,253}$)[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9a-fA-F:.]*:[0-9a-fA-F:.]*$/;

export function isHostOrIp(s: string): boolean {
  return HOSTNAME.test(s) || IPV4.test(s) || IPV6.test(s);
}

/** A bind address or public address: hostname, IPv4 or IPv6 (no port). */
export const address = () => nonEmpty('an IP address or host name').refine(isHostOrIp, { error: 'expected an IP address or host name' });

/** `host:port` or `[v6]:port`, as hosts dial Auth servers. */
export const hostPort = () =>
  nonEmpty('"host:port"').refine(
    (s) => {
      const r = parseEndpoint(s);
      return r.ok && (s.startsWith('[') ? /^[0-9a-fA-F:.]+$/.test(r.value.host) : isHostOrIp(r.value.host));
    },
    { error: 'expected "host:port" (IPv6 as "[::1]:7351")' },
  );

/**
 * A file path. Relative paths are relative to the config file's folder; when the loader knows that
 * folder it resolves them to absolute paths so servers need not care where they were started.
 */
/**
 * Limits and deadlines of a QUIC endpoint's connections (the server's ServerLimits); an unset key
 * keeps the server's default.
 */
export const connectionLimits = () => ({
  max_connections: posInt().optional(),
  /** connections not logged in (not admitted to a seat) at once; the rest is kept for those that are */
  max_unauthenticated: posInt().optional(),
  max_unauthenticated_per_address: posInt().optional(),
  max_unauthenticated_per_cert: posInt().optional(),
  first_stream_timeout_seconds: posInt().optional(),
  hello_timeout_seconds: posInt().optional(),
});

export const filePath = (baseDir: string | undefined) => {
  const s = nonEmpty('a file path').refine((p) => !holdsKeyMaterial(p), {
    error: "expected a file path, not the key or certificate itself: write it to a file and give that file's path",
  });
  return baseDir === undefined ? s : s.transform((p) => path.resolve(baseDir, p));
};

export const logLevel = () =>
  z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], {
    error: 'expected one of "trace", "debug", "info", "warn", "error", "fatal", "silent"',
  });

export const logging = () =>
  z
    .strictObject({
      level: logLevel().default('info'),
      format: z.enum(['json', 'pretty'], { error: 'expected "json" or "pretty"' }).default('json'),
    })
    .prefault({});

/** `host:port` to bind; port 0 picks a free one (tests, the demo). */
export const listenAddress = () =>
  nonEmpty('"host:port"').refine(
    (s) => {
      const r = parseEndpoint(s.replace(/:0$/, ':1'));
      return r.ok && (s.startsWith('[') ? /^[0-9a-fA-F:.]+$/.test(r.value.host) : isHostOrIp(r.value.host));
    },
    { error: 'expected "host:port" to listen on (IPv6 as "[::1]:9464")' },
  );

/**
 * `[admin_http]`: the server's HTTP listener for /metrics, /healthz and /readyz. On by default,
 * on loopback: exposing it further is the operator's choice (a Prometheus on another machine).
 */
export const adminHttp = (defPort: number) =>
  z
    .strictObject({
      enabled: bool().default(true),
      listen: listenAddress().default(`127.0.0.1:${defPort}`),
    })
    .prefault({});

/** netcode protocol id: a 64-bit number written as hex text (TOML integers cannot hold every u64). */
export const protocolId = () =>
  z.string({ error: 'expected a 64-bit hex string such as "0x1122334455667788"' }).regex(/^0x[0-9a-fA-F]{1,16}$/, {
    error: 'expected a 64-bit hex string such as "0x1122334455667788"',
  });

/** A dotted numeric game build version ("1.4", "2.0.1"), compared part by part. */
export const gameVersion = () =>
  nonEmpty('a version such as "1.4.0"').regex(/^\d{1,9}(\.\d{1,9}){0,3}$/, { error: 'expected a version such as "1.4.0" (numbers and dots)' });
