/**
 * The results outbox on disk (issue 12): written atomically with mode 0600, restored in order after a
 * restart with its times carried onto the new clock, bounded, and a damaged file set aside and
 * reported instead of stopping the host.
 */
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OutboxBody } from '../../src/host/host-domain.js';
import { ResultsOutbox } from '../../src/host/outbox.js';
import { type OutboxClock, OutboxStore, type OutboxStoreEvent } from '../../src/host/outbox-store.js';
import type { SessionReport } from '../../src/host/types.js';
import { driven, ofType } from './helpers.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'iyesmp-outbox-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function report(sessionId: string, endedAt: number, gameData?: unknown): SessionReport {
  return {
    sessionId,
    transport: 'quic',
    end: 'completed',
    createdAt: endedAt - 500,
    beganAt: endedAt - 400,
    endedAt,
    players: [],
    outcomes: { a: { result: 'win' } },
    ...(gameData !== undefined ? { gameData } : {}),
  };
}
const result = (sessionId: string, endedAt: number, gameData?: unknown) => ({
  id: `result:${sessionId}`,
  kind: 'result' as const,
  body: { kind: 'result' as const, report: report(sessionId, endedAt, gameData) },
});

/** A host process: its own monotonic clock and the wall clock, an outbox kept in `dir`. */
async function boot(clock: { mono: number; wall: number }, opts: { capacity?: number; maxEntryBytes?: number; maxTotalBytes?: number } = {}) {
  const c: OutboxClock = { mono: () => clock.mono, wall: () => clock.wall };
  const store = await OutboxStore.open({ dir, clock: c, ...opts });
  const events: OutboxStoreEvent[] = [];
  store.on('warning', (e) => events.push(e));
  // driven as the host drives it: the store gets each of the outbox's events right after the call that queued it
  const { core: outbox } = driven(new ResultsOutbox<OutboxBody>({ ackTimeoutMs: 1000, ...(opts.capacity ? { capacity: opts.capacity } : {}) }), (e) =>
    store.apply(e),
  );
  outbox.addServer('auth-a');
  const items = await store.load();
  for (const item of items) outbox.enqueue(item, clock.mono);
  return { outbox, store, events, restored: items.length };
}

const files = async () => (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();

describe('OutboxStore', () => {
  it('keeps queued items on disk (0600 files in a 0700 folder) and restores them, oldest first, in a new process', async () => {
    const a = await boot({ mono: 5_000, wall: 1_000_000 });
    a.outbox.enqueue(result('s2', 4_000), 4_100);
    a.outbox.enqueue(result('s1', 3_000), 3_100);
    a.outbox.enqueue(
      {
        id: 'telemetry:s1',
        kind: 'telemetry',
        body: {
          kind: 'telemetry',
          telemetry: {
            sessionId: 's1',
            transport: 'quic',
            readyingMs: 1,
            inGameMs: 2,
            expectedPlayers: 2,
            admittedPlayers: 2,
            noShows: 0,
            reconnects: 0,
            refusals: {},
          },
        },
      },
      4_200,
    );
    await a.store.idle();
    expect(await files()).toHaveLength(3);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    for (const f of await files()) expect((await stat(path.join(dir, f))).mode & 0o777).toBe(0o600);

    // the next process: its monotonic clock starts near 0, a minute of wall time later
    const b = await boot({ mono: 100, wall: 1_060_000 });
    expect(b.restored).toBe(3);
    expect(b.outbox.ids()).toEqual(['result:s1', 'result:s2', 'telemetry:s1']);
    // s2 ended 1 s before the save; a minute passed: on the new clock it ended 61 s ago
    b.outbox.onConnected('auth-a', 200);
    const s2 = b.outbox.pending('auth-a', 200).find((i) => i.id === 'result:s2')!;
    expect(s2.body.kind === 'result' && s2.body.report.endedAt).toBe(100 - 61_000);
    expect(s2.body.kind === 'result' && s2.body.report.createdAt).toBe(100 - 61_500);
    expect(s2.enqueuedAt).toBe(100 - 60_900);
    expect(b.events).toEqual([]);
    await b.store.idle();
    expect(await files()).toHaveLength(3); // restoring writes nothing again

    // delivered: the file goes
    b.outbox.ack('auth-a', 'result:s1', 201);
    await b.store.idle();
    expect(await files()).toHaveLength(2);
    const c = await boot({ mono: 0, wall: 1_070_000 });
    expect(c.outbox.ids()).toEqual(['result:s2', 'telemetry:s1']);
  });

  it('an item settled before its write ran is never written (no file left behind)', async () => {
    const a = await boot({ mono: 0, wall: 0 }, { capacity: 2 });
    a.outbox.enqueue(result('s1', 1), 1);
    a.outbox.onConnected('auth-a', 2);
    a.outbox.markSent('auth-a', 'result:s1', 2);
    a.outbox.ack('auth-a', 'result:s1', 3); // acked before the store got to write it
    a.outbox.enqueue(result('s2', 4), 4);
    a.outbox.enqueue(result('s3', 5), 5);
    a.outbox.enqueue(result('s4', 6), 6); // drops s2, still waiting for its write
    await a.store.idle();
    expect(a.outbox.ids()).toEqual(['result:s3', 'result:s4']);
    expect(await files()).toHaveLength(2);
    const b = await boot({ mono: 0, wall: 10 });
    expect(b.outbox.ids()).toEqual(['result:s3', 'result:s4']);
  });

  it('a damaged file is set aside in corrupt/ and reported; the rest is restored; crash leftovers are removed', async () => {
    const a = await boot({ mono: 0, wall: 0 });
    a.outbox.enqueue(result('good', 1), 1);
    a.outbox.enqueue(result('bad', 2), 2);
    await a.store.idle();
    const [f1, f2] = await files();
    // one file truncated mid-write by a failing disk, and a temp file left by a crash
    const victim = JSON.parse(await readFile(path.join(dir, f1!), 'utf8')).id === 'result:bad' ? f1! : f2!;
    await writeFile(path.join(dir, victim), '{"v":1,"id":"result:ba');
    await writeFile(path.join(dir, '.x.json.tmp-abc'), 'partial');
    // a well-formed file under a name that is not its id's
    await writeFile(path.join(dir, `${'0'.repeat(64)}.json`), await readFile(path.join(dir, victim === f1 ? f2! : f1!)));

    const b = await boot({ mono: 0, wall: 5 });
    expect(b.outbox.ids()).toEqual(['result:good']);
    const aside = ofType(b.events as OutboxStoreEvent[], 'set_aside');
    expect(aside).toHaveLength(2);
    expect(aside.map((e) => e.message).join('\n')).toMatch(/damaged/);
    expect((await readdir(path.join(dir, 'corrupt'))).sort()).toEqual([`${'0'.repeat(64)}.json.5`, `${victim}.5`].sort());
    expect((await readdir(dir)).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('is bounded: an item over the size limits stays in memory only (reported); a dropped item loses its file', async () => {
    const a = await boot({ mono: 0, wall: 0 }, { capacity: 2, maxEntryBytes: 2_000 });
    a.outbox.enqueue(result('big', 1, 'x'.repeat(5_000)), 1);
    a.outbox.enqueue(result('r1', 2), 2);
    await a.store.idle();
    expect(ofType(a.events as OutboxStoreEvent[], 'not_saved').map((e) => e.id)).toEqual(['result:big']);
    expect(a.outbox.has('result:big')).toBe(true);
    expect(await files()).toHaveLength(1);
    a.outbox.enqueue(result('r2', 3), 3); // capacity 2: the oldest (big) is dropped
    a.outbox.enqueue(result('r3', 4), 4); // then r1, whose file goes
    await a.store.idle();
    expect(a.outbox.ids()).toEqual(['result:r2', 'result:r3']);
    const left = await files();
    expect(left).toHaveLength(2);
    const entryBytes = (await stat(path.join(dir, left[0]!))).size;

    // the folder's total: room for one more entry, not two
    await rm(dir, { recursive: true });
    const b = await boot({ mono: 0, wall: 0 }, { maxTotalBytes: Math.floor(entryBytes * 1.5) });
    b.outbox.enqueue(result('t1', 1), 1);
    b.outbox.enqueue(result('t2', 2), 2);
    await b.store.idle();
    expect(ofType(b.events as OutboxStoreEvent[], 'not_saved').map((e) => e.id)).toEqual(['result:t2']);
    expect(await files()).toHaveLength(1);
    expect(b.outbox.ids()).toEqual(['result:t1', 'result:t2']);
  });
});
