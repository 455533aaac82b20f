// A CPU profile of one phase of a bench's server child (not a bench itself). With
// BENCH_PROF_DIR=<dir>, the parent sends { prof: 'start' } and later { prof: 'stop', name }: the
// child answers { prof: 'started' } and, once <dir>/<name>.cpuprofile is written, { prof: 'written' }
// (a killed child never writes `--cpu-prof`'s, and whole-run profiles bury the phase).
import { writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Installs the handler in a child when BENCH_PROF_DIR is set; otherwise does nothing. */
export async function profileOnRequest() {
  const dir = process.env.BENCH_PROF_DIR;
  if (!dir) return;
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  process.on('message', async (m) => {
    if (m?.prof === 'start') {
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
      process.send({ prof: 'started' });
    } else if (m?.prof === 'stop') {
      const { profile } = await session.post('Profiler.stop');
      await writeFile(path.join(dir, `${m.name}.cpuprofile`), JSON.stringify(profile));
      process.send({ prof: 'written' });
    }
  });
}
