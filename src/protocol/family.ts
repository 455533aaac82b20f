import type { z } from 'zod';
import type { ProtocolVersion } from './envelope.js';

/**
 * A protocol family: one ALPN id, one version, and a catalogue of requests and events with their
 * zod schemas and which side may send them. The dialer opens the connection (game client, or host
 * towards auth); the listener accepts it.
 */
export type Side = 'dialer' | 'listener';
export type Sender = Side | 'both';
export type OtherSide<S extends Side> = S extends 'dialer' ? 'listener' : 'dialer';

export interface RequestDef {
  from: Sender;
  request: z.ZodType;
  response: z.ZodType;
}
export interface EventDef {
  from: Sender;
  body: z.ZodType;
}

export interface FamilyDef {
  /** Family name, also the ALPN id: base name and major version, e.g. `iyesmp-auth/1`. */
  name: `${string}/${number}`;
  version: ProtocolVersion;
  /** Human names of the two sides, used in messages and docs. */
  roles: { dialer: string; listener: string };
  /** Hello body sent by the dialer; welcome body sent by the listener. */
  hello: { dialer: z.ZodType; listener: z.ZodType };
  requests: Record<string, RequestDef>;
  events: Record<string, EventDef>;
}

export function defineFamily<const F extends FamilyDef>(family: F & { name: `${string}/${F['version']['major']}` }): F {
  if (!family.name.endsWith(`/${family.version.major}`)) throw new Error(`${family.name}: the name must end in the major version /${family.version.major}`);
  for (const type of Object.keys(family.requests)) {
    if (type in family.events) throw new Error(`${family.name}: "${type}" is both a request and an event`);
  }
  return family;
}

export function maySend(from: Sender, side: Side): boolean {
  return from === 'both' || from === side;
}

// ---------------------------------------------------------------------------------------------
// Types a game programmer sees. `E` is the game's ext type; it replaces the `ext` slot of every
// message body (and hello body) of the family.

type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** Replaces the top-level `ext` field's type; distributes over unions (e.g. login variants). */
export type WithExt<T, E> = T extends unknown ? ('ext' extends keyof T ? Simplify<Omit<T, 'ext'> & { ext?: E }> : T) : never;

type Keys<R> = keyof R & string;

/** Request types the given side may send. */
export type RequestTypes<F extends FamilyDef, S extends Side> = {
  [K in Keys<F['requests']>]: F['requests'][K]['from'] extends S | 'both' ? K : never;
}[Keys<F['requests']>];

/** Event types the given side may send. */
export type EventTypes<F extends FamilyDef, S extends Side> = {
  [K in Keys<F['events']>]: F['events'][K]['from'] extends S | 'both' ? K : never;
}[Keys<F['events']>];

export type RequestBody<F extends FamilyDef, K extends keyof F['requests'], E = unknown> = WithExt<z.output<F['requests'][K]['request']>, E>;
export type ResponseBody<F extends FamilyDef, K extends keyof F['requests'], E = unknown> = WithExt<z.output<F['requests'][K]['response']>, E>;
export type EventBody<F extends FamilyDef, K extends keyof F['events'], E = unknown> = WithExt<z.output<F['events'][K]['body']>, E>;
export type HelloBody<F extends FamilyDef, S extends Side, E = unknown> = WithExt<z.output<F['hello'][S]>, E>;

/** Discriminated union of everything side S may send (requests and events). */
export type MessagesFrom<F extends FamilyDef, S extends Side, E = unknown> =
  | { [K in RequestTypes<F, S>]: { kind: 'request'; type: K; body: RequestBody<F, K, E> } }[RequestTypes<F, S>]
  | { [K in EventTypes<F, S>]: { kind: 'event'; type: K; body: EventBody<F, K, E> } }[EventTypes<F, S>];

/** Request received by side S (sent by the other side), with the id to answer. */
export type IncomingRequest<F extends FamilyDef, S extends Side, E = unknown> = {
  [K in RequestTypes<F, OtherSide<S>>]: { kind: 'request'; id: number; type: K; body: RequestBody<F, K, E> };
}[RequestTypes<F, OtherSide<S>>];

/** Event received by side S. */
export type IncomingEvent<F extends FamilyDef, S extends Side, E = unknown> = {
  [K in EventTypes<F, OtherSide<S>>]: { kind: 'event'; type: K; body: EventBody<F, K, E> };
}[EventTypes<F, OtherSide<S>>];

/** Successful answer to a request side S sent. */
export type IncomingResponse<F extends FamilyDef, S extends Side, E = unknown> = {
  [K in RequestTypes<F, S>]: { kind: 'response'; id: number; type: K; body: ResponseBody<F, K, E> };
}[RequestTypes<F, S>];
