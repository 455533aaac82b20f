import type { Command } from 'commander';
import { action } from '../cli/output.js';
import { outFile, outOption, outputAlias, type OutFlags } from '../cli/out-flag.js';
import { collect, DIR_FLAG, DIR_HELP, resolvePkiDir } from '../cli/pki-dir.js';
import { cliError } from '../cli/errors.js';

/** `iyesmp config scaffold|check`: server config files (TOML). */
export function register(program: Command): void {
  const group = program
    .command('config')
    .description('write and check Auth and Host server config files (TOML)')
    .addHelpText(
      'after',
      `
Examples:
  $ iyesmp config scaffold auth --dir ./pki --out ./auth.toml
  $ iyesmp config scaffold host --dir ./pki --name host-2 --public-address 203.0.113.7 --out ./host-2.toml
  $ iyesmp config check ./host-2.toml`,
    );

  group
    .command('scaffold')
    .description('render a commented config for an Auth or Host server, pointing at the files of a PKI folder')
    .argument('<kind>', 'auth, host, or mosquitto (a Mosquitto 2 broker for turn-based games)')
    .option(DIR_FLAG, DIR_HELP)
    .addOption(outOption('write the config here (default: print it on stdout)'))
    .addOption(outputAlias())
    .option('-f, --force', 'overwrite --out if it exists')
    .option('--name <cert>', 'the auth/host certificate to use, by manifest name (default: the first)')
    .option('--public-address <addr>', "host: address game clients dial (default: the host cert's first IP or DNS name)")
    .option('--auth-server <host:port>', "host: an Auth server to dial (repeatable; default: the auth cert's name, port 7351)", collect)
    .option('--port <port>', 'mosquitto: the TLS listener port (default 8883)')
    .option('--listen <address>', 'mosquitto: the listen address (default 0.0.0.0)')
    .option('--topic-prefix <prefix>', 'mosquitto: the hosts\' topic_prefix (default "game")')
    .addHelpText(
      'after',
      `
Paths in the config are relative to the config file's folder.

Examples:
  $ iyesmp config scaffold auth --out ./auth.toml
  $ iyesmp config scaffold host --name host-2 --auth-server auth.example.com:7351 --out host-2.toml --force
  $ iyesmp config scaffold host --json | jq -r .data.text
  $ iyesmp config scaffold mosquitto --name host-1 --port 8883 --out ./mosquitto/mosquitto.conf`,
    )
    .action(
      action<
        OutFlags & {
          dir?: string;
          force?: boolean;
          name?: string;
          publicAddress?: string;
          authServer?: string[];
          port?: string;
          listen?: string;
          topicPrefix?: string;
        }
      >('config scaffold', async (out, opts, [kind]) => {
        if (kind === 'mosquitto') {
          const { scaffoldMosquitto } = await import('./config-scaffold.js');
          const file = outFile(opts);
          const r = await scaffoldMosquitto(resolvePkiDir(opts.dir), { ...opts, ...(file ? { out: file } : {}) });
          out.result('config scaffold', r.data, () => r.human(out.style));
          return;
        }
        if (kind !== 'auth' && kind !== 'host') {
          throw cliError('bad_kind', `config kind must be "auth", "host" or "mosquitto", got "${String(kind)}"`);
        }
        const { scaffoldToFile } = await import('./config-scaffold.js');
        const file = outFile(opts);
        const r = await scaffoldToFile(kind, resolvePkiDir(opts.dir), { ...opts, ...(file ? { out: file } : {}) });
        for (const n of r.notes) out.note(`note: ${n}`);
        out.result('config scaffold', r.data, () => r.human(out.style));
      }),
    );

  group
    .command('check')
    .description('validate a config file; lists every problem with its key and line')
    .argument('<file>', 'the TOML config to check')
    .option('--passphrase-file <file>', 'auth: the SessionAuth key passphrase, as for `serve auth`')
    .addHelpText(
      'after',
      `
Runs the checks \`serve\` runs before it listens: the schema, then every file read and parsed, the
server cert matches its key and chains to this PKI in its role, a host's public_address is a name
in its cert, encrypted keys decrypt (passphrase sources as for \`serve auth\`), every option is
one this build serves.

Exit codes: 0 valid, 1 invalid (what serve would refuse), 3 not TOML or unreadable.

Examples:
  $ iyesmp config check ./auth.toml
  $ iyesmp config check ./host.toml --json`,
    )
    .action(
      action<{ passphraseFile?: string }>('config check', async (out, opts, [file]) => {
        const { checkConfigCommand } = await import('./config-check.js');
        const data = await checkConfigCommand(String(file), opts.passphraseFile ? { passphraseFile: opts.passphraseFile } : {});
        for (const w of data.warnings) out.warn(w);
        out.result('config check', data, () => `${out.style.green('ok')} ${data.file} is a valid ${data.kind} config`);
      }),
    );
}
