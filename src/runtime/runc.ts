// runc as the OCI runtime driver, with a private state root.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { OciRuntime, RuntimeState } from './runtime.js';
import { run } from '../sys/exec.js';
import { BerthError, messageOf } from '../engine/errors.js';
import { fastSpawnAvailable, spawnProcess, type SpawnedProcess } from '../sys/spawn.js';
import { pidAlive, pidStartTime } from '../sys/fsutil.js';
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { runtimeFailure } from './errors.js';

function osSignal(name: NodeJS.Signals): number {
  return (constants.signals as Record<string, number>)[name] ?? 0;
}

/** runc's error from its JSON log (written only when runc itself failed). */
function runcError(logFile: string): BerthError | undefined {
  let text = '';
  try { text = fs.readFileSync(logFile, 'utf8'); } catch { return undefined; }
  for (const line of text.trim().split('\n').reverse()) {
    try {
      const j = JSON.parse(line) as { level?: string; msg?: string };
      if (j.level === 'error' && j.msg) return runtimeFailure(j.msg);
    } catch { /* not JSON */ }
  }
  return undefined;
}

/** The parts of runc's own state file (<root>/<id>/state.json) that the fast paths need. */
interface RuncStateFile {
  init_process_pid: number;
  init_process_start: number;
  cgroup_paths?: Record<string, string>;
  config?: { Hooks?: Record<string, unknown[] | null> };
}

/** Hooks need runc itself to run them. */
function hasHooks(st: RuncStateFile): boolean {
  return Object.values(st.config?.Hooks ?? {}).some((h) => Array.isArray(h) && h.length > 0);
}

/** The container's init is still the process runc started (not exited, not a reused pid). */
function initAlive(st: RuncStateFile): boolean {
  return pidAlive(st.init_process_pid) && pidStartTime(st.init_process_pid) === Number(st.init_process_start);
}

export class Runc implements OciRuntime {
  readonly name = 'runc';
  readonly globalArgs: string[];
  constructor(readonly path: string, private stateRoot: string) {
    this.globalArgs = ['--root', stateRoot];
  }

  private runc(args: string[], allowFailure = false) {
    return run(this.path, [...this.globalArgs, ...args], { allowFailure, hint: undefined });
  }

  async start(id: string): Promise<void> {
    if (await this.startCreated(id)) return;
    await this.runc(['start', id]);
  }

  /**
   * Fast path for `runc start` on a container runc has just created, without
   * spawning runc (~10 ms): runc's init waits to open the exec FIFO in the
   * state directory for writing, writes one byte, and execs the container's
   * process, which closes the FIFO. What `runc start` does is read that byte
   * up to the end, then remove the FIFO; so does this. Poststart hooks, no
   * FIFO (not in the created state) or a dead init: runc does it, and reports.
   */
  private async startCreated(id: string): Promise<boolean> {
    const st = this.stateFile(id);
    if (!st || hasHooks(st) || !initAlive(st)) return false;
    const fifo = path.join(this.stateRoot, id, 'exec.fifo');
    let fd: number;
    try {
      // Non-blocking: opening a FIFO to read would otherwise wait for a writer that may never come.
      fd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    } catch {
      return false;
    }
    const got = await new Promise<number>((resolve, reject) => {
      const pipe = new net.Socket({ fd, readable: true, writable: false });
      let bytes = 0;
      // Like runc: if init dies before it ever opens the FIFO, no end would come. Opening
      // and closing a writer ourselves makes one come through the pipe, after any byte
      // init did write (a timer can run before the poll that would have read it).
      const watch = setInterval(() => {
        if (initAlive(st)) return;
        clearInterval(watch);
        try { fs.closeSync(fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK)); } catch { pipe.destroy(); }
      }, 100);
      pipe.on('data', (b: Buffer) => { bytes += b.length; });
      pipe.on('error', reject);
      pipe.on('close', () => { clearInterval(watch); resolve(bytes); });
    });
    if (got === 0) throw new BerthError('runtime', `container ${id} did not start: its init process exited first`);
    fs.rmSync(fifo, { force: true });
    return true;
  }

  private stateFile(id: string): RuncStateFile | undefined {
    try {
      return JSON.parse(fs.readFileSync(path.join(this.stateRoot, id, 'state.json'), 'utf8')) as RuncStateFile;
    } catch {
      return undefined;
    }
  }

  async kill(id: string, signal: string, all = false): Promise<void> {
    if (!all && this.signalInit(id, signal)) return;
    const r = await this.runc(['kill', ...(all ? ['--all'] : []), id, signal], true);
    if (r.code !== 0 && !/not running|container not running|does not exist|process already finished/.test(r.stderr)) {
      throw new BerthError('runtime', `runc kill ${id} ${signal} failed: ${r.stderr.trim().split('\n').pop()}`);
    }
  }

  async delete(id: string, force = false): Promise<void> {
    if (this.deleteStopped(id)) return;
    const r = await this.runc(['delete', ...(force ? ['--force'] : []), id], true);
    if (r.code !== 0 && !/does not exist|not found/.test(r.stderr)) {
      throw new BerthError('runtime', `runc delete ${id} failed: ${r.stderr.trim().split('\n').pop()}`);
    }
  }

  /**
   * Signals the container's init directly (what `runc kill` does, without
   * spawning runc), after checking from runc's state file that the pid is still
   * that container's init. Returns false when runc should do it.
   */
  private signalInit(id: string, signal: string): boolean {
    if (!/^\d+$/.test(signal)) return false;
    const st = this.stateFile(id);
    if (!st || !initAlive(st)) return false;
    try {
      process.kill(st.init_process_pid, Number(signal));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Fast path for the common case, a container whose init has exited: do what
   * `runc delete` does then (remove its cgroups and state directory) without
   * spawning runc. Anything unusual (live process, hooks, busy cgroup) returns
   * false and runc does it.
   */
  private deleteStopped(id: string): boolean {
    const dir = path.join(this.stateRoot, id);
    let st: RuncStateFile;
    try {
      st = JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')) as RuncStateFile;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'ENOENT' && !fs.existsSync(dir);
    }
    if (hasHooks(st) || initAlive(st)) return false;
    for (const cg of Object.values(st.cgroup_paths ?? {})) {
      try {
        fs.rmdirSync(cg);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT') return false;
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
    return true;
  }

  async state(id: string): Promise<RuntimeState | undefined> {
    const r = await this.runc(['state', id], true);
    if (r.code !== 0) return undefined;
    return JSON.parse(r.stdout) as RuntimeState;
  }

  /**
   * Runs a process in the container in the foreground with the caller's own
   * stdio (no monitor, no tty): the fastest exec. Resolves with the process's exit
   * code; runc's own failure is read from its log and thrown.
   */
  execForeground(id: string, processFile: string, logFile: string, stdin: boolean): Promise<number> {
    const args = [...this.globalArgs, '--log', logFile, '--log-format', 'json', 'exec', '--process', processFile, id];
    const stdio: ('inherit' | 'ignore')[] = [stdin ? 'inherit' : 'ignore', 'inherit', 'inherit'];
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
    const finish = (code: number): number => {
      const failure = runcError(logFile);
      if (failure) throw failure;
      return code;
    };
    if (fastSpawnAvailable()) {
      let child: SpawnedProcess;
      try {
        child = spawnProcess(this.path, args, { env: process.env, stdio });
      } catch (e) {
        return Promise.reject(new BerthError('runtime', `cannot run ${this.path}: ${messageOf(e)}`));
      }
      const forward = (sig: NodeJS.Signals) => child.kill(sig);
      for (const sig of signals) process.on(sig, forward);
      return child.exited.then((code) => {
        for (const sig of signals) process.off(sig, forward);
        return finish(code);
      });
    }
    return new Promise((resolve, reject) => {
      const child = spawn(this.path, args, { stdio });
      const forward = (sig: NodeJS.Signals) => child.kill(sig);
      for (const sig of signals) process.on(sig, forward);
      child.on('error', (e) => reject(new BerthError('runtime', `cannot run ${this.path}: ${e.message}`)));
      child.on('close', (code, signal) => {
        for (const sig of signals) process.off(sig, forward);
        try { resolve(finish(code ?? 128 + (signal ? osSignal(signal) : 0))); } catch (e) { reject(e); }
      });
    });
  }

  /**
   * Runs a process in the container and captures its combined output (at most
   * `maxOutput` bytes), killing it after `timeoutMs`. For health checks.
   */
  execCapture(id: string, processFile: string, dir: string, timeoutMs: number, maxOutput = 4096): Promise<{ code: number; output: string; timedOut: boolean }> {
    const pidFile = path.join(dir, 'pid');
    const logFile = path.join(dir, 'oci-log');
    return new Promise((resolve, reject) => {
      const child = spawn(this.path, [...this.globalArgs, '--log', logFile, '--log-format', 'json', 'exec', '--pid-file', pidFile, '--process', processFile, id],
        { stdio: ['ignore', 'pipe', 'pipe'] });
      const chunks: Buffer[] = [];
      let size = 0;
      const collect = (d: Buffer) => { if (size < maxOutput) { chunks.push(d); size += d.length; } };
      child.stdout!.on('data', collect);
      child.stderr!.on('data', collect);
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        // Killing runc would orphan the process inside the container: kill the process itself.
        const pid = Number(fs.readFileSync(pidFile, { encoding: 'utf8', flag: 'a+' }).trim());
        try { if (pid > 0) process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
        child.kill('SIGKILL');
      }, timeoutMs);
      child.on('error', (e) => { clearTimeout(timer); reject(new BerthError('runtime', `cannot run ${this.path}: ${e.message}`)); });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        const failure = timedOut ? undefined : runcError(logFile);
        if (failure) return reject(failure);
        resolve({ code: code ?? 128 + (signal ? osSignal(signal) : 0), output: Buffer.concat(chunks).subarray(0, maxOutput).toString(), timedOut });
      });
    });
  }

  async pause(id: string): Promise<void> {
    await this.runc(['pause', id]);
  }

  async resume(id: string): Promise<void> {
    await this.runc(['resume', id]);
  }

  async update(id: string, resourcesFile: string): Promise<void> {
    const r = await this.runc(['update', '--resources', resourcesFile, id], true);
    if (r.code !== 0) throw new BerthError('runtime', `runc update ${id} failed: ${r.stderr.trim().split('\n').pop()}; the recorded limits were not changed`);
  }
}
