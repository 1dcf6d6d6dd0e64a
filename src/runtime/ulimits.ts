// --ulimit parsing (Docker syntax: name=soft[:hard]) and the host's hard limits.
import fs from 'node:fs';
import { invalidArgument } from '../engine/errors.js';
import type { OciRlimit } from './oci.js';

const NAMES: Record<string, string> = {
  core: 'RLIMIT_CORE', cpu: 'RLIMIT_CPU', data: 'RLIMIT_DATA', fsize: 'RLIMIT_FSIZE', locks: 'RLIMIT_LOCKS',
  memlock: 'RLIMIT_MEMLOCK', msgqueue: 'RLIMIT_MSGQUEUE', nice: 'RLIMIT_NICE', nofile: 'RLIMIT_NOFILE',
  nproc: 'RLIMIT_NPROC', rss: 'RLIMIT_RSS', rtprio: 'RLIMIT_RTPRIO', rttime: 'RLIMIT_RTTIME',
  sigpending: 'RLIMIT_SIGPENDING', stack: 'RLIMIT_STACK', as: 'RLIMIT_AS',
};
// Row titles in /proc/self/limits.
const PROC_ROWS: Record<string, string> = {
  'Max open files': 'RLIMIT_NOFILE', 'Max processes': 'RLIMIT_NPROC', 'Max locked memory': 'RLIMIT_MEMLOCK',
  'Max core file size': 'RLIMIT_CORE', 'Max stack size': 'RLIMIT_STACK', 'Max msgqueue size': 'RLIMIT_MSGQUEUE',
  'Max pending signals': 'RLIMIT_SIGPENDING', 'Max file locks': 'RLIMIT_LOCKS', 'Max nice priority': 'RLIMIT_NICE',
  'Max realtime priority': 'RLIMIT_RTPRIO', 'Max cpu time': 'RLIMIT_CPU', 'Max file size': 'RLIMIT_FSIZE',
  'Max data size': 'RLIMIT_DATA', 'Max resident set': 'RLIMIT_RSS', 'Max address space': 'RLIMIT_AS',
  'Max realtime timeout': 'RLIMIT_RTTIME',
};

export function parseUlimit(s: string): OciRlimit {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(s.trim());
  if (!m || !NAMES[m[1]!]) {
    throw invalidArgument(`invalid ulimit "${s}": expected name=soft[:hard] with name one of ${Object.keys(NAMES).join(', ')}`);
  }
  const toNum = (v: string) => (v === '-1' ? Number.MAX_SAFE_INTEGER : Number(v));
  const soft = toNum(m[2]!), hard = m[3] !== undefined ? toNum(m[3]) : soft;
  if (soft > hard) throw invalidArgument(`invalid ulimit "${s}": soft limit ${m[2]} is above the hard limit ${m[3]}`);
  return { type: NAMES[m[1]!]!, soft, hard };
}

let cached: Map<string, number> | undefined;

/** Hard limits of this process: a container cannot get more without CAP_SYS_RESOURCE. */
export function hostHardLimits(): Map<string, number> {
  if (cached) return cached;
  cached = new Map();
  let text = '';
  try { text = fs.readFileSync('/proc/self/limits', 'utf8'); } catch { return cached; }
  for (const line of text.split('\n').slice(1)) {
    const title = line.slice(0, 26).trim();
    const type = PROC_ROWS[title];
    if (!type) continue;
    const cols = line.slice(26).trim().split(/\s+/);
    const hard = cols[1] === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(cols[1]);
    if (Number.isFinite(hard)) cached.set(type, hard);
  }
  return cached;
}
