// Restart policies, restart, wait conditions, health checks, --cidfile.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { TestEnv, eventually } from '../helpers/env.js';

let t: TestEnv;
before(async () => { t = await TestEnv.create(); });
after(async () => { await t.cleanup(); });

const inspect = async (name: string, f: string) => (await t.ok(['inspect', '-f', f, name])).trim();

test('--restart on-failure:N restarts a failing container N times, then gives up', async () => {
  await t.ok(['run', '-d', '--name', 'flaky', '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'exit 3']);
  await eventually(async () => (await inspect('flaky', '{{.RestartCount}} {{.State.Status}}')) === '2 exited', 20_000, 'two restarts');
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(await inspect('flaky', '{{.RestartCount}} {{.State.Status}} {{.State.ExitCode}}'), '2 exited 3');
  await t.ok(['rm', 'flaky']);
});

test('--restart always restarts after success; stop is final', async () => {
  await t.ok(['run', '-d', '--name', 'always', '--restart', 'always', 'busybox', 'sh', '-c', 'sleep 0.3']);
  await eventually(async () => Number(await inspect('always', '{{.RestartCount}}')) >= 2, 20_000, 'restarts');
  await t.ok(['stop', '-t', '0', 'always']);
  const count = await inspect('always', '{{.RestartCount}}');
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(await inspect('always', '{{.RestartCount}} {{.State.Running}}'), `${count} false`);
  await t.ok(['rm', '-f', 'always']);
});

test('--restart no and bad policies', async () => {
  assert.equal((await t.berth(['run', '--restart', 'sometimes', 'busybox', 'true'])).code, 125);
  const conflict = await t.berth(['run', '--rm', '--restart', 'always', 'busybox', 'true']);
  assert.equal(conflict.code, 125);
  assert.match(conflict.stderr, /--restart and --rm/);
});

test('restart stops and starts again', async () => {
  await t.ok(['run', '-d', '--name', 'rs', 'busybox', 'sleep', '1000']);
  const pid = await inspect('rs', '{{.State.Pid}}');
  await t.ok(['restart', '-t', '0', 'rs']);
  const pid2 = await inspect('rs', '{{.State.Pid}}');
  assert.notEqual(pid, pid2);
  assert.equal(await inspect('rs', '{{.State.Running}}'), 'true');
  await t.ok(['rm', '-f', 'rs']);
});

test('wait --condition running and removed', async () => {
  await t.ok(['create', '--name', 'wc', 'busybox', 'sleep', '1000']);
  const waiting = t.berth(['wait', '--condition', 'running', 'wc']);
  await new Promise((r) => setTimeout(r, 300));
  await t.ok(['start', 'wc']);
  assert.equal((await waiting).code, 0);
  const removed = t.berth(['wait', '--condition', 'removed', 'wc']);
  // As above: the waiter must have found the container before it goes (else: no such container).
  await new Promise((r) => setTimeout(r, 300));
  await t.ok(['rm', '-f', 'wc']);
  assert.equal((await removed).code, 0);
  assert.equal((await t.berth(['wait', '--condition', 'bogus', 'x'])).code, 125);
});

test('health checks run without systemd and drive the status', async () => {
  await t.ok(['run', '-d', '--name', 'hc', '--health-cmd', 'test -e /tmp/ready', '--health-interval', '1s', '--health-retries', '2', 'busybox', 'sleep', '1000']);
  assert.equal(await inspect('hc', '{{.State.Health.Status}}'), 'starting');
  await eventually(async () => (await inspect('hc', '{{.State.Health.Status}}')) === 'unhealthy', 15_000, 'unhealthy');
  assert.match(await t.ok(['ps', '--format', '{{.Status}}', '--filter', 'name=hc']), /\(unhealthy\)/);
  await t.ok(['exec', 'hc', 'touch', '/tmp/ready']);
  await eventually(async () => (await inspect('hc', '{{.State.Health.Status}}')) === 'healthy', 15_000, 'healthy');
  const [obj] = JSON.parse(await t.ok(['inspect', 'hc'])) as { State: { Health: { Log: { ExitCode: number }[]; FailingStreak: number } } }[];
  assert.equal(obj!.State.Health.FailingStreak, 0);
  assert.ok(obj!.State.Health.Log.length <= 5 && obj!.State.Health.Log.at(-1)!.ExitCode === 0);
  // healthcheck run gives the verdict directly.
  assert.equal((await t.berth(['healthcheck', 'run', 'hc'])).code, 0);
  await t.ok(['exec', 'hc', 'rm', '/tmp/ready']);
  const r = await t.berth(['healthcheck', 'run', 'hc']);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /unhealthy/);
  await t.ok(['rm', '-f', 'hc']);
});

test('--health-on-failure=kill and a timeout', async () => {
  await t.ok(['run', '-d', '--name', 'hk', '--health-cmd', 'sleep 5', '--health-timeout', '300ms', '--health-interval', '1s', '--health-retries', '1',
    '--health-on-failure', 'kill', 'busybox', 'sleep', '1000']);
  await eventually(async () => (await inspect('hk', '{{.State.Running}}')) === 'false', 20_000, 'the kill');
  assert.equal(await inspect('hk', '{{.State.ExitCode}}'), '137');
  assert.match(await inspect('hk', '{{(index .State.Health.Log 0).Output}}'), /exceeded timeout/);
  await t.ok(['rm', 'hk']);
  assert.equal((await t.berth(['run', '--health-cmd', 'true', '--health-on-failure', 'explode', 'busybox', 'true'])).code, 125);
  assert.equal((await t.berth(['run', '--health-cmd', 'true', '--health-interval', 'soon', 'busybox', 'true'])).code, 125);
  assert.equal((await t.berth(['run', '--health-cmd', 'true', '--health-retries', '0', 'busybox', 'true'])).code, 125);
});

test('--cidfile writes the ID and refuses an existing file', async () => {
  const file = path.join(t.dir, 'cid');
  const id = (await t.ok(['create', '--cidfile', file, 'busybox', 'true'])).trim();
  assert.equal(fs.readFileSync(file, 'utf8'), id);
  const again = await t.berth(['create', '--cidfile', file, 'busybox', 'true']);
  assert.equal(again.code, 125);
  assert.match(again.stderr, /already exists/);
  await t.ok(['rm', id]);
});

test('the timer service rotates logs while no berth command runs', async () => {
  await t.ok(['run', '-d', '--name', 'chatty', '--log-opt', 'max-size=2k', '--log-opt', 'max-file=2', 'busybox', 'sh', '-c',
    'i=0; while [ $i -lt 400 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; i=$((i+1)); sleep 0.01; done; sleep 1000']);
  const dir = path.join(t.root, 'containers', (await t.ok(['inspect', '-f', '{{.Id}}', 'chatty'])).trim());
  await eventually(() => fs.existsSync(path.join(dir, 'ctr.log.1')), 20_000, 'a rotation by the timer service');
  await eventually(async () => (await t.ok(['logs', '--tail', '1', 'chatty'])).startsWith('line-399-'), 20_000, 'the last line');
  const files = fs.readdirSync(dir).filter((n) => /^ctr\.log(\.\d+)?$/.test(n));
  assert.ok(files.length <= 2, `at most max-file log files: ${files}`);
  await t.ok(['rm', '-f', 'chatty']);
});
