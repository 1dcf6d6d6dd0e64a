// secureJoin: a path inside a container root resolved as if chrooted there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveComponents, secureJoin } from '../../src/sys/securejoin.js';

function root(): string {
  const r = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-sj-'));
  fs.mkdirSync(path.join(r, 'etc'));
  fs.mkdirSync(path.join(r, 'usr/lib'), { recursive: true });
  fs.symlinkSync('/etc', path.join(r, 'abs'));            // absolute: means <root>/etc
  fs.symlinkSync('../../../../etc', path.join(r, 'usr/lib/up')); // climbs past the root: stops at it
  fs.symlinkSync('/', path.join(r, 'top'));
  fs.symlinkSync('loop2', path.join(r, 'loop1'));
  fs.symlinkSync('loop1', path.join(r, 'loop2'));
  return r;
}

test('symlinks are followed inside the root and never lead out of it', () => {
  const r = root();
  try {
    assert.equal(secureJoin(r, '/abs/passwd'), path.join(r, 'etc/passwd'));
    assert.equal(secureJoin(r, 'usr/lib/up/passwd'), path.join(r, 'etc/passwd'));
    assert.equal(secureJoin(r, '/../../etc/shadow'), path.join(r, 'etc/shadow'));
    assert.equal(secureJoin(r, '/top/top/etc'), path.join(r, 'etc'));
    assert.equal(secureJoin(r, '/missing/./x'), path.join(r, 'missing/x'), 'missing components are kept');
    assert.throws(() => secureJoin(r, '/loop1'), /too many levels of symbolic links resolving \/loop1 in the container/);
    // followLast=false keeps a final symlink itself (cp without -L).
    assert.deepEqual(resolveComponents('/abs', (p) => path.join(r, ...p), false), ['abs']);
  } finally {
    fs.rmSync(r, { recursive: true, force: true });
  }
});
