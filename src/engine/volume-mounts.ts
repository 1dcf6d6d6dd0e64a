// Volumes as containers use them: resolving -v/--mount/--volumes-from/image
// VOLUMEs when a container is created, recording which volumes it uses,
// mounting and seeding them when it starts, releasing them when it stops.
// Lock order: a container's lock, then a volume's lock (never the reverse).
import fs from 'node:fs';
import path from 'node:path';
import type { EngineContext } from './context.js';
import type { ContainerConfig, ContainerRecord, MountSpec } from './container-types.js';
import { conflict, invalidArgument, messageOf, notFound } from './errors.js';
import { newId } from './names.js';
import { parseTmpfs, parseVolume } from './parse.js';
import { writeTx } from '../store/db.js';
import { withLock } from '../sys/lock.js';
import { secureJoin } from '../sys/securejoin.js';
import { log } from '../sys/log.js';
import type { VolumeRecord } from '../volume/store.js';
import {
  createVolumeDir, dataDir, isEmptyDir, mountLocal, needsMount, removeDir, seedFrom, trashVolumeDir, unmountLocal, validateLocalOptions,
} from '../volume/local.js';
import { isMounted } from '../snapshot/overlay.js';

export interface MountRequest {
  volumes?: string[];       // -v
  tmpfs?: string[];         // --tmpfs
  mounts?: MountSpec[];     // --mount, API Mounts (parsed)
  volumesFrom?: string[];   // --volumes-from CTR[:ro|rw]
}

// ---------- create ----------

/**
 * The container's mounts: the user's, then those copied with --volumes-from,
 * then an anonymous volume for each image VOLUME no mount covers. Reads only;
 * volumes to create are described in `volumeCreate` until the container is recorded.
 */
export function resolveMounts(ctx: EngineContext, o: MountRequest, imageVolumes: string[]): MountSpec[] {
  const list: MountSpec[] = [
    ...(o.volumes ?? []).map(parseVolume),
    ...(o.tmpfs ?? []).map(parseTmpfs),
    ...(o.mounts ?? []).map((m) => ({ ...m, options: [...m.options] })),
  ];
  const seen = new Set<string>();
  for (const m of list) {
    if (seen.has(m.destination)) throw invalidArgument(`duplicate mount destination ${m.destination}`);
    seen.add(m.destination);
    if (m.type === 'bind' && !fs.existsSync(m.source)) throw invalidArgument(`bind mount source ${m.source} does not exist: create it first`);
    if (m.type === 'volume') planVolume(ctx, m);
  }
  for (const spec of o.volumesFrom ?? []) {
    for (const m of mountsFrom(ctx, spec)) {
      if (seen.has(m.destination)) continue;
      seen.add(m.destination);
      list.push(m);
    }
  }
  for (const raw of imageVolumes) {
    const dest = path.posix.resolve('/', raw);
    if (list.some((m) => covers(m.destination, dest))) continue;
    list.push({ type: 'volume', source: newId(), destination: dest, options: [], volumeCreate: { anonymous: true, labels: {}, options: {} } });
  }
  // Parents before children, as Docker orders them, so no mount hides another.
  return list.map((m, i) => ({ m, i, depth: m.destination.split('/').filter(Boolean).length }))
    .sort((a, b) => a.depth - b.depth || a.i - b.i).map((x) => x.m);
}

function covers(mountDest: string, dest: string): boolean {
  return mountDest === dest || mountDest === '/' || dest.startsWith(mountDest + '/');
}

function planVolume(ctx: EngineContext, m: MountSpec): void {
  if (!m.source) {
    m.source = newId();
    m.volumeCreate = { anonymous: true, labels: m.volumeCreate?.labels ?? {}, options: m.volumeCreate?.options ?? {} };
  } else if (ctx.volumes.get(m.source)) {
    delete m.volumeCreate; // an existing volume keeps its own options (as Docker)
    return;
  } else {
    m.volumeCreate = { anonymous: false, labels: m.volumeCreate?.labels ?? {}, options: m.volumeCreate?.options ?? {} };
  }
  validateLocalOptions(m.volumeCreate.options);
}

/** `--volumes-from CTR[:ro|rw]`: the container's bind and volume mounts, optionally forced read-only or read-write. */
function mountsFrom(ctx: EngineContext, spec: string): MountSpec[] {
  const i = spec.indexOf(':');
  const ref = i < 0 ? spec : spec.slice(0, i);
  const opts = i < 0 ? [] : spec.slice(i + 1).split(',').filter(Boolean);
  for (const opt of opts) {
    if (!['ro', 'rw', 'z', 'Z'].includes(opt)) throw invalidArgument(`invalid --volumes-from "${spec}": options are ro or rw`);
  }
  if (!ref) throw invalidArgument(`invalid --volumes-from "${spec}": expected CONTAINER[:ro|rw]`);
  const src = ctx.containers.lookup(ref);
  if (!src) throw notFound(`no container with name or ID "${ref}" found (--volumes-from): no such container`);
  const mode = opts.includes('ro') ? 'ro' : opts.includes('rw') ? 'rw' : undefined;
  return src.config.mounts.filter((m) => m.type !== 'tmpfs').map((m) => ({
    type: m.type, source: m.source, destination: m.destination,
    options: mode ? [...m.options.filter((o) => o !== 'ro' && o !== 'rw'), ...(mode === 'ro' ? ['ro'] : [])] : [...m.options],
  }));
}

/**
 * Records the container (`insert`) together with the volumes it creates and its
 * links to every volume it uses, in one transaction: a create that fails leaves
 * no new volume behind (their directories are removed before the rollback ends).
 */
export function insertWithVolumes(ctx: EngineContext, rec: ContainerRecord, insert: () => void): void {
  const plans = rec.config.mounts.filter((m) => m.type === 'volume').map((m) => ({ name: m.source, create: m.volumeCreate }));
  rec.config.mounts = rec.config.mounts.map(({ volumeCreate: _unused, ...m }) => m);
  if (!plans.length) { insert(); return; }
  const created: string[] = [];
  writeTx(ctx.db, () => {
    try {
      for (const p of plans) {
        // Volumes that vanished since resolution (removed meanwhile) are created again, like a first use.
        if (created.includes(p.name)) continue;
        if (ctx.volumes.insertIfAbsent(newRecord(p.name, p.create ?? { anonymous: false, labels: {}, options: {} }))) {
          created.push(p.name);
          createVolumeDir(ctx.paths.volume(p.name));
        }
      }
      insert();
      ctx.volumes.link(rec.config.id, [...new Set(plans.map((p) => p.name))]);
    } catch (e) {
      for (const n of created) removeDir(ctx.paths.volume(n));
      throw e;
    }
  });
  for (const n of created) ctx.events.record('volume', 'create', n, n, { driver: 'local' });
}

export function newRecord(name: string, c: NonNullable<MountSpec['volumeCreate']>): VolumeRecord {
  return {
    name, driver: 'local', created: new Date().toISOString(), labels: c.labels, options: c.options,
    anonymous: c.anonymous, needsCopyUp: true,
  };
}

// ---------- start / stop ----------

function withVolumeLock<T>(ctx: EngineContext, name: string, fn: () => Promise<T>): Promise<T> {
  fs.mkdirSync(ctx.paths.locks, { recursive: true });
  return withLock(volumeLockPath(ctx, name), `volume ${name}`, fn);
}

const volumeLockPath = (ctx: EngineContext, name: string) => path.join(ctx.paths.locks, `volume-${name}`);

/** The host path a volume mount binds (the spec builder's view of a volume). */
export function volumeSource(ctx: EngineContext, name: string): string {
  return dataDir(ctx.paths.volume(name));
}

/**
 * Before the container starts (its root is mounted at `rootfs`): mounts volumes
 * that have driver options and, the first time a volume is used, copies the
 * image's content at the mount point into it if it is empty (as Docker).
 */
export async function mountVolumes(ctx: EngineContext, c: ContainerConfig, rootfs: string): Promise<void> {
  const done = new Set<string>();
  for (const m of c.mounts) {
    if (m.type !== 'volume' || done.has(m.source)) continue;
    done.add(m.source);
    const name = m.source;
    const seen = ctx.volumes.get(name);
    if (!seen) throw notFound(`volume ${name} used by container ${c.name} no longer exists: recreate the container`);
    if (!needsMount(seen.options) && !seen.needsCopyUp) continue;
    await withVolumeLock(ctx, name, async () => {
      const v = ctx.volumes.get(name);
      if (!v) throw notFound(`volume ${name} used by container ${c.name} no longer exists: recreate the container`);
      const data = volumeSource(ctx, name);
      if (needsMount(v.options)) await mountLocal(name, v.options, data);
      if (!v.needsCopyUp) return;
      if (!m.options.includes('nocopy')) await seed(rootfs, m.destination, data);
      ctx.volumes.update({ ...v, needsCopyUp: false });
    });
  }
}

async function seed(rootfs: string, dest: string, data: string): Promise<void> {
  const src = secureJoin(rootfs, dest);
  let st: fs.Stats | undefined;
  try { st = fs.lstatSync(src); } catch { return; }
  if (st.isDirectory() && isEmptyDir(data)) await seedFrom(src, data);
}

/** After the container stopped: unmounts its mounted volumes that no other mounted container uses. */
export async function releaseVolumes(ctx: EngineContext, id: string): Promise<void> {
  for (const name of ctx.volumes.volumesOf(id)) {
    const v = ctx.volumes.get(name);
    if (!v || !needsMount(v.options)) continue;
    const data = volumeSource(ctx, name);
    if (!isMounted(data)) continue;
    await withVolumeLock(ctx, name, async () => {
      const others = ctx.volumes.users(name).filter((u) => u !== id && ctx.containers.get(u)?.status.mounted);
      if (!others.length) await unmountLocal(data);
    });
  }
}

// ---------- remove ----------

export function anonymousVolumesOf(ctx: EngineContext, id: string): string[] {
  return ctx.volumes.volumesOf(id).filter((n) => ctx.volumes.get(n)?.anonymous);
}

/** Removes those of `names` that no container uses any more (after their container was removed). */
export async function removeUnusedVolumes(ctx: EngineContext, names: string[]): Promise<void> {
  for (const name of names) {
    if (ctx.volumes.users(name).length) continue;
    try {
      await destroyVolume(ctx, name);
    } catch (e) {
      log.warn(`could not remove volume ${name}: ${messageOf(e)}`);
    }
  }
}

export function inUseError(name: string, users: string[]) {
  return conflict(`volume ${name} is being used by the following container(s): ${users.join(', ')}: remove them first, or use --force to remove them too`);
}

/** Deletes a volume that no container uses: unmounts leftovers, deletes the record, removes the data. */
export async function destroyVolume(ctx: EngineContext, name: string): Promise<void> {
  await withVolumeLock(ctx, name, async () => {
    if (!ctx.volumes.get(name)) throw notFound(`no volume with name "${name}" found: no such volume`);
    const users = ctx.volumes.users(name);
    if (users.length) throw inUseError(name, users);
    const dir = ctx.paths.volume(name);
    await unmountLocal(dataDir(dir));
    // Moved aside inside the transaction, so a volume created again under this name never loses its directory.
    const trash = writeTx(ctx.db, () => { ctx.volumes.delete(name); return trashVolumeDir(dir); });
    removeDir(trash);
  });
  fs.rmSync(volumeLockPath(ctx, name), { force: true });
  ctx.events.record('volume', 'remove', name, name);
}
