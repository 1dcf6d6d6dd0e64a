// Registry failures, with a misbehaving registry written for the test: retries
// of 5xx answers and cut connections (resumed with Range, or without it),
// resuming an interrupted pull without fetching finished blobs again, and the
// bad-input list: wrong digests, a manifest that is not JSON or is 100 MB, an
// unreachable registry. A failed pull leaves no image behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { BERTH, TestEnv, eventually } from '../helpers/env.js';
import { FakeRegistry } from '../helpers/fake-registry.js';
import { freePort } from '../helpers/registry.js';

let t: TestEnv;   // builds the image
let u: TestEnv;   // pulls
let fake: FakeRegistry;
let layout = '';
let imageId = '';

before(async () => {
  t = await TestEnv.create();
  u = await TestEnv.create({ bootstrap: false });
  await t.ok(['run', '--network', 'none', '--name', 'l1', 'busybox', 'sh', '-c', 'head -c 300000 /dev/urandom > /blob1']);
  await t.ok(['commit', 'l1', 'faulty:1']);
  await t.ok(['run', '--network', 'none', '--name', 'l2', 'faulty:1', 'sh', '-c', 'head -c 300000 /dev/urandom > /blob2']);
  await t.ok(['commit', 'l2', 'faulty:1']);
  await t.ok(['rm', 'l1', 'l2']);
  imageId = (await t.ok(['image', 'inspect', '--format', '{{.Id}}', 'faulty:1'])).trim();
  const archive = path.join(t.dir, 'faulty.tar');
  await t.ok(['save', '--format', 'oci-archive', '-o', archive, 'faulty:1']);
  layout = path.join(t.dir, 'layout');
  fs.mkdirSync(layout);
  assert.equal(spawnSync('tar', ['-xf', archive, '-C', layout]).status, 0);
  fake = await FakeRegistry.start(layout);
});
after(async () => {
  fake?.stop();
  await u?.cleanup();
  await t?.cleanup();
});

const ref = () => `${fake.host}/repo:1`;
const images = async () => (await u.ok(['images', '-q'])).trim();
const reset = async () => {
  fake.faults = {};
  fake.requests = [];
  await u.berth(['rmi', '-af']);
  await u.ok(['image', 'prune', '-a']);
  await u.ok(['system', 'prune', '-af']);
};

/** Every blob in the store has the bytes its name says (they are written with O_DIRECT, in pieces, resumed). */
function blobsIntact(env: TestEnv): void {
  const dir = path.join(env.root, 'blobs', 'sha256');
  const names = fs.readdirSync(dir);
  assert.ok(names.length > 0);
  for (const n of names) assert.equal(createHash('sha256').update(fs.readFileSync(path.join(dir, n))).digest('hex'), n, `blob ${n}`);
}

/** Pull must fail with `re`, change nothing visible, and leave no blob of a bad digest. */
async function failsCleanly(re: RegExp, args: string[] = []): Promise<string> {
  const before = await images();
  const r = await u.berth(['pull', ...args, ref()]);
  assert.equal(r.code, 125, r.stderr);
  assert.match(r.stderr, re);
  assert.equal(r.stderr.split('\n').filter((l) => l.startsWith('Error:')).length, 1, r.stderr);
  assert.equal(await images(), before, 'berth images unchanged after a failed pull');
  return r.stderr;
}

test('5xx answers and cut connections are retried; a cut blob resumes with Range', async () => {
  await reset();
  const [l0, , l2] = fake.layers();
  fake.faults.status = new Map([['manifests', { code: 503, times: 2 }], [l0!, { code: 500, times: 1 }]]);
  fake.faults.truncate = new Map([[l2!, 2]]);
  const r = await u.berth(['pull', '-q', ref()]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), imageId);
  const ranged = fake.requests.filter((q) => q.path.endsWith(l2!) && q.range);
  assert.equal(ranged.length, 2, JSON.stringify(fake.requests));
  assert.ok(ranged.every((q) => /^bytes=[1-9]\d*-$/.test(q.range!)));
  assert.equal((await u.ok(['run', '--rm', '--network', 'none', ref(), 'sh', '-c', 'wc -c < /blob2'])).trim(), '300000');
  blobsIntact(u);

  // Without Range support the bytes already received are skipped in a full download.
  await reset();
  fake.faults.range = false;
  fake.faults.truncate = new Map([[l2!, 1]]);
  assert.equal((await u.ok(['pull', '-q', ref()])).trim(), imageId);
  blobsIntact(u);
});

test('blobs redirected to another host (a CDN) are fetched there, and the registry credentials stay with the registry', async () => {
  await reset();
  const cdn = await FakeRegistry.start(layout);
  try {
    fake.faults.redirect = cdn.host;
    fake.faults.basicAuth = 'alice:secret';
    const r = await u.berth(['pull', '-q', '--creds', 'alice:secret', ref()]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), imageId);
    const fetched = cdn.requests.filter((q) => q.method === 'GET').map((q) => q.path.split('/').pop());
    for (const d of fake.layers()) assert.ok(fetched.includes(d), `layer ${d} came from the CDN`);
    assert.deepEqual(cdn.requests.filter((q) => q.authorization), [], 'no credentials were sent to the CDN');
    assert.ok(fake.requests.some((q) => q.path.includes('/blobs/') && q.authorization?.startsWith('Basic ')), 'the registry got them');
  } finally {
    cdn.stop();
  }
});

test('the layers download and unpack while the config does; a config that then fails stops them and leaves nothing', async () => {
  await reset();
  const config = fake.config();
  const requestedEarly = () => {
    const answered = fake.requests.find((q) => q.path.endsWith(config))!.answered!;
    for (const d of fake.layers()) {
      const q = fake.requests.find((x) => x.method === 'GET' && x.path.endsWith(d));
      assert.ok(q && q.at < answered, `layer ${d} was requested before the config was answered: ${JSON.stringify(fake.requests)}`);
    }
  };
  fake.faults.delay = new Map([[config, 1000]]);
  const r = await u.berth(['pull', '-q', ref()]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), imageId);
  requestedEarly();
  assert.equal((await u.ok(['run', '--rm', '--network', 'none', ref(), 'wc', '-c', '/blob1', '/blob2'])).trim().split('\n').at(-1)!.trim(), '600000 total');

  // The layers are complete (and unpacked, unnamed) when the config turns out damaged.
  await reset();
  fake.faults.delay = new Map([[config, 1000]]);
  fake.faults.corrupt = config;
  await failsCleanly(/the config of .* does not match its digest/);
  requestedEarly();
  const layers = path.join(u.root, 'layers');
  const nothingLeft = () => {
    assert.deepEqual(fs.existsSync(layers) ? fs.readdirSync(layers) : [], [], 'no layer directory and no temporary unpack left');
    assert.deepEqual(fs.readdirSync(path.join(u.root, 'ingest')), [], 'no partial blob left');
  };
  nothingLeft();

  // A layer fails while the config is still on its way. The others, complete, stay for the next try.
  await reset();
  fake.faults.delay = new Map([[config, 500]]);
  fake.faults.corrupt = fake.layers()[0];
  await failsCleanly(/layer sha256:[0-9a-f]{64} of .* does not match its digest/);
  assert.deepEqual(fs.readdirSync(layers).filter((n) => n.startsWith('.tmp-')), [], 'no temporary unpack left');
  assert.deepEqual(fs.readdirSync(path.join(u.root, 'ingest')), [], 'no partial blob left');

  // The layers are still coming (slowly) when the config turns out damaged: their downloads stop.
  await reset();
  fake.faults.delay = new Map([[config, 150]]);
  fake.faults.corrupt = config;
  fake.faults.slow = true;
  await failsCleanly(/the config of .* does not match its digest/);
  requestedEarly();
  const cut = fake.requests.filter((q) => fake.layers().some((d) => q.path.endsWith(d)) && q.finished === undefined);
  assert.ok(cut.length > 0, `a layer download was given up: ${JSON.stringify(fake.requests)}`);
  nothingLeft();
});

test('a layer still unpacked whose blob is gone: the blob is fetched again, the layer kept as it is', async () => {
  await reset();
  await u.ok(['pull', '-q', ref()]);
  const layers = path.join(u.root, 'layers');
  const dirs = () => fs.readdirSync(layers).sort().map((n) => `${n} ${fs.statSync(path.join(layers, n)).ino}`);
  const before = dirs();
  const blob = (d: string) => path.join(u.root, 'blobs', 'sha256', d.slice(7));
  for (const d of fake.layers()) fs.rmSync(blob(d));
  fake.requests = [];
  const r = await u.berth(['pull', '-q', ref()]);
  assert.equal(r.code, 0, r.stderr);
  for (const d of fake.layers()) {
    assert.equal(fake.blobRequests(d), 1, `layer ${d} fetched once`);
    assert.ok(fs.existsSync(blob(d)), `layer ${d} is in the store again`);
  }
  assert.deepEqual(dirs(), before, 'the same layer directories, not unpacked again, and no temporary one left');
});

test('a pull into a full disk fails clearly and leaves no partial blob, layer or image', async (tc) => {
  await reset();
  const v = await TestEnv.create({ bootstrap: false });
  fs.mkdirSync(v.root, { recursive: true });
  // Room for the store's database, not for the image (~2 MB of blobs and as much unpacked).
  if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1200k', 'tmpfs', v.root]).status !== 0) {
    tc.skip('cannot mount a tmpfs here');
    await v.cleanup();
    return;
  }
  try {
    const r = await v.berth(['pull', '-q', ref()]);
    assert.equal(r.code, 125, r.stderr);
    assert.match(r.stderr, /no space left on device, write: free some space \(berth system prune/);
    assert.equal(r.stderr.split('\n').filter((l) => l.startsWith('Error:')).length, 1, r.stderr);
    assert.equal((await v.ok(['images', '-q'])).trim(), '');
    const left = spawnSync('find', [v.root, '-path', '*/ingest/*', '-o', '-name', '.tmp-*'], { encoding: 'utf8' }).stdout.trim();
    assert.equal(left, '', 'partial downloads or layer directories left behind');
  } finally {
    spawnSync('umount', [v.root]);
    await v.cleanup();
  }
});

test('a large layer that is broken in its middle fails at once, not after the download stalls', async () => {
  await reset();
  // An image whose last layer is a tar of one 8 MB file followed by 16 MB of junk: its digest is
  // right (the image itself is damaged), so the unpacker fails while much of the blob is still to
  // come and its input is full.
  const broken = path.join(t.dir, 'broken-layout');
  fs.cpSync(layout, broken, { recursive: true });
  const blob = (b: Buffer) => {
    const d = createHash('sha256').update(b).digest('hex');
    fs.writeFileSync(path.join(broken, 'blobs', 'sha256', d), b);
    return { digest: `sha256:${d}`, size: b.length };
  };
  const index = JSON.parse(fs.readFileSync(path.join(broken, 'index.json'), 'utf8')) as { manifests: { digest: string; size: number }[] };
  const read = (d: string) => JSON.parse(fs.readFileSync(path.join(broken, 'blobs', 'sha256', d.slice(7)), 'utf8'));
  const manifest = read(index.manifests[0]!.digest);
  const config = read(manifest.config.digest);
  const work = path.join(t.dir, 'broken-tar');
  fs.mkdirSync(work);
  fs.writeFileSync(path.join(work, 'big'), randomBytes(8 << 20));
  assert.equal(spawnSync('tar', ['--format=posix', '-b', '1', '-cf', path.join(work, 'x.tar'), '-C', work, 'big']).status, 0);
  const tar = fs.readFileSync(path.join(work, 'x.tar'));
  const junk = blob(Buffer.concat([tar.subarray(0, tar.length - 1024), randomBytes(16 << 20)]));
  config.rootfs.diff_ids.push(junk.digest);
  manifest.config = { ...manifest.config, ...blob(Buffer.from(JSON.stringify(config))) };
  manifest.layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...junk });
  index.manifests[0] = { ...index.manifests[0]!, ...blob(Buffer.from(JSON.stringify(manifest))) };
  fs.writeFileSync(path.join(broken, 'index.json'), JSON.stringify(index));
  const bad = await FakeRegistry.start(broken);
  try {
    // A stall lasts until the registry connection's 60 s idle timeout: past this limit, the call fails.
    const r = await u.berth(['pull', '-q', `${bad.host}/repo:1`], { timeoutMs: 50_000 });
    assert.equal(r.code, 125, r.stderr);
    assert.match(r.stderr, new RegExp(`layer ${junk.digest} of ${bad.host.replace(/\./g, '\\.')}/repo:1: .*(checksum|invalid tar header)`));
    assert.equal(await images(), '');
    const left = spawnSync('find', [u.root, '-path', '*/ingest/*', '-o', '-name', '.tmp-*'], { encoding: 'utf8' }).stdout.trim();
    assert.equal(left, '', 'partial downloads or layer directories left behind');
  } finally {
    bad.stop();
  }
});

test('an interrupted pull resumes without fetching finished blobs again', async () => {
  await reset();
  const layers = fake.layers();
  const last = layers.at(-1)!;
  fake.faults.status = new Map([[last, { code: 500, times: 100 }]]);
  await failsCleanly(/registry 127\.0\.0\.1:\d+ answered 500 for the blob of .*fake failure 500.*after 5 attempts\): try again later/);
  const finished = layers.slice(0, -1);
  assert.ok(finished.every((d) => fake.blobRequests(d) === 1), JSON.stringify(fake.requests));
  fake.faults.status = new Map();
  fake.requests = [];
  assert.equal((await u.ok(['pull', '-q', ref()])).trim(), imageId);
  for (const d of finished) assert.equal(fake.blobRequests(d), 0, `blob ${d} was fetched again`);
  assert.equal(fake.blobRequests(last), 1);
});

test('a pull killed (kill -9) mid-download leaves no image; the next pull fetches only what was missing, and GC removes the partial files', async () => {
  await reset();
  const layers = fake.layers();
  const last = layers.at(-1)!;
  const finished = layers.slice(0, -1);
  fake.faults.stall = last;
  const child = spawn(BERTH, u.args(['pull', '-q', ref()]), { env: u.env, stdio: 'ignore' });
  const exited = new Promise((r) => child.on('exit', r));
  const layersDir = path.join(u.root, 'layers');
  const listLayers = () => (fs.existsSync(layersDir) ? fs.readdirSync(layersDir) : []);
  // Killed once the other layers are unpacked and the last one is half sent.
  await eventually(() => fake.blobRequests(last) === 1 && listLayers().filter((n) => /^[a-f0-9]{64}$/.test(n)).length === finished.length, 20_000, 'the first layers');
  child.kill('SIGKILL');
  await exited;
  assert.equal(await images(), '', 'no image after a killed pull');
  assert.ok(listLayers().some((n) => n.startsWith('.tmp-')), 'the killed pull was unpacking the last layer');

  fake.faults = {};
  fake.requests = [];
  assert.equal((await u.ok(['pull', '-q', ref()])).trim(), imageId);
  for (const d of finished) assert.equal(fake.blobRequests(d), 0, `blob ${d} was fetched again`);
  assert.equal(fake.blobRequests(last), 1);
  assert.equal((await u.ok(['run', '--rm', '--network', 'none', ref(), 'sh', '-c', 'wc -c < /blob2'])).trim(), '300000');
  await u.ok(['image', 'prune']);
  assert.deepEqual(listLayers().filter((n) => !/^[a-f0-9]{64}$/.test(n)), [], 'partial layer directories left');
  assert.deepEqual(fs.readdirSync(path.join(u.root, 'ingest')), [], 'partial downloads left');
});

test('a blob cut every time fails after the retries, mid-file, without hanging or leaving a half-unpacked layer', async () => {
  await reset();
  const [, , l2] = fake.layers();
  fake.faults.truncate = new Map([[l2!, 100]]);
  const r = await u.berth(['pull', ref()], { timeoutMs: 60_000 });
  assert.equal(r.code, 125, r.stderr);
  assert.match(r.stderr, /registry 127\.0\.0\.1:\d+ .*\(after 5 attempts\): try again later/);
  const layersDir = path.join(u.root, 'layers');
  const temps = fs.existsSync(layersDir) ? fs.readdirSync(layersDir).filter((n) => n.startsWith('.tmp-')) : [];
  assert.deepEqual(temps, [], 'a half-unpacked layer was left');
  assert.equal(await images(), '');
});

test('bad digests, bad manifests and unreachable registries fail clearly and leave nothing', async () => {
  await reset();
  const [, l1] = fake.layers();
  fake.faults.corrupt = l1;
  await failsCleanly(/layer sha256:[a-f0-9]{64} of 127\.0\.0\.1:\d+\/repo:1 does not match its digest \(expected sha256:\w+, got sha256:\w+\): registry 127\.0\.0\.1:\d+ or a proxy altered it; nothing was stored, try again/);
  assert.equal(fs.existsSync(path.join(u.root, 'blobs', 'sha256', l1!.slice(7))), false, 'no blob under a digest it does not have');

  await reset();
  fake.faults.wrongDigestHeader = true;
  await failsCleanly(/the manifest of 127\.0\.0\.1:\d+\/repo:1 does not match its digest: expected sha256:0{64}, got sha256:\w+ \(the registry or a proxy altered it\)/);

  await reset();
  fake.faults.manifestNotJson = true;
  await failsCleanly(/the manifest of 127\.0\.0\.1:\d+\/repo:1 is not valid JSON: the registry is broken or serves something else/);

  for (const mode of ['length', 'chunked'] as const) {
    await reset();
    fake.faults.hugeManifest = mode;
    await failsCleanly(/the manifest of 127\.0\.0\.1:\d+\/repo:1 is (104857600 bytes, )?more than the 4194304 (bytes )?allowed: the registry is broken or hostile/);
  }

  await reset();
  fake.faults.status = new Map([['manifests', { code: 503, times: 100 }]]);
  await failsCleanly(/registry 127\.0\.0\.1:\d+ answered 503 for the manifest of 127\.0\.0\.1:\d+\/repo:1 \(UNAVAILABLE: fake failure 503\) \(after 5 attempts\): try again later/);

  const closed = await freePort();
  const r = await u.berth(['pull', `127.0.0.1:${closed}/repo:1`]);
  assert.equal(r.code, 125);
  assert.match(r.stderr, /cannot reach registry 127\.0\.0\.1:\d+: connection refused on 127\.0\.0\.1:\d+ \(is the registry running\? check the name and port\)/);
  const dns = await u.berth(['pull', 'registry.invalid/repo:1']);
  assert.equal(dns.code, 125);
  assert.match(dns.stderr, /cannot reach registry registry\.invalid: the name registry-1\.docker\.io|cannot reach registry registry\.invalid: the name registry\.invalid does not resolve/);
  assert.equal(await images(), '');
  assert.match((await u.berth(['pull', 'no spaces/allowed'])).stderr, /invalid reference/);
});
