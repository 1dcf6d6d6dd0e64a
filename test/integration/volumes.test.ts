// Volumes: named and anonymous volumes, image VOLUMEs, seeding from the image,
// --mount, --volumes-from, rm -v, volume create/ls/inspect/rm/prune/exists and
// tmpfs-backed volumes, against real runc and conmon.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { TestEnv, eventually } from '../helpers/env.js';

let t: TestEnv;
const HEX64 = /^[0-9a-f]{64}$/;

/** An image whose /data (owned 42:43, mode 750) holds seed.txt (1234:2345, 640) and a symlink, declared as VOLUME. */
function buildVolumeImageTar(dir: string): string {
  const rfs = path.join(dir, 'vimg-rootfs');
  fs.mkdirSync(path.join(rfs, 'bin'), { recursive: true });
  fs.mkdirSync(path.join(rfs, 'data'));
  fs.copyFileSync(fs.existsSync('/bin/busybox') ? '/bin/busybox' : '/usr/bin/busybox', path.join(rfs, 'bin/busybox'));
  fs.chmodSync(path.join(rfs, 'bin/busybox'), 0o755);
  for (const c of ['sh', 'ls', 'cat', 'stat', 'readlink', 'true', 'touch']) fs.symlinkSync('busybox', path.join(rfs, 'bin', c));
  fs.writeFileSync(path.join(rfs, 'data/seed.txt'), 'from the image\n');
  fs.chownSync(path.join(rfs, 'data/seed.txt'), 1234, 2345);
  fs.chmodSync(path.join(rfs, 'data/seed.txt'), 0o640);
  fs.symlinkSync('seed.txt', path.join(rfs, 'data/link'));
  fs.chownSync(path.join(rfs, 'data'), 42, 43);
  fs.chmodSync(path.join(rfs, 'data'), 0o750);
  const tar = path.join(dir, 'vimg.tar');
  execFileSync('tar', ['--numeric-owner', '-C', rfs, '-cf', tar, '.']);
  return tar;
}

const volumeNames = async (...filters: string[]) =>
  (await t.ok(['volume', 'ls', '-q', ...filters.flatMap((f) => ['--filter', f])])).split('\n').filter(Boolean).sort();

before(async () => {
  t = await TestEnv.create();
  await t.ok(['import', '--change', 'VOLUME /data', '--change', 'CMD ["sh"]', buildVolumeImageTar(t.dir), 'vimg:1']);
});
after(async () => { await t.cleanup(); });

test('a named volume is created on first use and keeps its data across containers', async () => {
  await t.ok(['run', '--rm', '-v', 'data1:/data', 'busybox', 'sh', '-c', 'echo persisted > /data/f']);
  assert.equal((await t.berth(['volume', 'exists', 'data1'])).code, 0);
  assert.equal(await t.ok(['run', '--rm', '-v', 'data1:/data:ro', 'busybox', 'cat', '/data/f']), 'persisted\n');
  await t.ok(['create', '--name', 'm1', '-v', 'data1:/data', 'busybox', 'true']);
  const mounts = await t.ok(['inspect', '--format', '{{range .Mounts}}{{.Type}}|{{.Name}}|{{.Source}}|{{.Destination}}|{{.RW}}|{{.Driver}}{{end}}', 'm1']);
  assert.equal(mounts.trim(), `volume|data1|${t.root}/volumes/data1/_data|/data|true|local`);
  assert.equal(fs.readFileSync(path.join(t.root, 'volumes/data1/_data/f'), 'utf8'), 'persisted\n');
  await t.ok(['rm', '-v', 'm1']);
  assert.equal((await t.berth(['volume', 'exists', 'data1'])).code, 0, 'rm -v keeps named volumes');
  await t.ok(['volume', 'rm', 'data1']);
  assert.equal((await t.berth(['volume', 'exists', 'data1'])).code, 1);
  assert.equal(fs.existsSync(path.join(t.root, 'volumes/data1')), false);
});

test('anonymous volumes from -v /path and image VOLUME; rm -v and --rm remove them, named ones stay', async () => {
  await t.ok(['create', '--name', 'a1', '-v', '/scratch', '-v', 'keepme:/keep', 'vimg:1', 'true']);
  const rows = (await t.ok(['inspect', '--format', '{{range .Mounts}}{{.Destination}}={{.Name}} {{end}}', 'a1'])).trim().split(' ');
  const byDest = Object.fromEntries(rows.map((r) => r.split('=') as [string, string]));
  assert.deepEqual(Object.keys(byDest).sort(), ['/data', '/keep', '/scratch']);
  assert.match(byDest['/data']!, HEX64);
  assert.match(byDest['/scratch']!, HEX64);
  assert.equal(byDest['/keep'], 'keepme');
  assert.deepEqual(await volumeNames('anonymous=true'), [byDest['/data'], byDest['/scratch']].sort());
  await t.ok(['rm', '-v', 'a1']);
  assert.deepEqual(await volumeNames('anonymous=true'), []);
  assert.equal(fs.existsSync(path.join(t.root, 'volumes', byDest['/scratch']!)), false);
  assert.deepEqual(await volumeNames('name=keepme'), ['keepme']);
  // --rm takes its anonymous volumes along (foreground and detached).
  await t.ok(['run', '--rm', '-v', '/scratch', 'vimg:1', 'true']);
  const id = (await t.ok(['run', '-d', '--rm', '-v', '/scratch', 'busybox', 'true'])).trim();
  await eventually(async () => (await t.berth(['container', 'exists', id])).code === 1, 10_000, 'the --rm container to be removed');
  assert.deepEqual(await volumeNames('anonymous=true'), []);
  // A mount at the image VOLUME's path replaces its anonymous volume.
  await t.ok(['create', '--name', 'a2', '-v', 'keepme:/data', 'vimg:1', 'true']);
  assert.equal((await t.ok(['inspect', '--format', '{{len .Mounts}}', 'a2'])).trim(), '1');
  await t.ok(['rm', 'a2']);
  await t.ok(['volume', 'rm', 'keepme']);
});

test('a new volume is seeded from the image; a populated or already used one is not', async () => {
  const out = await t.ok(['run', '--rm', '-v', 'seeded:/data', 'vimg:1', 'sh', '-c',
    'stat -c "%u:%g %a" /data /data/seed.txt; readlink /data/link; cat /data/seed.txt']);
  assert.equal(out, '42:43 750\n1234:2345 640\nseed.txt\nfrom the image\n');
  // Later changes survive: the image content is copied only once.
  await t.ok(['run', '--rm', '-v', 'seeded:/data', 'vimg:1', 'sh', '-c', 'echo changed > /data/seed.txt']);
  assert.equal(await t.ok(['run', '--rm', '-v', 'seeded:/data', 'vimg:1', 'cat', '/data/seed.txt']), 'changed\n');
  // A volume that already holds data is not overwritten.
  await t.ok(['volume', 'create', 'populated']);
  await t.ok(['run', '--rm', '-v', 'populated:/data', 'busybox', 'sh', '-c', 'echo mine > /data/own']);
  assert.equal(await t.ok(['run', '--rm', '-v', 'populated:/data', 'vimg:1', 'ls', '/data']), 'own\n');
  // nocopy skips seeding.
  assert.equal(await t.ok(['run', '--rm', '-v', 'nocp:/data:nocopy', 'vimg:1', 'ls', '-A', '/data']), '');
  await t.ok(['volume', 'rm', 'seeded', 'populated', 'nocp']);
});

test('--mount bind, volume and tmpfs, with readonly and options', async () => {
  const host = path.join(t.dir, 'bindsrc');
  fs.mkdirSync(host, { recursive: true });
  fs.writeFileSync(path.join(host, 'hello'), 'hi\n');
  assert.equal(await t.ok(['run', '--rm', '--mount', `type=bind,source=${host},target=/b,readonly`, 'busybox', 'cat', '/b/hello']), 'hi\n');
  const roBind = await t.berth(['run', '--rm', '--mount', `type=bind,src=${host},dst=/b,ro=true`, 'busybox', 'touch', '/b/x']);
  assert.notEqual(roBind.code, 0);
  assert.match(roBind.stderr, /Read-only file system/);
  await t.ok(['run', '--rm', '--mount', 'type=volume,source=mvol,target=/m', 'busybox', 'sh', '-c', 'echo v > /m/f']);
  const roVol = await t.berth(['run', '--rm', '--mount', 'type=volume,source=mvol,target=/m,readonly', 'busybox', 'sh', '-c', 'cat /m/f; touch /m/g']);
  assert.equal(roVol.stdout, 'v\n');
  assert.match(roVol.stderr, /Read-only file system/);
  const tmpfs = await t.ok(['run', '--rm', '--mount', 'type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1700', 'busybox', 'sh', '-c',
    'stat -c %a /t; df -k /t | tail -1']);
  assert.match(tmpfs, /^1700\ntmpfs\s+1024\s/);
  // volume-opt creates a tmpfs-backed volume on first use.
  assert.match(await t.ok(['run', '--rm', '--mount', 'type=volume,src=mtv,dst=/m,"volume-opt=type=tmpfs",volume-opt=device=tmpfs,volume-opt=o=size=2m',
    'busybox', 'df', '-k', '/m']), /tmpfs\s+2048\s/);
  assert.equal((await t.ok(['volume', 'inspect', '--format', '{{.Options.type}} {{.Options.o}}', 'mtv'])).trim(), 'tmpfs size=2m');
  for (const [spec, msg] of [
    ['type=volume,src=x,dst=/m,bogus=1', /unknown option "bogus"/],
    ['type=tmpfs,source=x,target=/t', /tmpfs mount has no source/],
    ['type=bind,source=/no/such/dir,target=/b', /does not exist/],
    ['type=volume,source=x,target=/m,tmpfs-size=1m', /cannot be used with type=volume/],
    ['type=volume,source=x', /target is required/],
  ] as const) {
    const r = await t.berth(['create', '--mount', spec, 'busybox', 'true']);
    assert.equal(r.code, 125, spec);
    assert.match(r.stderr, msg);
  }
  await t.ok(['volume', 'rm', 'mvol', 'mtv']);
});

test('--volumes-from copies volume and bind mounts, optionally read-only', async () => {
  const host = path.join(t.dir, 'vfhost');
  fs.mkdirSync(host, { recursive: true });
  fs.writeFileSync(path.join(host, 'file'), 'bound\n');
  await t.ok(['create', '--name', 'vsrc', '-v', 'vf:/vf', '-v', `${host}:/h`, '--tmpfs', '/tmpfs', 'busybox', 'true']);
  assert.equal(await t.ok(['run', '--rm', '--volumes-from', 'vsrc', 'busybox', 'sh', '-c', 'cat /h/file; echo x > /vf/x; mountpoint -q /tmpfs || echo no-tmpfs']),
    'bound\nno-tmpfs\n');
  const ro = await t.berth(['run', '--rm', '--volumes-from', 'vsrc:ro', 'busybox', 'sh', '-c', 'cat /vf/x; touch /vf/y']);
  assert.equal(ro.stdout, 'x\n');
  assert.match(ro.stderr, /Read-only file system/);
  await t.ok(['create', '--name', 'vdst', '--volumes-from', 'vsrc', 'busybox', 'true']);
  const copied = (await t.ok(['inspect', '--format', '{{range .Mounts}}{{.Destination}}:{{.Type}} {{end}}', 'vdst'])).trim().split(' ').sort();
  assert.deepEqual(copied, ['/h:bind', '/vf:volume']);
  await t.ok(['rm', 'vsrc']);
  const r = await t.berth(['volume', 'rm', 'vf']);
  assert.equal(r.code, 125, 'the volume is still used by the container that copied it');
  await t.ok(['rm', 'vdst']);
  await t.ok(['volume', 'rm', 'vf']);
});

test('a volume in use cannot be removed; -f removes the containers too', async () => {
  const busy = (await t.ok(['run', '-d', '--name', 'busy', '-v', 'inuse:/u', 'busybox', 'sleep', '1000'])).trim();
  const idle = (await t.ok(['create', '--name', 'idle', '-v', 'inuse:/u', 'busybox', 'true'])).trim();
  const r = await t.berth(['volume', 'rm', 'inuse']);
  assert.equal(r.code, 125);
  assert.match(r.stderr, /volume inuse is being used by the following container\(s\): .*--force/);
  assert.ok(r.stderr.includes(busy) && r.stderr.includes(idle));
  assert.equal((await t.berth(['volume', 'exists', 'inuse'])).code, 0);
  assert.equal(await t.ok(['volume', 'rm', '-f', 'inuse']), 'inuse\n');
  assert.equal((await t.berth(['volume', 'exists', 'inuse'])).code, 1);
  assert.equal((await t.berth(['container', 'exists', 'busy'])).code, 1);
  assert.equal((await t.berth(['container', 'exists', 'idle'])).code, 1);
  const missing = await t.berth(['volume', 'rm', 'nope']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no volume with name "nope" found/);
});

test('prune removes the volumes no container uses, honouring filters', async () => {
  await t.ok(['volume', 'create', '--label', 'grp=prune', '--label', 'keep=yes', 'p1']);
  await t.ok(['volume', 'create', '--label', 'grp=prune', 'p2']);
  await t.ok(['create', '--name', 'pu', '-v', 'p3:/p', 'busybox', 'true']);
  // Without -f, prune asks; "n" keeps everything.
  await t.ok(['volume', 'prune'], { input: 'n\n' });
  assert.deepEqual(await volumeNames(), ['p1', 'p2', 'p3']);
  assert.equal(await t.ok(['volume', 'prune', '-f', '--filter', 'label=grp=prune', '--filter', 'label!=keep']), 'p2\n');
  assert.equal(await t.ok(['volume', 'prune', '-f']), 'p1\n');
  assert.deepEqual(await volumeNames(), ['p3']);
  await t.ok(['rm', 'pu']);
  assert.equal(await t.ok(['volume', 'prune', '-f']), 'p3\n');
  assert.equal((await t.berth(['volume', 'prune', '-f', '--filter', 'dangling=true'])).code, 125, 'dangling is not a prune filter');
});

test('a tmpfs volume (--opt) is mounted while containers use it and unmounted after the last stops', async () => {
  await t.ok(['volume', 'create', '--opt', 'type=tmpfs', '--opt', 'device=tmpfs', '--opt', 'o=size=4m', 'tv']);
  const data = path.join(t.root, 'volumes/tv/_data');
  assert.ok(!t.mounts().includes(data));
  await t.ok(['run', '-d', '--name', 'tm1', '-v', 'tv:/t', 'busybox', 'sh', '-c', 'echo shared > /t/f; sleep 1000']);
  assert.ok(t.mounts().includes(data), 'mounted while a container uses it');
  await eventually(() => fs.existsSync(path.join(data, 'f')), 10_000, 'tm1 to write into the volume');
  const out = await t.ok(['run', '--rm', '-v', 'tv:/t', 'busybox', 'sh', '-c', 'cat /t/f; df -k /t | tail -1']);
  assert.match(out, /^shared\ntmpfs\s+4096\s/);
  assert.ok(t.mounts().includes(data), 'still mounted: tm1 uses it');
  await t.ok(['stop', '-t', '0', 'tm1']);
  assert.ok(!t.mounts().includes(data), 'unmounted after the last user stopped');
  await t.ok(['rm', 'tm1']);
  await t.ok(['volume', 'rm', 'tv']);
  // Options mount(8) rejects fail the start clearly and leave nothing mounted.
  await t.ok(['volume', 'create', '--opt', 'type=tmpfs', '--opt', 'device=tmpfs', '--opt', 'o=nonsense=1', 'badtv']);
  const r = await t.berth(['run', '--rm', '-v', 'badtv:/t', 'busybox', 'true']);
  assert.equal(r.code, 125);
  assert.match(r.stderr, /cannot mount volume badtv \(type=tmpfs,device=tmpfs,o=nonsense=1\)/);
  assert.deepEqual(t.mounts(), []);
  await t.ok(['volume', 'rm', 'badtv']);
});

test('volume ls and inspect: formats and filters', async () => {
  await t.ok(['volume', 'create', '--label', 'env=prod', 'l1']);
  await t.ok(['volume', 'create', '--label', 'env=dev', 'l2']);
  await t.ok(['create', '--name', 'lu', '-v', 'l2:/x', 'busybox', 'true']);
  assert.equal(await t.ok(['volume', 'ls']), 'DRIVER      VOLUME NAME\nlocal       l1\nlocal       l2\n');
  assert.deepEqual(await volumeNames('label=env=prod'), ['l1']);
  assert.deepEqual(await volumeNames('label=env'), ['l1', 'l2']);
  assert.deepEqual(await volumeNames('dangling=true'), ['l1']);
  assert.deepEqual(await volumeNames('dangling=false'), ['l2']);
  assert.deepEqual(await volumeNames('name=l2', 'name=l1'), ['l1', 'l2']);
  assert.deepEqual(await volumeNames('driver=local', 'name=^l1$'), ['l1']);
  assert.equal(await t.ok(['volume', 'ls', '--format', '{{.Name}}:{{.Driver}}:{{.Scope}}:{{.Labels}}']), 'l1:local:local:map[env:prod]\nl2:local:local:map[env:dev]\n');
  assert.equal(await t.ok(['volume', 'inspect', '--format', '{{.Name}} {{.Driver}} {{.Mountpoint}} {{.Scope}} {{index .Labels "env"}}', 'l1']),
    `l1 local ${t.root}/volumes/l1/_data local prod\n`);
  const [obj] = JSON.parse(await t.ok(['volume', 'inspect', 'l2'])) as Record<string, unknown>[];
  assert.equal(obj!.Name, 'l2');
  assert.deepEqual(obj!.Options, {});
  assert.ok(!Number.isNaN(Date.parse(String(obj!.CreatedAt))));
  assert.equal((await t.ok(['inspect', '--type', 'volume', '--format', '{{.Name}}', 'l1'])).trim(), 'l1');
  assert.equal((await t.ok(['inspect', '--format', '{{.Mountpoint}}', 'l1'])).trim(), `${t.root}/volumes/l1/_data`);
  const bad = await t.berth(['volume', 'ls', '--filter', 'colour=red']);
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /invalid volume filter "colour=red"/);
  const missing = await t.berth(['volume', 'inspect', 'nope']);
  assert.equal(missing.code, 125);
  assert.match(missing.stderr, /no such volume/);
  await t.ok(['rm', 'lu']);
  await t.ok(['volume', 'rm', 'l1', 'l2']);
});

test('bad names and options are refused and change nothing', async () => {
  const cases: [string[], RegExp][] = [
    [['volume', 'create', 'bad/name'], /invalid volume name "bad\/name"/],
    [['volume', 'create', '-bad'], /unknown shorthand flag|invalid volume name/],
    [['volume', 'create', '--opt', 'foo=bar', 'x1'], /invalid volume option "foo"/],
    [['volume', 'create', '--opt', 'type=tmpfs', 'x1'], /need both "type" and "device"/],
    [['volume', 'create', '--opt', 'o=size=1m', 'x1'], /need both "type" and "device"/],
    [['volume', 'create', '--opt', 'size=1g', 'x1'], /"size" .* not supported/],
    [['volume', 'create', '--opt', 'type', 'x1'], /expected KEY=VALUE/],
    [['volume', 'create', '--driver', 'nfs', 'x1'], /driver "nfs" is not available/],
    [['run', '--rm', '-v', 'bad$name:/x', 'busybox', 'true'], /invalid volume source/],
    [['run', '--rm', '--mount', 'type=volume,source=x1,target=/x,volume-opt=type=tmpfs', 'busybox', 'true'], /need both "type" and "device"/],
    [['run', '--rm', '--volumes-from', 'nosuch', 'busybox', 'true'], /no container with name or ID "nosuch"/],
  ];
  for (const [args, msg] of cases) {
    const r = await t.berth(args);
    assert.equal(r.code, 125, args.join(' '));
    assert.match(r.stderr, msg, args.join(' '));
  }
  assert.deepEqual(await volumeNames(), []);
  // A create that fails after resolving its mounts leaves no new volume behind.
  await t.ok(['create', '--name', 'dup', 'busybox', 'true']);
  const dup = await t.berth(['create', '--name', 'dup', '-v', 'fresh:/x', '-v', '/anon', 'vimg:1', 'true']);
  assert.equal(dup.code, 125);
  assert.deepEqual(await volumeNames(), []);
  assert.deepEqual(fs.existsSync(path.join(t.root, 'volumes')) ? fs.readdirSync(path.join(t.root, 'volumes')) : [], []);
  await t.ok(['rm', 'dup']);
  // Creating a volume twice is a conflict, unless --ignore.
  await t.ok(['volume', 'create', 'twice']);
  const again = await t.berth(['volume', 'create', 'twice']);
  assert.equal(again.code, 125);
  assert.match(again.stderr, /already exists/);
  assert.equal(await t.ok(['volume', 'create', '--ignore', 'twice']), 'twice\n');
  assert.match((await t.ok(['volume', 'create'])).trim(), HEX64);
  assert.equal((await t.ok(['volume', 'rm', '--all'])).split('\n').filter(Boolean).length, 2);
});
