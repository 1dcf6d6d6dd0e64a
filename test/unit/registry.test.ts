// Registry pieces without a network: challenges, platforms, manifest parsing
// and conversion, credential files, settings, progress messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { parseChallenges } from '../../src/registry/auth.js';
import { choosePlatform, convertManifest, parseManifest, parsePlatform } from '../../src/registry/manifest.js';
import { authFilePath, authFilesToRead, lookupCredentials, removeCredentials, storeCredentials } from '../../src/registry/credentials.js';
import { normalizeServer } from '../../src/registry/login.js';
import { hostSettings, isLoopback, mirrorsOf, parseCreds } from '../../src/registry/settings.js';
import { ByteProgress, humanBytes, progressBar, type ProgressMessage } from '../../src/registry/progress.js';
import { loadConfig } from '../../src/engine/config.js';
import { sha256 } from '../../src/content/store.js';
import { LayerWorkers } from '../../src/registry/layer-workers.js';
import { readInto } from '../../src/registry/direct-get.js';
import { BerthError } from '../../src/engine/errors.js';

test('WWW-Authenticate challenges', () => {
  assert.deepEqual(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"'), [
    { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' } },
  ]);
  assert.deepEqual(parseChallenges(['Basic realm="Registry Realm"', 'Bearer realm="x\\"y", error=insufficient_scope']), [
    { scheme: 'basic', params: { realm: 'Registry Realm' } },
    { scheme: 'bearer', params: { realm: 'x"y', error: 'insufficient_scope' } },
  ]);
  assert.deepEqual(parseChallenges('Basic realm="a", Bearer realm="b",service=s'), [
    { scheme: 'basic', params: { realm: 'a' } }, { scheme: 'bearer', params: { realm: 'b', service: 's' } },
  ]);
  assert.deepEqual(parseChallenges(undefined), []);
});

const desc = (digest: string, platform: { os: string; architecture: string; variant?: string }) =>
  ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, size: 1, platform });

test('platforms: parsing and choosing from an index', () => {
  assert.deepEqual(parsePlatform('linux/arm64/v8'), { os: 'linux', architecture: 'arm64', variant: 'v8' });
  assert.deepEqual(parsePlatform('linux/x86_64'), { os: 'linux', architecture: 'amd64' });
  assert.throws(() => parsePlatform('linux/amd64/v1/extra'), /invalid platform/);
  const d = (n: number) => 'sha256:' + String(n).repeat(64);
  const index = { schemaVersion: 2 as const, manifests: [
    desc(d(1), { os: 'linux', architecture: 'amd64' }), desc(d(2), { os: 'linux', architecture: 'arm', variant: 'v6' }),
    desc(d(3), { os: 'linux', architecture: 'arm', variant: 'v7' }), desc(d(4), { os: 'linux', architecture: 'arm64', variant: 'v8' }),
  ] };
  assert.equal(choosePlatform(index, { os: 'linux', architecture: 'amd64' }, 'x').digest, d(1));
  assert.equal(choosePlatform(index, { os: 'linux', architecture: 'arm', variant: 'v7' }, 'x').digest, d(3));
  assert.equal(choosePlatform(index, { os: 'linux', architecture: 'arm64' }, 'x').digest, d(4));
  assert.throws(() => choosePlatform(index, { os: 'windows', architecture: 'amd64' }, 'img'), /img has no image for windows\/amd64 \(it has: linux\/amd64, linux\/arm\/v6, linux\/arm\/v7, linux\/arm64\/v8\)/);
});

const layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: 'sha256:' + 'a'.repeat(64), size: 10 };
const config = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: 'sha256:' + 'b'.repeat(64), size: 5 };
const oci = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [layer] }));

test('manifests: digests, JSON, schema 1, layer types', () => {
  assert.equal(parseManifest(oci, '', sha256(oci), 'x').kind, 'manifest');
  assert.throws(() => parseManifest(oci, '', 'sha256:' + '0'.repeat(64), 'img'), /the manifest of img does not match its digest/);
  assert.throws(() => parseManifest(Buffer.from('{not json'), '', undefined, 'img'), /not valid JSON/);
  assert.throws(() => parseManifest(Buffer.from('{"schemaVersion":1,"fsLayers":[]}'), 'application/vnd.docker.distribution.manifest.v1+prettyjws', undefined, 'img'), /schema 1/);
  const win = Buffer.from(JSON.stringify({ schemaVersion: 2, config, layers: [{ ...layer, mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip' }] }));
  assert.throws(() => parseManifest(win, 'application/vnd.docker.distribution.manifest.v2+json', undefined, 'img'), /foreign/);
  const bad = Buffer.from(JSON.stringify({ schemaVersion: 2, config: { digest: 'md5:x' }, layers: [] }));
  assert.throws(() => parseManifest(bad, '', undefined, 'img'), /malformed config/);
  const idx = Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [] }));
  assert.equal(parseManifest(idx, 'application/vnd.oci.image.index.v1+json', undefined, 'img').kind, 'index');
});

test('manifest conversion keeps blobs and bytes when the format matches', () => {
  assert.equal(convertManifest(oci, 'oci', 'x').bytes, oci);
  const docker = convertManifest(oci, 'v2s2', 'x');
  const m = JSON.parse(docker.bytes.toString());
  assert.equal(docker.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  assert.equal(m.config.mediaType, 'application/vnd.docker.container.image.v1+json');
  assert.equal(m.layers[0].mediaType, 'application/vnd.docker.image.rootfs.diff.tar.gzip');
  assert.equal(m.layers[0].digest, layer.digest);
  const back = JSON.parse(convertManifest(docker.bytes, 'oci', 'x').bytes.toString());
  assert.equal(back.layers[0].mediaType, layer.mediaType);
  const zstd = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config, layers: [{ ...layer, mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd' }] }));
  assert.throws(() => convertManifest(zstd, 'v2s2', 'img'), /img has a layer of type .*zstd, which the Docker v2s2 format cannot describe: push it with --format oci/);
});

test('credential files: Podman auth.json, Docker config.json, overrides', () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-auth-'));
  const env = { HOME: home, XDG_RUNTIME_DIR: path.join(home, 'run') } as NodeJS.ProcessEnv;
  assert.equal(authFilePath(undefined, env), path.join(home, 'run', 'berth', 'auth.json'));
  assert.equal(authFilePath(undefined, { HOME: home }), path.join(home, '.config', 'berth', 'auth.json'));
  assert.deepEqual(authFilesToRead(undefined, { ...env, BERTH_AUTH_FILE: '/x/a.json' }), ['/x/a.json']);
  assert.equal(lookupCredentials('quay.io', undefined, undefined, env), undefined);
  fs.mkdirSync(path.join(home, '.docker'));
  fs.writeFileSync(path.join(home, '.docker', 'config.json'), JSON.stringify({ auths: {
    'https://index.docker.io/v1/': { auth: Buffer.from('hub:pw').toString('base64') },
    'quay.io': { auth: Buffer.from('q:1').toString('base64') },
    'quay.io/team': { auth: Buffer.from('team:2').toString('base64') },
  } }));
  assert.deepEqual(lookupCredentials('docker.io', 'library/x', undefined, env), { username: 'hub', password: 'pw' });
  assert.deepEqual(lookupCredentials('quay.io', 'team/app', undefined, env), { username: 'team', password: '2' });
  assert.deepEqual(lookupCredentials('quay.io', 'other/app', undefined, env), { username: 'q', password: '1' });
  // Berth's own file wins over Docker's.
  const file = storeCredentials('quay.io', { username: 'mine', password: 'p:w' }, undefined, env);
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(lookupCredentials('quay.io', 'other/app', undefined, env), { username: 'mine', password: 'p:w' });
  assert.equal(removeCredentials('quay.io', undefined, env), true);
  assert.equal(removeCredentials('quay.io', undefined, env), false);
  fs.writeFileSync(file, '{broken');
  assert.throws(() => lookupCredentials('quay.io', undefined, undefined, env), /is not valid JSON .*fix or remove it/);
  fs.rmSync(home, { recursive: true });
});

test('registry names, settings and mirrors', () => {
  assert.deepEqual(normalizeServer('https://index.docker.io/v1/'), { key: 'docker.io', host: 'docker.io' });
  assert.deepEqual(normalizeServer(undefined), { key: 'docker.io', host: 'docker.io' });
  assert.deepEqual(normalizeServer('quay.io/org/'), { key: 'quay.io/org', host: 'quay.io' });
  assert.throws(() => normalizeServer('bad host'), /invalid registry/);
  assert.ok(isLoopback('127.0.0.1:5000') && isLoopback('localhost') && isLoopback('[::1]:5000') && !isLoopback('10.0.0.1:5000'));
  const cfg = loadConfig({}, { BERTH_CONFIG: '' });
  cfg.registryInsecure = ['reg.lan'];
  cfg.registryMirrors = ['docker.io=mirror.lan:5000/hub', 'quay.io=qm'];
  assert.deepEqual(hostSettings(cfg, '127.0.0.1:5000'), { host: '127.0.0.1:5000', apiHost: '127.0.0.1:5000', verify: true, allowHttp: true, certDir: path.join(cfg.certsDir, '127.0.0.1:5000') });
  assert.equal(hostSettings(cfg, '127.0.0.1:5000', { tlsVerify: true }).allowHttp, false);
  assert.equal(hostSettings(cfg, 'reg.lan:5000').verify, false);
  assert.equal(hostSettings(cfg, 'docker.io').apiHost, 'registry-1.docker.io');
  assert.equal(hostSettings(cfg, 'quay.io').allowHttp, false);
  assert.deepEqual(mirrorsOf(cfg, 'docker.io'), [{ host: 'mirror.lan:5000', prefix: 'hub' }]);
  assert.deepEqual(parseCreds('u:p:w'), { username: 'u', password: 'p:w' });
  assert.throws(() => parseCreds(':x'), /--creds must be USERNAME/);
});

test('progress messages in Docker JSON form', () => {
  assert.equal(humanBytes(22018), '22.02kB');
  assert.equal(humanBytes(2152262), '2.152MB');
  assert.equal(humanBytes(512), '512B');
  assert.match(progressBar(22018, 2152262), /^\[> {50}\] +22.02kB\/2.152MB$/);
  assert.match(progressBar(2152262, 2152262), /^\[={50}>\]/);
  const seen: ProgressMessage[] = [];
  const p = new ByteProgress((m) => seen.push(m), 'abc', 'Downloading', 100, 1000);
  p.update(10);
  p.update(20); // throttled
  p.update(100); // the end always shows
  assert.deepEqual(seen.map((m) => m.progressDetail), [{ current: 10, total: 100 }, { current: 100, total: 100 }]);
  assert.equal(seen[0]!.id, 'abc');
  assert.equal(seen[0]!.status, 'Downloading');
});

test('a layer worker thread that dies fails its layers instead of leaving the pull waiting', { timeout: 10_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-worker-'));
  const script = path.join(dir, 'dies.cjs');
  fs.writeFileSync(script, "require('node:worker_threads').parentPort.on('message', (m) => { if (m.op === 'data') throw new Error('boom'); });\n");
  const workers = new LayerWorkers(2, script);
  try {
    const sink = workers.open(dir, `sha256:${'0'.repeat(64)}`);
    const unpacked = sink.unpackTo(path.join(dir, 'layer'), `sha256:${'1'.repeat(64)}`);
    // More than the in-flight budget: without the failure, the reader would wait for acks for ever.
    const writing = readInto(Readable.from(Array.from({ length: 16 }, () => Buffer.alloc(1 << 20))), sink);
    await assert.rejects(sink.stored, (e: unknown) => e instanceof BerthError && e.kind === 'internal' && /layer worker thread failed: boom/.test(e.message));
    await assert.rejects(unpacked, /layer worker thread failed: boom/);
    await assert.rejects(writing, /layer worker thread failed: boom/);
  } finally {
    workers.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
