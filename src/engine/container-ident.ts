// A container's identity and processes: rename, top, port.
import type { EngineContext } from './context.js';
import { BerthError, conflict, invalidArgument, notFound } from './errors.js';
import { withContainerLock } from './intents.js';
import { isActive, observe } from './lifecycle.js';
import { NAME_RE } from './names.js';
import { cgroupPath, cgroupPids } from '../sys/cgroups.js';
import { run } from '../sys/exec.js';

// ---------- rename ----------

export async function renameContainer(ctx: EngineContext, ref: string, newName: string): Promise<void> {
  const name = newName.replace(/^\//, '');
  if (!NAME_RE.test(name)) throw invalidArgument(`invalid container name "${newName}": names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*`);
  const id = ctx.containers.resolve(ref).config.id;
  await withContainerLock(ctx, id, 'rename', async () => {
    const rec = ctx.containers.get(id);
    if (!rec) throw notFound(`no container with name or ID "${ref}" found: no such container`);
    const old = rec.config.name;
    if (old === name) throw invalidArgument(`container ${old} is already called "${name}"`);
    const taken = () => conflict(`the container name "${name}" is already in use by another container; remove or rename that one first`);
    if (ctx.containers.nameTaken(name)) throw taken();
    try {
      ctx.containers.updateConfig(id, { ...rec.config, name });
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw taken();
      throw e;
    }
    ctx.events.record('container', 'rename', id, name, { oldName: old, image: rec.config.imageName });
  });
}

// ---------- top ----------

export interface TopResult { Titles: string[]; Processes: string[][] }

// Podman's AIX-style descriptors (and their % codes) as ps(1) keywords and headers.
const DESCRIPTORS: Record<string, [string, string]> = {
  user: ['user', 'USER'], huser: ['user', 'HUSER'], ruser: ['ruser', 'RUSER'], group: ['group', 'GROUP'], hgroup: ['group', 'HGROUP'],
  rgroup: ['rgroup', 'RGROUP'], pid: ['pid', 'PID'], hpid: ['pid', 'HPID'], ppid: ['ppid', 'PPID'], pgid: ['pgid', 'PGID'],
  pcpu: ['pcpu', '%CPU'], etime: ['etime', 'ELAPSED'], tty: ['tty', 'TTY'], time: ['time', 'TIME'], args: ['args', 'COMMAND'],
  comm: ['comm', 'COMMAND'], nice: ['nice', 'NI'], vsz: ['vsz', 'VSZ'], state: ['stat', 'STATE'],
  '%C': ['pcpu', '%CPU'], '%G': ['group', 'GROUP'], '%P': ['ppid', 'PPID'], '%U': ['user', 'USER'], '%a': ['args', 'COMMAND'],
  '%c': ['comm', 'COMMAND'], '%g': ['rgroup', 'RGROUP'], '%n': ['nice', 'NI'], '%p': ['pid', 'PID'], '%r': ['pgid', 'PGID'],
  '%t': ['etime', 'ELAPSED'], '%u': ['ruser', 'RUSER'], '%x': ['time', 'TIME'], '%y': ['tty', 'TTY'], '%z': ['vsz', 'VSZ'],
};
const DEFAULT_DESCRIPTORS = ['user', 'pid', 'ppid', 'pcpu', 'etime', 'tty', 'time', 'args'];

/**
 * The container's processes (from its cgroup) as the host's ps(1) shows them.
 * `args` are Podman descriptors (`user pid args`, `pid,comm`) or, when they
 * start with "-", ps options as Docker passes them (`-eo pid,comm`; the output
 * must then have a PID column).
 */
export async function topContainer(ctx: EngineContext, ref: string, args: string[]): Promise<TopResult> {
  const rec = observe(ctx, ctx.containers.resolve(ref));
  const c = rec.config;
  const notRunning = () => new BerthError('not-running', `container ${c.name} is not running: top needs a running container; start it first`);
  if (!isActive(rec)) throw notRunning();
  const pids = cgroupPids(cgroupPath(c.cgroupParent, c.id)).sort((a, b) => a - b);
  if (!pids.length) throw notRunning();
  if (args[0]?.startsWith('-')) return psFiltered(args, pids);
  const words = (args.length ? args : DEFAULT_DESCRIPTORS).flatMap((a) => a.split(/[\s,]+/)).filter(Boolean);
  const opts = words.flatMap((w) => {
    const d = DESCRIPTORS[w];
    if (d) return ['-o', `${d[0]}=${d[1]}`];
    if (!/^[a-z_]+$/.test(w)) throw invalidArgument(`unknown top descriptor "${w}": use ${Object.keys(DESCRIPTORS).filter((k) => !k.startsWith('%')).join(', ')} or a ps(1) keyword`);
    return ['-o', `${w}=${w.toUpperCase()}`];
  });
  const r = await run('ps', ['-ww', ...opts, '-p', pids.join(',')], { allowFailure: true });
  if (r.code !== 0 && !r.stdout.trim()) throw invalidArgument(`ps rejected the descriptors ${words.join(' ')}: ${firstLine(r.stderr)}`);
  return parsePs(r.stdout, words.length);
}

async function psFiltered(args: string[], pids: number[]): Promise<TopResult> {
  const r = await run('ps', args, { allowFailure: true });
  if (r.code !== 0) throw invalidArgument(`ps ${args.join(' ')} failed: ${firstLine(r.stderr)}`);
  const header = r.stdout.split('\n')[0] ?? '';
  const titles = header.trim().split(/\s+/);
  const pidCol = titles.indexOf('PID');
  if (pidCol < 0) throw invalidArgument(`the ps output of "${args.join(' ')}" has no PID column: add pid to the ps options`);
  const all = parsePs(r.stdout, titles.length);
  const want = new Set(pids.map(String));
  return { Titles: all.Titles, Processes: all.Processes.filter((p) => want.has(p[pidCol] ?? '')) };
}

/** Splits ps output into columns; the last column takes the rest of the line (commands have spaces). */
function parsePs(out: string, columns: number): TopResult {
  const lines = out.split('\n').filter((l) => l.trim());
  const split = (l: string) => {
    const f = l.trim().split(/\s+/);
    return f.length > columns ? [...f.slice(0, columns - 1), f.slice(columns - 1).join(' ')] : f;
  };
  return { Titles: lines[0] ? split(lines[0]) : [], Processes: lines.slice(1).map(split) };
}

function firstLine(s: string): string {
  return s.trim().split('\n')[0]?.replace(/^error:\s*/i, '') ?? '';
}

// ---------- port ----------

export interface PortMapping { HostIp: string; HostPort: number; ContainerPort: number; Protocol: string }

/** The container's published ports while it runs (host ports chosen at start). */
export function containerPorts(ctx: EngineContext, ref: string): PortMapping[] {
  const rec = observe(ctx, ctx.containers.resolve(ref));
  if (rec.state !== 'running' && rec.state !== 'paused') return [];
  return (rec.status.network?.ports ?? []).map((p) => ({ HostIp: p.hostIp, HostPort: p.hostPort, ContainerPort: p.containerPort, Protocol: p.proto }));
}
