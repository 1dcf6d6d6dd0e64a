// Container log files: where they are, how to open and lock them, and the two
// line formats (k8s-file and Docker's json-file). See logs.ts for the design.
import fs from 'node:fs';
import path from 'node:path';
import type { EngineContext } from './context.js';
import type { ContainerConfig } from './container-types.js';
import { invalidArgument } from './errors.js';
import { parseSize, timestampNs } from './parse.js';
import { isActive, logPath, observe } from './lifecycle.js';
import { FileLock } from '../sys/lock.js';

export interface LogOptions {
  follow?: boolean;
  /** Last N lines; undefined or negative = all. */
  tail?: number;
  /** RFC 3339, Unix seconds or a Go duration before now. */
  since?: string;
  until?: string;
  timestamps?: boolean;
  /** Ends a follow early (the Docker API's client went away). */
  signal?: AbortSignal;
}

/** Where output goes; a returned promise is awaited (backpressure). */
export interface LogSink {
  stdout(data: Buffer): void | Promise<void>;
  stderr(data: Buffer): void | Promise<void>;
}

export type Stream = 'stdout' | 'stderr';
export interface LogRecord { time: string; ns: bigint; stream: Stream; partial: boolean; content: Buffer }
export interface Limits { maxSize: number; maxFile: number }

export const CHUNK = 64 * 1024;
export const BACKSTOP_MIN = 1024 * 1024;
/** A hard link to conmon's live file: when conmon's backstop truncates (renames a new file over ctr.log), the old one survives here. */
export const HOLD = '.hold';
export const NL = Buffer.from('\n');

// ---------- options and paths ----------

export function validateLogConfig(driver: string, opts: Record<string, string>): void {
  if (!['k8s-file', 'json-file', 'none'].includes(driver)) throw invalidArgument(`invalid log driver "${driver}": use k8s-file, json-file or none`);
  const keys = Object.keys(opts);
  if (driver === 'none' && keys.length) throw invalidArgument(`log option ${keys[0]} does not apply to --log-driver none: drop it, or use k8s-file or json-file`);
  for (const k of keys) if (k !== 'max-size' && k !== 'max-file') throw invalidArgument(`unknown log option "${k}": use max-size=SIZE or max-file=N`);
  limitsOf(opts);
}

export function limitsOf(o: Record<string, string>): Limits {
  let maxSize = 0, maxFile = 1;
  if (o['max-size'] !== undefined) {
    maxSize = parseSize(o['max-size'], 'log option max-size');
    if (maxSize < 1) throw invalidArgument(`invalid log option max-size "${o['max-size']}": it must be at least 1 byte, e.g. 10m`);
  }
  const f = o['max-file'];
  if (f !== undefined) {
    if (!/^\d+$/.test(f) || Number(f) < 1) throw invalidArgument(`invalid log option max-file "${f}": use a whole number of files, at least 1`);
    if (!maxSize) throw invalidArgument('log option max-file needs max-size: add --log-opt max-size=10m');
    maxFile = Number(f);
  }
  return { maxSize, maxFile };
}

/** conmon's own limit: a backstop well above max-size, as conmon truncates without keeping anything. */
export function conmonLogSizeMax(c: ContainerConfig): number | undefined {
  const { maxSize } = limitsOf(c.logOpts);
  return maxSize ? Math.max(4 * maxSize, BACKSTOP_MIN) : undefined;
}

export function jsonLogPath(ctx: EngineContext, id: string): string {
  return path.join(ctx.paths.container(id), `${id}-json.log`);
}

/** inspect's LogPath: the file the user would read. */
export function displayLogPath(ctx: EngineContext, c: ContainerConfig): string {
  return c.logDriver === 'none' ? '' : c.logDriver === 'json-file' ? jsonLogPath(ctx, c.id) : logPath(ctx, c.id);
}

/** Rotated copies of `file` (file.1, file.2, …), oldest first. */
export function rotatedFiles(file: string): string[] {
  const base = path.basename(file) + '.';
  let names: string[];
  try { names = fs.readdirSync(path.dirname(file)); } catch { return []; }
  return names.filter((n) => n.startsWith(base) && /^\d+$/.test(n.slice(base.length)))
    .map((n) => Number(n.slice(base.length))).sort((a, b) => b - a).map((n) => `${file}.${n}`);
}

export interface Opened { file: string; fd: number; ino: number; size: number }

export function openFile(file: string): Opened | undefined {
  let fd: number;
  try { fd = fs.openSync(file, 'r'); } catch { return undefined; }
  const st = fs.fstatSync(fd);
  return { file, fd, ino: st.ino, size: st.size };
}

/**
 * Opens the k8s files conmon wrote, oldest first, one per inode (under the log lock):
 * rotated ones (json-file: the handed-off ctr.log.old), then the hold link if conmon
 * replaced the file it holds, then ctr.log. Opened in that order, so a ctr.log that
 * exists means conmon closed the files before it.
 */
export function openK8s(ctx: EngineContext, c: ContainerConfig): Opened[] {
  const live = logPath(ctx, c.id);
  const list = (c.logDriver === 'json-file' ? [live + '.old'] : rotatedFiles(live)).map(openFile).filter((f) => f !== undefined);
  const hold = openFile(live + HOLD), cur = openFile(live);
  if (hold && (!cur || hold.ino === cur.ino)) fs.closeSync(hold.fd); // held, or on conmon's next file (reopen pending)
  else if (hold && (list.some((f) => f.ino === hold.ino) || fs.fstatSync(hold.fd).size === 0)) {
    // Left by a crash between two steps, or on a reopen that conmon exited before doing: nothing to keep.
    fs.closeSync(hold.fd);
    fs.rmSync(hold.file, { force: true });
  } else if (hold) list.push(hold);
  if (cur) list.push(cur);
  return list;
}

/** Keeps a second name on conmon's live file, so a truncation by conmon's backstop loses nothing. */
export function ensureHold(live: string): void {
  try { fs.linkSync(live, live + HOLD); } catch { /* already held, or no live file yet */ }
}

/** Rotated copies shift up (file.1 → file.2 …) keeping `maxFile` files in all, then src → file.1. */
export function shift(file: string, maxFile: number, src = file): void {
  for (const r of rotatedFiles(file)) { // highest number first
    const n = Number(r.slice(file.length + 1));
    if (n + 1 >= maxFile) fs.rmSync(r, { force: true });
    else fs.renameSync(r, `${file}.${n + 1}`);
  }
  if (maxFile > 1) fs.renameSync(src, file + '.1');
  else fs.rmSync(src, { force: true });
}

/**
 * After ctr.log was moved away, asks conmon to reopen it; false if no conmon listens.
 * conmon reopens by creating ctr.log.tmp and renaming it over ctr.log, so with `hold`
 * Berth makes that file first, hold link included: the new ctr.log is held from its start.
 */
export function reopen(ctx: EngineContext, id: string, live: string, hold: boolean): boolean {
  const tmp = live + '.tmp';
  fs.rmSync(live + HOLD, { force: true });
  if (hold) {
    fs.closeSync(fs.openSync(tmp, 'a', 0o600));
    fs.linkSync(tmp, live + HOLD);
  }
  try {
    const fd = fs.openSync(path.join(ctx.paths.bundle(id), 'ctl'), fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    try { fs.writeSync(fd, '2 0 0\n'); } finally { fs.closeSync(fd); }
    return true;
  } catch {
    fs.rmSync(live + HOLD, { force: true });
    fs.rmSync(tmp, { force: true });
    return false;
  }
}

export function running(ctx: EngineContext, id: string): boolean {
  const rec = ctx.containers.get(id);
  return !!rec && isActive(observe(ctx, rec));
}

export const lockPath = (ctx: EngineContext, id: string) => path.join(ctx.paths.container(id), 'logs.lock');

/** Runs fn under the log lock, waiting briefly (holders only open or move files); undefined if busy or gone. */
export function withLogLockSync<T>(ctx: EngineContext, id: string, fn: () => T): T | undefined {
  const deadline = Date.now() + 2000;
  let lock: FileLock | undefined;
  try {
    while (!(lock = FileLock.tryAcquire(lockPath(ctx, id)))) {
      if (Date.now() > deadline) return undefined;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
    }
  } catch {
    return undefined; // the container directory is gone
  }
  try { return fn(); } finally { lock.release(); }
}


// ---------- parsing ----------

/** `<time> <stream> <F|P> <content>` (without the newline); undefined for a malformed line. */
export function parseK8sLine(line: Buffer): LogRecord | undefined {
  const a = line.indexOf(0x20);
  const b = a < 0 ? -1 : line.indexOf(0x20, a + 1);
  if (b < 0) return undefined;
  const c = line.indexOf(0x20, b + 1);
  const stream = line.toString('latin1', a + 1, b);
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  const time = line.toString('latin1', 0, a);
  const ns = timestampNs(time);
  if (ns === undefined) return undefined;
  const tag = line.toString('latin1', b + 1, c < 0 ? line.length : c).split(':')[0];
  return { time, ns, stream, partial: tag === 'P', content: c < 0 ? Buffer.alloc(0) : line.subarray(c + 1) };
}

/** A Docker json-file line; a log without a final newline is a partial line. */
export function parseJsonLine(line: Buffer): LogRecord | undefined {
  let j: { log?: unknown; stream?: unknown; time?: unknown };
  try { j = JSON.parse(line.toString('utf8')) as typeof j; } catch { return undefined; }
  if (typeof j.log !== 'string' || (j.stream !== 'stdout' && j.stream !== 'stderr') || typeof j.time !== 'string') return undefined;
  const ns = timestampNs(j.time);
  if (ns === undefined) return undefined;
  const partial = !j.log.endsWith('\n');
  return { time: j.time, ns, stream: j.stream, partial, content: Buffer.from(partial ? j.log : j.log.slice(0, -1)) };
}

/** Podman's `-t` format: nine fraction digits, Z for UTC. */
export function displayTime(time: string): string {
  const m = /^([^.]+?)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/i.exec(time);
  if (!m) return time;
  const zone = m[3] === '+00:00' || m[3] === '-00:00' ? 'Z' : m[3]!.toUpperCase();
  return `${m[1]}.${(m[2] ?? '').padEnd(9, '0').slice(0, 9)}${zone}`;
}

/** Docker's json-file time: UTC with nine fraction digits. */
export function utcTime(ns: bigint): string {
  const sec = ns / 1_000_000_000n;
  return new Date(Number(sec) * 1000).toISOString().slice(0, 19) + '.' + (ns - sec * 1_000_000_000n).toString().padStart(9, '0') + 'Z';
}

/** Splits chunks into complete lines, keeping an unfinished one for the next chunk. */
export class LineSplitter {
  private rest: Buffer | undefined;
  push(chunk: Buffer): Buffer[] {
    const data = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    const lines: Buffer[] = [];
    let start = 0;
    for (let i = data.indexOf(10); i >= 0; i = data.indexOf(10, start)) {
      lines.push(data.subarray(start, i));
      start = i + 1;
    }
    this.rest = start < data.length ? data.subarray(start) : undefined;
    return lines;
  }
  get pending(): number { return this.rest?.length ?? 0; }
}

