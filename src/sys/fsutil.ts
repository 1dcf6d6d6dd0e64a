// Small, crash-safe file helpers.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

/** Writes a file atomically: temporary name, optional fsync, rename into place. */
export function writeFileAtomic(file: string, data: string | Buffer, opts: { mode?: number; fsync?: boolean } = {}): void {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fd = fs.openSync(tmp, 'w', opts.mode ?? 0o644);
  try {
    if (typeof data === 'string') fs.writeSync(fd, data);
    else fs.writeSync(fd, data);
    if (opts.fsync) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  if (opts.fsync) fsyncDir(path.dirname(file));
}

export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
}

export function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

/**
 * Reads a small regular file from a place an image controls: no symlink at the
 * end, nothing but a regular file (a FIFO would block, a device never ends), at
 * most `maxBytes`. Undefined when it is absent or not like that.
 */
export function readRegularFile(file: string, maxBytes = 1 << 20): string | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.size > maxBytes) return undefined;
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = fs.readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off).toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/** A file's text, or `fallback` when it cannot be read. */
export function readTextOr(file: string, fallback = ''): string {
  try { return fs.readFileSync(file, 'utf8'); } catch { return fallback; }
}

export function exists(p: string): boolean {
  try { fs.lstatSync(p); return true; } catch { return false; }
}

export function mkdirp(dir: string, mode = 0o755): void {
  fs.mkdirSync(dir, { recursive: true, mode });
}

/** This process's effective user and group. */
export const euid = (): number => process.geteuid?.() ?? 0;
export const egid = (): number => process.getegid?.() ?? 0;

/** True when process `pid` exists and is not a zombie. */
export function pidAlive(pid: number): boolean {
  if (!pid || pid <= 0) return false;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Process start time (clock ticks since boot), to tell a pid from a reused one. */
export function pidStartTime(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[19]);
  } catch {
    return undefined;
  }
}

/**
 * `rm -rf` for Berth's own small directories (bundles, container and exec
 * directories), which hot paths remove on every run: it does only the
 * syscalls, where fs.rmSync first loads and then runs Node's general remover
 * (retries, an lstat per entry), a few ms each time. Symlinks are removed,
 * never followed.
 */
export function removeTree(dir: string): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR') return removeFile(dir);
    throw e;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) removeTree(p);
    else removeFile(p);
  }
  try {
    fs.rmdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

function removeFile(p: string): void {
  try {
    fs.unlinkSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}
