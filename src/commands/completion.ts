import { Argument, Command } from 'commander';
import { action } from '../cli/output.js';
import { cliError } from '../cli/errors.js';

/** `iyesmp completion bash|zsh|fish`: the shell completion script, generated from this program. */
export function register(program: Command): void {
  program
    .command('completion')
    .description('print a shell completion script (bash, zsh or fish) for every command and option')
    .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(['bash', 'zsh', 'fish']))
    .addHelpText(
      'after',
      `
The script is generated from the commands of this build: regenerate it after an upgrade.

Examples:
  $ source <(iyesmp completion bash)                          # this shell; add it to ~/.bashrc to keep it
  $ iyesmp completion bash | sudo tee /etc/bash_completion.d/iyesmp
  $ source <(iyesmp completion zsh)                           # in ~/.zshrc, after compinit
  $ iyesmp completion fish > ~/.config/fish/completions/iyesmp.fish`,
    )
    .action(
      action('completion', async (out, _opts, [shell]) => {
        const { SHELLS, completionScript } = await import('./completion-script.js');
        if (!(SHELLS as readonly unknown[]).includes(shell)) throw cliError('bad_kind', `shell must be bash, zsh or fish, got "${String(shell)}"`);
        // a program built afresh with every command registered: the running one may hold only stubs
        // (name and description) of the commands it does not run, if commands are loaded lazily
        const full = new Command(program.name());
        for (const o of program.options) full.addOption(o);
        const { registerCommands } = await import('./index.js');
        await registerCommands(full);
        const script = completionScript(shell as (typeof SHELLS)[number], full);
        out.result('completion', { shell, script }, () => script.trimEnd());
      }),
    );
}
