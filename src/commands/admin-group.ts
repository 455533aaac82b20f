import type { Command } from 'commander';
import { register as registerStatus } from './admin-status.js';
import { register as registerPlayers } from './admin-players.js';
import { register as registerSessions } from './admin-sessions.js';
import { register as registerHosts } from './admin-hosts.js';
import { register as registerKick } from './admin-kick.js';
import { register as registerBan } from './admin-ban.js';
import { register as registerUnban } from './admin-unban.js';
import { register as registerDrain } from './admin-drain.js';
import { register as registerResults } from './admin-results.js';
import { register as registerAudit } from './admin-audit.js';

/** `iyesmp admin ...`: running servers, through their admin port. Each subcommand lives in its own admin-*.ts file. */
export function register(program: Command): void {
  const group = program
    .command('admin')
    .description('administer running servers through their admin port (Admin certificate): players, bans, hosts, drain')
    .addHelpText(
      'after',
      `
Every subcommand connects to one server's admin port ([admin] in its config) with an Admin
certificate (\`iyesmp certs issue admin NAME\`), found by --cert/--key or in the PKI folder
(--dir, $IYESMP_PKI_DIR, ./pki). Actions (kick, ban, unban, drain) are written to the server's
audit log under that certificate's name. Exit codes: 0 done, 2 usage, 3 bad input, 4 conflict
(no such player or host), 5 cannot connect, 6 refused (by the server, or its certificate).

Examples:
  $ iyesmp admin status -c /etc/iyesmp/auth.toml
  $ iyesmp admin players --server 10.0.0.5:7352 --json
  $ iyesmp admin ban guest:4f2a --reason "speed hack" --for 7d -c auth.toml
  $ iyesmp admin drain host-3 -c auth.toml --deadline 15m`,
    );
  registerStatus(group);
  registerPlayers(group);
  registerSessions(group);
  registerHosts(group);
  registerKick(group);
  registerBan(group);
  registerUnban(group);
  registerDrain(group);
  registerResults(group);
  registerAudit(group);
}
