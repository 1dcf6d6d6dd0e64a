// The one helper through which Berth runs external programs (runc, mount, ip, nft…).
// It records the command line and stderr, and turns failure into a typed error.
import { spawn, type SpawnOptions } from 'node:child_process';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { fastSpawnAvailable, spawnProcess, type SpawnedProcess } from './spawn.js';
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
export async function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const started = log.enabled('debug') ? performance.now() : 0;
  const { code, stdout, stderr } = fastSpawnAvailable() ? await runWithoutFork(cmd, args, opts) : await runForked(cmd, args, opts);
  const result = { code, stdout: stdout.toString(), stderr: stderr.toString() };
  if (started) log.debug(`exec ${cmd} ${args.join(' ')} → ${result.code} in ${(performance.now() - started).toFixed(1)} ms`);
  if (result.code !== 0 && !opts.allowFailure) {
    const detail = lastLine(result.stderr) || lastLine(result.stdout) || `exit status ${result.code}`;
    throw new BerthError(opts.errorKind ?? 'runtime', `${cmd} ${args[0] ?? ''} failed: ${detail}${opts.hint ? ` (${opts.hint})` : ''}`);
  }
  return result;
}

interface Finished { code: number; stdout: Buffer; stderr: Buffer }

function cannotRun(cmd: string, e: NodeJS.ErrnoException, opts: RunOptions): BerthError {
  return new BerthError(opts.errorKind ?? 'runtime',
    `cannot run ${cmd}: ${e.code === 'ENOENT' ? 'program not found; install it (see README)' : e.message}`);
}

function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  stream.on('data', (b: Buffer) => parts.push(b));
  return new Promise((resolve) => stream.on('close', () => resolve(Buffer.concat(parts))));
}

/** posix_spawn (see spawn.ts): no fork of this process. */
async function runWithoutFork(cmd: string, args: string[], opts: RunOptions): Promise<Finished> {
  let child: SpawnedProcess;
  try {
    child = spawnProcess(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (e) {
    throw cannotRun(cmd, e as NodeJS.ErrnoException, opts);
  }
  const [stdin, out, err] = child.stdio as Socket[];
  stdin!.on('error', () => { /* EPIPE: the program did not read its input; its exit status tells */ });
  if (opts.input !== undefined) stdin!.end(opts.input);
  else stdin!.end();
  const [code, stdout, stderr] = await Promise.all([child.exited, collect(out!), collect(err!)]);
  return { code, stdout, stderr };
}

function runForked(cmd: string, args: string[], opts: RunOptions): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const spawnOpts: SpawnOptions = { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] };
    const child = spawn(cmd, args, spawnOpts);
    const out = collect(child.stdout!), err = collect(child.stderr!);
    child.on('error', (e: NodeJS.ErrnoException) => reject(cannotRun(cmd, e, opts)));
    child.on('close', (code, signal) => {
      void Promise.all([out, err]).then(([stdout, stderr]) => resolve({ code: code ?? 128 + signalNumber(signal), stdout, stderr }));
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
