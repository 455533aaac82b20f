/**
 * One error type for everything iyesmp reports to a person or a program.
 * `kind` decides the CLI exit code; `code` is a stable machine-readable identifier
 * (it appears in `--json` output and in protocol error replies).
 */
export type ErrorKind =
  | 'usage' // bad flags or arguments
  | 'input' // a file, config, key, certificate or message is malformed or unusable
  | 'conflict' // would overwrite something that exists, or the state forbids the action
  | 'io' // the filesystem or network refused (permissions, missing folder, port in use)
  | 'refused' // a peer or certificate was rejected by policy
  | 'check' // a check ran and found problems (certs check, config check)
  | 'internal'; // a bug: should never happen

export class IyesmpError extends Error {
  readonly kind: ErrorKind;
  readonly code: string;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    kind: ErrorKind,
    code: string,
    message: string,
    opts: { hint?: string; cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'IyesmpError';
    this.kind = kind;
    this.code = code;
    this.hint = opts.hint;
    this.details = opts.details;
  }
}

export function isIyesmpError(err: unknown): err is IyesmpError {
  return err instanceof IyesmpError;
}
