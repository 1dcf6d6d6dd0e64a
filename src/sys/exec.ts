// The one helper through which Berth runs external programs (runc, mount, ip, nft…).
// It records the command line and stderr, and turns failure into a typed error.
import { spawn, type SpawnOptions } from 'node:child_process';
import { BerthError, type ErrorKind } from '../engine/errors.js';
import { log } from './log.js';

export interface RunOptions {
  input?: string | Buffer;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Error kind when the program fails (default 'runtime'). */
  errorKind?: ErrorKind;
  /** Extra advice appended to the error message. */
  hint?: string;
  /** Do not throw on a non-zero exit; return the result instead. */
  allowFailure?: boolean;
}

export interface RunResult { code: number; stdout: string; stderr: string }

/** Runs a program to completion, capturing stdout and stderr. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const started = log.enabled('debug') ? performance.now() : 0;
  return new Promise((resolve, reject) => {
    const spawnOpts: SpawnOptions = { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] };
    const child = spawn(cmd, args, spawnOpts);
    const out: Buffer[] = [], err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => {
      reject(new BerthError(opts.errorKind ?? 'runtime',
        `cannot run ${cmd}: ${e.code === 'ENOENT' ? 'program not found; install it (see README)' : e.message}`));
    });
    child.on('close', (code, signal) => {
      const result = { code: code ?? 128 + signalNumber(signal), stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
      if (started) log.debug(`exec ${cmd} ${args.join(' ')} → ${result.code} in ${(performance.now() - started).toFixed(1)} ms`);
      if (result.code !== 0 && !opts.allowFailure) {
        const detail = lastLine(result.stderr) || lastLine(result.stdout) || `exit status ${result.code}`;
        reject(new BerthError(opts.errorKind ?? 'runtime', `${cmd} ${args[0] ?? ''} failed: ${detail}${opts.hint ? ` (${opts.hint})` : ''}`));
        return;
      }
      resolve(result);
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    else child.stdin!.end();
  });
}

/** The last line a failing command printed: usually the error itself. */
function lastLine(s: string): string {
  return s.trim().split('\n').filter(Boolean).pop()?.trim() ?? '';
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };
function signalNumber(s: NodeJS.Signals | null): number {
  return s ? SIGNALS[s] ?? 0 : 0;
}
