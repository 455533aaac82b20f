import type { Command } from 'commander';
import { action, type Output } from '../cli/output.js';
import { DIR_FLAG, DIR_HELP, resolvePkiDir } from '../cli/pki-dir.js';
import { addPassphraseOptions, algorithmOption, existingKeyPassphrase } from '../cli/pki.js';
import { cliError } from '../cli/errors.js';
import { outFile, outOption, outputAlias } from '../cli/out-flag.js';
import type { KeyAlgorithm } from '../pki/types.js';

interface MintFlags {
  dir?: string;
  publicKey?: string;
  generateKey?: boolean;
  algorithm?: KeyAlgorithm;
  session?: string;
  player?: string;
  ttl: string;
  out?: string;
  output?: string;
  force?: boolean;
  passphraseFile?: string;
  sessionauthPassphraseFile?: string;
}

export function register(group: Command): void {
  const cmd = group
    .command('mint')
    .description('sign a session certificate for one player and one session with SessionAuth')
    .option(DIR_FLAG, DIR_HELP)
    .option('--public-key <file>', "the player's public key (SPKI PEM or DER)")
    .option('--generate-key', 'make a key pair here instead (needs --out; the key is written, never printed)')
    .addOption(algorithmOption().default('p256'))
    .option('--session <id>', 'session id (1-64 of A-Z a-z 0-9 . _ -)')
    .option('--player <id>', 'player id (same charset)')
    .option('--ttl <dur>', 'lifetime, e.g. 1h, 30m (max 7d)', '1h')
    .addOption(outOption('write <prefix>.crt, <prefix>.chain.pem and with --generate-key <prefix>.key', { arg: 'prefix' }))
    .addOption(outputAlias())
    .option('-f, --force', 'overwrite existing --out files');
  addPassphraseOptions(cmd, { secrets: ['sessionauth'] });
  cmd
    .addHelpText(
      'after',
      `
Without --out the certificate PEM is printed on stdout (with --json: data.certPem).

Examples:
  $ iyesmp session mint --public-key player.pub.pem --session s-42 --player alice --ttl 2h
  $ iyesmp session mint --generate-key --session s-42 --player bob --out ./bob
  $ iyesmp certs verify ./bob.crt --role session`,
    )
    .action(action<MintFlags>('session mint', async (out, opts) => mint(out, { ...opts, ...(opts.output ? { out: outFile(opts) } : {}) })));
}

async function mint(out: Output, opts: MintFlags): Promise<void> {
  if (!opts.session) throw cliError('missing_session', 'session mint needs --session <id>');
  if (!opts.player) throw cliError('missing_player', 'session mint needs --player <id>');
  if (Boolean(opts.publicKey) === Boolean(opts.generateKey)) {
    throw cliError('key_source', 'give exactly one of --public-key FILE or --generate-key');
  }
  if (opts.generateKey && !opts.out) {
    throw cliError('missing_out', '--generate-key needs --out <prefix>: a private key is written to a file, never printed');
  }
  const { parseDuration } = await import('../cli/duration.js');
  const ttlSeconds = parseDuration(opts.ttl, '--ttl');
  const dir = resolvePkiDir(opts.dir);
  const { openPki } = await import('../pki/index.js');
  // SessionAuth's secret only: minting never needs the Master or a ClientAuth passphrase
  const pki = await openPki(dir, { passphrases: { sessionauth: existingKeyPassphrase(opts, 'sessionauth') } });
  const minter = await pki.sessionMinter();
  const req = { sessionId: opts.session, playerId: opts.player, ttlSeconds };
  let privateKeyPem: string | undefined;
  let minted;
  if (opts.generateKey) {
    const r = await minter.mintWithNewKey({ ...req, algorithm: opts.algorithm ?? 'p256' });
    privateKeyPem = r.privateKeyPem;
    minted = r;
  } else {
    const { readFile } = await import('node:fs/promises');
    let key: Buffer;
    try {
      key = await readFile(opts.publicKey!);
    } catch (err) {
      throw cliError('not_found', `cannot read public key ${opts.publicKey}: ${(err as NodeJS.ErrnoException).code ?? err}`);
    }
    const isPem = key.subarray(0, 100).toString('latin1').includes('-----BEGIN');
    minted = await minter.mint({ ...req, publicKey: isPem ? key.toString('utf8') : new Uint8Array(key) });
  }
  const files: Record<string, string> = {};
  if (opts.out) {
    const { writeFileAtomic } = await import('../config/write.js');
    const path = await import('node:path');
    const prefix = path.resolve(opts.out);
    files.cert = `${prefix}.crt`;
    files.chain = `${prefix}.chain.pem`;
    await writeFileAtomic(files.cert, minted.certPem, { force: Boolean(opts.force) });
    await writeFileAtomic(files.chain, minted.certPem + minted.issuerPem, { force: Boolean(opts.force) });
    if (privateKeyPem !== undefined) {
      files.key = `${prefix}.key`;
      await writeFileAtomic(files.key, privateKeyPem, { force: Boolean(opts.force), mode: 0o600 });
    }
  }
  const data = {
    sessionId: opts.session,
    playerId: opts.player,
    fingerprint: minted.fingerprint,
    serial: minted.serial,
    notAfter: minted.notAfter.toISOString(),
    certPem: minted.certPem,
    issuerPem: minted.issuerPem,
    files,
  };
  out.result('session mint', data, () =>
    opts.out
      ? [
          `${out.style.green('minted')} session ${opts.session} / player ${opts.player}, until ${data.notAfter}`,
          `fingerprint ${minted.fingerprint}`,
          ...Object.entries(files).map(([k, f]) => `  ${k.padEnd(5)} ${f}`),
        ].join('\n')
      : minted.certPem,
  );
}
