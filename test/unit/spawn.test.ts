// Starting programs with posix_spawn (src/sys/spawn.ts): the child must start
// the way child_process would start it (arguments, environment, directory,
// the fds it is given and no others, default signal dispositions, a new
// session when asked), and its exit status must come back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Socket } from 'node:net';
import { fastSpawnAvailable, spawnProcess } from '../../src/sys/spawn.js';

function readAll(s: Socket): Promise<string> {
  let out = '';
  s.on('data', (d: Buffer) => { out += d; });
  return new Promise((resolve) => s.on('close', () => resolve(out)));
}

test('the FFI is there (Berth installs koffi)', () => {
  assert.equal(fastSpawnAvailable(), true);
});

test('arguments, environment, directory, pipes both ways and the exit code', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-spawn-'));
  const child = spawnProcess('sh', ['-c', 'read line; echo "$line|$1|$GREETING|$(pwd)"; echo oops >&2; exit 3', 'sh', 'arg one'], {
    env: { PATH: process.env.PATH, GREETING: 'hi there' }, cwd: dir, stdio: ['pipe', 'pipe', 'pipe'],
  });
  const [stdin, stdout, stderr] = child.stdio as Socket[];
  stdin!.end('from parent\n');
  const [code, out, err] = await Promise.all([child.exited, readAll(stdout!), readAll(stderr!)]);
  assert.equal(code, 3);
  assert.equal(out, `from parent|arg one|hi there|${fs.realpathSync(dir)}\n`);
  assert.equal(err, 'oops\n');
  fs.rmSync(dir, { recursive: true });
});

test('the child gets only the fds it is given, with default signal handling, in a new session when asked', async () => {
  const file = path.join(os.tmpdir(), `berth-spawn-${process.pid}`);
  const fd = fs.openSync(file, 'w');
  const script = 'ls /proc/self/fd | sort -n | tr "\\n" " "; echo; grep SigIgn /proc/self/status; echo "sid $(cut -d" " -f6 /proc/self/stat) pid $$"';
  const child = spawnProcess('sh', ['-c', script], { env: { PATH: process.env.PATH }, stdio: ['ignore', fd, 'inherit'], newSession: true });
  assert.equal(await child.exited, 0);
  fs.closeSync(fd);
  const [fds, sigIgn, session] = fs.readFileSync(file, 'utf8').trim().split('\n');
  fs.rmSync(file);
  // 0-2, the one ls opens to list them, and any this test process itself inherited without
  // close-on-exec (a CI runner's): none of the descriptors Node or Berth opened leak.
  const inherited = fs.readdirSync('/proc/self/fd').map(Number).filter((n) => n > 2 && (() => {
    try { return (parseInt(/flags:\s+(\d+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${n}`, 'utf8'))![1]!, 8) & 0o2000000) === 0; } catch { return false; }
  })());
  const leaked = fds!.trim().split(' ').map(Number).filter((n) => n > 3 && !inherited.includes(n));
  assert.deepEqual(leaked, [], `fds: ${fds}`);
  // Node ignores SIGPIPE; a child that inherited that would not die on a closed pipe.
  assert.match(sigIgn!, /^SigIgn:\s+0+$/);
  const m = /^sid (\d+) pid (\d+)$/.exec(session!);
  assert.ok(m && m[1] === m[2], `a session leader: ${session}`);
});

test('a signal death is 128 + the signal; kill() reaches the child; a missing program throws ENOENT', async () => {
  const child = spawnProcess('sleep', ['30'], { env: { PATH: process.env.PATH }, stdio: ['ignore', 'ignore', 'ignore'] });
  child.kill('SIGTERM');
  assert.equal(await child.exited, 128 + 15);
  assert.throws(() => spawnProcess('berth-no-such-program', [], { env: { PATH: process.env.PATH }, stdio: ['ignore', 'ignore', 'ignore'] }),
    (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
});

test('kill() after the child was reaped signals nothing (its pid may be another process\'s by then)', async () => {
  const child = spawnProcess('true', [], { env: { PATH: process.env.PATH }, stdio: ['ignore', 'ignore', 'ignore'] });
  assert.equal(await child.exited, 0);
  const original = process.kill;
  const sent: number[] = [];
  process.kill = ((pid: number) => { sent.push(pid); return true; }) as typeof process.kill;
  try { child.kill('SIGKILL'); } finally { process.kill = original; }
  assert.deepEqual(sent, []);
});
