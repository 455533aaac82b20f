// patches/@matrixai+async-locks+*.patch: a released RWLockWriter (every QUICConnection's and
// QUICStream's start/stop lock) must not keep its last acquisition's context (timer, abort
// controller, timeout error and their stack traces) for the life of the object holding the lock.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { RWLockWriter } from '@matrixai/async-locks';
import { Timer } from '@matrixai/timer';
import { describe, expect, it } from 'vitest';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Takes the lock once with a timer of its own in the context; a weak reference to that timer. */
async function acquireOnce(lock: RWLockWriter, kind: 'read' | 'write'): Promise<WeakRef<Timer>> {
  const timer = new Timer({ delay: 60_000 });
  const ref = new WeakRef(timer);
  if (kind === 'read') await lock.withReadF({ timer }, async () => {});
  else await lock.withWriteF({ timer }, async () => {});
  timer.cancel();
  await timer.catch(() => {});
  return ref;
}

async function collected(ref: WeakRef<object>): Promise<boolean> {
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 5));
    gc();
  }
  return ref.deref() === undefined;
}

describe('RWLockWriter after release', () => {
  it('keeps nothing of a write acquisition', async () => {
    const lock = new RWLockWriter();
    expect(await collected(await acquireOnce(lock, 'write'))).toBe(true);
    // and still works: a reader and a writer after it
    await lock.withReadF(async () => {});
    await lock.withWriteF(async () => {});
    expect(lock.isLocked()).toBe(false);
  });

  it('keeps nothing of the last reader', async () => {
    const lock = new RWLockWriter();
    expect(await collected(await acquireOnce(lock, 'read'))).toBe(true);
  });

  it('readers overlapping a writer still all get the lock', async () => {
    const lock = new RWLockWriter();
    const order: string[] = [];
    const [release] = await lock.lock('write')();
    const readers = [1, 2, 3].map((i) => lock.withReadF(async () => order.push(`r${i}`)));
    const writer = lock.withWriteF(async () => order.push('w'));
    await release();
    await Promise.all([...readers, writer]);
    expect(order.sort()).toEqual(['r1', 'r2', 'r3', 'w']);
    expect(lock.isLocked()).toBe(false);
  });
});
