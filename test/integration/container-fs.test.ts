// cp, diff, export, commit, rename, top and port against real containers.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { TestEnv, eventually } from '../helpers/env.js';
import { encodeHeader, END_OF_ARCHIVE, padding, type OutHeader } from '../../src/snapshot/tar-format.js';

let t: TestEnv;
let host: string;     // scratch directory on the host
before(async () => {
  t = await TestEnv.create();
  host = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-cp-'));
});
after(async () => {
  await t.cleanup();
  fs.rmSync(host, { recursive: true, force: true });
});

const h = (...p: string[]) => path.join(host, ...p);
const sh = (ctr: string, script: string) => t.ok(['exec', ctr, 'sh', '-c', script]);
const T0 = 1_600_000_000;

/** A tar built entry by entry (names exactly as given, for hostile input). */
function tarball(entries: (Partial<OutHeader> & { name: string; data?: string })[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = Buffer.from(e.data ?? '');
    const type = e.type ?? 'file';
    parts.push(encodeHeader({ mode: 0o644, uid: 0, gid: 0, mtime: T0, ...e, type, size: type === 'file' ? data.length : 0 }));
    if (type === 'file') parts.push(data, padding(data.length));
  }
  parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

/** Whether the container's root is mounted now. */
async function rootMounted(name: string): Promise<boolean> {
  const id = (await t.ok(['inspect', '--format', '{{.Id}}', name])).trim();
  return t.mounts().some((m) => m.includes(id));
}

async function running(name: string, extra: string[] = []): Promise<void> {
  await t.ok(['run', '-d', '--name', name, ...extra, 'busybox', 'sleep', '1000']);
  await eventually(async () => (await t.ok(['inspect', '--format', '{{.State.Running}}', name])).trim() === 'true');
}

test('cp copies files, directories and dir/. contents both ways, keeping modes and mtimes', async () => {
  fs.mkdirSync(h('src/sub'), { recursive: true });
  fs.writeFileSync(h('src/a.txt'), 'hello\n');
  fs.writeFileSync(h('src/sub/b.txt'), 'bee\n');
  fs.symlinkSync('a.txt', h('src/ln'));
  fs.chmodSync(h('src/a.txt'), 0o640);
  fs.chownSync(h('src/a.txt'), 1234, 4321);
  fs.utimesSync(h('src/a.txt'), T0, T0);
  await running('cp1');

  await t.ok(['cp', h('src/a.txt'), 'cp1:/tmp/']);
  assert.equal(await sh('cp1', 'cat /tmp/a.txt; stat -c "%a %u:%g %Y" /tmp/a.txt'), `hello\n640 0:0 ${T0}\n`);
  await t.ok(['cp', '-a', h('src/a.txt'), 'cp1:/tmp/kept.txt']);
  assert.equal((await sh('cp1', 'stat -c "%u:%g" /tmp/kept.txt')).trim(), '1234:4321', '-a keeps the owner');
  // A directory into an existing directory lands under its own name; a new name gets its contents.
  await t.ok(['cp', h('src'), 'cp1:/tmp']);
  await t.ok(['cp', h('src'), 'cp1:/tmp/copy']);
  await t.ok(['cp', h('src') + '/.', 'cp1:/home']);
  assert.equal(await sh('cp1', 'cat /tmp/src/sub/b.txt /tmp/copy/a.txt /home/sub/b.txt; readlink /tmp/src/ln'), 'bee\nhello\nbee\na.txt\n');

  await t.ok(['cp', 'cp1:/tmp/src', h('back')]);
  assert.equal(fs.readFileSync(h('back/sub/b.txt'), 'utf8'), 'bee\n');
  assert.equal(fs.readlinkSync(h('back/ln')), 'a.txt');
  const st = fs.statSync(h('back/a.txt'));
  assert.equal(st.mode & 0o777, 0o640);
  assert.equal(Math.floor(st.mtimeMs / 1000), T0);
  fs.mkdirSync(h('into'));
  await t.ok(['cp', 'cp1:/tmp/src/.', h('into')]);
  assert.deepEqual(fs.readdirSync(h('into')).sort(), ['a.txt', 'ln', 'sub']);
  await t.ok(['cp', 'cp1:/etc/hostname', h('hostname')]);
  assert.match(fs.readFileSync(h('hostname'), 'utf8'), /^[0-9a-f]{12}\n$/, 'the /etc/hostname the container sees');
  // Docker's rules for what may replace what.
  const dirOverFile = await t.berth(['cp', h('src'), 'cp1:/tmp/a.txt']);
  assert.equal(dirOverFile.code, 125);
  assert.match(dirOverFile.stderr, /not a directory/);
  assert.equal((await t.berth(['cp', h('src/a.txt'), 'cp1:/nope/'])).code, 125);
  assert.equal((await t.ok(['inspect', '--format', '{{.State.Status}}', 'cp1'])).trim(), 'running', 'resumed after the copy');
});

test('cp works on created and exited containers without leaving them mounted', async () => {
  fs.writeFileSync(h('c.txt'), 'created\n');
  await t.ok(['create', '--name', 'cr', 'busybox', 'cat', '/c.txt']);
  await t.ok(['cp', h('c.txt'), 'cr:/c.txt']);
  await t.ok(['cp', 'cr:/c.txt', h('c.back')]);
  assert.equal(fs.readFileSync(h('c.back'), 'utf8'), 'created\n');
  assert.equal((await t.ok(['inspect', '--format', '{{.State.Status}}', 'cr'])).trim(), 'created');
  assert.equal(await rootMounted('cr'), false);
  assert.equal((await t.berth(['start', '-a', 'cr'])).stdout, 'created\n', 'the copied file is there when it runs');
  await t.ok(['cp', 'cr:/c.txt', h('c.after')]);
  assert.equal(fs.readFileSync(h('c.after'), 'utf8'), 'created\n');
  assert.equal(await rootMounted('cr'), false);
});

test('cp resolves symlinks inside the container only', async () => {
  await t.ok(['run', '--name', 'sl', 'busybox', 'sh', '-c',
    'echo s3cret > /etc/secret-x; ln -s /etc/secret-x /etc/link; ln -s /../../../../etc /escape']);
  await t.ok(['cp', '-L', 'sl:/etc/link', h('followed')]);
  assert.equal(fs.readFileSync(h('followed'), 'utf8'), 's3cret\n');
  await t.ok(['cp', 'sl:/etc/link', h('asis')]);
  assert.equal(fs.readlinkSync(h('asis')), '/etc/secret-x', 'without -L the link itself is copied');
  await t.ok(['cp', 'sl:/escape/secret-x', h('via-escape')]);
  assert.equal(fs.readFileSync(h('via-escape'), 'utf8'), 's3cret\n', '/escape resolves to the container\'s /etc');
  const marker = `berth-cp-marker-${process.pid}`;
  fs.writeFileSync(h(marker), 'inside\n');
  await t.ok(['cp', h(marker), 'sl:/escape/']);
  assert.equal(fs.existsSync(`/etc/${marker}`), false, 'nothing written on the host');
  await t.ok(['cp', `sl:/etc/${marker}`, h('marker.back')]);
  assert.equal(fs.readFileSync(h('marker.back'), 'utf8'), 'inside\n');
});

test('cp into a bind mount writes the host directory; tmpfs contents are reachable while running', async () => {
  fs.mkdirSync(h('bind'));
  fs.mkdirSync(h('robind'));
  await running('mnt', ['-v', `${h('bind')}:/data`, '-v', `${h('robind')}:/ro:ro`, '--tmpfs', '/scratch']);
  fs.writeFileSync(h('m.txt'), 'mounted\n');
  await t.ok(['cp', h('m.txt'), 'mnt:/data/m.txt']);
  assert.equal(fs.readFileSync(h('bind/m.txt'), 'utf8'), 'mounted\n');
  const ro = await t.berth(['cp', h('m.txt'), 'mnt:/ro/']);
  assert.equal(ro.code, 125);
  assert.match(ro.stderr, /read-only/);
  assert.deepEqual(fs.readdirSync(h('robind')), []);
  await sh('mnt', 'echo temp > /scratch/t.txt');
  await t.ok(['cp', 'mnt:/scratch/t.txt', h('t.txt')]);
  assert.equal(fs.readFileSync(h('t.txt'), 'utf8'), 'temp\n');
  // A directory holding a mount point carries the mount's content in a tar stream.
  const r = spawnSync('sh', ['-c', `${t.shellCommand(['cp', 'mnt:/', '-'])} | tar -t`], { encoding: 'utf8', env: t.env });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^data\/m\.txt$/m);
  assert.match(r.stdout, /^bin\/busybox$/m);
});

test('cp - extracts a tar stream and contains hostile entries', async () => {
  await running('tr');
  await sh('tr', 'mkdir /tmp/x');
  const ok = tarball([{ name: 'dir/', type: 'dir', mode: 0o755 }, { name: 'dir/f', data: 'tar\n' }, { name: 'lnk', type: 'symlink', linkname: '/' }, { name: 'lnk/landed', data: 'in\n' }]);
  await t.ok(['cp', '-', 'tr:/tmp/x'], { input: ok });
  assert.equal(await sh('tr', 'cat /tmp/x/dir/f /tmp/x/landed; readlink /tmp/x/lnk'), 'tar\nin\n/\n');
  const name = `berth-evil-${process.pid}`;
  const evil = tarball([{ name: `../../../../../../tmp/${name}`, data: 'pwned\n' }]);
  const r = await t.berth(['cp', '-', 'tr:/tmp/x'], { input: evil });
  assert.equal(r.code, 125);
  assert.match(r.stderr, /escapes/);
  assert.equal(fs.existsSync(`/tmp/${name}`), false);
  assert.equal((await sh('tr', `ls /tmp/${name} 2>&1 || true`)).includes('No such file'), true);
  const notDir = await t.berth(['cp', '-', 'tr:/tmp/x/dir/f'], { input: ok });
  assert.equal(notDir.code, 125);
  assert.match(notDir.stderr, /must be an existing directory/);
});

test('diff, export and commit see additions, changes and deletions', async () => {
  await t.ok(['run', '--name', 'chg', 'busybox', 'sh', '-c', 'echo new > /newfile; echo extra >> /etc/passwd; rm /etc/group; rm -r /var/www; mkdir /var/www']);
  const diff = await t.ok(['diff', 'chg']);
  const lines = diff.trim().split('\n');
  const paths = lines.map((l) => l.slice(2));
  assert.deepEqual([...paths].sort(), paths, 'sorted by path');
  for (const l of ['A /newfile', 'C /etc/passwd', 'D /etc/group', 'C /etc', 'C /var/www']) assert.ok(lines.includes(l), `${l} in:\n${diff}`);
  const json = JSON.parse(await t.ok(['diff', '--format', 'json', 'chg'])) as Record<string, string[]>;
  assert.ok(json.added!.includes('/newfile') && json.deleted!.includes('/etc/group') && json.changed!.includes('/etc/passwd'));

  await t.ok(['export', '-o', h('chg.tar'), 'chg']);
  const names = spawnSync('tar', ['-tf', h('chg.tar')], { encoding: 'utf8' }).stdout.split('\n');
  assert.ok(names.includes('newfile') && names.includes('bin/busybox') && names.includes('etc/passwd'));
  assert.ok(!names.includes('etc/group'), 'deleted files are not exported');

  const id = (await t.ok(['commit', '-c', 'CMD ["cat", "/newfile"]', '-m', 'my change', '-a', 'Jane <j@example.com>', 'chg', 'committed:1'])).trim();
  assert.match(id, /^sha256:[0-9a-f]{64}$/);
  assert.equal(await t.ok(['run', '--rm', 'committed:1']), 'new\n', '--change CMD applies');
  assert.equal(await t.ok(['run', '--rm', 'committed:1', 'sh', '-c', 'test -e /etc/group || echo gone; tail -n1 /etc/passwd; ls -A /var/www | wc -l']), 'gone\nextra\n0\n');
  assert.equal((await t.ok(['image', 'inspect', '--format', '{{.Author}}', id])).trim(), 'Jane <j@example.com>');
  assert.match(await t.ok(['history', '--format', '{{.Comment}}', 'committed:1']), /^my change$/m);
  // Ports the container exposed (--expose) are exposed by the new image, as Docker does.
  await t.ok(['create', '--name', 'exp', '--network', 'none', '--expose', '8080/udp', '--expose', '9000-9001', 'busybox', 'true']);
  assert.deepEqual(JSON.parse(await t.ok(['inspect', '--format', '{{json .Config.ExposedPorts}}', 'exp'])), { '8080/udp': {}, '9000/tcp': {}, '9001/tcp': {} });
  await t.ok(['commit', 'exp', 'exposed:1']);
  assert.deepEqual(JSON.parse(await t.ok(['image', 'inspect', '--format', '{{json .Config.ExposedPorts}}', 'exposed:1'])), { '8080/udp': {}, '9000/tcp': {}, '9001/tcp': {} });
});

test('commit pauses a running container only for the commit; --format docker runs', async () => {
  await running('live');
  await sh('live', 'echo live > /state');
  await t.ok(['commit', '--format', 'docker', 'live', 'live-img']);
  assert.equal((await t.ok(['inspect', '--format', '{{.State.Status}}', 'live'])).trim(), 'running');
  assert.equal(await t.ok(['run', '--rm', 'live-img', 'cat', '/state']), 'live\n');
  assert.equal((await t.berth(['commit', '-c', 'BOGUS x', 'live'])).code, 125);
});

test('rename, top and port', async () => {
  await running('old');
  await t.ok(['rename', 'old', 'renamed']);
  assert.equal((await t.berth(['container', 'exists', 'old'])).code, 1);
  assert.equal((await t.ok(['inspect', '--format', '{{.Name}}', 'renamed'])).trim().replace(/^\//, ''), 'renamed');
  await t.ok(['create', '--name', 'other', 'busybox', 'true']);
  const clash = await t.berth(['rename', 'renamed', 'other']);
  assert.equal(clash.code, 125);
  assert.match(clash.stderr, /already in use/);
  assert.equal((await t.berth(['rename', 'renamed', 'bad/name'])).code, 125);

  const top = (await t.ok(['top', 'renamed'])).split('\n');
  assert.match(top[0]!, /^USER\s+PID\s+PPID\s+%CPU\s+ELAPSED\s+TTY\s+TIME\s+COMMAND$/);
  assert.ok(top.some((l) => /\ssleep 1000$/.test(l)), top.join('\n'));
  assert.match(await t.ok(['top', 'renamed', 'pid', 'comm']), /^PID\s+COMMAND\n\s*\d+\s+sleep\n$/);
  assert.match(await t.ok(['top', 'renamed', '-eo', 'pid,comm']), /^\s*PID\s+COMMAND\n\s*\d+\s+sleep\n$/);
  const stopped = await t.berth(['top', 'other']);
  assert.equal(stopped.code, 125);
  assert.match(stopped.stderr, /not running/);

  assert.equal(await t.ok(['port', 'renamed']), '');
  assert.equal((await t.berth(['port', 'nosuch'])).code, 125);
});

test('cp reports unknown containers, missing paths and bad arguments clearly', async () => {
  const unknown = await t.berth(['cp', 'nosuch:/etc/passwd', h('x')]);
  assert.equal(unknown.code, 125);
  assert.match(unknown.stderr, /no container with name or ID "nosuch"/);
  await t.ok(['create', '--name', 'errs', 'busybox', 'true']);
  const missing = await t.berth(['cp', 'errs:/no/such/file', h('x')]);
  assert.equal(missing.code, 125);
  assert.match(missing.stderr, /could not find errs:\/no\/such\/file/);
  const hostMissing = await t.berth(['cp', h('absent'), 'errs:/tmp/']);
  assert.equal(hostMissing.code, 125);
  assert.match(hostMissing.stderr, /could not find/);
  assert.match((await t.berth(['cp', h('a'), h('b')])).stderr, /CONTAINER:PATH/);
  assert.match((await t.berth(['cp', 'errs:/a', 'errs:/b'])).stderr, /between containers/);
  assert.equal(fs.existsSync(h('x')), false);
  assert.equal(await rootMounted('errs'), false);
});
