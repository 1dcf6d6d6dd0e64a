// A container's filesystem as the container sees it, for cp, diff and export.
//
// The root is the overlay mount (mounted for the duration under the container's
// lock when the container is not running); paths are resolved as if chrooted
// there, and a path under one of the container's mounts goes to that mount's
// source (tmpfs contents are reachable through /proc/<pid>/root while the
// container runs). A running container is paused while cp works, so it cannot
// swap a directory for a symlink between resolution and use.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { EngineContext } from './context.js';
import type { ContainerRecord } from './container-types.js';
import { BerthError, invalidArgument, messageOf, notFound } from './errors.js';
import { withContainerLock } from './intents.js';
import { isActive, observe } from './lifecycle.js';
import { isMounted, mountOverlay, overlayDirs, unmountOverlay } from '../snapshot/overlay.js';
import { packDirectory } from '../snapshot/pack.js';
import { unpackLayer } from '../snapshot/unpack.js';
import { resolveComponents, secureJoin } from '../sys/securejoin.js';
import { volumeSource } from './volume-mounts.js';
import { egid, euid, pidAlive } from '../sys/fsutil.js';
import { getXattr } from '../sys/libc.js';
import { log } from '../sys/log.js';
import { copyNode, tarOf, type CopyCtx, type Place } from './container-copy.js';

// ---------- the container's view ----------

/** Where a container path under a mount lives on the host (undefined: not reachable now). */
export interface MountMap { dest: string; host: string | undefined; readOnly: boolean; what: string }

export interface RootView {
  rec: ContainerRecord;
  /** The overlay mount of the container's root. */
  root: string;
  /** Longest destination first. */
  mounts: MountMap[];
}

/** Runs `fn` on the container's filesystem under its lock, mounting the root if needed. */
export async function withContainerRoot<T>(ctx: EngineContext, ref: string, op: string, pause: boolean, fn: (v: RootView) => Promise<T>): Promise<T> {
  const id = ctx.containers.resolve(ref).config.id;
  return withContainerLock(ctx, id, op, async () => {
    const stored = ctx.containers.get(id);
    if (!stored || stored.state === 'removing') throw notFound(`container ${ref} is being removed: no such container`);
    const rec = observe(ctx, stored);
    const dirs = overlayDirs(ctx.paths.container(id));
    const live = isActive(rec) && pidAlive(rec.status.pid);
    let mountedHere = false;
    let paused = false;
    try {
      if (!isMounted(dirs.merged)) {
        const image = ctx.images.get(rec.config.imageId);
        if (!image) throw notFound(`image ${rec.config.imageId.slice(0, 12)} of container ${rec.config.name} was removed; its filesystem cannot be mounted`);
        // Recorded first, so recovery unmounts it if this process dies meanwhile.
        ctx.containers.setState(id, stored.state, { ...stored.status, mounted: true });
        mountedHere = true;
        await mountOverlay(ctx.paths.layers, image.record.layers.map((l) => l.chainId), dirs);
      }
      if (pause && live && rec.state === 'running' && (await ctx.runtime.state(id))?.status === 'running') {
        try {
          await ctx.runtime.pause(id);
        } catch (e) {
          throw new BerthError('runtime', `cannot pause container ${rec.config.name} while copying: ${messageOf(e)}; retry, or pass --pause=false`);
        }
        paused = true;
      }
      return await fn({ rec, root: dirs.merged, mounts: mountTable(ctx, rec, dirs.merged, live) });
    } finally {
      if (paused) await ctx.runtime.resume(id).catch((e: unknown) => log.warn(`cannot resume container ${rec.config.name}: ${messageOf(e)}`));
      if (mountedHere) {
        await unmountOverlay(dirs.merged);
        const now = ctx.containers.get(id);
        if (now) ctx.containers.setState(id, now.state, { ...now.status, mounted: false });
      }
    }
  });
}

function mountTable(ctx: EngineContext, rec: ContainerRecord, root: string, live: boolean): MountMap[] {
  const c = rec.config;
  const pid = rec.status.pid;
  // runc places a mount where its destination resolves inside the root; so do we.
  const where = (dest: string) => '/' + path.relative(root, secureJoin(root, dest));
  const out: MountMap[] = [];
  for (const m of c.mounts) {
    const readOnly = m.options.includes('ro');
    if (m.type === 'bind') out.push({ dest: where(m.destination), host: m.source, readOnly, what: 'bind' });
    else if (m.type === 'tmpfs') out.push({ dest: where(m.destination), host: live ? procRoot(pid, m.destination) : undefined, readOnly, what: 'tmpfs' });
    else out.push({ dest: where(m.destination), host: volumeSource(ctx, m.source), readOnly, what: 'volume' });
  }
  const userDests = new Set(c.mounts.map((m) => m.destination));
  if (live) {
    const bundle = ctx.paths.bundle(c.id);
    for (const [dest, file] of [['/etc/hosts', 'hosts'], ['/etc/resolv.conf', 'resolv.conf'], ['/etc/hostname', 'hostname']] as const) {
      if (!userDests.has(dest)) out.push({ dest: where(dest), host: path.join(bundle, file), readOnly: c.readOnly, what: 'bind' });
    }
  }
  if (c.readOnly && c.readOnlyTmpfs) {
    for (const dest of ['/tmp', '/var/tmp', '/run']) {
      if (!userDests.has(dest)) out.push({ dest: where(dest), host: live ? procRoot(pid, dest) : undefined, readOnly: false, what: 'tmpfs' });
    }
  }
  return out.sort((a, b) => b.dest.length - a.dest.length);
}

/** `/proc/<pid>/root<dest>`, only when every component there is a real directory (no symlink to follow on the host). */
function procRoot(pid: number, dest: string): string | undefined {
  let p = `/proc/${pid}/root`;
  for (const part of dest.split('/').filter(Boolean)) {
    p += '/' + part;
    try {
      if (!fs.lstatSync(p).isDirectory()) return undefined;
    } catch {
      return undefined;
    }
  }
  return p;
}

function mountOf(v: RootView, ctrPath: string): MountMap | undefined {
  return v.mounts.find((m) => ctrPath === m.dest || ctrPath.startsWith(m.dest === '/' ? '/' : m.dest + '/'));
}

/** Host path of symlink-free container path components (lenient: undefined for an unreachable mount). */
function hostOf(v: RootView, parts: string[], lenient: true): string | undefined;
function hostOf(v: RootView, parts: string[]): string;
function hostOf(v: RootView, parts: string[], lenient = false): string | undefined {
  const p = '/' + parts.join('/');
  const m = mountOf(v, p);
  if (!m) return path.join(v.root, ...parts);
  if (m.host === undefined) {
    if (lenient) return undefined;
    throw new BerthError('not-running', `${p} is on a ${m.what} mount of container ${v.rec.config.name}, which exists only while the container runs; start it first`);
  }
  return m.host + p.slice(m.dest.length);
}

export interface Resolved { parts: string[]; host: string; shown: string }

/**
 * Resolves `unsafe` as the container would (like secureJoin, but each step
 * looks through the mount table): symlinks never lead outside the container.
 */
export function resolveInContainer(v: RootView, unsafe: string, followLast: boolean): Resolved {
  const parts = resolveComponents(unsafe, (p) => hostOf(v, p, true), followLast, `container ${v.rec.config.name}`);
  return { parts, host: hostOf(v, parts), shown: `${v.rec.config.name}:${'/' + parts.join('/')}` };
}

/** A copy end inside the container; a walk that meets a mount point continues in the mount's source. */
function ctrPlace(v: RootView, r: Resolved, writing: boolean): Place {
  const mountAt = (parts: string[]) => {
    const p = '/' + parts.join('/');
    const m = v.mounts.find((x) => x.dest === p);
    if (m && writing && m.readOnly) throw invalidArgument(`${v.rec.config.name}:${p} is a read-only mount; the copy stopped there`);
    return m?.host;
  };
  return { host: r.host, ctr: { parts: r.parts, mountAt } };
}

// ---------- cp ----------

export interface CopyOptions {
  /** Keep the source's uid/gid (otherwise: root in a container, the caller on the host). */
  archive?: boolean;
  /** Follow a symlink given as the source. */
  followLink?: boolean;
  /** Pause a running container while copying (default true). */
  pause?: boolean;
}

export type CopySource = { hostPath: string } | { tar: NodeJS.ReadableStream };
export type CopyTarget = { hostPath: string } | { tar: NodeJS.WritableStream };

const lstatOr = (p: string, follow = false): fs.Stats | undefined => {
  try { return follow ? fs.statSync(p) : fs.lstatSync(p); } catch { return undefined; }
};
/** `dir/.` or `.`: the contents of a directory rather than the directory. */
const meansContents = (p: string) => p === '.' || p.endsWith('/.');
const absolute = (p: string) => (p.startsWith('/') ? p : '/' + p);

interface Source { place: Place; st: fs.Stats; name: string; contents: boolean; shown: string }
interface Target { place: Place; st: fs.Stats | undefined; parentOk: boolean; trailingSlash: boolean; shown: string; child(name: string): Place }

/** Docker's rules: into an existing directory (as SRC's basename, or its contents for `dir/.`), over a file, or as a new name. */
async function copyTop(src: Source, dst: Target, c: CopyCtx): Promise<void> {
  const isDir = src.st.isDirectory();
  if (dst.st?.isDirectory()) {
    if (isDir && (src.contents || src.name === '')) return copyNode(src.place, src.st, dst.place, c, true);
    return copyNode(src.place, src.st, dst.child(src.name), c, false);
  }
  if (dst.st) {
    if (isDir) throw invalidArgument(`cannot copy directory ${src.shown} over ${dst.shown}: it exists and is not a directory`);
    if (dst.trailingSlash) throw invalidArgument(`destination ${dst.shown} is not a directory`);
    return copyNode(src.place, src.st, dst.place, c, false);
  }
  if (!dst.parentOk) throw notFound(`destination directory of ${dst.shown} does not exist: create it first`);
  if (dst.trailingSlash && !isDir) throw notFound(`destination directory ${dst.shown} does not exist: create it first`);
  return copyNode(src.place, src.st, dst.place, c, false);
}

function checkSource(raw: string, st: fs.Stats | undefined, shown: string): fs.Stats {
  if (!st) throw notFound(`could not find ${shown}: no such file or directory`);
  if ((raw.endsWith('/') || meansContents(raw)) && !st.isDirectory()) throw invalidArgument(`source ${shown} is not a directory`);
  return st;
}

/** Copies a host path or a tar stream into the container at `ctrPath`. */
export async function copyToContainer(ctx: EngineContext, ref: string, ctrPath: string, source: CopySource, o: CopyOptions = {}): Promise<void> {
  const want = absolute(ctrPath);
  let hostSrc: Source | undefined;
  if ('hostPath' in source) {
    const raw = source.hostPath;
    const abs = path.resolve(raw);
    const st = checkSource(raw, lstatOr(abs, !!o.followLink || raw.endsWith('/') || meansContents(raw)), raw);
    const real = st.isSymbolicLink() ? abs : fs.realpathSync(abs);
    hostSrc = { place: { host: real }, st, name: path.basename(abs), contents: meansContents(raw) || abs === '/', shown: raw };
  }
  await withContainerRoot(ctx, ref, 'copy-in', o.pause !== false, async (v) => {
    const c = v.rec.config;
    const dst = resolveInContainer(v, want, true);
    const mount = mountOf(v, '/' + dst.parts.join('/'));
    if (mount ? mount.readOnly : c.readOnly) throw invalidArgument(`${dst.shown} is on a read-only filesystem of the container; nothing was copied`);
    const dstSt = lstatOr(dst.host);
    const parent = dst.parts.length ? lstatOr(hostOf(v, dst.parts.slice(0, -1))) : undefined;
    const target: Target = {
      place: ctrPlace(v, dst, true), st: dstSt, parentOk: !!parent?.isDirectory(), trailingSlash: want.endsWith('/'),
      shown: dst.shown,
      child: (name) => {
        const parts = [...dst.parts, name];
        if (mountOf(v, '/' + parts.join('/'))?.readOnly) throw invalidArgument(`${c.name}:/${parts.join('/')} is on a read-only mount; nothing was copied`);
        return ctrPlace(v, { ...dst, parts, host: hostOf(v, parts) }, true);
      },
    };
    const cc: CopyCtx = { owner: o.archive ? undefined : { uid: 0, gid: 0 }, links: new Map() };
    if (hostSrc) {
      await copyTop(hostSrc, target, cc);
    } else {
      if (!dstSt?.isDirectory()) throw invalidArgument(`destination ${dst.shown} must be an existing directory to extract a tar stream into`);
      await extractInto(ctx, c.id, (source as { tar: NodeJS.ReadableStream }).tar, target, cc);
    }
    ctx.events.record('container', 'extract-to-dir', c.id, c.name, { path: want });
  });
}

/** A tar stream is unpacked (hostile-input safe) into a private staging dir, then copied like a directory's contents. */
async function extractInto(ctx: EngineContext, id: string, tar: NodeJS.ReadableStream, target: Target, cc: CopyCtx): Promise<void> {
  const stage = path.join(ctx.paths.container(id), `.cp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    try {
      await unpackLayer(Readable.from(tar as AsyncIterable<Buffer>), stage, { allowDevices: true });
    } catch (e) {
      // unpack.ts speaks of layers; here the input is the user's tar stream.
      if (e instanceof BerthError) throw new BerthError(e.kind, `tar stream rejected, nothing copied: ${e.message.replace(/layer entry/g, 'entry').replace(/the layer root/g, 'the destination')}`);
      throw e;
    }
    const st = fs.lstatSync(stage);
    await copyNode({ host: stage }, st, target.place, cc, true);
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

/** Copies `ctrPath` from the container to a host path, or as a tar stream. */
export async function copyFromContainer(ctx: EngineContext, ref: string, ctrPath: string, target: CopyTarget, o: CopyOptions = {}): Promise<void> {
  const raw = absolute(ctrPath);
  await withContainerRoot(ctx, ref, 'copy-out', o.pause !== false, async (v) => {
    const c = v.rec.config;
    const r = resolveInContainer(v, raw, !!o.followLink || raw.endsWith('/') || meansContents(raw));
    const st = checkSource(raw, lstatOr(r.host), `${c.name}:${raw}`);
    const name = path.posix.basename(path.posix.normalize(raw));
    const contents = meansContents(raw) || r.parts.length === 0;
    if ('tar' in target) {
      const nested = v.mounts.filter((m) => m.host !== undefined && (r.parts.length === 0 || m.dest.startsWith('/' + r.parts.join('/') + '/')));
      const base = '/' + r.parts.join('/');
      const inner = nested.map((m) => ({ rel: r.parts.length ? m.dest.slice(base.length + 1) : m.dest.slice(1), host: m.host! }));
      await pipeline(Readable.from(tarOf(r.host, st, contents ? undefined : name, inner.sort((a, b) => a.rel.localeCompare(b.rel)))), target.tar, { end: false });
    } else {
      const dstRaw = target.hostPath;
      const abs = path.resolve(dstRaw);
      const dstSt = lstatOr(abs, true);
      const real = dstSt ? fs.realpathSync(abs) : abs;
      const dst: Target = {
        place: { host: real }, st: dstSt, parentOk: !!lstatOr(path.dirname(abs), true)?.isDirectory(),
        trailingSlash: dstRaw.endsWith('/'), shown: dstRaw, child: (n) => ({ host: path.join(real, n) }),
      };
      const cc: CopyCtx = { owner: o.archive ? undefined : { uid: euid(), gid: egid() }, links: new Map() };
      await copyTop({ place: ctrPlace(v, r, false), st, name, contents, shown: `${c.name}:${raw}` }, dst, cc);
    }
    ctx.events.record('container', 'archive-path', c.id, c.name, { path: raw });
  });
}

// ---------- export ----------

/** The container's whole flattened filesystem (without its mounts) as a tar stream; `out` is not ended. */
export async function exportContainer(ctx: EngineContext, ref: string, out: NodeJS.WritableStream): Promise<void> {
  await withContainerRoot(ctx, ref, 'export', false, async (v) => {
    await pipeline(packDirectory(v.root, { overlayWhiteouts: false }), out, { end: false });
    ctx.events.record('container', 'export', v.rec.config.id, v.rec.config.name, { image: v.rec.config.imageName });
  });
}

// ---------- diff ----------

export interface Change { Path: string; Kind: 'A' | 'C' | 'D' }

const isWhiteout = (st: fs.Stats) => st.isCharacterDevice() && st.rdev === 0;
const isOpaque = (p: string) => {
  try { return getXattr(p, 'trusted.overlay.opaque')?.toString() === 'y'; } catch { return false; }
};
const listDir = (p: string): string[] => {
  try { return fs.readdirSync(p); } catch { return []; }
};

/** Changes in the container's upper dir against its image's layers (like overlay changes in Docker), sorted by path. */
export function containerChanges(ctx: EngineContext, ref: string): Change[] {
  const rec = ctx.containers.resolve(ref);
  const image = ctx.images.get(rec.config.imageId);
  if (!image) throw notFound(`image ${rec.config.imageId.slice(0, 12)} of container ${rec.config.name} was removed; cannot compare against it`);
  const upper = overlayDirs(ctx.paths.container(rec.config.id)).upper;
  const lowers = image.record.layers.map((l) => ctx.layers.dir(l.chainId)).reverse();
  const kinds = new Map<string, Change['Kind']>();

  /** The path as the image shows it (top layer first; whiteouts and opaque or non-dir parents hide it). */
  const inImage = (rel: string[]): fs.Stats | undefined => {
    for (const layer of lowers) {
      const st = lstatOr(path.join(layer, ...rel));
      if (st) return isWhiteout(st) ? undefined : st;
      for (let i = rel.length - 1; i > 0; i--) {
        const a = path.join(layer, ...rel.slice(0, i));
        const ast = lstatOr(a);
        if (!ast) continue;
        if (!ast.isDirectory() || isOpaque(a)) return undefined;
      }
    }
    return undefined;
  };
  /** Names a directory had in the image (for an opaque directory that replaced it). */
  const imageNames = (rel: string[]): Set<string> => {
    const names = new Set<string>();
    for (const layer of lowers) {
      const dir = path.join(layer, ...rel);
      for (const n of listDir(dir)) {
        const st = lstatOr(path.join(dir, n));
        if (st && !isWhiteout(st) && !names.has(n)) names.add(n);
      }
      if (isOpaque(dir)) break;
    }
    return names;
  };

  const walk = (rel: string[], replaced: boolean) => {
    const dir = path.join(upper, ...rel);
    const names = listDir(dir).sort();
    for (const name of names) {
      const p = [...rel, name];
      const key = '/' + p.join('/');
      const st = lstatOr(path.join(dir, name));
      if (!st) continue;
      if (isWhiteout(st)) { kinds.set(key, 'D'); continue; }
      const before = replaced ? undefined : inImage(p);
      const opaque = st.isDirectory() && isOpaque(path.join(dir, name));
      if (!before) kinds.set(key, 'A');
      else if (!(st.isDirectory() && before.isDirectory() && !opaque && st.mode === before.mode && Math.floor(st.mtimeMs / 1000) === Math.floor(before.mtimeMs / 1000))) kinds.set(key, 'C');
      if (!st.isDirectory()) continue;
      if (opaque && before?.isDirectory()) {
        const now = new Set(listDir(path.join(dir, name)));
        for (const gone of imageNames(p)) if (!now.has(gone)) kinds.set(`${key}/${gone}`, 'D');
      }
      walk(p, replaced || opaque);
    }
  };
  walk([], false);
  // A directory holding an added or deleted entry changed, even if its own metadata did not.
  for (const [p, k] of [...kinds]) {
    if (k === 'C') continue;
    const parent = path.posix.dirname(p);
    if (parent !== '/' && !kinds.has(parent)) kinds.set(parent, 'C');
  }
  return [...kinds].map(([Path, Kind]) => ({ Path, Kind })).sort((a, b) => (a.Path < b.Path ? -1 : a.Path > b.Path ? 1 : 0));
}

// ---------- stat (feature: Docker API, HEAD/GET /containers/{id}/archive) ----------

export interface PathStat { name: string; size: number; mode: number; mtime: string; linkTarget: string }

/** lstat of a container path as the container sees it; `mode` is st_mode, `linkTarget` the resolved target of a symlink. */
export async function statContainerPath(ctx: EngineContext, ref: string, ctrPath: string): Promise<PathStat> {
  const raw = absolute(ctrPath);
  return withContainerRoot(ctx, ref, 'stat', false, async (v) => {
    const r = resolveInContainer(v, raw, false);
    const st = checkSource(raw, lstatOr(r.host), `${v.rec.config.name}:${raw}`);
    const linkTarget = st.isSymbolicLink() ? '/' + resolveInContainer(v, raw, true).parts.join('/') : '';
    const name = r.parts.length ? path.posix.basename(path.posix.normalize(raw)) : '/';
    return { name, size: st.size, mode: st.mode, mtime: st.mtime.toISOString(), linkTarget };
  });
}
