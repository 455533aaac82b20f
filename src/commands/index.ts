import type { Command } from 'commander';
import { register as registerAdmin } from './admin.js';
import { register as registerDb } from './db.js';
import { register as registerNetcode } from './netcode.js';
import { register as registerServe } from './serve.js';

/**
 * Every command module exports `register(program)`. Keep this list the single place that knows them.
 * Command modules must not import heavy libraries at top level (see src/main.ts).
 */
export function registerCommands(_program: Command): void {
  // filled in as commands land
  registerAdmin(_program); // demo, certs, rotate-clientauth, session, config
  registerNetcode(_program); // netcode keygen|token|inspect|serve|connect
  registerServe(_program); // serve auth|host
  registerDb(_program); // db migrate|status
}
