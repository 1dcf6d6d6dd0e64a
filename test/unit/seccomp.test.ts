import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync,
  rmdirSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  ALL_CAPABILITIES, DEFAULT_CAPABILITIES, normalizeCapability, resolveCapabilities,
} from '../../src/runtime/capabilities.js';
import { defaultSeccompProfile, type LinuxSeccomp, type LinuxSyscall } from '../../src/runtime/seccomp.js';
import { BerthError } from '../../src/engine/errors.js';

/** Rules that apply to `name` (any action). */
const rulesFor = (p: LinuxSeccomp, name: string): LinuxSyscall[] => p.syscalls.filter((s) => s.names.includes(name));

/** True when `name` is allowed whatever its arguments. */
const allowsOutright = (p: LinuxSeccomp, name: string): boolean =>
  rulesFor(p, name).some((s) => s.action === 'SCMP_ACT_ALLOW' && !s.args?.length);

const mentions = (p: LinuxSeccomp, name: string): boolean => rulesFor(p, name).length > 0;

describe('capabilities', () => {
  test('the 41 capabilities in number order', () => {
    assert.equal(ALL_CAPABILITIES.length, 41);
    assert.equal(ALL_CAPABILITIES[0], 'CAP_CHOWN');
    assert.equal(ALL_CAPABILITIES[21], 'CAP_SYS_ADMIN');
    assert.equal(ALL_CAPABILITIES[40], 'CAP_CHECKPOINT_RESTORE');
    assert.equal(new Set(ALL_CAPABILITIES).size, 41);
  });

  test('default set is Docker\'s 14, ordered by number', () => {
    assert.deepEqual([...DEFAULT_CAPABILITIES], [
      'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID',
      'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW', 'CAP_SYS_CHROOT', 'CAP_MKNOD', 'CAP_AUDIT_WRITE',
      'CAP_SETFCAP',
    ]);
  });

  test('normalization', () => {
    for (const n of ['net_admin', 'NET_ADMIN', 'cap_net_admin', 'CAP_NET_ADMIN', ' Net_Admin ']) {
      assert.equal(normalizeCapability(n), 'CAP_NET_ADMIN');
    }
    assert.equal(normalizeCapability('ALL'), 'ALL');
    assert.equal(normalizeCapability('all'), 'ALL');
  });

  test('unknown names are invalid arguments', () => {
    assert.throws(() => normalizeCapability('net_admn'), (e: unknown) =>
      e instanceof BerthError && e.kind === 'invalid-argument'
      && e.message === 'unknown capability "net_admn": see capabilities(7) for valid names');
    assert.throws(() => resolveCapabilities({ add: ['bogus'] }), BerthError);
    assert.throws(() => resolveCapabilities({ drop: ['CAP_'] }), BerthError);
  });

  test('no options: the default set', () => {
    assert.deepEqual(resolveCapabilities({}), [...DEFAULT_CAPABILITIES]);
  });

  test('add and drop, sorted, add beats drop', () => {
    const caps = resolveCapabilities({ add: ['sys_admin', 'NET_ADMIN'], drop: ['chown', 'mknod', 'net_admin'] });
    assert.ok(caps.includes('CAP_SYS_ADMIN'));
    assert.ok(caps.includes('CAP_NET_ADMIN'));
    assert.ok(!caps.includes('CAP_CHOWN'));
    assert.ok(!caps.includes('CAP_MKNOD'));
    const order = caps.map((c) => ALL_CAPABILITIES.indexOf(c));
    assert.deepEqual(order, [...order].sort((a, b) => a - b));
    assert.deepEqual(resolveCapabilities({ add: ['kill', 'KILL'] }), [...DEFAULT_CAPABILITIES]);
  });

  test('drop ALL then add', () => {
    assert.deepEqual(resolveCapabilities({ drop: ['ALL'], add: ['setuid', 'chown', 'net_bind_service'] }),
      ['CAP_CHOWN', 'CAP_SETUID', 'CAP_NET_BIND_SERVICE']);
    assert.deepEqual(resolveCapabilities({ drop: ['all'] }), []);
  });

  test('add ALL keeps everything not dropped', () => {
    const caps = resolveCapabilities({ add: ['ALL'], drop: ['sys_admin'] });
    assert.equal(caps.length, 40);
    assert.ok(!caps.includes('CAP_SYS_ADMIN'));
  });

  test('privileged gets every capability, whatever else is asked', () => {
    assert.deepEqual(resolveCapabilities({ privileged: true, drop: ['ALL'] }), [...ALL_CAPABILITIES]);
  });
});

describe('default seccomp profile', () => {
  const base = defaultSeccompProfile([...DEFAULT_CAPABILITIES]);

  test('shape runc accepts', () => {
    assert.equal(base.defaultAction, 'SCMP_ACT_ERRNO');
    assert.equal(base.defaultErrnoRet, 1);
    assert.deepEqual(base.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86']);
    assert.ok(base.syscalls.length > 0);
    for (const rule of base.syscalls) {
      assert.ok(Array.isArray(rule.names) && rule.names.length > 0, 'every rule names syscalls');
      assert.match(rule.action, /^SCMP_ACT_[A-Z_]+$/);
      assert.equal(new Set(rule.names).size, rule.names.length, `duplicate name in rule ${rule.names[0]}`);
      for (const n of rule.names) assert.match(n, /^_?[a-z0-9_]+$/);
      if (rule.action === 'SCMP_ACT_ERRNO') assert.equal(typeof rule.errnoRet, 'number');
      for (const a of rule.args ?? []) {
        assert.ok(Number.isInteger(a.index) && a.index >= 0 && a.index < 6);
        assert.ok(Number.isInteger(a.value) && a.value >= 0 && a.value <= 0xffffffffffff);
      }
    }
    // A name allowed outright appears in only one rule.
    const outright = base.syscalls.filter((s) => s.action === 'SCMP_ACT_ALLOW' && !s.args).flatMap((s) => s.names);
    assert.equal(new Set(outright).size, outright.length);
    JSON.parse(JSON.stringify(base));
  });

  test('ordinary syscalls are allowed', () => {
    for (const n of ['read', 'write', 'execve', 'openat', 'futex', 'epoll_wait', 'mmap', 'exit_group',
      'rt_sigaction', 'arch_prctl', 'statx', 'getrandom', 'pidfd_open', 'wait4', 'fchmodat2']) {
      assert.ok(allowsOutright(base, n), n);
    }
  });

  test('dangerous or refused syscalls are absent', () => {
    // io_uring left Docker's allowlist in moby#46762 (Docker 25+).
    for (const n of ['io_uring_setup', 'io_uring_enter', 'io_uring_register', 'kexec_load', 'add_key',
      'keyctl', 'request_key', 'userfaultfd', 'swapon', 'open_by_handle_at', 'mount', 'unshare', 'setns',
      'bpf', 'reboot', 'init_module', 'acct', 'settimeofday']) {
      assert.ok(!mentions(base, n), n);
    }
    assert.ok(allowsOutright(base, 'chroot'), 'default set holds CAP_SYS_CHROOT');
  });

  test('capability-conditional syscalls need their capability', () => {
    const none = defaultSeccompProfile([]);
    const cases: [string, string[]][] = [
      ['CAP_SYS_ADMIN', ['mount', 'umount2', 'unshare', 'setns', 'sethostname', 'fsopen', 'lsm_set_self_attr']],
      ['CAP_SYS_PTRACE', ['kcmp', 'pidfd_getfd', 'process_madvise']],
      ['CAP_SYS_MODULE', ['init_module', 'finit_module', 'delete_module']],
      ['CAP_SYS_BOOT', ['reboot']],
      ['CAP_SYS_TIME', ['settimeofday', 'clock_settime']],
      ['CAP_SYS_RAWIO', ['iopl', 'ioperm']],
      ['CAP_SYS_NICE', ['mbind', 'set_mempolicy']],
      ['CAP_SYS_PACCT', ['acct']],
      ['CAP_SYS_CHROOT', ['chroot']],
      ['CAP_SYSLOG', ['syslog']],
      ['CAP_BPF', ['bpf']],
      ['CAP_PERFMON', ['perf_event_open']],
      ['CAP_DAC_READ_SEARCH', ['open_by_handle_at']],
    ];
    for (const [cap, names] of cases) {
      const withCap = defaultSeccompProfile([cap]);
      for (const n of names) {
        assert.ok(!mentions(none, n), `${n} without ${cap}`);
        assert.ok(allowsOutright(withCap, n), `${n} with ${cap}`);
      }
    }
    // Lower-case / prefix-less input works too.
    assert.ok(allowsOutright(defaultSeccompProfile(['sys_admin']), 'mount'));
  });

  test('ptrace: allowed outright, as Docker does on kernels >= 4.8', () => {
    for (const n of ['ptrace', 'process_vm_readv', 'process_vm_writev']) {
      assert.ok(allowsOutright(base, n), n);
      assert.equal(rulesFor(defaultSeccompProfile(['CAP_SYS_PTRACE']), n).length, 1, `${n} listed once`);
    }
  });

  test('clone without CAP_SYS_ADMIN: namespace flags masked; clone3 says ENOSYS', () => {
    const clone = rulesFor(base, 'clone');
    assert.equal(clone.length, 1);
    assert.equal(clone[0]!.action, 'SCMP_ACT_ALLOW');
    assert.deepEqual(clone[0]!.args, [{ index: 0, value: 0x7e020000, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }]);
    assert.deepEqual(rulesFor(base, 'clone3'), [{ names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }]);

    const admin = defaultSeccompProfile([...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN']);
    assert.equal(rulesFor(admin, 'clone').length, 1);
    assert.ok(allowsOutright(admin, 'clone'));
    assert.equal(rulesFor(admin, 'clone3').length, 1);
    assert.ok(allowsOutright(admin, 'clone3'));
  });

  test('personality only with safe values; socket never AF_VSOCK', () => {
    const values = rulesFor(base, 'personality').map((r) => {
      assert.equal(r.action, 'SCMP_ACT_ALLOW');
      assert.equal(r.args?.length, 1);
      assert.equal(r.args![0]!.op, 'SCMP_CMP_EQ');
      return r.args![0]!.value;
    });
    assert.deepEqual(values.sort((a, b) => a - b), [0, 8, 0x20000, 0x20008, 0xffffffff]);
    assert.deepEqual(rulesFor(base, 'socket'),
      [{ names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 40, op: 'SCMP_CMP_NE' }] }]);
  });

  test('cached, but every caller gets its own copy', () => {
    const a = defaultSeccompProfile([...DEFAULT_CAPABILITIES]);
    a.syscalls[0]!.names.push('io_uring_setup');
    a.syscalls.push({ names: ['kexec_load'], action: 'SCMP_ACT_ALLOW' });
    const b = defaultSeccompProfile([...DEFAULT_CAPABILITIES]);
    assert.deepEqual(b, base);
  });
});

// ---- the profile under the real runc ------------------------------------------------------

const runcSkip = ((): string | false => {
  if (process.getuid?.() !== 0) return 'needs root';
  if (!existsSync('/bin/busybox')) return 'needs a static /bin/busybox';
  if (spawnSync('runc', ['--version'], { stdio: 'ignore' }).status !== 0) return 'needs runc';
  return false;
})();

describe('profile under runc', { skip: runcSkip }, () => {
  const work = mkdtempSync(join(tmpdir(), 'berth-seccomp-'));
  const runcRoot = join(work, 'runc');
  const cgroupParent = 'berth-test-seccomp';
  let template: Record<string, unknown> | undefined;
  let seq = 0;

  after(() => {
    rmSync(work, { recursive: true, force: true });
    // runc leaves the (now empty) parent cgroup behind in each hierarchy.
    for (const base of ['/sys/fs/cgroup', ...safeList('/sys/fs/cgroup').map((d) => join('/sys/fs/cgroup', d))]) {
      try { rmdirSync(join(base, cgroupParent)); } catch { /* absent or not ours to judge */ }
    }
  });

  function safeList(dir: string): string[] {
    try { return readdirSync(dir); } catch { return []; }
  }

  /** `runc spec` output, generated once. */
  function specTemplate(): Record<string, unknown> {
    if (!template) {
      const dir = join(work, 'spec');
      mkdirSync(dir);
      execFileSync('runc', ['spec', '--bundle', dir], { stdio: 'ignore' });
      template = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    }
    return structuredClone(template);
  }

  /** Runs args in a fresh busybox container; returns runc's exit status and its output. */
  function run(args: string[], opts: { seccomp?: LinuxSeccomp; caps: readonly string[] }): { status: number | null; output: string } {
    const id = `berth-seccomp-${process.pid}-${++seq}`;
    const bundle = join(work, id);
    const rootfs = join(bundle, 'rootfs');
    for (const d of ['bin', 'proc', 'dev', 'sys', 'tmp']) mkdirSync(join(rootfs, d), { recursive: true });
    copyFileSync('/bin/busybox', join(rootfs, 'bin/busybox'));
    for (const n of ['sh', 'unshare', 'true']) symlinkSync('busybox', join(rootfs, 'bin', n));

    const config = specTemplate();
    const proc = config.process as Record<string, unknown>;
    proc.args = args;
    proc.terminal = false;
    proc.rlimits = [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }];
    const caps = [...opts.caps];
    proc.capabilities = { bounding: caps, effective: caps, permitted: caps };
    const linux = config.linux as Record<string, unknown>;
    linux.cgroupsPath = `/${cgroupParent}/${id}`;
    if (opts.seccomp) linux.seccomp = opts.seccomp;
    else delete linux.seccomp;
    writeFileSync(join(bundle, 'config.json'), JSON.stringify(config));

    const logPath = join(bundle, 'output.log');
    const fd = openSync(logPath, 'w');
    try {
      const r = spawnSync('runc', ['--root', runcRoot, 'run', '--bundle', bundle, id],
        { stdio: ['ignore', fd, fd], timeout: 60_000 });
      return { status: r.status, output: readFileSync(logPath, 'utf8') };
    } finally {
      closeSync(fd);
      spawnSync('runc', ['--root', runcRoot, 'delete', '-f', id], { stdio: 'ignore' });
      rmSync(bundle, { recursive: true, force: true });
    }
  }

  const caps = DEFAULT_CAPABILITIES;
  const profile = defaultSeccompProfile(caps);

  test('an ordinary program runs under the profile', () => {
    const r = run(['/bin/busybox', 'true'], { seccomp: profile, caps });
    assert.equal(r.status, 0, r.output);
  });

  test('fork (clone without namespace flags) works under the profile', () => {
    const r = run(['/bin/sh', '-c', '/bin/busybox true && /bin/busybox true'], { seccomp: profile, caps });
    assert.equal(r.status, 0, r.output);
  });

  test('a user namespace is refused under the profile, allowed without it', () => {
    const args = ['/bin/busybox', 'unshare', '-U', '/bin/busybox', 'true'];
    const confined = run(args, { seccomp: profile, caps });
    assert.notEqual(confined.status, 0, 'unshare -U must fail under the default profile');
    assert.notEqual(confined.status, null, confined.output);
    const unconfined = run(args, { caps });
    assert.equal(unconfined.status, 0, unconfined.output);
  });

  test('CAP_SYS_ADMIN unlocks unshare in the profile', () => {
    const adminCaps = resolveCapabilities({ add: ['SYS_ADMIN'] });
    const r = run(['/bin/busybox', 'unshare', '-U', '/bin/busybox', 'true'],
      { seccomp: defaultSeccompProfile(adminCaps), caps: adminCaps });
    assert.equal(r.status, 0, r.output);
  });
});
