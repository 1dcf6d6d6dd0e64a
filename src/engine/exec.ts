// `berth exec`: runs a process in a running container under its own conmon,
// attached or detached, and reports the process's own exit code.
import fs from 'node:fs';
import path from 'node:path';
import type { EngineContext } from './context.js';
import type { OciProcess } from '../runtime/oci.js';
import type { ContainerRecord } from './container-types.js';
import { BerthError, invalidArgument } from './errors.js';
import { observe, isActive } from './lifecycle.js';
import { attachModule, openSession, type AttachSession, type AttachStreams } from './attach.js';
import { resolveUser } from '../runtime/user.js';
import { overlayDirs } from '../snapshot/overlay.js';
import { mergeEnv } from './parse.js';
import { newId } from './names.js';
import { containerCapabilities } from '../runtime/capabilities.js';
import { trace } from '../sys/log.js';
import { removeTree } from '../sys/fsutil.js';

export interface ExecOptions {
  cmd: string[];
  tty?: boolean;
  interactive?: boolean;
  detach?: boolean;
  env?: string[];
  user?: string;
  workingDir?: string;
  privileged?: boolean;
}

export interface ExecResult {
  id: string;
  session?: AttachSession;
  /** The exec's exit code (for a detached exec: when known, else -1). */
  exitCode: Promise<number>;
}

/** Writes the OCI process for an exec into its own directory under the container's bundle. */
export function prepareExec(ctx: EngineContext, rec: ContainerRecord, execId: string, o: ExecOptions): { execDir: string; specFile: string } {
  const c = rec.config;
  const bundle = ctx.paths.bundle(c.id);
  let base: OciProcess;
  try {
    base = (JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8')) as { process: OciProcess }).process;
  } catch {
    throw new BerthError('not-running', `cannot exec in container ${c.name}: its runtime state is gone (it is stopping)`);
  }
  const execDir = path.join(bundle, 'execs', execId);
  fs.mkdirSync(execDir, { recursive: true, mode: 0o700 });
  const user = o.user !== undefined ? resolveUser(overlayDirs(ctx.paths.container(c.id)).merged, o.user) : undefined;
  const caps = o.privileged ? containerCapabilities({ privileged: true }).filter((cap) => base.capabilities?.bounding.includes(cap)) : undefined;
  const proc: OciProcess = {
    ...base,
    terminal: !!o.tty,
    args: o.cmd,
    env: mergeEnv(base.env, o.tty ? ['TERM=xterm'] : [], o.env ?? [], user ? [`HOME=${user.home}`] : []),
    cwd: o.workingDir || base.cwd,
    user: user ? { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids, umask: base.user.umask } : base.user,
    ...(caps ? { capabilities: { bounding: caps, effective: caps, permitted: caps } } : {}),
  };
  delete proc.consoleSize;
  const specFile = path.join(execDir, 'process.json');
  fs.writeFileSync(specFile, JSON.stringify(proc));
  return { execDir, specFile };
}

/**
 * `attach` = 'inherit': the process uses this process's own stdio (the CLI): without
 * a tty that needs no monitor at all, so runc runs it directly (much faster).
 */
export async function execInContainer(ctx: EngineContext, containerId: string, o: ExecOptions, attach?: AttachStreams | 'inherit'): Promise<ExecResult> {
  if (!o.cmd.length) throw invalidArgument('exec needs a command: berth exec CONTAINER COMMAND [ARG...]');
  if (o.workingDir && !o.workingDir.startsWith('/')) throw invalidArgument(`the working directory "${o.workingDir}" must be an absolute path`);
  const rec = observe(ctx, ctx.containers.resolve(containerId));
  trace('exec: container found');
  const c = rec.config;
  if (!isActive(rec)) throw new BerthError('not-running', `cannot exec in container ${c.name}: it is not running (start it first)`);
  if (rec.state === 'paused') throw new BerthError('not-running', `cannot exec in container ${c.name}: it is paused (unpause it first)`);
  const execId = newId();
  const { execDir, specFile } = prepareExec(ctx, rec, execId, o);
  trace('exec: process spec written');
  if (attach === 'inherit' && !o.tty && !o.detach) {
    const exitCode = ctx.runtime.execForeground(c.id, specFile, path.join(execDir, 'oci-log'), !!o.interactive)
      .finally(() => removeTree(execDir))
      .then((code) => {
        ctx.events.record('container', 'exec_died', c.id, c.name, { execID: execId, exitCode: String(code) });
        return code;
      });
    // Recorded while runc works, not before it starts.
    ctx.events.record('container', 'exec', c.id, c.name, { execID: execId, command: o.cmd.join(' ') });
    return { id: execId, exitCode };
  }
  if (attach === 'inherit') throw new BerthError('internal', 'a tty exec needs attach streams');
  const attached = !o.detach && attach !== undefined;
  const mod = attached ? attachModule() : undefined;
  const handle = await ctx.monitor.exec({
    containerId: c.id, name: c.name, execId, execDir, processSpec: specFile,
    tty: !!o.tty, stdin: !!o.interactive && attached, attach: attached,
  });
  let session: AttachSession | undefined;
  if (attached && mod) {
    const socket = (await mod).AttachSocket.connect(handle.socketPath);
    if (o.tty && attach!.size) ctx.monitor.resize(execDir, attach!.size.rows, attach!.size.cols);
    session = openSession(ctx, execDir, socket, { ...attach!, tty: !!o.tty });
  }
  try {
    await handle.begin();
  } catch (e) {
    session?.detach();
    removeTree(execDir);
    throw e;
  }
  ctx.events.record('container', 'exec', c.id, c.name, { execID: execId, command: o.cmd.join(' ') });
  if (o.detach || !attached) {
    handle.release();
    return { id: execId, exitCode: Promise.resolve(-1) };
  }
  const exitCode = handle.exitCode().then((code) => {
    ctx.events.record('container', 'exec_died', c.id, c.name, { execID: execId, exitCode: String(code) });
    removeTree(execDir);
    return code;
  });
  return { id: execId, session, exitCode };
}
