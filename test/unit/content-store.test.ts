// The content store's BlobWriter: what it stores, and that a pull's blobs
// (written with `direct`) bypass the page cache. fincore (util-linux) tells
// how much of a file is in the page cache.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ContentStore } from '../../src/content/store.js';

const sha = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

/** Pages of `file` in the page cache. */
function cachedPages(file: string): number {
  const r = spawnSync('fincore', ['--raw', '--noheadings', '--output', 'PAGES', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return Number(r.stdout.trim());
}

/** Pieces as a pull hands them over: whole MiB batches, then a tail. */
function pieces(data: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (let i = 0; at < data.length; i++) {
    const n = sizes[i % sizes.length]!;
    out.push(data.subarray(at, at + n));
    at += n;
  }
  return out;
}

test('blobs written with direct bypass the page cache, all but a tail shorter than a block; the bytes are the same', async (tc) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-content-'));
  try {
    if (spawnSync('stat', ['-f', '-c', '%T', dir], { encoding: 'utf8' }).stdout.trim() === 'tmpfs') {
      tc.skip('the temporary directory is on tmpfs, whose files live in the page cache');
      return;
    }
    const store = new ContentStore(dir);
    const data = randomBytes((8 << 20) + 1000);
    for (const direct of [true, false]) {
      const w = store.writer(sha(data), undefined, { direct });
      for (const p of pieces(data, [1 << 20])) w.write(p);
      await w.settled();
      const r = w.commit();
      assert.equal(r.digest, sha(data));
      assert.deepEqual(fs.readFileSync(r.path), data);
      // Reading it back above put it in the cache: measure a fresh copy's write instead.
      fs.rmSync(r.path);
      const again = store.writer(sha(data), undefined, { direct });
      for (const p of pieces(data, [1 << 20])) again.write(p);
      await again.settled();
      const pages = cachedPages(again.commit().path);
      if (direct) assert.ok(pages <= 1, `${pages} pages of a direct write in the page cache`);
      else assert.ok(pages >= 2048, `${pages} pages of a cached write in the page cache`);
      fs.rmSync(r.path);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('direct writes of pieces of any size and offset store the same bytes; a wrong digest leaves nothing', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-content-'));
  try {
    const store = new ContentStore(dir);
    const data = randomBytes(12 << 20);
    // Aligned pieces, then one that is not (what follows goes through the page cache until a piece starts on a
    // block again); pieces larger than the staging memory; small pieces around block boundaries.
    for (const sizes of [[4096, 1 << 20, 1000, 1 << 20], [3 << 20], [1, 4095, 8192], [1 << 20]]) {
      const w = store.writer(sha(data), undefined, { direct: true });
      for (const p of pieces(data, sizes)) w.write(p);
      await w.settled();
      const r = w.commit();
      assert.deepEqual(fs.readFileSync(r.path), data, `pieces of ${sizes}`);
      fs.rmSync(r.path);
    }
    const w = store.writer(sha(Buffer.from('other')), undefined, { direct: true });
    w.write(data);
    assert.throws(() => w.commit(), /writes in flight: settled\(\) comes first/);
    await w.settled();
    assert.throws(() => w.commit(), /blob digest mismatch/);
    w.abort();
    assert.deepEqual(fs.readdirSync(path.join(dir, 'ingest')), []);
    assert.deepEqual(fs.readdirSync(path.join(dir, 'blobs', 'sha256')), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a direct write that fails in flight (a full disk) fails the blob, and abort removes its file', async (tc) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-content-'));
  if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir]).status !== 0) {
    fs.rmSync(dir, { recursive: true, force: true });
    tc.skip('cannot mount a tmpfs here');
    return;
  }
  try {
    const store = new ContentStore(dir);
    const data = randomBytes(4 << 20);
    const w = store.writer(sha(data), undefined, { direct: true });
    const failed = async () => {
      for (const p of pieces(data, [1 << 20])) w.write(p);
      await w.settled();
    };
    await assert.rejects(failed(), /ENOSPC|no space left/);
    await w.settled().catch(() => undefined); // as the layer thread does: no file removed under a write in flight
    w.abort();
    assert.deepEqual(fs.readdirSync(path.join(dir, 'ingest')), []);
  } finally {
    spawnSync('umount', [dir]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
