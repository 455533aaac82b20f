/**
 * Topic layout of one room, and the literal topics each participant may use (turns-net turns these
 * into broker ACLs: the aedes authorizer and Mosquitto dynamic-security roles).
 *
 * ```
 * <prefix>/<game>/<room>/register/<playerId>   retained, the player's self-signed registration (will: empty retained)
 * <prefix>/<game>/<room>/round/<hex>           the current round's moves (players -> all), never retained
 * <prefix>/<game>/<room>/challenge/<id>        challenges to <id> and responses for <id>
 * <prefix>/<game>/<room>/sync/<playerId>       player <-> host: sync requests/answers, rejections, keys, host messages
 * <prefix>/<game>/<room>/ctl                   host announcements: log blocks (rounds, moves, registrations); genesis retained
 * ```
 *
 * The default prefix is `iyesmp`. Every id is a single topic level restricted to `[a-z0-9_-]` so no id
 * can smuggle `/`, `+` or `#` into a topic. The host's id for challenges is `HOST_ID`, which no
 * player may take.
 */
import { turnsError } from './errors.js';

export const DEFAULT_PREFIX = 'iyesmp';
/** The host's participant id (challenge topics, log entries); reserved, a player may not use it. */
export const HOST_ID = '_host';
export const ID_PATTERN = /^[a-z0-9_-]{1,64}$/;
const PREFIX_PATTERN = /^[a-z0-9_-]{1,64}(?:\/[a-z0-9_-]{1,64}){0,3}$/;
/** A round topic's last level: lowercase hex. */
export const ROUND_HEX_PATTERN = /^[0-9a-f]{16,64}$/;

export function isValidId(id: unknown): id is string {
  return typeof id === 'string' && ID_PATTERN.test(id);
}

/** Throws `turns_bad_id` naming what was wrong. */
export function checkId(what: string, id: unknown): string {
  if (!isValidId(id)) throw turnsError('turns_bad_id', `${what} must be 1-64 characters of a-z, 0-9, _ and - (got ${JSON.stringify(id)})`);
  return id;
}

export interface RoomRef {
  /** topic prefix, default `iyesmp`; one to four levels of `[a-z0-9_-]` */
  prefix?: string;
  game: string;
  room: string;
}

/** The topics of one room. Construct with `roomTopics`, which checks every id. */
export interface RoomTopics {
  readonly base: string;
  readonly ctl: string;
  register(playerId: string): string;
  round(hex: string): string;
  challenge(participantId: string): string;
  sync(playerId: string): string;
  /** What a topic of this room is, or undefined for a topic outside it (or malformed). */
  parse(topic: string): ParsedTopic | undefined;
}

export type ParsedTopic =
  | { kind: 'ctl' }
  | { kind: 'register'; id: string }
  | { kind: 'round'; hex: string }
  | { kind: 'challenge'; id: string }
  | { kind: 'sync'; id: string };

export function roomTopics(ref: RoomRef): RoomTopics {
  const prefix = ref.prefix ?? DEFAULT_PREFIX;
  if (!PREFIX_PATTERN.test(prefix)) throw turnsError('turns_bad_id', `topic prefix must be 1-4 levels of a-z, 0-9, _ and - (got ${JSON.stringify(prefix)})`);
  checkId('game', ref.game);
  checkId('room', ref.room);
  const base = `${prefix}/${ref.game}/${ref.room}`;
  const level = (what: string, id: string): string => checkId(what, id);
  return {
    base,
    ctl: `${base}/ctl`,
    register: (id) => `${base}/register/${level('player id', id)}`,
    round: (hex) => {
      if (!ROUND_HEX_PATTERN.test(hex)) throw turnsError('turns_bad_id', `round topic must be 16-64 lowercase hex characters (got ${JSON.stringify(hex)})`);
      return `${base}/round/${hex}`;
    },
    challenge: (id) => `${base}/challenge/${level('participant id', id)}`,
    sync: (id) => `${base}/sync/${level('player id', id)}`,
    parse(topic) {
      if (!topic.startsWith(`${base}/`)) return undefined;
      const rest = topic.slice(base.length + 1).split('/');
      if (rest.length === 1 && rest[0] === 'ctl') return { kind: 'ctl' };
      if (rest.length !== 2) return undefined;
      const [kind, id] = rest as [string, string];
      if (kind === 'round') return ROUND_HEX_PATTERN.test(id) ? { kind, hex: id } : undefined;
      if (!isValidId(id)) return undefined;
      if (kind === 'register' || kind === 'challenge' || kind === 'sync') return { kind, id };
      return undefined;
    },
  };
}

/** Literal topics (never a wildcard) one participant may subscribe to and publish on. */
export interface TopicGrant {
  subscribe: string[];
  publish: string[];
  /** topics it may publish retained (a subset of `publish`) */
  retain: string[];
}

export interface RoomAcl {
  /** the room's topic base, `<prefix>/<game>/<room>` */
  base: string;
  /** the current round topic, if a round has started */
  roundTopic: string | undefined;
  /** the next round's topic, granted a round ahead so a round change waits for no grant (secret until its round starts) */
  nextRoundTopic: string | undefined;
  host: TopicGrant;
  /** one grant per player id */
  players: Record<string, TopicGrant>;
}

/**
 * The literal topics of each participant of a room for its current round (and, when given, the next
 * round's, so the broker enforces it before anyone learns it). A broker that enforces exactly these
 * refuses every wildcard under the prefix and every topic of an old round.
 *
 * - a player: subscribes to ctl, its own sync and challenge topics, every participant's register
 *   topic (to read keys), and the current round; publishes its own register topic (retained), its
 *   own sync topic, the current round, and every other participant's challenge topic.
 * - the host: subscribes to every register, sync and its own challenge topic and the current round;
 *   publishes ctl (retained genesis), every sync and register topic (to clear them at session end),
 *   and every player's challenge topic.
 */
export function roomAcl(ref: RoomRef, playerIds: readonly string[], roundHex: string | undefined, nextRoundHex?: string): RoomAcl {
  const t = roomTopics(ref);
  for (const p of playerIds) {
    checkId('player id', p);
    if (p === HOST_ID) throw turnsError('turns_bad_id', `player id ${HOST_ID} is reserved for the host`);
  }
  const round = roundHex === undefined ? undefined : t.round(roundHex);
  const next = nextRoundHex === undefined ? undefined : t.round(nextRoundHex);
  const rounds = [round, next].filter((x): x is string => x !== undefined);
  const withRound = (list: string[]): string[] => [...list, ...rounds];
  const registers = playerIds.map((p) => t.register(p));
  const players: Record<string, TopicGrant> = {};
  for (const p of playerIds) {
    const others = [HOST_ID, ...playerIds.filter((q) => q !== p)];
    players[p] = {
      subscribe: withRound([t.ctl, t.sync(p), t.challenge(p), ...registers]),
      publish: withRound([t.register(p), t.sync(p), ...others.map((q) => t.challenge(q))]),
      retain: [t.register(p)],
    };
  }
  const host: TopicGrant = {
    subscribe: withRound([...registers, ...playerIds.map((p) => t.sync(p)), t.challenge(HOST_ID)]),
    publish: [t.ctl, ...registers, ...playerIds.map((p) => t.sync(p)), ...playerIds.map((p) => t.challenge(p))],
    retain: [t.ctl, ...registers],
  };
  return { base: t.base, roundTopic: round, nextRoundTopic: next, host, players };
}
