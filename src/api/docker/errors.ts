// The one place where errors become HTTP answers: BerthError kinds map to the
// status codes Docker's clients act on (404 makes the CLI pull and retry, 409,
// 400, …), and a few cases get moby's exact wording, which clients match on.
import { BerthError, isBerthError, messageOf } from '../../engine/errors.js';

/** An error with an HTTP status and moby's message, raised by the API layer itself. */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = 'ApiError';
  }
}

const STATUS: Record<BerthError['kind'], number> = {
  'not-found': 404,
  'conflict': 409,
  'invalid-argument': 400,
  'corrupt': 400,
  'not-running': 409,
  // moby answers a missing or unrunnable command with 400; the CLI maps the text to 126/127.
  'command-not-found': 400,
  'cannot-invoke': 400,
  'runtime': 500,
  'internal': 500,
};

/** Status and message for anything a handler threw. */
export function toHttpError(e: unknown): { status: number; message: string } {
  if (e instanceof ApiError) return { status: e.status, message: e.message };
  if (isBerthError(e)) return { status: STATUS[e.kind] ?? 500, message: e.message };
  return { status: 500, message: messageOf(e) };
}

// moby's texts for the cases clients recognise (dockerode's reasons, TC's image check, `rm -f`).
export const noSuchContainer = (ref: string) => new ApiError(404, `No such container: ${ref}`);
export const noSuchImage = (ref: string) => new ApiError(404, `No such image: ${ref}`);
export const noSuchExec = (id: string) => new ApiError(404, `No such exec instance: ${id}`);
export const noSuchNetwork = (ref: string) => new ApiError(404, `network ${ref} not found`);
export const noSuchVolume = (name: string) => new ApiError(404, `get ${name}: no such volume`);
export const noSuchPath = (path: string, ref: string) => new ApiError(404, `Could not find the file ${path} in container ${ref}`);
export const notRunning = (id: string) => new ApiError(409, `container ${id} is not running`);
export const badRequest = (message: string) => new ApiError(400, message);
export const pageNotFound = () => new ApiError(404, 'page not found');

/** Re-labels an engine not-found as `fallback` (e.g. "No such container: x"); other errors pass through. */
export function orNotFound(e: unknown, fallback: ApiError): unknown {
  return isBerthError(e, 'not-found') ? fallback : e;
}
