// Issue 4 benchmarks: pull and push of a ~200 MB image of 7 layers (busybox +
// 6 layers of random data, built with `berth run` + `berth commit`) through a
// loopback docker-registry, side by side in one run:
//  - pull:  berth pull  vs  skopeo copy docker://… oci:…  vs  podman pull
//           (targets: Berth ≤ 0.8× Podman and ≤ 1.0× skopeo; each into an empty store,
//           each told the same: do not verify TLS, as the registry speaks plain HTTP)
//  - push:  berth push  vs  skopeo copy oci:… docker://…  (target: Berth ≤ 1.0× skopeo;
//           each into a fresh, empty registry, so nothing is skipped or mounted)
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { tmpdir, berthEnv, podmanEnv, stats, machine, record, cleanupCgroups, cleanupNetwork, timeOnce, which } from './lib.mjs';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const LAYERS = 6;
const LAYER_BYTES = 34_000_000;

if (!which('docker-registry')) { console.error('pull: docker-registry is not installed (apt install docker-registry); skipped'); process.exit(0); }

const dir = tmpdir('pull');
const registries = [];

function freePort() {
  return new Promise((resolve) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); }); });
}

/** Starts a docker-registry with an empty store; returns its host:port and a stop function. */
async function startRegistry(name) {
  const port = await freePort();
  const root = path.join(dir, `registry-${name}`);
  fs.rmSync(root, { recursive: true, force: true });
  fs.mkdirSync(root, { recursive: true });
  const cfg = path.join(root, 'config.yml');
  fs.writeFileSync(cfg, `version: 0.1\nlog: {level: error}\nstorage: {filesystem: {rootdirectory: ${root}/data}, delete: {enabled: true}}\nhttp: {addr: 127.0.0.1:${port}}\n`);
  const proc = spawn('docker-registry', ['serve', cfg], { stdio: 'ignore' });
  registries.push(proc);
  for (let i = 0; i < 200; i++) {
    if (spawnSync('curl', ['-sf', `http://127.0.0.1:${port}/v2/`]).status === 0) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  return { host: `127.0.0.1:${port}`, stop: () => { proc.kill('SIGKILL'); fs.rmSync(root, { recursive: true, force: true }); } };
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
const pulls = [
  {
    name: 'berth pull',
    prepare() { this.d = fresh('bp'); this.b = berthEnv(this.d); },
    argv() { return this.b.cmd('pull', '-q', '--tls-verify=false', ref); },
    env() { return this.b.env; },
    cleanup() { fs.rmSync(this.d, { recursive: true, force: true }); },
  },
  {
    name: 'skopeo copy docker:// oci: (no unpack)',
    prepare() { this.d = fresh('sp'); },
    argv() { return ['skopeo', 'copy', '-q', '--src-tls-verify=false', `docker://${ref}`, `oci:${this.d}/layout:big`]; },
    env() { return process.env; },
    cleanup() { fs.rmSync(this.d, { recursive: true, force: true }); },
  },
  ...(podman ? [{
    name: 'podman pull',
    prepare() {},
    argv() { return podman.cmd('pull', '-q', '--tls-verify=false', ref); },
    env() { return podman.env; },
    cleanup() { spawnSync(podman.cmd()[0], [...podman.cmd().slice(1), 'rmi', '-af'], { env: podman.env, stdio: 'ignore' }); },
  }] : []),
];

function measure(candidates, rounds) {
  const samples = new Map(candidates.map((c) => [c.name, []]));
  for (let i = 0; i < rounds + 1; i++) {
    for (const c of candidates) {
      c.prepare();
      const ms = timeOnce(c.argv(), c.env());
      if (i > 0) samples.get(c.name).push(ms); // the first round warms caches
      c.cleanup();
    }
  }
  return candidates.map((c) => ({ name: c.name, ...stats(samples.get(c.name)) }));
}

const pullRows = measure(pulls, ROUNDS);

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
  for (const c of pushes) {
    await c.start();
    const ms = timeOnce(c.argv(), c.env());
    if (i > 0) pushSamples.get(c.name).push(ms);
    c.cleanup();
  }
}
const pushRows = pushes.map((c) => ({ name: c.name, ...stats(pushSamples.get(c.name)) }));

const rows = [...pullRows, ...pushRows];
const med = (n) => rows.find((r) => r.name === n)?.median ?? NaN;
const vsPodman = med('berth pull') / med('podman pull');
const vsSkopeo = med('berth pull') / med('skopeo copy docker:// oci: (no unpack)');
const pushVsSkopeo = med('berth push') / med('skopeo copy oci: docker://');
record('pull', {
  machine: { ...machine(), podman: podman?.version ?? 'not installed', skopeo: spawnSync('skopeo', ['--version'], { encoding: 'utf8' }).stdout.trim() },
  rows,
  verdict: {
    'image': `${LAYERS + 1} layers, ${(imageBytes / 1e6).toFixed(0)} MB unpacked (gzip of random data), loopback docker-registry`,
    'pull berth/podman': vsPodman.toFixed(2), 'pull vs podman target': '≤ 0.80', 'pull vs podman met': String(vsPodman <= 0.8),
    'pull berth/skopeo': vsSkopeo.toFixed(2), 'pull vs skopeo target': '≤ 1.00', 'pull vs skopeo met': String(vsSkopeo <= 1.0),
    'push berth/skopeo': pushVsSkopeo.toFixed(2), 'push target': '≤ 1.00', 'push met': String(pushVsSkopeo <= 1.0),
  },
  notes: 'skopeo only downloads the blobs into an OCI layout; `berth pull` also gunzips every layer, checks its diff ID and unpacks it '
    + '(~206 MB of files) while it downloads, and records the image. Podman does the same work as Berth.',
});

for (const r of registries) r.kill('SIGKILL');
spawnSync(builder.cmd()[0], [...builder.cmd().slice(1), 'rm', '-af'], { env: builder.env, stdio: 'ignore' });
podman?.cleanup();
cleanupCgroups('berth-bench');
cleanupNetwork(dir);
fs.rmSync(dir, { recursive: true, force: true });
