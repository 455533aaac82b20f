/**
 * HostServer.stats() and the allow-list drop log line: stray datagrams to the player endpoint are
 * counted, logged once per interval (not once per datagram), and the last ones at shutdown.
 */
import { createSocket } from 'node:dgram';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthServer } from '../../src/auth/server.js';
import { relayGame } from '../../src/serve/game.js';
import { makeFx, startAuth, startHost, until, type Fx } from './helpers.js';

let fx: Fx;
let auth: AuthServer;

beforeAll(async () => {
  fx = await makeFx();
  auth = await startAuth(fx);
}, 60_000);

afterAll(async () => {
  await auth?.close({ graceMs: 0 });
  await fx?.cleanup();
}, 30_000);

async function sendStray(port: number, count: number, bytes: number): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  for (let i = 0; i < count; i++) await new Promise<void>((r) => s.send(Buffer.alloc(bytes, 7), port, '127.0.0.1', () => r()));
  const from = s.address().port;
  s.close();
  return from;
}

describe('host stats', () => {
  it('counts allow-list drops, reports sessions, outbox and auth links, and logs drops rate-limited', async () => {
    const lines: Array<Record<string, any>> = [];
    const logger = pino({ level: 'info' }, { write: (t: string) => void lines.push(JSON.parse(t)) });
    const host = await startHost(fx, auth.hostPort, relayGame, { logger, dropLogIntervalMs: 600_000 });
    await until(() => host.connectedAuthServers().length === 1, 'registration');
    const s0 = host.stats();
    expect(s0).toMatchObject({ sessions: 0, players: 0, outbox: { size: 0, dropped: 0 }, authLinks: { up: 1, total: 1 } });
    expect(s0.allowList).toMatchObject({ dropped: 0, droppedBytes: 0, entries: 0 });
    const dropLines = () => lines.filter((l) => l.allowList !== undefined && /allow-list dropped/.test(l.msg));

    const from1 = await sendStray(host.playerPort, 3, 100);
    await until(() => host.stats().allowList.dropped >= 3, 'the first drops');
    await until(() => dropLines().length === 1, 'one drop log line');
    expect(dropLines()[0]!.allowList.lastDroppedFrom).toMatch(/^127\.0\.0\.1:\d+$/);

    // more drops inside the interval: counted, but no new line until the interval passes
    const from2 = await sendStray(host.playerPort, 5, 200);
    await until(() => host.stats().allowList.dropped >= 8, 'the second drops');
    const st = host.stats().allowList;
    expect(st.droppedBytes).toBe(3 * 100 + 5 * 200);
    expect(st.lastDroppedFrom).toBe(`127.0.0.1:${from2}`);
    expect(from2).not.toBe(from1);
    for (let i = 0; i < 5; i++) host.tick();
    expect(dropLines()).toHaveLength(1);

    // shutdown writes what is left, and the stats with the stop line
    await host.close({ graceMs: 0 });
    expect(dropLines()).toHaveLength(2);
    expect(dropLines()[1]!.allowList).toMatchObject({ dropped: 8, droppedBytes: 1300, lastDroppedFrom: `127.0.0.1:${from2}` });
    expect(dropLines()[0]!.allowList.newDrops + dropLines()[1]!.allowList.newDrops).toBe(8);
    const stop = lines.find((l) => l.msg === 'host server stopped')!;
    expect(stop.stats).toMatchObject({ allowList: { dropped: 8 }, authLinks: { up: 0, total: 1 } });
  }, 60_000);
});
