import { decode, encode } from '@msgpack/msgpack';
import { z } from 'zod';
import { MAX_PAYLOAD_BYTES } from '../constants.js';

/**
 * The few session messages iyesmp itself sends over netcode payloads, next to the game's own.
 * netcode payloads are unreliable, unordered datagrams of at most 1200 bytes, so the length-framed
 * MsgPack stream of `iyesmp-host/1` cannot run over them. Instead each payload is one message whose
 * first byte says what it is. Every control message is idempotent: a client repeats `ready` until a
 * status shows it ready (or `begin` arrives), and the host answers each control message with the
 * current state, so a lost datagram costs a resend, never a stuck session.
 *
 *   client -> host: 0x01 ready | 0x02 unready | 0x03 leave | 0x10 game bytes
 *   host -> client: 0x10 game bytes | 0x20 status page (MsgPack) | 0x21 begin | 0x22 bye (MsgPack)
 */
export const Tag = {
  ready: 0x01,
  unready: 0x02,
  leave: 0x03,
  game: 0x10,
  status: 0x20,
  begin: 0x21,
  bye: 0x22,
} as const;

/** Game bytes per payload: the netcode limit minus the tag. */
export const MAX_GAME_BYTES = MAX_PAYLOAD_BYTES - 1;

export type ClientMessage = { type: 'ready' } | { type: 'unready' } | { type: 'leave' } | { type: 'game'; data: Uint8Array };

export interface StatusPlayer {
  playerId: string;
  status: 'expected' | 'connected' | 'ready' | 'left';
  displayName: string;
}

export type SessionPhaseName = 'readying' | 'in_game' | 'ended';

export type HostMessage =
  /** one page of the roster: players [offset, offset + players.length) of `total` */
  | { type: 'status'; phase: SessionPhaseName; offset: number; total: number; players: StatusPlayer[] }
  | { type: 'begin' }
  /** sent just before the host disconnects the client; `code` is stable (admission refusal or departure) */
  | { type: 'bye'; code: string; message: string }
  | { type: 'game'; data: Uint8Array };

function tagged(tag: number, body?: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + (body?.length ?? 0));
  out[0] = tag;
  if (body) out.set(body, 1);
  return out;
}

/** A game payload; throws RangeError beyond MAX_GAME_BYTES (a programming error, not input). */
export function encodeGame(data: Uint8Array): Uint8Array {
  if (data.length > MAX_GAME_BYTES) throw new RangeError(`game payload is at most ${MAX_GAME_BYTES} bytes over netcode, got ${data.length}`);
  return tagged(Tag.game, data);
}

export function encodeClientMessage(m: ClientMessage): Uint8Array {
  return m.type === 'game' ? encodeGame(m.data) : tagged(Tag[m.type]);
}

// ---- decoding: never throws, returns null for anything not in the catalogue ----

const DECODE_LIMITS = {
  maxStrLength: MAX_PAYLOAD_BYTES,
  maxBinLength: MAX_PAYLOAD_BYTES,
  maxArrayLength: MAX_PAYLOAD_BYTES,
  maxMapLength: 16,
  maxExtLength: 0,
};

const StatusBody = z.tuple([
  z.enum(['readying', 'in_game', 'ended']),
  z.int().min(0).max(1_000_000),
  z.int().min(0).max(1_000_000),
  z.array(z.tuple([z.string().min(1).max(128), z.enum(['expected', 'connected', 'ready', 'left']), z.string().max(128)])),
]);
const ByeBody = z.tuple([z.string().min(1).max(64), z.string().max(MAX_PAYLOAD_BYTES)]);

function body<T>(schema: z.ZodType<T>, bytes: Uint8Array): T | null {
  try {
    const r = schema.safeParse(decode(bytes, DECODE_LIMITS));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

export function decodeClientMessage(p: Uint8Array): ClientMessage | null {
  switch (p[0]) {
    case Tag.ready:
      return p.length === 1 ? { type: 'ready' } : null;
    case Tag.unready:
      return p.length === 1 ? { type: 'unready' } : null;
    case Tag.leave:
      return p.length === 1 ? { type: 'leave' } : null;
    case Tag.game:
      return { type: 'game', data: p.subarray(1) };
    default:
      return null;
  }
}

export function decodeHostMessage(p: Uint8Array): HostMessage | null {
  switch (p[0]) {
    case Tag.game:
      return { type: 'game', data: p.subarray(1) };
    case Tag.begin:
      return p.length === 1 ? { type: 'begin' } : null;
    case Tag.status: {
      const b = body(StatusBody, p.subarray(1));
      if (!b || b[1] + b[3].length > b[2]) return null;
      return {
        type: 'status',
        phase: b[0],
        offset: b[1],
        total: b[2],
        players: b[3].map(([playerId, status, displayName]) => ({ playerId, status, displayName })),
      };
    }
    case Tag.bye: {
      const b = body(ByeBody, p.subarray(1));
      return b ? { type: 'bye', code: b[0], message: b[1] } : null;
    }
    default:
      return null;
  }
}

// ---- host side encoders ----

export const BEGIN_MESSAGE: Uint8Array = tagged(Tag.begin);

export function encodeBye(code: string, message: string): Uint8Array {
  // keep the datagram within the limit whatever the message; the code is short and stable
  let text = message;
  for (;;) {
    const out = tagged(Tag.bye, encode([code.slice(0, 64), text]));
    if (out.length <= MAX_PAYLOAD_BYTES) return out;
    text = text.slice(0, Math.floor(text.length / 2));
  }
}

/**
 * The roster as status pages, each one payload. Greedy packing: a session of a few players fits in
 * one page; large ones (64 players with long names) need several.
 */
export function encodeStatusPages(phase: SessionPhaseName, players: readonly StatusPlayer[]): Uint8Array[] {
  const rows = players.map((p) => [p.playerId, p.status, p.displayName.slice(0, 128)] as const);
  const page = (offset: number, n: number): Uint8Array => tagged(Tag.status, encode([phase, offset, rows.length, rows.slice(offset, offset + n)]));
  const pages: Uint8Array[] = [];
  let offset = 0;
  do {
    // grow the page while it fits; one row always fits (ids and names are at most 128 characters)
    let n = Math.min(1, rows.length - offset);
    let best = page(offset, n);
    while (offset + n < rows.length) {
      const next = page(offset, n + 1);
      if (next.length > MAX_PAYLOAD_BYTES) break;
      n++;
      best = next;
    }
    pages.push(best);
    offset += n;
  } while (offset < rows.length);
  return pages;
}

/** Client side: folds status pages into the latest full roster (pages of an older roster are replaced). */
export class StatusAssembler {
  #rows: (StatusPlayer | undefined)[] = [];
  #phase: SessionPhaseName = 'readying';

  /** Returns the roster when the pages received so far cover all of it. */
  add(m: Extract<HostMessage, { type: 'status' }>): { phase: SessionPhaseName; players: StatusPlayer[] } | undefined {
    if (this.#rows.length !== m.total) this.#rows = new Array<StatusPlayer | undefined>(m.total).fill(undefined);
    this.#phase = m.phase;
    m.players.forEach((p, i) => (this.#rows[m.offset + i] = p));
    if (this.#rows.some((r) => r === undefined)) return undefined;
    return { phase: this.#phase, players: this.#rows as StatusPlayer[] };
  }
}
