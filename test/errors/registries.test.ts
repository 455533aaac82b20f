import { describe, expect, expectTypeOf, it } from 'vitest';
import { IyesmpError, hasCodeOf, type ErrorKind } from '../../src/errors.js';
import {
  ACCOUNT_ERRORS,
  ADMIN_ERRORS,
  AUTH_ERRORS,
  HANDOFF_ERRORS,
  HOST_REGISTRY_ERRORS,
  LOBBY_ERRORS,
  MATCHMAKING_ERRORS,
  SESSION_ERRORS,
  sessionError,
  type SessionErrorCode,
} from '../../src/auth/errors.js';
import { CLI_ERRORS } from '../../src/cli/errors.js';
import { CLIENT_ERRORS } from '../../src/client/errors.js';
import { CONFIG_ERRORS } from '../../src/config/errors.js';
import { DEMO_ERRORS } from '../../src/demo/errors.js';
import { FS_ERRORS } from '../../src/fs/errors.js';
import { HOST_ERRORS } from '../../src/host/errors.js';
import { LAN_ERRORS } from '../../src/lan/errors.js';
import { METRICS_ERRORS } from '../../src/metrics/errors.js';
import { ClientState, clientStateName } from '../../src/netcode/constants.js';
import { MQTT_ERRORS } from '../../src/mqtt/errors.js';
import { NETCODE_ERRORS } from '../../src/netcode/errors.js';
import { NETCODE_SESSION_ERRORS } from '../../src/netcode/session/errors.js';
import { PKI_ERRORS, pkiError, type PkiErrorCode } from '../../src/pki/errors.js';
import { PROTOCOL_ERRORS, protocolError } from '../../src/protocol/errors.js';
import { RESULTS_ERRORS } from '../../src/results/errors.js';
import { ERROR_CODE_PATTERN } from '../../src/protocol/error-codes.js';
import { SERVE_ERRORS } from '../../src/serve/errors.js';
import { STORE_ERRORS } from '../../src/store/errors.js';
import { TRANSPORT_ERRORS } from '../../src/transport/errors.js';
import { TURNS_ERRORS } from '../../src/turns/errors.js';

const AUTH_REGISTRIES = { ACCOUNT_ERRORS, ADMIN_ERRORS, AUTH_ERRORS, HANDOFF_ERRORS, HOST_REGISTRY_ERRORS, LOBBY_ERRORS, MATCHMAKING_ERRORS, SESSION_ERRORS };
const REGISTRIES = {
  ...AUTH_REGISTRIES,
  CLI_ERRORS,
  CLIENT_ERRORS,
  CONFIG_ERRORS,
  DEMO_ERRORS,
  FS_ERRORS,
  HOST_ERRORS,
  LAN_ERRORS,
  METRICS_ERRORS,
  MQTT_ERRORS,
  NETCODE_ERRORS,
  NETCODE_SESSION_ERRORS,
  PKI_ERRORS,
  PROTOCOL_ERRORS,
  RESULTS_ERRORS,
  SERVE_ERRORS,
  STORE_ERRORS,
  TRANSPORT_ERRORS,
  TURNS_ERRORS,
};
const KINDS: readonly ErrorKind[] = ['usage', 'input', 'conflict', 'io', 'refused', 'check', 'internal'];

describe('error registries', () => {
  it('register wire-safe codes with known kinds', () => {
    for (const [name, registry] of Object.entries(REGISTRIES)) {
      for (const [code, kind] of Object.entries(registry)) {
        expect(code, name).toMatch(ERROR_CODE_PATTERN);
        for (const k of typeof kind === 'string' ? [kind] : kind) expect(KINDS, `${name}.${code}`).toContain(k);
      }
    }
  });

  it('build errors with the registered kind', () => {
    const e = pkiError('bad_passphrase', 'wrong passphrase', { hint: 'try again' });
    expect(e).toBeInstanceOf(IyesmpError);
    expect([e.kind, e.code, e.message, e.hint]).toEqual(['input', 'bad_passphrase', 'wrong passphrase', 'try again']);
    expect(protocolError.as('io', 'closed', 'gone').kind).toBe('io');
    expectTypeOf(e.code).toEqualTypeOf<'bad_passphrase'>();
    // @ts-expect-error: not a registered code
    pkiError('no_such_code', 'x');
    // @ts-expect-error: a code with several kinds must name one
    protocolError('closed', 'x');
    // @ts-expect-error: 'check' is not a registered kind of `closed`
    protocolError.as('check', 'closed', 'x');
  });

  it('narrow to one layer so a switch can be exhaustive', () => {
    const err: unknown = pkiError('no_key', 'no key');
    expect(hasCodeOf(err, PKI_ERRORS)).toBe(true);
    expect(hasCodeOf(err, FS_ERRORS)).toBe(false);
    expect(hasCodeOf(new IyesmpError('io', 'toString', 'x'), PKI_ERRORS)).toBe(false);
    if (hasCodeOf(err, PKI_ERRORS)) expectTypeOf(err.code).toEqualTypeOf<PkiErrorCode>();
  });

  it('keep the auth codes and kinds that are on the wire', () => {
    // dotted codes name their concept; the hand-off and endpoint codes are bare, as before the registries
    for (const [name, registry] of Object.entries(AUTH_REGISTRIES)) {
      const prefix = {
        ACCOUNT_ERRORS: 'auth.',
        ADMIN_ERRORS: 'admin.',
        HOST_REGISTRY_ERRORS: 'host.',
        LOBBY_ERRORS: 'lobby.',
        MATCHMAKING_ERRORS: 'mm.',
        SESSION_ERRORS: 'session.',
      }[name];
      for (const code of Object.keys(registry)) expect(prefix === undefined ? !code.includes('.') : code.startsWith(prefix), `${name}.${code}`).toBe(true);
    }
    expect([ACCOUNT_ERRORS['auth.invalid_request'], ACCOUNT_ERRORS['auth.banned'], LOBBY_ERRORS['lobby.bad_request'], LOBBY_ERRORS['lobby.full']]).toEqual([
      'input',
      'refused',
      'input',
      'conflict',
    ]);
    expect([MATCHMAKING_ERRORS['mm.rating_required'], HOST_REGISTRY_ERRORS['host.unknown'], HANDOFF_ERRORS.mint_failed]).toEqual([
      'input',
      'conflict',
      'internal',
    ]);
    const made = sessionError.as('conflict', 'session.unknown', 'no session S1');
    expect([made.kind, made.code]).toEqual(['conflict', 'session.unknown']);
    const e: unknown = made;
    expect([hasCodeOf(e, SESSION_ERRORS), hasCodeOf(e, LOBBY_ERRORS)]).toEqual([true, false]);
    if (hasCodeOf(e, SESSION_ERRORS)) expectTypeOf(e.code).toEqualTypeOf<SessionErrorCode>();
  });

  it('register every netcode state a failed handshake is named after', () => {
    // session-client.ts raises `netcode_<state>` for whatever state the handshake settled in
    for (const state of Object.values(ClientState).filter((s) => s !== ClientState.connected)) {
      expect(Object.keys(NETCODE_SESSION_ERRORS)).toContain(`netcode_${clientStateName(state)}`);
    }
  });
});
