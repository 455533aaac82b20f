import { z } from 'zod';
import { defineFamily } from '../family.js';
import { Address, Count, DurationMs, Empty, Ext, Id, Name, Sha256, Text, TimeMs, TransportKind, bytes } from '../schemas/common.js';

/** host ↔ auth: the host dials auth, registers, keeps a heartbeat, and runs sessions auth creates. */

export const HostTransport = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('quic'), address: Address, tlsName: z.string().min(1).max(253) }),
  z.object({ kind: z.literal('netcode'), address: Address }),
  z.object({
    kind: z.literal('mqtt'),
    brokerUrl: z.string().min(1).max(512),
    /** in a session.create answer: the session's room, topic prefix and game level, and the host's Ed25519 key that players pin */
    room: z.string().min(1).max(64).optional(),
    topicPrefix: z.string().min(1).max(256).optional(),
    game: z.string().min(1).max(64).optional(),
    hostKey: bytes(64).optional(),
  }),
]);

export const Load = z.object({
  sessions: Count,
  players: Count,
  /** 0..1 fractions; optional because not every platform reports them. */
  cpu: z.number().min(0).max(1).optional(),
  memory: z.number().min(0).max(1).optional(),
});

/** A player the host must let in: how to recognise them on each transport. */
export const ExpectedPlayer = z.object({
  playerId: Id,
  accountId: Id,
  displayName: Name.optional(),
  /** Source IP the player connects from, pre-allowed by the host. */
  address: z.string().max(64).optional(),
  /** SHA-256 of the session certificate (DER) the player will present. */
  certFingerprint: Sha256.optional(),
  /** netcode.io client id (u64 as a decimal string: MsgPack numbers lose precision above 2^53). */
  netcodeClientId: z
    .string()
    .regex(/^\d{1,20}$/)
    .optional(),
});

export const PlayerResult = z.object({
  playerId: Id,
  rank: z.int().min(0).max(1_000_000).optional(),
  score: z.number().optional(),
  outcome: z.enum(['win', 'loss', 'draw', 'abandoned']).optional(),
});

/**
 * Host telemetry. `id` (1.1) names the host's outbox item, so a receiver stores a resent batch
 * (its ack was lost) only once.
 */
export const Telemetry = z.object({
  entries: z
    .array(
      z.object({
        at: TimeMs,
        name: Name,
        value: z.number(),
        sessionId: Id.optional(),
        tags: z.record(z.string().max(64), z.string().max(256)).optional(),
      }),
    )
    .max(1000),
  id: z.string().min(1).max(200).optional(),
  ext: Ext,
});

const SessionRef = z.object({ sessionId: Id, ext: Ext });

export const hostctlFamily = defineFamily({
  name: 'iyesmp-hostctl/1',
  /**
   * 1.1 adds the `telemetry.report` request (telemetry acknowledged like results) and the optional
   * telemetry `id`. A 1.1 host sends `telemetry.report` only when the negotiated minor is at least 1;
   * with a 1.0 Auth server it sends the `telemetry` event as before.
   * 1.2 adds the optional `telemetry` of `session.ended`: the session's telemetry with its results,
   * one request and one answer instead of two. A host sends it only when 1.2 was negotiated (a 1.1
   * Auth server would drop the unknown field and acknowledge telemetry it never stored).
   */
  version: { major: 1, minor: 2 },
  roles: { dialer: 'host', listener: 'auth' },
  hello: {
    dialer: z.object({ hostName: Name, ext: Ext }),
    listener: z.object({ authNode: Name, time: TimeMs, ext: Ext }),
  },
  requests: {
    'host.register': {
      from: 'dialer',
      request: z.object({
        name: Name,
        region: Name,
        publicAddress: Address,
        transports: z.array(HostTransport).min(1).max(8),
        capacity: z.object({ sessions: Count, players: Count }),
        version: z.string().min(1).max(64),
        load: Load,
        /** the host is draining (it re-registered mid-drain): give it no new sessions. Optional, so any 1.x peer ignores it. */
        draining: z.boolean().optional(),
        ext: Ext,
      }),
      response: z.object({ hostId: Id, heartbeatIntervalMs: DurationMs, ext: Ext }),
    },
    /** Auth asks the host to prepare a session. The response is the host's acknowledgement. */
    'session.create': {
      from: 'listener',
      request: z.object({
        sessionId: Id,
        transport: TransportKind,
        mode: Name.optional(),
        expiresAt: TimeMs,
        players: z.array(ExpectedPlayer).max(1024),
        mqttRoom: Id.optional(),
        ext: Ext,
      }),
      response: z.object({ sessionId: Id, endpoint: HostTransport, ext: Ext }),
    },
    /** More players for an existing session (late joiners, replacements). */
    'session.expect': {
      from: 'listener',
      request: z.object({ sessionId: Id, players: z.array(ExpectedPlayer).min(1).max(1024), ext: Ext }),
      response: Empty,
    },
    'session.cancel': {
      from: 'listener',
      request: z.object({ sessionId: Id, reason: Text, ext: Ext }),
      response: Empty,
    },
    /** A request (not an event) so the host keeps results queued until auth acknowledges them. */
    'session.ended': {
      from: 'dialer',
      request: z.object({
        sessionId: Id,
        endedAt: TimeMs,
        reason: z.enum(['completed', 'aborted', 'timeout', 'cancelled']),
        results: z.array(PlayerResult).max(1024),
        /** 1.2: the session's telemetry, stored as `telemetry.report` would and acknowledged with the results */
        telemetry: Telemetry.optional(),
        ext: Ext,
      }),
      response: SessionRef,
    },
    /** 1.1: telemetry as a request, so the host keeps it queued until auth acknowledges it. */
    'telemetry.report': {
      from: 'dialer',
      request: Telemetry,
      response: Empty,
    },
  },
  events: {
    /** `draining`: the host takes no new sessions (admin drain, SIGTERM); absent means false */
    'host.heartbeat': { from: 'dialer', body: z.object({ time: TimeMs, load: Load, draining: z.boolean().optional(), ext: Ext }) },
    /**
     * Auth wants no new sessions on this host (maintenance); running ones continue. An iyesmp host
     * finishes its games within `deadlineMs` (its own default when absent), delivers the results and stops.
     */
    'host.drain': { from: 'listener', body: z.object({ reason: Text, deadlineMs: DurationMs.optional(), ext: Ext }) },
    'player.joined': { from: 'dialer', body: z.object({ sessionId: Id, playerId: Id, at: TimeMs, ext: Ext }) },
    'player.left': {
      from: 'dialer',
      body: z.object({ sessionId: Id, playerId: Id, at: TimeMs, reason: Text, ext: Ext }),
    },
    /** 1.0 hosts; a 1.1 host sends `telemetry.report` instead, which is acknowledged */
    telemetry: { from: 'dialer', body: Telemetry },
  },
});

export type HostctlFamily = typeof hostctlFamily;
