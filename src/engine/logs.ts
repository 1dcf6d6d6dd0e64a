// Container logs: reading (`berth logs`), size rotation with kept files, and the
// json-file driver.
//
// conmon can only write a k8s-file log (`<RFC3339Nano> <stdout|stderr> <F|P> <content>`,
// P = partial line) to ctr.log, and its own --log-size-max truncates, losing content.
// So Berth does the rest, under a per-container log lock (`logs.lock` beside the log):
// - Rotation (k8s-file): when ctr.log exceeds max-size, ctr.log.1 → .2 …, ctr.log →
//   ctr.log.1 (max-file files in all), then `2 0 0` on conmon's ctl FIFO makes it
//   reopen, i.e. create a fresh ctr.log. Until it does, it keeps writing to ctr.log.1,
//   so nothing is lost. conmon gets a backstop --log-size-max well above max-size.
// - json-file: Berth converts new k8s records of ctr.log to Docker's format in
//   `<id>-json.log` (rotated as above), remembering {inode, byte offset} of what it
//   converted in `<id>-json.log.state`. While the container runs, a converted ctr.log is
//   handed off: renamed to ctr.log.old and reopened by conmon; ctr.log.old is
//   converted to its end and deleted once the new ctr.log exists (conmon closed the old
//   one first). Limit: the json file lags until the next sync (run by `berth logs`,
//   container cleanup and the scheduler); `berth logs` reads the json files plus the
//   unconverted k8s tail, so it shows everything exactly once.
// - Reading takes the lock only to open every file, then reads from the open fds, so
//   a rotation meanwhile changes nothing. `-f` follows k8s files by inode: fs.watch on
//   the container directory wakes it, and it moves to the next file once the one it
//   reads is no longer the live ctr.log; it ends when the exit file says the container
//   stopped (conmon writes it after flushing the log).
// - conmon never resets its --log-size-max counter on reopen, so once per backstop bytes
//   of output it truncates anyway (renames a fresh ctr.log.tmp over ctr.log). Berth keeps
//   a hard link, ctr.log.hold, on the live file (made on ctr.log.tmp before asking for a
//   reopen), so a truncated file survives and becomes the newest rotated one (json-file:
//   is converted). Limit: a second truncation before the next call still loses content.
import fs from 'node:fs';
import path from 'node:path';
import type { EngineContext } from './context.js';
import type { ContainerConfig, ContainerRecord } from './container-types.js';
import { invalidArgument } from './errors.js';
import { parseSize, parseTimestamp, timestampNs } from './parse.js';
import { isActive, logPath, observe, waitForExit } from './lifecycle.js';
import { FileLock } from '../sys/lock.js';
import { writeFileAtomic } from '../sys/fsutil.js';
import { log } from '../sys/log.js';

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

type Stream = 'stdout' | 'stderr';
export interface LogRecord { time: string; ns: bigint; stream: Stream; partial: boolean; content: Buffer }
interface Limits { maxSize: number; maxFile: number }

const CHUNK = 64 * 1024;
const BACKSTOP_MIN = 1024 * 1024;
/** A hard link to conmon's live file: when conmon's backstop truncates (renames a new file over ctr.log), the old one survives here. */
const HOLD = '.hold';
const NL = Buffer.from('\n');

// ---------- options and paths ----------

export function validateLogConfig(driver: string, opts: Record<string, string>): void {
  if (!['k8s-file', 'json-file', 'none'].includes(driver)) throw invalidArgument(`invalid log driver "${driver}": use k8s-file, json-file or none`);
  const keys = Object.keys(opts);
  if (driver === 'none' && keys.length) throw invalidArgument(`log option ${keys[0]} does not apply to --log-driver none: drop it, or use k8s-file or json-file`);
  for (const k of keys) if (k !== 'max-size' && k !== 'max-file') throw invalidArgument(`unknown log option "${k}": use max-size=SIZE or max-file=N`);
  limitsOf(opts);
}

function limitsOf(o: Record<string, string>): Limits {
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
function rotatedFiles(file: string): string[] {
  const base = path.basename(file) + '.';
  let names: string[];
  try { names = fs.readdirSync(path.dirname(file)); } catch { return []; }
  return names.filter((n) => n.startsWith(base) && /^\d+$/.test(n.slice(base.length)))
    .map((n) => Number(n.slice(base.length))).sort((a, b) => b - a).map((n) => `${file}.${n}`);
}

interface Opened { file: string; fd: number; ino: number; size: number }

function openFile(file: string): Opened | undefined {
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
function openK8s(ctx: EngineContext, c: ContainerConfig): Opened[] {
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
function ensureHold(live: string): void {
  try { fs.linkSync(live, live + HOLD); } catch { /* already held, or no live file yet */ }
}

/** Rotated copies shift up (file.1 → file.2 …) keeping `maxFile` files in all, then src → file.1. */
function shift(file: string, maxFile: number, src = file): void {
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
function reopen(ctx: EngineContext, id: string, live: string, hold: boolean): boolean {
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

function running(ctx: EngineContext, id: string): boolean {
  const rec = ctx.containers.get(id);
  return !!rec && isActive(observe(ctx, rec));
}

const lockPath = (ctx: EngineContext, id: string) => path.join(ctx.paths.container(id), 'logs.lock');

/** Runs fn under the log lock, waiting briefly (holders only open or move files); undefined if busy or gone. */
function withLogLockSync<T>(ctx: EngineContext, id: string, fn: () => T): T | undefined {
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

// ---------- rotation ----------

export interface MaintainOptions {
  /** The caller holds the container lock, so no start can race: a stopped container's files may move too. */
  containerLocked?: boolean;
}

/**
 * Rotates the live log when it exceeds max-size (json-file: converts and rotates the
 * json file). Safe to call at any time from any process; returns true if it rotated.
 */
export function rotateLogIfNeeded(ctx: EngineContext, rec: ContainerRecord, opts: MaintainOptions = {}): boolean {
  const c = rec.config;
  if (c.logDriver === 'json-file') return sync(ctx, rec, opts).rotated;
  if (c.logDriver === 'none') return false;
  const lim = limitsOf(c.logOpts);
  if (!lim.maxSize) return false;
  try {
    return withLogLockSync(ctx, c.id, () => {
      const live = logPath(ctx, c.id);
      const files = openK8s(ctx, c);
      let rotated = false;
      try {
        // What conmon's backstop truncated away is the newest rotated file.
        if (files.some((f) => f.file === live + HOLD)) {
          shift(live, lim.maxFile, live + HOLD);
          rotated = true;
        }
        const cur = files.find((f) => f.file === live); // absent until conmon has reopened after a rotation
        const isRunning = running(ctx, c.id);
        // Only a live log rotates: a stopped container keeps its last file whole (and max-file files in total).
        if (cur && cur.size > lim.maxSize && isRunning) {
          fs.rmSync(live + HOLD, { force: true });
          shift(live, lim.maxFile);
          if (isRunning && !reopen(ctx, c.id, live, true) && lim.maxFile > 1) undoRename(live + '.1', live);
          rotated = true;
        }
        ensureHold(live);
      } finally {
        for (const f of files) fs.closeSync(f.fd);
      }
      return rotated;
    }) ?? false;
  } catch (e) {
    log.warn(`rotating the log of ${c.name}: ${(e as Error).message}`);
    return false;
  }
}

function undoRename(from: string, to: string): void {
  try { fs.linkSync(from, to); fs.rmSync(from); } catch { /* conmon made a new one meanwhile */ }
}

// ---------- json-file ----------

interface JsonState { ino: number; offset: number }

function readState(file: string): JsonState {
  try {
    const s = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<JsonState>;
    return { ino: Number(s.ino) || 0, offset: Number(s.offset) || 0 };
  } catch { return { ino: 0, offset: 0 }; }
}

/** Where unconverted content starts in each k8s file: the state's file at its offset; older ones are done (-1). */
function k8sStarts(files: Opened[], state: JsonState): number[] {
  const k = files.findIndex((f) => f.ino === state.ino);
  return files.map((f, i) => (i < k ? -1 : i === k && f.size >= state.offset ? state.offset : 0));
}

/**
 * Converts new k8s records to the json-file log and keeps ctr.log small. Safe to call
 * at any time from any process; returns true if it converted anything.
 */
export function syncJsonLog(ctx: EngineContext, rec: ContainerRecord, opts: MaintainOptions = {}): boolean {
  return sync(ctx, rec, opts).converted;
}

function sync(ctx: EngineContext, rec: ContainerRecord, opts: MaintainOptions): { converted: boolean; rotated: boolean } {
  const c = rec.config;
  const none = { converted: false, rotated: false };
  if (c.logDriver !== 'json-file') return none;
  try {
    return withLogLockSync(ctx, c.id, () => syncLocked(ctx, c, opts)) ?? none;
  } catch (e) {
    log.warn(`converting the log of ${c.name} to json-file: ${(e as Error).message}`);
    return none;
  }
}

function syncLocked(ctx: EngineContext, c: ContainerConfig, opts: MaintainOptions): { converted: boolean; rotated: boolean } {
  const live = logPath(ctx, c.id), oldPath = live + '.old';
  const lim = limitsOf(c.logOpts);
  const stateFile = jsonLogPath(ctx, c.id) + '.state';
  const saveState = (s: JsonState) => writeFileAtomic(stateFile, JSON.stringify(s), { mode: 0o600 });
  const isRunning = running(ctx, c.id);
  const files = openK8s(ctx, c);
  const cur = files.find((f) => f.file === live);
  const starts = k8sStarts(files, readState(stateFile));
  const out = new JsonWriter(jsonLogPath(ctx, c.id), lim);
  try {
    for (const [i, f] of files.entries()) {
      if (f === cur) break;
      if (starts[i]! < 0) { fs.rmSync(f.file, { force: true }); continue; } // converted; a crash came before the removal
      saveState({ ino: f.ino, offset: convert(f.fd, starts[i]!, out) });
      // ctr.log.old is final once conmon has made a new ctr.log (it closes the old one first) or has exited.
      if (f.file === oldPath && !cur && isRunning) return out.result();
      fs.rmSync(f.file, { force: true });
      saveState({ ino: files[i + 1]?.ino ?? 0, offset: 0 });
    }
    if (!cur) return out.result();
    const end = convert(cur.fd, starts[files.length - 1]!, out);
    saveState({ ino: cur.ino, offset: end });
    if (end > 0 && isRunning) {
      fs.rmSync(live + HOLD, { force: true });
      fs.renameSync(live, oldPath);
      if (!reopen(ctx, c.id, live, lim.maxSize > 0)) undoRename(oldPath, live);
    } else if (end > 0 && opts.containerLocked) {
      // Stopped, and no start can race: drop the converted file (unlinked, so readers holding it can still read it).
      saveState({ ino: 0, offset: 0 });
      fs.rmSync(live + HOLD, { force: true });
      fs.rmSync(live, { force: true });
    }
    if (lim.maxSize) ensureHold(live);
    return out.result();
  } finally {
    out.close();
    for (const f of files) fs.closeSync(f.fd);
  }
}

/** Appends k8s records from `start` as json lines; returns the offset after the last complete line. */
function convert(fd: number, start: number, out: JsonWriter): number {
  const split = new LineSplitter();
  let pos = start;
  for (;;) {
    const buf = Buffer.allocUnsafe(CHUNK);
    const n = fs.readSync(fd, buf, 0, CHUNK, pos);
    if (n <= 0) break;
    pos += n;
    for (const line of split.push(buf.subarray(0, n))) {
      const r = parseK8sLine(line);
      if (r) out.add(JSON.stringify({ log: r.content.toString('utf8') + (r.partial ? '' : '\n'), stream: r.stream, time: utcTime(r.ns) }) + '\n');
    }
    out.flush();
  }
  return pos - split.pending;
}

/** Appends to the json log, rotating it before an entry would take it past max-size. */
class JsonWriter {
  private fd: number | undefined;
  private size = 0;
  private buf: Buffer[] = [];
  private bufLen = 0;
  private converted = false;
  private rotated = false;
  constructor(private file: string, private lim: Limits) {}

  add(line: string): void {
    const b = Buffer.from(line);
    if (this.fd === undefined) this.open();
    if (this.lim.maxSize && this.size + this.bufLen > 0 && this.size + this.bufLen + b.length > this.lim.maxSize) {
      this.flush();
      this.close();
      shift(this.file, this.lim.maxFile);
      this.rotated = true;
      this.open();
    }
    this.buf.push(b);
    this.bufLen += b.length;
    this.converted = true;
  }

  flush(): void {
    if (!this.bufLen || this.fd === undefined) return;
    const data = Buffer.concat(this.buf);
    for (let off = 0; off < data.length;) off += fs.writeSync(this.fd, data, off);
    this.size += data.length;
    this.buf = [];
    this.bufLen = 0;
  }

  private open(): void {
    this.fd = fs.openSync(this.file, 'a', 0o600);
    this.size = fs.fstatSync(this.fd).size;
  }

  close(): void {
    if (this.fd === undefined) return;
    this.flush();
    fs.closeSync(this.fd);
    this.fd = undefined;
  }

  result(): { converted: boolean; rotated: boolean } {
    this.close();
    return { converted: this.converted, rotated: this.rotated };
  }
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
function utcTime(ns: bigint): string {
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

// ---------- reading ----------

interface Cursor { fd: number; ino: number; pos: number; end?: number; json: boolean; split: LineSplitter }
interface LogMessage { time: string; ns: bigint; stream: Stream; data: Buffer }
/** k8s inode → an fd we keep open, so its number cannot be reused while we follow. */
type Held = Map<number, number>;

/** Writes a container's logs to `sink`; with `follow`, until the container has stopped. */
export async function readLogs(ctx: EngineContext, rec: ContainerRecord, opts: LogOptions, sink: LogSink): Promise<void> {
  const c = rec.config;
  if (c.logDriver === 'none') {
    throw invalidArgument(`container ${c.name} uses the "none" log driver and keeps no logs: recreate it with --log-driver k8s-file or json-file`);
  }
  const now = BigInt(Date.now()) * 1_000_000n;
  const since = opts.since ? parseTimestamp(opts.since, '--since', now) : undefined;
  const until = opts.until ? parseTimestamp(opts.until, '--until', now) : undefined;
  rotateLogIfNeeded(ctx, rec);
  const follow = !!opts.follow && running(ctx, c.id);
  const lock = await FileLock.acquire(lockPath(ctx, c.id), `the logs of container ${c.name}`);
  let sources: Cursor[];
  try { sources = openSources(ctx, c); } finally { lock.release(); }
  const k8s = sources.filter((s) => !s.json);
  const held: Held = new Map(k8s.map((s) => [s.ino, s.fd]));
  const out = new Emitter(sink, !!opts.timestamps);
  const pipe = new Pipeline(out, since, until, opts.tail !== undefined && opts.tail >= 0 ? opts.tail : undefined);
  try {
    for (const s of sources) await drain(s, pipe, out);
    if (!follow) pipe.flushPartials();
    pipe.endInitial();
    await out.flush();
    if (follow) await followLive(ctx, c, k8s[k8s.length - 1], held, pipe, out, opts.signal);
  } finally {
    for (const s of sources) if (s.json) fs.closeSync(s.fd);
    for (const fd of held.values()) fs.closeSync(fd);
  }
}

/** Every file with content to show, oldest first (taken under the log lock). */
function openSources(ctx: EngineContext, c: ContainerConfig): Cursor[] {
  const cursor = (f: Opened, pos: number, json: boolean, end?: number): Cursor => ({ fd: f.fd, ino: f.ino, pos, end, json, split: new LineSplitter() });
  const k8s = openK8s(ctx, c);
  if (c.logDriver !== 'json-file') return k8s.map((f) => cursor(f, 0, false));
  const jsonFile = jsonLogPath(ctx, c.id);
  const json = [...rotatedFiles(jsonFile), jsonFile].map(openFile).filter((f) => f !== undefined).map((f) => cursor(f, 0, true, f.size));
  const starts = k8sStarts(k8s, readState(jsonFile + '.state'));
  return [...json, ...k8s.map((f, i) => cursor(f, starts[i]! < 0 ? f.size : starts[i]!, false))];
}

/** Reads a cursor to its end (or EOF), feeding complete lines to the pipeline. */
async function drain(s: Cursor, pipe: Pipeline, out: Emitter): Promise<void> {
  for (;;) {
    const want = s.end === undefined ? CHUNK : Math.min(CHUNK, s.end - s.pos);
    if (want <= 0) return;
    const buf = Buffer.allocUnsafe(want);
    const n = fs.readSync(s.fd, buf, 0, want, s.pos);
    if (n <= 0) return;
    s.pos += n;
    for (const line of s.split.push(buf.subarray(0, n))) {
      const r = s.json ? parseJsonLine(line) : parseK8sLine(line);
      if (r) pipe.record(r);
    }
    await out.flush();
  }
}

/** Streams new output until the container has stopped and everything is printed. */
async function followLive(ctx: EngineContext, c: ContainerConfig, cur: Cursor | undefined, held: Held, pipe: Pipeline, out: Emitter, signal?: AbortSignal): Promise<void> {
  let wake = () => {};
  let dirty = true, stopped = false;
  let watcher: fs.FSWatcher | undefined;
  try {
    watcher = fs.watch(ctx.paths.container(c.id), () => { dirty = true; wake(); });
    watcher.on('error', () => { stopped = true; wake(); });
  } catch { stopped = true; }
  const exitWait = new AbortController();
  const abort = () => exitWait.abort();
  signal?.addEventListener('abort', abort);
  if (signal?.aborted) abort();
  void waitForExit(ctx, c.id, exitWait.signal).catch(() => 0).then(() => { stopped = true; wake(); });
  try {
    for (;;) {
      const last = stopped; // conmon flushed the log before writing the exit file: one more pass
      dirty = false;
      cur = await advance(ctx, c, cur, held, pipe, out);
      if (last) break;
      if (!dirty && !stopped) await new Promise<void>((r) => { wake = r; });
    }
    pipe.flushPartials();
    await out.flush();
  } finally {
    watcher?.close();
    signal?.removeEventListener('abort', abort);
    exitWait.abort();
  }
}

/** Reads the current file, then any newer ones (after a rotation or reopen), in order. */
async function advance(ctx: EngineContext, c: ContainerConfig, cur: Cursor | undefined, held: Held, pipe: Pipeline, out: Emitter): Promise<Cursor | undefined> {
  for (;;) {
    if (cur) {
      await drain(cur, pipe, out);
      try { if (fs.statSync(logPath(ctx, c.id)).ino === cur.ino) return cur; } catch { /* no live file right now */ }
    }
    let next: Opened | undefined;
    let lock: FileLock;
    try { lock = await FileLock.acquire(lockPath(ctx, c.id), `the logs of container ${c.name}`); } catch { return cur; }
    try {
      const files = openK8s(ctx, c);
      const present = new Set(files.map((f) => f.ino));
      for (const [ino, fd] of held) if (!present.has(ino) && ino !== cur?.ino) { fs.closeSync(fd); held.delete(ino); }
      next = files.find((f) => !held.has(f.ino));
      for (const f of files) if (f !== next) fs.closeSync(f.fd);
    } finally { lock.release(); }
    if (!next) return cur;
    held.set(next.ino, next.fd);
    if (cur) await drain(cur, pipe, out); // the old file is final now
    cur = { fd: next.fd, ino: next.ino, pos: 0, json: false, split: new LineSplitter() };
  }
}

/** Joins partial lines, applies --since/--until and --tail, and hands lines to the emitter. */
class Pipeline {
  private partial: Record<Stream, LogRecord[]> = { stdout: [], stderr: [] };
  private ring: LogMessage[] | undefined;
  constructor(private out: Emitter, private since?: bigint, private until?: bigint, private tail?: number) {
    if (tail !== undefined) this.ring = [];
  }

  record(r: LogRecord): void {
    const parts = this.partial[r.stream];
    if (r.partial) {
      parts.push({ ...r, content: Buffer.from(r.content) });
      return;
    }
    const data = Buffer.concat([...parts.map((p) => p.content), r.content, NL]);
    parts.length = 0;
    this.message({ time: r.time, ns: r.ns, stream: r.stream, data });
  }

  /** A line still unfinished at the end (e.g. `printf abc`) is shown as it is. */
  flushPartials(): void {
    for (const parts of [this.partial.stdout, this.partial.stderr]) {
      const last = parts[parts.length - 1];
      if (!last) continue;
      this.message({ time: last.time, ns: last.ns, stream: last.stream, data: Buffer.concat(parts.map((p) => p.content)) });
      parts.length = 0;
    }
  }

  /** The existing lines are read: emit the tail, then stream. */
  endInitial(): void {
    const ring = this.ring;
    this.ring = undefined;
    if (ring && this.tail) for (const m of ring.slice(-this.tail)) this.out.add(m);
  }

  private message(m: LogMessage): void {
    if ((this.since !== undefined && m.ns < this.since) || (this.until !== undefined && m.ns >= this.until)) return;
    if (!this.ring) return this.out.add(m);
    if (!this.tail) return;
    this.ring.push(m);
    if (this.ring.length > 2 * this.tail + 1024) this.ring = this.ring.slice(-this.tail);
  }
}

/** Batches consecutive lines of one stream into one sink call, keeping the order. */
class Emitter {
  private runs: { stream: Stream; bufs: Buffer[] }[] = [];
  constructor(private sink: LogSink, private timestamps: boolean) {}

  add(m: LogMessage): void {
    let run = this.runs[this.runs.length - 1];
    if (!run || run.stream !== m.stream) this.runs.push(run = { stream: m.stream, bufs: [] });
    if (this.timestamps) run.bufs.push(Buffer.from(displayTime(m.time) + ' '));
    run.bufs.push(m.data);
  }

  async flush(): Promise<void> {
    const runs = this.runs;
    this.runs = [];
    for (const r of runs) await this.sink[r.stream](Buffer.concat(r.bufs));
  }
}
