// Registries with Debian's docker-registry on loopback (plain HTTP): push and
// pull round trips, skipping and mounting blobs, v2s2/OCI conversion,
// --all-tags, indexes and --platform, --pull policies, mirrors and short-name
// search registries from the config, and search.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { TestEnv } from '../helpers/env.js';
import { Registry, digestOf } from '../helpers/registry.js';

let reg: Registry;
let t: TestEnv;   // builds and pushes
let u: TestEnv;   // pulls
let multiId = '';
let bbId = '';

const id = async (e: TestEnv, ref: string) => (await e.ok(['image', 'inspect', '--format', '{{.Id}}', ref])).trim();
const names = async (e: TestEnv) => (await e.ok(['images', '--format', '{{.Repository}}:{{.Tag}}'])).trim().split('\n').sort();

before(async () => {
  reg = await Registry.start();
  t = await TestEnv.create();
  u = await TestEnv.create({ bootstrap: false });
  // A three-layer image: busybox plus two committed layers.
  await t.ok(['run', '--network', 'none', '--name', 'l1', 'busybox', 'sh', '-c', 'echo one > /one']);
  await t.ok(['commit', 'l1', 'multi:1']);
  await t.ok(['run', '--network', 'none', '--name', 'l2', 'multi:1', 'sh', '-c', 'echo two > /two']);
  await t.ok(['commit', 'l2', 'multi:1']);
  await t.ok(['rm', 'l1', 'l2']);
  multiId = await id(t, 'multi:1');
  bbId = await id(t, 'busybox');
});
after(async () => {
  await u?.cleanup();
  await t?.cleanup();
  reg?.stop();
});

test('push and pull round trip a multi-layer image', async () => {
  const pushed = await t.berth(['push', 'multi:1', `${reg.host}/test/multi:1`]);
  assert.equal(pushed.code, 0, pushed.stderr);
  assert.match(pushed.stderr, /The push refers to repository \[127\.0\.0\.1:\d+\/test\/multi\]/);
  assert.equal(pushed.stderr.match(/: Pushed/g)?.length, 3, pushed.stderr);
  const digest = /1: digest: (sha256:[a-f0-9]{64}) size: \d+/.exec(pushed.stderr)?.[1];
  assert.ok(digest, pushed.stderr);

  const pulled = await u.berth(['pull', `${reg.host}/test/multi:1`]);
  assert.equal(pulled.code, 0, pulled.stderr);
  assert.equal(pulled.stdout.trim(), multiId);
  assert.equal(pulled.stderr.match(/: Pull complete/g)?.length, 3, pulled.stderr);
  assert.match(pulled.stderr, new RegExp(`Digest: ${digest}`));
  assert.match(pulled.stderr, /Status: Downloaded newer image for 127\.0\.0\.1:\d+\/test\/multi:1/);
  assert.deepEqual(await names(u), [`${reg.host}/test/multi:1`]);
  const repoDigests = (await u.ok(['image', 'inspect', '--format', '{{json .RepoDigests}}', `${reg.host}/test/multi:1`])).trim();
  assert.deepEqual(JSON.parse(repoDigests), [`${reg.host}/test/multi@${digest}`]);
  // The manifest digest survives: pulling by digest finds the same image.
  assert.equal(await id(u, `${reg.host}/test/multi@${digest}`), multiId);
  assert.equal((await u.ok(['run', '--rm', '--network', 'none', `${reg.host}/test/multi:1`, 'cat', '/one', '/two'])), 'one\ntwo\n');

  // Again: every layer is there already.
  const again = await u.berth(['pull', `${reg.host}/test/multi:1`]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stderr.match(/: Already exists/g)?.length, 3, again.stderr);
  assert.match(again.stderr, /Status: Image is up to date/);
  assert.equal((await u.ok(['pull', '-q', `${reg.host}/test/multi:1`])), multiId + '\n');
});

test('two pulls of one image at once into one store both succeed and leave nothing partial', async () => {
  const v = await TestEnv.create({ bootstrap: false });
  try {
    const [a, b] = await Promise.all([v.berth(['pull', '-q', `${reg.host}/test/multi:1`]), v.berth(['pull', '-q', `${reg.host}/test/multi:1`])]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(a.stdout.trim(), multiId);
    assert.equal(b.stdout.trim(), multiId);
    assert.equal((await v.ok(['run', '--rm', '--network', 'none', `${reg.host}/test/multi:1`, 'cat', '/one', '/two'])), 'one\ntwo\n');
    const layers = fs.readdirSync(path.join(v.root, 'layers'));
    assert.deepEqual(layers.filter((n) => !/^[a-f0-9]{64}$/.test(n)), [], 'partial layer directories left');
    assert.deepEqual(fs.readdirSync(path.join(v.root, 'ingest')), [], 'partial downloads left');
  } finally {
    await v.cleanup();
  }
});

test('on a terminal, one line per layer is redrawn in place with bytes and speed', async () => {
  await t.ok(['push', '-q', 'multi:1', `${reg.host}/test/tty:1`]);
  const v = await TestEnv.create({ bootstrap: false });
  const r = spawnSync('script', ['-qec', v.shellCommand(['pull', `${reg.host}/test/tty:1`]), '/dev/null'], { encoding: 'utf8', env: v.env, input: '' });
  await v.cleanup();
  assert.equal(r.status, 0, r.stdout);
  assert.match(r.stdout, /\x1b\[\d+A/, 'cursor moves up to redraw the layer lines');
  assert.match(r.stdout, /[0-9a-f]{12}: Pull complete \([\d.]+[kM]?B in [\d.]+s, [\d.]+[kMG]?B\/s\)/);
  assert.match(r.stdout, new RegExp(multiId));
});

test('push skips blobs the registry has and mounts blobs from other repositories', async () => {
  const same = await t.berth(['push', 'multi:1', `${reg.host}/test/multi:1`]);
  assert.equal(same.code, 0, same.stderr);
  assert.equal(same.stderr.match(/: Layer already exists/g)?.length, 3, same.stderr);
  const other = await t.berth(['push', 'multi:1', `${reg.host}/other/multi:2`]);
  assert.equal(other.code, 0, other.stderr);
  assert.equal(other.stderr.match(/: Mounted from test\/multi/g)?.length, 3, other.stderr);
  assert.doesNotMatch(other.stderr, /Pushed/);
  assert.equal((await u.ok(['pull', '-q', `${reg.host}/other/multi:2`])).trim(), multiId);
  // The pushes are recorded as repo digests of the local image.
  const rd = JSON.parse(await t.ok(['image', 'inspect', '--format', '{{json .RepoDigests}}', 'multi:1'])) as string[];
  assert.ok(rd.some((d) => d.startsWith(`${reg.host}/other/multi@sha256:`)), rd.join());
});

test('push converts between OCI and Docker v2s2 with --format', async () => {
  await t.ok(['push', '-q', '--format', 'v2s2', 'multi:1', `${reg.host}/test/docker:1`]);
  const res = await fetch(`http://${reg.host}/v2/test/docker/manifests/1`, {
    headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' },
  });
  const m = await res.json() as { mediaType: string; config: { mediaType: string }; layers: { mediaType: string }[] };
  assert.equal(m.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');
  assert.equal(m.config.mediaType, 'application/vnd.docker.container.image.v1+json');
  assert.ok(m.layers.every((l) => l.mediaType === 'application/vnd.docker.image.rootfs.diff.tar.gzip'));
  // Pulled and pushed again without --format, the image stays v2s2 (and keeps its digest).
  const digest = res.headers.get('docker-content-digest')!;
  await u.ok(['pull', '-q', `${reg.host}/test/docker:1`]);
  const again = await u.berth(['push', `${reg.host}/test/docker:1`, `${reg.host}/test/docker-copy:1`]);
  assert.match(again.stderr, new RegExp(`1: digest: ${digest}`), again.stderr);
  // And back to OCI.
  const oci = await u.berth(['push', '--format', 'oci', `${reg.host}/test/docker:1`, `${reg.host}/test/oci-copy:1`]);
  assert.equal(oci.code, 0, oci.stderr);
  const o = await (await fetch(`http://${reg.host}/v2/test/oci-copy/manifests/1`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).json() as { mediaType: string };
  assert.equal(o.mediaType, 'application/vnd.oci.image.manifest.v1+json');
  const bad = await t.berth(['push', '--format', 'v2s1', 'multi:1', `${reg.host}/test/docker:1`]);
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /unsupported manifest format "v2s1": use oci or v2s2/);
  const noName = await t.berth(['push', multiId]);
  assert.equal(noName.code, 125);
  assert.match(noName.stderr, /has no name to push to: give a destination/);
});

test('pull --all-tags, unknown repositories and tags', async () => {
  await t.ok(['push', '-q', 'busybox', `${reg.host}/test/tags:a`]);
  await t.ok(['push', '-q', 'multi:1', `${reg.host}/test/tags:b`]);
  const out = await u.ok(['pull', '-q', '--all-tags', `${reg.host}/test/tags`]);
  assert.deepEqual(out.trim().split('\n').sort(), [bbId, multiId].sort());
  assert.ok((await names(u)).includes(`${reg.host}/test/tags:a`));
  const repo = await u.berth(['pull', `${reg.host}/test/nope:1`]);
  assert.equal(repo.code, 125);
  assert.match(repo.stderr, /Error: 127\.0\.0\.1:\d+\/test\/nope:1: no such image in the registry/);
  const tag = await u.berth(['pull', `${reg.host}/test/tags:nope`]);
  assert.equal(tag.code, 125);
  assert.match(tag.stderr, /127\.0\.0\.1:\d+\/test\/tags:nope: no such image in the registry .*check the name and tag/);
  const both = await u.berth(['pull', '--all-tags', `${reg.host}/test/tags:a`]);
  assert.match(both.stderr, /--all-tags needs a repository without a tag/);
});

test('an index: the host platform by default, --platform to choose, a clear error for a missing one', async () => {
  await t.ok(['push', '-q', 'busybox', `${reg.host}/test/bb:1`]);
  // An index may only name manifests its repository has.
  await t.ok(['push', '-q', 'busybox', `${reg.host}/test/multiarch:bb`]);
  await t.ok(['push', '-q', 'multi:1', `${reg.host}/test/multiarch:multi`]);
  const manifestOf = async (repo: string) => {
    const r = await fetch(`http://${reg.host}/v2/${repo}/manifests/1`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    const bytes = Buffer.from(await r.arrayBuffer());
    return { digest: digestOf(bytes), size: bytes.length, mediaType: r.headers.get('content-type')! };
  };
  const host = process.arch === 'arm64' ? 'arm64' : 'amd64';
  const other = host === 'amd64' ? 'arm64' : 'amd64';
  const index = {
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      { ...(await manifestOf('test/multi')), platform: { os: 'linux', architecture: host } },
      { ...(await manifestOf('test/bb')), platform: { os: 'linux', architecture: other } },
    ],
  };
  const put = await fetch(`http://${reg.host}/v2/test/multiarch/manifests/1`, {
    method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' }, body: JSON.stringify(index),
  });
  assert.equal(put.status, 201, await put.text());
  assert.equal((await u.ok(['pull', '-q', `${reg.host}/test/multiarch:1`])).trim(), multiId);
  assert.equal((await u.ok(['pull', '-q', '--platform', `linux/${other}`, `${reg.host}/test/multiarch:1`])).trim(), bbId);
  assert.equal((await u.ok(['pull', '-q', '--arch', other, `${reg.host}/test/multiarch:1`])).trim(), bbId);
  const rd = JSON.parse(await u.ok(['image', 'inspect', '--format', '{{json .RepoDigests}}', bbId])) as string[];
  assert.ok(rd.includes(`${reg.host}/test/multiarch@${digestOf(JSON.stringify(index))}`), rd.join());
  const none = await u.berth(['pull', '--platform', 'linux/s390x', `${reg.host}/test/multiarch:1`]);
  assert.equal(none.code, 125);
  assert.match(none.stderr, /has no image for linux\/s390x \(it has: linux\/(amd64|arm64), linux\/(amd64|arm64)\): choose one with --platform/);
  assert.match((await u.berth(['pull', '--platform', 'a/b/c/d', `${reg.host}/test/multiarch:1`])).stderr, /invalid platform/);
});

test('--pull policies of run and create', async () => {
  await t.ok(['push', '-q', 'busybox', `${reg.host}/test/policy:1`]);
  const ref = `${reg.host}/test/policy:1`;
  const never = await u.berth(['run', '--rm', '--pull', 'never', '--network', 'none', ref, 'true']);
  assert.equal(never.code, 125);
  assert.match(never.stderr, /image not known/);
  const missing = await u.berth(['run', '--rm', '--network', 'none', ref, 'echo', 'pulled']);
  assert.equal(missing.code, 0, missing.stderr);
  assert.equal(missing.stdout, 'pulled\n');
  assert.match(missing.stderr, /Pulling from test\/policy/);
  const local = await u.berth(['create', '--network', 'none', ref, 'true']);
  assert.doesNotMatch(local.stderr, /Pulling/);
  const always = await u.berth(['create', '--pull', 'always', '--network', 'none', ref, 'true']);
  assert.equal(always.code, 0, always.stderr);
  assert.match(always.stderr, /Image is up to date/);
  const newerSame = await u.berth(['create', '--pull', 'newer', '--network', 'none', ref, 'true']);
  assert.doesNotMatch(newerSame.stderr, /Pulling/);
  // The tag moves to another image: "newer" pulls it, "missing" does not.
  await t.ok(['push', '-q', 'multi:1', ref]);
  const miss = await u.berth(['create', '--network', 'none', ref, 'true']);
  assert.doesNotMatch(miss.stderr, /Pulling/);
  const newer = await u.berth(['create', '-q', '--pull', 'newer', '--network', 'none', ref, 'true']);
  assert.equal(newer.code, 0, newer.stderr);
  assert.equal(newer.stderr, '');
  assert.equal(await id(u, ref), multiId);
  const bad = await u.berth(['create', '--pull', 'sometimes', ref]);
  assert.match(bad.stderr, /invalid pull policy "sometimes"/);
  await u.ok(['rm', '-af']);
});

test('mirrors and short-name search registries from the config', async () => {
  const base = fs.readFileSync(u.configFile, 'utf8');
  try {
    // Short names are looked up in the search registries, in order (the first is down).
    fs.writeFileSync(u.configFile, `${base}\n[registries]\nsearch = ["127.0.0.1:1", "${reg.host}"]\n`);
    const short = await u.berth(['pull', '-q', 'test/bb:1']);
    assert.equal(short.code, 0, short.stderr);
    assert.equal(short.stdout.trim(), bbId);
    assert.ok((await names(u)).includes(`${reg.host}/test/bb:1`));
    const nowhere = await u.berth(['pull', 'test/nothing:1']);
    assert.equal(nowhere.code, 125);
    assert.match(nowhere.stderr, /could not pull it from any search registry .*127\.0\.0\.1:1: .*connection refused.*no such image in the registry/);
    // A mirror (the first one is down) serves registry.invalid's images; the name stays registry.invalid's.
    fs.writeFileSync(u.configFile, `${base}\n[registries]\nmirrors = ["registry.invalid=127.0.0.1:1", "registry.invalid=${reg.host}/test"]\n`);
    const mirrored = await u.berth(['pull', '-q', 'registry.invalid/multi:1']);
    assert.equal(mirrored.code, 0, mirrored.stderr);
    assert.equal(mirrored.stdout.trim(), multiId);
    assert.ok((await names(u)).includes('registry.invalid/multi:1'));
    fs.writeFileSync(u.configFile, `${base}\n[registries]\nmirrors = ["no-equals-sign"]\n`);
    assert.match((await u.berth(['pull', 'registry.invalid/multi:1'])).stderr, /must look like REGISTRY=MIRROR/);
  } finally {
    fs.writeFileSync(u.configFile, base);
  }
});

test('search lists repositories and tags of a registry', async () => {
  const out = await u.ok(['search', '--format', '{{.Name}}', `${reg.host}/multi`]);
  assert.deepEqual(out.trim().split('\n').sort(), [`${reg.host}/other/multi`, `${reg.host}/test/multi`, `${reg.host}/test/multiarch`]);
  const table = await u.ok(['search', `${reg.host}/test/tags`]);
  assert.match(table, /^NAME\s+DESCRIPTION\n127\.0\.0\.1:\d+\/test\/tags/);
  const tags = await u.ok(['search', '--list-tags', `${reg.host}/test/tags`]);
  assert.match(tags, /^NAME\s+TAG\n/);
  assert.deepEqual(tags.trim().split('\n').slice(1).map((l) => l.split(/\s+/)[1]).sort(), ['a', 'b']);
  assert.equal((await u.ok(['search', '--limit', '1', '--format', '{{.Name}}', `${reg.host}/`])).trim().split('\n').length, 1);
  assert.match((await u.berth(['search', '--filter', 'bogus=1', `${reg.host}/x`])).stderr, /invalid search filter/);
});

// Last: its pushes would change what the tests above find in the registry.
test('a pulled image has exactly the files it was pushed with: whiteouts, opaque directories, links, owners, modes and large files', async () => {
  // Layer 1 adds; layer 2 deletes a lower file (a whiteout) and replaces a
  // directory (an opaque one). Both layers are unpacked by the pull's worker thread.
  await t.ok(['run', '--network', 'none', '--name', 'x1', 'busybox', 'sh', '-c',
    'mkdir -p /d/sub && echo a > /d/sub/a && echo keep > /k && chown 123:456 /k && chmod 4750 /k'
    + ' && head -c 3000000 /dev/urandom > /big && ln /big /big.link && ln -s /k /sym && mkfifo /fifo']);
  await t.ok(['commit', 'x1', 'exact:1']);
  await t.ok(['run', '--network', 'none', '--name', 'x2', 'exact:1', 'sh', '-c', 'rm /bin/ls && rm -rf /d && mkdir /d && echo new > /d/n']);
  await t.ok(['commit', 'x2', 'exact:1']);
  await t.ok(['rm', 'x1', 'x2']);
  await t.ok(['push', '-q', 'exact:1', `${reg.host}/test/exact:1`]);
  const v = await TestEnv.create({ bootstrap: false });
  try {
    await v.ok(['pull', '-q', `${reg.host}/test/exact:1`]);
    // Everything but the mount points and the files Berth writes for each container.
    const listing = 'find / -xdev -mindepth 1 | grep -v -e "^/etc/host" -e "^/etc/resolv.conf" -e "^/proc$" -e "^/sys$" -e "^/dev$" | sort'
      + ' | while read -r f; do stat -c "%n %F %a %u:%g %s %h %Y" "$f"; done; sha256sum /big; cat /d/n';
    const want = await t.ok(['run', '--rm', '--network', 'none', 'exact:1', 'sh', '-c', listing]);
    const got = await v.ok(['run', '--rm', '--network', 'none', `${reg.host}/test/exact:1`, 'sh', '-c', listing]);
    assert.equal(got, want);
    assert.match(got, /^\/k regular file 4750 123:456 5 1 /m);
    assert.match(got, /^\/big regular file 644 0:0 3000000 2 /m);
    assert.match(got, /^\/fifo fifo /m);
    assert.match(got, /^\/sym symbolic link /m);
    assert.doesNotMatch(got, /^\/bin\/ls /m);
    assert.doesNotMatch(got, /^\/d\/sub/m);
    assert.match(got, /^new$/m);
  } finally {
    await v.cleanup();
  }
});
