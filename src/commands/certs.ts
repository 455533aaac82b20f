import type { Command } from 'commander';
import { register as registerInit } from './certs-init.js';
import { register as registerIssue } from './certs-issue.js';
import { register as registerList } from './certs-list.js';
import { register as registerShow } from './certs-show.js';
import { register as registerVerify } from './certs-verify.js';
import { register as registerCheck } from './certs-check.js';
import { register as registerRetire } from './certs-retire.js';

/** `iyesmp certs ...`: the PKI folder. Each subcommand lives in its own certs-*.ts file. */
export function register(program: Command): void {
  const group = program
    .command('certs')
    .description('create and inspect the PKI: Master, Auth, Host, ClientAuth, SessionAuth and Client certificates')
    .addHelpText(
      'after',
      `
The PKI folder is --dir, else $IYESMP_PKI_DIR, else ./pki.

Examples:
  $ iyesmp certs init --auth-name auth.example.com --host-ip 203.0.113.7 --host-ip 203.0.113.8 --passphrase-file ./ca.pass --sessionauth-unencrypted
  $ iyesmp certs list --json
  $ iyesmp certs verify ./game-build/client.crt --role client
  $ iyesmp certs check --within 30d`,
    );
  registerInit(group);
  registerIssue(group);
  registerList(group);
  registerShow(group);
  registerVerify(group);
  registerCheck(group);
  registerRetire(group);
}
