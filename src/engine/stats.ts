// Live resource usage of containers (`berth stats`), read from their cgroups
// and network namespaces: CPU % from cpu-time deltas between two readings
// (relative to the host's total CPU time, as Docker computes it), memory,
// network and block I/O, and the number of processes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ContainerRecord } from './container-types.js';
import { cgroupPath } from '../sys/cgroups.js';
import { readTextOr } from '../sys/fsutil.js';

const ROOT = '/sys/fs/cgroup';
const NS_PER_TICK = 1e9 / 100;   // /proc/stat counts USER_HZ ticks (100 on Linux)

/** One reading of a container's counters (cumulative values). */
export interface StatsSample {
  cpuNs: number;          // CPU time used by the container
  systemNs: number;       // CPU time of the whole host (all CPUs)
  memUsage: number;
  memLimit: number;
  netRx: number; netTx: number;
  blockRead: number; blockWrite: number;
  pids: number;
}

/** What `stats` shows for a container. */
export interface ContainerStats {
  id: string;
  name: string;
  cpuPercent: number;
  cpuNs: number;
  memUsage: number;
  memLimit: number;
  memPercent: number;
  netInput: number; netOutput: number;
  blockInput: number; blockOutput: number;
  pids: number;
  /** Raw counters for the Docker API's cpu_stats/precpu_stats (host CPU time; the previous reading). */
  systemNs?: number;
  prevCpuNs?: number;
  prevSystemNs?: number;
}

const isV2 = () => fs.existsSync(path.join(ROOT, 'cgroup.controllers'));

function num(text: string): number {
  const n = Number(text.trim());
  return Number.isFinite(n) ? n : 0;
}

/** `key value` lines (memory.stat, cpu.stat) as a map. */
function keyed(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [k, v] = line.split(' ');
    if (k && v !== undefined) m.set(k, Number(v));
  }
  return m;
}

/** Total CPU time of the host in ns, from the first line of /proc/stat (as Docker sums it). */
function hostCpuNs(): number {
  const line = readTextOr('/proc/stat').split('\n')[0] ?? '';
  const fields = line.trim().split(/\s+/).slice(1, 9).map(Number);
  return fields.reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0) * NS_PER_TICK;
}

/** rx/tx bytes of every interface but lo in the network namespace of `pid`. */
function netBytes(pid: number): { rx: number; tx: number } {
  let rx = 0, tx = 0;
  if (!pid) return { rx, tx };
  for (const line of readTextOr(`/proc/${pid}/net/dev`).split('\n').slice(2)) {
    const i = line.indexOf(':');
    if (i < 0 || line.slice(0, i).trim() === 'lo') continue;
    const f = line.slice(i + 1).trim().split(/\s+/).map(Number);
    rx += f[0] ?? 0;
    tx += f[8] ?? 0;
  }
  return { rx, tx };
}

/** Reads the counters of a container's cgroup `rel` (e.g. /berth/<id>) and of its init process. */
export function sampleCgroup(rel: string, pid: number): StatsSample {
  const hostMem = os.totalmem();
  const net = netBytes(pid);
  const s: StatsSample = { cpuNs: 0, systemNs: hostCpuNs(), memUsage: 0, memLimit: hostMem, netRx: net.rx, netTx: net.tx, blockRead: 0, blockWrite: 0, pids: 0 };
  if (isV2()) {
    const d = path.join(ROOT, rel);
    s.cpuNs = (keyed(readTextOr(path.join(d, 'cpu.stat'))).get('usage_usec') ?? 0) * 1000;
    const inactive = keyed(readTextOr(path.join(d, 'memory.stat'))).get('inactive_file') ?? 0;
    s.memUsage = Math.max(0, num(readTextOr(path.join(d, 'memory.current'))) - inactive);
    const max = readTextOr(path.join(d, 'memory.max')).trim();
    if (max && max !== 'max') s.memLimit = Math.min(Number(max), hostMem);
    s.pids = num(readTextOr(path.join(d, 'pids.current')));
    for (const line of readTextOr(path.join(d, 'io.stat')).split('\n')) {
      s.blockRead += Number(/\brbytes=(\d+)/.exec(line)?.[1] ?? 0);
      s.blockWrite += Number(/\bwbytes=(\d+)/.exec(line)?.[1] ?? 0);
    }
    return s;
  }
  const dir = (ctrl: string) => path.join(ROOT, ctrl, rel);
  s.cpuNs = num(readTextOr(path.join(dir('cpuacct'), 'cpuacct.usage')));
  // Like Docker: usage without the page cache that could be dropped at once.
  const inactive = keyed(readTextOr(path.join(dir('memory'), 'memory.stat'))).get('total_inactive_file') ?? 0;
  s.memUsage = Math.max(0, num(readTextOr(path.join(dir('memory'), 'memory.usage_in_bytes'))) - inactive);
  const limit = num(readTextOr(path.join(dir('memory'), 'memory.limit_in_bytes')));
  if (limit > 0) s.memLimit = Math.min(limit, hostMem);
  s.pids = num(readTextOr(path.join(dir('pids'), 'pids.current')));
  for (const line of readTextOr(path.join(dir('blkio'), 'blkio.throttle.io_service_bytes_recursive')).split('\n')) {
    const [, op, v] = line.split(' ');
    if (op === 'Read') s.blockRead += Number(v);
    else if (op === 'Write') s.blockWrite += Number(v);
  }
  return s;
}

export function cgroupOf(rec: ContainerRecord): string {
  return cgroupPath(rec.config.cgroupParent, rec.config.id);
}

export function sampleContainer(rec: ContainerRecord): StatsSample {
  return sampleCgroup(cgroupOf(rec), rec.status.pid);
}

/** Stats from the latest sample and the one before it (no previous sample: 0% CPU). */
export function computeStats(rec: ContainerRecord, cur: StatsSample | undefined, prev: StatsSample | undefined): ContainerStats {
  const st: ContainerStats = {
    id: rec.config.id, name: rec.config.name, cpuPercent: 0, cpuNs: 0, memUsage: 0, memLimit: 0, memPercent: 0,
    netInput: 0, netOutput: 0, blockInput: 0, blockOutput: 0, pids: 0,
  };
  if (!cur) return st;
  if (prev) {
    const cpuDelta = cur.cpuNs - prev.cpuNs, sysDelta = cur.systemNs - prev.systemNs;
    if (cpuDelta > 0 && sysDelta > 0) st.cpuPercent = (cpuDelta / sysDelta) * onlineCpus() * 100;
  }
  st.cpuNs = cur.cpuNs;
  st.memUsage = cur.memUsage;
  st.memLimit = cur.memLimit;
  st.memPercent = cur.memLimit > 0 ? (cur.memUsage / cur.memLimit) * 100 : 0;
  st.netInput = cur.netRx; st.netOutput = cur.netTx;
  st.blockInput = cur.blockRead; st.blockOutput = cur.blockWrite;
  st.pids = cur.pids;
  st.systemNs = cur.systemNs;
  if (prev) { st.prevCpuNs = prev.cpuNs; st.prevSystemNs = prev.systemNs; }
  return st;
}

function onlineCpus(): number {
  return os.availableParallelism?.() ?? os.cpus().length;
}

export interface StatsStreamOptions {
  /** Containers to show on each round. */
  select(): ContainerRecord[];
  /** End the stream once no container is selected (the named ones all stopped). */
  endWhenEmpty: boolean;
  /** Which of them are running (others show zeros). */
  isLive(rec: ContainerRecord): boolean;
  /** Time between the two readings of the first round, and between later rounds. */
  firstMs: number;
  intervalMs: number;
}

/** Yields stats for the selected containers: first after `firstMs`, then every `intervalMs`. */
export async function* streamStats(o: StatsStreamOptions): AsyncGenerator<ContainerStats[]> {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  let prev = new Map<string, StatsSample>();
  let recs = o.select();
  for (const r of recs) if (o.isLive(r)) prev.set(r.config.id, sampleContainer(r));
  await sleep(o.firstMs);
  for (;;) {
    recs = o.select();
    if (!recs.length && o.endWhenEmpty) return;
    const next = new Map<string, StatsSample>();
    const out = recs.map((r) => {
      const cur = o.isLive(r) ? sampleContainer(r) : undefined;
      if (cur) next.set(r.config.id, cur);
      return computeStats(r, cur, prev.get(r.config.id));
    });
    prev = next;
    yield out;
    await sleep(o.intervalMs);
  }
}
