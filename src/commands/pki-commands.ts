import type { Command } from 'commander';
import { register as registerCerts } from './certs.js';
import { register as registerRotate } from './rotate-clientauth.js';
import { register as registerSession } from './session.js';
import { register as registerConfig } from './config.js';
import { register as registerDemo } from './demo.js';

/** The administrator commands for the PKI and configs, in the order `iyesmp --help` lists them. */
export function register(program: Command): void {
  registerDemo(program);
  registerCerts(program);
  registerRotate(program);
  registerSession(program);
  registerConfig(program);
}
