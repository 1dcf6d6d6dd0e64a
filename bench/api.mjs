// The Docker API: the same docker CLI (28.x) against `berth serve` and against a
// real dockerd (Debian's docker.io, run with --bridge=none --iptables=false as
// in reference/runtime.md §7.3), interleaved in one run:
//   docker run --rm --network none busybox true   (issue 6: Berth ≤ 0.5× dockerd)
//   docker ps -a with 100 containers
// dockerd is skipped with a note when it is not installed.
import fs from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { tmpdir, berthEnv, compare, machine, record, cleanupCgroups, which, BERTH } from './lib.mjs';

const ROUNDS = Number(process.env.ROUNDS ?? 20);
const CONTAINERS = 100;
const DOCKER = fs.existsSync('/usr/local/bin/docker') ? '/usr/local/bin/docker' : 'docker';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitForSocket(sock, what, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const ok = await new Promise((r) => { const s = net.connect(sock); s.once('connect', () => { s.destroy(); r(true); }); s.once('error', () => r(false)); });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`${what} did not start listening on ${sock}`);
}

const dir = tmpdir('api');
const berth = berthEnv(dir);
berth.sh('image', 'bootstrap', 'busybox');
const archive = path.join(dir, 'busybox.tar');
berth.sh('save', '-o', archive, 'busybox');

// berth serve on a private socket.
const berthSock = path.join(dir, 'berth.sock');
const serve = spawn(BERTH, [...berth.cmd('serve', '--host', `unix://${berthSock}`).slice(1)], { env: berth.env, stdio: ['ignore', 'ignore', 'inherit'] });
// Listened for now: by the time the clean-up waits, the server may have exited long before.
const serveExited = new Promise((r) => serve.once('exit', r));
await waitForSocket(berthSock, 'berth serve');
const berthDocker = { ...process.env, DOCKER_HOST: `unix://${berthSock}`, DOCKER_CONFIG: path.join(dir, 'docker-config') };

// A real dockerd with private roots, no bridge and no iptables.
let dockerd, dockerEnv, dockerdVersion = 'not installed';
const ddRoot = `/var/lib/berth-bench-docker-${process.pid}`;
const ddRun = `/run/bbd-${process.pid}`;
if (which('dockerd')) {
  fs.mkdirSync(ddRun, { recursive: true });
  const sock = path.join(ddRun, 'docker.sock');
  dockerd = spawn('dockerd', ['-H', `unix://${sock}`, '--data-root', ddRoot, '--exec-root', path.join(ddRun, 'exec'), '--pidfile', path.join(ddRun, 'dockerd.pid'),
    '--iptables=false', '--ip-forward=false', '--ip-masq=false', '--bridge=none', '--storage-driver', 'overlay2', '--userland-proxy=false',
    '--exec-opt', 'native.cgroupdriver=cgroupfs', '--cgroup-parent=/berth-bench-dockerd'], { stdio: ['ignore', 'ignore', fs.openSync(path.join(dir, 'dockerd.log'), 'w')] });
  await waitForSocket(sock, 'dockerd');
  dockerEnv = { ...process.env, DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: path.join(dir, 'docker-config') };
  execFileSync(DOCKER, ['load', '-q', '-i', archive], { env: dockerEnv, stdio: 'ignore' });
  dockerdVersion = execFileSync(DOCKER, ['version', '--format', '{{.Server.Version}}'], { env: dockerEnv, encoding: 'utf8' }).trim();
}

const runArgs = ['run', '--rm', '--network', 'none', 'localhost/busybox', 'true'];
const runRows = compare([
  { name: 'docker CLI → berth serve: run --rm busybox true', argv: () => [DOCKER, ...runArgs], env: berthDocker },
  ...(dockerEnv ? [{ name: `docker CLI → dockerd ${dockerdVersion}: run --rm busybox true`, argv: () => [DOCKER, ...runArgs], env: dockerEnv }] : []),
  { name: 'berth run --rm busybox true (CLI, no server)', argv: () => berth.cmd(...runArgs), env: berth.env },
], ROUNDS);

// 100 created containers on each side, then `docker ps -a`.
for (let i = 0; i < CONTAINERS; i++) {
  berth.sh('create', '--network', 'none', '--name', `ps${i}`, 'busybox', 'true');
  if (dockerEnv) execFileSync(DOCKER, ['create', '--network', 'none', '--name', `ps${i}`, 'localhost/busybox', 'true'], { env: dockerEnv, stdio: 'ignore' });
}
const psRows = compare([
  { name: `docker CLI → berth serve: ps -a (${CONTAINERS} containers)`, argv: () => [DOCKER, 'ps', '-a'], env: berthDocker },
  ...(dockerEnv ? [{ name: `docker CLI → dockerd ${dockerdVersion}: ps -a (${CONTAINERS} containers)`, argv: () => [DOCKER, 'ps', '-a'], env: dockerEnv }] : []),
], ROUNDS);

const b = runRows[0].median, d = dockerEnv ? runRows[1].median : undefined;
const bp = psRows[0].median, dp = dockerEnv ? psRows[1].median : undefined;
record('api', {
  machine: { ...machine(), dockerd: dockerdVersion, dockerCli: execFileSync(DOCKER, ['--version'], { encoding: 'utf8' }).trim() },
  rows: [...runRows, ...psRows],
  verdict: d ? {
    'run --rm berth/dockerd': (b / d).toFixed(2), target: '≤ 0.50', met: String(b / d <= 0.5),
    'ps -a berth/dockerd': (bp / dp).toFixed(2),
  } : { dockerd: 'not installed (apt-get install docker.io to compare)' },
  notes: 'Both daemons run with --network none containers (dockerd with --bridge=none --iptables=false, as reference/runtime.md §7.3). The docker CLI is the same binary for both; times include the CLI\'s own start (~30 ms).',
});

// Clean up: containers, servers, mounts, cgroups, directories.
spawnSync(BERTH, berth.cmd('rm', '-af').slice(1), { env: berth.env, stdio: 'ignore' });
serve.kill('SIGTERM');
if (dockerd) {
  spawnSync('sh', ['-c', `${DOCKER} rm -f $(${DOCKER} ps -aq) >/dev/null 2>&1`], { env: dockerEnv, stdio: 'ignore' });
  dockerd.kill('SIGTERM');
  await new Promise((r) => dockerd.once('exit', r));
  const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(ddRun) || m.startsWith(ddRoot)).reverse();
  for (const m of mounts) spawnSync('umount', ['-l', m]);
  fs.rmSync(ddRun, { recursive: true, force: true });
  fs.rmSync(ddRoot, { recursive: true, force: true });
  cleanupCgroups('berth-bench-dockerd');
}
await serveExited;
cleanupCgroups('berth-bench');
fs.rmSync(dir, { recursive: true, force: true });
