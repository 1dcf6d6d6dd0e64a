// Image commands through the CLI: bootstrap, images, inspect, tag/untag/rmi,
// history, prune, save/load round trips, import.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { TestEnv, BERTH } from '../helpers/env.js';

let t: TestEnv;
before(async () => { t = await TestEnv.create(); });
after(async () => { await t.cleanup(); });

const imageId = async (ref: string) => (await t.ok(['image', 'inspect', '--format', '{{.Id}}', ref])).trim();

test('bootstrap builds localhost/busybox:latest reproducibly', async () => {
  const id = await imageId('busybox');
  assert.match(id, /^[0-9a-f]{64}$/);
  await t.ok(['image', 'bootstrap', 'busybox']);
  assert.equal(await imageId('busybox'), id, 'same host binary, same image ID');
  assert.match(await t.ok(['images']), /localhost\/busybox\s+latest\s+[0-9a-f]{12}/);
  assert.equal((await t.ok(['images', '-q'])).trim(), id.slice(0, 12));
  const [img] = JSON.parse(await t.ok(['image', 'inspect', 'localhost/busybox:latest'])) as Record<string, any>[];
  assert.deepEqual(img!.Config.Cmd, ['sh']);
  assert.equal(img!.RootFS.Layers.length, 1);
  assert.equal((await t.berth(['image', 'bootstrap', 'debian'])).code, 125);
});

test('tag, untag, rmi and image exists', async () => {
  const id = await imageId('busybox');
  await t.ok(['tag', 'busybox', 'myimg:1', 'quay.io/acme/tool:2']);
  assert.equal(await imageId('myimg:1'), id);
  assert.equal(await imageId('localhost/myimg:1'), id);
  assert.equal(await imageId('quay.io/acme/tool:2'), id);
  assert.equal((await t.berth(['image', 'exists', 'myimg:1'])).code, 0);
  assert.equal((await t.berth(['image', 'exists', 'myimg:9'])).code, 1);
  // Removing one of several names only untags it.
  assert.match(await t.ok(['rmi', 'myimg:1']), /Untagged: localhost\/myimg:1/);
  assert.equal((await t.berth(['image', 'exists', 'myimg:1'])).code, 1);
  await t.ok(['untag', 'busybox', 'quay.io/acme/tool:2']);
  assert.equal((await t.berth(['image', 'exists', 'quay.io/acme/tool:2'])).code, 1);
  // By ID with several names needs -f.
  await t.ok(['tag', 'busybox', 'other']);
  const byId = await t.berth(['rmi', id.slice(0, 12)]);
  assert.equal(byId.code, 125);
  assert.match(byId.stderr, /more than one tag/);
  await t.ok(['untag', 'busybox', 'other']);
  const unknown = await t.berth(['rmi', 'nope:1']);
  assert.equal(unknown.code, 125);
  assert.match(unknown.stderr, /image not known/);
  const bad = await t.berth(['tag', 'busybox', 'UPPER:x']);
  assert.equal(bad.code, 125);
});

test('an image used by a container cannot be removed without -f', async () => {
  await t.ok(['tag', 'busybox', 'inuse']);
  await t.ok(['untag', 'busybox', 'localhost/busybox:latest']);
  await t.ok(['create', '--name', 'user1', 'inuse', 'true']);
  const r = await t.berth(['rmi', 'inuse']);
  assert.equal(r.code, 125);
  assert.match(r.stderr, /in use by a container/);
  await t.ok(['rmi', '-f', 'inuse']);
  assert.equal((await t.berth(['container', 'exists', 'user1'])).code, 1);
  assert.equal((await t.ok(['images', '-q'])).trim(), '');
  // Layers and blobs went with it.
  assert.deepEqual(fs.readdirSync(path.join(t.root, 'layers')).filter((n) => /^[0-9a-f]{64}$/.test(n)), []);
  assert.deepEqual(fs.readdirSync(path.join(t.root, 'blobs', 'sha256')), []);
  await t.ok(['image', 'bootstrap', 'busybox']);
});

test('history shows the bootstrap step', async () => {
  const out = await t.ok(['history', 'busybox']);
  assert.match(out.split('\n')[0]!, /^ID\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT/);
  assert.match(out, /berth image bootstrap busybox/);
  const json = JSON.parse(await t.ok(['history', '--format', 'json', 'busybox'])) as { ID: string }[];
  assert.equal(json.length, 1);
});

test('save and load round trip through files and pipes, both formats', async () => {
  const id = await imageId('busybox');
  for (const format of ['docker-archive', 'oci-archive']) {
    const file = path.join(t.dir, `img-${format}.tar`);
    await t.ok(['save', '--format', format, '-o', file, 'busybox']);
    const other = await TestEnv.create({ bootstrap: false });
    try {
      assert.match(await other.ok(['load', '-i', file]), /Loaded image: localhost\/busybox:latest/);
      assert.equal((await other.ok(['image', 'inspect', '--format', '{{.Id}}', 'busybox'])).trim(), id);
      assert.equal(await other.ok(['run', '--rm', 'busybox', 'echo', 'loaded']), 'loaded\n');
      // Through stdin/stdout as well.
      const saved = spawnSync(BERTH, other.args(['save', '--format', format, 'busybox']), { env: other.env, maxBuffer: 64 << 20 });
      assert.equal(saved.status, 0, String(saved.stderr));
      await other.ok(['rmi', 'busybox']);
      await other.ok(['load'], { input: saved.stdout });
      assert.equal((await other.ok(['image', 'inspect', '--format', '{{.Id}}', 'busybox'])).trim(), id);
    } finally {
      await other.cleanup();
    }
  }
  const refused = await t.berth(['save', '--format', 'tarball', '-o', path.join(t.dir, 'x.tar'), 'busybox']);
  assert.equal(refused.code, 125);
  const garbage = await t.berth(['load'], { input: 'this is not a tar archive at all'.repeat(40) });
  assert.equal(garbage.code, 125);
  assert.match(garbage.stderr, /not a docker-archive or oci-archive|corrupt|truncated|invalid/i);
});

test('import turns a rootfs tarball into an image, with --change', async () => {
  const rootfs = path.join(t.dir, 'rootfs');
  fs.mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
  fs.copyFileSync('/bin/busybox', path.join(rootfs, 'bin', 'busybox'));
  fs.symlinkSync('busybox', path.join(rootfs, 'bin', 'sh'));
  fs.symlinkSync('busybox', path.join(rootfs, 'bin', 'echo'));
  const tarball = path.join(t.dir, 'rootfs.tar.gz');
  assert.equal(spawnSync('tar', ['-czf', tarball, '-C', rootfs, '.']).status, 0);
  const out = await t.ok(['import', '--change', 'CMD ["echo","imported"]', '--change', 'ENV GREETING=hi', '--change', 'WORKDIR /bin',
    '--change', 'LABEL a=b', '--change', 'EXPOSE 8080', tarball, 'imported:1']);
  assert.match(out, /^sha256:[0-9a-f]{64}$/m);
  assert.equal(await t.ok(['run', '--rm', 'imported:1']), 'imported\n');
  assert.equal(await t.ok(['run', '--rm', 'imported:1', 'sh', '-c', 'echo $GREETING $(pwd)']), 'hi /bin\n');
  const [img] = JSON.parse(await t.ok(['image', 'inspect', 'imported:1'])) as Record<string, any>[];
  assert.deepEqual(img!.Config.Labels, { a: 'b' });
  assert.deepEqual(img!.Config.ExposedPorts, { '8080/tcp': {} });
  // From stdin.
  const fromStdin = await t.ok(['import', '-', 'stdin-img'], { input: fs.readFileSync(tarball) });
  assert.match(fromStdin, /^sha256:/);
  const badChange = await t.berth(['import', '--change', 'FROB x', tarball]);
  assert.equal(badChange.code, 125);
  assert.match(badChange.stderr, /invalid --change instruction "FROB"/);
  await t.ok(['rmi', 'imported:1', 'stdin-img']);
});

test('image prune removes dangling images only, -a all unused', async () => {
  await t.ok(['tag', 'busybox', 'keep']);
  const dangling = await t.ok(['import', '-', ], { input: fs.readFileSync(path.join(t.dir, 'rootfs.tar.gz')) });
  const danglingId = dangling.trim().slice(7, 19);
  assert.match(await t.ok(['images', '--filter', 'dangling=true', '-q']), new RegExp(danglingId));
  await t.ok(['image', 'prune', '-f']);
  assert.doesNotMatch(await t.ok(['images', '-q']), new RegExp(danglingId));
  assert.match(await t.ok(['images']), /localhost\/keep/);
  await t.ok(['untag', 'busybox', 'keep']);
});
