// The two halves of `cp`: copying a tree between host paths (either end may be
// inside a container, whose mounts a walk crosses into), and writing a tree as a
// tar stream (pack.ts does the directories; names are rebased under the copied
// entry's own name, like Docker's archives).
//
// Trees are walked with lstat and never follow a symlink; each entry is created
// fresh (O_EXCL, no-follow) after removing what was there, so nothing written can
// land outside the destination. Docker's rule holds at every level: a directory
// never replaces a non-directory or the other way round.
import fs, { constants as FS, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { BerthError, conflict, messageOf } from './errors.js';
import { packDirectory } from '../snapshot/pack.js';
import { ByteSource, readTar } from '../snapshot/tar-reader.js';
import { encodeHeader, END_OF_ARCHIVE, padding, tarDevNumbers, type OutHeader } from '../snapshot/tar-format.js';
import { getXattr, listXattrs, mknod, setXattr, S_IFBLK, S_IFCHR, S_IFIFO } from '../sys/libc.js';

/** One end of a copy: a host path, and its container path when it is inside a container. */
export interface Place {
  host: string;
  ctr?: { parts: string[]; mountAt(parts: string[]): string | undefined };
}

export interface CopyCtx {
  /** Owner for everything written; undefined keeps the source's. */
  owner: { uid: number; gid: number } | undefined;
  /** dev:ino of multiply-linked sources -> the first copy, to recreate hard links. */
  links: Map<string, string>;
}

const READ_CHUNK = 1024 * 1024;

function shown(p: Place): string {
  return p.ctr ? '/' + p.ctr.parts.join('/') : p.host;
}

function childOf(p: Place, name: string): Place {
  if (!p.ctr) return { host: path.join(p.host, name) };
  const parts = [...p.ctr.parts, name];
  return { host: p.ctr.mountAt(parts) ?? path.join(p.host, name), ctr: { parts, mountAt: p.ctr.mountAt } };
}

async function lstatOr(p: string): Promise<fs.Stats | undefined> {
  try {
    return await fsp.lstat(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * Copies `src` (already lstat'ed as `st`) to `dst`. With `mergeTop`, an existing
 * destination directory keeps its own owner, mode and times.
 */
export async function copyNode(src: Place, st: fs.Stats, dst: Place, c: CopyCtx, mergeTop: boolean): Promise<void> {
  const existing = await lstatOr(dst.host);
  if (st.isDirectory()) {
    if (existing && !existing.isDirectory()) throw conflict(`cannot overwrite non-directory ${shown(dst)} with a directory`);
    if (!existing) await fsp.mkdir(dst.host, { mode: 0o700 });
    for (const name of (await fsp.readdir(src.host)).sort()) {
      const s = childOf(src, name);
      const cst = await lstatOr(s.host);
      if (cst) await copyNode(s, cst, childOf(dst, name), c, false);
    }
    if (!(mergeTop && existing)) await finishDir(src.host, dst.host, st, c);
    return;
  }
  if (existing?.isDirectory()) throw conflict(`cannot overwrite directory ${shown(dst)} with a non-directory`);
  // An overlay whiteout (from a staged tar's .wh. entry) is not content; sockets cannot be copied.
  if ((st.isCharacterDevice() && st.rdev === 0) || st.isSocket()) return;
  if (existing) await fsp.unlink(dst.host);
  if (st.nlink > 1) {
    const key = `${st.dev}:${st.ino}`;
    const first = c.links.get(key);
    if (first === undefined) c.links.set(key, dst.host);
    else {
      try {
        await fsp.link(first, dst.host);
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e; // across mounts: copy instead
      }
    }
  }
  const uid = c.owner?.uid ?? st.uid, gid = c.owner?.gid ?? st.gid;
  if (st.isFile()) {
    await fsp.copyFile(src.host, dst.host, FS.COPYFILE_EXCL);
    const fh = await fsp.open(dst.host, FS.O_WRONLY | FS.O_NOFOLLOW);
    try {
      await fh.chown(uid, gid);
      await fh.chmod(st.mode & 0o7777); // after chown, which clears setuid/setgid
      copyXattrs(src.host, dst.host);   // after chown, which clears file capabilities
      await fh.utimes(st.atime, st.mtime);
    } finally {
      await fh.close();
    }
    return;
  }
  if (st.isSymbolicLink()) {
    await fsp.symlink(await fsp.readlink(src.host), dst.host);
    await fsp.lchown(dst.host, uid, gid);
  } else {
    const type = st.isCharacterDevice() ? S_IFCHR : st.isBlockDevice() ? S_IFBLK : S_IFIFO;
    const { devmajor, devminor } = tarDevNumbers(st.rdev);
    mknod(dst.host, type | (st.mode & 0o777), devmajor, devminor);
    await fsp.lchown(dst.host, uid, gid);
    await fsp.chmod(dst.host, st.mode & 0o7777);
  }
  await fsp.lutimes(dst.host, st.atime, st.mtime);
}

async function finishDir(src: string, dst: string, st: fs.Stats, c: CopyCtx): Promise<void> {
  const fh = await fsp.open(dst, FS.O_RDONLY | FS.O_DIRECTORY | FS.O_NOFOLLOW);
  try {
    await fh.chown(c.owner?.uid ?? st.uid, c.owner?.gid ?? st.gid);
    await fh.chmod(st.mode & 0o7777);
    copyXattrs(src, dst);
    await fh.utimes(st.atime, st.mtime);
  } finally {
    await fh.close();
  }
}

/** Best effort: some attributes cannot be set on the destination filesystem. */
function copyXattrs(src: string, dst: string): void {
  let names: string[];
  try { names = listXattrs(src); } catch { return; }
  for (const name of names) {
    if (name.startsWith('trusted.overlay.') || name.startsWith('user.overlay.')) continue; // never forge overlay metadata
    try {
      const v = getXattr(src, name);
      if (v !== undefined) setXattr(dst, name, v);
    } catch { /* not storable here */ }
  }
}

// ---------- as a tar stream ----------

/**
 * A tar of `host`: a file as one entry named `top`; a directory as `top/` and
 * its content under `top/` (without `top`: the content alone). `inner` are
 * mounts below the directory, added under their relative paths.
 */
export async function* tarOf(host: string, st: fs.Stats, top: string | undefined, inner: { rel: string; host: string }[]): AsyncGenerator<Buffer> {
  if (!st.isDirectory()) {
    yield* entry(host, st, top ?? path.basename(host));
    yield END_OF_ARCHIVE;
    return;
  }
  const prefix = top === undefined ? '' : top + '/';
  if (top !== undefined) yield* entry(host, st, top);
  yield* rebased(packDirectory(host, { overlayWhiteouts: false }), prefix);
  for (const m of inner) {
    let mst: fs.Stats;
    try { mst = fs.statSync(m.host); } catch { continue; }
    yield* entry(m.host, mst, prefix + m.rel);
    if (mst.isDirectory()) yield* rebased(packDirectory(m.host, { overlayWhiteouts: false }), `${prefix}${m.rel}/`);
  }
  yield END_OF_ARCHIVE;
}

/** Re-emits pack.ts's entries with `prefix` before every name (and hard link target). */
async function* rebased(tar: Readable, prefix: string): AsyncGenerator<Buffer> {
  const src = new ByteSource(tar[Symbol.asyncIterator](), () => undefined);
  try {
    for await (const e of readTar(src)) {
      yield encodeHeader({
        name: prefix + e.name, type: e.type, mode: e.mode, uid: e.uid, gid: e.gid, size: e.size, mtime: Math.floor(e.mtime),
        linkname: e.type === 'link' ? prefix + e.linkname : e.linkname, devmajor: e.devmajor, devminor: e.devminor, xattrs: e.xattrs,
      });
      if (e.type === 'file') {
        for await (const b of e.data()) yield b;
        yield padding(e.size);
      }
    }
  } finally {
    tar.destroy();
  }
}

/** One entry for a path that was lstat'ed (a directory's header only). */
async function* entry(host: string, st: fs.Stats, name: string): AsyncGenerator<Buffer> {
  const base = { name, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: Math.floor(st.mtimeMs / 1000), size: 0 };
  let h: OutHeader;
  if (st.isDirectory()) h = { ...base, type: 'dir' };
  else if (st.isSymbolicLink()) h = { ...base, type: 'symlink', linkname: await fsp.readlink(host) };
  else if (st.isCharacterDevice()) h = { ...base, type: 'char', ...tarDevNumbers(st.rdev) };
  else if (st.isBlockDevice()) h = { ...base, type: 'block', ...tarDevNumbers(st.rdev) };
  else if (st.isFIFO()) h = { ...base, type: 'fifo' };
  else if (st.isFile()) {
    yield* fileEntry(host, { ...base, type: 'file', size: st.size });
    return;
  } else return; // sockets cannot be archived
  yield encodeHeader(h);
}

async function* fileEntry(host: string, h: OutHeader): AsyncGenerator<Buffer> {
  const fh = await fsp.open(host, FS.O_RDONLY | FS.O_NOFOLLOW);
  try {
    yield encodeHeader(h);
    let left = h.size;
    while (left > 0) {
      const buf = Buffer.allocUnsafe(Math.min(left, READ_CHUNK));
      let n: number;
      try {
        ({ bytesRead: n } = await fh.read(buf, 0, buf.length, null));
      } catch (e) {
        throw new BerthError('internal', `reading ${h.name}: ${messageOf(e)}`);
      }
      if (n === 0) throw new BerthError('internal', `${h.name} shrank while being copied; try again`);
      left -= n;
      yield buf.subarray(0, n);
    }
    yield padding(h.size);
  } finally {
    await fh.close();
  }
}
