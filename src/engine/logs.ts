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
import type { EngineContext } from './context.js';
import type { ContainerConfig, ContainerRecord } from './container-types.js';
import { invalidArgument } from './errors.js';
import { parseTimestamp } from './parse.js';
import { logPath, waitForExit } from './lifecycle.js';
import { FileLock } from '../sys/lock.js';
import { CHUNK, LineSplitter, NL, displayTime, jsonLogPath, lockPath, openFile, openK8s, parseJsonLine, parseK8sLine, rotatedFiles, running } from './logs-files.js';
import type { LogOptions, LogRecord, LogSink, Opened, Stream } from './logs-files.js';
import { rotateLogIfNeeded, readState, k8sStarts } from './logs-maintain.js';

export { validateLogConfig, conmonLogSizeMax, jsonLogPath, displayLogPath, parseK8sLine, parseJsonLine, displayTime, LineSplitter } from './logs-files.js';
export type { LogOptions, LogSink, LogRecord } from './logs-files.js';
export { rotateLogIfNeeded, syncJsonLog } from './logs-maintain.js';
export type { MaintainOptions } from './logs-maintain.js';

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

