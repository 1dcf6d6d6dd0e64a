// Health checks (Docker's HEALTHCHECK semantics, Podman's --health-on-failure).
// Podman schedules them with systemd timers and never runs them without systemd;
// Berth runs them from its per-host service (host-service.ts), or on demand with
// `berth healthcheck run`.
import fs from 'node:fs';
import type { EngineContext } from './context.js';
import type { ContainerRecord, HealthConfig, HealthState, HealthResult } from './container-types.js';
import type { ImageRunConfig } from '../image/types.js';
import { BerthError, invalidArgument } from './errors.js';
import { observe, isActive, killContainer, stopContainer } from './lifecycle.js';
import { prepareExec } from './exec.js';
import { newId } from './names.js';
import { parseDuration } from './parse.js';

const LOG_KEEP = 5;
const MAX_OUTPUT = 4096;

export interface HealthFlags {
  cmd?: string; interval?: string; timeout?: string; startPeriod?: string; retries?: number; onFailure?: string; none?: boolean;
}

/** The container's health check from its flags, falling back to the image's HEALTHCHECK. */
export function healthConfig(flags: HealthFlags, image: ImageRunConfig['Healthcheck'] | undefined): HealthConfig | undefined {
  if (flags.none || flags.cmd === 'none') return undefined;
  let test: string[] | undefined;
  if (flags.cmd !== undefined) {
    test = flags.cmd.trim().startsWith('[') ? jsonTest(flags.cmd) : ['CMD-SHELL', flags.cmd];
  } else if (image?.Test?.length && image.Test[0] !== 'NONE') {
    test = image.Test;
  }
  if (!test) return undefined;
  if (test[0] !== 'CMD' && test[0] !== 'CMD-SHELL') throw invalidArgument(`invalid health check test ${JSON.stringify(test)}: it must start with CMD or CMD-SHELL`);
  const ns = (v: number | undefined) => (v ? v / 1e6 : undefined);
  const dur = (v: string | undefined, what: string, fallback: number) => {
    if (v === undefined) return fallback;
    const ms = parseDuration(v, what);
    if (ms < 0 || (ms > 0 && ms < 1)) throw invalidArgument(`${what} "${v}" is too short`);
    return ms;
  };
  const retries = flags.retries ?? image?.Retries ?? 3;
  if (!Number.isInteger(retries) || retries < 1) throw invalidArgument(`invalid --health-retries ${retries}: it must be at least 1`);
  const onFailure = flags.onFailure ?? 'none';
  if (!['none', 'kill', 'restart', 'stop'].includes(onFailure)) throw invalidArgument(`invalid --health-on-failure "${onFailure}": use none, kill, restart or stop`);
  const intervalMs = dur(flags.interval, '--health-interval', ns(image?.Interval) ?? 30_000);
  if (intervalMs === 0) throw invalidArgument('--health-interval must be greater than 0 (use --no-healthcheck to disable health checks)');
  return {
    test, intervalMs, retries, onFailure: onFailure as HealthConfig['onFailure'],
    timeoutMs: dur(flags.timeout, '--health-timeout', ns(image?.Timeout) ?? 30_000),
    startPeriodMs: dur(flags.startPeriod, '--health-start-period', ns(image?.StartPeriod) ?? 0),
  };
}

function jsonTest(s: string): string[] {
  try {
    const v = JSON.parse(s) as unknown;
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v.length && (v[0] === 'CMD' || v[0] === 'CMD-SHELL') ? v : ['CMD', ...v];
  } catch { /* below */ }
  throw invalidArgument(`invalid --health-cmd ${s}: a JSON array of strings or a shell command`);
}

export function initialHealth(): HealthState {
  return { status: 'starting', failingStreak: 0, log: [] };
}

/** Runs the container's health check once, records the result and applies --health-on-failure. */
export async function runHealthcheck(ctx: EngineContext, id: string): Promise<{ state: HealthState; passed: boolean }> {
  const rec = observe(ctx, ctx.containers.resolve(id));
  const hc = rec.config.healthcheck;
  if (!hc) throw new BerthError('invalid-argument', `container ${rec.config.name} has no health check`);
  if (!isActive(rec) || rec.state === 'paused') throw new BerthError('not-running', `container ${rec.config.name} is not running`);
  const start = new Date();
  const result = await probe(ctx, rec, hc);
  const end = new Date();
  const entry: HealthResult = { Start: start.toISOString(), End: end.toISOString(), ExitCode: result.code, Output: result.output };
  // Re-read: a concurrent check or restart may have changed the state meanwhile.
  const now = ctx.containers.get(rec.config.id);
  if (!now || now.status.startedAt !== rec.status.startedAt) return { state: rec.status.health ?? initialHealth(), passed: result.code === 0 };
  const prev = now.status.health ?? initialHealth();
  const inStartPeriod = end.getTime() - Date.parse(now.status.startedAt) < hc.startPeriodMs;
  const next: HealthState = { ...prev, log: [...prev.log, entry].slice(-LOG_KEEP) };
  if (result.code === 0) {
    next.status = 'healthy';
    next.failingStreak = 0;
  } else if (!(inStartPeriod && prev.status === 'starting')) {
    next.failingStreak = prev.failingStreak + 1;
    if (next.failingStreak >= hc.retries) next.status = 'unhealthy';
  }
  ctx.containers.setHealth(rec.config.id, next);
  if (next.status !== prev.status) {
    ctx.events.record('container', 'health_status', rec.config.id, rec.config.name, { health_status: next.status, image: rec.config.imageName });
    if (next.status === 'unhealthy') await onUnhealthy(ctx, rec, hc);
  }
  return { state: next, passed: result.code === 0 };
}

async function probe(ctx: EngineContext, rec: ContainerRecord, hc: HealthConfig): Promise<{ code: number; output: string }> {
  const cmd = hc.test[0] === 'CMD-SHELL' ? ['/bin/sh', '-c', hc.test.slice(1).join(' ')] : hc.test.slice(1);
  const { execDir, specFile } = prepareExec(ctx, rec, newId(), { cmd });
  try {
    const r = await ctx.runtime.execCapture(rec.config.id, specFile, execDir, hc.timeoutMs);
    if (r.timedOut) return { code: -1, output: `Health check exceeded timeout (${hc.timeoutMs / 1000}s)` };
    return { code: r.code, output: r.output.slice(0, MAX_OUTPUT) };
  } catch (e) {
    return { code: -1, output: (e as Error).message };
  } finally {
    fs.rmSync(execDir, { recursive: true, force: true });
  }
}

async function onUnhealthy(ctx: EngineContext, rec: ContainerRecord, hc: HealthConfig): Promise<void> {
  switch (hc.onFailure) {
    case 'kill': await killContainer(ctx, rec.config.id, 'KILL').catch(() => undefined); break;
    case 'stop': await stopContainer(ctx, rec.config.id).catch(() => undefined); break;
    case 'restart': {
      const { restartAfterUnhealthy } = await import('./lifecycle.js');
      await restartAfterUnhealthy(ctx, rec.config.id);
      break;
    }
    default: break;
  }
}
