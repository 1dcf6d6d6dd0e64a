// Packing directories into deterministic layer tars, and pack -> unpack round trips.
// Runs as root (ownership, device nodes, trusted.* xattrs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { isBerthError } from '../../src/engine/errors.js';
import { getXattr, mknod, setXattr, S_IFBLK, S_IFCHR, S_IFIFO } from '../../src/sys/libc.js';
import { compressStream } from '../../src/snapshot/compression.js';
import { packDirectory } from '../../src/snapshot/pack.js';
import { unpackLayer } from '../../src/snapshot/unpack.js';

const T1 = 1_000_000_000; // 2001-09-09
const LONG = 'l'.repeat(120);
const BIN = Buffer.from([0xff, 0x00, 0x80, 0x0a, 0x3d]);

async function withWork(fn: (work: string) => Promise<void>): Promise<void> {
  const work = await fsp.mkdtemp(join(tmpdir(), 'berth-pack-'));
  try {
    await fn(work);
  } finally {
    await fsp.rm(work, { recursive: true, force: true });
  }
}

async function collect(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

interface Listed { h: tar.Header; data: Buffer }

async function list(buf: Buffer): Promise<Listed[]> {
  const ex = tar.extract();
  ex.end(buf);
  const out: Listed[] = [];
  for await (const entry of ex) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    out.push({ h: entry.header, data: Buffer.concat(chunks) });
  }
  return out;
}

/** A tree with every kind of entry; returns its root. */
async function buildTree(work: string): Promise<string> {
  const s = join(work, 'src');
  mkdirSync(join(s, 'a/sub'), { recursive: true });
  mkdirSync(join(s, 'b'));
  mkdirSync(join(s, 'dev'));
  mkdirSync(join(s, LONG));
  writeFileSync(join(s, 'a.txt'), 'text');
  writeFileSync(join(s, 'a/z'), 'zzz');
  writeFileSync(join(s, 'a/sub/f'), Buffer.alloc(300_000, 9)); // larger than the small-file path
  writeFileSync(join(s, 'b/suid'), 'suid');
  writeFileSync(join(s, LONG, 'café'), 'unicode');
  await fsp.chown(join(s, 'b/suid'), 1234, 5678);
  await fsp.chmod(join(s, 'b/suid'), 0o4755);
  await fsp.chown(join(s, LONG, 'café'), 3_000_000, 3_000_001); // needs PAX uid/gid
  await fsp.symlink('../b/suid', join(s, 'a/link'));
  await fsp.lchown(join(s, 'a/link'), 42, 43);
  await fsp.link(join(s, 'a/z'), join(s, 'b/hl'));
  mknod(join(s, 'dev/null'), S_IFCHR | 0o666, 1, 3);
  mknod(join(s, 'dev/loop'), S_IFBLK | 0o660, 7, 0);
  mknod(join(s, 'dev/fifo'), S_IFIFO | 0o600, 0, 0);
  mknod(join(s, 'wh'), S_IFCHR, 0, 0);
  await fsp.chmod(join(s, 'dev/null'), 0o666); // mknod is subject to the umask
  await fsp.chmod(join(s, 'dev/loop'), 0o660);
  setXattr(join(s, 'a.txt'), 'user.foo', Buffer.from('bar'));
  setXattr(join(s, 'a.txt'), 'user.bin', BIN);
  setXattr(join(s, 'a.txt'), 'trusted.overlay.origin', Buffer.from('x'));
  setXattr(join(s, 'b'), 'trusted.overlay.opaque', Buffer.from('y'));
  setXattr(join(s, 'b'), 'trusted.overlay.impure', Buffer.from('y'));
  await fsp.chmod(join(s, 'dev'), 0o2750);
  for (const p of walk(s)) await fsp.lutimes(p, T1, T1);
  return s;
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const n of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, n.name);
    if (n.isDirectory()) out.push(...walk(p));
    out.push(p);
  }
  return out;
}

const EXPECTED_ORDER = [
  'a/', 'a/link', 'a/sub/', 'a/sub/f', 'a/z', 'a.txt', 'b/', 'b/hl', 'b/suid',
  'dev/', 'dev/fifo', 'dev/loop', 'dev/null', `${LONG}/`, `${LONG}/café`, 'wh',
];

test('packing is deterministic, sorted, directories first, and keeps metadata', () => withWork(async (work) => {
  const s = await buildTree(work);
  const buf = await collect(packDirectory(s, { overlayWhiteouts: false }));
  assert.deepEqual(await collect(packDirectory(s, { overlayWhiteouts: false })), buf, 'same bytes twice');
  const gnu = spawnSync('tar', ['-tf', '-'], { input: buf });
  assert.equal(gnu.status, 0, gnu.stderr.toString());
  const entries = await list(buf);
  assert.deepEqual(entries.map((e) => e.h.name), EXPECTED_ORDER);
  const by = new Map(entries.map((e) => [e.h.name, e]));
  const suid = by.get('b/suid')!.h;
  assert.deepEqual([suid.mode, suid.uid, suid.gid, suid.type], [0o4755, 1234, 5678, 'file']);
  assert.equal(suid.mtime.getTime(), T1 * 1000);
  assert.equal(by.get('dev/')!.h.mode, 0o2750);
  const link = by.get('a/link')!.h;
  assert.deepEqual([link.type, link.linkname, link.uid, link.gid], ['symlink', '../b/suid', 42, 43]);
  const hl = by.get('b/hl')!.h;
  assert.deepEqual([hl.type, hl.linkname], ['link', 'a/z']);
  assert.equal(by.get('a/z')!.data.toString(), 'zzz');
  assert.deepEqual(by.get('a/sub/f')!.data, Buffer.alloc(300_000, 9));
  const nul = by.get('dev/null')!.h;
  assert.deepEqual([nul.type, nul.devmajor, nul.devminor, nul.mode], ['character-device', 1, 3, 0o666]);
  assert.deepEqual([by.get('dev/loop')!.h.type, by.get('dev/loop')!.h.devmajor], ['block-device', 7]);
  assert.equal(by.get('dev/fifo')!.h.type, 'fifo');
  assert.equal(by.get('wh')!.h.type, 'character-device'); // not converted without overlayWhiteouts
  const pax = by.get('a.txt')!.h.pax as Record<string, string>;
  assert.equal(pax['SCHILY.xattr.user.foo'], 'bar');
  assert.ok(!Object.keys(pax).some((k) => k.includes('trusted.overlay')));
  assert.equal(by.get('b/')!.h.pax ?? null, null);
  const big = by.get(`${LONG}/café`)!.h.pax as Record<string, string>; // tar-stream ignores PAX uid/gid itself
  assert.deepEqual([big.uid, big.gid], ['3000000', '3000001']);
  assert.match(spawnSync('tar', ['--numeric-owner', '-tvf', '-'], { input: buf }).stdout.toString(), /3000000\/3000001 .*café/);
}));

test('overlayWhiteouts converts whiteout devices and opaque directories', () => withWork(async (work) => {
  const s = await buildTree(work);
  setXattr(join(s, 'dev'), 'user.overlay.opaque', Buffer.from('y'));
  const entries = await list(await collect(packDirectory(s, { overlayWhiteouts: true })));
  const names = entries.map((e) => e.h.name);
  assert.deepEqual(names.slice(6, 9), ['b/', 'b/.wh..wh..opq', 'b/hl']);
  assert.equal(names[names.indexOf('dev/') + 1], 'dev/.wh..wh..opq');
  assert.ok(!names.includes('wh'));
  const wh = entries.find((e) => e.h.name === '.wh.wh')!;
  assert.deepEqual([wh.h.type, wh.h.size, wh.data.length], ['file', 0, 0]);
  assert.equal(names[names.length - 1], '.wh.wh'); // emitted in the place of "wh"
  for (const e of entries) {
    assert.ok(!Object.keys((e.h.pax ?? {}) as object).some((k) => k.includes('.overlay.')), e.h.name);
  }
}));

test('round trip pack -> unpack keeps content, modes, owners, links, xattrs and whiteouts', () => withWork(async (work) => {
  const s = await buildTree(work);
  const buf = await collect(packDirectory(s, { overlayWhiteouts: true }));
  const dest = join(work, 'layers', 'L');
  const r = await unpackLayer(Readable.from([buf]), dest);
  assert.equal(r.diffId, 'sha256:' + createHash('sha256').update(buf).digest('hex'));
  for (const p of walk(s)) {
    const rel = p.slice(s.length + 1);
    const a = await fsp.lstat(p), b = await fsp.lstat(join(dest, rel));
    assert.equal(b.mode, a.mode, `mode of ${rel}`);
    assert.deepEqual([b.uid, b.gid], [a.uid, a.gid], `owner of ${rel}`);
    assert.equal(b.rdev, a.rdev, `rdev of ${rel}`);
    assert.equal(b.mtimeMs, a.mtimeMs, `mtime of ${rel}`);
    if (a.isFile()) assert.deepEqual(readFileSync(join(dest, rel)), readFileSync(p), `content of ${rel}`);
    if (a.isSymbolicLink()) assert.equal(await fsp.readlink(join(dest, rel)), await fsp.readlink(p));
  }
  assert.equal((await fsp.stat(join(dest, 'b/hl'))).ino, (await fsp.stat(join(dest, 'a/z'))).ino);
  assert.equal(getXattr(join(dest, 'a.txt'), 'user.foo')?.toString(), 'bar');
  assert.deepEqual(getXattr(join(dest, 'a.txt'), 'user.bin'), BIN);
  assert.equal(getXattr(join(dest, 'a.txt'), 'trusted.overlay.origin'), undefined);
  assert.equal(getXattr(join(dest, 'b'), 'trusted.overlay.opaque')?.toString(), 'y');
  assert.equal(getXattr(join(dest, 'b'), 'trusted.overlay.impure'), undefined);
  assert.equal(getXattr(join(dest, 'dev'), 'trusted.overlay.opaque'), undefined);
  assert.equal(readFileSync(join(dest, LONG, 'café'), 'utf8'), 'unicode');
}));

test('gzip and zstd compressed packs unpack to the same diffID', () => withWork(async (work) => {
  const s = await buildTree(work);
  const plain = await collect(packDirectory(s, { overlayWhiteouts: false }));
  const diffId = 'sha256:' + createHash('sha256').update(plain).digest('hex');
  for (const kind of ['gzip', 'zstd'] as const) {
    const blob = await collect(compressStream(kind, packDirectory(s, { overlayWhiteouts: false })));
    assert.notDeepEqual(blob.subarray(0, 4), plain.subarray(0, 4));
    const r = await unpackLayer(Readable.from([blob]), join(work, 'layers', kind), { expectedDiffId: diffId });
    assert.equal(r.diffId, diffId);
    assert.equal(r.size, plain.length);
  }
}));

test('packing a missing directory fails with not-found', () => withWork(async (work) => {
  await assert.rejects(collect(packDirectory(join(work, 'nope'), { overlayWhiteouts: false })),
    (e: unknown) => isBerthError(e, 'not-found'));
}));
