// `berth run` against real runc and conmon: exit codes, the process
// environment, mounts, security defaults, tty and stdin.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { TestEnv, BERTH } from '../helpers/env.js';

let t: TestEnv;
before(async () => { t = await TestEnv.create(); });
after(async () => { await t.cleanup(); });

test('the container exit code is the exit code of berth run', async () => {
  assert.equal((await t.berth(['run', '--rm', 'busybox', 'true'])).code, 0);
  assert.equal((await t.berth(['run', '--rm', 'busybox', 'sh', '-c', 'exit 7'])).code, 7);
  // A process killed by a signal exits 128+N (the shell reports its child's death the same way).
  const killed = await t.berth(['run', '--rm', '--init', 'busybox', 'sh', '-c', 'kill -9 $$']);
  assert.equal(killed.code, 137);
});

test('berth failures exit 125, 126 and 127 like Podman', async () => {
  const notFound = await t.berth(['run', '--rm', 'busybox', 'no-such-command']);
  assert.equal(notFound.code, 127, notFound.stderr);
  assert.match(notFound.stderr, /no-such-command.*not found/);
  const notExec = await t.berth(['run', '--rm', 'busybox', '/etc/passwd']);
  assert.equal(notExec.code, 126, notExec.stderr);
  const noImage = await t.berth(['run', '--rm', 'no-such-image', 'true']);
  assert.equal(noImage.code, 125);
  assert.match(noImage.stderr, /no-such-image: image not known/);
  const badFlag = await t.berth(['run', '--bogus', 'busybox']);
  assert.equal(badFlag.code, 125);
  assert.match(badFlag.stderr, /unknown flag: --bogus/);
  // Failed runs with --rm leave no container behind.
  assert.equal((await t.ok(['ps', '-aq'])).trim(), '');
});

test('stdout and stderr are kept apart', async () => {
  const r = await t.berth(['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2']);
  assert.equal(r.stdout, 'out\n');
  assert.equal(r.stderr, 'err\n');
});

test('environment: image env, -e, -e KEY from the host, --env-file', async () => {
  const file = path.join(t.dir, 'env');
  fs.writeFileSync(file, '# comment\nFROM_FILE=yes\n\nOVERRIDE=file\n');
  const r = await t.berth(['run', '--rm', '--env-file', file, '-e', 'A=1', '-e', 'OVERRIDE=flag', '-e', 'HOSTVAR', 'busybox', 'env'],
    { env: { ...t.env, HOSTVAR: 'from-host' } });
  assert.equal(r.code, 0, r.stderr);
  const env = r.stdout.split('\n');
  for (const kv of ['A=1', 'FROM_FILE=yes', 'OVERRIDE=flag', 'HOSTVAR=from-host', 'HOME=/root', 'container=berth',
    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']) assert.ok(env.includes(kv), `${kv} missing in ${r.stdout}`);
  assert.ok(env.some((e) => /^HOSTNAME=[0-9a-f]{12}$/.test(e)));
});

test('user, group and working directory', async () => {
  assert.equal(await t.ok(['run', '--rm', '-u', 'nobody', 'busybox', 'id']), 'uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n');
  assert.equal(await t.ok(['run', '--rm', '-u', '1234:5678', 'busybox', 'id', '-u']), '1234\n');
  assert.equal(await t.ok(['run', '--rm', '-u', '1234:5678', 'busybox', 'id', '-g']), '5678\n');
  assert.match(await t.ok(['run', '--rm', '--group-add', 'wheel', 'busybox', 'id']), /10\(wheel\)/);
  assert.equal(await t.ok(['run', '--rm', '-w', '/tmp', 'busybox', 'pwd']), '/tmp\n');
  assert.equal(await t.ok(['run', '--rm', '-w', '/new/dir', 'busybox', 'pwd']), '/new/dir\n');
  const noUser = await t.berth(['run', '--rm', '-u', 'nosuchuser', 'busybox', 'true']);
  assert.equal(noUser.code, 126);
  assert.match(noUser.stderr, /unable to find user nosuchuser/);
  const relative = await t.berth(['run', '--rm', '-w', 'rel', 'busybox', 'true']);
  assert.equal(relative.code, 125);
});

test('an image whose /etc/passwd is a FIFO cannot make -u hang', async () => {
  await t.ok(['run', '--name', 'fifo-src', 'busybox', 'sh', '-c', 'rm /etc/passwd && mkfifo /etc/passwd']);
  await t.ok(['commit', 'fifo-src', 'localhost/fifo-passwd']);
  await t.ok(['rm', 'fifo-src']);
  // Berth resolves user names itself: a FIFO would block that read for ever, so
  // it counts as no passwd file. (A numeric -u is left to runc, which reads the
  // file inside the container as it does for Docker and Podman.)
  const named = await t.berth(['run', '--rm', '-u', 'nobody', 'localhost/fifo-passwd', 'true'], { timeoutMs: 30_000 });
  assert.equal(named.code, 126);
  assert.match(named.stderr, /unable to find user nobody/);
  await t.ok(['rmi', 'localhost/fifo-passwd']);
});

test('entrypoint and command are applied as Docker does', async () => {
  assert.equal(await t.ok(['run', '--rm', '--entrypoint', 'echo', 'busybox', 'a', 'b']), 'a b\n');
  assert.equal(await t.ok(['run', '--rm', '--entrypoint', '["echo","x"]', 'busybox', 'y']), 'x y\n');
  // The image CMD is sh: with no command the container runs sh, which reads stdin.
  assert.equal(await t.ok(['run', '--rm', '-i', 'busybox'], { input: 'echo from-stdin\n' }), 'from-stdin\n');
  const none = await t.berth(['run', '--rm', '--entrypoint', '', 'busybox']);
  assert.equal(none.code, 125);
  assert.match(none.stderr, /no command or entrypoint/);
});

test('bind mounts (rw and ro), tmpfs and a read-only root', async () => {
  const dir = path.join(t.dir, 'data');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'in.txt'), 'hello');
  await t.ok(['run', '--rm', '-v', `${dir}:/data`, 'busybox', 'sh', '-c', 'cat /data/in.txt > /data/out.txt']);
  assert.equal(fs.readFileSync(path.join(dir, 'out.txt'), 'utf8'), 'hello');
  const ro = await t.berth(['run', '--rm', '-v', `${dir}:/data:ro`, 'busybox', 'touch', '/data/x']);
  assert.notEqual(ro.code, 0);
  assert.match(ro.stderr, /Read-only file system/);
  assert.match(await t.ok(['run', '--rm', '--tmpfs', '/scratch:size=1m', 'busybox', 'sh', '-c', 'grep /scratch /proc/mounts']), /tmpfs \/scratch tmpfs rw.*size=1024k/);
  const rofs = await t.berth(['run', '--rm', '--read-only', 'busybox', 'touch', '/etc/x']);
  assert.notEqual(rofs.code, 0);
  assert.match(rofs.stderr, /Read-only file system/);
  // --read-only still gives writable /tmp, like Podman.
  assert.equal((await t.berth(['run', '--rm', '--read-only', 'busybox', 'touch', '/tmp/x'])).code, 0);
  const missing = await t.berth(['run', '--rm', '-v', '/no/such/dir:/x', 'busybox', 'true']);
  assert.equal(missing.code, 125);
  assert.match(missing.stderr, /does not exist/);
});

test('security defaults: capabilities, seccomp, no-new-privileges, masked paths', async () => {
  const capEff = async (...flags: string[]) => {
    const out = await t.ok(['run', '--rm', ...flags, 'busybox', 'grep', 'CapEff', '/proc/self/status']);
    return BigInt('0x' + out.trim().split(/\s+/)[1]);
  };
  assert.equal(await capEff(), 0xa80425fbn, 'Docker default capability set');
  assert.equal((await capEff('--cap-drop', 'ALL')), 0n);
  assert.equal((await capEff('--cap-add', 'NET_ADMIN')) & (1n << 12n), 1n << 12n);
  assert.equal((await capEff('--cap-drop', 'CHOWN')) & 1n, 0n);
  assert.ok((await capEff('--privileged')) > 0xa80425fbn);
  // The default seccomp profile refuses new user namespaces; --privileged lifts it.
  assert.notEqual((await t.berth(['run', '--rm', 'busybox', 'unshare', '-U', 'true'])).code, 0);
  assert.equal((await t.berth(['run', '--rm', '--security-opt', 'seccomp=unconfined', 'busybox', 'unshare', '-U', 'true'])).code, 0);
  assert.match(await t.ok(['run', '--rm', '--security-opt', 'no-new-privileges', 'busybox', 'grep', 'NoNewPrivs', '/proc/self/status']), /NoNewPrivs:\s+1/);
  assert.match(await t.ok(['run', '--rm', 'busybox', 'grep', 'NoNewPrivs', '/proc/self/status']), /NoNewPrivs:\s+0/);
  const masked = ['/proc/keys', '/proc/timer_list', '/proc/kcore'].find((p) => fs.existsSync(p));
  if (masked) assert.equal(await t.ok(['run', '--rm', 'busybox', 'cat', masked]), '', `${masked} must be masked`);
  assert.notEqual((await t.berth(['run', '--rm', 'busybox', 'sh', '-c', 'echo 1 > /proc/sys/kernel/sysrq'])).code, 0);
  const badCap = await t.berth(['run', '--rm', '--cap-add', 'NOT_A_CAP', 'busybox', 'true']);
  assert.equal(badCap.code, 125);
  assert.match(badCap.stderr, /unknown capability/);
  // rlimits are clamped to the host's hard limit (runc fails above it).
  const hostHard = Number(spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim());
  assert.equal(Number((await t.ok(['run', '--rm', 'busybox', 'sh', '-c', 'ulimit -Hn'])).trim()), hostHard);
});

test('cgroup path under berth\'s parent and the default pids limit', async () => {
  const out = await t.ok(['run', '--rm', 'busybox', 'cat', '/proc/self/cgroup']);
  assert.match(out, new RegExp(`memory:${t.cgroupParent}/[0-9a-f]{64}`));
  assert.equal((await t.ok(['run', '--rm', 'busybox', 'cat', '/sys/fs/cgroup/pids/pids.max'])).trim(), '2048');
  assert.equal((await t.ok(['run', '--rm', '--pids-limit', '10', 'busybox', 'cat', '/sys/fs/cgroup/pids/pids.max'])).trim(), '10');
  // A relative --cgroup-parent stays below Berth's parent; ".." is refused.
  assert.match(await t.ok(['run', '--rm', '--cgroup-parent', 'team', 'busybox', 'cat', '/proc/self/cgroup']), new RegExp(`memory:${t.cgroupParent}/team/[0-9a-f]{64}`));
  for (const ctrl of fs.readdirSync('/sys/fs/cgroup')) {
    const team = path.join('/sys/fs/cgroup', ctrl, t.cgroupParent, 'team');
    if (fs.existsSync(team)) fs.rmdirSync(team);
  }
  const escape = await t.berth(['run', '--rm', '--cgroup-parent', `${t.cgroupParent}/../x`, 'busybox', 'true']);
  assert.equal(escape.code, 125);
  assert.match(escape.stderr, /must not contain "\." or "\.\." components/);
});

test('--init runs an init as PID 1 that reaps and forwards signals', async () => {
  const out = await t.ok(['run', '--rm', '--init', 'busybox', 'sh', '-c', 'cat /proc/1/cmdline | tr "\\0" " "']);
  assert.match(out, /^\/run\/berth-init -- sh -c/);
});

test('hostname, name and network modes none and host', async () => {
  assert.equal(await t.ok(['run', '--rm', '--hostname', 'box1', 'busybox', 'hostname']), 'box1\n');
  assert.match(await t.ok(['run', '--rm', '--hostname', 'box1', 'busybox', 'cat', '/etc/hosts']), /box1/);
  const none = await t.ok(['run', '--rm', '--network', 'none', 'busybox', 'ls', '/sys/class/net']);
  assert.equal(none.trim(), 'lo');
  // Tests running beside this one add and remove links on the host (a link may even come and
  // go between the two listings): the container must see every link present both before and after.
  const before = new Set(fs.readdirSync('/sys/class/net'));
  const host = new Set((await t.ok(['run', '--rm', '--network', 'host', 'busybox', 'ls', '/sys/class/net'])).trim().split(/\s+/));
  const after = new Set(fs.readdirSync('/sys/class/net'));
  const stable = [...before].filter((l) => after.has(l));
  assert.ok(stable.some((l) => l !== 'lo'), 'the host has a link besides lo to look for');
  for (const l of stable) assert.ok(host.has(l), `the container does not see the host's ${l}`);
});

test('-t gives the container a real pty sized like the terminal', async () => {
  const cmd = `stty rows 33 cols 99; ${t.shellCommand(['run', '--rm', '-t', 'busybox', 'sh', '-c', 'tty; stty size'])}`;
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', env: t.env, input: '' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /\/dev\/pts\/\d+/);
  assert.match(r.stdout, /33 99/);
  // Without a terminal, -t still gives the container a tty.
  assert.match(await t.ok(['run', '--rm', '-t', 'busybox', 'tty']), /\/dev\/pts\/\d+/);
});

test('-i passes stdin through and closes it at the end', async () => {
  const input = Array.from({ length: 2000 }, (_, i) => `line ${i}`).join('\n') + '\n';
  const out = await t.ok(['run', '--rm', '-i', 'busybox', 'wc', '-l'], { input });
  assert.equal(out.trim(), '2000');
  // Without -i the container's stdin is empty.
  assert.equal(await t.ok(['run', '--rm', 'busybox', 'cat'], { input: 'ignored' }), '');
});

test('a foreground run proxies signals to the container', async () => {
  const { spawn } = await import('node:child_process');
  const child = spawn(BERTH, t.args(['run', '--rm', 'busybox', 'sh', '-c', 'trap "echo got-term; exit 3" TERM; echo ready; while true; do sleep 0.1; done']), { env: t.env });
  let out = '';
  let sent = false;
  child.stdout.on('data', (d: Buffer) => {
    out += d;
    // Right after the container prints, its record may still say "created": the signal must not be lost.
    if (out.includes('ready') && !sent) { sent = true; child.kill('SIGTERM'); }
  });
  const code = await new Promise<number | null>((r) => child.on('close', r));
  assert.equal(code, 3);
  assert.match(out, /got-term/);
  void BERTH;
});
