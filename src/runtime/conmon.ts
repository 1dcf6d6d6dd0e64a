// conmon as the per-container monitor (as Podman and CRI-O use it): it runs
// `runc create`, holds the container's stdio or pty, writes the k8s-file log,
// serves the attach socket, reaps the container, records its exit code, and
// then runs our exit command (`berth container cleanup ID`).
import fs from 'node:fs';
import path from 'node:path';
import type { Monitor, MonitorCreateOptions, MonitorResult, OciRuntime, MonitorExecOptions, ExecHandle } from './runtime.js';
import { BerthError, isBerthError } from '../engine/errors.js';
import { spawnConmon, withTimeout } from './conmon-pipes.js';
import { runtimeFailure } from './errors.js';
import { readTextOr } from '../sys/fsutil.js';

const CREATE_TIMEOUT_MS = 120_000;

export class Conmon implements Monitor {
  readonly name = 'conmon';
  constructor(readonly path: string, private runtime: OciRuntime) {}

  exitFile(bundle: string, id: string): string { return path.join(bundle, id); }
  oomFile(bundle: string): string { return path.join(bundle, 'oom'); }
  attachSocket(bundle: string): string { return path.join(bundle, 'attach'); }
  runtimeLog(bundle: string): string { return path.join(bundle, 'oci-log'); }

  resize(bundle: string, rows: number, cols: number): void {
    // Message type 1 on the control FIFO = window size (conmon applies it to the pty master).
    try {
      const fd = fs.openSync(path.join(bundle, 'ctl'), fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
      try { fs.writeSync(fd, `1 ${rows} ${cols}\n`); } finally { fs.closeSync(fd); }
    } catch {
      // The container is gone or has no tty: nothing to resize.
    }
  }

  async create(o: MonitorCreateOptions): Promise<MonitorResult> {
    const args = [
      '--api-version', '1', '-c', o.id, '-u', o.id, '-n', o.name,
      ...this.runtimeArgs(o.bundle),
      '-b', o.bundle, '-p', path.join(o.bundle, 'pidfile'), '-P', path.join(o.bundle, 'conmon.pid'),
      '--exit-dir', o.bundle, '--persist-dir', o.bundle, '--socket-dir-path', o.bundle, '--full-attach',
      '--log-level', 'error',
      '-l', o.logDriver === 'none' ? 'none' : `k8s-file:${o.logPath}`,
    ];
    if (o.logSizeMax && o.logSizeMax > 0) args.push('--log-size-max', String(o.logSizeMax));
    if (o.tty) args.push('-t');
    if (o.stdin) args.push('-i');
    // With a tty, end of input is a ^D through the pty; a client that detaches must not close stdin.
    if (o.tty && o.stdin) args.push('--leave-stdin-open');
    args.push(...exitCommandArgs(o.exitCommand));
    const proc = spawnConmon(this.path, args, o.bundle, path.join(o.bundle, 'conmon.err'));
    try {
      proc.start();
      let msg;
      try {
        msg = await withTimeout(proc.sync.next(), CREATE_TIMEOUT_MS, 'conmon to create the container');
      } catch (e) {
        if (isBerthError(e) && /closed/.test(e.message)) {
          throw this.createError(o.bundle, readTextOr(path.join(o.bundle, 'conmon.err')).trim() || 'conmon exited before reporting the container');
        }
        throw e;
      }
      if (msg.data < 0) throw this.createError(o.bundle, msg.message);
      const monitorPid = Number(readTextOr(path.join(o.bundle, 'conmon.pid')).trim()) || 0;
      return { pid: msg.data, monitorPid };
    } catch (e) {
      proc.child.kill('SIGKILL');
      throw e;
    } finally {
      proc.release();
    }
  }

  /**
   * Starts `runc exec` under its own conmon. With `attach`, resolves once the exec's
   * attach socket is ready: connect to it, then call begin() to run the process.
   */
  async exec(o: MonitorExecOptions): Promise<ExecHandle> {
    const args = [
      '--api-version', '1', '-c', o.containerId, '-u', o.execId, '-n', o.name,
      ...this.runtimeArgs(o.execDir),
      '-b', o.execDir, '-p', path.join(o.execDir, 'exec_pid'), '--exit-dir', o.execDir, '--socket-dir-path', o.execDir,
      '--full-attach', '-l', 'none', '--log-level', 'error',
      '-e', '--exec-process-spec', o.processSpec,
    ];
    if (o.attach) args.push('--exec-attach');
    if (o.tty) args.push('-t');
    if (o.stdin) args.push('-i');
    const proc = spawnConmon(this.path, args, o.execDir, path.join(o.execDir, 'conmon.err'), { attachPipe: o.attach });
    const failed = (e: unknown) => {
      proc.child.kill('SIGKILL');
      proc.release();
      if (isBerthError(e) && /closed/.test(e.message)) throw this.createError(o.execDir, readTextOr(path.join(o.execDir, 'conmon.err')).trim() || 'conmon exited before starting the exec');
      throw e;
    };
    proc.start();
    if (o.attach) {
      try {
        await withTimeout(proc.attach!.next(), CREATE_TIMEOUT_MS, 'the exec attach socket');
      } catch (e) {
        failed(e);
      }
    }
    let begun = false;
    const begin = async (): Promise<number> => {
      if (begun) throw new BerthError('internal', 'exec already started');
      begun = true;
      if (o.attach) proc.start();
      let msg;
      try {
        msg = await withTimeout(proc.sync.next(), CREATE_TIMEOUT_MS, 'conmon to start the exec');
      } catch (e) {
        return failed(e);
      }
      if (msg.data < 0) {
        proc.release();
        throw this.createError(o.execDir, msg.message);
      }
      return msg.data;
    };
    return {
      socketPath: this.attachSocket(o.execDir),
      begin,
      exitCode: async () => {
        try {
          const msg = await proc.sync.next();
          return msg.data;
        } catch {
          // conmon died or was detached from: fall back to its exit file.
          const code = readTextOr(path.join(o.execDir, o.containerId)).trim();
          return code ? Number(code) : -1;
        } finally {
          proc.release();
        }
      },
      release: () => proc.release(),
    };
  }

  runtimeArgs(logDir: string): string[] {
    return [
      '-r', this.runtime.path,
      ...this.runtime.globalArgs.flatMap((a) => ['--runtime-arg', a]),
      '--runtime-arg', '--log-format=json', '--runtime-arg', `--log=${this.runtimeLog(logDir)}`,
    ];
  }

  /** Turns runc's failure (from conmon's message or runc's JSON log) into a typed error. */
  createError(bundle: string, message?: string): BerthError {
    let detail = message ?? '';
    const ociLog = readTextOr(this.runtimeLog(bundle));
    for (const line of ociLog.trim().split('\n').reverse()) {
      try {
        const j = JSON.parse(line) as { level?: string; msg?: string };
        if (j.level === 'error' && j.msg) { detail = j.msg; break; }
      } catch { /* not JSON */ }
    }
    return runtimeFailure(detail);
  }
}

export function exitCommandArgs(cmd: string[]): string[] {
  if (!cmd.length) return [];
  return ['--exit-command', cmd[0]!, ...cmd.slice(1).flatMap((a) => ['--exit-command-arg', a])];
}

