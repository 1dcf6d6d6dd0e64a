// cgroup v1 (hybrid) and v2 helpers: find a container's cgroup directories,
// list their processes, remove them.
import fs from 'node:fs';
import path from 'node:path';

const ROOT = '/sys/fs/cgroup';

/** Every directory of cgroup `rel` (e.g. /berth/<id>) across mounted hierarchies. */
export function cgroupDirs(rel: string): string[] {
  const out: string[] = [];
  if (fs.existsSync(path.join(ROOT, 'cgroup.controllers'))) {
    const p = path.join(ROOT, rel);
    return fs.existsSync(p) ? [p] : [];
  }
  let names: string[] = [];
  try { names = fs.readdirSync(ROOT); } catch { return out; }
  for (const n of names) {
    const p = path.join(ROOT, n, rel);
    if (fs.existsSync(p)) out.push(p);
  }
  return out;
}

export function cgroupPids(rel: string): number[] {
  const pids = new Set<number>();
  for (const d of cgroupDirs(rel)) {
    try {
      for (const l of fs.readFileSync(path.join(d, 'cgroup.procs'), 'utf8').split('\n')) if (l) pids.add(Number(l));
    } catch { /* gone */ }
  }
  return [...pids];
}

/** Removes the cgroup (children first) in every hierarchy; false if some still has processes. */
export function removeCgroup(rel: string): boolean {
  let ok = true;
  for (const d of cgroupDirs(rel)) ok = rmdirTree(d) && ok;
  return ok;
}

function rmdirTree(dir: string): boolean {
  let ok = true;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) ok = rmdirTree(path.join(dir, e.name)) && ok;
  }
  try { fs.rmdirSync(dir); } catch { ok = false; }
  return ok;
}

/** A container's cgroup (relative to each hierarchy's root): `<parent>/<id>`. */
export function cgroupPath(parent: string, id: string): string {
  return `${parent.replace(/\/$/, '')}/${id}`;
}

let swapCache: boolean | undefined;
/** Whether the kernel accounts swap per cgroup (memsw files in v1, memory.swap.max in v2). */
export function swapAccounting(): boolean {
  if (swapCache === undefined) {
    swapCache = fs.existsSync(path.join(ROOT, 'cgroup.controllers'))
      ? fs.readdirSync(ROOT).some((d) => fs.existsSync(path.join(ROOT, d, 'memory.swap.max')))
      : fs.existsSync(path.join(ROOT, 'memory', 'memory.memsw.limit_in_bytes'));
  }
  return swapCache;
}
