import type { Command } from 'commander';
import { register as registerPki } from './pki-commands.js';
import { register as registerAdmin } from './admin-group.js';
import { register as registerTop } from './top.js';
import { register as registerDb } from './db.js';
import { register as registerNetcode } from './netcode.js';
import { register as registerServe } from './serve.js';
import { register as registerBundle } from './bundle.js';
import { register as registerCompletion } from './completion.js';

/**
 * Every command module exports `register(program)`. Keep this list the single place that knows them.
 * Command modules must not import heavy libraries at top level (see src/main.ts).
 */
export function registerCommands(_program: Command): void {
  // filled in as commands land
  registerPki(_program); // demo, certs, rotate-clientauth, session, config
  registerNetcode(_program); // netcode keygen|token|inspect|serve|connect
  registerServe(_program); // serve auth|host
  registerDb(_program); // db migrate|status
  registerAdmin(_program); // admin status|players|sessions|hosts|kick|ban|unban|drain|results|audit
  registerTop(_program); // top
  registerBundle(_program); // bundle auth|host NAME
  registerCompletion(_program); // completion bash|zsh|fish (last: it reads every command registered before it)
}
