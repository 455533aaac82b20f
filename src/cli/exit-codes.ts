import type { ErrorKind } from '../errors.js';

/** Documented in docs/cli.md. Scripts rely on these numbers: never renumber. */
export const ExitCode = {
  ok: 0,
  check: 1,
  usage: 2,
  input: 3,
  conflict: 4,
  io: 5,
  refused: 6,
  internal: 70,
} as const;

export function exitCodeFor(kind: ErrorKind): number {
  return ExitCode[kind];
}
