#!/usr/bin/env node
// Launcher: loads the compiled CLI. Kept tiny so `iyesmp --help` starts fast.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('error: iyesmp is not built (dist/main.js is missing)\n  hint: run `npm run build` in the iyesmp checkout\n');
  process.exit(70);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv);
