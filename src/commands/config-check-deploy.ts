import { spawnSync } from 'node:child_process';
import { copyFile, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cliError } from '../cli/errors.js';
import { type DeployKind, overridesInText } from '../config/deploy.js';
import { checkConfigText, formatProblem } from '../config/load.js';
import { scaffoldConfig } from '../config/scaffold.js';

export interface DeployCheckData {
  file: string;
  kind: DeployKind;
  valid: true;
  /** the environment overrides the file sets, each a key the config schema accepts */
  overrides: Array<{ variable: string; key: string; line: number }>;
  /** the deployment's own validator: run, or skipped with the reason */
  validator: { tool: string; ran: boolean; reason?: string };
  warnings: string[];
}

/**
 * `iyesmp config check` on a deployment file (a systemd unit, a compose file, Kubernetes manifests,
 * a Dockerfile): every IYESMP_AUTH__/IYESMP_HOST__ override it sets must be a key the config
 * accepts with a value of the right type, and the file must pass its own tool's validator when that
 * tool is installed (systemd-analyze verify, docker compose config, kubectl kustomize).
 */
export async function checkDeployFile(file: string, kind: DeployKind, text: string): Promise<DeployCheckData> {
  const problems: Array<{ path: string; message: string; line?: number }> = [];
  const warnings: string[] = [];
  const texts: Array<{ file: string; text: string }> = [{ file, text }];
  // a kustomization names its manifests: check the overrides of every YAML file beside it
  if (kind === 'k8s' && /^kind: Kustomization$/m.test(text)) {
    const dir = path.dirname(file);
    for (const f of (await readdir(dir)).filter((n) => /\.ya?ml$/.test(n) && path.join(dir, n) !== file).sort()) {
      texts.push({ file: path.join(dir, f), text: await readFile(path.join(dir, f), 'utf8') });
    }
  }
  const overrides: DeployCheckData['overrides'] = [];
  for (const t of texts) {
    for (const cfgKind of ['auth', 'host'] as const) {
      const found = overridesInText(t.text).filter((o) => o.kind === cfgKind);
      if (found.length === 0) continue;
      // the overrides go on top of a scaffolded config: problems named after a variable are theirs
      const base = (await scaffoldConfig({ kind: cfgKind, pkiDir: '/', entries: undefined, trustDir: 'trust' })).text;
      const env = Object.fromEntries(found.map((o) => [o.variable, o.value.replace(/%[a-zA-Z]/g, 'x')]));
      let r: ReturnType<typeof checkConfigText>;
      try {
        r = checkConfigText(base, { env });
      } catch (err) {
        problems.push({ path: '', message: `${path.basename(t.file)}: ${(err as Error).message}` });
        continue;
      }
      if (!r.ok) {
        for (const p of r.problems) {
          const v = /\(from \$(\S+)\)$/.exec(p.message)?.[1];
          const at = found.find((o) => o.variable === v);
          problems.push({ ...p, message: `${path.basename(t.file)}: ${p.message}`, ...(at ? { line: at.line } : {}) });
        }
      }
      for (const o of r.overrides ?? []) overrides.push({ variable: o.variable, key: o.key, line: found.find((f) => f.variable === o.variable)!.line });
    }
  }
  const validator = await runValidator(file, kind, problems);
  if (kind === 'docker' && !/^USER (?!root\b|0\b)\S+/m.test(text))
    problems.push({ path: 'USER', message: 'the image runs as root: add a USER line (e.g. USER node)' });
  if (problems.length > 0) {
    const n = problems.length;
    throw cliError('config_invalid', `${file}: ${n} problem${n === 1 ? '' : 's'}:\n${problems.map((p) => `  ${formatProblem(p)}`).join('\n')}`, {
      details: { file, kind, problems },
    });
  }
  if (!validator.ran) warnings.push(`${validator.tool} not run: ${validator.reason}`);
  return { file, kind, valid: true, overrides, validator, warnings };
}

function has(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

async function runValidator(file: string, kind: DeployKind, problems: Array<{ path: string; message: string }>): Promise<DeployCheckData['validator']> {
  const fail = (tool: string, out: string) => problems.push({ path: '', message: `${tool}: ${out.trim().split('\n').slice(0, 20).join('\n    ')}` });
  if (kind === 'systemd') {
    const tool = 'systemd-analyze verify';
    if (!has('systemd-analyze', ['--version'])) return { tool, ran: false, reason: 'systemd-analyze is not installed' };
    // a template unit (name@.service) is verified as one instance of it
    const base = path.basename(file);
    const work = await mkdtemp(path.join(tmpdir(), 'iyesmp-verify-'));
    try {
      await copyFile(file, path.join(work, base));
      const unit = path.join(work, base.replace('@.service', '@check.service'));
      const r = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
      const ours = r.stderr
        .split('\n')
        .filter((l) => l.includes(base.replace('@.service', '@')) || l.includes(base))
        .join('\n');
      if (r.status !== 0 || ours !== '') fail(tool, (ours || r.stderr).replaceAll(work, path.dirname(path.resolve(file))));
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    return { tool, ran: true };
  }
  if (kind === 'compose') {
    const cmd = has('docker', ['compose', 'version']) ? ['docker', 'compose'] : has('docker-compose', ['version']) ? ['docker-compose'] : undefined;
    if (!cmd) return { tool: 'docker compose config', ran: false, reason: 'neither `docker compose` nor `docker-compose` is installed' };
    const tool = `${cmd.join(' ')} config`;
    const r = spawnSync(cmd[0]!, [...cmd.slice(1), '-f', path.basename(file), 'config', '-q'], { cwd: path.dirname(path.resolve(file)), encoding: 'utf8' });
    if (r.status !== 0) fail(tool, r.stderr || r.stdout);
    return { tool, ran: true };
  }
  if (kind === 'k8s') {
    const tool = 'kubectl kustomize';
    if (!/^kind: Kustomization$/m.test(await readFile(file, 'utf8')))
      return { tool, ran: false, reason: 'not a kustomization.yaml (check that file to build the whole set)' };
    if (!has('kubectl', ['version', '--client'])) return { tool, ran: false, reason: 'kubectl is not installed' };
    const r = spawnSync('kubectl', ['kustomize', path.dirname(path.resolve(file))], { encoding: 'utf8' });
    if (r.status !== 0) fail(tool, r.stderr);
    return { tool, ran: true };
  }
  return { tool: 'docker build', ran: false, reason: 'a Dockerfile is only checked for a non-root USER here; `docker build` builds it' };
}
