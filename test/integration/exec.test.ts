// exec and attach against real runc and conmon.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { TestEnv, BERTH, eventually } from '../helpers/env.js';

let t: TestEnv;
before(async () => {
  t = await TestEnv.create();
  await t.ok(['run', '-d', '--name', 'box', '-e', 'CTR=1', 'busybox', 'sleep', '1000']);
});
after(async () => { await t.cleanup(); });

test('exec returns the process exit code and keeps stdout and stderr apart', async () => {
  const r = await t.berth(['exec', 'box', 'sh', '-c', 'echo out; echo err >&2; exit 5']);
  assert.equal(r.code, 5);
  assert.equal(r.stdout, 'out\n');
  assert.match(r.stderr, /^err$/m);
  assert.equal((await t.berth(['exec', 'box', 'true'])).code, 0);
});

test('exec: command not found is 127, not executable is 126', async () => {
  const nf = await t.berth(['exec', 'box', 'no-such-cmd']);
  assert.equal(nf.code, 127);
  assert.match(nf.stderr, /not found/);
  assert.equal((await t.berth(['exec', 'box', '/etc/passwd'])).code, 126);
});

test('exec -e -u -w and the container environment', async () => {
  const out = await t.ok(['exec', '-e', 'X=2', '-u', 'nobody', '-w', '/tmp', 'box', 'sh', '-c', 'echo $CTR $X $(id -u) $(pwd) $HOME']);
  assert.equal(out, '1 2 65534 /tmp /home\n');
});

test('exec -i passes stdin through; without -i stdin is empty', async () => {
  assert.equal(await t.ok(['exec', '-i', 'box', 'cat'], { input: 'abc\n' }), 'abc\n');
  assert.equal(await t.ok(['exec', 'box', 'cat'], { input: 'ignored' }), '');
});

test('exec -t gets a pty; -it works through a terminal', async () => {
  assert.match(await t.ok(['exec', '-t', 'box', 'tty']), /\/dev\/pts\/\d+/);
  const cmd = `stty rows 21 cols 77; ${t.shellCommand(['exec', '-it', 'box', 'sh', '-c', 'stty size; exit 4'])}`;
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', env: t.env, input: '' });
  assert.match(r.stdout, /21 77/);
  assert.equal(r.status, 4);
});

test('exec -d runs in the background', async () => {
  const id = (await t.ok(['exec', '-d', 'box', 'sh', '-c', 'echo bg > /tmp/bg']));
  assert.match(id.trim(), /^[0-9a-f]{64}$/);
  await eventually(async () => (await t.berth(['exec', 'box', 'cat', '/tmp/bg'])).stdout === 'bg\n', 5000, 'the background exec');
});

test('exec in a stopped container fails clearly and changes nothing', async () => {
  await t.ok(['create', '--name', 'idle', 'busybox', 'true']);
  const r = await t.berth(['exec', 'idle', 'true']);
  assert.equal(r.code, 125);
  assert.match(r.stderr, /not running/);
  const missing = await t.berth(['exec', 'ghost', 'true']);
  assert.equal(missing.code, 125);
  assert.match(missing.stderr, /no container with name or ID "ghost"/);
  await t.ok(['rm', 'idle']);
});

test('attach streams a running container and returns its exit code', async () => {
  await t.ok(['run', '-d', '--name', 'talker', 'busybox', 'sh', '-c', 'sleep 1; echo from-attach; exit 6']);
  const r = await t.berth(['attach', 'talker']);
  assert.equal(r.code, 6);
  assert.match(r.stdout, /from-attach/);
  await t.ok(['rm', 'talker']);
});

test('attach with stdin, and detach keys leave a tty container running', async () => {
  // With a tty, detaching does not close the container's stdin (without one it does, as in Docker).
  await t.ok(['run', '-d', '-i', '-t', '--name', 'echoer', 'busybox', 'cat']);
  // ctrl-p ctrl-q after some input: we detach, the container keeps running.
  const child = spawn(BERTH, t.args(['attach', 'echoer']), { env: t.env });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d; });
  child.stdin.write('hello\n');
  await eventually(() => out.includes('hello'), 5000, 'the echo');
  child.stdin.write(Buffer.from([0x10, 0x11]));
  const code = await new Promise<number | null>((r) => child.on('close', r));
  assert.equal(code, 0);
  assert.equal((await t.ok(['inspect', '-f', '{{.State.Running}}', 'echoer'])).trim(), 'true');
  // Custom detach keys, and a container without stdin ignores ours.
  const r = await t.berth(['attach', '--detach-keys', 'ctrl-x', 'echoer'], { input: Buffer.from([0x18]) });
  assert.equal(r.code, 0);
  const bad = await t.berth(['attach', '--detach-keys', 'ctrl-1', 'echoer']);
  assert.equal(bad.code, 125);
  await t.ok(['rm', '-f', 'echoer']);
  const stopped = await t.berth(['attach', 'ghost']);
  assert.equal(stopped.code, 125);
});
