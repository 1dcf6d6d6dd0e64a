// Packs a directory into a deterministic layer tar (uncompressed).
//
// Entries are emitted depth-first with names sorted within each directory, so a
// directory always precedes its content; names are relative without "./"
// (directories end in "/"); the root itself is not an entry. Owner, mode (with
// setuid/setgid/sticky), whole-second mtime, symlink targets, device numbers and
// xattrs (as binary-safe PAX SCHILY.xattr.*; trusted.overlay.* never) are kept;
// uname/gname are left empty. The second and later names of a multiply-linked
// inode become hard-link entries pointing at the first name. Sockets are skipped.
//
// With `overlayWhiteouts` (packing an overlay upper dir for commit/diff), a char
// device 0:0 becomes an empty `.wh.<name>` file, and a directory marked
// trusted.overlay.opaque=y (or user.overlay.opaque=y) gets a `.wh..wh..opq`
// entry right after its own entry, before its content.
import { constants as FS, promises as fsp, type BigIntStats } from 'node:fs';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { BerthError, messageOf, notFound } from '../engine/errors.js';
import { getXattr, listXattrs } from '../sys/libc.js';
import { encodeHeader, END_OF_ARCHIVE, padding, tarDevNumbers, type EntryType, type OutHeader } from './tar-format.js';

export interface PackOptions {
  /** Convert overlayfs whiteouts / opaque markers to their OCI form. */
  overlayWhiteouts: boolean;
}

const READ_CHUNK = 1024 * 1024;
const SMALL_FILE = 256 * 1024;
const q = (s: string) => JSON.stringify(s);

/** Returns a tar stream of `dir`'s content; errors surface as stream errors (BerthError). */
export function packDirectory(dir: string, opts: PackOptions): Readable {
  return Readable.from(generate(resolve(dir), opts), { objectMode: false, highWaterMark: 256 * 1024 });
}

async function* generate(root: string, opts: PackOptions): AsyncGenerator<Buffer> {
  let st: BigIntStats;
  try {
    st = await fsp.lstat(root, { bigint: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`directory ${root} not found`);
    throw new BerthError('internal', `packing ${root}: ${messageOf(e)}`, { cause: e });
  }
  if (!st.isDirectory()) throw new BerthError('invalid-argument', `cannot pack ${root}: not a directory`);
  const p = new Packer(root, opts);
  yield* p.walk('');
  yield END_OF_ARCHIVE;
}

function wholeSeconds(ns: bigint): number {
  let s = ns / 1_000_000_000n;
  if (ns < 0n && s * 1_000_000_000n !== ns) s -= 1n;
  return Number(s);
}

function typeOf(st: BigIntStats): EntryType | undefined {
  if (st.isDirectory()) return 'dir';
  if (st.isFile()) return 'file';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return undefined; // sockets and anything else cannot be represented
}

class Packer {
  /** dev:ino -> first name emitted for multiply-linked inodes. */
  private readonly links = new Map<string, string>();

  constructor(private readonly root: string, private readonly opts: PackOptions) {}

  async *walk(rel: string): AsyncGenerator<Buffer> {
    const dirAbs = rel ? join(this.root, rel) : this.root;
    let names: string[];
    try {
      names = await fsp.readdir(dirAbs);
    } catch (e) {
      throw this.fail(rel || '.', e);
    }
    names.sort();
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      const abs = join(this.root, r);
      let st: BigIntStats;
      try {
        st = await fsp.lstat(abs, { bigint: true });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !name.includes('\uFFFD')) continue; // vanished meanwhile
        throw this.fail(r, e);
      }
      const type = typeOf(st);
      if (!type) continue;
      const base = {
        mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid),
        mtime: wholeSeconds(st.mtimeNs), size: 0,
      };
      if (type === 'dir') {
        yield this.header({ ...base, name: r + '/', type, xattrs: this.xattrs(abs, r) });
        if (this.opts.overlayWhiteouts && this.isOpaque(abs, r)) {
          yield this.header({ ...base, name: `${r}/.wh..wh..opq`, type: 'file', mode: 0o600 });
        }
        yield* this.walk(r);
        continue;
      }
      if (this.opts.overlayWhiteouts && type === 'char' && st.rdev === 0n) {
        const wh = rel ? `${rel}/.wh.${name}` : `.wh.${name}`;
        yield this.header({ ...base, name: wh, type: 'file', mode: 0o600 });
        continue;
      }
      if (st.nlink > 1n) {
        const key = `${st.dev}:${st.ino}`;
        const first = this.links.get(key);
        if (first !== undefined) {
          yield this.header({ ...base, name: r, type: 'link', linkname: first });
          continue;
        }
        this.links.set(key, r);
      }
      const xattrs = this.xattrs(abs, r);
      if (type === 'file') {
        yield* this.file(abs, r, { ...base, name: r, type, size: Number(st.size), xattrs });
      } else if (type === 'symlink') {
        let linkname: string;
        try {
          linkname = await fsp.readlink(abs);
        } catch (e) {
          throw this.fail(r, e);
        }
        yield this.header({ ...base, name: r, type, linkname, xattrs });
      } else if (type === 'char' || type === 'block') {
        yield this.header({ ...base, name: r, type, ...tarDevNumbers(st.rdev), xattrs });
      } else {
        yield this.header({ ...base, name: r, type, xattrs });
      }
    }
  }

  private header(h: OutHeader): Buffer {
    return encodeHeader(h);
  }

  private async *file(abs: string, r: string, h: OutHeader): AsyncGenerator<Buffer> {
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(abs, FS.O_RDONLY | FS.O_NOFOLLOW);
    } catch (e) {
      throw this.fail(r, e);
    }
    try {
      const head = encodeHeader(h);
      if (h.size <= SMALL_FILE) {
        const data = await this.readExactly(fh, r, h.size);
        yield Buffer.concat([head, data, padding(h.size)]);
        return;
      }
      yield head;
      let left = h.size;
      while (left > 0) {
        const chunk = await this.readExactly(fh, r, Math.min(left, READ_CHUNK));
        left -= chunk.length;
        yield chunk;
      }
      yield padding(h.size);
    } finally {
      await fh.close();
    }
  }

  private async readExactly(fh: fsp.FileHandle, r: string, n: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await fh.read(buf, got, n - got, null));
      } catch (e) {
        throw this.fail(r, e);
      }
      if (bytesRead === 0) throw new BerthError('internal', `packing ${q(r)}: file shrank while being packed`);
      got += bytesRead;
    }
    return buf;
  }

  private xattrs(abs: string, r: string): [string, Buffer][] {
    try {
      const out: [string, Buffer][] = [];
      for (const name of listXattrs(abs).sort()) {
        if (name.startsWith('trusted.overlay.')) continue;
        if (this.opts.overlayWhiteouts && name.startsWith('user.overlay.')) continue;
        const v = getXattr(abs, name);
        if (v !== undefined) out.push([name, v]);
      }
      return out;
    } catch (e) {
      throw this.fail(r, e);
    }
  }

  private isOpaque(abs: string, r: string): boolean {
    try {
      return getXattr(abs, 'trusted.overlay.opaque')?.toString() === 'y'
        || getXattr(abs, 'user.overlay.opaque')?.toString() === 'y';
    } catch (e) {
      throw this.fail(r, e);
    }
  }

  private fail(r: string, e: unknown): BerthError {
    if (e instanceof BerthError) return e;
    return new BerthError('internal', `packing ${q(r)}: ${messageOf(e)}`, { cause: e });
  }
}
