// Resource limits (run/create flags, update), OOM kills, stats, pause/unpause,
// checked in the container's cgroup files against the real runc and kernel.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { TestEnv, eventually } from '../helpers/env.js';

let t: TestEnv;
before(async () => { t = await TestEnv.create(); });
after(async () => { await t.cleanup(); });

const MiB = 1024 * 1024;

/** A cgroup v1 file of a container, read on the host. */
function hostCgroup(ctrl: string, id: string, file: string): string {
  return fs.readFileSync(path.join('/sys/fs/cgroup', ctrl, t.cgroupParent, id, file), 'utf8').trim();
}

async function idOf(name: string): Promise<string> {
  return (await t.ok(['inspect', '--format', '{{.Id}}', name])).trim();
}

test('limits are applied to the container cgroup (seen from inside) and shown by inspect', async () => {
  const script = [
    'cd /sys/fs/cgroup',
    'cat memory/memory.limit_in_bytes memory/memory.soft_limit_in_bytes cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us',
    'cat cpu/cpu.shares cpuset/cpuset.cpus pids/pids.max',
    'cat blkio/blkio.weight 2>/dev/null || cat blkio/blkio.bfq.weight',
  ].join('; ');
  const out = await t.ok(['run', '--name', 'lim', '-m', '32m', '--memory-reservation', '16m', '--cpus', '0.5', '-c', '512',
    '--cpuset-cpus', '0', '--pids-limit', '50', '--blkio-weight', '300', 'busybox', 'sh', '-c', script]);
  assert.deepEqual(out.trim().split('\n'), [String(32 * MiB), String(16 * MiB), '50000', '100000', '512', '0', '50', '300']);
  const hc = JSON.parse(await t.ok(['inspect', '--format', '{{json .HostConfig}}', 'lim'])) as Record<string, unknown>;
  assert.equal(hc.Memory, 32 * MiB);
  assert.equal(hc.MemoryReservation, 16 * MiB);
  assert.equal(hc.MemorySwap, 64 * MiB, 'Docker default: memory+swap is twice the memory');
  assert.equal(hc.NanoCpus, 500_000_000);
  assert.equal(hc.CpuQuota, 50000);
  assert.equal(hc.CpuPeriod, 100000);
  assert.equal(hc.CpuShares, 512);
  assert.equal(hc.CpusetCpus, '0');
  assert.equal(hc.PidsLimit, 50);
  assert.equal(hc.BlkioWeight, 300);
  await t.ok(['rm', 'lim']);
});

test('--cpu-quota/--cpu-period, --memory-swap -1 and --device with permissions', async () => {
  const script = [
    'cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes',
    'test -c /dev/mynull && echo hi > /dev/mynull && echo null-ok',
    // /dev/fuse is denied by default: "r" allows reading it only.
    'exec 3</dev/myfuse && echo fuse-readable',
    '(exec 4>/dev/myfuse) 2>/dev/null || echo fuse-not-writable',
  ].join('; ');
  const out = await t.ok(['run', '--rm', '--cpu-quota', '20000', '--cpu-period', '50000', '-m', '16m', '--memory-swap', '-1',
    '--device', '/dev/null:/dev/mynull', '--device', '/dev/fuse:/dev/myfuse:r', 'busybox', 'sh', '-c', script]);
  const lines = out.trim().split('\n');
  assert.deepEqual(lines.slice(0, 2), ['20000', '50000']);
  assert.ok(Number(lines[2]) > 2 ** 60, `unlimited swap: ${lines[2]}`);
  assert.deepEqual(lines.slice(3), ['null-ok', 'fuse-readable', 'fuse-not-writable']);
  await t.ok(['create', '--name', 'dev', '--device', '/dev/null:/dev/mynull:rw', 'busybox', 'true']);
  assert.equal((await t.ok(['inspect', '--format', '{{json .HostConfig.Devices}}', 'dev'])).trim(),
    '[{"PathOnHost":"/dev/null","PathInContainer":"/dev/mynull","CgroupPermissions":"rw"}]');
  await t.ok(['rm', 'dev']);
});

test('a container killed by the OOM killer shows OOMKilled and exit code 137', async () => {
  const r = await t.berth(['run', '--name', 'oom', '-m', '16m', 'busybox', 'dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1']);
  assert.equal(r.code, 137, r.stderr);
  assert.equal((await t.ok(['inspect', '--format', '{{.State.OOMKilled}} {{.State.ExitCode}} {{.State.Status}}', 'oom'])).trim(), 'true 137 exited');
  // A normal exit of the same container clears the flag.
  await t.ok(['rm', 'oom']);
  await t.ok(['run', '--name', 'nooom', '-m', '16m', 'busybox', 'true']);
  assert.equal((await t.ok(['inspect', '--format', '{{.State.OOMKilled}}', 'nooom'])).trim(), 'false');
  await t.ok(['rm', 'nooom']);
});

test('update changes the limits of a running container and of a created one', async () => {
  await t.ok(['run', '-d', '--name', 'up', '-m', '32m', '--pids-limit', '100', 'busybox', 'sleep', '1000']);
  const id = await idOf('up');
  assert.equal(hostCgroup('memory', id, 'memory.limit_in_bytes'), String(32 * MiB));
  assert.equal((await t.ok(['update', '--memory', '64m', '--pids-limit', '200', '--cpu-shares', '256', 'up'])).trim(), 'up');
  assert.equal(hostCgroup('memory', id, 'memory.limit_in_bytes'), String(64 * MiB));
  assert.equal(hostCgroup('pids', id, 'pids.max'), '200');
  assert.equal(hostCgroup('cpu', id, 'cpu.shares'), '256');
  assert.equal((await t.ok(['inspect', '--format', '{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}', 'up'])).trim(), `${64 * MiB} 200`);
  await t.ok(['update', '--pids-limit', '-1', 'up']);
  assert.equal(hostCgroup('pids', id, 'pids.max'), 'max');
  // Bad values change nothing.
  const bad = await t.berth(['update', '--memory', '1g', '--memory-swap', '512m', 'up']);
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /--memory-swap .* must be at least --memory/);
  assert.equal(hostCgroup('memory', id, 'memory.limit_in_bytes'), String(64 * MiB));
  assert.equal((await t.berth(['update', 'up'])).code, 125, 'update without a limit is an error');
  await t.ok(['rm', '-f', 'up']);

  await t.ok(['create', '--name', 'later', '-m', '32m', 'busybox', 'cat', '/sys/fs/cgroup/memory/memory.limit_in_bytes']);
  await t.ok(['update', '--memory', '48m', 'later']);
  const r = await t.berth(['start', '-a', 'later']);
  assert.equal(r.stdout.trim(), String(48 * MiB));
  await t.ok(['rm', 'later']);
});

test('stats shows the usage of running containers', async () => {
  await t.ok(['run', '-d', '--name', 'st', '-m', '64m', 'busybox', 'sh', '-c', 'while true; do sleep 1; done']);
  const [s] = JSON.parse(await t.ok(['stats', '--no-stream', '--format', 'json', 'st'])) as Record<string, string>[];
  assert.equal(s!.name, 'st');
  const m = /^([\d.]+)([kMG]?B) \/ ([\d.]+)MB$/.exec(s!.mem_usage);
  assert.ok(m && Number(m[1]) > 0, `memory usage: ${s!.mem_usage}`);
  assert.equal(m![3], '67.1', 'the limit is the memory limit');
  assert.ok(Number(s!.pids) >= 1, `pids: ${s!.pids}`);
  assert.match(s!.cpu_percent, /^\d+\.\d\d%$/);
  const table = await t.ok(['stats', '--no-stream']);
  assert.match(table, /^ID +NAME +CPU % +MEM USAGE \/ LIMIT +MEM % +NET IO +BLOCK IO +PIDS\n/);
  assert.match(table, /\bst +\d+\.\d\d% /);
  // On a bridge network the container has sent and received something (at least IPv6 neighbour discovery).
  assert.match(await t.ok(['stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}} {{.NetIO}}', 'st']), /^st [1-9]\d* [\d.]+[kMG]?B \/ [\d.]+[kMG]?B\n$/);
  await t.ok(['stop', '-t', '0', 'st']);
  const stopped = await t.berth(['stats', '--no-stream', 'st']);
  assert.equal(stopped.code, 125);
  assert.match(stopped.stderr, /not running/);
  await t.ok(['rm', 'st']);
});

test('pause freezes a container, unpause thaws it; stop works on a paused container', async () => {
  await t.ok(['run', '-d', '--name', 'pz', 'busybox', 'sleep', '1000']);
  await t.ok(['create', '--name', 'pzc', 'busybox', 'true']);
  const id = await idOf('pz');
  assert.equal((await t.ok(['pause', 'pz'])).trim(), 'pz');
  assert.equal(hostCgroup('freezer', id, 'freezer.state'), 'FROZEN');
  assert.equal((await t.ok(['inspect', '--format', '{{.State.Status}} {{.State.Paused}}', 'pz'])).trim(), 'paused true');
  assert.match(await t.ok(['ps', '--format', '{{.Names}} {{.Status}}']), /^pz Up .* \(Paused\)$/m);
  const again = await t.berth(['pause', 'pz']);
  assert.equal(again.code, 125);
  assert.match(again.stderr, /already paused/);
  await t.ok(['unpause', 'pz']);
  assert.equal(hostCgroup('freezer', id, 'freezer.state'), 'THAWED');
  assert.equal((await t.ok(['inspect', '--format', '{{.State.Status}}', 'pz'])).trim(), 'running');
  const notPaused = await t.berth(['unpause', 'pz']);
  assert.equal(notPaused.code, 125);
  assert.match(notPaused.stderr, /not paused/);
  const created = await t.berth(['pause', 'pzc']);
  assert.equal(created.code, 125);
  assert.match(created.stderr, /not running/);
  await t.ok(['pause', 'pz']);
  await t.ok(['stop', '-t', '0', 'pz']);
  await eventually(async () => (await t.ok(['inspect', '--format', '{{.State.Status}}', 'pz'])).trim() === 'exited');
  await t.ok(['rm', 'pz', 'pzc']);
});

test('bad limits exit 125 with a clear message and create nothing', async () => {
  const cases: [string[], RegExp][] = [
    [['--memory', '12q'], /invalid --memory "12q"/],
    [['--memory', '1m'], /minimum memory limit is 6MB/],
    [['--cpus', '-1'], /invalid --cpus "-1": give a positive number/],
    [['--cpus', '64'], /this host has only \d+ CPUs/],
    [['--blkio-weight', '5'], /invalid --blkio-weight 5: use a weight from 10 to 1000/],
    [['--cpuset-cpus', '0-99'], /invalid --cpuset-cpus "0-99": CPUs .* are not available on this host/],
    [['--cpuset-cpus', 'a-b'], /invalid --cpuset-cpus "a-b"/],
    [['-m', '32m', '--memory-swap', '16m'], /--memory-swap \(16MiB\) must be at least --memory \(32MiB\)/],
    [['--memory-swap', '64m'], /--memory-swap needs --memory/],
    [['-m', '16m', '--memory-reservation', '32m'], /--memory-reservation .* must not be larger than --memory/],
    [['--cpus', '1', '--cpu-quota', '50000'], /--cpus cannot be combined with --cpu-quota/],
    [['--cpu-period', '10'], /invalid --cpu-period 10/],
    [['--cpu-shares', '1'], /invalid --cpu-shares 1/],
    [['--device', '/dev/berth-no-such-device'], /--device \/dev\/berth-no-such-device: no such device on this host/],
    [['--device', '/etc/passwd'], /not a device node/],
    [['--device', '/dev/null:/dev/n:rwx'], /permissions "rwx"/],
  ];
  for (const [flags, re] of cases) {
    const r = await t.berth(['create', ...flags, 'busybox', 'true']);
    assert.equal(r.code, 125, `${flags.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re, flags.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
  }
  const run = await t.berth(['run', '--device', '/dev/berth-no-such-device', 'busybox', 'true']);
  assert.equal(run.code, 125);
  assert.equal((await t.ok(['ps', '-aq'])).trim(), '');
});
