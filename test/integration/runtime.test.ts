// The runc driver's fast paths against real runc: `start` of a created
// container reads runc's exec FIFO itself instead of spawning `runc start`,
// and hands over to runc when that cannot work. runc runs through a wrapper
// that logs each invocation, so the tests see which path was taken.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { TestEnv } from '../helpers/env.js';
import { Runc } from '../../src/runtime/runc.js';
import { isBerthError } from '../../src/engine/errors.js';

let t: TestEnv;
let runc: Runc;
let stateRoot: string;
let calls: string;
let layer: string;
const cgroupParent = `/berth-test-runtime-${process.pid}`;

before(async () => {
  t = await TestEnv.create();
  const inspect = await t.berth(['image', 'inspect', 'busybox']);
  layer = JSON.parse(inspect.stdout)[0].GraphDriver.Data.LowerDir;
  stateRoot = path.join(t.dir, 'runc-state');
  calls = path.join(t.dir, 'runc-calls');
  const wrapper = path.join(t.dir, 'runc-wrapper');
  fs.writeFileSync(wrapper, `#!/bin/sh\necho "$*" >> ${calls}\nexec runc "$@"\n`, { mode: 0o755 });
  runc = new Runc(wrapper, stateRoot);
});

after(async () => {
  spawnSync('sh', ['-c', `for c in $(runc --root ${stateRoot} list -q 2>/dev/null); do runc --root ${stateRoot} delete -f $c; done`]);
  for (const ctrl of fs.readdirSync('/sys/fs/cgroup')) {
    const p = path.join('/sys/fs/cgroup', ctrl, cgroupParent);
    if (fs.existsSync(p)) spawnSync('find', [p, '-depth', '-type', 'd', '-exec', 'rmdir', '{}', ';']);
  }
  await t?.cleanup();
});

/** `runc create` of a bundle whose process runs `script`, with `out` mounted at /out. */
function create(id: string, script: string): string {
  const bundle = path.join(t.dir, `bundle-${id}`);
  const out = path.join(bundle, 'out');
  fs.mkdirSync(out, { recursive: true });
  execFileSync('runc', ['spec'], { cwd: bundle });
  const spec = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
  spec.process.args = ['sh', '-c', script];
  spec.process.terminal = false;
  spec.process.rlimits = [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }];
  spec.root = { path: layer, readonly: true };
  spec.mounts.push({ destination: '/out', type: 'bind', source: out, options: ['rbind', 'rw'] });
  spec.linux.cgroupsPath = `${cgroupParent}/${id}`;
  fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
  execFileSync('runc', ['--root', stateRoot, 'create', '--bundle', bundle, id], { stdio: 'ignore' });
  return out;
}

function initPid(id: string): number {
  return JSON.parse(fs.readFileSync(path.join(stateRoot, id, 'state.json'), 'utf8')).init_process_pid;
}

function loggedCalls(): string[] {
  return fs.existsSync(calls) ? fs.readFileSync(calls, 'utf8').trim().split('\n') : [];
}

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(ok(), what);
}

test('start reads the exec FIFO itself: the process runs, the FIFO is gone, runc is not spawned', async () => {
  fs.rmSync(calls, { force: true });
  const out = create('fast', 'echo ran > /out/result');
  assert.ok(fs.existsSync(path.join(stateRoot, 'fast', 'exec.fifo')));
  await runc.start('fast');
  await until('the container process wrote its file', () => fs.existsSync(path.join(out, 'result')));
  assert.equal(fs.readFileSync(path.join(out, 'result'), 'utf8'), 'ran\n');
  assert.equal(fs.existsSync(path.join(stateRoot, 'fast', 'exec.fifo')), false);
  assert.deepEqual(loggedCalls().filter((c) => / start /.test(` ${c} `)), []);
  await until('the container exited', () => !fs.existsSync(`/proc/${initPid('fast')}`) || fs.readFileSync(`/proc/${initPid('fast')}/stat`, 'utf8').includes(') Z'));
  await runc.delete('fast', true);
  assert.equal(fs.existsSync(path.join(stateRoot, 'fast')), false);
});

test('a second start, or a start after init died, goes to runc and fails with its error', async () => {
  create('twice', 'sleep 30');
  await runc.start('twice');
  fs.rmSync(calls, { force: true });
  await assert.rejects(runc.start('twice'), (e: unknown) => isBerthError(e));
  assert.ok(loggedCalls().some((c) => c.includes('start twice')), 'runc was asked');
  await runc.kill('twice', '9');
  await runc.delete('twice', true);

  create('dead', 'true');
  process.kill(initPid('dead'), 'SIGKILL');
  await until('init is gone', () => { try { return fs.readFileSync(`/proc/${initPid('dead')}/stat`, 'utf8').includes(') Z'); } catch { return true; } });
  fs.rmSync(calls, { force: true });
  await assert.rejects(runc.start('dead'), (e: unknown) => isBerthError(e));
  assert.ok(loggedCalls().some((c) => c.includes('start dead')), 'runc was asked');
  await runc.delete('dead', true);
});
