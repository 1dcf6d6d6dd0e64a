// Resource limits: the Docker/Podman flag syntaxes (--memory 512m, --cpus 1.5,
// --cpuset-cpus 0-1, …), their validation against the host, and the actions
// that change a container's cgroup later: update, pause and unpause.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { EngineContext } from './context.js';
import type { ContainerRecord, Resources } from './container-types.js';
import { BerthError, conflict, invalidArgument } from './errors.js';
import { parseSize } from './parse.js';
import { withContainerLock } from './intents.js';
import { observe, isActive } from './lifecycle.js';
import { limitResources, parseDevice, resolveDevice } from '../runtime/spec.js';
import { displayState } from './views.js';

/** Limits as the CLI gives them: sizes and CPU counts as text, the rest as integers. */
export interface ResourceArgs {
  memory?: string; memorySwap?: string; memoryReservation?: string; cpus?: string;
  cpuShares?: number; cpuQuota?: number; cpuPeriod?: number; cpusetCpus?: string; cpusetMems?: string;
  pidsLimit?: number; blkioWeight?: number;
}

const MIN_MEMORY = 6 * 1024 * 1024;   // Docker's minimum: the runtime itself needs a few MB

/** Parses each value on its own; `checkResources` then checks them together and against the host. */
export function parseResources(a: ResourceArgs): Resources {
  const r: Resources = {};
  if (a.memory !== undefined) r.memory = size(a.memory, '--memory');
  if (a.memoryReservation !== undefined) r.memoryReservation = size(a.memoryReservation, '--memory-reservation');
  if (a.memorySwap !== undefined) r.memorySwap = a.memorySwap.trim() === '-1' ? -1 : size(a.memorySwap, '--memory-swap');
  if (a.cpus !== undefined) {
    const n = /^\d*\.?\d+$/.test(a.cpus.trim()) ? Number(a.cpus) : NaN;
    if (!(n > 0)) throw invalidArgument(`invalid --cpus "${a.cpus}": give a positive number of CPUs such as 0.5 or 2 (this host has ${hostCpuCount()})`);
    r.nanoCpus = Math.round(n * 1e9);
  }
  if (a.cpuShares !== undefined) {
    if (a.cpuShares !== 0 && (a.cpuShares < 2 || a.cpuShares > 262144)) throw invalidArgument(`invalid --cpu-shares ${a.cpuShares}: use a weight from 2 to 262144 (the default is 1024)`);
    if (a.cpuShares) r.cpuShares = a.cpuShares;
  }
  if (a.cpuQuota !== undefined) {
    if (a.cpuQuota !== -1 && a.cpuQuota !== 0 && a.cpuQuota < 1000) throw invalidArgument(`invalid --cpu-quota ${a.cpuQuota}: the CPU quota must be at least 1000 microseconds (1ms), or -1 for no limit`);
    if (a.cpuQuota) r.cpuQuota = a.cpuQuota;
  }
  if (a.cpuPeriod !== undefined) {
    if (a.cpuPeriod !== 0 && (a.cpuPeriod < 1000 || a.cpuPeriod > 1_000_000)) throw invalidArgument(`invalid --cpu-period ${a.cpuPeriod}: the CPU period must be from 1000 (1ms) to 1000000 (1s) microseconds`);
    if (a.cpuPeriod) r.cpuPeriod = a.cpuPeriod;
  }
  if (a.cpusetCpus !== undefined && a.cpusetCpus !== '') r.cpusetCpus = cpuList(a.cpusetCpus, '--cpuset-cpus').text;
  if (a.cpusetMems !== undefined && a.cpusetMems !== '') r.cpusetMems = cpuList(a.cpusetMems, '--cpuset-mems').text;
  if (a.pidsLimit !== undefined) r.pidsLimit = a.pidsLimit < 0 ? 0 : a.pidsLimit;
  if (a.blkioWeight !== undefined) {
    if (a.blkioWeight !== 0 && (a.blkioWeight < 10 || a.blkioWeight > 1000)) throw invalidArgument(`invalid --blkio-weight ${a.blkioWeight}: use a weight from 10 to 1000`);
    if (a.blkioWeight) r.blkioWeight = a.blkioWeight;
  }
  return r;
}

/** 16777216 → "16MiB" (exact binary units when they fit). */
function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (i < units.length - 1 && n >= 1024 && n % 1024 === 0) { n /= 1024; i++; }
  return `${n}${units[i]}`;
}

function size(s: string, flag: string): number {
  const n = parseSize(s, flag);
  if (n <= 0) throw invalidArgument(`invalid ${flag} "${s}": the size must be positive, e.g. 512m`);
  return n;
}

/** Checks limits together and against the host; fills in Docker's default swap (twice the memory). */
export function checkResources(r: Resources): Resources {
  const out = { ...r };
  if (out.memory !== undefined && out.memory < MIN_MEMORY) throw invalidArgument(`invalid --memory ${bytes(out.memory)}: the minimum memory limit is 6MB`);
  if (out.memorySwap !== undefined && out.memorySwap !== -1) {
    if (!out.memory) throw invalidArgument('--memory-swap needs --memory: the swap limit is memory plus swap, so set the memory limit too');
    if (out.memorySwap < out.memory) throw invalidArgument(`--memory-swap (${bytes(out.memorySwap)}) must be at least --memory (${bytes(out.memory)}): it is the total of memory and swap; use -1 for unlimited swap`);
  }
  if (out.memory && out.memorySwap === undefined) out.memorySwap = out.memory * 2;
  if (out.memory && out.memoryReservation && out.memoryReservation > out.memory) {
    throw invalidArgument(`--memory-reservation (${bytes(out.memoryReservation)}) must not be larger than --memory (${bytes(out.memory)})`);
  }
  if (out.nanoCpus) {
    if (out.cpuQuota || out.cpuPeriod) throw invalidArgument('--cpus cannot be combined with --cpu-quota or --cpu-period: use one or the other');
    const n = hostCpuCount();
    if (out.nanoCpus > n * 1e9) throw invalidArgument(`invalid --cpus ${out.nanoCpus / 1e9}: this host has only ${n} CPUs; give a number from 0.01 to ${n}`);
    if (out.nanoCpus < 1e7) throw invalidArgument(`invalid --cpus ${out.nanoCpus / 1e9}: the minimum is 0.01`);
  }
  if (out.cpusetCpus) checkAvailable(out.cpusetCpus, '/sys/devices/system/cpu/online', '--cpuset-cpus', 'CPUs');
  if (out.cpusetMems) checkAvailable(out.cpusetMems, '/sys/devices/system/node/online', '--cpuset-mems', 'memory nodes');
  return out;
}

/** Checks `--device` specs now (the host device must exist), so a bad one creates nothing. */
export function checkDevices(specs: string[]): void {
  for (const s of specs) resolveDevice(parseDevice(s));
}

export function hostCpuCount(): number {
  try { return cpuList(fs.readFileSync('/sys/devices/system/cpu/online', 'utf8').trim(), 'online CPUs').ids.size; } catch { return os.cpus().length; }
}

/** "0-2,5" → the set {0,1,2,5}, normalized text kept as given. */
function cpuList(text: string, flag: string): { text: string; ids: Set<number> } {
  const t = text.trim();
  const ids = new Set<number>();
  for (const part of t.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    const lo = m ? Number(m[1]) : NaN, hi = m?.[2] !== undefined ? Number(m[2]) : lo;
    if (!m || hi < lo || hi - lo > 65536) throw invalidArgument(`invalid ${flag} "${text}": use a list like 0-3 or 0,2`);
    for (let i = lo; i <= hi; i++) ids.add(i);
  }
  return { text: t, ids };
}

function checkAvailable(list: string, hostFile: string, flag: string, what: string): void {
  let host: Set<number>;
  try { host = cpuList(fs.readFileSync(hostFile, 'utf8').trim(), hostFile).ids; } catch { host = new Set([0]); }
  const missing = [...cpuList(list, flag).ids].filter((i) => !host.has(i));
  if (missing.length) {
    throw invalidArgument(`invalid ${flag} "${list}": ${what} ${ranges(missing)} are not available on this host (it has ${ranges([...host])})`);
  }
}

/** [0,1,2,5] → "0-2,5". */
function ranges(ids: number[]): string {
  const s = [...ids].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < s.length;) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j]! + 1) j++;
    out.push(j > i ? `${s[i]}-${s[j]}` : String(s[i]));
    i = j + 1;
  }
  return out.join(',');
}

/**
 * The limits after `berth update`: given fields replace stored ones. --cpus and
 * --cpu-quota/--cpu-period replace each other; a memory change without
 * --memory-swap keeps the default swap (twice the memory) in step.
 */
export function mergeResources(old: Resources, changes: Resources): Resources {
  const r: Resources = { ...old, ...changes };
  if (changes.nanoCpus) { delete r.cpuQuota; delete r.cpuPeriod; }
  if (changes.cpuQuota || changes.cpuPeriod) delete r.nanoCpus;
  if (changes.memory && changes.memorySwap === undefined && old.memorySwap !== -1) {
    const defaultSwap = !old.memorySwap || (old.memory !== undefined && old.memorySwap === old.memory * 2);
    if (defaultSwap) delete r.memorySwap;
    else if (changes.memory > old.memorySwap!) {
      throw invalidArgument(`the new --memory (${bytes(changes.memory)}) is larger than the memory+swap limit (${bytes(old.memorySwap!)}): give --memory-swap too`);
    }
  }
  return r;
}

// ---------- actions ----------

/** Changes the limits of a container: live through the runtime when it runs, and in its config for later starts. */
export async function updateContainer(ctx: EngineContext, id: string, changes: Resources): Promise<void> {
  await withContainerLock(ctx, id, 'update', async () => {
    const rec = current(ctx, id);
    const resources = checkResources(mergeResources(rec.config.resources, changes));
    if (isActive(rec)) {
      const file = path.join(ctx.paths.bundle(id), 'update.json');
      const live = limitResources(resources);
      // runc treats 0 as "unchanged": ask for "max" explicitly when a limit is lifted.
      if (changes.pidsLimit === 0) live.pids = { limit: -1 };
      fs.writeFileSync(file, JSON.stringify(live));
      try { await ctx.runtime.update(id, file); } finally { fs.rmSync(file, { force: true }); }
    }
    ctx.containers.updateConfig(id, { ...rec.config, resources });
    ctx.events.record('container', 'update', id, rec.config.name, { image: rec.config.imageName });
  });
}

export async function pauseContainer(ctx: EngineContext, id: string): Promise<void> {
  await withContainerLock(ctx, id, 'pause', async () => {
    const rec = current(ctx, id);
    const name = rec.config.name;
    if (rec.state === 'paused') throw conflict(`container ${name} is already paused`);
    if (rec.state !== 'running') throw new BerthError('not-running', `cannot pause container ${name}: it is not running (state ${displayState(rec)}); start it first`);
    await ctx.runtime.pause(id);
    ctx.containers.setState(id, 'paused', rec.status);
    ctx.events.record('container', 'pause', id, name, { image: rec.config.imageName });
  });
}

export async function unpauseContainer(ctx: EngineContext, id: string): Promise<void> {
  await withContainerLock(ctx, id, 'unpause', async () => {
    const rec = current(ctx, id);
    const name = rec.config.name;
    if (rec.state !== 'paused') throw conflict(`cannot unpause container ${name}: it is not paused (state ${displayState(rec)})`);
    await ctx.runtime.resume(id);
    ctx.containers.setState(id, 'running', rec.status);
    ctx.events.record('container', 'unpause', id, name, { image: rec.config.imageName });
  });
}

/** The record as it is now: a container that exited meanwhile reads as stopped. */
function current(ctx: EngineContext, id: string): ContainerRecord {
  const rec = ctx.containers.get(id);
  if (!rec) throw new BerthError('not-found', `no container with ID ${id} found: no such container`);
  return observe(ctx, rec);
}
