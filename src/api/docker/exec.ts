// /containers/{id}/exec, /exec/{id}/start|resize|json: Docker's two-step exec on
// top of the Engine's one-step execContainer. The exit code is recorded before
// the output stream ends, so GET /exec/{id}/json right after EOF shows it.
import type { Call, Router } from './router.js';
import { qInt, readJson } from './router.js';
import { send, ok } from './respond.js';
import { ApiError, noSuchContainer, noSuchExec, notRunning } from './errors.js';
import { boolean, integer, string, strings } from './translate.js';
import { openStream, detachFilter, detachKeys } from './streams.js';
import type { ExecConfig, ExecInstance } from './exec-store.js';
import { isBerthError, messageOf } from '../../engine/errors.js';
import type { AttachStreams } from '../../engine/engine.js';

function consoleSize(v: unknown, field: string): { rows: number; cols: number } | undefined {
  if (!Array.isArray(v) || v.length !== 2) return undefined;
  const rows = integer(v[0], `${field}[0]`), cols = integer(v[1], `${field}[1]`);
  return rows && cols ? { rows, cols } : undefined;
}

async function createExec(c: Call): Promise<void> {
  const ref = c.params.id!;
  if (!c.engine.containerExists(ref)) throw noSuchContainer(ref);
  const body = await readJson(c);
  const rec = c.engine.getContainer(ref);
  if (rec.state !== 'running') throw rec.state === 'paused' ? new ApiError(409, `container ${rec.config.id} is paused, unpause the container before exec`) : notRunning(rec.config.id);
  const cmd = strings(typeof body.Cmd === 'string' ? [body.Cmd] : body.Cmd, 'Cmd') ?? [];
  if (!cmd.length) throw new ApiError(400, 'no exec command specified');
  const config: ExecConfig = {
    cmd,
    tty: !!boolean(body.Tty, 'Tty'),
    env: strings(body.Env, 'Env') ?? [],
    user: string(body.User, 'User') || undefined,
    workingDir: string(body.WorkingDir, 'WorkingDir') || undefined,
    privileged: !!boolean(body.Privileged, 'Privileged'),
    attachStdin: !!boolean(body.AttachStdin, 'AttachStdin'),
    attachStdout: !!boolean(body.AttachStdout, 'AttachStdout'),
    attachStderr: !!boolean(body.AttachStderr, 'AttachStderr'),
    detachKeys: string(body.DetachKeys, 'DetachKeys') || undefined,
    consoleSize: consoleSize(body.ConsoleSize, 'ConsoleSize'),
  };
  const inst = c.state.execs.create(rec.config.id, config);
  ok(c, { Id: inst.id }, 201);
}

function findExec(c: Call): ExecInstance {
  const inst = c.state.execs.get(c.params.id!);
  if (!inst) throw noSuchExec(c.params.id!);
  return inst;
}

/** Exit code for an exec that could not start, as Docker reports it (127: not found, 126: cannot run). */
function failedCode(e: unknown): number {
  return isBerthError(e, 'command-not-found') ? 127 : 126;
}

async function startExec(c: Call): Promise<void> {
  const inst = findExec(c);
  const body = await readJson(c);
  if (inst.state !== 'created') throw new ApiError(409, `exec ${inst.id} has already been started`);
  const detach = !!boolean(body.Detach, 'Detach');
  const cfg = inst.config;
  const size = consoleSize(body.ConsoleSize, 'ConsoleSize') ?? cfg.consoleSize;
  const opts = { cmd: cfg.cmd, tty: cfg.tty, env: cfg.env, user: cfg.user, workingDir: cfg.workingDir, privileged: cfg.privileged, detach: false };
  const rec = c.engine.getContainer(inst.containerId);
  if (rec.state !== 'running') throw notRunning(rec.config.id);
  inst.state = 'running';
  if (detach) {
    // Attached to nothing, so the exit code is still known for GET /exec/{id}/json.
    const discard = () => {};
    try {
      const res = await c.engine.execContainer(inst.containerId, { ...opts, interactive: false }, { stdout: discard, stderr: discard });
      inst.session = res.session;
      void res.exitCode.then((code) => c.state.execs.finish(inst, code), () => c.state.execs.finish(inst, -1));
    } catch (e) {
      c.state.execs.finish(inst, failedCode(e));
      throw e;
    }
    send(c, 200);
    return;
  }
  const interactive = cfg.attachStdin && !!c.hijack;
  const { out, stdin } = openStream(c, cfg.tty, { stdin: interactive });
  const streams: AttachStreams = {
    stdout: cfg.attachStdout ? out.stdout : () => {},
    stderr: cfg.attachStderr ? out.stderr : () => {},
    size,
  };
  if (stdin) streams.stdin = stdin.pipe(detachFilter(detachKeys(cfg.detachKeys), () => { inst.session?.detach(); out.end(); }));
  let code: number;
  try {
    const res = await c.engine.execContainer(inst.containerId, { ...opts, interactive }, streams);
    inst.session = res.session;
    void out.done.then(() => res.session?.detach());
    await res.session?.done;
    code = await res.exitCode;
  } catch (e) {
    // The stream has begun: the error goes into it, as moby writes it, and the code to the exec.
    code = failedCode(e);
    out.stderr(Buffer.from(`OCI runtime exec failed: ${messageOf(e)}\r\n`));
  }
  c.state.execs.finish(inst, code);
  out.end();
}

function resizeExec(c: Call): void {
  const inst = findExec(c);
  const h = qInt(c, 'h'), w = qInt(c, 'w');
  if (h === undefined || w === undefined || h < 0 || w < 0) throw new ApiError(400, 'resize needs h and w (rows and columns)');
  inst.session?.resize(h, w);
  send(c, 200);
}

function inspectExec(c: Call): void {
  const e = findExec(c);
  const [entrypoint, ...args] = e.config.cmd;
  ok(c, {
    ID: e.id, ContainerID: e.containerId, Running: e.state === 'running', ExitCode: e.exitCode, Pid: 0,
    OpenStdin: e.config.attachStdin, OpenStdout: e.config.attachStdout, OpenStderr: e.config.attachStderr,
    CanRemove: e.state === 'exited', DetachKeys: e.config.detachKeys ?? '',
    ProcessConfig: { tty: e.config.tty, entrypoint, arguments: args, privileged: e.config.privileged, user: e.config.user ?? '' },
  });
}

export function execRoutes(r: Router): void {
  r.add('POST', '/containers/:id/exec', createExec)
    .add('POST', '/exec/:id/start', startExec)
    .add('POST', '/exec/:id/resize', resizeExec)
    .add('GET', '/exec/:id/json', inspectExec);
}
