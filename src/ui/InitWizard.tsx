import { Box, Text, useInput } from 'ink';
import { useRef, useState } from 'react';
import { applyKey, TextField } from './TextField.js';
import { cliError } from '../cli/errors.js';

/**
 * The `iyesmp certs init` wizard: asks only what the flags left open (Auth server name, number of
 * hosts, the address clients dial for each host, a passphrase for each CA key, and whether
 * SessionAuth is kept unencrypted) and hands the answers back. It never touches files itself, so it
 * can be tested by feeding keystrokes.
 */
export interface InitAnswers {
  authName?: string;
  hosts?: number;
  /** one per host, in order: the DNS name or IP clients dial (it goes into the host's cert) */
  hostAddresses?: string[];
  /** Master's */
  passphrase?: string;
  clientauthPassphrase?: string;
  sessionauthPassphrase?: string;
  /** SessionAuth kept in clear at 0600 so Auth servers start unattended: only by this explicit answer */
  sessionauthUnencrypted?: boolean;
}

export interface InitWizardProps {
  /** `passphrase`: Master's; `sessionauth`: a passphrase of its own or unencrypted, the operator chooses */
  ask: { authName?: boolean; hosts?: boolean; hostAddresses?: boolean; passphrase?: boolean; clientauthPassphrase?: boolean; sessionauth?: boolean };
  /** hostAddress: the suggestion for every host's address */
  defaults: { authName: string; hosts: number; hostAddress?: string };
  /** how many host addresses to ask for when the count is not asked (given by a flag) */
  hostCount?: number;
  minPassphraseLength: number;
  onDone(answers: InitAnswers): void;
  onCancel(): void;
}

type Step =
  | 'authName'
  | 'hosts'
  | 'hostAddresses'
  | 'passphrase'
  | 'confirm'
  | 'clientauthPassphrase'
  | 'clientauthConfirm'
  | 'sessionauthMode'
  | 'sessionauthPassphrase'
  | 'sessionauthConfirm'
  | 'done';

/** Each passphrase step, its confirmation and the answer it fills. */
const PASSPHRASE_STEPS = {
  passphrase: { confirm: 'confirm', answer: 'passphrase' },
  clientauthPassphrase: { confirm: 'clientauthConfirm', answer: 'clientauthPassphrase' },
  sessionauthPassphrase: { confirm: 'sessionauthConfirm', answer: 'sessionauthPassphrase' },
} as const;
type PassphraseStep = keyof typeof PASSPHRASE_STEPS;
const CONFIRM_OF: Partial<Record<Step, PassphraseStep>> = {
  confirm: 'passphrase',
  clientauthConfirm: 'clientauthPassphrase',
  sessionauthConfirm: 'sessionauthPassphrase',
};
const isMasked = (s: Step) => s in PASSPHRASE_STEPS || s in CONFIRM_OF;

const HOSTNAME_OR_IP = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$|^[0-9a-fA-F:.]*:[0-9a-fA-F:.]*$/;
export const MAX_WIZARD_HOSTS = 100;

interface Progress {
  index: number;
  value: string;
  answers: InitAnswers;
  /** host addresses entered so far (the step repeats once per host) */
  addresses: string[];
  /** first passphrase entry, until confirmed */
  pending: string;
  error: string | undefined;
  finished: boolean;
}

export function InitWizard({ ask, defaults, hostCount, minPassphraseLength, onDone, onCancel }: InitWizardProps) {
  const steps: Step[] = [
    ...(ask.authName ? (['authName'] as const) : []),
    ...(ask.hosts ? (['hosts'] as const) : []),
    ...(ask.hostAddresses ? (['hostAddresses'] as const) : []),
    ...(ask.passphrase ? (['passphrase', 'confirm'] as const) : []),
    ...(ask.clientauthPassphrase ? (['clientauthPassphrase', 'clientauthConfirm'] as const) : []),
    ...(ask.sessionauth ? (['sessionauthMode', 'sessionauthPassphrase', 'sessionauthConfirm'] as const) : []),
    'done',
  ];
  // All progress lives in one ref and a single key handler reads it: keys that arrive before React
  // re-renders (paste, a loaded machine) still apply to the right step. State only re-renders.
  const p = useRef<Progress>({ index: 0, value: '', answers: {}, addresses: [], pending: '', error: undefined, finished: false }).current;
  const [, rerender] = useState(0);
  const refresh = () => rerender((n) => n + 1);
  const step = steps[p.index] ?? 'done';
  const hostsWanted = () => p.answers.hosts ?? hostCount ?? defaults.hosts;
  const hostAddressDefault = defaults.hostAddress ?? '127.0.0.1';

  const advance = (update: InitAnswers, skip = 0) => {
    p.answers = { ...p.answers, ...update };
    p.error = undefined;
    p.index += 1 + skip;
    if (steps[p.index] === 'done') {
      p.finished = true;
      onDone(p.answers);
    }
  };

  const submit = (s: Step, v: string) => {
    switch (s) {
      case 'authName': {
        const t = v.trim();
        if (!HOSTNAME_OR_IP.test(t)) p.error = `"${t}" is not a host name or IP address`;
        else advance({ authName: t });
        return;
      }
      case 'hosts': {
        const n = Number(v.trim());
        if (!/^\d+$/.test(v.trim()) || n < 1 || n > MAX_WIZARD_HOSTS) p.error = `enter a whole number from 1 to ${MAX_WIZARD_HOSTS}`;
        else advance({ hosts: n });
        return;
      }
      case 'hostAddresses': {
        const t = v.trim();
        if (!HOSTNAME_OR_IP.test(t)) {
          p.error = `"${t}" is not a host name or IP address`;
          return;
        }
        p.addresses.push(t);
        p.error = undefined;
        if (p.addresses.length >= hostsWanted()) advance({ hostAddresses: [...p.addresses] });
        return;
      }
      case 'sessionauthMode': {
        const t = v.trim().toLowerCase();
        if (t === '' || t === 'p') advance({});
        else if (t === 'u') advance({ sessionauthUnencrypted: true }, 2);
        else p.error = 'type p (a passphrase of its own) or u (unencrypted, 0600)';
        return;
      }
      case 'passphrase':
      case 'clientauthPassphrase':
      case 'sessionauthPassphrase':
        if (v.length < minPassphraseLength) {
          p.error = `use at least ${minPassphraseLength} characters`;
        } else if (s === 'sessionauthPassphrase' && (v === p.answers.passphrase || v === p.answers.clientauthPassphrase)) {
          // SessionAuth is opened on every Auth server: its secret must open nothing else
          p.error = 'SessionAuth needs a passphrase of its own, not the Master or ClientAuth one';
        } else {
          p.pending = v;
          p.error = undefined;
          p.index += 1;
        }
        return;
      case 'confirm':
      case 'clientauthConfirm':
      case 'sessionauthConfirm':
        if (v !== p.pending) {
          p.pending = '';
          p.index -= 1;
          p.error = 'the passphrases differ; enter it again';
        } else {
          p.pending = '';
          advance({ [PASSPHRASE_STEPS[CONFIRM_OF[s]!].answer]: v });
        }
        return;
      default:
    }
  };

  useInput((input, key) => {
    if (p.finished) return;
    if (key.escape || (key.ctrl && input === 'c')) {
      p.finished = true;
      onCancel();
      return;
    }
    // pasted text can hold several answers separated by newlines: feed them one line at a time
    const chunks = !key.return && /[\r\n]/.test(input) ? input.split(/(\r\n|\r|\n)/) : [input];
    for (const chunk of chunks) {
      if (p.finished) break;
      const isEnter = chunk === '\r' || chunk === '\n' || chunk === '\r\n';
      const k = chunks.length > 1 ? { ...key, return: isEnter } : key;
      const s = steps[p.index] ?? 'done';
      const placeholder =
        s === 'authName'
          ? defaults.authName
          : s === 'hosts'
            ? String(defaults.hosts)
            : s === 'hostAddresses'
              ? hostAddressDefault
              : s === 'sessionauthMode'
                ? 'p'
                : undefined;
      const ev = applyKey(p.value, isEnter ? '' : chunk, k, { ...(placeholder !== undefined ? { placeholder } : {}), mask: isMasked(s) });
      if (ev.kind === 'edit') p.value = ev.value;
      else if (ev.kind === 'submit') {
        p.value = '';
        submit(s, ev.value);
      }
    }
    refresh();
  });

  const field = () => {
    switch (step) {
      case 'authName':
        return <TextField label="Auth server DNS name or IP:" value={p.value} placeholder={defaults.authName} error={p.error} />;
      case 'hosts':
        return <TextField label={`How many host servers (1-${MAX_WIZARD_HOSTS})?`} value={p.value} placeholder={String(defaults.hosts)} error={p.error} />;
      case 'hostAddresses':
        return (
          <TextField
            label={`Address clients dial for host-${p.addresses.length + 1} (DNS name or IP, goes into its certificate):`}
            value={p.value}
            placeholder={hostAddressDefault}
            error={p.error}
          />
        );
      case 'passphrase':
        return <TextField label="Passphrase for the CA keys, first the Master key (kept offline):" value={p.value} mask error={p.error} />;
      case 'clientauthPassphrase':
        return <TextField label="Passphrase for the ClientAuth keys (sign game builds; kept offline):" value={p.value} mask error={p.error} />;
      case 'sessionauthMode':
        return (
          <Box flexDirection="column">
            <Text dimColor>Every Auth server opens the SessionAuth key at start.</Text>
            <TextField label="SessionAuth key: p = own passphrase, u = unencrypted (0600)?" value={p.value} placeholder="p" error={p.error} />
          </Box>
        );
      case 'sessionauthPassphrase':
        return <TextField label="Passphrase for the SessionAuth key (its own):" value={p.value} mask error={p.error} />;
      case 'confirm':
      case 'clientauthConfirm':
      case 'sessionauthConfirm':
        return <TextField label="Repeat the passphrase:" value={p.value} mask error={p.error} />;
      default:
        return <Text color="green">Creating the PKI…</Text>;
    }
  };

  return (
    <Box flexDirection="column">
      <Text bold>iyesmp certs init</Text>
      <Text dimColor>Enter accepts the suggestion; Esc cancels. Flags can answer these in scripts (see --help).</Text>
      {p.answers.authName !== undefined ? <Text>Auth server: {p.answers.authName}</Text> : null}
      {p.answers.hosts !== undefined ? <Text>Hosts: {p.answers.hosts}</Text> : null}
      {p.addresses.length > 0 ? <Text>Host addresses: {p.addresses.join(', ')}</Text> : null}
      {p.answers.sessionauthUnencrypted ? <Text>SessionAuth key: unencrypted (0600)</Text> : null}
      {field()}
    </Box>
  );
}

/** Mounts the wizard on the terminal and resolves with the answers (rejects when cancelled). */
export async function runInitWizard(props: Omit<InitWizardProps, 'onDone' | 'onCancel'>, stdout: NodeJS.WriteStream): Promise<InitAnswers> {
  const { render } = await import('ink');
  const { createElement } = await import('react');
  let resolveFn!: (a: InitAnswers) => void;
  let rejectFn!: (e: Error) => void;
  const result = new Promise<InitAnswers>((res, rej) => {
    resolveFn = res;
    rejectFn = rej;
  });
  const app = render(
    createElement(InitWizard, {
      ...props,
      onDone: (a) => resolveFn(a),
      onCancel: () => rejectFn(cliError('cancelled', 'cancelled at the prompt')),
    }),
    { stdout, exitOnCtrlC: false },
  );
  try {
    return await result;
  } finally {
    app.unmount();
    await app.waitUntilExit().catch(() => {});
  }
}
