// Container lifecycle: start, wait, stop, kill, cleanup, remove. Every change
// runs under the container's lock; the runtime (runc + conmon's files) says what
// is live and the database records what happened.
import fs from 'node:fs';
import path from 'node:path';
import type { EngineContext } from './context.js';
import type { ContainerRecord, ContainerStatus } from './container-types.js';
import { BerthError, conflict, isBerthError, messageOf } from './errors.js';
import { withContainerLock, removeLockFile } from './intents.js';
import { mountOverlay, unmountOverlay, overlayDirs } from '../snapshot/overlay.js';
import { writeEtcFiles } from './etc-files.js';
import { resolveUser } from '../runtime/user.js';
import { buildSpec } from '../runtime/spec.js';
import { pidAlive, pidStartTime, removeTree } from '../sys/fsutil.js';
import { cgroupPath } from '../sys/cgroups.js';
import { parseSignal } from './parse.js';
import { conmonLogSizeMax, rotateLogIfNeeded } from './logs.js';
import type { AttachSocket } from '../runtime/attach.js';
import { attachModule, openSession, type AttachStreams, type AttachSession } from './attach.js';
export type { AttachStreams, AttachSession } from './attach.js';
import { log, trace } from '../sys/log.js';
import { crashPoint } from '../sys/faults.js';
import { initialHealth } from './health.js';
import { setupNetwork, teardownNetwork, type NetworkSetup } from './container-network.js';
import { needsHostService, ensureHostService } from './host-service.js';
import { mountVolumes, releaseVolumes, volumeSource, anonymousVolumesOf, removeUnusedVolumes } from './volume-mounts.js';

// ---------- reading state ----------

/**
 * Reconciles a record with what is live: a running container whose exit file
 * exists, or whose monitor is gone, has stopped. Returns the corrected view
 * without writing; writers persist it under the lock.
 */
export function observe(ctx: EngineContext, rec: ContainerRecord): ContainerRecord {
  if (rec.state !== 'running' && rec.state !== 'paused') return rec;
  const bundle = ctx.paths.bundle(rec.config.id);
  const exitFile = ctx.monitor.exitFile(bundle, rec.config.id);
  let code: string | undefined;
  let mtime: Date | undefined;
  try {
    code = fs.readFileSync(exitFile, 'utf8');
    mtime = fs.statSync(exitFile).mtime;
  } catch { /* still running, or the monitor died */ }
  if (code === undefined) {
    if (monitorAlive(rec.status)) return rec;
    // Re-check: conmon writes the exit file just before it exits.
    try { code = fs.readFileSync(exitFile, 'utf8'); mtime = new Date(); } catch { /* lost */ }
  }
  const status: ContainerStatus = { ...rec.status, pid: 0 };
  if (code !== undefined) {
    status.exitCode = Number(code.trim());
    status.finishedAt = (mtime ?? new Date()).toISOString();
    status.oomKilled = fs.existsSync(ctx.monitor.oomFile(bundle));
  } else {
    status.exitCode = 255;
    status.finishedAt = new Date().toISOString();
    status.error = 'the container monitor is gone (host reboot or killed); exit code unknown';
  }
  return { ...rec, state: 'stopped', status };
}

function monitorAlive(s: ContainerStatus): boolean {
  if (!pidAlive(s.conmonPid)) return false;
  return s.conmonStart === undefined || pidStartTime(s.conmonPid) === s.conmonStart;
}

export function isActive(rec: ContainerRecord): boolean {
  return rec.state === 'running' || rec.state === 'paused';
}

// ---------- start ----------

export async function startContainer(ctx: EngineContext, id: string, attach?: AttachStreams): Promise<AttachSession | undefined> {
  return withContainerLock(ctx, id, 'start', async () => {
    // Reconciled first: a record still saying running whose process died must start again.
    let rec = observe(ctx, current(ctx, id));
    if (isActive(rec)) return undefined;
    if (rec.state === 'stopped' || rec.status.mounted) rec = await cleanupLocked(ctx, rec, { applyPolicy: false });
    return startLocked(ctx, rec, attach);
  });
}

async function startLocked(ctx: EngineContext, rec: ContainerRecord, attach?: AttachStreams): Promise<AttachSession | undefined> {
  const c = rec.config;
  const image = ctx.images.get(c.imageId);
  if (!image) throw new BerthError('not-found', `image ${c.imageId.slice(0, 12)} of container ${c.name} was removed; recreate the container`);
  const bundle = ctx.paths.bundle(c.id);
  const dirs = overlayDirs(ctx.paths.container(c.id));
  const status: ContainerStatus = { ...rec.status, error: '', stoppedByUser: false, oomKilled: false, health: c.healthcheck ? initialHealth() : undefined };
  let session: AttachSession | undefined;
  let socket: AttachSocket | undefined;
  let net: NetworkSetup | undefined;
  try {
    trace('start: locked');
    removeTree(bundle);
    fs.mkdirSync(bundle, { recursive: true, mode: 0o700 });
    // The host service (DNS, health checks) boots while the container is created.
    const service = needsHostService(c) ? ensureHostService(ctx) : undefined;
    // The namespace and links are made while the root is mounted and the spec written.
    net = await setupNetwork(ctx, rec);
    if (net.endpoints.length) status.network = { endpoints: net.endpoints, ports: net.ports };
    else delete status.network;
    await mountOverlay(ctx.paths.layers, image.record.layers.map((l) => l.chainId), dirs, { volatile: c.autoRemove });
    status.mounted = true;
    ctx.containers.setState(c.id, rec.state, status);
    crashPoint('start:mounted');
    await mountVolumes(ctx, c, dirs.merged);
    const etc = writeEtcFiles(ctx, bundle, c, net.endpoints);
    const user = resolveUser(dirs.merged, c.user, c.groupAdd);
    const spec = buildSpec({
      config: c, rootfs: dirs.merged, user, etcFiles: etc,
      cgroupsPath: cgroupPath(c.cgroupParent, c.id),
      initPath: ctx.cfg.initPath, defaultUlimits: ctx.cfg.defaultUlimits, defaultPidsLimit: ctx.cfg.pidsLimit,
      volumeSource: (name) => volumeSource(ctx, name), netnsPath: net.netnsPath,
    });
    fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
    await net.created;
    crashPoint('start:network');
    trace('start: spec written');
    // An attached berth cleans up itself, unless a restart policy applies: that is conmon's exit command's job.
    if (attach !== undefined && c.restartPolicy.name === 'no') claimCleanup(ctx, c.id);
    const created = ctx.monitor.create({
      id: c.id, name: c.name, bundle, logDriver: c.logDriver, logPath: logPath(ctx, c.id),
      logSizeMax: conmonLogSizeMax(c),
      tty: c.tty, stdin: c.openStdin, exitCommand: exitCommand(ctx, c.id),
    });
    // Load the FFI for the attach socket while conmon and runc work.
    const attachMod = attach ? await attachModule() : undefined;
    const res = await created;
    await net.ready;
    await service;
    crashPoint('start:created');
    trace('start: container created');
    status.pid = res.pid;
    status.conmonPid = res.monitorPid;
    status.conmonStart = pidStartTime(res.monitorPid);
    if (attach && attachMod) {
      if (c.tty && attach.size) ctx.monitor.resize(bundle, attach.size.rows, attach.size.cols);
      socket = attachMod.AttachSocket.connect(ctx.monitor.attachSocket(bundle));
      session = openSession(ctx, bundle, socket, { ...attach, tty: c.tty });
    }
    await ctx.runtime.start(c.id);
    crashPoint('start:started');
    trace('start: started');
  } catch (e) {
    socket?.close();
    await net?.settled; // no ip or nft still at work while failStart tears down
    await failStart(ctx, rec, status, e);
    throw e;
  }
  status.startedAt = new Date().toISOString();
  status.finishedAt = '';
  status.exitCode = 0;
  ctx.containers.setState(c.id, 'running', status);
  ctx.events.record('container', 'start', c.id, c.name, { image: c.imageName });
  return session;
}

/** Undo a failed start, keeping the error and an exit code like Podman's (125/126/127). */
async function failStart(ctx: EngineContext, rec: ContainerRecord, status: ContainerStatus, err: unknown): Promise<void> {
  const c = rec.config;
  try { await ctx.runtime.delete(c.id, true); } catch (e) { log.warn(`cleanup after failed start: ${messageOf(e)}`); }
  try { await unmountOverlay(overlayDirs(ctx.paths.container(c.id)).merged); } catch (e) { log.warn(`unmount after failed start: ${messageOf(e)}`); }
  try { await releaseVolumes(ctx, c.id); } catch (e) { log.warn(`volume unmount after failed start: ${messageOf(e)}`); }
  try { await teardownNetwork(ctx, c.id); } catch (e) { log.warn(`network teardown after failed start: ${messageOf(e)}`); }
  removeTree(ctx.paths.bundle(c.id));
  const kind = isBerthError(err) ? err.kind : 'internal';
  const code = kind === 'command-not-found' ? 127 : kind === 'cannot-invoke' ? 126 : 125;
  ctx.containers.setState(c.id, rec.state === 'created' ? 'created' : 'exited',
    { ...status, pid: 0, conmonPid: 0, mounted: false, network: undefined, exitCode: code, error: messageOf(err) });
}

export function logPath(ctx: EngineContext, id: string): string {
  return path.join(ctx.paths.container(id), 'ctr.log');
}

/**
 * "pid starttime" of a berth process that will clean up after the container
 * itself: an attached run, or a stop/rm in progress. While that process lives,
 * conmon's exit command does nothing, which saves starting a second berth.
 */
const CLEANER_FILE = 'cleaner';

export function claimCleanup(ctx: EngineContext, id: string): void {
  try {
    fs.writeFileSync(path.join(ctx.paths.bundle(id), CLEANER_FILE), `${process.pid} ${pidStartTime(process.pid)}\n`);
  } catch { /* no bundle: nothing runs, nothing to claim */ }
}

// The exit command, guarded: skip the cleanup when the claiming berth is alive.
const EXIT_GUARD = `alive() { want=$2; read -r st < "/proc/$1/stat" 2>/dev/null || return 1; set -f; set -- \${st##*) }; [ "\${20}" = "$want" ]; }
f=$1; shift
if read -r p s < "$f" 2>/dev/null && alive "$p" "$s"; then exit 0; fi
exec "$@"`;

/** What conmon runs after the container exits: this berth (same node flags, e.g. its snapshot), with the same roots. */
function exitCommand(ctx: EngineContext, id: string): string[] {
  const script = process.argv[1] ?? '';
  const args = [process.execPath, ...process.execArgv, script, '--root', ctx.cfg.root, '--runroot', ctx.cfg.runroot, '--log-level', ctx.cfg.logLevel];
  if (ctx.cfg.configFile) args.push('--config', ctx.cfg.configFile);
  const cleanup = [...args, 'container', 'cleanup', id];
  return ['/bin/sh', '-c', EXIT_GUARD, 'berth-exit-guard', path.join(ctx.paths.bundle(id), CLEANER_FILE), ...cleanup];
}

// ---------- wait ----------

/** Resolves with the exit code once the container's process has exited. */
export function waitForExit(ctx: EngineContext, id: string, signal?: AbortSignal): Promise<number> {
  const bundle = ctx.paths.bundle(id);
  const exitFile = ctx.monitor.exitFile(bundle, id);
  return new Promise((resolve, reject) => {
    // An aborted wait (the API client went away) releases its watcher and timer at once.
    const onAbort = () => finish(new BerthError('internal', 'wait aborted'));
    let watcher: fs.FSWatcher | undefined;
    let timer: NodeJS.Timeout | undefined;
    const check = () => {
      let rec: ContainerRecord | undefined;
      try {
        if (fs.existsSync(exitFile)) return finish(undefined, Number(fs.readFileSync(exitFile, 'utf8').trim()));
        rec = ctx.containers.get(id);
      } catch (e) {
        return finish(e as Error);
      }
      if (!rec) return finish(undefined, 0);
      const seen = observe(ctx, rec);
      if (!isActive(seen)) return finish(undefined, seen.status.exitCode);
    };
    const finish = (err?: Error, code?: number) => {
      watcher?.close();
      clearInterval(timer);
      signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(code!);
    };
    try {
      watcher = fs.watch(bundle, (_ev, name) => { if (name === id) check(); });
      watcher.on('error', () => { /* the bundle went away: the poll notices */ });
    } catch { /* no bundle: the check below decides */ }
    timer = setInterval(check, 1000);
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort);
    check();
  });
}

// ---------- cleanup ----------

export interface CleanupOptions { applyPolicy: boolean }

/** After the container exits: record the exit, release runtime state and mounts, honour --rm. */
export async function cleanupContainer(ctx: EngineContext, id: string): Promise<void> {
  const delay = await withContainerLock(ctx, id, 'cleanup', async () => {
    const rec = ctx.containers.get(id);
    if (!rec) return undefined;
    if (rec.state === 'removing') { await removeLocked(ctx, rec); return undefined; }
    const seen = observe(ctx, rec);
    if (isActive(seen)) return undefined;
    // Nothing ran (a failed start already released everything) or it is cleaned up already.
    if ((seen.state === 'exited' || seen.state === 'created') && !seen.status.mounted) return undefined;
    return restartDelay(await cleanupLocked(ctx, seen, { applyPolicy: true }));
  });
  if (delay === undefined) return;
  // Back off outside the lock, so `stop` or `rm` can still get in and cancel the restart.
  if (delay > 0) await new Promise((r) => setTimeout(r, delay));
  await withContainerLock(ctx, id, 'restart', async () => {
    const rec = ctx.containers.get(id);
    if (!rec || rec.state !== 'exited' || restartDelay(rec) === undefined) return;
    const ranMs = Date.parse(rec.status.finishedAt) - Date.parse(rec.status.startedAt);
    const status = { ...rec.status, restartCount: rec.status.restartCount + 1, backoff: ranMs >= 10_000 ? 0 : (rec.status.backoff ?? 0) + 1 };
    ctx.containers.setState(id, 'exited', status);
    ctx.events.record('container', 'restart', id, rec.config.name, { image: rec.config.imageName });
    await startLocked(ctx, { ...rec, status });
  });
}

/** --health-on-failure=restart: stop and start again (the user did not stop it, so policies still apply later). */
export async function restartAfterUnhealthy(ctx: EngineContext, id: string): Promise<void> {
  await withContainerLock(ctx, id, 'restart', async () => {
    const rec = observe(ctx, current(ctx, id));
    if (isActive(rec)) await stopLocked(ctx, rec, rec.config.stopTimeout);
    const after = ctx.containers.get(id);
    if (!after || isActive(after)) return;
    const status = { ...after.status, stoppedByUser: false, restartCount: after.status.restartCount + 1 };
    ctx.events.record('container', 'restart', id, after.config.name, { image: after.config.imageName });
    await startLocked(ctx, { ...after, status });
  });
}

/**
 * Milliseconds to wait before the restart policy restarts an exited container, or
 * undefined for no restart. Quick crash loops back off (100 ms doubling, up to 30 s),
 * like Docker; a run of 10 s or more resets the back-off.
 */
export function restartDelay(rec: ContainerRecord): number | undefined {
  const { restartPolicy: p, autoRemove } = rec.config;
  const s = rec.status;
  if (autoRemove || s.stoppedByUser || p.name === 'no') return undefined;
  if (p.name === 'on-failure' && (s.exitCode === 0 || (p.maximumRetryCount > 0 && s.restartCount >= p.maximumRetryCount))) return undefined;
  const ranMs = Date.parse(s.finishedAt) - Date.parse(s.startedAt);
  const fast = Number.isFinite(ranMs) && ranMs < 10_000 ? s.backoff ?? 0 : 0;
  return fast === 0 ? 0 : Math.min(100 * 2 ** (fast - 1), 30_000);
}

export async function cleanupLocked(ctx: EngineContext, rec: ContainerRecord, opts: CleanupOptions): Promise<ContainerRecord> {
  const c = rec.config;
  const wasRunning = rec.state === 'stopped';
  if (wasRunning) {
    ctx.containers.setState(c.id, 'stopped', rec.status);
    ctx.events.record('container', 'died', c.id, c.name, { exitCode: String(rec.status.exitCode), image: c.imageName });
  }
  rotateLogIfNeeded(ctx, rec, { containerLocked: true }); // also converts a json-file log
  crashPoint('cleanup:begin');
  await releaseRuntime(ctx, c.id);
  crashPoint('cleanup:released');
  const status = { ...rec.status, pid: 0, mounted: false, network: undefined };
  ctx.containers.setState(c.id, 'exited', status);
  const done: ContainerRecord = { ...rec, state: 'exited', status };
  if (opts.applyPolicy && c.autoRemove) {
    await removeLocked(ctx, done);
  }
  return done;
}

// ---------- stop / kill ----------

export async function stopContainer(ctx: EngineContext, id: string, timeoutSec?: number): Promise<boolean> {
  return withContainerLock(ctx, id, 'stop', async () => {
    const rec = observe(ctx, current(ctx, id));
    if (!isActive(rec)) {
      // Also cancels a restart the restart policy has scheduled.
      const status = { ...rec.status, stoppedByUser: true };
      ctx.containers.setState(id, rec.state, status);
      if (rec.state === 'stopped') await cleanupLocked(ctx, { ...rec, status }, { applyPolicy: true });
      return false;
    }
    await stopLocked(ctx, rec, timeoutSec ?? rec.config.stopTimeout);
    return true;
  });
}

/**
 * Stop then start under one lock. As in Docker and Podman, the stop half does
 * not apply --rm (the container comes back), nor a restart policy.
 */
export async function restartContainer(ctx: EngineContext, id: string, timeoutSec?: number): Promise<void> {
  await withContainerLock(ctx, id, 'restart', async () => {
    let rec = observe(ctx, current(ctx, id));
    if (isActive(rec)) await stopLocked(ctx, rec, timeoutSec ?? rec.config.stopTimeout, { applyPolicy: false });
    rec = observe(ctx, current(ctx, id));
    if (rec.state === 'stopped' || rec.status.mounted) rec = await cleanupLocked(ctx, rec, { applyPolicy: false });
    await startLocked(ctx, rec);
  });
}

async function stopLocked(ctx: EngineContext, rec: ContainerRecord, timeoutSec: number, opts: CleanupOptions = { applyPolicy: true }): Promise<void> {
  const c = rec.config;
  ctx.containers.setState(c.id, rec.state, { ...rec.status, stoppedByUser: true });
  claimCleanup(ctx, c.id);
  crashPoint('stop:begin');
  if (rec.state === 'paused') await ctx.runtime.resume(c.id);
  if (timeoutSec > 0) {
    await ctx.runtime.kill(c.id, String(parseSignal(c.stopSignal)));
    if (await exitedWithin(ctx, c.id, timeoutSec * 1000)) return finishStop(ctx, c.id, opts);
    log.info(`container ${c.name} did not stop within ${timeoutSec}s after ${c.stopSignal}; sending SIGKILL`);
  }
  // SIGKILL to the init of the container's pid namespace takes every process with it.
  await ctx.runtime.kill(c.id, '9');
  if (!(await exitedWithin(ctx, c.id, 30_000))) throw new BerthError('runtime', `container ${c.name} did not exit after SIGKILL`);
  await finishStop(ctx, c.id, opts);
}

async function finishStop(ctx: EngineContext, id: string, opts: CleanupOptions): Promise<void> {
  const rec = observe(ctx, current(ctx, id));
  ctx.events.record('container', 'stop', id, rec.config.name, { image: rec.config.imageName });
  await cleanupLocked(ctx, rec, opts);
}

async function exitedWithin(ctx: EngineContext, id: string, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((r) => { timer = setTimeout(() => r(false), ms); });
  const exited = waitForExit(ctx, id).then(() => true as const);
  const result = await Promise.race([exited, timeout]);
  clearTimeout(timer);
  return result;
}

export async function killContainer(ctx: EngineContext, id: string, signal: string): Promise<void> {
  const rec = observe(ctx, current(ctx, id));
  // A start in progress has a live process before the record says "running": ask the runtime.
  const live = isActive(rec) || (rec.state === 'created' && (await ctx.runtime.state(id))?.status === 'running');
  if (!live) throw new BerthError('not-running', `cannot kill container ${rec.config.name}: it is not running`);
  await ctx.runtime.kill(id, String(parseSignal(signal)));
  ctx.events.record('container', 'kill', id, rec.config.name, { signal, image: rec.config.imageName });
}

// ---------- remove ----------

/** `volumes`: also remove the container's anonymous volumes (rm -v). */
export async function removeContainer(ctx: EngineContext, id: string, force: boolean, volumes = false): Promise<void> {
  await withContainerLock(ctx, id, 'remove', async () => {
    let rec = ctx.containers.get(id);
    if (!rec) return;
    rec = observe(ctx, rec);
    if (isActive(rec)) {
      if (!force) {
        throw conflict(`cannot remove container ${rec.config.id} as it is ${rec.state} - running or paused containers cannot be removed without force: container state improper`);
      }
      await stopLocked(ctx, rec, 0);
      rec = ctx.containers.get(id);
      if (!rec) return;
    }
    if (rec.state === 'stopped' || rec.status.mounted) rec = await cleanupLocked(ctx, rec, { applyPolicy: false });
    await removeLocked(ctx, rec, { volumes });
  });
}

/** Deletes the runtime's state and cgroup, unmounts the root and drops the bundle (in parallel: they are independent). */
async function releaseRuntime(ctx: EngineContext, id: string): Promise<void> {
  await Promise.all([ctx.runtime.delete(id, true), unmountOverlay(overlayDirs(ctx.paths.container(id)).merged)]);
  await releaseVolumes(ctx, id);
  await teardownNetwork(ctx, id);
  removeTree(ctx.paths.bundle(id));
}

export async function removeLocked(ctx: EngineContext, rec: ContainerRecord, opts: { volumes?: boolean } = {}): Promise<void> {
  const c = rec.config;
  // Anonymous volumes go with the container on rm -v, and always with --rm containers (as Docker).
  const anonymous = opts.volumes || c.autoRemove ? anonymousVolumesOf(ctx, c.id) : [];
  // Mark first: if we are killed half-way, recovery finishes the removal.
  ctx.containers.setState(c.id, 'removing', rec.status);
  crashPoint('remove:marked');
  if (rec.state !== 'exited' || rec.status.mounted || fs.existsSync(ctx.paths.bundle(c.id))) await releaseRuntime(ctx, c.id);
  removeTree(ctx.paths.container(c.id));
  ctx.containers.delete(c.id);
  removeLockFile(ctx, c.id);
  ctx.events.record('container', 'remove', c.id, c.name, { image: c.imageName });
  await removeUnusedVolumes(ctx, anonymous);
}

function current(ctx: EngineContext, id: string): ContainerRecord {
  const rec = ctx.containers.get(id);
  if (!rec) throw new BerthError('not-found', `no container with ID ${id} found: no such container`);
  return rec;
}
