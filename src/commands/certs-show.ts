import path from 'node:path';
import type { Command } from 'commander';
import { action } from '../cli/output.js';
import { DIR_FLAG, DIR_HELP, resolvePkiDir } from '../cli/pki-dir.js';
import { renderFields } from '../cli/table.js';
import { cliError } from '../cli/errors.js';

export function register(group: Command): void {
  group
    .command('show')
    .description('show one certificate of the PKI folder by name')
    .argument('<name>', 'manifest name, e.g. master, auth, host-1, clientauth-1 (see `certs list`)')
    .option(DIR_FLAG, DIR_HELP)
    .option('--pem', 'print the certificate PEM instead of its fields')
    .addHelpText(
      'after',
      `
Examples:
  $ iyesmp certs show host-1
  $ iyesmp certs show clientauth-1 --json
  $ iyesmp certs show master --pem > master.crt`,
    )
    .action(
      action<{ dir?: string; pem?: boolean }>('certs show', async (out, opts, [name]) => {
        const dir = resolvePkiDir(opts.dir);
        const { openPki } = await import('../pki/index.js');
        const { readFile } = await import('node:fs/promises');
        const pki = await openPki(dir);
        const entries = pki.manifest.entries;
        const entry = entries.find((e) => e.name === name);
        if (!entry) {
          throw cliError('unknown_cert', `there is no certificate named ${String(name)} in ${dir}`, {
            hint: `names: ${entries.map((e) => e.name).join(', ')}`,
          });
        }
        // issuer chain by manifest names, leaf first, up to the self-signed Master
        const chain = [entry.name];
        for (let cur = entry; cur.issuer !== cur.name && chain.length < 10; ) {
          const next = entries.find((e) => e.name === cur.issuer);
          if (!next) break;
          chain.push(next.name);
          cur = next;
        }
        const certPath = path.join(dir, entry.certFile);
        const keyPath = entry.keyFile ? path.join(dir, entry.keyFile) : null;
        const certPem = await readFile(certPath, 'utf8');
        out.result('certs show', { entry, certPath, keyPath, chain, certPem }, () => {
          if (opts.pem) return certPem;
          return renderFields([
            ['name', entry.name],
            ['role', entry.role + (entry.status ? ` (${entry.status})` : '')],
            ['subject', entry.subject],
            ['issuer', entry.issuer],
            ['chain', chain.join(' <- ')],
            ['serial', entry.serial],
            ['not before', entry.notBefore],
            ['not after', entry.notAfter],
            ['algorithm', entry.algorithm],
            ['fingerprint', entry.fingerprint],
            ['dns names', entry.dnsNames?.join(', ')],
            ['ip addresses', entry.ipAddresses?.join(', ')],
            ['certificate', certPath],
            ['private key', keyPath ? `${keyPath}${entry.keyEncrypted ? ' (encrypted)' : ' (unencrypted)'}` : 'not kept here'],
          ]);
        });
      }),
    );
}
