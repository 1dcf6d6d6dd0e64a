// Issue 4 benchmarks: pull and push of a ~200 MB image of 7 layers (busybox +
// 6 layers of random data, built with `berth run` + `berth commit`) through a
// loopback docker-registry, side by side in one run:
//  - pull:  berth pull  vs  skopeo copy docker://… oci:…  vs  podman pull
//           (targets: Berth ≤ 0.8× Podman and ≤ 1.0× skopeo; each into an empty store,
//           each told the same: do not verify TLS, as the registry speaks plain HTTP)
//  - the same pulls from a registry behind a 1 Gbit/s link (a shaped veth pair into a
//           network namespace of the bench's own), where the network, not this machine's
//           2 cores, bounds the pull (not a target of the issue; for comparison)
//  - push:  berth push  vs  skopeo copy oci:… docker://…  (target: Berth ≤ 1.0× skopeo;
//           each into a fresh, empty registry, so nothing is skipped or mounted)
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { tmpdir, berthEnv, podmanEnv, stats, machine, record, cleanupCgroups, cleanupNetwork, timeOnce, which } from './lib.mjs';

const ROUNDS = Number(process.env.ROUNDS ?? 6);
const LAYERS = 6;
const LAYER_BYTES = 34_000_000;

if (!which('docker-registry')) { console.error('pull: docker-registry is not installed (apt install docker-registry); skipped'); process.exit(0); }

const dir = tmpdir('pull');
const registries = [];

function freePort() {
  return new Promise((resolve) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); }); });
}

/**
 * Starts a docker-registry (with an empty store, or serving `data`); returns its host:port and a
 * stop function. `netns` and `addr` put it in a network namespace, behind a link (see below).
 */
async function startRegistry(name, { netns, addr = '127.0.0.1', data } = {}) {
  const port = netns ? 5000 : await freePort();
  const root = path.join(dir, `registry-${name}`);
  fs.rmSync(root, { recursive: true, force: true });
  fs.mkdirSync(root, { recursive: true });
  const cfg = path.join(root, 'config.yml');
  fs.writeFileSync(cfg, `version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: ${data ?? root + '/data'}}, delete: {enabled: true}}\nhttp: {addr: ${addr}:${port}}\n`);
  const proc = netns
    ? spawn('ip', ['netns', 'exec', netns, 'docker-registry', 'serve', cfg], { stdio: 'ignore' })
    : spawn('docker-registry', ['serve', cfg], { stdio: 'ignore' });
  registries.push(proc);
  for (let i = 0; i < 200; i++) {
    if (spawnSync('curl', ['-sf', `http://${addr}:${port}/v2/`]).status === 0) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  return { host: `${addr}:${port}`, root, stop: () => { proc.kill('SIGKILL'); fs.rmSync(root, { recursive: true, force: true }); } };
}

/**
 * A 1 Gbit/s link: a veth pair into a network namespace of our own, shaped with tbf both
 * ways. On loopback the pull is bound by the CPU of this 2-core machine; over a link it is
 * bound by the network, as a pull from a real registry is.
 */
const LINK = { ns: `berthbench${process.pid}`, host: 'bbl0', peer: 'bbl1', hostAddr: '10.249.250.1', nsAddr: '10.249.250.2', rate: '1gbit' };
function makeLink() {
  const sh = (...a) => spawnSync(a[0], a.slice(1), { stdio: 'ignore' }).status === 0;
  const nsx = (...a) => sh('ip', 'netns', 'exec', LINK.ns, ...a);
  sh('ip', 'link', 'del', LINK.host); // left by a bench run that was killed
  const ok = sh('ip', 'netns', 'add', LINK.ns)
    && sh('ip', 'link', 'add', LINK.host, 'type', 'veth', 'peer', 'name', LINK.peer)
    && sh('ip', 'link', 'set', LINK.peer, 'netns', LINK.ns)
    && sh('ip', 'addr', 'add', `${LINK.hostAddr}/30`, 'dev', LINK.host) && sh('ip', 'link', 'set', LINK.host, 'up')
    && nsx('ip', 'addr', 'add', `${LINK.nsAddr}/30`, 'dev', LINK.peer) && nsx('ip', 'link', 'set', LINK.peer, 'up') && nsx('ip', 'link', 'set', 'lo', 'up')
    && sh('tc', 'qdisc', 'add', 'dev', LINK.host, 'root', 'tbf', 'rate', LINK.rate, 'burst', '2mb', 'latency', '100ms')
    && nsx('tc', 'qdisc', 'add', 'dev', LINK.peer, 'root', 'tbf', 'rate', LINK.rate, 'burst', '2mb', 'latency', '100ms');
  if (!ok) removeLink();
  return ok;
}
function removeLink() {
  spawnSync('ip', ['link', 'del', LINK.host], { stdio: 'ignore' });
  spawnSync('ip', ['netns', 'del', LINK.ns], { stdio: 'ignore' });
}

// ---- build the image and push it once ----
fs.mkdirSync(path.join(dir, 'builder'));
const builder = berthEnv(path.join(dir, 'builder'));
builder.sh('image', 'bootstrap', 'busybox');
let image = 'localhost/busybox:latest';
for (let i = 1; i <= LAYERS; i++) {
  builder.sh('run', '--network', 'none', '--name', `layer${i}`, image, 'sh', '-c', `head -c ${LAYER_BYTES} /dev/urandom > /data${i}`);
  builder.sh('commit', `layer${i}`, `bench/big:${i}`);
  builder.sh('rm', `layer${i}`);
  image = `localhost/bench/big:${i}`;
}
const source = await startRegistry('source');
const ref = `${source.host}/bench/big:1`;
builder.sh('push', '-q', image, ref);
const imageBytes = JSON.parse(builder.sh('image', 'inspect', image))[0].Size;

// ---- pull ----
const podman = podmanEnv();
let round = 0;
const fresh = (name) => { const d = path.join(dir, `${name}-${round++}`); fs.mkdirSync(d, { recursive: true }); return d; };
const pullsOf = (ref, suffix = '') => [
  {
    name: 'berth pull' + suffix,
    prepare() { this.d = fresh('bp'); this.b = berthEnv(this.d); },
    argv() { return this.b.cmd('pull', '-q', '--tls-verify=false', ref); },
    env() { return this.b.env; },
    cleanup() { fs.rmSync(this.d, { recursive: true, force: true }); },
  },
  {
    name: 'skopeo copy docker:// oci: (no unpack)' + suffix,
    prepare() { this.d = fresh('sp'); },
    argv() { return ['skopeo', 'copy', '-q', '--src-tls-verify=false', `docker://${ref}`, `oci:${this.d}/layout:big`]; },
    env() { return process.env; },
    cleanup() { fs.rmSync(this.d, { recursive: true, force: true }); },
  },
  ...(podman ? [{
    name: 'podman pull' + suffix,
    prepare() {},
    argv() { return podman.cmd('pull', '-q', '--tls-verify=false', ref); },
    env() { return podman.env; },
    cleanup() { spawnSync(podman.cmd()[0], [...podman.cmd().slice(1), 'rmi', '-af'], { env: podman.env, stdio: 'ignore' }); },
  }] : []),
];

/**
 * Each round runs every candidate once, the order turned by one each round: what a
 * candidate's cleanup leaves (freed memory, freed inodes that this disk's allocator
 * then scans past) weighs on whoever runs next, and that should not always be the same one.
 */
function rotated(candidates, round) {
  return candidates.map((_, k) => candidates[(k + round) % candidates.length]);
}

function measure(candidates, rounds) {
  const samples = new Map(candidates.map((c) => [c.name, []]));
  for (let i = 0; i < rounds + 1; i++) {
    for (const c of rotated(candidates, i)) {
      c.prepare();
      const ms = timeOnce(c.argv(), c.env());
      if (i > 0) samples.get(c.name).push(ms); // the first round warms caches
      c.cleanup();
    }
  }
  return candidates.map((c) => ({ name: c.name, ...stats(samples.get(c.name)) }));
}

const pullRows = measure(pullsOf(ref), ROUNDS);

// ---- pull over a 1 Gbit/s link ----
let linkRows = [];
if (makeLink()) {
  try {
    const far = await startRegistry('link', { netns: LINK.ns, addr: LINK.nsAddr, data: path.join(source.root, 'data') });
    linkRows = measure(pullsOf(`${far.host}/bench/big:1`, ' (1 Gbit/s link)'), ROUNDS);
  } finally {
    removeLink();
  }
} else {
  console.error('pull: cannot make a network namespace with a shaped veth link (ip, tc); the link runs are skipped');
}

// ---- push (each into a fresh registry) ----
const ociDir = path.join(dir, 'oci-source');
spawnSync('skopeo', ['copy', '-q', '--src-tls-verify=false', `docker://${ref}`, `oci:${ociDir}:big`], { stdio: 'inherit' });
const pushes = [
  {
    name: 'berth push',
    reg: undefined,
    async start() { this.reg = await startRegistry('push-berth'); },
    argv() { return builder.cmd('push', '-q', image, `${this.reg.host}/bench/pushed:1`); },
    env() { return builder.env; },
    cleanup() { this.reg.stop(); },
  },
  {
    name: 'skopeo copy oci: docker://',
    reg: undefined,
    async start() { this.reg = await startRegistry('push-skopeo'); },
    argv() { return ['skopeo', 'copy', '-q', '--dest-tls-verify=false', `oci:${ociDir}:big`, `docker://${this.reg.host}/bench/pushed:1`]; },
    env() { return process.env; },
    cleanup() { this.reg.stop(); },
  },
];
const pushSamples = new Map(pushes.map((c) => [c.name, []]));
for (let i = 0; i < ROUNDS + 1; i++) {
  for (const c of rotated(pushes, i)) {
    await c.start();
    const ms = timeOnce(c.argv(), c.env());
    if (i > 0) pushSamples.get(c.name).push(ms);
    c.cleanup();
  }
}
const pushRows = pushes.map((c) => ({ name: c.name, ...stats(pushSamples.get(c.name)) }));

const rows = [...pullRows, ...linkRows, ...pushRows];
const med = (n) => rows.find((r) => r.name === n)?.median ?? NaN;
const vsPodman = med('berth pull') / med('podman pull');
const vsSkopeo = med('berth pull') / med('skopeo copy docker:// oci: (no unpack)');
const pushVsSkopeo = med('berth push') / med('skopeo copy oci: docker://');
const linkVsSkopeo = med('berth pull (1 Gbit/s link)') / med('skopeo copy docker:// oci: (no unpack) (1 Gbit/s link)');
const linkVsPodman = med('berth pull (1 Gbit/s link)') / med('podman pull (1 Gbit/s link)');
record('pull', {
  machine: { ...machine(), podman: podman?.version ?? 'not installed', skopeo: spawnSync('skopeo', ['--version'], { encoding: 'utf8' }).stdout.trim() },
  rows,
  verdict: {
    'image': `${LAYERS + 1} layers, ${(imageBytes / 1e6).toFixed(0)} MB unpacked (gzip of random data), loopback docker-registry`,
    'pull berth/podman': vsPodman.toFixed(2), 'pull vs podman target': '≤ 0.80', 'pull vs podman met': String(vsPodman <= 0.8),
    'pull berth/skopeo': vsSkopeo.toFixed(2), 'pull vs skopeo target': '≤ 1.00', 'pull vs skopeo met': String(vsSkopeo <= 1.0),
    'push berth/skopeo': pushVsSkopeo.toFixed(2), 'push target': '≤ 1.00', 'push met': String(pushVsSkopeo <= 1.0),
    ...(linkRows.length ? { 'over a 1 Gbit/s link, pull berth/skopeo': linkVsSkopeo.toFixed(2), 'over a 1 Gbit/s link, pull berth/podman': linkVsPodman.toFixed(2) } : {}),
  },
  notes: 'skopeo only downloads the blobs into an OCI layout; `berth pull` also gunzips every layer, checks its diff ID and unpacks it '
    + '(~206 MB of files) while it downloads, and records the image. Podman does the same work as Berth. On loopback the pull is bound by '
    + 'the CPU of this 2-core machine, which the registry shares; the "1 Gbit/s link" rows pull the same image from a registry in a network '
    + 'namespace behind a veth pair shaped with tbf, where the network bounds the pull. Each round runs the candidates in an order '
    + 'turned by one: a cleanup (freed memory, which this VM\'s host takes back; freed inodes, which this disk\'s allocator scans '
    + 'past) weighs on whoever runs next.',
});

for (const r of registries) r.kill('SIGKILL');
spawnSync(builder.cmd()[0], [...builder.cmd().slice(1), 'rm', '-af'], { env: builder.env, stdio: 'ignore' });
podman?.cleanup();
cleanupCgroups('berth-bench');
cleanupNetwork(dir);
fs.rmSync(dir, { recursive: true, force: true });
