// Many berth commands at once: 200 `run -d` in parallel, then 200 `rm -f`.
// None may fail (no "database is locked"), no container may be lost or doubled.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestEnv } from '../helpers/env.js';

const N = Number(process.env.BERTH_TEST_PARALLEL ?? 200);
let t: TestEnv;
before(async () => { t = await TestEnv.create(); });
after(async () => { await t.cleanup(); });

test(`${N} run -d in parallel, then ${N} rm -f in parallel`, { timeout: 20 * 60_000 }, async () => {
  const runs = await Promise.all(Array.from({ length: N }, (_, i) =>
    t.berth(['run', '-d', '--name', `par${i}`, 'busybox', 'sleep', '1000'], { timeoutMs: 15 * 60_000 })));
  const failed = runs.map((r, i) => ({ r, i })).filter(({ r }) => r.code !== 0);
  assert.deepEqual(failed.map(({ r, i }) => `par${i}: ${r.code} ${r.stderr.trim()}`), []);
  for (const r of runs) assert.doesNotMatch(r.stderr, /database is locked/);
  const ids = runs.map((r) => r.stdout.trim());
  assert.equal(new Set(ids).size, N, 'every container has its own ID');
  const listed = (await t.ok(['ps', '--format', '{{.Names}} {{.State}}'])).trim().split('\n').sort();
  assert.equal(listed.length, N, 'all running, none lost or doubled');
  for (const line of listed) assert.match(line, /^par\d+ running$/);

  const rms = await Promise.all(ids.map((id) => t.berth(['rm', '-f', id], { timeoutMs: 15 * 60_000 })));
  assert.deepEqual(rms.filter((r) => r.code !== 0).map((r) => r.stderr.trim()), []);
  assert.equal((await t.ok(['ps', '-aq'])).trim(), '');
  assert.deepEqual(t.mounts(), []);
});
