// The `certs init` wizard, rendered with ink-testing-library and driven by keystrokes.
// Imports the built component (npm test builds first), like the CLI tests run the built CLI.
import { describe, expect, it } from 'vitest';
import { createElement } from 'react';
import { render } from 'ink-testing-library';
// built output (npm test builds first); tsconfig.test.json types it from src/
import { InitWizard } from '../../dist/ui/InitWizard.js';

interface Answers {
  authName?: string;
  hosts?: number;
  hostAddresses?: string[];
  passphrase?: string;
  clientauthPassphrase?: string;
  sessionauthPassphrase?: string;
  sessionauthUnencrypted?: boolean;
}

const tick = () => new Promise((r) => setTimeout(r, 10));

/** Waits until the rendered frame satisfies `pred` (bounded), so a loaded machine only slows the test. */
async function until(app: { lastFrame(): string | undefined }, pred: (frame: string) => boolean, what: string) {
  for (let i = 0; i < 500; i++) {
    if (pred(app.lastFrame() ?? '')) return;
    await tick();
  }
  throw new Error(`timed out waiting for ${what}; frame:\n${app.lastFrame()}`);
}
const shows = (app: { lastFrame(): string | undefined }, text: string) => until(app, (f) => f.includes(text), JSON.stringify(text));

async function type(stdin: { write(s: string): void }, text: string) {
  // one write per key, as a terminal would deliver them
  for (const ch of text) {
    stdin.write(ch);
    await tick();
  }
}

async function waitDone<T>(get: () => T | undefined): Promise<T> {
  for (let i = 0; i < 500; i++) {
    const v = get();
    if (v !== undefined) return v;
    await tick();
  }
  throw new Error('the wizard did not finish');
}

async function mount(ask: {
  authName?: boolean;
  hosts?: boolean;
  hostAddresses?: boolean;
  passphrase?: boolean;
  clientauthPassphrase?: boolean;
  sessionauth?: boolean;
}) {
  let done: Answers | undefined;
  let cancelled = false;
  const app = render(
    createElement(InitWizard, {
      ask,
      defaults: { authName: 'localhost', hosts: 1 },
      minPassphraseLength: 8,
      onDone: (a: Answers) => {
        done = a;
      },
      onCancel: () => {
        cancelled = true;
      },
    }),
  );
  // ink attaches its stdin listener in an effect after the first render: wait for it, not for time
  const stdin = app.stdin as unknown as { listenerCount(e: string): number };
  await waitDone(() => (stdin.listenerCount('readable') > 0 ? true : undefined));
  return { app, answers: () => done, cancelled: () => cancelled };
}

describe('InitWizard', () => {
  it('collects auth name, host count and a confirmed passphrase', async () => {
    const w = await mount({ authName: true, hosts: true, passphrase: true });
    await shows(w.app, 'Auth server DNS name or IP');
    await type(w.app.stdin, 'auth.example.com');
    await shows(w.app, 'auth.example.com');
    await type(w.app.stdin, '\r');
    await shows(w.app, 'How many host servers');
    await type(w.app.stdin, '3\r');
    await shows(w.app, 'Passphrase for the CA keys');
    await type(w.app.stdin, 'correct horse\r');
    await shows(w.app, 'Repeat the passphrase');
    await type(w.app.stdin, 'correct horse\r');
    expect(await waitDone(w.answers)).toEqual({ authName: 'auth.example.com', hosts: 3, passphrase: 'correct horse' });
    w.app.unmount();
  });

  it('keeps every key when a whole answer sheet arrives in one burst (paste)', async () => {
    const w = await mount({ authName: true, hosts: true, passphrase: true });
    for (const ch of '10.1.2.3\r7\rpaste-passphrase\rpaste-passphrase\r') w.app.stdin.write(ch);
    expect(await waitDone(w.answers)).toEqual({ authName: '10.1.2.3', hosts: 7, passphrase: 'paste-passphrase' });
    w.app.unmount();
  });

  it('splits a multi-line paste delivered as one chunk into answers', async () => {
    const w = await mount({ authName: true, hosts: true });
    w.app.stdin.write('auth.example.org\n4\n');
    expect(await waitDone(w.answers)).toEqual({ authName: 'auth.example.org', hosts: 4 });
    w.app.unmount();
  });

  it('accepts the suggested defaults on Enter', async () => {
    const w = await mount({ authName: true, hosts: true });
    await shows(w.app, 'Auth server DNS name or IP');
    await type(w.app.stdin, '\r');
    await shows(w.app, 'How many host servers');
    await type(w.app.stdin, '\r');
    expect(await waitDone(w.answers)).toEqual({ authName: 'localhost', hosts: 1 });
    w.app.unmount();
  });

  it('masks the passphrase and never renders it', async () => {
    const w = await mount({ passphrase: true });
    await shows(w.app, 'Passphrase for the CA keys');
    await type(w.app.stdin, 'hunter22secret');
    await shows(w.app, '*'.repeat('hunter22secret'.length));
    const frame = w.app.lastFrame() ?? '';
    expect(frame).not.toContain('hunter22secret');
    expect(frame).toContain('*'.repeat('hunter22secret'.length));
    w.app.unmount();
  });

  it('asks again when the confirmation differs, and rejects short passphrases', async () => {
    const w = await mount({ passphrase: true });
    await shows(w.app, 'Passphrase for the CA keys');
    await type(w.app.stdin, 'short\r');
    await shows(w.app, 'at least 8 characters');
    await type(w.app.stdin, 'first-passphrase\r');
    await shows(w.app, 'Repeat the passphrase');
    await type(w.app.stdin, 'other-passphrase\r');
    await shows(w.app, 'differ');
    expect(w.app.lastFrame()).toContain('Passphrase for the CA keys');
    expect(w.answers()).toBeUndefined();
    await type(w.app.stdin, 'second-passphrase\r');
    await shows(w.app, 'Repeat the passphrase');
    await type(w.app.stdin, 'second-passphrase\r');
    expect(await waitDone(w.answers)).toEqual({ passphrase: 'second-passphrase' });
    w.app.unmount();
  });

  it('validates the host count and supports backspace', async () => {
    const w = await mount({ hosts: true });
    await shows(w.app, 'How many host servers');
    await type(w.app.stdin, 'ten\r');
    await shows(w.app, 'whole number');
    await type(w.app.stdin, '25');
    await type(w.app.stdin, '\u007f');
    await type(w.app.stdin, '\r');
    expect(await waitDone(w.answers)).toEqual({ hosts: 2 });
    w.app.unmount();
  });

  it('asks the address clients dial for each host, suggesting 127.0.0.1 (issue 12)', async () => {
    const w = await mount({ hosts: true, hostAddresses: true });
    await shows(w.app, 'How many host servers');
    await type(w.app.stdin, '2\r');
    await shows(w.app, 'Address clients dial for host-1');
    await type(w.app.stdin, 'not an address\r');
    await shows(w.app, 'is not a host name or IP address');
    await type(w.app.stdin, 'h1.example.com\r');
    await shows(w.app, 'Address clients dial for host-2');
    await type(w.app.stdin, '\r');
    expect(await waitDone(w.answers)).toEqual({ hosts: 2, hostAddresses: ['h1.example.com', '127.0.0.1'] });
    w.app.unmount();
  });

  it('cancels on Escape', async () => {
    const w = await mount({ authName: true });
    await shows(w.app, 'Auth server DNS name or IP');
    w.app.stdin.write('\u001b');
    expect(await waitDone(() => (w.cancelled() ? true : undefined))).toBe(true);
    expect(w.answers()).toBeUndefined();
    w.app.unmount();
  });

  it('asks a passphrase for each CA key, SessionAuth its own (never the Master one)', async () => {
    const w = await mount({ passphrase: true, clientauthPassphrase: true, sessionauth: true });
    await shows(w.app, 'Master key');
    await type(w.app.stdin, 'master-secret\rmaster-secret\r');
    await shows(w.app, 'Passphrase for the ClientAuth keys');
    await type(w.app.stdin, 'clientauth-secret\rclientauth-secret\r');
    await shows(w.app, 'p = own passphrase, u = unencrypted');
    await type(w.app.stdin, '\r');
    await shows(w.app, 'Passphrase for the SessionAuth key');
    await type(w.app.stdin, 'master-secret\r');
    await shows(w.app, 'not the Master or ClientAuth one');
    expect(w.app.lastFrame()).not.toContain('master-secret');
    await type(w.app.stdin, 'session-secret\rsession-secret\r');
    expect(await waitDone(w.answers)).toEqual({
      passphrase: 'master-secret',
      clientauthPassphrase: 'clientauth-secret',
      sessionauthPassphrase: 'session-secret',
    });
    w.app.unmount();
  });

  it('keeps SessionAuth unencrypted only when the operator answers u', async () => {
    const w = await mount({ sessionauth: true });
    await shows(w.app, 'unencrypted (0600)');
    await type(w.app.stdin, 'x\r');
    await shows(w.app, 'type p');
    await type(w.app.stdin, 'u\r');
    expect(await waitDone(w.answers)).toEqual({ sessionauthUnencrypted: true });
    w.app.unmount();
  });
});
