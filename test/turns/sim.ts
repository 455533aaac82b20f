/**
 * An in-memory MQTT stand-in for the turns machines: exact-topic subscriptions (no wildcards),
 * retained messages, FIFO delivery, and the room ACL the host asks for enforced on every publish
 * and subscribe. Deterministic: injected clock and a seeded random source. No sockets.
 */
import { createHash } from 'node:crypto';
import { ticTacToeHostGame, type TicTacToeHostSession } from '../../examples/tictactoe/host-game.js';
import type { HostEvent, InboundMessage, PlayerEvent, RoomAcl, TopicGrant, TurnsAction, Verdict } from '../../src/turns/index.js';
import { TurnsHost, type TurnsHostOptions, TurnsPlayer } from '../../src/turns/index.js';

/** Deterministic "random" bytes: SHA-256 of a label and a counter. */
export function seededRandom(label: string): (n: number) => Uint8Array {
  let counter = 0;
  return (n) => {
    const out = new Uint8Array(n);
    for (let off = 0; off < n; off += 32) {
      const block = createHash('sha256').update(`${label}:${counter++}`).digest();
      out.set(block.subarray(0, Math.min(32, n - off)), off);
    }
    return out;
  };
}

export interface Delivery {
  from: string;
  to: string;
  topic: string;
  payload: Uint8Array;
  retained: boolean;
}

type Machine = { receive(msg: InboundMessage, now: number): TurnsAction<unknown>[] };

/** The game behind the host's `validate` action. */
export type Validator = (playerId: string, action: string, data: unknown) => Verdict | Promise<Verdict>;

export class Loop {
  now = 1_750_000_000_000;
  readonly retained = new Map<string, Uint8Array>();
  readonly subs = new Map<string, Set<string>>();
  readonly machines = new Map<string, Machine>();
  readonly events = new Map<string, unknown[]>();
  readonly published: { from: string; topic: string; payload: Uint8Array; retain: boolean; qos: number }[] = [];
  readonly refusals: string[] = [];
  acl: RoomAcl | undefined;
  queue: Delivery[] = [];
  /** returns false to drop a delivery, or a changed one */
  intercept: ((d: Delivery) => Delivery | false) | undefined;
  validator: Validator | undefined;
  host: TurnsHost | undefined;
  /** participant -> broker connected (a disconnected participant gets nothing) */
  readonly offline = new Set<string>();

  add(name: string, m: Machine): void {
    this.machines.set(name, m);
    this.subs.set(name, new Set());
    this.events.set(name, []);
  }

  grant(who: string): TopicGrant | undefined {
    if (this.acl === undefined) return undefined;
    return who === 'host' ? this.acl.host : this.acl.players[who];
  }

  /** Performs a machine's actions in order, as an adapter would. */
  async perform(who: string, actions: TurnsAction<unknown>[]): Promise<void> {
    for (const a of actions) {
      switch (a.type) {
        case 'publish': {
          const g = this.grant(who);
          if (g !== undefined && (!g.publish.includes(a.topic) || (a.retain && !g.retain.includes(a.topic)))) {
            this.refusals.push(`${who} publish ${a.topic}`);
            break;
          }
          this.published.push({ from: who, topic: a.topic, payload: a.payload, retain: a.retain, qos: a.qos });
          if (a.retain) {
            if (a.payload.length === 0) this.retained.delete(a.topic);
            else this.retained.set(a.topic, a.payload);
          }
          for (const [to, set] of this.subs)
            if (set.has(a.topic) && !this.offline.has(to)) this.queue.push({ from: who, to, topic: a.topic, payload: a.payload, retained: false });
          break;
        }
        case 'subscribe':
          for (const t of a.topics) {
            const g = this.grant(who);
            if (t.includes('+') || t.includes('#') || (g !== undefined && !g.subscribe.includes(t))) {
              this.refusals.push(`${who} subscribe ${t}`);
              continue;
            }
            this.subs.get(who)!.add(t);
            const r = this.retained.get(t);
            if (r !== undefined) this.queue.push({ from: 'broker', to: who, topic: t, payload: r, retained: true });
          }
          break;
        case 'unsubscribe':
          for (const t of a.topics) this.subs.get(who)!.delete(t);
          break;
        case 'acl':
          this.acl = a.acl;
          // a broker drops subscriptions the new ACL no longer grants
          for (const [name, set] of this.subs) {
            const g = this.grant(name);
            if (g === undefined) continue;
            for (const t of set) if (!g.subscribe.includes(t)) set.delete(t);
          }
          break;
        case 'validate': {
          const verdict = await this.validator!(a.playerId, a.action, a.data);
          await this.perform(who, this.host!.validated(a.id, verdict, this.now));
          break;
        }
        case 'event':
          this.events.get(who)!.push(a.event);
          break;
      }
    }
  }

  /** Delivers until nothing is left (bounded). */
  async run(max = 10_000): Promise<void> {
    for (let i = 0; i < max && this.queue.length > 0; i++) {
      let d: Delivery | false = this.queue.shift()!;
      if (this.intercept) d = this.intercept(d);
      if (d === false || this.offline.has(d.to)) continue;
      const m = this.machines.get(d.to);
      if (m === undefined) continue;
      await this.perform(d.to, m.receive({ topic: d.topic, payload: d.payload, retained: d.retained }, this.now));
    }
    if (this.queue.length > 0) throw new Error('loop did not settle');
  }

  hostEvents(): HostEvent[] {
    return this.events.get('host') as HostEvent[];
  }
  playerEvents(name: string): PlayerEvent[] {
    return this.events.get(name) as PlayerEvent[];
  }
}

/** The example's unchanged `HostGame` behind the validate hook: its onAction answers, its broadcasts become host messages. */
export function ticTacToeValidator(loop: Loop, players: string[]): { validate: Validator; ended: () => unknown } {
  let handler: ((playerId: string, ext: unknown) => unknown) | undefined;
  let results: unknown;
  const s = {
    players: players.map((playerId) => ({ playerId })),
    broadcast: (m: { ext?: unknown }) => {
      void loop.perform('host', loop.host!.send(undefined, m.ext, loop.now));
    },
    onAction: (h: (playerId: string, ext: unknown) => unknown) => {
      handler = h;
    },
    end: (r: unknown) => {
      results = r;
    },
    on: () => undefined,
  } as unknown as TicTacToeHostSession;
  ticTacToeHostGame.begin(s);
  return {
    validate: async (playerId, _action, data) => {
      try {
        return { ok: true, reply: await handler!(playerId, data) };
      } catch (err) {
        // the example throws the package's IyesmpError (from dist/): match by shape, not by class
        const e = err as { code?: unknown; message?: unknown };
        if (typeof e.code === 'string') return { ok: false, code: e.code, message: String(e.message) };
        throw err;
      }
    },
    ended: () => results,
  };
}

export const ROOM = { game: 'tictactoe', room: 'r1', sessionId: 'sess-1' } as const;

/** A host and players wired through a loop, all started and registered. */
export async function room(opts: { players?: string[]; encrypt?: boolean; host?: Partial<TurnsHostOptions>; validator?: Validator } = {}) {
  const players = opts.players ?? ['alice', 'bob'];
  const loop = new Loop();
  const host = new TurnsHost({ ...ROOM, players, random: seededRandom('host'), encrypt: opts.encrypt === true, ...(opts.host ?? {}) });
  loop.host = host;
  loop.add('host', host);
  const ttt = ticTacToeValidator(loop, players);
  loop.validator = opts.validator ?? ttt.validate;
  await loop.perform('host', host.start(loop.now));
  const ps = new Map<string, TurnsPlayer>();
  for (const id of players) {
    const p = new TurnsPlayer({ ...ROOM, playerId: id, hostKey: host.publicKey, random: seededRandom(id), now: loop.now });
    ps.set(id, p);
    loop.add(id, p);
    await loop.perform(id, p.start(loop.now));
    await loop.run();
  }
  return { loop, host, players: ps, ttt };
}

export async function act(loop: Loop, who: string, actions: TurnsAction<unknown>[]): Promise<void> {
  await loop.perform(who, actions);
  await loop.run();
}
