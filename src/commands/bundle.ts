import { Argument, type Command } from 'commander';
import { action } from '../cli/output.js';
import { cliError } from '../cli/errors.js';
import { outFile, outOption, outputAlias, type OutFlags } from '../cli/out-flag.js';
import { collect, DIR_FLAG, DIR_HELP, resolvePkiDir } from '../cli/pki-dir.js';

/** `iyesmp bundle auth|host NAME`: what one server needs, in one archive to copy to it. */
export function register(program: Command): void {
  program
    .command('bundle')
    .description("pack one server's config, certificate, key and trust list into a .tar.gz to copy to it")
    .addArgument(new Argument('<kind>', 'auth or host').choices(['auth', 'host']))
    .argument('<name>', 'the server certificate, by manifest name (e.g. host-2)')
    .option(DIR_FLAG, DIR_HELP)
    .addOption(outOption('the archive to write (default: ./iyesmp-KIND-NAME.tar.gz)'))
    .addOption(outputAlias())
    .option('-f, --force', 'replace --out if it exists')
    .option('--config <file>', 'pack this config (its PKI paths are pointed at the bundle); default: scaffold one from the PKI')
    .option('--public-address <addr>', 'host, scaffolded config: the address clients dial (a name in the host cert)')
    .option('--auth-server <host:port>', 'host, scaffolded config: an Auth server to dial (repeatable)', collect)
    .option('--passphrase-file <file>', 'auth: the SessionAuth key passphrase, to check that the key opens')
    .addHelpText(
      'after',
      `
The archive (mode 0600) unpacks to NAME/: auth.toml or host.toml, tls/ (the certificate, its key
with mode 0600, and for auth the SessionAuth certificate and key), trust/ (the trust list) and
netcode.key when the config names one. The config is checked as \`config check\` does, on the
bundle's own files, before anything is written; an existing archive is kept unless --force.
The units, compose file and manifests of \`iyesmp config scaffold systemd|compose|k8s\` use this layout.

Examples:
  $ iyesmp bundle host host-2 --dir ./pki --config ./host-2.toml
  $ iyesmp bundle host host-1 --dir ./pki --auth-server auth.example.com:7351 --out /tmp/host-1.tar.gz --force
  $ scp iyesmp-host-host-2.tar.gz h2.example.com: && ssh h2.example.com 'sudo tar -xzf iyesmp-host-host-2.tar.gz -C /etc/iyesmp'
  $ iyesmp bundle auth auth --dir ./pki --passphrase-file ./sessionauth.pass --json`,
    )
    .action(
      action<OutFlags & { dir?: string; force?: boolean; config?: string; publicAddress?: string; authServer?: string[]; passphraseFile?: string }>(
        'bundle',
        async (out, opts, [kind, name]) => {
          if (kind !== 'auth' && kind !== 'host') throw cliError('bad_kind', `bundle kind must be "auth" or "host", got "${String(kind)}"`);
          const { buildBundle } = await import('./bundle-build.js');
          const file = outFile(opts);
          const data = await buildBundle(kind, String(name), resolvePkiDir(opts.dir), { ...opts, ...(file ? { out: file } : {}) });
          for (const w of data.warnings) out.warn(w);
          out.result('bundle', data, () => `${out.style.green('wrote')} ${data.file} (${data.entries.length} entries, unpacks to ${data.root}/)`);
        },
      ),
    );
}
