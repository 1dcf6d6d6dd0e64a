// Layer unpacking: formats, digests, atomicity and hostile archives.
// Runs as root (ownership, device nodes, trusted.* xattrs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { isBerthError } from '../../src/engine/errors.js';
import { getXattr } from '../../src/sys/libc.js';
import { sweepStaleTemps, unpackLayer, unpackLayerLate, type LayerDestination, type UnpackOptions } from '../../src/snapshot/unpack.js';

type Ent = Partial<tar.Header> & { name: string; pax?: Record<string, string>; data?: string | Buffer };

async function makeTar(entries: Ent[]): Promise<Buffer> {
  const p = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => { for await (const c of p) chunks.push(c as Buffer); })();
  for (const { data, ...h } of entries) {
    await new Promise<void>((res, rej) => {
      const cb = (err?: Error | null) => (err ? rej(err) : res());
      const type = h.type ?? 'file';
      if (type === 'file') p.entry(h, data ?? Buffer.alloc(0), cb);
      else p.entry(h, cb);
    });
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** A source stream delivering `buf` in small chunks (exercises block boundaries). */
function source(buf: Buffer, chunk = 777): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunk) {
    parts.push(buf.subarray(i, i + chunk));
    if (i % (chunk * 3) === 0) parts.push(Buffer.alloc(0)); // empty chunks happen too
  }
  return Readable.from(parts);
}

const sha = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

interface Ctx { work: string; layers: string; dest: string; sentinel: string }

/** A private work dir: layers/ (dest parent) and a sentinel dir beside it. */
async function withWork(fn: (c: Ctx) => Promise<void>): Promise<void> {
  const work = await fsp.mkdtemp(join(tmpdir(), 'berth-unpack-'));
  const c: Ctx = { work, layers: join(work, 'layers'), dest: join(work, 'layers', 'L'), sentinel: join(work, 'sentinel') };
  mkdirSync(c.layers);
  mkdirSync(c.sentinel);
  writeFileSync(join(c.sentinel, 'keep'), 'original');
  try {
    await fn(c);
    // Nothing outside the layer was touched.
    assert.deepEqual(readdirSync(work).sort(), ['layers', 'sentinel']);
    assert.deepEqual(readdirSync(c.sentinel), ['keep']);
    assert.equal(readFileSync(join(c.sentinel, 'keep'), 'utf8'), 'original');
    assert.ok(readdirSync(c.layers).every((n) => n === 'L'), `leftovers in layers/: ${readdirSync(c.layers)}`);
  } finally {
    await fsp.rm(work, { recursive: true, force: true });
  }
}

async function unpackOk(c: Ctx, buf: Buffer, opts?: UnpackOptions) {
  const r = await unpackLayer(source(buf), c.dest, opts);
  assert.deepEqual(readdirSync(c.layers), ['L']);
  return r;
}

/** Expects a failure whose message matches `re`, leaving neither dest nor a temp dir. */
async function unpackFails(c: Ctx, buf: Buffer, re: RegExp, opts?: UnpackOptions, kind = 'corrupt') {
  await assert.rejects(unpackLayer(source(buf), c.dest, opts), (e: unknown) => {
    assert.ok(isBerthError(e), `not a BerthError: ${e}`);
    assert.equal(e.kind, kind, e.message);
    assert.match(e.message, re);
    assert.ok(!e.message.includes('\n'), 'one-line message');
    return true;
  });
  assert.deepEqual(readdirSync(c.layers), [], 'failed unpack left something behind');
}

const P = (c: Ctx, ...p: string[]) => join(c.dest, ...p);

test('plain tar: content, diffID and size of the uncompressed stream', () => withWork(async (c) => {
  const t = await makeTar([
    { name: 'etc/', type: 'directory', mode: 0o755 },
    { name: 'etc/hostname', data: 'box\n', mode: 0o644 },
    { name: 'usr/bin/tool', data: Buffer.alloc(5000, 7), mode: 0o755 },
    { name: 'x'.repeat(60) + '/' + 'y'.repeat(80), data: 'long' },
  ]);
  const r = await unpackOk(c, t);
  assert.equal(r.diffId, sha(t));
  assert.equal(r.size, t.length);
  assert.equal(readFileSync(P(c, 'etc/hostname'), 'utf8'), 'box\n');
  assert.deepEqual(readFileSync(P(c, 'usr/bin/tool')), Buffer.alloc(5000, 7));
  assert.equal(readFileSync(P(c, 'x'.repeat(60), 'y'.repeat(80)), 'utf8'), 'long');
  assert.equal((await fsp.stat(P(c, 'usr'))).mode & 0o7777, 0o755); // implicit parent
}));

test('gzip and zstd layers give the diffID of the uncompressed tar', () => withWork(async (c) => {
  const t = await makeTar([{ name: 'a', data: 'hello' }, { name: 'b/', type: 'directory' }]);
  const gz = await unpackLayer(source(gzipSync(t)), join(c.layers, 'L'));
  assert.equal(gz.diffId, sha(t));
  await fsp.rm(c.dest, { recursive: true });
  const z = spawnSync('zstd', ['-c', '-q'], { input: t });
  assert.equal(z.status, 0);
  const zs = await unpackLayer(source(z.stdout), c.dest, { expectedDiffId: sha(t) });
  assert.equal(zs.diffId, sha(t));
  assert.equal(readFileSync(P(c, 'a'), 'utf8'), 'hello');
}));

test('digest mismatch names both digests and leaves nothing', () => withWork(async (c) => {
  const t = await makeTar([{ name: 'a', data: 'x' }]);
  const wrong = 'sha256:' + '0'.repeat(64);
  await unpackFails(c, t, new RegExp(`expected ${wrong}, got ${sha(t)}`), { expectedDiffId: wrong });
  await unpackFails(c, t, /invalid expected diffID/, { expectedDiffId: 'md5:abc' }, 'invalid-argument');
}));

test('an unpack that learns its destination at its end: named, checked, or thrown away', () => withWork(async (c) => {
  const t = await makeTar([{ name: 'a', data: 'late' }]);
  const later = () => {
    let settle!: { resolve(d: LayerDestination | undefined): void; reject(e: Error): void };
    const p = new Promise<LayerDestination | undefined>((resolve, reject) => { settle = { resolve, reject }; });
    return { p, ...settle };
  };
  // Named after the tar is read: it waits in a temporary directory, then takes the name.
  let d = later();
  const named = unpackLayerLate(source(gzipSync(t)), c.layers, d.p);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(readdirSync(c.layers).length, 1);
  assert.match(readdirSync(c.layers)[0]!, /^\.tmp-/);
  d.resolve({ dest: c.dest, diffId: sha(t) });
  assert.deepEqual(await named, { diffId: sha(t), size: t.length });
  assert.equal(readFileSync(P(c, 'a'), 'utf8'), 'late');
  await fsp.rm(c.dest, { recursive: true });
  // Not needed after all, a wrong diff ID, or no destination ever: nothing is left.
  d = later();
  const dropped = unpackLayerLate(source(t), c.layers, d.p);
  d.resolve(undefined);
  assert.equal(await dropped, undefined);
  d = later();
  d.resolve({ dest: c.dest, diffId: 'sha256:' + '0'.repeat(64) });
  await assert.rejects(unpackLayerLate(source(t), c.layers, d.p), /layer diffID mismatch/);
  d = later();
  d.reject(new Error('the config is damaged'));
  await assert.rejects(unpackLayerLate(source(t), c.layers, d.p), /the config is damaged/);
  assert.deepEqual(readdirSync(c.layers), []);
}));

test('truncated gzip, tar and zstd and garbage input are corrupt', () => withWork(async (c) => {
  const t = await makeTar([{ name: 'big', data: Buffer.alloc(100_000, 1) }, { name: 'z', data: 'z' }]);
  const gz = gzipSync(t);
  await unpackFails(c, gz.subarray(0, gz.length - 10), /^truncated layer/);
  await unpackFails(c, t.subarray(0, 5000), /^truncated layer.*"big"/);
  await unpackFails(c, t.subarray(0, t.length - 1024), /^truncated layer/); // no end-of-archive marker
  const z = spawnSync('zstd', ['-c', '-q'], { input: Buffer.concat([t, Buffer.from(Array.from({ length: 50_000 }, (_, i) => (i * 7919) % 251))]) }).stdout;
  await unpackFails(c, z.subarray(0, z.length >> 1), /^truncated layer \(zstd/);
  await unpackFails(c, Buffer.from('this is not a tar archive at all '.repeat(40)), /not a tar archive/);
  await unpackFails(c, Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), /gzip/);
  await unpackFails(c, Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3, 4, 5, 6, 7, 8, 9]), /zstd/);
}));

test('a layer stream destroyed without an error mid-file (a download given up) fails as truncated, leaving nothing open', () => withWork(async (c) => {
  const t = await makeTar([{ name: 'big', data: Buffer.from(Array.from({ length: 3_000_000 }, (_, i) => (i * 7919) % 251)) }]);
  const z = spawnSync('zstd', ['-c', '-q'], { input: t }).stdout;
  for (const [kind, blob] of [['tar', t], ['gzip', gzipSync(t)], ['zstd', z]] as const) {
    const fdsBefore = readdirSync('/proc/self/fd').length;
    const src = new PassThrough();
    const unpacked = unpackLayer(src, c.dest);
    src.write(blob.subarray(0, blob.length >> 1));
    setTimeout(() => src.destroy(), 100);
    const outcome = await Promise.race([
      unpacked.then(() => 'unpacked', (e: Error) => e.message),
      new Promise<string>((r) => setTimeout(() => r('still waiting after 10 s'), 10_000)),
    ]);
    assert.match(outcome, /truncated layer|closed before its end|premature close/i, kind);
    assert.deepEqual(readdirSync(c.layers), [], `${kind}: temp dir left`);
    assert.equal(readdirSync('/proc/self/fd').length, fdsBefore, `${kind}: a file was left open`);
  }
}));

test('a source that fails before the unpack reads it fails the unpack, not the process', () => withWork(async (c) => {
  // A pull destroys the layer stream with the blob's error when the blob fails its digest,
  // which can happen while unpackLayer is still making its temp dir.
  const src = new PassThrough();
  const unpacked = unpackLayer(src, c.dest);
  src.destroy(new Error('blob digest mismatch: expected a, got b'));
  await assert.rejects(unpacked, /blob digest mismatch: expected a, got b/);
  assert.deepEqual(readdirSync(c.layers), [], 'temp dir left');
}));

test('size bound: layers above maxBytes are refused', () => withWork(async (c) => {
  const t = await makeTar([{ name: 'big', data: Buffer.alloc(200_000) }]);
  await unpackFails(c, gzipSync(t), /^layer exceeds 100000 bytes/, { maxBytes: 100_000 });
}));

test('names escaping with ".." are refused', () => withWork(async (c) => {
  let t = await makeTar([{ name: 'ok', data: '1' }, { name: '../../sentinel/pwned', data: 'evil' }]);
  await unpackFails(c, t, /^layer entry "\.\.\/\.\.\/sentinel\/pwned" escapes the layer root$/);
  t = await makeTar([{ name: 'a/../../sentinel/keep', data: 'evil' }]);
  await unpackFails(c, t, /^layer entry "a\/\.\.\/\.\.\/sentinel\/keep" escapes the layer root$/);
  t = await makeTar([{ name: '../', type: 'directory' }]);
  await unpackFails(c, t, /escapes the layer root/);
}));

test('absolute names are made relative to the layer root', () => withWork(async (c) => {
  const t = await makeTar([{ name: '/abs/file', data: 'in' }, { name: '//etc/../etc/x', data: 'y' }]);
  await unpackOk(c, t);
  assert.equal(readFileSync(P(c, 'abs/file'), 'utf8'), 'in');
  assert.equal(readFileSync(P(c, 'etc/x'), 'utf8'), 'y');
}));

test('symlinks are created as-is and resolved within the root when used as parents', () => withWork(async (c) => {
  const t = await makeTar([
    { name: 'root', type: 'symlink', linkname: '/' },
    { name: 'up', type: 'symlink', linkname: '../../../..' },
    { name: 'sen', type: 'symlink', linkname: '../../sentinel' },
    { name: 'etcl', type: 'symlink', linkname: '/etc' },
    { name: 'root/sentinel/keep', data: 'via-root' },
    { name: 'up/sentinel/x', data: 'via-up' },
    { name: 'sen/keep', data: 'via-sen' },
    { name: 'etcl/passwd', data: 'pw' },
  ]);
  await unpackOk(c, t);
  assert.equal(await fsp.readlink(P(c, 'root')), '/');
  assert.equal(await fsp.readlink(P(c, 'up')), '../../../..');
  assert.equal(await fsp.readlink(P(c, 'sen')), '../../sentinel');
  assert.equal(readFileSync(P(c, 'sentinel/keep'), 'utf8'), 'via-sen');
  assert.equal(readFileSync(P(c, 'sentinel/x'), 'utf8'), 'via-up');
  assert.equal(readFileSync(P(c, 'etc/passwd'), 'utf8'), 'pw');
}));

test('symlink loops and symlinks to files used as parents are refused', () => withWork(async (c) => {
  let t = await makeTar([
    { name: 'a', type: 'symlink', linkname: 'b' }, { name: 'b', type: 'symlink', linkname: 'a' }, { name: 'a/x', data: '1' },
  ]);
  await unpackFails(c, t, /^layer entry "a\/x": too many levels of symbolic links$/);
  t = await makeTar([{ name: 'f', data: 'file' }, { name: 'l', type: 'symlink', linkname: 'f' }, { name: 'l/x', data: '1' }]);
  await unpackFails(c, t, /^layer entry "l\/x": parent "f" is not a directory$/);
  t = await makeTar([{ name: 'd/.wh.x/y', data: '1' }]);
  await unpackFails(c, t, /whiteout name as a parent/);
}));

test('hard links must stay inside the layer', () => withWork(async (c) => {
  let t = await makeTar([{ name: 'l', type: 'link', linkname: '../../sentinel/keep' }]);
  await unpackFails(c, t, /^layer entry "l": hard link target "\.\.\/\.\.\/sentinel\/keep" escapes the layer root$/);
  t = await makeTar([{ name: 'l', type: 'link', linkname: '/etc/passwd' }]);
  await unpackFails(c, t, /^layer entry "l": hard link target "\/etc\/passwd" is not in the layer$/);
  t = await makeTar([{ name: 'd/', type: 'directory' }, { name: 'l', type: 'link', linkname: 'd' }]);
  await unpackFails(c, t, /is a directory/);
  t = await makeTar([{ name: 'sen', type: 'symlink', linkname: '../../sentinel' }, { name: 'l', type: 'link', linkname: 'sen/keep' }]);
  await unpackFails(c, t, /hard link target "sen\/keep" is not in the layer/);
}));

test('hard links inside the layer share the inode', () => withWork(async (c) => {
  const t = await makeTar([
    { name: 'bin/busybox', data: 'bb', mode: 0o755 },
    { name: 'bin/sh', type: 'link', linkname: 'bin/busybox' },
    { name: 'usrbin', type: 'symlink', linkname: '/bin' },
    { name: 'ls', type: 'link', linkname: '/usrbin/busybox' },
  ]);
  await unpackOk(c, t);
  const a = await fsp.stat(P(c, 'bin/busybox')), b = await fsp.stat(P(c, 'bin/sh')), l = await fsp.stat(P(c, 'ls'));
  assert.equal(a.ino, b.ino);
  assert.equal(a.ino, l.ino);
  assert.equal(a.nlink, 3);
}));

test('duplicate entries: later ones replace earlier ones', () => withWork(async (c) => {
  const t = await makeTar([
    { name: 'f', data: 'old' },
    { name: 'g', type: 'link', linkname: 'f' },
    { name: 'f', data: 'new' },
    { name: 'd/', type: 'directory' },
    { name: 'd/child', data: 'c' },
    { name: 'd', data: 'now a file' },
    { name: 'e', data: 'file' },
    { name: 'e/', type: 'directory', mode: 0o700 },
    { name: 'k/', type: 'directory', mode: 0o755 },
    { name: 'k/keep', data: 'kept' },
    { name: 'k/', type: 'directory', mode: 0o750 },
    { name: 's', type: 'symlink', linkname: '/tmp' },
    { name: 's/', type: 'directory' },
    { name: 's/in', data: 'inside' },
  ]);
  await unpackOk(c, t);
  assert.equal(readFileSync(P(c, 'f'), 'utf8'), 'new');
  assert.equal(readFileSync(P(c, 'g'), 'utf8'), 'old'); // the earlier inode is untouched
  assert.equal(readFileSync(P(c, 'd'), 'utf8'), 'now a file');
  assert.ok((await fsp.lstat(P(c, 'e'))).isDirectory());
  assert.equal(readFileSync(P(c, 'k/keep'), 'utf8'), 'kept');
  assert.equal((await fsp.stat(P(c, 'k'))).mode & 0o777, 0o750);
  assert.ok((await fsp.lstat(P(c, 's'))).isDirectory());
  assert.equal(readFileSync(P(c, 's/in'), 'utf8'), 'inside');
}));

test('whiteouts become 0:0 char devices and opaque markers an xattr', () => withWork(async (c) => {
  const t = await makeTar([
    { name: 'a/', type: 'directory' },
    { name: 'a/.wh.gone', data: '' },
    { name: 'a/.wh..wh..opq', data: '' },
    { name: 'b/.wh..wh..opq', data: '' }, // implicit parent
    { name: 'c/.wh.kept', data: '' },
    { name: 'c/kept', data: 'same layer wins' },
    { name: 'd/kept2', data: 'same layer wins' },
    { name: 'd/.wh.kept2', data: '' },
    { name: '.wh..wh.plnk/', type: 'directory' },
  ]);
  await unpackOk(c, t);
  const st = await fsp.lstat(P(c, 'a/gone'));
  assert.ok(st.isCharacterDevice());
  assert.equal(st.rdev, 0);
  assert.deepEqual(readdirSync(P(c, 'a')), ['gone']);
  assert.equal(getXattr(P(c, 'a'), 'trusted.overlay.opaque')?.toString(), 'y');
  assert.equal(getXattr(P(c, 'b'), 'trusted.overlay.opaque')?.toString(), 'y');
  assert.equal(readFileSync(P(c, 'c/kept'), 'utf8'), 'same layer wins');
  assert.equal(readFileSync(P(c, 'd/kept2'), 'utf8'), 'same layer wins');
  assert.deepEqual(readdirSync(c.dest).sort(), ['a', 'b', 'c', 'd']);
}));

test('device nodes and FIFOs: created by default, refused when not allowed', () => withWork(async (c) => {
  const t = await makeTar([
    { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
    { name: 'dev/loop0', type: 'block-device', devmajor: 7, devminor: 0, mode: 0o660 },
    { name: 'run/fifo', type: 'fifo', mode: 0o600 },
  ]);
  await unpackOk(c, t);
  const n = await fsp.lstat(P(c, 'dev/null'));
  assert.ok(n.isCharacterDevice());
  assert.equal(n.rdev, (1 << 8) | 3);
  assert.equal(n.mode & 0o777, 0o666);
  assert.ok((await fsp.lstat(P(c, 'dev/loop0'))).isBlockDevice());
  assert.ok((await fsp.lstat(P(c, 'run/fifo'))).isFIFO());
  await fsp.rm(c.dest, { recursive: true });
  await unpackFails(c, t, /^layer entry "dev\/null" is a character device, and device nodes\/FIFOs are not allowed/, { allowDevices: false });
  const f = await makeTar([{ name: 'p', type: 'fifo' }]);
  await unpackFails(c, f, /"p" is a FIFO/, { allowDevices: false });
  const w = await makeTar([{ name: '.wh.x', data: '' }, { name: 'y', type: 'character-device', devmajor: 0, devminor: 0 }]);
  await unpackOk(c, w, { allowDevices: false }); // whiteouts are still fine
  assert.ok((await fsp.lstat(P(c, 'x'))).isCharacterDevice());
}));

test('ownership, setuid/setgid/sticky modes and mtimes are preserved', () => withWork(async (c) => {
  const mtime = new Date('2001-02-03T04:05:06Z');
  const t = await makeTar([
    { name: 'opt/', type: 'directory', mode: 0o2775, uid: 1234, gid: 5678, mtime },
    { name: 'opt/suid', data: 'x', mode: 0o4755, uid: 1234, gid: 5678, mtime },
    { name: 'opt/sgid', data: 'x', mode: 0o2711, uid: 0, gid: 5678, mtime },
    { name: 'tmp/', type: 'directory', mode: 0o1777, mtime },
    { name: 'opt/link', type: 'symlink', linkname: 'suid', uid: 1234, gid: 5678, mtime },
    { name: 'opt/sub/late', data: 'written after opt/ entry', mtime },
  ]);
  await unpackOk(c, t);
  const s = await fsp.lstat(P(c, 'opt/suid'));
  assert.equal(s.mode & 0o7777, 0o4755);
  assert.equal(s.uid, 1234);
  assert.equal(s.gid, 5678);
  assert.equal(s.mtimeMs, mtime.getTime());
  assert.equal((await fsp.lstat(P(c, 'opt/sgid'))).mode & 0o7777, 0o2711);
  const d = await fsp.lstat(P(c, 'opt'));
  assert.equal(d.mode & 0o7777, 0o2775);
  assert.deepEqual([d.uid, d.gid], [1234, 5678]);
  assert.equal(d.mtimeMs, mtime.getTime()); // set after its content was written
  assert.equal((await fsp.lstat(P(c, 'tmp'))).mode & 0o7777, 0o1777);
  const l = await fsp.lstat(P(c, 'opt/link'));
  assert.deepEqual([l.uid, l.gid, l.mtimeMs], [1234, 5678, mtime.getTime()]);
}));

test('xattrs from PAX headers are restored, trusted.overlay.* dropped', () => withWork(async (c) => {
  const t = await makeTar([
    { name: 'f', data: 'x', pax: { 'SCHILY.xattr.user.foo': 'bar', 'SCHILY.xattr.trusted.overlay.opaque': 'y' } },
    { name: 'd/', type: 'directory', pax: { 'SCHILY.xattr.user.dir': 'yes', 'SCHILY.xattr.trusted.overlay.redirect': '/x' } },
  ]);
  await unpackOk(c, t);
  assert.equal(getXattr(P(c, 'f'), 'user.foo')?.toString(), 'bar');
  assert.equal(getXattr(P(c, 'f'), 'trusted.overlay.opaque'), undefined);
  assert.equal(getXattr(P(c, 'd'), 'user.dir')?.toString(), 'yes');
  assert.equal(getXattr(P(c, 'd'), 'trusted.overlay.redirect'), undefined);
}));

test('an existing destination (concurrent unpack) counts as success', () => withWork(async (c) => {
  mkdirSync(c.dest);
  writeFileSync(join(c.dest, 'theirs'), 'first');
  const t = await makeTar([{ name: 'mine', data: 'second' }]);
  const r = await unpackOk(c, t);
  assert.equal(r.diffId, sha(t));
  assert.deepEqual(readdirSync(c.dest), ['theirs']);
}));

test('root entry and empty layers', () => withWork(async (c) => {
  const t = await makeTar([{ name: './', type: 'directory', mode: 0o751 }, { name: './a', data: '1' }]);
  await unpackOk(c, t);
  assert.equal((await fsp.stat(c.dest)).mode & 0o777, 0o751);
  await fsp.rm(c.dest, { recursive: true });
  const r = await unpackOk(c, Buffer.alloc(0));
  assert.equal(r.size, 0);
  await fsp.rm(c.dest, { recursive: true });
  await unpackFails(c, await makeTar([{ name: '/', type: 'symlink', linkname: 'x' }]), /would replace the layer root/);
}));

test('archives written by GNU tar (gnu and posix formats, long names and link targets)', () => withWork(async (c) => {
  const src = join(c.work, 'gnu-src');
  const long = 'd'.repeat(150);
  mkdirSync(join(src, long), { recursive: true });
  writeFileSync(join(src, long, 'f'.repeat(120)), 'deep');
  await fsp.symlink('t'.repeat(200), join(src, 'sym'));
  await fsp.link(join(src, long, 'f'.repeat(120)), join(src, 'hard'));
  await fsp.chown(join(src, 'hard'), 3_000_000, 5);
  try {
    for (const format of ['gnu', 'posix']) {
      const t = spawnSync('tar', [`--format=${format}`, '-C', src, '-cf', '-', '.']);
      assert.equal(t.status, 0, t.stderr.toString());
      const r = await unpackOk(c, t.stdout);
      assert.equal(r.diffId, sha(t.stdout));
      assert.equal(readFileSync(P(c, long, 'f'.repeat(120)), 'utf8'), 'deep');
      assert.equal(await fsp.readlink(P(c, 'sym')), 't'.repeat(200));
      const h = await fsp.stat(P(c, 'hard'));
      assert.equal(h.ino, (await fsp.stat(P(c, long, 'f'.repeat(120)))).ino);
      assert.equal(h.uid, 3_000_000);
      await fsp.rm(c.dest, { recursive: true });
    }
  } finally {
    await fsp.rm(src, { recursive: true });
  }
}));

test('sweepStaleTemps removes temp dirs of dead processes only', () => withWork(async (c) => {
  const dead = join(c.layers, '.tmp-999999999-abcd');
  const mine = join(c.layers, `.tmp-${process.pid}-abcd`);
  mkdirSync(join(dead, 'x'), { recursive: true });
  mkdirSync(mine);
  assert.deepEqual(await sweepStaleTemps(c.layers), [dead]);
  assert.deepEqual(readdirSync(c.layers), [`.tmp-${process.pid}-abcd`]);
  await fsp.rm(mine, { recursive: true });
  assert.deepEqual(await sweepStaleTemps(join(c.work, 'missing')), []);
}));

test('a layer of 5000 files / 100 MB unpacks completely', () => withWork(async (c) => {
  const entries: Ent[] = [];
  const blob = Buffer.alloc(20_000, 3);
  for (let i = 0; i < 5000; i++) entries.push({ name: `d${i % 50}/f${i}`, data: blob });
  const t = await makeTar(entries);
  const r = await unpackLayer(Readable.from([t]), c.dest);
  assert.equal(r.size, t.length);
  let files = 0;
  for (const d of readdirSync(c.dest)) files += readdirSync(join(c.dest, d)).length;
  assert.equal(files, 5000);
}));
