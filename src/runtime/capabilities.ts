// Linux capabilities: names, Docker's default set, and the --cap-add/--cap-drop
// arithmetic (same outcome as `docker run`). Names are always returned in the
// kernel's CAP_ form, ordered by capability number.
import { readFileSync } from 'node:fs';

import { BerthError } from '../engine/errors.js';

/** Every capability of Linux 5.9+, index = capability number (capabilities(7)). */
export const ALL_CAPABILITIES: readonly string[] = Object.freeze([
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER',
  'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID',
  'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER',
  'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD',
  'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
]);

const CAP_NUMBER: ReadonlyMap<string, number> = new Map(ALL_CAPABILITIES.map((c, i) => [c, i]));

/** The set a container gets when no --cap-add/--cap-drop/--privileged is given (Docker's). */
export const DEFAULT_CAPABILITIES: readonly string[] = Object.freeze(byNumber([
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD',
  'CAP_NET_RAW', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
]));

/**
 * 'net_admin', 'NET_ADMIN', 'cap_net_admin' → 'CAP_NET_ADMIN'; 'all' → 'ALL'.
 * Throws invalid-argument for a name the kernel does not define.
 */
export function normalizeCapability(name: string): string {
  const upper = name.trim().toUpperCase();
  if (upper === 'ALL') return 'ALL';
  const full = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if (!CAP_NUMBER.has(full)) {
    throw new BerthError('invalid-argument', `unknown capability "${name}": see capabilities(7) for valid names`);
  }
  return full;
}

export interface CapabilityOptions {
  add?: string[];
  drop?: string[];
  privileged?: boolean;
}

/**
 * The effective capability list of a container, with Docker's rules:
 * - privileged: every capability;
 * - --cap-add ALL: every capability except the dropped ones;
 * - --cap-drop ALL: only the added ones;
 * - otherwise the default set minus drops plus adds (an add beats a drop of the same cap).
 */
export function resolveCapabilities(opts: CapabilityOptions): string[] {
  if (opts.privileged) return [...ALL_CAPABILITIES];
  const add = (opts.add ?? []).map(normalizeCapability);
  const drop = (opts.drop ?? []).map(normalizeCapability);
  const dropped = new Set(drop);
  let caps: string[];
  if (add.includes('ALL')) {
    caps = ALL_CAPABILITIES.filter((c) => !dropped.has(c));
  } else if (dropped.has('ALL')) {
    caps = add;
  } else {
    caps = [...DEFAULT_CAPABILITIES.filter((c) => !dropped.has(c)), ...add];
  }
  return byNumber(caps);
}

/** Deduplicated, in capability-number order; 'ALL' and unknown names are left out. */
function byNumber(caps: Iterable<string>): string[] {
  const nums = new Set<number>();
  for (const c of caps) {
    const n = CAP_NUMBER.get(c);
    if (n !== undefined) nums.add(n);
  }
  return [...nums].sort((a, b) => a - b).map((n) => ALL_CAPABILITIES[n]);
}

let hostBounding: Set<string> | undefined;

/** Capabilities this process may hand out (its bounding set): root here may lack some (e.g. CAP_SYS_RESOURCE). */
export function hostCapabilities(): Set<string> {
  if (hostBounding) return hostBounding;
  let mask = -1n;
  try {
    const m = /CapBnd:\s*([0-9a-f]+)/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) mask = BigInt('0x' + m[1]);
  } catch { /* not Linux: assume all */ }
  hostBounding = new Set(ALL_CAPABILITIES.filter((_c, i) => mask < 0n || (mask >> BigInt(i)) & 1n));
  return hostBounding;
}

/**
 * The capabilities a container gets on this host: --privileged and `--cap-add ALL`
 * mean "all the host has"; an explicit --cap-add of one the host lacks is an error.
 */
export function containerCapabilities(opts: CapabilityOptions): string[] {
  const host = hostCapabilities();
  const wanted = resolveCapabilities(opts);
  const explicit = new Set((opts.add ?? []).map(normalizeCapability));
  for (const c of wanted) {
    if (!host.has(c) && explicit.has(c)) {
      throw new BerthError('invalid-argument', `capability ${c} cannot be added: this host's berth process does not hold it`);
    }
  }
  return wanted.filter((c) => host.has(c));
}
