// The pipes conmon talks over (see reference/podman.md §1.5): it waits for a byte
// on the start pipe, reports `{"data": N, "message"?: …}` lines on the sync pipe
// (the container or exec pid, then for an exec its exit code), and for an
// attached exec says on the attach pipe when its attach socket is ready.
import fs from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { BerthError, messageOf } from '../engine/errors.js';
import { fastSpawnAvailable, spawnProcess, type SpawnedProcess } from '../sys/spawn.js';

export interface ConmonMessage { data: number; message?: string }

/** A queue of JSON lines read from one of conmon's pipes. */
class MessagePipe {
  private buf = '';
  private queue: ConmonMessage[] = [];
  private waiters: { resolve(m: ConmonMessage): void; reject(e: Error): void }[] = [];
  private ended: Error | undefined;

  constructor(private sock: Socket, what: string) {
    sock.on('data', (d: Buffer) => {
      this.buf += d.toString();
      for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        let msg: ConmonMessage;
        try { msg = JSON.parse(line) as ConmonMessage; } catch { continue; }
        const w = this.waiters.shift();
        if (w) w.resolve(msg);
        else this.queue.push(msg);
      }
    });
    const end = () => {
      this.ended ??= new BerthError('runtime', `conmon closed its ${what} pipe`);
      for (const w of this.waiters.splice(0)) w.reject(this.ended);
    };
    sock.on('close', end);
    sock.on('error', end);
  }

  next(): Promise<ConmonMessage> {
    const m = this.queue.shift();
    if (m) return Promise.resolve(m);
    if (this.ended) return Promise.reject(this.ended);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  close(): void { this.sock.destroy(); }
}

export interface ConmonProcess {
  child: { kill(signal: NodeJS.Signals): unknown };
  sync: MessagePipe;
  attach?: MessagePipe;
  /** conmon blocks until it reads a byte here (exec attach: twice). */
  start(): void;
  /** Releases our ends of the pipes so this process can exit while conmon lives on. */
  release(): void;
}

export function spawnConmon(path: string, args: string[], cwd: string, errFile: string, opts: { attachPipe?: boolean } = {}): ConmonProcess {
  const errFd = fs.openSync(errFile, 'a');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: process.env.HOME ?? '/root',
    _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4',
  };
  if (opts.attachPipe) env._OCI_ATTACHPIPE = '5';
  // conmon passes its environment to the exit command: keep Berth's own settings.
  for (const [k, v] of Object.entries(process.env)) if (k.startsWith('BERTH_') && v !== undefined) env[k] = v;
  const stdio: ('ignore' | 'pipe' | number)[] = ['ignore', 'ignore', errFd, 'pipe', 'pipe'];
  if (opts.attachPipe) stdio.push('pipe');
  let child: ChildProcess | SpawnedProcess;
  let pipes: Socket[];
  try {
    if (fastSpawnAvailable()) {
      try {
        child = spawnProcess(path, args, { cwd, stdio, env, newSession: true });
      } catch (e) {
        throw new BerthError('runtime', `cannot run ${path}: ${messageOf(e)}`);
      }
      pipes = child.stdio as Socket[];
    } else {
      child = spawn(path, args, { cwd, stdio, env, detached: true });
      child.on('error', () => { /* reported through the sync pipe closing */ });
      pipes = child.stdio as unknown as Socket[];
    }
  } finally {
    fs.closeSync(errFd);
  }
  const startPipe = pipes[4]!;
  startPipe.on('error', () => { /* conmon gone: the sync pipe reports it */ });
  const sync = new MessagePipe(pipes[3]!, 'sync');
  const attach = opts.attachPipe ? new MessagePipe(pipes[5]!, 'attach') : undefined;
  return {
    child, sync, attach,
    start: () => { startPipe.write(Buffer.from([0])); },
    release: () => {
      sync.close();
      attach?.close();
      startPipe.destroy();
      child.unref();
    },
  };
}

/** Resolves with the next message, or rejects after `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => { timer = setTimeout(() => reject(new BerthError('runtime', `timed out after ${ms / 1000}s waiting for ${what}`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}
