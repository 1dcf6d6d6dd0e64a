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
  // Written under a temporary name and renamed: a reader never sees half an intent.
  const tmp = path.join(d, `.${id}.${process.pid}`);
  try {
    fs.writeFileSync(tmp, JSON.stringify(intent));
  } catch {
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(tmp, JSON.stringify(intent));
  }
  fs.renameSync(tmp, path.join(d, id));
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
    if (id.startsWith('.')) continue;
    let intent: Intent;
    try { intent = JSON.parse(fs.readFileSync(path.join(dir(ctx), id), 'utf8')) as Intent; } catch { continue; } // gone meanwhile
    const alive = pidAlive(intent.pid) && pidStartTime(intent.pid) === intent.start;
    if (!alive) out.push({ id, intent });
  }
  return out;
}

// Repairs a container whose previous operation was interrupted (set by recovery.ts;
// a hook because recovery itself takes container locks through this module).
let repairHook: ((ctx: EngineContext, id: string) => Promise<unknown>) | undefined;
export function setRepairHook(fn: (ctx: EngineContext, id: string) => Promise<unknown>): void {
  repairHook = fn;
}

/**
 * Runs `fn` holding the container's lock, with an intent recorded for crash recovery.
 * An intent already there when we get the lock was left by a process that died
 * mid-operation: the container is repaired first, so `fn` always starts from a consistent state.
 */
export async function withContainerLock<T>(ctx: EngineContext, id: string, op: string, fn: () => Promise<T>): Promise<T> {
  let lock: FileLock;
  try {
    lock = await FileLock.acquire(ctx.paths.containerLock(id), `container ${id.slice(0, 12)}`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'SQLITE_CANTOPEN') throw e;
    fs.mkdirSync(ctx.paths.locks, { recursive: true });
    lock = await FileLock.acquire(ctx.paths.containerLock(id), `container ${id.slice(0, 12)}`);
  }
  try {
    if (repairHook && fs.existsSync(path.join(dir(ctx), id))) {
      writeIntent(ctx, id, `repair-before-${op}`);
      await repairHook(ctx, id);
    }
    writeIntent(ctx, id, op);
    return await fn();
  } finally {
    clearIntent(ctx, id);
    lock.release();
  }
}

export function removeLockFile(ctx: EngineContext, id: string): void {
  fs.rmSync(ctx.paths.containerLock(id), { force: true });
}
