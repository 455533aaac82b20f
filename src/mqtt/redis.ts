import { createRequire } from 'node:module';
import type { EmbeddedBrokerOptions } from './broker.js';

/**
 * What several embedded broker nodes share to act as one broker: messages through Redis pub/sub
 * (mqemitter-redis) and retained messages and subscriptions in Redis (aedes-persistence-redis),
 * under a key and channel prefix, so a player connected to node A plays against one on node B.
 * Grants travel as messages on the control topic, so every node applies them.
 */
export interface RedisSharedState {
  mq: NonNullable<EmbeddedBrokerOptions['mq']>;
  persistence: NonNullable<EmbeddedBrokerOptions['persistence']>;
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
  return { mq: new MQEmitterRedisPrefix(prefix, opts), persistence: redisPersistence({ ...opts, keyPrefix: prefix }) };
}
