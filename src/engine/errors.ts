// One typed error hierarchy for the whole engine. Front doors map `kind` to exit
// codes (cli/exit-codes.ts) or HTTP statuses (later: api/). Messages are one line
// and say what to do.

export type ErrorKind =
  | 'not-found'        // no such container / image / volume
  | 'conflict'         // name in use, container running, image in use
  | 'invalid-argument' // bad flag value, malformed reference or input file
  | 'runtime'          // the OCI runtime or monitor failed
  | 'cannot-invoke'    // the container command exists but cannot be run (126)
  | 'command-not-found'// the container command does not exist (127)
  | 'corrupt'          // digest mismatch, hostile or truncated archive
  | 'not-running'      // action needs a running container
  | 'internal';

export class BerthError extends Error {
  readonly kind: ErrorKind;
  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
    this.name = 'BerthError';
  }
}

export const notFound = (msg: string) => new BerthError('not-found', msg);
export const conflict = (msg: string) => new BerthError('conflict', msg);
export const invalidArgument = (msg: string) => new BerthError('invalid-argument', msg);
export const corrupt = (msg: string) => new BerthError('corrupt', msg);
export const runtimeError = (msg: string) => new BerthError('runtime', msg);

export function isBerthError(e: unknown, kind?: ErrorKind): e is BerthError {
  return e instanceof BerthError && (kind === undefined || e.kind === kind);
}

/** Error message of anything thrown, without a stack. */
export function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
