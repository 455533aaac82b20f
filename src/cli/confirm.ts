import { createInterface } from 'node:readline/promises';
import { cliError } from './errors.js';
import { isInteractive } from './pki-dir.js';

/**
 * The guard in front of a destructive command, as step and gh do it: `--yes` in scripts, a y/N
 * question on a terminal, and without either a usage error (exit 2) rather than a silent change.
 */
export async function confirmDestructive(o: {
  yes?: boolean;
  question: string;
  what: string;
  ask?: (q: string) => Promise<string>;
  /** for a usage error without a terminal; default mentions --dry-run */
  hint?: string;
}): Promise<void> {
  if (o.yes) return;
  if (!o.ask && !isInteractive()) {
    throw cliError('confirmation_required', `${o.what} needs confirmation and there is no terminal to ask on`, {
      hint: o.hint ?? 'pass --yes to confirm in a script (--dry-run shows what would change)',
    });
  }
  const answer = await (o.ask ?? askLine)(`${o.question} [y/N] `);
  if (!/^y(es)?$/i.test(answer.trim())) throw cliError('cancelled', `${o.what}: not confirmed, nothing changed`);
}

async function askLine(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
}
