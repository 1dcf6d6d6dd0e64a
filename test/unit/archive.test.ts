// berth save / load: docker-archive and oci-archive round trips, compatibility
// with skopeo, and hostile archives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { loadConfig } from '../../src/engine/config.js';
import { Engine } from '../../src/engine/engine.js';
import { isBerthError } from '../../src/engine/errors.js';
import { loadArchive } from '../../src/image/archive-load.js';
import { saveArchive, type ArchiveFormat } from '../../src/image/archive-save.js';
import { storeImage } from '../../src/image/writer.js';
import { withImageLock } from '../../src/image/lock.js';
import { goArch, type ImageConfig } from '../../src/image/types.js';
import { sha256 } from '../../src/content/store.js';

const SKOPEO = '/usr/bin/skopeo';

interface Env { tmp: string; a: Engine; b: Engine }

/** Engine `a` holds the bootstrapped busybox, engine `b` is empty. */
async function setup(t: { after(fn: () => void): void }): Promise<Env> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-archive-'));
  const mk = (n: string) => new Engine(loadConfig({ root: `${tmp}/${n}/root`, runroot: `${tmp}/${n}/run` }));
  const env = { tmp, a: mk('a'), b: mk('b') };
  t.after(() => {
    env.a.close();
    env.b.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });
  await env.a.bootstrapImage('busybox');
  return env;
}

async function save(e: Engine, refs: string[], format: ArchiveFormat, file: string): Promise<void> {
  const out = fs.createWriteStream(file);
  try {
    await saveArchive(e.ctx, refs, format, out);
  } finally {
    await new Promise<void>((res) => out.end(() => res()));
  }
}

const load = (e: Engine, file: string) => loadArchive(e.ctx, fs.createReadStream(file));
const loadBuf = (e: Engine, buf: Buffer) => loadArchive(e.ctx, Readable.from([buf]));

/** Entries of a tar file: name -> contents. */
async function readTarFile(file: string): Promise<Map<string, Buffer>> {
  const ex = tar.extract();
  fs.createReadStream(file).pipe(ex as unknown as NodeJS.WritableStream);
  const out = new Map<string, Buffer>();
  for await (const entry of ex) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    out.set(entry.header.name, Buffer.concat(chunks));
  }
  return out;
}

type Ent = { name: string; data?: string | Buffer; type?: 'file' | 'symlink' | 'directory'; linkname?: string };

async function makeTar(entries: Ent[]): Promise<Buffer> {
  const p = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => { for await (const c of p) chunks.push(c as Buffer); })();
  for (const e of entries) {
    await new Promise<void>((res, rej) => {
      const cb = (err?: Error | null) => (err ? rej(err) : res());
      if ((e.type ?? 'file') === 'file') p.entry({ name: e.name }, e.data ?? '', cb);
      else p.entry({ name: e.name, type: e.type, linkname: e.linkname }, cb);
    });
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function expectCorrupt(e: Engine, input: Buffer, re: RegExp): Promise<void> {
  const before = e.listImages().length;
  await assert.rejects(loadBuf(e, input), (err: unknown) => {
    assert.ok(isBerthError(err, 'corrupt'), `expected a corrupt error, got ${String(err)}`);
    assert.match(err.message, re);
    assert.ok(!err.message.includes('\n'), 'one-line message');
    return true;
  });
  assert.equal(e.listImages().length, before, 'no image may appear');
}

/** A second image sharing busybox's layer (only its config differs). */
async function secondImage(e: Engine): Promise<string> {
  const row = e.ctx.images.resolve('busybox');
  const cfg = e.ctx.content.readJson<ImageConfig>(row.record.configDigest);
  cfg.config = { ...cfg.config, Cmd: ['echo', 'other'] };
  const rec = await withImageLock(e.ctx, () => storeImage(e.ctx.content, e.ctx.images, e.ctx.layers, {
    configBytes: Buffer.from(JSON.stringify(cfg)),
    layers: row.record.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    names: ['localhost/other:1'],
  }));
  return rec.id;
}

test('docker-archive round trip keeps the image ID, names and diff IDs', async (t) => {
  const env = await setup(t);
  const src = env.a.ctx.images.resolve('busybox');
  const file = path.join(env.tmp, 'bb.tar');
  await save(env.a, ['busybox'], 'docker-archive', file);
  const entries = await readTarFile(file);
  const manifest = JSON.parse(entries.get('manifest.json')!.toString()) as { Config: string; RepoTags: string[]; Layers: string[] }[];
  assert.deepEqual(manifest, [{
    Config: `${src.record.id}.json`, RepoTags: ['localhost/busybox:latest'],
    Layers: src.record.layers.map((l) => `${l.diffId.slice(7)}/layer.tar`),
  }]);
  assert.ok(entries.has('repositories'));
  // The config is byte-identical; the layer is the uncompressed tar.
  assert.deepEqual(entries.get(`${src.record.id}.json`), env.a.ctx.content.read(src.record.configDigest));
  const res = await load(env.b, file);
  assert.deepEqual(res.ids, [src.record.id]);
  assert.deepEqual(res.names, ['localhost/busybox:latest']);
  const got = env.b.ctx.images.resolve('busybox');
  assert.equal(got.record.id, src.record.id);
  assert.deepEqual(got.names, src.names);
  assert.deepEqual(got.record.layers.map((l) => l.diffId), src.record.layers.map((l) => l.diffId));
  assert.deepEqual(got.record.layers.map((l) => l.digest), src.record.layers.map((l) => l.diffId));
  // Saving the loaded (uncompressed) image again gives the same archive contents.
  const again = path.join(env.tmp, 'bb2.tar');
  await save(env.b, [src.record.id], 'docker-archive', again);
  assert.equal(JSON.parse((await readTarFile(again)).get('manifest.json')!.toString())[0].Config, `${src.record.id}.json`);
});

test('oci-archive round trip keeps the image ID, names, manifest and layer digests', async (t) => {
  const env = await setup(t);
  const src = env.a.ctx.images.resolve('busybox');
  const file = path.join(env.tmp, 'bb.oci.tar');
  await save(env.a, ['localhost/busybox:latest'], 'oci-archive', file);
  const entries = await readTarFile(file);
  const index = JSON.parse(entries.get('index.json')!.toString()) as { manifests: { digest: string; annotations: Record<string, string> }[] };
  assert.equal(index.manifests.length, 1);
  assert.equal(index.manifests[0]!.digest, src.record.manifestDigest);
  assert.equal(index.manifests[0]!.annotations['org.opencontainers.image.ref.name'], 'localhost/busybox:latest');
  assert.ok(entries.has('oci-layout'));
  const res = await load(env.b, file);
  assert.deepEqual(res, { names: ['localhost/busybox:latest'], ids: [src.record.id], namedIds: [src.record.id] });
  const got = env.b.ctx.images.resolve('localhost/busybox:latest');
  assert.equal(got.record.manifestDigest, src.record.manifestDigest);
  assert.deepEqual(got.record.layers, src.record.layers);
});

test('several images in one archive, shared blobs written once', async (t) => {
  const env = await setup(t);
  const idA = env.a.ctx.images.resolve('busybox').record.id;
  const idB = await secondImage(env.a);
  for (const format of ['docker-archive', 'oci-archive'] as const) {
    const file = path.join(env.tmp, `multi-${format}.tar`);
    await save(env.a, ['busybox', 'localhost/other:1', idA], format, file);
    const names = [...(await readTarFile(file)).keys()];
    if (format === 'docker-archive') assert.equal(names.filter((n) => n.endsWith('/layer.tar')).length, 1);
    else assert.equal(names.filter((n) => n.startsWith('blobs/')).length, 5); // 2 manifests, 2 configs, 1 layer
    const dest = new Engine(loadConfig({ root: `${env.tmp}/m-${format}/root`, runroot: `${env.tmp}/m-${format}/run` }));
    try {
      const res = await load(dest, file);
      assert.deepEqual(res.ids.sort(), [idA, idB].sort());
      assert.deepEqual(res.names.sort(), ['localhost/busybox:latest', 'localhost/other:1']);
      assert.equal(dest.listImages().length, 2);
      assert.equal(dest.ctx.images.resolve('localhost/other:1').record.id, idB);
    } finally {
      dest.close();
    }
  }
});

test('gzip- and zstd-compressed archives load', async (t) => {
  const env = await setup(t);
  const id = env.a.ctx.images.resolve('busybox').record.id;
  const file = path.join(env.tmp, 'bb.tar');
  await save(env.a, ['busybox'], 'docker-archive', file);
  const res = await loadBuf(env.b, gzipSync(fs.readFileSync(file)));
  assert.deepEqual(res.ids, [id]);
  if (spawnSync('zstd', ['--version']).status === 0) {
    const z = spawnSync('zstd', ['-q', '-c', file], { maxBuffer: 1 << 30 });
    assert.equal(z.status, 0);
    const c = new Engine(loadConfig({ root: `${env.tmp}/z/root`, runroot: `${env.tmp}/z/run` }));
    try { assert.deepEqual((await loadBuf(c, z.stdout)).ids, [id]); } finally { c.close(); }
  }
});

test('unknown image on save: not-found and nothing written', async (t) => {
  const env = await setup(t);
  const file = path.join(env.tmp, 'none.tar');
  await assert.rejects(save(env.a, ['busybox', 'nosuchimage'], 'docker-archive', file), (e: unknown) => isBerthError(e, 'not-found'));
  assert.equal(fs.statSync(file).size, 0);
});

test('docker-archive layer size: recorded size, counted when implausible, mismatch refused', async (t) => {
  const env = await setup(t);
  const src = env.a.ctx.images.resolve('busybox').record;
  const chain = src.layers[0]!.chainId;
  const recorded = env.a.ctx.images.layerSize(chain);
  assert.equal(recorded % 512, 0);
  const setSize = (n: number) => env.a.ctx.db.prepare('UPDATE layers SET size = ? WHERE chain_id = ?').run(n, chain);
  setSize(12345); // e.g. measured from the directory: not a tar stream length, so counted again
  const file = path.join(env.tmp, 'counted.tar');
  await save(env.a, ['busybox'], 'docker-archive', file);
  assert.equal((await readTarFile(file)).get(`${src.layers[0]!.diffId.slice(7)}/layer.tar`)!.length, recorded);
  assert.deepEqual((await load(env.b, file)).ids, [src.id]);
  setSize(recorded + 512); // plausible but wrong: detected while streaming
  await assert.rejects(save(env.a, ['busybox'], 'docker-archive', path.join(env.tmp, 'bad.tar')),
    (e: unknown) => isBerthError(e, 'corrupt') && /not the \d+ recorded/.test(e.message));
});

test('skopeo reads our archives and we read skopeo\'s', async (t) => {
  if (!fs.existsSync(SKOPEO)) return t.skip('skopeo is not installed');
  const env = await setup(t);
  const id = env.a.ctx.images.resolve('busybox').record.id;
  const oci = path.join(env.tmp, 'ours.oci.tar');
  const dock = path.join(env.tmp, 'ours.docker.tar');
  await save(env.a, ['busybox'], 'oci-archive', oci);
  await save(env.a, ['busybox'], 'docker-archive', dock);
  const skopeo = (...args: string[]) => {
    const r = spawnSync(SKOPEO, ['--insecure-policy', 'copy', '-q', ...args], { encoding: 'utf8' });
    assert.equal(r.status, 0, `skopeo ${args.join(' ')}: ${r.stderr}`);
  };
  const theirs = path.join(env.tmp, 'theirs.tar');
  skopeo(`oci-archive:${oci}`, `docker-archive:${theirs}:localhost/sk:1`);
  const res = await load(env.b, theirs);
  assert.deepEqual(res.ids, [id]);
  assert.deepEqual(res.names, ['localhost/sk:1']);
  skopeo(`docker-archive:${dock}`, `oci:${path.join(env.tmp, 'layout')}`);
  skopeo(`docker-archive:${dock}`, `oci-archive:${path.join(env.tmp, 'theirs.oci.tar')}:localhost/sk:2`);
  const c = new Engine(loadConfig({ root: `${env.tmp}/c/root`, runroot: `${env.tmp}/c/run` }));
  try {
    // Converting schema2 to OCI, skopeo re-serializes the config (and so changes the ID)
    // and recompresses the layer; the diff IDs stay.
    const r2 = await load(c, path.join(env.tmp, 'theirs.oci.tar'));
    assert.deepEqual(r2.names, ['localhost/sk:2']);
    const got = c.ctx.images.resolve('localhost/sk:2').record;
    assert.deepEqual(got.layers.map((l) => l.diffId), env.a.ctx.images.resolve('busybox').record.layers.map((l) => l.diffId));
  } finally {
    c.close();
  }
});

test('hostile and broken archives are refused and leave no image', async (t) => {
  const env = await setup(t);
  const b = env.b;
  const cfg = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });
  const m = (x: unknown) => JSON.stringify(x);
  await expectCorrupt(b, Buffer.alloc(0), /not a docker-archive or oci-archive: the input is empty/);
  await expectCorrupt(b, Buffer.from('this is not a tar file at all\n'.repeat(40)), /not a tar archive/);
  await expectCorrupt(b, await makeTar([]), /no files/);
  await expectCorrupt(b, await makeTar([{ name: 'hello.txt', data: 'hi' }]), /neither manifest\.json .* nor index\.json/);
  await expectCorrupt(b, await makeTar([{ name: '../evil', data: 'x' }]), /"\.\.\/evil" points outside the archive/);
  await expectCorrupt(b, await makeTar([{ name: 'a/../../evil', data: 'x' }]), /points outside the archive/);
  await expectCorrupt(b, await makeTar([{ name: '/etc/evil', data: 'x' }]), /absolute path/);
  await expectCorrupt(b, await makeTar([{ name: 'l', type: 'symlink', linkname: '../../etc/passwd' }]), /points outside the archive/);
  await expectCorrupt(b, await makeTar([{ name: 'manifest.json', data: m([{ Config: 'c.json', RepoTags: ['x:1'], Layers: [] }]) }]),
    /manifest\.json references config "c\.json", which is not in the archive/);
  await expectCorrupt(b, await makeTar([
    { name: 'c.json', data: cfg },
    { name: 'manifest.json', data: m([{ Config: 'c.json', RepoTags: ['x:1'], Layers: ['l/layer.tar'] }]) },
  ]), /references layer "l\/layer\.tar", which is not in the archive|lists 0 layers but manifest\.json has 1/);
  await expectCorrupt(b, await makeTar([
    { name: 'c.json', data: cfg }, { name: 'l/layer.tar', data: await makeTar([{ name: 'f', data: 'x' }]) },
    { name: 'manifest.json', data: m([{ Config: 'c.json', RepoTags: ['x:1'], Layers: ['l/layer.tar'] }]) },
  ]), /config c\.json lists 0 layers but manifest\.json has 1/);
  await expectCorrupt(b, await makeTar([{ name: 'c.json', data: 'not json' }, { name: 'manifest.json', data: m([{ Config: 'c.json', Layers: [] }]) }]),
    /config c\.json is not valid JSON/);
  await expectCorrupt(b, await makeTar([{ name: 'manifest.json', data: '{' }]), /manifest\.json is not valid JSON/);
  await expectCorrupt(b, await makeTar([{ name: 'manifest.json', data: m([]) }]), /lists no images/);
  // A layer whose content does not match the config's diff ID.
  const layer = await makeTar([{ name: 'f', data: 'x' }]);
  await expectCorrupt(b, await makeTar([
    { name: 'c.json', data: JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: ['sha256:' + '0'.repeat(64)] } }) },
    { name: 'l/layer.tar', data: layer },
    { name: 'manifest.json', data: m([{ Config: 'c.json', RepoTags: ['x:1'], Layers: ['l/layer.tar'] }]) },
  ]), /diffID mismatch/);
  // Truncated real archives, plain and gzip.
  const file = path.join(env.tmp, 'bb.tar');
  await save(env.a, ['busybox'], 'docker-archive', file);
  const whole = fs.readFileSync(file);
  await expectCorrupt(b, whole.subarray(0, Math.floor(whole.length / 2)), /truncated archive/);
  await expectCorrupt(b, gzipSync(whole).subarray(0, 4000), /truncated/);
  assert.equal(b.listImages().length, 0);
});

test('oci-archive: a blob that does not match its name is refused', async (t) => {
  const env = await setup(t);
  const file = path.join(env.tmp, 'bb.oci.tar');
  await save(env.a, ['busybox'], 'oci-archive', file);
  const entries = await readTarFile(file);
  const cfgDigest = env.a.ctx.images.resolve('busybox').record.configDigest;
  const tampered: Ent[] = [...entries].map(([name, data]) => ({
    name, data: name === `blobs/sha256/${cfgDigest.slice(7)}` ? Buffer.from(data.toString().replace('"sh"', '"id"')) : data,
  }));
  await expectCorrupt(env.b, await makeTar(tampered), new RegExp(`blob blobs/sha256/${cfgDigest.slice(7)} does not match its digest`));
  // index.json naming a manifest that is not in the archive.
  const missing: Ent[] = [...entries].filter(([n]) => !n.startsWith('blobs/')).map(([name, data]) => ({ name, data }));
  await expectCorrupt(env.b, await makeTar(missing), /index\.json entry sha256:[0-9a-f]{64} is not in the archive/);
});

test('Docker >= 25 layout (manifest.json over an OCI layout, symlinked layer) and nested indexes', async (t) => {
  const env = await setup(t);
  const src = env.a.ctx.images.resolve('busybox').record;
  const file = path.join(env.tmp, 'bb.oci.tar');
  await save(env.a, ['busybox'], 'oci-archive', file);
  const entries = await readTarFile(file);
  const blobs: Ent[] = [...entries].filter(([n]) => n.startsWith('blobs/')).map(([name, data]) => ({ name, data }));
  const docker25: Ent[] = [
    ...blobs,
    { name: 'index.json', data: entries.get('index.json')! },
    { name: 'oci-layout', data: entries.get('oci-layout')! },
    { name: 'legacy/layer.tar', type: 'symlink', linkname: `../blobs/sha256/${src.layers[0]!.digest.slice(7)}` },
    { name: 'manifest.json', data: JSON.stringify([{ Config: `blobs/sha256/${src.id}`, RepoTags: ['busybox:latest'], Layers: ['legacy/layer.tar'] }]) },
  ];
  const res = await loadBuf(env.b, await makeTar(docker25));
  assert.deepEqual(res.ids, [src.id]);
  assert.deepEqual(res.names, ['docker.io/library/busybox:latest', 'localhost/busybox:latest']);
  assert.equal(env.b.ctx.images.resolve('busybox:latest').record.manifestDigest, src.manifestDigest);

  const manifestDesc = { mediaType: src.manifestMediaType, digest: src.manifestDigest, size: env.a.ctx.content.size(src.manifestDigest) };
  const nested = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      { mediaType: manifestDesc.mediaType, digest: 'sha256:' + '1'.repeat(64), size: 10, platform: { os: 'linux', architecture: 'other' } },
      { ...manifestDesc, platform: { os: 'linux', architecture: goArch() } },
    ],
  }));
  const indexJson = JSON.stringify({ schemaVersion: 2, manifests: [{
    mediaType: 'application/vnd.oci.image.index.v1+json', digest: sha256(nested), size: nested.length,
    annotations: { 'io.containerd.image.name': 'example.com/nested:1', 'org.opencontainers.image.ref.name': '1' },
  }] });
  const c = new Engine(loadConfig({ root: `${env.tmp}/n/root`, runroot: `${env.tmp}/n/run` }));
  try {
    const r2 = await loadBuf(c, await makeTar([
      { name: 'oci-layout', data: '{"imageLayoutVersion":"1.0.0"}' }, ...blobs,
      { name: `blobs/sha256/${sha256(nested).slice(7)}`, data: nested }, { name: 'index.json', data: indexJson },
    ]));
    assert.deepEqual(r2, { names: ['example.com/nested:1'], ids: [src.id], namedIds: [src.id] });
    assert.equal(c.ctx.images.resolve('example.com/nested:1').record.manifestDigest, src.manifestDigest);
  } finally {
    c.close();
  }
});
