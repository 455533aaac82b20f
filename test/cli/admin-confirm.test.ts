// kick, ban and drain change a running deployment: like `certs retire`, a terminal asks first unless
// --yes, and a script without --yes is refused (exit 2) before anything is dialled.
import { execFileSync, spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../support/wait.js';
import { BIN, run } from './helpers.js';

// nothing listens there and no PKI is there: an error about either proves the command went past its question
const NOWHERE = ['--server', '127.0.0.1:9', '--dir', '/nonexistent/iyesmp-pki'];
const COMMANDS: Array<[string, string[]]> = [
  ['admin kick', ['admin', 'kick', 'guest:1']],
  ['admin ban', ['admin', 'ban', 'guest:1', '--reason', 'cheating', '--for', '7d']],
  ['admin drain', ['admin', 'drain', 'host-3', '--deadline', '15m']],
];

describe('admin kick, ban and drain ask before acting', () => {
  it.each(COMMANDS)('%s without a terminal and without --yes: exit 2, confirmation_required as JSON, nothing dialled', (command, args) => {
    const r = run([...args, ...NOWHERE, '--json']);
    expect(r.code).toBe(2);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ ok: false, command, error: { code: 'confirmation_required', kind: 'usage', hint: expect.stringContaining('--yes') } });
    expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
  });

  it.each(COMMANDS)('%s --yes goes on to connect (here: no PKI folder, exit 5)', (command, args) => {
    const r = run([...args, ...NOWHERE, '--yes', '--json']);
    expect(r.code).toBe(5);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, command, error: { code: 'no_pki' } });
  });

  it('admin ban refuses an end past what the server can represent, before asking (exit 2)', () => {
    const r = run(['admin', 'ban', 'guest:1', '--reason', 'x', '--for', '999999999d', ...NOWHERE, '--json']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'bad_duration', message: expect.stringContaining('--for 999999999d') });
  });

  it.each([
    ['admin kick', ['admin', 'kick', 'p'.repeat(129), '--yes'], 'invalid_argument', '<player>: 129 characters, at most 128'],
    ['admin unban', ['admin', 'unban', 'p'.repeat(129)], 'invalid_argument', '<player>: 129 characters'],
    ['admin ban', ['admin', 'ban', 'guest:1', '--reason', '理'.repeat(1025), '--yes'], 'bad_flag', '--reason: 1025 characters, at most 1024'],
    ['admin drain', ['admin', 'drain', 'h'.repeat(200), '--yes'], 'invalid_argument', '<host>: 200 characters'],
  ])('%s: a player id, host or reason over the wire bounds is a usage error naming it, before dialling', (command, args, code, message) => {
    const r = run([...(args as string[]), ...NOWHERE, '--json']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, command, error: { code, message: expect.stringContaining(message as string) } });
  });

  const hasTmux = spawnSync('tmux', ['-V']).status === 0;
  const session = `iyesmp-admin-confirm-${process.pid}`;
  // a server of its own (-L): another test ending its sessions cannot take this one down
  const tmux = (...args: string[]) => execFileSync('tmux', ['-L', session, ...args], { encoding: 'utf8' });
  const screen = () => tmux('capture-pane', '-p', '-t', session);
  afterAll(() => {
    if (hasTmux) spawnSync('tmux', ['-L', session, 'kill-server']);
  });

  it.skipIf(!hasTmux)(
    'on a terminal the ban names the player and its end; "n" changes nothing (exit 2), "y" goes on',
    async () => {
      const cmd = `NO_COLOR=1 node ${BIN} admin ban guest:1 --reason cheating ${NOWHERE.join(' ')}; echo "rc=$?"`;
      tmux('new-session', '-d', '-s', session, '-x', '120', '-y', '20', `${cmd}; ${cmd}; sleep 30`);
      await pollUntil(() => /Ban guest:1 permanently\?.*\[y\/N\]/.test(screen()), 'the question', 20_000, 100);
      tmux('send-keys', '-t', session, 'n', 'Enter');
      await pollUntil(() => /rc=2/.test(screen()), 'the refusal', 20_000, 100);
      expect(screen()).toMatch(/banning guest:1: not confirmed, nothing changed/);
      await pollUntil(() => (screen().match(/\[y\/N\]/g) ?? []).length === 2, 'the second question', 20_000, 100);
      tmux('send-keys', '-t', session, 'y', 'Enter');
      await pollUntil(() => /rc=5/.test(screen()), 'the attempt to connect', 20_000, 100);
      expect(screen()).toMatch(/no PKI folder/);
    },
    60_000,
  );
});
