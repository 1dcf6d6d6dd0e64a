// Crash and reboot recovery. The next berth command after a crash repairs what
// the dead process left: it finishes removals, unmounts, deletes runtime state,
// adopts containers that did start, and after a reboot (the run directory is
// gone) marks containers that were running as exited.
import fs from 'node:fs';
import path from 'node:path';
import type { EngineContext } from './context.js';
import { abandonedIntents, clearIntent, writeIntent, setRepairHook } from './intents.js';
import { FileLock } from '../sys/lock.js';
import { observe, isActive, cleanupLocked, removeLocked } from './lifecycle.js';
import { unmountOverlay, overlayDirs } from '../snapshot/overlay.js';
import { releaseVolumes } from './volume-mounts.js';
import { teardownNetwork } from './container-network.js';
import { cgroupPath, cgroupPids, removeCgroup } from '../sys/cgroups.js';
import { pidAlive, pidStartTime, readTextOr } from '../sys/fsutil.js';
import { log } from '../sys/log.js';
import { messageOf } from './errors.js';
import type { ContainerRecord } from './container-types.js';

setRepairHook(repairContainer);

/** After a reboot (or a wiped run directory) nothing recorded as live is live: reconcile once. Cheap otherwise. */
export async function refreshIfRebooted(ctx: EngineContext): Promise<void> {
  if (!fs.existsSync(path.join(ctx.cfg.runroot, 'alive'))) await refreshAfterReboot(ctx);
}

export async function recoverInterrupted(ctx: EngineContext): Promise<void> {
  await refreshIfRebooted(ctx);
  for (const { id, intent } of abandonedIntents(ctx)) {
    fs.mkdirSync(ctx.paths.locks, { recursive: true });
    const lock = FileLock.tryAcquire(ctx.paths.containerLock(id));
    if (!lock) continue; // someone else is already on it
    try {
      writeIntent(ctx, id, `repair-${intent.op}`);
      await repairContainer(ctx, id);
      clearIntent(ctx, id);
    } catch (e) {
      log.warn(`could not repair container ${id.slice(0, 12)} after an interrupted ${intent.op}: ${messageOf(e)}; run "berth system check"`);
    } finally {
      lock.release();
    }
  }
}

/** Brings one container back to a consistent state. Caller holds its lock. */
export async function repairContainer(ctx: EngineContext, id: string): Promise<string | undefined> {
  const rec = ctx.containers.get(id);
  if (!rec) {
    // Interrupted create (before the record) or remove (after it): drop the leftovers.
    const dir = ctx.paths.container(id);
    if (fs.existsSync(dir) || fs.existsSync(ctx.paths.bundle(id))) {
      await ctx.runtime.delete(id, true);
      await unmountOverlay(overlayDirs(dir).merged);
      fs.rmSync(ctx.paths.bundle(id), { recursive: true, force: true });
      fs.rmSync(dir, { recursive: true, force: true });
      return 'removed leftovers of a container that has no record';
    }
    return undefined;
  }
  if (rec.state === 'removing') {
    await removeLocked(ctx, rec);
    return 'finished an interrupted removal';
  }
  if (rec.state === 'created') {
    const adopted = await adoptStarted(ctx, rec);
    if (adopted) return adopted;
  }
  const seen = observe(ctx, rec);
  // cp and commit pause a running container for a moment: resume one whose command died meanwhile.
  if (seen.state === 'running' && (await ctx.runtime.state(id))?.status === 'paused') {
    await ctx.runtime.resume(id);
    return 'resumed a container that an interrupted cp or commit had paused';
  }
  if (isActive(seen)) return undefined;
  if (seen.state === 'stopped' || seen.status.mounted || fs.existsSync(ctx.paths.bundle(id))) {
    await cleanupLocked(ctx, seen, { applyPolicy: seen.state === 'stopped' });
    return 'released the mounts and runtime state of a stopped container';
  }
  return undefined;
}

/** A start that was killed after conmon created the container but before the record said so. */
async function adoptStarted(ctx: EngineContext, rec: ContainerRecord): Promise<string | undefined> {
  const bundle = ctx.paths.bundle(rec.config.id);
  const conmonPid = Number(readTextOr(path.join(bundle, 'conmon.pid')).trim());
  if (!conmonPid || !pidAlive(conmonPid)) return undefined;
  const state = await ctx.runtime.state(rec.config.id);
  if (state?.status === 'running') {
    ctx.containers.setState(rec.config.id, 'running', {
      ...rec.status, pid: state.pid, conmonPid, conmonStart: pidStartTime(conmonPid), mounted: true,
      startedAt: new Date().toISOString(), finishedAt: '', exitCode: 0,
    });
    return 'adopted a container whose start was interrupted after it began running';
  }
  // Created but never started: discard it; conmon exits with it.
  await ctx.runtime.delete(rec.config.id, true);
  await cleanupLocked(ctx, rec, { applyPolicy: false });
  return 'discarded a half-started container';
}

/**
 * The run directory is new (host reboot, or it was wiped): nothing recorded as
 * live can be managed any more. Stop whatever survived, release mounts and
 * cgroups, and record the containers as exited.
 */
async function refreshAfterReboot(ctx: EngineContext): Promise<void> {
  fs.mkdirSync(ctx.paths.locks, { recursive: true });
  const lock = await FileLock.acquire(path.join(ctx.paths.locks, 'refresh'), 'the run directory refresh');
  try {
    const alive = path.join(ctx.cfg.runroot, 'alive');
    if (fs.existsSync(alive)) return;
    if (fs.existsSync(ctx.paths.db)) {
      for (const rec of ctx.containers.list()) {
        if (rec.state === 'exited' && !rec.status.mounted) continue;
        if (rec.state === 'created' && !rec.status.mounted) continue;
        const cgroup = cgroupPath(rec.config.cgroupParent, rec.config.id);
        for (const pid of cgroupPids(cgroup)) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
        if (rec.status.conmonPid && pidAlive(rec.status.conmonPid) && pidStartTime(rec.status.conmonPid) === rec.status.conmonStart) {
          try { process.kill(rec.status.conmonPid, 'SIGKILL'); } catch { /* gone */ }
        }
        await waitEmpty(cgroup);
        removeCgroup(cgroup);
        await unmountOverlay(overlayDirs(ctx.paths.container(rec.config.id)).merged);
        await releaseVolumes(ctx, rec.config.id);
        await teardownNetwork(ctx, rec.config.id);
        const wasActive = isActive(rec);
        ctx.containers.setState(rec.config.id, rec.state === 'removing' ? 'removing' : wasActive ? 'exited' : rec.state === 'stopped' ? 'exited' : rec.state, {
          ...rec.status, pid: 0, conmonPid: 0, mounted: false,
          ...(wasActive ? { exitCode: 255, finishedAt: new Date().toISOString(), error: 'the host rebooted (or the run directory was removed) while the container ran' } : {}),
        });
        if (rec.state === 'removing' || (wasActive && rec.config.autoRemove)) await removeLocked(ctx, { ...rec, state: 'exited' });
      }
    }
    fs.writeFileSync(alive, String(Date.now()));
  } finally {
    lock.release();
  }
}

async function waitEmpty(cgroup: string): Promise<void> {
  for (let i = 0; i < 100 && cgroupPids(cgroup).length; i++) await new Promise((r) => setTimeout(r, 20));
}

