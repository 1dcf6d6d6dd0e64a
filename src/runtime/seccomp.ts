// The default seccomp filter, as an OCI runtime-spec `linux.seccomp` object.
// Semantics follow Docker's default profile: refuse with EPERM unless allowed,
// a large allowlist of ordinary calls, more calls unlocked by capabilities, and
// argument checks on clone, clone3, personality and socket. Built once per
// distinct set of relevant capabilities; each call returns a private copy.

import {
  AF_VSOCK, ALWAYS_ALLOWED, CAPABILITY_GATED, CLONE_NAMESPACE_FLAGS, ENOSYS, EPERM, SAFE_PERSONALITIES,
} from './seccomp-syscalls.js';

export type SeccompAction =
  | 'SCMP_ACT_KILL' | 'SCMP_ACT_KILL_PROCESS' | 'SCMP_ACT_KILL_THREAD' | 'SCMP_ACT_TRAP'
  | 'SCMP_ACT_ERRNO' | 'SCMP_ACT_TRACE' | 'SCMP_ACT_ALLOW' | 'SCMP_ACT_LOG' | 'SCMP_ACT_NOTIFY';

export type SeccompOperator =
  | 'SCMP_CMP_NE' | 'SCMP_CMP_LT' | 'SCMP_CMP_LE' | 'SCMP_CMP_EQ'
  | 'SCMP_CMP_GE' | 'SCMP_CMP_GT' | 'SCMP_CMP_MASKED_EQ';

export type SeccompArch =
  | 'SCMP_ARCH_X86' | 'SCMP_ARCH_X86_64' | 'SCMP_ARCH_X32' | 'SCMP_ARCH_ARM' | 'SCMP_ARCH_AARCH64'
  | 'SCMP_ARCH_MIPS' | 'SCMP_ARCH_MIPS64' | 'SCMP_ARCH_MIPS64N32' | 'SCMP_ARCH_MIPSEL'
  | 'SCMP_ARCH_MIPSEL64' | 'SCMP_ARCH_MIPSEL64N32' | 'SCMP_ARCH_PPC' | 'SCMP_ARCH_PPC64'
  | 'SCMP_ARCH_PPC64LE' | 'SCMP_ARCH_S390' | 'SCMP_ARCH_S390X' | 'SCMP_ARCH_RISCV64';

/** One argument comparison; for SCMP_CMP_MASKED_EQ `value` is the mask and `valueTwo` the expected result. */
export interface LinuxSeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: SeccompOperator;
}

/** A rule: the action for these syscalls (when all `args` comparisons hold). */
export interface LinuxSyscall {
  names: string[];
  action: SeccompAction;
  errnoRet?: number;
  args?: LinuxSeccompArg[];
}

/** OCI runtime-spec `linux.seccomp`. */
export interface LinuxSeccomp {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  architectures: SeccompArch[];
  flags?: string[];
  syscalls: LinuxSyscall[];
}

/** Capabilities that change the profile; the cache is keyed on these only. */
const RELEVANT_CAPS: readonly string[] = [...new Set(CAPABILITY_GATED.map((g) => g.cap))];

const cache = new Map<string, LinuxSeccomp>();

/**
 * Docker's default seccomp profile for a container holding `capabilities`
 * (e.g. ['CAP_CHOWN', ...]; the 'CAP_' prefix and case are optional).
 * The result is the caller's to modify.
 */
export function defaultSeccompProfile(capabilities: readonly string[]): LinuxSeccomp {
  const held = new Set(capabilities.map((c) => {
    const u = c.toUpperCase();
    return u.startsWith('CAP_') ? u : `CAP_${u}`;
  }));
  const relevant = RELEVANT_CAPS.filter((c) => held.has(c));
  const key = relevant.join(',');
  let profile = cache.get(key);
  if (!profile) {
    profile = build(new Set(relevant));
    cache.set(key, profile);
  }
  return copy(profile);
}

function build(caps: ReadonlySet<string>): LinuxSeccomp {
  const allowed = new Set<string>();
  const allowAll = (names: Iterable<string>): string[] => {
    const fresh: string[] = [];
    for (const n of names) {
      if (!allowed.has(n)) {
        allowed.add(n);
        fresh.push(n);
      }
    }
    return fresh;
  };

  const syscalls: LinuxSyscall[] = [];
  syscalls.push({ names: allowAll(Object.values(ALWAYS_ALLOWED).flat()), action: 'SCMP_ACT_ALLOW' });
  for (const group of CAPABILITY_GATED) {
    if (!caps.has(group.cap)) continue;
    const names = allowAll(group.names);
    if (names.length) syscalls.push({ names, action: 'SCMP_ACT_ALLOW' });
  }

  // socket(2) for every address family but AF_VSOCK (host communication).
  syscalls.push({ names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: AF_VSOCK, op: 'SCMP_CMP_NE' }] });

  // personality(2): one rule per value, as a rule's comparisons are ANDed.
  for (const value of SAFE_PERSONALITIES) {
    syscalls.push({ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value, op: 'SCMP_CMP_EQ' }] });
  }

  if (!allowed.has('clone')) {
    // Threads and processes, but no new namespaces (flags are arg 0 on x86).
    syscalls.push({
      names: ['clone'], action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
    });
  }
  if (!allowed.has('clone3')) {
    // Its flags live in a struct seccomp cannot read: pretend it does not exist,
    // so that libc falls back to clone(2), which is checked above.
    syscalls.push({ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS });
  }

  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: EPERM,
    // Docker also lists SCMP_ARCH_X32. Berth leaves it out: that ABI is off in
    // most kernels, its syscalls then meet the filter's bad-architecture action
    // (they are refused), and compiling it made every runc create ~9 ms slower.
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
    syscalls,
  };
}

function copy(p: LinuxSeccomp): LinuxSeccomp {
  return {
    ...p,
    architectures: [...p.architectures],
    syscalls: p.syscalls.map((s) => ({
      ...s,
      names: [...s.names],
      ...(s.args ? { args: s.args.map((a) => ({ ...a })) } : {}),
    })),
  };
}
