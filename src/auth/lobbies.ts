import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import { lobbyError } from './errors.js';
import { EventQueue } from '../events/queue.js';

/**
 * Lobbies: players gather, agree on settings, get ready, and the owner starts the game.
 * Sans-IO: every method takes `now` and returns or throws synchronously; every change is queued
 * as a typed event (with a snapshot of the lobby after the change) for the driver to take
 * (`takeEvents`) and the server to broadcast.
 */

export interface LobbyMember {
  playerId: string;
  displayName: string;
  joinedAt: number;
  ready: boolean;
  /** Per-member game data (chosen character, team...), opaque to us. */
  data?: unknown;
}

export type LobbyState = 'open' | 'started';

/** A snapshot; mutating it changes nothing. */
export interface LobbyView {
  id: string;
  name: string;
  mode: string | undefined;
  ownerId: string;
  /** Game settings, opaque to us; the owner changes them. */
  settings: unknown;
  maxPlayers: number;
  minPlayers: number;
  private: boolean;
  /** Join code, present only on private lobbies (and only shown to members by the server). */
  code: string | undefined;
  /** Joining needs the password its owner set (the password itself never leaves the domain). */
  hasPassword: boolean;
  state: LobbyState;
  createdAt: number;
  /** In join order: the first is the longest-present member. */
  members: LobbyMember[];
}

export interface Joiner {
  playerId: string;
  displayName: string;
  data?: unknown;
}

export interface CreateLobby {
  owner: Joiner;
  name?: string;
  mode?: string;
  settings?: unknown;
  maxPlayers: number;
  /** Fewest members needed to start (default 1). */
  minPlayers?: number;
  private?: boolean;
  /** Joiners must give it (by id or by code); the owner is in already. */
  password?: string;
}

/**
 * Where a joiner is going, with the lobby's password when it has one. A `lobbyId` target whose id
 * names no lobby joinable by id, sent with a password, is read as a join code: iyesmp-auth 1.0
 * clients sent a private lobby's code as its password.
 */
export type JoinTarget = ({ lobbyId: string } | { code: string }) & { password?: string };

export interface LobbyFilter {
  mode?: string;
  /** Only lobbies with a free seat (default true). */
  hasSpace?: boolean;
  /** Include lobbies whose game started (default false). */
  includeStarted?: boolean;
  /** Game-specific filter on the opaque settings. */
  where?: (settings: unknown, lobby: LobbyView) => boolean;
  limit?: number;
}

export type LeaveReason = 'left' | 'kicked';

export interface LobbyEvents {
  created: { lobby: LobbyView };
  joined: { lobby: LobbyView; member: LobbyMember };
  left: { lobby: LobbyView; playerId: string; reason: LeaveReason; by?: string };
  /** `handed`: the owner gave it away (`setOwner`); `left`: the owner left and the longest-present member took over */
  'owner-changed': { lobby: LobbyView; previousOwnerId: string; ownerId: string; reason: 'left' | 'handed' };
  'ready-changed': { lobby: LobbyView; playerId: string; ready: boolean };
  'settings-changed': { lobby: LobbyView };
  started: { lobby: LobbyView; members: LobbyMember[] };
  /** its start fell through before the game began (no host in time, the session failed): open again, ready flags kept */
  reopened: { lobby: LobbyView; reason: string };
  closed: { lobby: LobbyView; reason: 'empty' | 'closed' };
}
/** What the Lobbies core queues: one of its events, named by `type`. */
export type LobbyEvent = { [K in keyof LobbyEvents]: { type: K } & LobbyEvents[K] }[keyof LobbyEvents];

// No 0/O or 1/I/L: codes are read aloud and typed from screenshots, so look-alikes are left out.
export const JOIN_CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';

export interface LobbyOptions {
  /** Length of private join codes (default 6: about 30 bits, plenty for live lobbies). */
  codeLength?: number;
  /** Uniform integer in [0, max); injectable for tests. */
  randomInt?: (max: number) => number;
  newId?: () => string;
  /** Hard cap on maxPlayers a client may ask for. */
  maxPlayersLimit?: number;
}

/**
 * A lobby's whole state, for a durable store to save and a restarted server to restore: the view
 * plus who may not rejoin and the password's digest (never the password).
 */
export interface LobbySnapshot extends LobbyView {
  banned: string[];
  /** SHA-256 of the password, hex */
  passwordHash?: string;
}

interface Lobby extends LobbyView {
  banned: Set<string>;
  /** SHA-256 of the password: compared in constant time, and no plain copy is kept. */
  passwordHash: Buffer | undefined;
}

export class Lobbies {
  readonly #events = new EventQueue<LobbyEvent>();
  readonly #byId = new Map<string, Lobby>();
  readonly #byCode = new Map<string, Lobby>();
  readonly #lobbyOf = new Map<string, Lobby>();
  readonly #codeLength: number;
  readonly #randomInt: (max: number) => number;
  readonly #newId: () => string;
  readonly #maxPlayersLimit: number;
  #seq = 0;

  constructor(opts: LobbyOptions = {}) {
    this.#codeLength = opts.codeLength ?? 6;
    this.#randomInt = opts.randomInt ?? ((max) => randomInt(max));
    this.#newId = opts.newId ?? (() => `lby_${(++this.#seq).toString(36)}_${this.#randomCode(6).toLowerCase()}`);
    this.#maxPlayersLimit = opts.maxPlayersLimit ?? 256;
  }

  /** Everything queued since the last take, oldest first (the driver delivers it after each input). */
  takeEvents(): LobbyEvent[] {
    return this.#events.take();
  }

  create(req: CreateLobby, now: number): LobbyView {
    this.#assertFree(req.owner.playerId);
    const max = req.maxPlayers;
    const min = req.minPlayers ?? 1;
    if (!Number.isInteger(max) || max < 1 || max > this.#maxPlayersLimit) {
      throw lobbyError('lobby.bad_request', `maxPlayers must be a whole number from 1 to ${this.#maxPlayersLimit}`);
    }
    if (!Number.isInteger(min) || min < 1 || min > max) {
      throw lobbyError('lobby.bad_request', 'minPlayers must be a whole number from 1 to maxPlayers');
    }
    if (req.password !== undefined && (typeof req.password !== 'string' || req.password.length === 0)) {
      throw lobbyError('lobby.bad_request', 'a lobby password must be a non-empty string');
    }
    const lobby: Lobby = {
      id: this.#newId(),
      name: req.name ?? `${req.owner.displayName}'s lobby`,
      mode: req.mode,
      ownerId: req.owner.playerId,
      settings: req.settings,
      maxPlayers: max,
      minPlayers: min,
      private: req.private === true,
      code: req.private === true ? this.#uniqueCode() : undefined,
      hasPassword: req.password !== undefined,
      passwordHash: req.password === undefined ? undefined : digest(req.password),
      state: 'open',
      createdAt: now,
      members: [member(req.owner, now)],
      banned: new Set(),
    };
    this.#byId.set(lobby.id, lobby);
    if (lobby.code !== undefined) this.#byCode.set(lobby.code, lobby);
    this.#lobbyOf.set(req.owner.playerId, lobby);
    this.#events.push({ type: 'created', lobby: view(lobby) });
    return view(lobby);
  }

  get(lobbyId: string): LobbyView | undefined {
    const l = this.#byId.get(lobbyId);
    return l && view(l);
  }

  /** The lobby a player is in, if any. */
  lobbyOf(playerId: string): LobbyView | undefined {
    const l = this.#lobbyOf.get(playerId);
    return l && view(l);
  }

  /** Public lobbies only, oldest first. */
  list(filter: LobbyFilter = {}): LobbyView[] {
    const out: LobbyView[] = [];
    const limit = filter.limit ?? 100;
    for (const l of this.#byId.values()) {
      if (out.length >= limit) break;
      if (l.private) continue;
      if (filter.mode !== undefined && l.mode !== filter.mode) continue;
      if (!(filter.includeStarted ?? false) && l.state !== 'open') continue;
      if ((filter.hasSpace ?? true) && l.members.length >= l.maxPlayers) continue;
      const v = view(l);
      if (filter.where && !filter.where(v.settings, v)) continue;
      out.push(v);
    }
    return out;
  }

  /**
   * Join a public lobby by id, or any lobby by its code. A private lobby's id alone is not enough.
   * A lobby with a password also needs it; a password given to a lobby without one is ignored.
   */
  join(target: JoinTarget, who: Joiner, now: number): LobbyView {
    const id = 'lobbyId' in target ? target.lobbyId : undefined;
    const byId = id !== undefined ? this.#byId.get(id) : undefined;
    const legacyCode = id !== undefined && target.password !== undefined && (!byId || byId.private);
    const code = 'code' in target ? target.code : legacyCode ? target.password : undefined;
    // A private lobby reached by id looks missing: its id must not work as a join code.
    const lobby = code !== undefined ? this.#byCode.get(normalizeCode(code)) : byId?.private ? undefined : byId;
    if (!lobby) {
      throw lobbyError('lobby.not_found', code !== undefined ? `no lobby has the code "${code}"` : `lobby ${id} does not exist`);
    }
    if (this.#lobbyOf.get(who.playerId) === lobby) return view(lobby); // joining twice is a no-op
    this.#assertFree(who.playerId);
    // a code sent the 1.0 way came in the password's place, so it cannot open a lobby with a password
    if (lobby.passwordHash !== undefined && (legacyCode || !samePassword(lobby.passwordHash, target.password))) {
      throw lobbyError('lobby.bad_password', target.password === undefined ? 'this lobby needs a password' : 'wrong lobby password');
    }
    if (lobby.banned.has(who.playerId)) throw lobbyError('lobby.banned', 'you were removed from this lobby and cannot rejoin');
    if (lobby.state === 'started') throw lobbyError('lobby.started', 'this lobby has already started its game');
    if (lobby.members.length >= lobby.maxPlayers) {
      throw lobbyError('lobby.full', `this lobby is full (${lobby.maxPlayers} players)`);
    }
    const m = member(who, now);
    lobby.members.push(m);
    this.#lobbyOf.set(who.playerId, lobby);
    this.#events.push({ type: 'joined', lobby: view(lobby), member: { ...m } });
    return view(lobby);
  }

  leave(lobbyId: string, playerId: string, _now: number): void {
    const lobby = this.#memberLobby(lobbyId, playerId);
    this.#remove(lobby, playerId, 'left');
  }

  setReady(lobbyId: string, playerId: string, ready: boolean, _now: number): LobbyView {
    const lobby = this.#memberLobby(lobbyId, playerId);
    if (lobby.state !== 'open') throw lobbyError('lobby.started', 'the game has already started');
    const m = lobby.members.find((x) => x.playerId === playerId)!;
    if (m.ready !== ready) {
      m.ready = ready;
      this.#events.push({ type: 'ready-changed', lobby: view(lobby), playerId, ready });
    }
    return view(lobby);
  }

  /** Owner changes settings (and maybe maxPlayers). Everyone's ready flag resets: they agreed to other terms. */
  updateSettings(lobbyId: string, by: string, change: { settings?: unknown; maxPlayers?: number; name?: string }, _now: number): LobbyView {
    const lobby = this.#ownedLobby(lobbyId, by);
    if (lobby.state !== 'open') throw lobbyError('lobby.started', 'the game has already started');
    if (change.maxPlayers !== undefined) {
      const max = change.maxPlayers;
      if (!Number.isInteger(max) || max < Math.max(lobby.members.length, lobby.minPlayers) || max > this.#maxPlayersLimit) {
        throw lobbyError(
          'lobby.bad_request',
          `maxPlayers must be a whole number from ${Math.max(lobby.members.length, lobby.minPlayers)} to ${this.#maxPlayersLimit}`,
        );
      }
      lobby.maxPlayers = max;
    }
    if ('settings' in change) lobby.settings = change.settings;
    if (change.name !== undefined) lobby.name = change.name;
    for (const m of lobby.members) m.ready = false;
    this.#events.push({ type: 'settings-changed', lobby: view(lobby) });
    return view(lobby);
  }

  /** Owner removes a member; by default the member may not rejoin this lobby. */
  kick(lobbyId: string, by: string, target: string, _now: number, opts: { ban?: boolean } = {}): void {
    const lobby = this.#ownedLobby(lobbyId, by);
    if (target === by) throw lobbyError('lobby.bad_request', 'the owner cannot kick themselves; leave instead');
    if (!lobby.members.some((m) => m.playerId === target)) {
      throw lobbyError('lobby.not_member', `player ${target} is not in this lobby`);
    }
    if (opts.ban ?? true) lobby.banned.add(target);
    this.#remove(lobby, target, 'kicked', by);
  }

  /**
   * The owner hands ownership to another member (`lobby.set_owner`). Only the owner may, only to a
   * member, and only while the lobby is open; giving it to oneself changes nothing.
   */
  setOwner(lobbyId: string, by: string, target: string, _now: number): LobbyView {
    const lobby = this.#ownedLobby(lobbyId, by);
    if (lobby.state !== 'open') throw lobbyError('lobby.started', 'the game has already started; the owner can no longer change');
    if (!lobby.members.some((m) => m.playerId === target)) {
      throw lobbyError('lobby.not_member', `player ${target} is not in this lobby`);
    }
    if (target === by) return view(lobby);
    lobby.ownerId = target;
    this.#events.push({ type: 'owner-changed', lobby: view(lobby), previousOwnerId: by, ownerId: target, reason: 'handed' });
    return view(lobby);
  }

  /**
   * Owner starts the game once every other member is ready. Emits `started` with the members.
   * `busy`: members the caller found still in a game (player id -> what, e.g. "game session S"):
   * the start is refused (`lobby.member_in_session`, naming the first) once it would otherwise go.
   */
  start(lobbyId: string, by: string, _now: number, busy?: ReadonlyMap<string, string>): LobbyMember[] {
    const lobby = this.#ownedLobby(lobbyId, by);
    if (lobby.state !== 'open') throw lobbyError('lobby.started', 'the game has already started');
    if (lobby.members.length < lobby.minPlayers) {
      throw lobbyError('lobby.too_few_players', `need at least ${lobby.minPlayers} players to start, have ${lobby.members.length}`);
    }
    // The owner pressing start is their "ready".
    const waiting = lobby.members.filter((m) => !m.ready && m.playerId !== lobby.ownerId).map((m) => m.playerId);
    if (waiting.length > 0) throw lobbyError('lobby.not_ready', `${waiting.length} player(s) are not ready`, { details: { waiting } });
    const inGame = busy && lobby.members.find((m) => busy.has(m.playerId));
    if (inGame) {
      const what = busy!.get(inGame.playerId)!;
      throw lobbyError('lobby.member_in_session', `${inGame.displayName} (${inGame.playerId}) is still in ${what}; start again once it is over`, {
        details: { playerId: inGame.playerId, in: what },
      });
    }
    lobby.state = 'started';
    const members = lobby.members.map((m) => ({ ...m }));
    this.#events.push({ type: 'started', lobby: view(lobby), members });
    return members;
  }

  /**
   * The start fell through before its game began: the lobby is open again (members and ready flags
   * as they were), so the owner may start it again. A lobby not started, or gone, is left alone.
   */
  reopen(lobbyId: string, reason: string, _now: number): void {
    const lobby = this.#byId.get(lobbyId);
    if (!lobby || lobby.state !== 'started') return;
    lobby.state = 'open';
    this.#events.push({ type: 'reopened', lobby: view(lobby), reason });
  }

  /** Server-side removal (game over, admin action): members are released. */
  close(lobbyId: string): void {
    const lobby = this.#byId.get(lobbyId);
    if (!lobby) return;
    this.#drop(lobby);
    this.#events.push({ type: 'closed', lobby: view(lobby), reason: 'closed' });
  }

  get size(): number {
    return this.#byId.size;
  }

  /** The lobby's whole state (see LobbySnapshot), for a durable store. */
  snapshot(lobbyId: string): LobbySnapshot | undefined {
    const l = this.#byId.get(lobbyId);
    if (!l) return undefined;
    return { ...view(l), banned: [...l.banned], ...(l.passwordHash ? { passwordHash: l.passwordHash.toString('hex') } : {}) };
  }

  /**
   * Puts back a lobby saved before a restart (or by another Auth node), replacing the one with
   * that id; queues no event (nothing changed for its members). A member already in another lobby
   * here stays there and is left out of this one.
   */
  restore(s: LobbySnapshot): LobbyView {
    const old = this.#byId.get(s.id);
    if (old) this.#drop(old);
    const members = s.members.filter((m) => !this.#lobbyOf.has(m.playerId)).map((m) => ({ ...m }));
    const lobby: Lobby = {
      ...s,
      members,
      ownerId: members.some((m) => m.playerId === s.ownerId) ? s.ownerId : (members[0]?.playerId ?? s.ownerId),
      banned: new Set(s.banned),
      passwordHash: s.passwordHash === undefined ? undefined : Buffer.from(s.passwordHash, 'hex'),
    };
    lobby.hasPassword = lobby.passwordHash !== undefined;
    this.#byId.set(lobby.id, lobby);
    if (lobby.code !== undefined) this.#byCode.set(lobby.code, lobby);
    for (const m of members) this.#lobbyOf.set(m.playerId, lobby);
    return view(lobby);
  }

  /** Forgets a lobby without an event (it was closed on another Auth node, which told its members). */
  forget(lobbyId: string): void {
    const lobby = this.#byId.get(lobbyId);
    if (lobby) this.#drop(lobby);
  }

  #remove(lobby: Lobby, playerId: string, reason: LeaveReason, by?: string): void {
    lobby.members = lobby.members.filter((m) => m.playerId !== playerId);
    this.#lobbyOf.delete(playerId);
    if (lobby.members.length === 0) {
      this.#drop(lobby);
      this.#events.push({ type: 'left', lobby: view(lobby), playerId, reason, ...(by ? { by } : {}) });
      this.#events.push({ type: 'closed', lobby: view(lobby), reason: 'empty' });
      return;
    }
    const previousOwnerId = lobby.ownerId;
    // Ownership goes to whoever has been here longest: members are kept in join order.
    if (previousOwnerId === playerId) lobby.ownerId = lobby.members[0]!.playerId;
    this.#events.push({ type: 'left', lobby: view(lobby), playerId, reason, ...(by ? { by } : {}) });
    if (lobby.ownerId !== previousOwnerId) {
      this.#events.push({ type: 'owner-changed', lobby: view(lobby), previousOwnerId, ownerId: lobby.ownerId, reason: 'left' });
    }
  }

  #drop(lobby: Lobby): void {
    this.#byId.delete(lobby.id);
    if (lobby.code !== undefined) this.#byCode.delete(lobby.code);
    for (const m of lobby.members) this.#lobbyOf.delete(m.playerId);
  }

  #assertFree(playerId: string): void {
    const current = this.#lobbyOf.get(playerId);
    if (current) {
      throw lobbyError('lobby.already_in_lobby', `player ${playerId} is already in lobby ${current.id}; leave it first`);
    }
  }

  #memberLobby(lobbyId: string, playerId: string): Lobby {
    const lobby = this.#byId.get(lobbyId);
    if (!lobby) throw lobbyError('lobby.not_found', `lobby ${lobbyId} does not exist`);
    if (this.#lobbyOf.get(playerId) !== lobby) throw lobbyError('lobby.not_member', `player ${playerId} is not in lobby ${lobbyId}`);
    return lobby;
  }

  #ownedLobby(lobbyId: string, playerId: string): Lobby {
    const lobby = this.#memberLobby(lobbyId, playerId);
    if (lobby.ownerId !== playerId) throw lobbyError('lobby.not_owner', 'only the lobby owner can do that');
    return lobby;
  }

  #randomCode(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += JOIN_CODE_ALPHABET[this.#randomInt(JOIN_CODE_ALPHABET.length)];
    return s;
  }

  #uniqueCode(): string {
    for (let i = 0; i < 100; i++) {
      const c = this.#randomCode(this.#codeLength);
      if (!this.#byCode.has(c)) return c;
    }
    throw lobbyError('lobby.code_space_exhausted', 'could not find a free join code; raise codeLength');
  }
}

/** Codes are forgiving about case, spaces and dashes ("abc-def" finds "ABCDEF"). */
export function normalizeCode(code: string): string {
  return code.toUpperCase().replace(/[\s-]/g, '');
}

function member(j: Joiner, now: number): LobbyMember {
  const m: LobbyMember = { playerId: j.playerId, displayName: j.displayName, joinedAt: now, ready: false };
  if (j.data !== undefined) m.data = j.data;
  return m;
}

function digest(password: string): Buffer {
  return createHash('sha256').update(password.normalize('NFKC')).digest();
}

function samePassword(stored: Buffer, given: string | undefined): boolean {
  return given !== undefined && timingSafeEqual(stored, digest(given));
}

function view(l: Lobby): LobbyView {
  return {
    id: l.id,
    name: l.name,
    mode: l.mode,
    ownerId: l.ownerId,
    settings: l.settings,
    maxPlayers: l.maxPlayers,
    minPlayers: l.minPlayers,
    private: l.private,
    code: l.code,
    hasPassword: l.hasPassword,
    state: l.state,
    createdAt: l.createdAt,
    members: l.members.map((m) => ({ ...m })),
  };
}
