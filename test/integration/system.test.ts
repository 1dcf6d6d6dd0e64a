// events, info, version, system df/prune, container prune, and the remaining run flags.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestEnv } from '../helpers/env.js';

let t: TestEnv;
before(async () => { t = await TestEnv.create(); });
after(async () => { await t.cleanup(); });

test('events record the lifecycle and can be filtered and formatted', async () => {
  const since = new Date(Date.now() - 1000).toISOString();
  await t.ok(['run', '--rm', '--name', 'ev', 'busybox', 'true']);
  const out = await t.ok(['events', '--since', since, '--until', '0s', '--filter', 'container=ev', '--format', '{{.Status}}']);
  const seen = out.trim().split('\n');
  for (const s of ['create', 'start', 'died', 'remove']) assert.ok(seen.includes(s), `${s} in ${seen}`);
  assert.ok(seen.indexOf('create') < seen.indexOf('start') && seen.indexOf('start') < seen.indexOf('remove'));
  const json = (await t.ok(['events', '--since', since, '--stream=false', '--filter', 'event=died', '--format', 'json'])).trim().split('\n').map((l) => JSON.parse(l) as { Type: string; ContainerExitCode: number });
  assert.ok(json.length >= 1 && json.every((e) => e.Type === 'container' && e.ContainerExitCode === 0));
  // A follower sees new events as they happen.
  const follower = t.berth(['events', '--filter', 'event=create', '--until', new Date(Date.now() + 4000).toISOString(), '--format', '{{.Name}}']);
  await new Promise((r) => setTimeout(r, 800));
  await t.ok(['create', '--name', 'ev2', 'busybox', 'true']);
  assert.match((await follower).stdout, /ev2/);
  assert.equal((await t.berth(['events', '--filter', 'bogus=1', '--stream=false'])).code, 125);
  assert.equal((await t.berth(['events', '--since', 'yesterday', '--stream=false'])).code, 125);
  await t.ok(['rm', 'ev2']);
});

test('info and version', async () => {
  const info = JSON.parse(await t.ok(['info', '--format', 'json'])) as { Store: { GraphRoot: string; RunRoot: string }; Host: { OCIRuntime: { Name: string } } };
  assert.equal(info.Store.GraphRoot, t.root);
  assert.equal(info.Store.RunRoot, t.runroot);
  assert.equal(info.Host.OCIRuntime.Name, 'runc');
  assert.equal((await t.ok(['info', '--format', '{{.Store.GraphDriverName}}'])).trim(), 'overlay');
  assert.match(await t.ok(['version']), /Version:\s+\d+\.\d+\.\d+/);
});

test('system df, container prune and system prune', async () => {
  await t.ok(['run', '--name', 'p1', 'busybox', 'sh', '-c', 'head -c 100000 /dev/zero > /big']);
  await t.ok(['run', '-d', '--name', 'p2', 'busybox', 'sleep', '1000']);
  const df = await t.ok(['system', 'df', '--format', '{{.Type}} {{.Total}} {{.Active}}']);
  assert.match(df, /Images 1 1/);
  assert.match(df, /Containers 2 1/);
  assert.deepEqual((await t.ok(['container', 'prune', '-f'])).trim().split('\n').length, 1);
  assert.equal((await t.berth(['container', 'exists', 'p1'])).code, 1);
  assert.equal((await t.berth(['container', 'exists', 'p2'])).code, 0, 'running containers are kept');
  await t.ok(['tag', 'busybox', 'spare']);
  const pruned = await t.ok(['system', 'prune', '-f']);
  assert.match(pruned, /Total reclaimed space/);
  assert.equal((await t.berth(['image', 'exists', 'spare'])).code, 0, 'images in use or tagged stay without -a');
  await t.ok(['rm', '-f', 'p2']);
  await t.ok(['untag', 'busybox', 'spare']);
});

test('--ulimit, --shm-size, --sysctl, --annotation, --stop-signal, --group-add', async () => {
  assert.equal((await t.ok(['run', '--rm', '--ulimit', 'nofile=512:1024', 'busybox', 'sh', '-c', 'ulimit -n; ulimit -Hn'])).trim(), '512\n1024');
  assert.match(await t.ok(['run', '--rm', '--shm-size', '32m', 'busybox', 'df', '-k', '/dev/shm']), /32768/);
  assert.equal((await t.ok(['run', '--rm', '--sysctl', 'net.ipv4.ip_forward=1', 'busybox', 'cat', '/proc/sys/net/ipv4/ip_forward'])).trim(), '1');
  await t.ok(['create', '--name', 'ann', '--annotation', 'org.example.k=v', '--stop-signal', 'SIGINT', 'busybox', 'true']);
  assert.equal((await t.ok(['inspect', '-f', '{{index .Config.Annotations "org.example.k"}} {{.Config.StopSignal}}', 'ann'])).trim(), 'v SIGINT');
  await t.ok(['rm', 'ann']);
  for (const bad of [['--ulimit', 'nofile=x'], ['--shm-size', '12q'], ['--stop-signal', 'SIGNOPE'], ['--memory', '12q']]) {
    const r = await t.berth(['run', '--rm', ...bad, 'busybox', 'true']);
    assert.equal(r.code, 125, bad.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, `one clear line for ${bad.join(' ')}: ${r.stderr}`);
  }
  assert.equal((await t.ok(['ps', '-aq'])).trim(), '', 'bad flags create nothing');
});
