// FFI to the few libc calls Node core lacks (koffi, loaded lazily: ~9 ms).
// Used for SOCK_SEQPACKET attach sockets, xattrs and device nodes.
import { loadKoffi } from './native.js';

type Fn = (...args: unknown[]) => number;
export interface Libc {
  socket: Fn; connect: Fn; shutdown: Fn; close: Fn; open: Fn;
  lsetxattr: Fn; lgetxattr: Fn; llistxattr: Fn; mknod: Fn; umount2: Fn; mount: Fn;
  errno(): number;
}

let cached: Libc | undefined;

export function libc(): Libc {
  if (cached) return cached;
  const koffi = loadKoffi();
  const lib = koffi.load('libc.so.6');
  const errnoLoc = lib.func('int *__errno_location(void)');
  cached = {
    socket: lib.func('int socket(int, int, int)'),
    connect: lib.func('int connect(int, const void *, uint32_t)'),
    shutdown: lib.func('int shutdown(int, int)'),
    close: lib.func('int close(int)'),
    open: lib.func('int open(const char *, int, int)'),
    lsetxattr: lib.func('int lsetxattr(const char *, const char *, const void *, size_t, int)'),
    lgetxattr: lib.func('intptr_t lgetxattr(const char *, const char *, _Out_ void *, size_t)'),
    llistxattr: lib.func('intptr_t llistxattr(const char *, _Out_ void *, size_t)'),
    mknod: lib.func('int mknod(const char *, uint32_t, uint64_t)'),
    umount2: lib.func('int umount2(const char *, int)'),
    mount: lib.func('int mount(const char *, const char *, const char *, unsigned long, const char *)'),
    errno: () => koffi.decode(errnoLoc(), 'int') as number,
  };
  return cached;
}

const ERRNO_NAMES: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 13: 'EACCES', 17: 'EEXIST', 22: 'EINVAL', 61: 'ENODATA',
  95: 'EOPNOTSUPP', 111: 'ECONNREFUSED', 34: 'ERANGE', 16: 'EBUSY',
};

/** Throws an Error naming the failed call and errno when `rc < 0`. */
export function check(rc: number, what: string): number {
  if (rc < 0) {
    const e = libc().errno();
    const err = new Error(`${what}: ${ERRNO_NAMES[e] ?? 'errno ' + e}`) as NodeJS.ErrnoException;
    err.errno = e;
    err.code = ERRNO_NAMES[e];
    throw err;
  }
  return rc;
}

/** Encodes a device number like glibc's makedev(). */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major), mi = BigInt(minor);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

/** Splits a device number like glibc's major() and minor(). */
export function splitDev(rdev: number | bigint): { major: number; minor: number } {
  const r = BigInt(rdev);
  return {
    major: Number(((r >> 8n) & 0xfffn) | ((r >> 32n) & 0xfffff000n)),
    minor: Number((r & 0xffn) | ((r >> 12n) & 0xffffff00n)),
  };
}

/** Sets an extended attribute on a path without following symlinks. */
export function setXattr(path: string, name: string, value: Buffer): void {
  check(libc().lsetxattr(path, name, value, value.length, 0) as number, `setxattr ${name} on ${path}`);
}

/** Lists extended attribute names of a path (not following symlinks). */
export function listXattrs(path: string): string[] {
  const buf = Buffer.alloc(65536);
  const n = libc().llistxattr(path, buf, buf.length) as number;
  if (n < 0) {
    const e = libc().errno();
    if (e === 95 || e === 2) return [];
    check(n, `listxattr ${path}`);
  }
  return buf.subarray(0, n).toString('latin1').split('\0').filter(Boolean);
}

/** Reads an extended attribute, or undefined when it is not set. */
export function getXattr(path: string, name: string): Buffer | undefined {
  const buf = Buffer.alloc(65536);
  const n = libc().lgetxattr(path, name, buf, buf.length) as number;
  if (n < 0) {
    if (libc().errno() === 61) return undefined;
    check(n, `getxattr ${name} on ${path}`);
  }
  return Buffer.from(buf.subarray(0, n));
}

/** Creates a device node or FIFO (mode includes the S_IFCHR/S_IFBLK/S_IFIFO type bits). */
export function mknod(path: string, mode: number, major = 0, minor = 0): void {
  check(libc().mknod(path, mode, makedev(major, minor)) as number, `mknod ${path}`);
}

export const S_IFIFO = 0o010000, S_IFCHR = 0o020000, S_IFBLK = 0o060000;
