// Crash and reboot recovery: berth killed with SIGKILL in the middle of create,
// start, stop, rm and cleanup, and a wiped run directory (a simulated reboot).
// After the next command nothing may be leaked and nothing recorded lost.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { TestEnv, BERTH, eventually } from '../helpers/env.js';

let t: TestEnv;
before(async () => { t = await TestEnv.create(); });
after(async () => { await t.cleanup(); });

const crash = (point: string, args: string[]) => t.berth(args, { env: { ...t.env, BERTH_CRASH_AT: point } });
const state = async (name: string) => (await t.ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', name])).trim();

/** Nothing left behind for containers that no longer run: mounts, cgroups, runc state, bundles. */
async function assertClean(): Promise<void> {
  const running = new Set((await t.ok(['ps', '-q', '--no-trunc'])).trim().split('\n').filter(Boolean));
  const mounts = t.mounts().filter((m) => ![...running].some((id) => m.includes(id)));
  assert.deepEqual(mounts, [], 'no mounts of stopped containers');
  const cgroups = t.cgroupLeftovers().filter((c) => ![...running].some((id) => c.endsWith(id)));
  assert.deepEqual(cgroups, [], 'no cgroups of stopped containers');
  const runcDir = path.join(t.runroot, 'runc');
  const runc = fs.existsSync(runcDir) ? fs.readdirSync(runcDir).filter((id) => !running.has(id)) : [];
  assert.deepEqual(runc, [], 'no runc state of stopped containers');
  const check = await t.berth(['system', 'check']);
  assert.equal(check.stdout.trim(), 'No problems found', check.stdout);
}

test('killed during create: the half-made container is cleaned up by the next command', async () => {
  const r = await crash('create:prepared', ['create', '--name', 'c-create', 'busybox', 'true']);
  assert.equal(r.code, -1, 'berth died of SIGKILL');
  assert.ok(fs.readdirSync(path.join(t.root, 'containers')).length >= 1, 'the crash left a directory');
  await t.ok(['ps', '-a']);                      // reads do not repair…
  await t.ok(['create', '--name', 'other', 'busybox', 'true']); // …the next change does
  assert.equal((await t.berth(['container', 'exists', 'c-create'])).code, 1);
  assert.equal(fs.readdirSync(path.join(t.root, 'containers')).length, 1);
  await t.ok(['rm', 'other']);
  await assertClean();
});

for (const point of ['start:mounted', 'start:created', 'start:started']) {
  test(`killed during start (${point}): the next command repairs or adopts it`, async () => {
    await t.ok(['create', '--name', 'c-start', 'busybox', 'sleep', '1000']);
    await crash(point, ['start', 'c-start']);
    await t.ok(['ps', '-a']);
    await t.ok(['create', '--name', 'poke', 'busybox', 'true']);   // triggers recovery
    const s = await state('c-start');
    if (point === 'start:started') assert.equal(s, 'running 0', 'a container that did start is adopted');
    else assert.match(s, /^(created|exited) /, 'a half-started container is released');
    await assertClean();
    // And it is fully usable afterwards.
    await t.ok(['rm', '-f', 'c-start', 'poke']);
    await assertClean();
  });
}

test('killed during stop: the container stays consistent and can be stopped again', async () => {
  await t.ok(['run', '-d', '--name', 'c-stop', 'busybox', 'sleep', '1000']);
  await crash('stop:begin', ['stop', 'c-stop']);
  await t.ok(['stop', '-t', '0', 'c-stop']);
  assert.equal(await state('c-stop'), 'exited 137');
  await assertClean();
  await t.ok(['rm', 'c-stop']);
});

test('killed during rm: the removal is finished by the next command', async () => {
  await t.ok(['run', '-d', '--name', 'c-rm', 'busybox', 'sleep', '1000']);
  await crash('remove:marked', ['rm', '-f', 'c-rm']);
  await t.ok(['create', '--name', 'poke2', 'busybox', 'true']);
  assert.equal((await t.berth(['container', 'exists', 'c-rm'])).code, 1);
  await t.ok(['rm', 'poke2']);
  await assertClean();
});

test('killed during cleanup (conmon\'s exit command): the exit code is kept and resources released', async () => {
  // The crash point is inherited by the exit command through the environment of the start.
  const env = { ...t.env, BERTH_CRASH_AT: 'cleanup:begin' };
  await t.berth(['run', '-d', '--name', 'c-clean', 'busybox', 'sh', '-c', 'exit 7'], { env });
  await eventually(async () => (await state('c-clean')).startsWith('exited'), 10_000, 'the exit');
  await t.ok(['create', '--name', 'poke3', 'busybox', 'true']);
  assert.equal(await state('c-clean'), 'exited 7');
  await assertClean();
  await t.ok(['rm', 'c-clean', 'poke3']);
});

test('random kill -9 of run -d, many times: always consistent afterwards', async () => {
  for (let i = 0; i < 8; i++) {
    const child = spawn(BERTH, t.args(['run', '-d', '--name', `rnd${i}`, 'busybox', 'sleep', '1000']), { env: t.env, stdio: 'ignore' });
    const closed = new Promise((r) => child.on('close', r));
    await new Promise((r) => setTimeout(r, 60 + i * 25));
    child.kill('SIGKILL');
    await closed;
  }
  await t.ok(['create', '--name', 'poke4', 'busybox', 'true']);
  const list = (await t.ok(['ps', '-a', '--format', '{{.Names}} {{.State}}'])).trim().split('\n');
  for (const line of list) assert.match(line, /^(rnd\d|poke4) (created|running|exited)$/);
  await assertClean();
  await t.ok(['rm', '-af']);
  await assertClean();
});

test('a wiped run directory (simulated reboot): running containers become exited, nothing leaks', async () => {
  await t.ok(['run', '-d', '--name', 'r1', 'busybox', 'sleep', '1000']);
  await t.ok(['run', '-d', '--name', 'r2', '--rm', 'busybox', 'sleep', '1000']);
  await t.ok(['create', '--name', 'r3', 'busybox', 'true']);
  fs.rmSync(t.runroot, { recursive: true, force: true });
  // The next command, even a read, reconciles.
  assert.match(await t.ok(['ps', '-a', '--format', '{{.Names}} {{.State}}']), /r1 exited/);
  assert.equal(await state('r1'), 'exited 255');
  assert.equal(await state('r3'), 'created 0');
  assert.equal((await t.berth(['container', 'exists', 'r2'])).code, 1, '--rm containers are removed');
  assert.deepEqual(t.mounts(), []);
  assert.deepEqual(t.cgroupLeftovers(), []);
  // Everything still works.
  assert.equal(await t.ok(['start', '-a', 'r3']), '');
  await t.ok(['rm', '-af']);
});

test('a container whose monitor and process were killed behind Berth\'s back starts again', async () => {
  await t.ok(['run', '-d', '--name', 'k1', 'busybox', 'sleep', '1000']);
  const [pid, conmon] = (await t.ok(['inspect', '-f', '{{.State.Pid}} {{.State.ConmonPid}}', 'k1'])).trim().split(' ').map(Number);
  assert.ok(pid! > 0 && conmon! > 0);
  process.kill(conmon!, 'SIGKILL');
  process.kill(pid!, 'SIGKILL');
  // The record still says running; start must see through it and start it again.
  await t.ok(['start', 'k1']);
  assert.equal(await state('k1'), 'running 0');
  const newPid = Number((await t.ok(['inspect', '-f', '{{.State.Pid}}', 'k1'])).trim());
  assert.notEqual(newPid, pid);
  await t.ok(['rm', '-f', 'k1']);
  await assertClean();
});
