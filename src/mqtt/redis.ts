import { createRequire } from 'node:module';
import type { GrantCommand } from './acl.js';
import type { EmbeddedBrokerOptions } from './broker.js';
import { commandsOfStored, type GrantStore, type StoredSeat } from './grant-store.js';

/**
 * What several embedded broker nodes share to act as one broker: messages through Redis pub/sub
 * (mqemitter-redis) and retained messages and subscriptions in Redis (aedes-persistence-redis),
 * under a key and channel prefix, so a player connected to node A plays against one on node B.
 * Grants travel as messages on the control topic, so every node applies them; they are also kept
 * in Redis (`grants`), so a node that starts later loads those in force.
 */
export interface RedisSharedState {
  mq: NonNullable<EmbeddedBrokerOptions['mq']>;
  persistence: NonNullable<EmbeddedBrokerOptions['persistence']>;
  grants: GrantStore;
}

/** How long a session's recorded grants outlive its last grant when no `clear` comes (a host that died): 7 days. */
export const GRANT_TTL_SECONDS = 7 * 24 * 3600;

interface RedisLike {
  multi(): {
    hset(k: string, f: string, v: string): unknown;
    hdel(k: string, f: string): unknown;
    expire(k: string, s: number): unknown;
    del(k: string): unknown;
    eval(script: string, keys: number, ...args: (string | number)[]): unknown;
    exec(): Promise<unknown>;
  };
  scan(cursor: string, match: 'MATCH', pattern: string, count: 'COUNT', n: number): Promise<[string, string[]]>;
  hgetall(k: string): Promise<Record<string, string>>;
  quit(): Promise<unknown>;
  disconnect(): void;
}

/**
 * Grants in Redis: one hash per session (`<prefix>iyesmp:grants:<sessionId>`, a field per seat: its
 * grant or `kicked`), deleted by the session's `clear` and expiring `ttlSeconds` after its last grant.
 */
export function redisGrantStore(url: string, prefix: string, ttlSeconds = GRANT_TTL_SECONDS): GrantStore {
  const require = createRequire(import.meta.url);
  const Redis = require('ioredis') as new (opts: object) => RedisLike;
  const r = new Redis({ ...redisOptionsOf(url), lazyConnect: false, maxRetriesPerRequest: 3 });
  const base = `${prefix}iyesmp:grants:`;
  const keyOf = (sessionId: string) => base + sessionId;
  const KICKED = JSON.stringify({ kicked: true } satisfies StoredSeat);
  // a grant never replaces a kick (as on the nodes: a late grant does not bring a kicked seat back)
  const GRANT = `if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[3] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) redis.call('EXPIRE', KEYS[1], ARGV[4]) return 1`;
  const put = (m: ReturnType<RedisLike['multi']>, c: GrantCommand & { sessionId: string; playerId: string }, v: StoredSeat) => {
    if ('grant' in v) m.eval(GRANT, 1, keyOf(c.sessionId), c.playerId, JSON.stringify(v), KICKED, ttlSeconds);
    else {
      m.hset(keyOf(c.sessionId), c.playerId, KICKED);
      m.expire(keyOf(c.sessionId), ttlSeconds);
    }
  };
  return {
    async save(cmds) {
      const m = r.multi();
      let n = 0;
      for (const c of cmds) {
        n++;
        if (c.op === 'grant') put(m, c, { grant: c.grant });
        else if (c.op === 'kick') put(m, c, { kicked: true });
        else if (c.op === 'revoke') m.hdel(keyOf(c.sessionId), c.playerId);
        else if (c.op === 'clear') m.del(keyOf(c.sessionId));
        else n--; // drop: nothing to keep
      }
      if (n > 0) await m.exec();
    },
    async load() {
      const out: GrantCommand[] = [];
      // the prefix is literal: escape the glob characters SCAN MATCH would read
      const pattern = `${base.replace(/[*?[\]\\]/g, (c) => `\\${c}`)}*`;
      let cursor = '0';
      do {
        const [next, keys] = await r.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
        cursor = next;
        for (const k of keys) out.push(...commandsOfStored(k.slice(base.length), await r.hgetall(k)));
      } while (cursor !== '0');
      return out;
    },
    async close() {
      await r.quit().catch(() => r.disconnect());
    },
  };
}

/** ioredis connection options from a `redis://[user:password@]host[:port][/db]` (or `rediss://`, TLS) URL. */
export function redisOptionsOf(url: string): Record<string, unknown> {
  const u = new URL(url);
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : undefined;
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(db !== undefined && Number.isInteger(db) ? { db } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

export function redisSharedState(url: string, prefix: string): RedisSharedState {
  // both packages are CommonJS without ESM entry points
  const require = createRequire(import.meta.url);
  const { MQEmitterRedisPrefix } = require('mqemitter-redis') as { MQEmitterRedisPrefix: new (prefix: string, opts: object) => RedisSharedState['mq'] };
  const redisPersistence = require('aedes-persistence-redis') as (opts: object) => RedisSharedState['persistence'];
  const opts = redisOptionsOf(url);
  return { mq: new MQEmitterRedisPrefix(prefix, opts), persistence: redisPersistence({ ...opts, keyPrefix: prefix }), grants: redisGrantStore(url, prefix) };
}
