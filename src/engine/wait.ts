// Waiting for a container to reach a condition (Podman's `wait --condition` and
// Docker's wait conditions: not-running, next-exit, removed).
import type { EngineContext } from './context.js';
import { observe, waitForExit, isActive } from './lifecycle.js';
import { displayState } from './views.js';
import { BerthError, invalidArgument, notFound } from './errors.js';

export const WAIT_CONDITIONS = ['stopped', 'exited', 'not-running', 'next-exit', 'running', 'created', 'paused', 'removed', 'healthy', 'unhealthy'];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Ends a polling wait whose caller went away (`signal`: the Docker API's client disconnected). */
function checkAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new BerthError('internal', 'wait aborted');
}

/**
 * The exit code once the container has exited and its exit has been handled (by
 * conmon's exit command or an attached berth): recorded, its "died" event written,
 * --rm or the restart policy applied. As with Docker, whoever waits and then looks
 * sees it all. Bounded, in case nobody is left to handle it (conmon killed).
 */
async function exitProcessed(ctx: EngineContext, id: string, signal?: AbortSignal): Promise<number> {
  const startedAt = ctx.containers.get(id)?.status.startedAt;
  const code = await waitForExit(ctx, id, signal);
  for (let waited = 0; waited < HANDLED_WITHIN_MS; waited += 10) {
    const rec = ctx.containers.get(id);
    if (!rec || rec.status.startedAt !== startedAt || !UNHANDLED.has(rec.state)) break;
    checkAborted(signal);
    await sleep(10);
  }
  return code;
}

const HANDLED_WITHIN_MS = 5000;
/** Record states that mean the exit has not been handled yet. */
const UNHANDLED = new Set(['running', 'paused', 'stopped']);

/** Resolves with the container's exit code (or 0/-1 for conditions without one) once `condition` holds. */
export async function waitForCondition(ctx: EngineContext, id: string, condition: string, signal?: AbortSignal): Promise<number> {
  if (!WAIT_CONDITIONS.includes(condition)) {
    throw invalidArgument(`invalid wait condition "${condition}": use ${WAIT_CONDITIONS.join(', ')}`);
  }
  if (condition === 'stopped' || condition === 'exited' || condition === 'not-running') return exitProcessed(ctx, id, signal);
  if (condition === 'next-exit') {
    // The next exit from now: if it is not running, wait for it to start first.
    for (;;) {
      const rec = ctx.containers.get(id);
      if (!rec) throw notFound(`container ${id.slice(0, 12)} was removed while waiting`);
      if (isActive(observe(ctx, rec))) return exitProcessed(ctx, id, signal);
      checkAborted(signal);
      await sleep(100);
    }
  }
  for (;;) {
    const raw = ctx.containers.get(id);
    if (!raw) {
      if (condition === 'removed') return 0;
      throw notFound(`container ${id.slice(0, 12)} was removed while waiting for "${condition}"`);
    }
    const rec = observe(ctx, raw);
    const health = rec.status.health?.status;
    const met = condition === 'healthy' || condition === 'unhealthy' ? health === condition : displayState(rec) === condition;
    if (met) return rec.status.exitCode;
    checkAborted(signal);
    await sleep(100);
  }
}
