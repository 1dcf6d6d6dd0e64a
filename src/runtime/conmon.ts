// conmon as the per-container monitor (as Podman and CRI-O use it): it runs
// `runc create`, holds the container's stdio or pty, writes the k8s-file log,
// serves the attach socket, reaps the container, records its exit code, and
// then runs our exit command (`berth container cleanup ID`).
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import type { Socket } from 'node:net';
import type { Monitor, MonitorCreateOptions, MonitorResult, OciRuntime } from './runtime.js';
import { BerthError } from '../engine/errors.js';

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

  create(o: MonitorCreateOptions): Promise<MonitorResult> {
    const args = [
      '--api-version', '1', '-c', o.id, '-u', o.id, '-n', o.name,
      '-r', this.runtime.path,
      ...this.runtime.globalArgs.flatMap((a) => ['--runtime-arg', a]),
      '--runtime-arg', '--log-format=json', '--runtime-arg', `--log=${this.runtimeLog(o.bundle)}`,
      '-b', o.bundle, '-p', path.join(o.bundle, 'pidfile'), '-P', path.join(o.bundle, 'conmon.pid'),
      '--exit-dir', o.bundle, '--persist-dir', o.bundle, '--socket-dir-path', o.bundle, '--full-attach',
      '--log-level', 'error',
      '-l', o.logDriver === 'none' ? 'none' : `k8s-file:${o.logPath}`,
    ];
    if (o.logSizeMax && o.logSizeMax > 0) args.push('--log-size-max', String(o.logSizeMax));
    if (o.tty) args.push('-t');
    if (o.stdin) args.push('-i');
    if (o.exitCommand.length) {
      args.push('--exit-command', o.exitCommand[0]!);
      for (const a of o.exitCommand.slice(1)) args.push('--exit-command-arg', a);
    }
    const errFd = fs.openSync(path.join(o.bundle, 'conmon.err'), 'a');
    const child = spawn(this.path, args, {
      cwd: o.bundle,
      stdio: ['ignore', 'ignore', errFd, 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4', HOME: process.env.HOME ?? '/root' },
      detached: true,
    });
    fs.closeSync(errFd);
    const sync = child.stdio[3] as Socket;
    const startPipe = child.stdio[4] as Socket;
    return new Promise<MonitorResult>((resolve, reject) => {
      let buf = '';
      let done = false;
      const finish = (err: Error | undefined, res?: MonitorResult) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        sync.destroy();
        startPipe.destroy();
        child.unref();
        if (err) reject(err);
        else resolve(res!);
      };
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        finish(new BerthError('runtime', `conmon did not report the container within ${CREATE_TIMEOUT_MS / 1000}s`));
      }, CREATE_TIMEOUT_MS);
      child.on('error', (e) => finish(new BerthError('runtime', `cannot run conmon (${this.path}): ${e.message}; install conmon`)));
      sync.on('data', (d: Buffer) => {
        buf += d.toString();
        const nl = buf.indexOf('\n');
        if (nl < 0) return;
        let msg: { data: number; message?: string };
        try {
          msg = JSON.parse(buf.slice(0, nl)) as { data: number; message?: string };
        } catch {
          return finish(new BerthError('runtime', `conmon sent an unreadable message: ${buf.slice(0, 200)}`));
        }
        if (msg.data < 0) return finish(this.createError(o.bundle, msg.message));
        const monitorPid = Number(readOr(path.join(o.bundle, 'conmon.pid')).trim()) || 0;
        finish(undefined, { pid: msg.data, monitorPid });
      });
      sync.on('close', () => {
        if (!done) finish(this.createError(o.bundle, readOr(path.join(o.bundle, 'conmon.err')).trim() || 'conmon exited before reporting the container'));
      });
      sync.on('error', () => { /* reported by close */ });
      startPipe.on('error', () => { /* conmon gone: reported via sync close */ });
      // conmon waits for one byte on the start pipe before it forks and creates the container.
      startPipe.write(Buffer.from([0]));
    });
  }

  /** Turns runc's failure into a typed error; exec failures map to 126/127 like Podman. */
  private createError(bundle: string, message?: string): BerthError {
    let detail = message ?? '';
    const ociLog = readOr(this.runtimeLog(bundle));
    for (const line of ociLog.trim().split('\n').reverse()) {
      try {
        const j = JSON.parse(line) as { level?: string; msg?: string };
        if (j.level === 'error' && j.msg) { detail = j.msg; break; }
      } catch { /* not JSON */ }
    }
    detail = detail.replace(/^runc create failed: /, '').trim() || 'unknown error';
    if (/executable file not found|no such file or directory/.test(detail) && /exec:|stat /.test(detail)) {
      return new BerthError('command-not-found', `${detail}: OCI runtime attempted to invoke a command that was not found`);
    }
    if (/permission denied/.test(detail) && /exec/.test(detail)) {
      return new BerthError('cannot-invoke', `${detail}: OCI permission denied`);
    }
    return new BerthError('runtime', `OCI runtime error: ${detail}`);
  }
}

function readOr(file: string): string {
  try { return fs.readFileSync(file, 'utf8'); } catch { return ''; }
}
