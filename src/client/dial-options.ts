/**
 * The connection options the Auth client and the Host client both derive from the game's options
 * before `ProtocolConnection.dial`; each adds its own hello.
 */
import type { z } from 'zod';
import type { ConnectionOptions, GameVersionCheck } from '../protocol/index.js';

/** The part of AuthClientOptions and GameSessionOptions that configures the protocol connection. */
export interface DialSettings<Ext> {
  gameVersion: string;
  extSchema?: z.ZodType<Ext>;
  acceptServerVersion?: GameVersionCheck;
  requestTimeoutMs?: number;
  onListenerError?: (err: unknown) => void;
}

/** Only the options the game set are passed on, so the connection's own defaults apply to the rest. */
export function dialOptions<Ext>(opts: DialSettings<Ext>): ConnectionOptions<Ext> {
  return {
    gameVersion: opts.gameVersion,
    ...(opts.extSchema ? { extSchema: opts.extSchema } : {}),
    ...(opts.acceptServerVersion ? { acceptGameVersion: opts.acceptServerVersion } : {}),
    ...(opts.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: opts.requestTimeoutMs }),
    ...(opts.onListenerError ? { onListenerError: opts.onListenerError } : {}),
  };
}
