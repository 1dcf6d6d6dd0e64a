// Garbage collection of blobs and unpacked layers no image refers to.
// Writers in flight pin what they ingest (runroot/pins/<pid>.<operation>), so a
// concurrent load or pull never loses a blob it has written but not yet recorded.
// Pins belong to one operation (withPins), not the process: in `berth serve` one
// pull finishing must not unpin another that still runs.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { EngineContext } from '../engine/context.js';
import { pidAlive } from '../sys/fsutil.js';

const pinDir = (ctx: EngineContext) => path.join(ctx.cfg.runroot, 'pins');
const operation = new AsyncLocalStorage<{ file: string }>();

function pinFile(ctx: EngineContext): string {
  return operation.getStore()?.file ?? path.join(pinDir(ctx), String(process.pid));
}

/** Runs an image-writing operation with pins of its own, released when it ends. */
export async function withPins<T>(ctx: EngineContext, fn: () => Promise<T>): Promise<T> {
  const file = path.join(pinDir(ctx), `${process.pid}.${randomBytes(6).toString('hex')}`);
  try {
    return await operation.run({ file }, fn);
  } finally {
    fs.rmSync(file, { force: true });
  }
}

/** Protects digests (sha256:…) and chain IDs from GC until the operation ends (or this process dies). */
export function pin(ctx: EngineContext, ...keys: string[]): void {
  const file = pinFile(ctx);
  try {
    fs.appendFileSync(file, keys.join('\n') + '\n');
  } catch {
    fs.mkdirSync(pinDir(ctx), { recursive: true });
    fs.appendFileSync(file, keys.join('\n') + '\n');
  }
}


function livePins(ctx: EngineContext): Set<string> {
  const set = new Set<string>();
  let names: string[] = [];
  try { names = fs.readdirSync(pinDir(ctx)); } catch { return set; }
  for (const n of names) {
    const file = path.join(pinDir(ctx), n);
    const pid = Number(n.split('.')[0]);
    if (pid !== process.pid && !pidAlive(pid)) { fs.rmSync(file, { force: true }); continue; }
    for (const k of fs.readFileSync(file, 'utf8').split('\n')) if (k) set.add(k);
  }
  return set;
}

export interface GcResult { blobs: number; layers: number; bytes: number }

export function collectGarbage(ctx: EngineContext): GcResult {
  // What exists is listed before what is kept is read: a writer pins a blob just
  // before it appears, so a blob seen here is either pinned or recorded below.
  const blobs = ctx.content.list();
  const recordedLayers = ctx.images.allLayers();
  let dirs: string[] = [];
  try { dirs = fs.readdirSync(ctx.paths.layers); } catch { /* no layers yet */ }
  const keep = livePins(ctx);
  const keepLayers = new Set<string>();
  for (const { record } of ctx.images.list()) {
    keep.add(record.manifestDigest);
    keep.add(record.configDigest);
    for (const l of record.layers) { keep.add(l.digest); keepLayers.add(l.chainId); }
  }
  const res: GcResult = { blobs: 0, layers: 0, bytes: 0 };
  for (const d of blobs) {
    if (keep.has(d)) continue;
    try { res.bytes += ctx.content.size(d); } catch { /* already gone */ }
    ctx.content.delete(d);
    res.blobs++;
  }
  for (const chain of recordedLayers) {
    if (keepLayers.has(chain) || keep.has(chain)) continue;
    res.bytes += ctx.images.layerSize(chain);
    ctx.layers.remove(chain);
    res.layers++;
  }
  // Directories unpacked by a process that died before recording them.
  for (const n of dirs) {
    if (/^[a-f0-9]{64}$/.test(n) && !keepLayers.has(n) && !keep.has(n) && !ctx.images.hasLayer(n)) {
      ctx.layers.remove(n);
      res.layers++;
    }
  }
  ctx.layers.sweep();
  ctx.content.sweepIngest(pidAlive);
  return res;
}
