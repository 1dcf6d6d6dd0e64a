// System-wide actions: disk usage, pruning, and `system check` (finding and
// repairing what a crash or a wiped run directory left inconsistent).
import fs from 'node:fs';
import path from 'node:path';
import type { EngineContext } from './context.js';
import { observe, isActive, removeContainer } from './lifecycle.js';
import { FileLock } from '../sys/lock.js';
import { mountPoints, unmountOverlay, overlayDirs } from '../snapshot/overlay.js';
import { cgroupDirs, removeCgroup } from '../sys/cgroups.js';
import { repairContainer } from './recovery.js';
import { clearIntent, abandonedIntents } from './intents.js';
import { collectGarbage } from '../image/gc.js';
import { withImageLock } from '../image/lock.js';
import { prune as pruneImages } from './image-ops.js';
import { pruneVolumes } from './volume-ops.js';
import { teardownNetwork } from './container-network.js';
import { netnsPath } from '../network/links.js';

/** Bytes used by a directory tree (not following symlinks). */
export function duBytes(dir: string): number {
  let total = 0;
  let entries: fs.Dirent[];
  try { entries = fs.readdirSync(dir, { withFileTypes: true }); } catch { return 0; }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += duBytes(p);
    else { try { total += fs.lstatSync(p).blocks * 512; } catch { /* gone */ } }
  }
  return total;
}

export interface DiskUsage {
  images: { total: number; active: number; size: number; reclaimable: number };
  containers: { total: number; active: number; size: number; reclaimable: number };
  volumes: { total: number; active: number; size: number; reclaimable: number };
}

export function diskUsage(ctx: EngineContext): DiskUsage {
  const containers = ctx.containers.list().map((r) => observe(ctx, r));
  const usedImages = new Set(containers.map((c) => c.config.imageId));
  const images = ctx.images.list();
  let imgSize = 0, imgReclaim = 0;
  for (const { record } of images) {
    imgSize += record.size;
    if (!usedImages.has(record.id)) imgReclaim += record.size;
  }
  let ctrSize = 0, ctrReclaim = 0;
  for (const c of containers) {
    const size = duBytes(overlayDirs(ctx.paths.container(c.config.id)).upper);
    ctrSize += size;
    if (!isActive(c)) ctrReclaim += size;
  }
  const vols = ctx.volumes.list();
  const users = ctx.volumes.allUsers();
  let volSize = 0, volReclaim = 0, volActive = 0;
  for (const v of vols) {
    const size = duBytes(path.join(ctx.paths.volume(v.name), '_data'));
    volSize += size;
    if ((users.get(v.name) ?? []).length) volActive++;
    else volReclaim += size;
  }
  return {
    images: { total: images.length, active: images.filter((i) => usedImages.has(i.record.id)).length, size: imgSize, reclaimable: imgReclaim },
    containers: { total: containers.length, active: containers.filter(isActive).length, size: ctrSize, reclaimable: ctrReclaim },
    volumes: { total: vols.length, active: volActive, size: volSize, reclaimable: volReclaim },
  };
}

/** Removes every container that is not running (or paused). */
export async function pruneContainers(ctx: EngineContext): Promise<{ removed: string[]; reclaimed: number }> {
  const removed: string[] = [];
  let reclaimed = 0;
  for (const rec of ctx.containers.list().map((r) => observe(ctx, r))) {
    if (isActive(rec)) continue;
    const size = duBytes(overlayDirs(ctx.paths.container(rec.config.id)).upper);
    try {
      await removeContainer(ctx, rec.config.id, false);
      removed.push(rec.config.id);
      reclaimed += size;
    } catch { /* started meanwhile */ }
  }
  return { removed, reclaimed };
}

export async function pruneSystem(ctx: EngineContext, o: { all?: boolean; volumes?: boolean }, pruneNetworks: () => Promise<string[]>) {
  const containers = await pruneContainers(ctx);
  const networks = await pruneNetworks();
  const images = await pruneImages(ctx, !!o.all);
  const volumes = o.volumes ? await pruneVolumes(ctx) : [];
  return { containers: containers.removed, networks, images: images.deleted, volumes, reclaimed: containers.reclaimed + images.reclaimed };
}

export interface CheckFinding { what: string; detail: string; repaired: boolean }

/**
 * Compares what the database records with what exists (runtime state, mounts,
 * cgroups, directories, layers, blobs) and, with `repair`, fixes each mismatch.
 */
export async function systemCheck(ctx: EngineContext, repair: boolean): Promise<CheckFinding[]> {
  const out: CheckFinding[] = [];
  const note = (what: string, detail: string, fixed = repair) => out.push({ what, detail, repaired: fixed });
  const records = new Map(ctx.containers.list().map((r) => [r.config.id, r]));

  for (const { id, intent } of abandonedIntents(ctx)) {
    note('interrupted operation', `container ${id.slice(0, 12)}: a berth process died during "${intent.op}"`);
    if (repair) await withLockIfFree(ctx, id, async () => { await repairContainer(ctx, id); clearIntent(ctx, id); });
  }
  for (const rec of records.values()) {
    const seen = observe(ctx, rec);
    const id = rec.config.id;
    if (rec.state === 'removing') note('half-removed container', `${id.slice(0, 12)} (${rec.config.name}) was being removed`);
    else if (isActive(rec) && !isActive(seen)) note('dead container', `${id.slice(0, 12)} (${rec.config.name}) is recorded ${rec.state} but its process is gone`);
    else if (!isActive(seen) && (rec.status.mounted || mountPoints().has(overlayDirs(ctx.paths.container(id)).merged))) note('leftover mount', `${id.slice(0, 12)} (${rec.config.name}) is stopped but its root is still mounted`);
    else continue;
    if (repair) await withLockIfFree(ctx, id, async () => { await repairContainer(ctx, id); });
  }
  // Network state (namespace, addresses, published ports) of containers that do not run.
  for (const rec of records.values()) {
    const seen = observe(ctx, rec);
    if (isActive(seen) || rec.state === 'removing') continue;
    const id = rec.config.id;
    if (!fs.existsSync(netnsPath(id)) && !ctx.networks.ports(id).length && !ctx.networks.hasAddresses(id)) continue;
    note('leftover network state', `${id.slice(0, 12)} (${rec.config.name}) is stopped but still has its network namespace, addresses or ports`);
    if (repair) await withLockIfFree(ctx, id, () => teardownNetwork(ctx, id));
  }
  // Runtime leftovers of containers the database does not know.
  for (const dir of [path.join(ctx.cfg.root, 'containers'), path.join(ctx.cfg.runroot, 'containers'), ctx.paths.runcRoot]) {
    for (const id of safeReaddir(dir)) {
      if (!/^[0-9a-f]{64}$/.test(id) || records.has(id)) continue;
      note('orphaned container files', `${path.join(dir, id)} belongs to no container`);
      if (repair) {
        await ctx.runtime.delete(id, true).catch(() => undefined);
        await unmountOverlay(overlayDirs(ctx.paths.container(id)).merged).catch(() => undefined);
        fs.rmSync(path.join(dir, id), { recursive: true, force: true });
      }
    }
  }
  const parents = new Set([...records.values()].map((r) => r.config.cgroupParent).concat(ctx.cfg.cgroupParent));
  for (const parent of parents) {
    for (const d of cgroupDirs(parent)) {
      for (const id of safeReaddir(d)) {
        if (!/^[0-9a-f]{64}$/.test(id)) continue;
        const rec = records.get(id);
        if (rec && isActive(observe(ctx, rec))) continue;
        note('leftover cgroup', path.join(d, id));
        if (repair) removeCgroup(`${parent.replace(/\/$/, '')}/${id}`);
      }
    }
  }
  // Images whose layers are missing, and unreferenced blobs and layers.
  for (const { record, names } of ctx.images.list()) {
    const missing = record.layers.filter((l) => !fs.existsSync(ctx.layers.dir(l.chainId)));
    if (missing.length) note('broken image', `${record.id.slice(0, 12)} (${names[0] ?? 'untagged'}) is missing ${missing.length} layer directories: remove and reload it`, false);
  }
  if (repair) {
    const gc = await withImageLock(ctx, () => collectGarbage(ctx));
    if (gc.blobs || gc.layers) note('unreferenced data', `${gc.blobs} blobs and ${gc.layers} layers no image uses (${gc.bytes} bytes)`);
  }
  return out;
}

async function withLockIfFree(ctx: EngineContext, id: string, fn: () => Promise<void>): Promise<void> {
  fs.mkdirSync(ctx.paths.locks, { recursive: true });
  const lock = FileLock.tryAcquire(ctx.paths.containerLock(id));
  if (!lock) return; // busy: another berth command is working on it right now
  try { await fn(); } finally { lock.release(); }
}

function safeReaddir(d: string): string[] {
  try { return fs.readdirSync(d); } catch { return []; }
}
