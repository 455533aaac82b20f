/** `iyesmp completion bash|zsh|fish`: generated from the program, and the bash script really completes in bash. */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { commandTree } from '../../src/commands/completion-script.js';
import { buildProgram } from '../../src/main.js';
import { json, run, tempDir } from './helpers.js';

const t = tempDir('iyesmp-completion-');
afterAll(() => t.cleanup());

function installed(cmd: string): boolean {
  const r = spawnSync(cmd, ['--version'], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

function script(shell: string): string {
  const r = run(['completion', shell]);
  expect(r.code, r.stderr).toBe(0);
  const file = path.join(t.dir, `iyesmp.${shell}`);
  writeFileSync(file, r.stdout);
  return file;
}

/** What bash offers for the words typed so far (the last one is being completed). */
function complete(words: string[]): string[] {
  const file = script('bash');
  const arr = words.map((w) => `'${w}'`).join(' ');
  const r = spawnSync(
    'bash',
    ['--norc', '--noprofile', '-c', `source '${file}'; COMP_WORDS=(${arr}); COMP_CWORD=${words.length - 1}; _iyesmp; printf '%s\\n' "\${COMPREPLY[@]}"`],
    {
      encoding: 'utf8',
      cwd: t.dir,
    },
  );
  expect(r.status, r.stderr).toBe(0);
  expect(r.stderr).toBe('');
  return r.stdout.split('\n').filter(Boolean);
}

describe('iyesmp completion', () => {
  it('bash: completes subcommands, options of the command typed, and option choices', () => {
    expect(complete(['iyesmp', 'cer'])).toEqual(['certs']);
    expect(complete(['iyesmp', 'certs', 'i'])).toEqual(['init', 'issue']);
    // global options and option values before the subcommand are skipped
    expect(complete(['iyesmp', '--json', 'config', 'sc'])).toEqual(['scaffold']);
    expect(complete(['iyesmp', 'certs', 'init', '--algorithm', ''])).toEqual(['p256', 'p384', 'ed25519']);
    expect(complete(['iyesmp', 'certs', 'init', '--algorithm', 'p256', '--sessionauth-u'])).toEqual(['--sessionauth-unencrypted']);
    expect(complete(['iyesmp', 'config', 'scaffold', '--dir', 'pki', '--ex'])).toEqual(['--exec']);
    expect(complete(['iyesmp', 'bundle', '--'])).toContain('--passphrase-file');
    expect(complete(['iyesmp', 'serve', ''])).toEqual(['auth', 'host', 'broker']);
    // a positional argument's choices, and the options after it
    expect(complete(['iyesmp', 'completion', 'z'])).toEqual(['zsh']);
    expect(complete(['iyesmp', 'bundle', 'host', 'host-1', '--for'])).toEqual(['--force']);
  });

  it('covers every command and every visible option of the program', async () => {
    const text = run(['completion', 'bash']).stdout;
    // every command registered (buildProgram may be async where commands load lazily)
    const program = await Promise.resolve(buildProgram());
    const nodes = commandTree(program);
    const walk = (c: typeof program, p: string[]): void => {
      const node = nodes.find((n) => n.path === p.join(' '));
      expect(node, p.join(' ')).toBeDefined();
      for (const o of c.options)
        if (!o.hidden && o.long)
          expect(
            node!.options.flatMap((x) => x.names),
            `${p.join(' ')} ${o.long}`,
          ).toContain(o.long);
      for (const sub of c.commands) {
        expect(node!.subs.map((s) => s.name)).toContain(sub.name());
        walk(sub, [...p, sub.name()]);
      }
    };
    walk(program, []);
    for (const n of nodes) if (n.path) expect(text).toContain(`'${n.path}')`);
  });

  it('--json gives the script in one document; an unknown shell is a usage error', () => {
    const r = run(['completion', 'fish', '--json']);
    expect(json(r).data.shell).toBe('fish');
    expect(json(r).data.script).toContain('complete -c iyesmp');
    const bad = run(['completion', 'powershell', '--json']);
    expect(bad.code).toBe(2);
    expect(json(bad).error.code).toBe('invalid_argument');
    expect(json(bad).error.message).toContain('bash, zsh, fish');
  });

  it('zsh and fish load their scripts', () => {
    if (installed('zsh')) {
      const file = script('zsh');
      const r = spawnSync('zsh', ['-f', '-c', `autoload -U compinit && compinit -u && source '${file}' && whence -w _iyesmp`], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain('function');
    } else console.warn('skipped: zsh is not installed');
    if (installed('fish')) {
      const file = script('fish');
      const r = spawnSync('fish', ['--no-config', '-c', `source '${file}'; complete -C 'iyesmp cert'; complete -C 'iyesmp certs init --alg'`], {
        encoding: 'utf8',
      });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^certs\t/m);
      expect(r.stdout).toMatch(/^--algorithm\t/m);
    } else console.warn('skipped: fish is not installed');
  });
});
