// Log maintenance: size rotation with kept files, and conversion to the json-file
// driver's format. See logs.ts for the design.
import fs from 'node:fs';
import type { EngineContext } from './context.js';
import type { ContainerConfig, ContainerRecord } from './container-types.js';
import { logPath } from './lifecycle.js';
import { writeFileAtomic } from '../sys/fsutil.js';
import { log } from '../sys/log.js';
import type { Limits, Opened } from './logs-files.js';
import { CHUNK, HOLD, LineSplitter, ensureHold, jsonLogPath, limitsOf, openK8s, parseK8sLine, reopen, running, shift, utcTime, withLogLockSync } from './logs-files.js';

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

export interface JsonState { ino: number; offset: number }

export function readState(file: string): JsonState {
  try {
    const s = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<JsonState>;
    return { ino: Number(s.ino) || 0, offset: Number(s.offset) || 0 };
  } catch { return { ino: 0, offset: 0 }; }
}

/** Where unconverted content starts in each k8s file: the state's file at its offset; older ones are done (-1). */
export function k8sStarts(files: Opened[], state: JsonState): number[] {
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

