import type { SessionTableOptions } from '../../src/host/session-table.js';
import { HostSessions } from '../../src/host/sessions.js';
import type { HostSessionEvent } from '../../src/host/events.js';
import { formatAddress } from '../../src/netcode/address.js';
import { ClientState } from '../../src/netcode/constants.js';
import { issueNetcodeHandoff, type NetcodeHandoffOptions } from '../../src/netcode/handoff.js';
import { netcodeExpectedPlayer } from '../../src/host/transports/netcode/seat.js';
import { type ClientMessage, type HostMessage, decodeHostMessage, encodeClientMessage } from '../../src/netcode/session/messages.js';
import { NetcodeHostTransport, type NetcodeHostEvent } from '../../src/host/transports/netcode/transport.js';
import { NetcodeUdpClient, type NetcodeClock, systemClock } from '../../src/netcode/udp.js';
import { afterEach } from 'vitest';
import { pollUntil } from '../support/wait.js';

export const KEY = new Uint8Array(32).fill(7);
export const OTHER_KEY = new Uint8Array(32).fill(9);
export const PROTOCOL = 0x1122_3344n;

/** A clock that tests can move forward (server) or stop (client: a stopped client sends nothing more). */
export class TestClock implements NetcodeClock {
  offset = 0;
  frozenAt: number | undefined;
  now(): number {
    return this.frozenAt ?? performance.now() / 1000 + this.offset;
  }
  unix(): bigint {
    return systemClock.unix();
  }
  freeze(): void {
    this.frozenAt = this.now();
  }
}

export interface Host {
  table: HostSessions;
  transport: NetcodeHostTransport;
  clock: TestClock;
  tableEvents: HostSessionEvent[];
  events: NetcodeHostEvent[];
  /** the session table's clock (ms), a counter the test moves */
  nowMs: { value: number };
}

export async function startHost(table: Partial<SessionTableOptions> = {}, enforceAddress = false, dropUnannounced = true): Promise<Host> {
  const sessions = new HostSessions({ maxSessions: 8, maxPlayers: 32, ...table });
  const clock = new TestClock();
  const nowMs = { value: 0 };
  const transport = await NetcodeHostTransport.listen({
    sessions,
    privateKey: KEY,
    protocolId: PROTOCOL,
    bind: '127.0.0.1:0',
    maxClients: 8,
    nowMs: () => nowMs.value,
    clock,
    enforceAddress,
    dropUnannounced,
  });
  const tableEvents: HostSessionEvent[] = [];
  sessions.on('session', (e) => tableEvents.push(e));
  const events: NetcodeHostEvent[] = [];
  transport.on('netcode', (e) => events.push(e));
  return { table: sessions, transport, clock, tableEvents, events, nowMs };
}

/**
 * For a test file: `cleanup` holds closers run newest first after each test, and `host` starts a
 * host transport that is closed there. Call at the file's top level.
 */
export function perTestHosts(): { cleanup: Array<() => Promise<void>>; host: (...args: Parameters<typeof startHost>) => Promise<Host> } {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });
  async function host(...args: Parameters<typeof startHost>): Promise<Host> {
    const h = await startHost(...args);
    cleanup.push(() => h.transport.close());
    return h;
  }
  return { cleanup, host };
}

/** Where the test players' datagrams come from: what an Auth server would announce for them. */
export const PLAYER_IP = '127.0.0.1';

export function createSession(h: Host, sessionId: string, playerIds: string[], extra: { minPlayers?: number } = {}): void {
  const r = h.table.create(
    {
      sessionId,
      transport: 'netcode',
      players: playerIds.map((playerId) => netcodeExpectedPlayer(sessionId, { playerId, displayName: `Player ${playerId}`, address: PLAYER_IP })),
      ...extra,
    },
    h.nowMs.value,
  );
  if (!r.ok) throw new Error(r.message);
}

export function token(h: Host, sessionId: string, playerId: string, extra: Partial<NetcodeHandoffOptions> = {}): Uint8Array {
  return issueNetcodeHandoff({
    privateKey: KEY,
    protocolId: PROTOCOL,
    host: { publicAddresses: [formatAddress(h.transport.boundAddress)] },
    sessionId,
    playerId,
    expireSeconds: 30,
    timeoutSeconds: 5,
    ...extra,
  }).connectToken;
}

/** A netcode client that keeps every host message it decodes. */
export class Player {
  readonly client: NetcodeUdpClient;
  readonly clock = new TestClock();
  readonly messages: HostMessage[] = [];

  constructor() {
    this.client = new NetcodeUdpClient({ clock: this.clock });
    this.client.on('payload', (p) => {
      const m = decodeHostMessage(p);
      if (m) this.messages.push(m);
    });
  }

  static async connect(tokenBytes: Uint8Array): Promise<Player> {
    const p = new Player();
    p.client.connect(tokenBytes);
    await p.client.waitUntilSettled(15_000);
    return p;
  }

  get connected(): boolean {
    return this.client.state === ClientState.connected;
  }

  send(m: ClientMessage): boolean {
    return this.client.sendPayload(encodeClientMessage(m));
  }

  /** Resolves when the client reaches `state`; rejects after the timeout. */
  async waitState(state: number, timeoutMs = 15_000): Promise<void> {
    await until(() => this.client.state === state, timeoutMs, `client state ${state}`);
  }

  bye(): Extract<HostMessage, { type: 'bye' }> | undefined {
    return this.messages.find((m): m is Extract<HostMessage, { type: 'bye' }> => m.type === 'bye');
  }

  games(): Uint8Array[] {
    return this.messages.filter((m): m is Extract<HostMessage, { type: 'game' }> => m.type === 'game').map((m) => m.data);
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

/** Polls `check` every 10 ms; resolves with its first truthy value. Bounded by `timeoutMs`. */
export function until<T>(check: () => T | undefined | null | false, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  return pollUntil(check, what, timeoutMs, 10) as Promise<T>;
}

/**
 * UDP may drop a datagram even on loopback under load, and the session messages are idempotent:
 * repeat `action` every 100 ms until `check` holds, as a real client would.
 */
export async function retry<T>(action: () => void, check: () => T | undefined | null | false, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    action();
    const stop = Date.now() + 100;
    while (Date.now() < stop) {
      const v = check();
      if (v) return v;
      await new Promise((r) => setTimeout(r, 10));
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
  }
}

export function ofType<E extends { type: string }, T extends E['type']>(events: readonly E[], t: T): Extract<E, { type: T }>[] {
  return events.filter((e): e is Extract<E, { type: T }> => e.type === t);
}
