// The OCI runtime's error messages as typed errors: a command that does not
// exist is 127, one that cannot be run 126, anything else 125 (like Podman).
import { BerthError } from '../engine/errors.js';

export function runtimeFailure(message: string): BerthError {
  const detail = message.replace(/^runc (create|exec|run) failed: /, '').trim() || 'unknown error';
  if (/executable file not found|no such file or directory/.test(detail) && /exec:|stat /.test(detail)) {
    return new BerthError('command-not-found', `${detail}: OCI runtime attempted to invoke a command that was not found`);
  }
  if (/permission denied/.test(detail) && /exec/.test(detail)) {
    return new BerthError('cannot-invoke', `${detail}: OCI permission denied`);
  }
  return new BerthError('runtime', `OCI runtime error: ${detail}`);
}
