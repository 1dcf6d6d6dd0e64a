// A journal of in-flight lifecycle operations. Each locked operation on a
// container leaves runroot/intents/<id> while it runs; if the berth process is
// killed, the file stays behind with a dead pid and the next command repairs
// that container (see recovery.ts).
import fs from 'node:fs';
import path from 'node:path';
import type { EngineContext } from './context.js';
import { FileLock } from '../sys/lock.js';
import { pidAlive, pidStartTime } from '../sys/fsutil.js';

export interface Intent { pid: number; start: number; op: string }

const dir = (ctx: EngineContext) => path.join(ctx.cfg.runroot, 'intents');

export function writeIntent(ctx: EngineContext, id: string, op: string): void {
  const d = dir(ctx);
  const intent: Intent = { pid: process.pid, start: pidStartTime(process.pid) ?? 0, op };
  try {
    fs.writeFileSync(path.join(d, id), JSON.stringify(intent));
  } catch {
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(d, id), JSON.stringify(intent));
  }
}

export function clearIntent(ctx: EngineContext, id: string): void {
  fs.rmSync(path.join(dir(ctx), id), { force: true });
}

/** Intents whose process is gone: operations that were interrupted. */
export function abandonedIntents(ctx: EngineContext): { id: string; intent: Intent }[] {
  let names: string[];
  try { names = fs.readdirSync(dir(ctx)); } catch { return []; }
  const out: { id: string; intent: Intent }[] = [];
  for (const id of names) {
    let intent: Intent;
    try { intent = JSON.parse(fs.readFileSync(path.join(dir(ctx), id), 'utf8')) as Intent; } catch { intent = { pid: 0, start: 0, op: 'unknown' }; }
    const alive = pidAlive(intent.pid) && pidStartTime(intent.pid) === intent.start;
    if (!alive) out.push({ id, intent });
  }
  return out;
}

/** Runs `fn` holding the container's lock, with an intent recorded for crash recovery. */
export async function withContainerLock<T>(ctx: EngineContext, id: string, op: string, fn: () => Promise<T>): Promise<T> {
  let lock: FileLock;
  try {
    lock = await FileLock.acquire(ctx.paths.containerLock(id), `container ${id.slice(0, 12)}`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'SQLITE_CANTOPEN') throw e;
    fs.mkdirSync(ctx.paths.locks, { recursive: true });
    lock = await FileLock.acquire(ctx.paths.containerLock(id), `container ${id.slice(0, 12)}`);
  }
  writeIntent(ctx, id, op);
  try {
    return await fn();
  } finally {
    clearIntent(ctx, id);
    lock.release();
  }
}

export function removeLockFile(ctx: EngineContext, id: string): void {
  fs.rmSync(ctx.paths.containerLock(id), { force: true });
}
