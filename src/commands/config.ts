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
  $ iyesmp config check ./host-2.toml
  $ iyesmp config scaffold systemd --dir ./pki --out ./deploy/systemd`,
    );

  group
    .command('scaffold')
    .description('render a commented config for an Auth or Host server, deployment files (systemd, docker, compose, k8s), or a Mosquitto broker config')
    .argument(
      '<kind>',
      'auth or host (a TOML config), systemd, docker, compose, k8s (deployment files), or mosquitto (a Mosquitto 2 broker for turn-based games)',
    )
    .option(DIR_FLAG, DIR_HELP)
    .addOption(outOption('write the config here (default: print it on stdout)'))
    .addOption(outputAlias())
    .option('-f, --force', 'overwrite --out if it exists')
    .option('--name <cert>', 'the auth/host certificate to use, by manifest name (default: the first)')
    .option('--public-address <addr>', "host: address game clients dial (default: the host cert's first IP or DNS name)")
    .option('--auth-server <host:port>', "host: an Auth server to dial (repeatable; default: the auth cert's name, port 7351)", collect)
    .option('--exec <path>', 'systemd: the iyesmp executable the units run (default /usr/local/bin/iyesmp)')
    .option('--image <ref>', 'compose, k8s: the container image (default iyesmp:latest)')
    .option('--hosts <n>', "compose, k8s: how many hosts (default: the PKI's host certificates, else 2)")
    .option('--grace-ms <ms>', 'systemd, compose, k8s: serve host --grace-ms, how long a stopping host delivers results (default 10000)')
    .option('--drain-seconds <s>', "systemd, compose, k8s: the hosts' drain_timeout_seconds, to time the kill after SIGTERM (default 600)")
    .option('--port <port>', 'mosquitto: the TLS listener port (default 8883)')
    .option('--listen <address>', 'mosquitto: the listen address (default 0.0.0.0)')
    .option('--topic-prefix <prefix>', 'mosquitto: the hosts\' topic_prefix (default "game")')
    .addHelpText(
      'after',
      `
Paths in the config are relative to the config file's folder.

Deployment files (--out is then a folder; all are refused if one exists, unless --force) use the
layout of \`iyesmp bundle auth|host NAME\` and take host and Auth names from the PKI (--dir):
  systemd  iyesmp-auth@.service, iyesmp-host@.service: hardened units, keys as LoadCredential=
  docker   Dockerfile (multi-stage, node:20-slim, non-root) and .dockerignore
  compose  compose.yaml: PostgreSQL, one Auth node and the hosts, keys as secrets, health checks
  k8s      kustomization.yaml and manifests: Auth Deployment and UDP Services, one Deployment per
           host on its hostPort, keys as Secrets mounted as files, /healthz and /readyz probes

Examples:
  $ iyesmp config scaffold auth --out ./auth.toml
  $ iyesmp config scaffold host --name host-2 --auth-server auth.example.com:7351 --out host-2.toml --force
  $ iyesmp config scaffold host --json | jq -r .data.text
  $ iyesmp config scaffold systemd --exec /usr/bin/iyesmp --out ./systemd
  $ iyesmp config scaffold k8s --dir ./pki --image registry.example.com/iyesmp:1.0 --out ./k8s
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
          exec?: string;
          image?: string;
          hosts?: string;
          graceMs?: string;
          drainSeconds?: string;
          port?: string;
          listen?: string;
          topicPrefix?: string;
        }
      >('config scaffold', async (out, opts, [kind]) => {
        if (kind === 'systemd' || kind === 'docker' || kind === 'compose' || kind === 'k8s') {
          const { scaffoldDeployToDir } = await import('./config-scaffold.js');
          const dir = outFile(opts);
          const r = await scaffoldDeployToDir(kind, resolvePkiDir(opts.dir), { ...opts, ...(dir ? { out: dir } : {}) });
          for (const n of r.notes) out.note(`note: ${n}`);
          out.result('config scaffold', r.data, () => r.human(out.style));
          return;
        }
        if (kind === 'mosquitto') {
          const { scaffoldMosquitto } = await import('./config-scaffold.js');
          const file = outFile(opts);
          const r = await scaffoldMosquitto(resolvePkiDir(opts.dir), { ...opts, ...(file ? { out: file } : {}) });
          out.result('config scaffold', r.data, () => r.human(out.style));
          return;
        }
        if (kind !== 'auth' && kind !== 'host') {
          throw cliError('bad_kind', `config kind must be one of auth, host, systemd, docker, compose, k8s, mosquitto, got "${String(kind)}"`);
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
    .argument('[file]', 'the TOML config to check (default: $IYESMP_CONFIG)')
    .option('--passphrase-file <file>', 'auth: the SessionAuth key passphrase, as for `serve auth`')
    .addHelpText(
      'after',
      `
Runs the checks \`serve\` runs before it listens: the schema, then every file read and parsed, the
server cert matches its key and chains to this PKI in its role, a host's public_address is a name
in its cert, encrypted keys decrypt (passphrase sources as for \`serve auth\`), every option is
one this build serves.

Environment overrides (IYESMP_AUTH__SECTION__KEY, IYESMP_HOST__SECTION__KEY) are applied first,
as \`serve\` applies them, and listed (secrets not shown).

A deployment file from \`config scaffold systemd|docker|compose|k8s\` (a .service unit, a compose
file, kustomization.yaml or a manifest, a Dockerfile) is checked too: every IYESMP_AUTH__/
IYESMP_HOST__ override it sets must be a config key with a valid value, and the file must pass
its own validator where installed (systemd-analyze verify, docker compose config, kubectl kustomize;
a missing one is a warning).

Exit codes: 0 valid, 1 invalid (what serve would refuse), 3 not TOML or unreadable.

Examples:
  $ iyesmp config check ./auth.toml
  $ iyesmp config check ./host.toml --json
  $ iyesmp config check ./systemd/iyesmp-host@.service
  $ iyesmp config check ./k8s/kustomization.yaml`,
    )
    .action(
      action<{ passphraseFile?: string }>('config check', async (out, opts, [file]) => {
        const { checkConfigCommand } = await import('./config-check.js');
        const target = file ?? process.env.IYESMP_CONFIG;
        if (!target) throw cliError('missing_argument', 'which config? give a file, or set IYESMP_CONFIG');
        // a deployment file (unit, compose, manifests, Dockerfile) gets the checks that fit it
        const { deployKindOf } = await import('../config/deploy.js');
        const { readFile } = await import('node:fs/promises');
        const text = await readFile(String(target), 'utf8').catch(() => undefined);
        const deployKind = text === undefined ? undefined : deployKindOf(String(target), text);
        if (deployKind && text !== undefined) {
          const { checkDeployFile } = await import('./config-check-deploy.js');
          const d = await checkDeployFile(String(target), deployKind, text);
          for (const w of d.warnings) out.warn(w);
          out.result(
            'config check',
            d,
            () =>
              `${out.style.green('ok')} ${d.file}: ${d.kind} file, ${d.overrides.length} override(s) valid${d.validator.ran ? `, ${d.validator.tool} passed` : ''}`,
          );
          return;
        }
        const data = await checkConfigCommand(String(target), opts.passphraseFile ? { passphraseFile: opts.passphraseFile } : {});
        for (const o of data.overrides) out.note(`override: ${o.key} = ${o.value} (from $${o.variable})`);
        for (const w of data.warnings) out.warn(w);
        out.result('config check', data, () => `${out.style.green('ok')} ${data.file} is a valid ${data.kind} config`);
      }),
    );
}
