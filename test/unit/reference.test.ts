import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseReference, fullName, shortNameCandidates, familiarName, splitName } from '../../src/image/reference.js';
import { normalizeTagName } from '../../src/image/store.js';

test('references normalize like Docker and Podman', () => {
  assert.equal(fullName(parseReference('busybox')), 'docker.io/library/busybox:latest');
  assert.equal(fullName(parseReference('busybox:1.36')), 'docker.io/library/busybox:1.36');
  assert.equal(fullName(parseReference('library/busybox')), 'docker.io/library/busybox:latest');
  assert.equal(fullName(parseReference('docker.io/library/x')), 'docker.io/library/x:latest');
  assert.equal(fullName(parseReference('localhost/x')), 'localhost/x:latest');
  assert.equal(fullName(parseReference('localhost:5000/a/b:t')), 'localhost:5000/a/b:t');
  assert.equal(fullName(parseReference('quay.io/podman/hello')), 'quay.io/podman/hello:latest');
  assert.equal(fullName(parseReference('[::1]:5000/x:1')), '[::1]:5000/x:1');
  const d = 'sha256:' + 'a'.repeat(64);
  assert.equal(fullName(parseReference(`busybox@${d}`)), `docker.io/library/busybox@${d}`);
  assert.equal(parseReference(`busybox:1@${d}`).tag, '1');
  assert.equal(parseReference('busybox').short, true);
  assert.equal(parseReference('localhost/busybox').short, false);
});

test('invalid references get clear errors', () => {
  for (const bad of ['', 'UPPER', 'a b', 'x:', 'x@sha256:zz', 'x:' + 't'.repeat(200), 'a//b', '-x']) {
    assert.throws(() => parseReference(bad), /invalid reference|must not be empty|too long/, bad);
  }
});

test('short names resolve to localhost first, then docker.io', () => {
  assert.deepEqual(shortNameCandidates('busybox'), ['localhost/busybox:latest', 'docker.io/library/busybox:latest']);
  assert.deepEqual(shortNameCandidates('a/b:2'), ['localhost/a/b:2', 'docker.io/a/b:2']);
  assert.deepEqual(shortNameCandidates('quay.io/a/b'), ['quay.io/a/b:latest']);
});

test('tag names, familiar names and listing splits', () => {
  assert.equal(normalizeTagName('myimg'), 'localhost/myimg:latest');
  assert.equal(normalizeTagName('quay.io/x/y:1'), 'quay.io/x/y:1');
  assert.equal(familiarName('docker.io/library/busybox:latest'), 'busybox:latest');
  assert.deepEqual(splitName('localhost:5000/a/b:t'), { repository: 'localhost:5000/a/b', tag: 't' });
  assert.deepEqual(splitName('localhost:5000/a/b'), { repository: 'localhost:5000/a/b', tag: '<none>' });
});
