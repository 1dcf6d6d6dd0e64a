// create, start, ps, inspect, stop, kill, wait and rm against real runc and conmon.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { TestEnv, eventually } from '../helpers/env.js';

let t: TestEnv;
before(async () => { t = await TestEnv.create(); });
after(async () => { await t.cleanup(); });

test('create then start -a runs the container and reports its exit code', async () => {
  const id = (await t.ok(['create', '--name', 'c1', 'busybox', 'sh', '-c', 'echo hi; exit 3'])).trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  assert.equal((await t.ok(['inspect', '--format', '{{.State.Status}}', 'c1'])).trim(), 'created');
  assert.match(await t.ok(['ps', '-a', '--format', '{{.Names}} {{.Status}}']), /c1 Created/);
  const r = await t.berth(['start', '-a', 'c1']);
  assert.equal(r.code, 3);
  assert.equal(r.stdout, 'hi\n');
  assert.equal((await t.ok(['inspect', '--format', '{{.State.ExitCode}} {{.State.Status}} {{.State.Running}}', 'c1'])).trim(), '3 exited false');
  // A finished container can be started again.
  assert.equal((await t.berth(['start', '-a', 'c1'])).code, 3);
  await t.ok(['rm', 'c1']);
  assert.equal((await t.berth(['container', 'exists', 'c1'])).code, 1);
});

test('start runs in the background; ps shows it; stop ends it; rm removes it', async () => {
  await t.ok(['create', '--name', 'svc', '--label', 'tier=web', 'busybox', 'sleep', '1000']);
  assert.equal((await t.ok(['start', 'svc'])).trim(), 'svc');
  const running = await t.ok(['ps', '--format', '{{.Names}}|{{.Status}}|{{.Command}}|{{.Labels}}']);
  assert.match(running, /^svc\|Up .*\|sleep 1000\|map\[tier:web\]$/m);
  assert.equal((await t.ok(['ps', '-q'])).trim().length, 12);
  assert.equal((await t.ok(['ps', '-q', '--no-trunc'])).trim().length, 64);
  const pid = Number((await t.ok(['inspect', '--format', '{{.State.Pid}}', 'svc'])).trim());
  assert.ok(pid > 0);
  // A running container cannot be removed without -f.
  const rm = await t.berth(['rm', 'svc']);
  assert.equal(rm.code, 125);
  assert.match(rm.stderr, /cannot remove container .* running/);
  // sleep as PID 1 ignores SIGTERM: stop waits out the timeout, then SIGKILL (137).
  const started = Date.now();
  await t.ok(['stop', '-t', '1', 'svc']);
  assert.ok(Date.now() - started >= 1000);
  assert.equal((await t.ok(['inspect', '--format', '{{.State.ExitCode}} {{.State.Status}}', 'svc'])).trim(), '137 exited');
  assert.equal((await t.ok(['ps', '-q'])).trim(), '');
  assert.match(await t.ok(['ps', '-a', '--filter', 'status=exited', '--format', '{{.Names}}']), /svc/);
  await t.ok(['rm', 'svc']);
  assert.equal((await t.ok(['ps', '-aq'])).trim(), '');
});

test('rm -f kills a running container; kill -s; wait prints the exit code', async () => {
  await t.ok(['run', '-d', '--name', 'k1', 'busybox', 'sh', '-c', 'trap "exit 9" USR1; while true; do sleep 0.1; done']);
  await eventually(async () => (await t.ok(['inspect', '--format', '{{.State.Running}}', 'k1'])).trim() === 'true');
  const wait = t.berth(['wait', 'k1']);
  await new Promise((r) => setTimeout(r, 300));
  await t.ok(['kill', '-s', 'USR1', 'k1']);
  const w = await wait;
  assert.equal(w.stdout.trim(), '9');
  assert.equal((await t.berth(['kill', 'k1'])).code, 125, 'killing a stopped container is an error');
  await t.ok(['run', '-d', '--name', 'k2', 'busybox', 'sleep', '1000']);
  await t.ok(['rm', '-f', 'k2']);
  assert.equal((await t.berth(['container', 'exists', 'k2'])).code, 1);
  await t.ok(['rm', 'k1']);
});

test('inspect shows Docker/Podman field names', async () => {
  await t.ok(['create', '--name', 'insp', '-e', 'X=1', '-w', '/tmp', '--hostname', 'hh', 'busybox', 'echo', 'a']);
  const [obj] = JSON.parse(await t.ok(['inspect', 'insp'])) as Record<string, any>[];
  assert.match(obj!.Id, /^[0-9a-f]{64}$/);
  assert.equal(obj!.Name, 'insp');
  assert.equal(obj!.Path, 'echo');
  assert.deepEqual(obj!.Args, ['a']);
  assert.ok(obj!.Config.Env.includes('X=1'));
  assert.equal(obj!.Config.WorkingDir, '/tmp');
  assert.equal(obj!.Config.Hostname, 'hh');
  assert.equal(obj!.State.Status, 'created');
  assert.equal(obj!.HostConfig.NetworkMode, 'bridge');
  assert.equal(obj!.ImageName, 'localhost/busybox:latest');
  assert.equal((await t.ok(['inspect', '--format', '{{.Id}}', 'insp'])).trim(), obj!.Id);
  assert.equal((await t.ok(['container', 'inspect', '--format', '{{index .Config.Env 0}}', 'insp'])).trim().startsWith('PATH='), true);
  assert.equal((await t.ok(['inspect', '--format', '{{json .Args}}', 'insp'])).trim(), '["a"]');
  // Prefixes of IDs work like names.
  assert.equal((await t.ok(['inspect', '--format', '{{.Name}}', obj!.Id.slice(0, 8)])).trim(), 'insp');
  const missing = await t.berth(['inspect', 'nope']);
  assert.equal(missing.code, 125);
  assert.match(missing.stderr, /no such object/);
  await t.ok(['rm', 'insp']);
});

test('names are unique; bad names are refused', async () => {
  await t.ok(['create', '--name', 'dup', 'busybox', 'true']);
  const again = await t.berth(['create', '--name', 'dup', 'busybox', 'true']);
  assert.equal(again.code, 125);
  assert.match(again.stderr, /already in use/);
  const bad = await t.berth(['create', '--name', 'bad name!', 'busybox', 'true']);
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /invalid container name/);
  assert.equal((await t.ok(['ps', '-a', '--format', '{{.Names}}'])).trim(), 'dup');
  await t.ok(['rm', 'dup']);
});

test('ps --format table, json and filters', async () => {
  await t.ok(['create', '--name', 'f1', '--label', 'app=a', 'busybox', 'true']);
  await t.ok(['create', '--name', 'f2', '--label', 'app=b', 'busybox', 'true']);
  const table = await t.ok(['ps', '-a', '--format', 'table {{.Names}}\t{{.State}}']);
  const lines = table.trimEnd().split('\n');
  assert.match(lines[0]!, /^NAMES\s+STATE$/);
  assert.equal(lines.length, 3);
  const json = JSON.parse(await t.ok(['ps', '-a', '--format', 'json'])) as { Names: string }[];
  assert.deepEqual(json.map((c) => c.Names).sort(), ['f1', 'f2']);
  assert.equal((await t.ok(['ps', '-a', '--filter', 'label=app=b', '--format', '{{.Names}}'])).trim(), 'f2');
  assert.equal((await t.ok(['ps', '-a', '--filter', 'name=f1', '--format', '{{.Names}}'])).trim(), 'f1');
  assert.equal((await t.ok(['ps', '-a', '--filter', 'ancestor=busybox', '-q'])).trim().split('\n').length, 2);
  const badFilter = await t.berth(['ps', '--filter', 'bogus=1']);
  assert.equal(badFilter.code, 125);
  const defaultTable = await t.ok(['ps', '-a']);
  assert.match(defaultTable.split('\n')[0]!, /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
  await t.ok(['rm', 'f1', 'f2']);
});

test('rm of an unknown container fails clearly; rm -f ignores it', async () => {
  const r = await t.berth(['rm', 'ghost']);
  assert.equal(r.code, 125);
  assert.match(r.stderr, /no container with name or ID "ghost"/);
  assert.equal((await t.berth(['rm', '-f', 'ghost'])).code, 0);
});

test('an --rm container\'s root is a volatile overlay (no syncs), and it can be mounted again on restart', async () => {
  const mountOptions = (id: string) => {
    const line = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((l) => l.split(' ')[4]?.includes(id) && l.includes(' - overlay '));
    return line?.split(' - overlay ')[1] ?? '';
  };
  const kept = (await t.ok(['run', '-d', 'busybox', 'sleep', '1000'])).trim();
  assert.doesNotMatch(mountOptions(kept), /volatile/);
  const gone = (await t.ok(['run', '-d', '--rm', 'busybox', 'sleep', '1000'])).trim();
  assert.match(mountOptions(gone), /volatile/);
  // overlayfs refuses a directory that was mounted volatile unless Berth clears its marker.
  await t.ok(['restart', '-t', '0', gone]);
  assert.equal((await t.ok(['inspect', '--format', '{{.State.Status}}', gone])).trim(), 'running');
  assert.match(mountOptions(gone), /volatile/);
  await t.ok(['rm', '-f', kept, gone]);
});
