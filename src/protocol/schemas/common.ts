import { z } from 'zod';
import { HOST_TRANSPORT_KINDS } from '../transports.js';

/**
 * Building blocks shared by the three families. Every bound here is a second line of defence after
 * the MsgPack limits: they keep individual fields to sizes the auth/host code can store and log.
 */

/** Game-specific data; its TypeScript type comes from the family's `Ext` generic. */
export const Ext = z.unknown().optional();

/** Opaque identifiers (accounts, lobbies, sessions, tickets...). */
export const Id = z.string().min(1).max(128);
export const Name = z.string().min(1).max(128);
export const Text = z.string().max(1024);
/** Milliseconds since the Unix epoch. */
export const TimeMs = z.int().min(0);
export const DurationMs = z
  .int()
  .min(0)
  .max(7 * 24 * 3600 * 1000);
export const Count = z.int().min(0).max(1_000_000);

/** Raw bytes, sent as MsgPack bin. */
export const bytes = (max: number) => z.instanceof(Uint8Array).refine((b) => b.byteLength <= max, { message: `at most ${max} bytes` });

/** A DER certificate (or other X.509 blob). */
export const Der = bytes(16 * 1024);
/** A SHA-256 digest. */
export const Sha256 = z.instanceof(Uint8Array).refine((b) => b.byteLength === 32, { message: 'exactly 32 bytes' });

/** host: DNS name or IP literal. */
export const Address = z.object({
  host: z.string().min(1).max(253),
  port: z.int().min(1).max(65535),
});

export const TransportKind = z.enum(HOST_TRANSPORT_KINDS);

export const Empty = z.object({ ext: Ext });
