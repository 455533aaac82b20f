import { z } from 'zod';
import { defineFamily } from '../family.js';
import { Count, DurationMs, Empty, Ext, Id, Name, Text, TimeMs } from '../schemas/common.js';

/**
 * operator ↔ server: `iyesmp admin` and `iyesmp top` dial an Auth server's or a Host server's admin
 * port with an Admin certificate. Every request comes from the operator; the server answers and logs
 * each action in its audit log. A request the server kind does not serve (hosts have no players or
 * bans) is refused with `not_allowed`.
 */

const Limit = z.int().min(1).max(1000).optional();
/** true when rows were left out so the answer fits one frame (see fitAdminRows); absent otherwise */
const Truncated = z.boolean().optional();

/**
 * Both ends of an admin connection use these: a list of 1,000 players or results is more than the
 * control stream's default 64 KiB frame. Only Admin certificates reach an admin port, so the larger
 * frame is no lever for strangers.
 */
export const ADMIN_PROTOCOL_LIMITS = { maxFrameBytes: 1024 * 1024 } as const;

/**
 * The rows of a list answer that fit one admin frame. 1,000 rows of long unicode reasons or names
 * are several MiB, and a response over the frame limit is not sent at all (the operator would get
 * `internal` on every `admin audit --limit 1000` from then on). Each row is measured as UTF-8 JSON,
 * which is never smaller than its MsgPack; `keep: 'last'` keeps the newest rows of an oldest-first list.
 */
const utf8 = new TextEncoder();

export function fitAdminRows<T>(
  rows: T[],
  keep: 'first' | 'last',
  budget = ADMIN_PROTOCOL_LIMITS.maxFrameBytes - 16 * 1024,
): { rows: T[]; truncated: boolean } {
  let used = 0;
  let n = 0;
  for (; n < rows.length; n++) {
    const row = rows[keep === 'first' ? n : rows.length - 1 - n];
    used += utf8.encode(JSON.stringify(row) ?? '').byteLength + 8;
    if (used > budget) break;
  }
  if (n === rows.length) return { rows, truncated: false };
  return { rows: keep === 'first' ? rows.slice(0, n) : rows.slice(rows.length - n), truncated: true };
}

export const AdminHostInfo = z.object({
  name: Name,
  region: Name,
  address: z.string().max(300),
  state: z.enum(['alive', 'dead']),
  draining: z.boolean(),
  /** sessions counted against capacity, and the capacity */
  load: Count,
  capacity: Count,
  active: Count,
  players: Count.optional(),
  version: z.string().max(64),
  lastSeen: TimeMs,
  transports: z.array(Name).max(8),
});

export const AdminQueue = z.object({ mode: Name, matchSize: Count, tickets: Count, players: Count });

export const AdminRefusal = z.object({ at: TimeMs, endpoint: Name, reason: Name, message: Text, remote: z.string().max(300).optional() });

export const AdminStatus = z.object({
  kind: z.enum(['auth', 'host']),
  node: Name,
  version: z.string().max(64),
  time: TimeMs,
  startedAt: TimeMs,
  /** Auth: logged-in players; Host: connected players */
  players: Count,
  /** Auth: live sessions (set up or running); Host: sessions on this host */
  sessions: Count,
  hosts: z.array(AdminHostInfo).max(1000),
  queues: z.array(AdminQueue).max(1000),
  handoffs: z.object({
    total: Count,
    failed: Count,
    /** over the last minute */
    perSecond: z.number().min(0),
    /** claim to hand-off, over the last minute; null when there was none */
    p50Ms: z.number().min(0).nullable(),
    p95Ms: z.number().min(0).nullable(),
    pending: Count,
  }),
  /** the most recent refused connections and logins, newest last */
  refusals: z.array(AdminRefusal).max(100),
  /** Host only: draining since, and the deadline */
  drain: z.object({ since: TimeMs, deadline: TimeMs, reason: Text }).optional(),
  ext: Ext,
});

export const AdminPlayer = z.object({
  playerId: Id,
  displayName: Name,
  address: z.string().max(300),
  lobbyId: Id.optional(),
  queued: Name.optional(),
  sessionId: Id.optional(),
});

export const AdminSession = z.object({
  sessionId: Id,
  state: Name,
  host: Name,
  transport: Name,
  mode: Name.optional(),
  players: z.array(Id).max(1024),
  createdAt: TimeMs,
});

export const AdminResult = z.object({
  sessionId: Id,
  host: Name,
  mode: Name.optional(),
  endedAt: TimeMs,
  reason: Text,
  players: z.array(Id).max(1024),
  /** as the host reported them (players' outcomes, ranks, scores) */
  results: z.unknown(),
});

export const AdminAuditEntry = z.object({
  id: Count,
  at: TimeMs,
  actor: z.object({ name: Name, fingerprint: z.string().max(128) }),
  action: Name,
  target: z.string().max(256).nullable(),
  details: z.record(z.string().max(64), z.unknown()),
  outcome: z.enum(['ok', 'refused', 'failed']),
  error: Text.optional(),
});

export const adminFamily = defineFamily({
  name: 'iyesmp-admin/1',
  version: { major: 1, minor: 0 },
  roles: { dialer: 'admin', listener: 'server' },
  hello: {
    dialer: z.object({ tool: Name.optional(), ext: Ext }),
    listener: z.object({ kind: z.enum(['auth', 'host']), node: Name, time: TimeMs, ext: Ext }),
  },
  requests: {
    'server.status': { from: 'dialer', request: Empty, response: AdminStatus },
    'players.list': {
      from: 'dialer',
      request: z.object({ limit: Limit, ext: Ext }),
      response: z.object({ players: z.array(AdminPlayer).max(1000), total: Count, truncated: Truncated, ext: Ext }),
    },
    'sessions.list': {
      from: 'dialer',
      request: z.object({ limit: Limit, ext: Ext }),
      response: z.object({ sessions: z.array(AdminSession).max(1000), total: Count, truncated: Truncated, ext: Ext }),
    },
    'hosts.list': { from: 'dialer', request: Empty, response: z.object({ hosts: z.array(AdminHostInfo).max(1000), ext: Ext }) },
    /** Ends the player's connection to the Auth server (its game on a host goes on). */
    'player.kick': {
      from: 'dialer',
      request: z.object({ playerId: Id, reason: Text.optional(), ext: Ext }),
      response: z.object({ kicked: z.boolean(), ext: Ext }),
    },
    /** Kicks the player and refuses its logins with the reason until `until` (absent: permanently). */
    'player.ban': {
      from: 'dialer',
      request: z.object({ playerId: Id, reason: z.string().min(1).max(1024), until: TimeMs.optional(), ext: Ext }),
      response: z.object({ playerId: Id, reason: Text, expiresAt: TimeMs.nullable(), kicked: z.boolean(), ext: Ext }),
    },
    'player.unban': {
      from: 'dialer',
      request: z.object({ playerId: Id, ext: Ext }),
      response: z.object({ lifted: Count, ext: Ext }),
    },
    /**
     * No new sessions on the host; running ones finish up to the deadline, results are delivered,
     * then the host stops. On an Auth server `host` names a registered host; on a Host it may be
     * omitted (or must be that host's own name).
     */
    'host.drain': {
      from: 'dialer',
      request: z.object({ host: Name.optional(), reason: Text.optional(), deadlineMs: DurationMs.optional(), ext: Ext }),
      response: z.object({ host: Name, sessions: Count, deadline: TimeMs.optional(), ext: Ext }),
    },
    'results.list': {
      from: 'dialer',
      request: z.object({ limit: Limit, since: TimeMs.optional(), ext: Ext }),
      response: z.object({ results: z.array(AdminResult).max(1000), truncated: Truncated, ext: Ext }),
    },
    'audit.list': {
      from: 'dialer',
      request: z.object({ limit: Limit, since: TimeMs.optional(), action: Name.optional(), ext: Ext }),
      response: z.object({ entries: z.array(AdminAuditEntry).max(1000), truncated: Truncated, ext: Ext }),
    },
  },
  events: {},
});

export type AdminFamily = typeof adminFamily;
