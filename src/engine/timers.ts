// The per-host timer service: one small background berth process that runs what
// must happen on a clock while containers run: health checks, log rotation and
// json-file log conversion. Podman delegates this to systemd timers, so without systemd its
// health checks never run; a monitor per container would cost a Node process
// (~40 MB) each. One process per host, started on demand by the first container
// that needs it and exiting once none does, costs one process in total.
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import type { EngineContext } from './context.js';
import type { ContainerConfig, ContainerRecord } from './container-types.js';
import { FileLock } from '../sys/lock.js';
import { pidAlive, pidStartTime } from '../sys/fsutil.js';
import { observe } from './lifecycle.js';
import { runHealthcheck } from './health.js';
import { rotateLogIfNeeded, syncJsonLog } from './logs.js';
import { log } from '../sys/log.js';
import { messageOf } from './errors.js';

const IDLE_EXIT_MS = 15_000;
const MAX_TICK_MS = 1000;

/** Log maintenance: size rotation, and conversion for the json-file driver. */
function needsLogMaintenance(c: ContainerConfig): boolean {
  return c.logDriver === 'json-file' || c.logOpts['max-size'] !== undefined;
}

function maintainLog(ctx: EngineContext, rec: ContainerRecord): void {
  if (rec.config.logDriver === 'json-file') syncJsonLog(ctx, rec);
  else rotateLogIfNeeded(ctx, rec);
}

export function needsTimers(c: ContainerConfig): boolean {
  return !!c.healthcheck || needsLogMaintenance(c);
}

const pidFile = (ctx: EngineContext) => path.join(ctx.cfg.runroot, 'timers.pid');

/** Starts the timer service unless one is already running for this run root. */
export function ensureTimerService(ctx: EngineContext): void {
  try {
    const [pid, start] = fs.readFileSync(pidFile(ctx), 'utf8').trim().split(' ').map(Number);
    if (pid && pidAlive(pid) && pidStartTime(pid) === start) return;
  } catch { /* none yet */ }
  const args = [...process.execArgv, process.argv[1] ?? '', '--root', ctx.cfg.root, '--runroot', ctx.cfg.runroot, '--log-level', ctx.cfg.logLevel];
  if (ctx.cfg.configFile) args.push('--config', ctx.cfg.configFile);
  const child = spawn(process.execPath, [...args, 'system', 'timers'], { detached: true, stdio: 'ignore', env: process.env });
  child.unref();
}

/** The service loop (`berth system timers`). Returns when no running container needs it for a while. */
export async function runTimerService(ctx: EngineContext): Promise<void> {
  fs.mkdirSync(ctx.paths.locks, { recursive: true });
  const lock = FileLock.tryAcquire(path.join(ctx.paths.locks, 'timers'));
  if (!lock) return; // another instance serves this run root
  fs.writeFileSync(pidFile(ctx), `${process.pid} ${pidStartTime(process.pid)}\n`);
  const nextCheck = new Map<string, { startedAt: string; due: number }>();
  const inFlight = new Set<string>();
  let idleSince = Date.now();
  try {
    for (;;) {
      const now = Date.now();
      const recs = ctx.containers.list().map((r) => observe(ctx, r)).filter((r) => r.state === 'running' && needsTimers(r.config));
      if (recs.length) idleSince = now;
      else if (now - idleSince > IDLE_EXIT_MS) return;
      let wake = now + MAX_TICK_MS;
      for (const rec of recs) {
        const id = rec.config.id;
        const hc = rec.config.healthcheck;
        if (hc) {
          let slot = nextCheck.get(id);
          if (!slot || slot.startedAt !== rec.status.startedAt) {
            slot = { startedAt: rec.status.startedAt, due: Date.parse(rec.status.startedAt) + hc.intervalMs };
            nextCheck.set(id, slot);
          }
          if (now >= slot.due && !inFlight.has(id)) {
            slot.due = now + hc.intervalMs;
            inFlight.add(id);
            runHealthcheck(ctx, id)
              .catch((e) => log.debug(`health check of ${id.slice(0, 12)}: ${messageOf(e)}`))
              .finally(() => inFlight.delete(id));
          }
          wake = Math.min(wake, slot.due);
        }
        if (needsLogMaintenance(rec.config)) {
          try { maintainLog(ctx, rec); } catch (e) { log.debug(`log maintenance of ${id.slice(0, 12)}: ${messageOf(e)}`); }
        }
      }
      for (const id of nextCheck.keys()) if (!recs.some((r) => r.config.id === id)) nextCheck.delete(id);
      await new Promise((r) => setTimeout(r, Math.max(20, wake - Date.now())));
    }
  } finally {
    while (inFlight.size) await new Promise((r) => setTimeout(r, 50));
    fs.rmSync(pidFile(ctx), { force: true });
    lock.release();
  }
}
