/**
 * One error type for everything iyesmp reports to a person or a program.
 * `kind` decides the CLI exit code; `code` is a stable machine-readable identifier
 * (it appears in `--json` output and in protocol error replies).
 *
 * Each layer registers its codes in one table, code -> kind (`PKI_ERRORS` in src/pki/errors.ts, ...),
 * and raises them through that table's factory, so a code always carries its registered kind and a
 * caller can narrow with `hasCodeOf(err, PKI_ERRORS)` and then `switch` over `err.code` exhaustively.
 */
export type ErrorKind =
  | 'usage' // bad flags or arguments
  | 'input' // a file, config, key, certificate or message is malformed or unusable
  | 'conflict' // would overwrite something that exists, or the state forbids the action
  | 'io' // the filesystem or network refused (permissions, missing folder, port in use)
  | 'refused' // a peer or certificate was rejected by policy
  | 'check' // a check ran and found problems (certs check, config check)
  | 'internal'; // a bug: should never happen

export interface IyesmpErrorOptions {
  hint?: string;
  cause?: unknown;
  details?: Record<string, unknown>;
}

/** `C` narrows the code when it comes from a registry; codes from a peer or a game stay `string`. */
export class IyesmpError<C extends string = string> extends Error {
  readonly kind: ErrorKind;
  readonly code: C;
  readonly hint: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(kind: ErrorKind, code: C, message: string, opts: IyesmpErrorOptions = {}) {
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

/**
 * A layer's codes and the kind each is raised with. A few codes were raised with more than one kind
 * before the registries existed; they list every kind, and the site names the one it raises (`.as`).
 */
export type ErrorRegistry = Readonly<Record<string, ErrorKind | readonly [ErrorKind, ErrorKind, ...ErrorKind[]]>>;
export type ErrorCodeOf<R extends ErrorRegistry> = keyof R & string;
type KindsOf<K> = K extends readonly (infer E)[] ? E : K;
type SingleKindCode<R extends ErrorRegistry> = { [C in ErrorCodeOf<R>]: R[C] extends ErrorKind ? C : never }[ErrorCodeOf<R>];

export interface ErrorFactory<R extends ErrorRegistry> {
  /** The error for a code with one registered kind. */
  <C extends SingleKindCode<R>>(code: C, message: string, opts?: IyesmpErrorOptions): IyesmpError<C>;
  /** The error for a code registered with several kinds: `kind` must be one of them. */
  as<C extends ErrorCodeOf<R>>(kind: KindsOf<R[C]>, code: C, message: string, opts?: IyesmpErrorOptions): IyesmpError<C>;
  readonly registry: R;
}

export function errorFactory<const R extends ErrorRegistry>(registry: R): ErrorFactory<R> {
  const make = <C extends SingleKindCode<R>>(code: C, message: string, opts?: IyesmpErrorOptions): IyesmpError<C> =>
    new IyesmpError(registry[code] as ErrorKind, code, message, opts);
  return Object.assign(make, {
    as: <C extends ErrorCodeOf<R>>(kind: KindsOf<R[C]>, code: C, message: string, opts?: IyesmpErrorOptions) =>
      new IyesmpError(kind as ErrorKind, code, message, opts),
    registry,
  });
}

/** Narrows to the errors of one registry, for an exhaustive `switch (err.code)`. */
export function hasCodeOf<R extends ErrorRegistry>(err: unknown, registry: R): err is IyesmpError<ErrorCodeOf<R>> {
  return err instanceof IyesmpError && Object.hasOwn(registry, err.code);
}
