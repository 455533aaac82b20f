import { z } from 'zod';
import { defineFamily } from '../family.js';
import { Empty, Ext, Id, Name, Text, TimeMs, bytes } from '../schemas/common.js';
import { PlayerResult } from './hostctl.js';

/** client ↔ host: joining a session, readiness, the game itself, and its end. */

export const PlayerStatus = z.object({
  playerId: Id,
  displayName: Name.optional(),
  connected: z.boolean(),
  ready: z.boolean(),
  pingMs: z.int().min(0).max(60_000).optional(),
});

const SessionState = z.enum(['waiting', 'playing', 'ended']);

/** 1.1: issued in each welcome; lets the same client take its seat over from a connection still open. */
const ReconnectSecret = z.string().min(1).max(256);

export const hostFamily = defineFamily({
  name: 'iyesmp-host/1',
  version: { major: 1, minor: 1 },
  roles: { dialer: 'client', listener: 'host' },
  hello: {
    /**
     * Session proof. On QUIC the session certificate (mTLS) already proves who this is; `proof`
     * carries extra evidence for transports or deployments that need it (e.g. a signed token).
     * 1.1: `reconnectSecret` is the one the last welcome for this seat gave (a 1.0 host drops it), and
     * the welcome carries the seat's next one (a 1.0 client drops it).
     */
    dialer: z.object({ sessionId: Id, playerId: Id, proof: bytes(4096).optional(), reconnectSecret: ReconnectSecret.optional(), ext: Ext }),
    listener: z.object({
      sessionId: Id,
      state: SessionState,
      players: z.array(PlayerStatus).max(1024),
      reconnectSecret: ReconnectSecret.optional(),
      ext: Ext,
    }),
  },
  requests: {
    'player.ready': { from: 'dialer', request: z.object({ ready: z.boolean(), ext: Ext }), response: Empty },
    /** A game action that needs the host's verdict (validated move, purchase...). */
    'game.action': { from: 'dialer', request: z.object({ ext: Ext }), response: z.object({ ext: Ext }) },
  },
  events: {
    'players.status': { from: 'listener', body: z.object({ players: z.array(PlayerStatus).max(1024), ext: Ext }) },
    'game.begin': {
      from: 'listener',
      body: z.object({
        startAt: TimeMs.optional(),
        seed: bytes(64).optional(),
        /** Turn/seat order. */
        order: z.array(Id).max(1024),
        ext: Ext,
      }),
    },
    /** Free-form game traffic, both ways; `channel` lets a game route it, `seq` lets it order it. */
    'game.msg': {
      from: 'both',
      body: z.object({ channel: Name.optional(), seq: z.int().min(0).max(0xffff_ffff).optional(), from: Id.optional(), ext: Ext }),
    },
    /** The game is over. `ext` carries the game's final state (final board, replay id...) when it sends one. */
    'game.end': {
      from: 'listener',
      body: z.object({
        reason: z.enum(['completed', 'aborted', 'timeout', 'cancelled']),
        message: Text.optional(),
        results: z.array(PlayerResult).max(1024),
        ext: Ext,
      }),
    },
    'player.leaving': { from: 'dialer', body: z.object({ reason: Text.optional(), ext: Ext }) },
  },
});

export type HostFamily = typeof hostFamily;
