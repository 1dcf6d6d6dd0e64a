// The real docker CLI (client only) against `berth serve` on a private socket.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import { TestEnv, eventually, type ApiServer, type Result } from '../helpers/env.js';

const DOCKER = fs.existsSync('/usr/local/bin/docker') ? '/usr/local/bin/docker' : 'docker';
let t: TestEnv;
let srv: ApiServer;

function env(): NodeJS.ProcessEnv {
  return { ...t.env, DOCKER_HOST: srv.host, DOCKER_CONFIG: path.join(t.dir, 'docker-config') };
}

function docker(args: string[], opts: { input?: string | Buffer; timeoutMs?: number } = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(DOCKER, args, { env: env(), stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [], err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`docker ${args.join(' ')} timed out`)); }, opts.timeoutMs ?? 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(opts.input ?? '');
  });
}

async function ok(args: string[], opts: { input?: string | Buffer } = {}): Promise<string> {
  const r = await docker(args, opts);
  assert.equal(r.code, 0, `docker ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/** One raw request over the socket. */
function request(method: string, p: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: srv.socket, method, path: p }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

before(async () => {
  t = await TestEnv.create();
  srv = await t.serve();
});
after(async () => {
  await srv?.stop();
  await t.cleanup();
});

test('ping and version negotiation: prefixed and unprefixed routes, too-new versions refused', async () => {
  for (const p of ['/_ping', '/v1.41/_ping', '/v1.50/_ping']) {
    const r = await request('GET', p);
    assert.equal(r.status, 200);
    assert.equal(r.body, 'OK');
    assert.equal(r.headers['api-version'], '1.50');
  }
  const tooNew = await request('GET', '/v1.99/version');
  assert.equal(tooNew.status, 400);
  assert.equal(tooNew.headers['content-type'], 'application/json');
  assert.match(JSON.parse(tooNew.body).message, /too new/);
  assert.equal((await ok(['version', '--format', '{{.Server.APIVersion}}'])).trim(), '1.50');
});

test('run --rm: output, exit code, and nothing left behind', async () => {
  const r = await docker(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
  assert.equal(r.code, 3);
  assert.equal(r.stdout, 'out\n');
  assert.equal(r.stderr, 'err\n');
  assert.equal((await t.ok(['ps', '-aq'])).trim(), '');
  const missing = await docker(['run', '--rm', 'busybox', 'no-such-command']);
  assert.equal(missing.code, 127, missing.stderr);
  assert.equal((await t.ok(['ps', '-aq'])).trim(), '');
  assert.equal(await ok(['run', '--rm', '-i', 'busybox', 'cat'], { input: 'piped\n' }), 'piped\n');
});

test('run -d, ps, inspect --format, logs -f, stop, kill, wait, rm -f; the CLI sees the same containers', async () => {
  const id = (await ok(['run', '-d', '--name', 'ticker', 'busybox', 'sh', '-c', 'for i in 1 2 3; do echo tick $i; sleep 0.3; done; sleep 100'])).trim();
  assert.match(id, /^[0-9a-f]{64}$/);
  assert.match(await t.ok(['ps', '--format', '{{.Names}}']), /^ticker$/m);
  await t.ok(['run', '-d', '--name', 'from-cli', 'busybox', 'sleep', '100']);
  assert.match(await ok(['ps', '--format', '{{.Names}} {{.Status}}']), /^from-cli Up/m);
  assert.equal((await ok(['inspect', '--format', '{{.Name}} {{.State.Status}} {{.Config.Image}}', 'ticker'])).trim(), '/ticker running busybox');
  await eventually(async () => (await ok(['logs', 'ticker'])).includes('tick 3'), 10_000, 'the third tick');
  const follow = docker(['logs', '-f', 'ticker']);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(await ok(['stop', '-t', '1', 'ticker']), 'ticker\n');
  const logs = await follow;
  assert.equal(logs.code, 0);
  assert.equal(logs.stdout, 'tick 1\ntick 2\ntick 3\n');
  assert.equal((await ok(['wait', 'ticker'])).trim(), '137');
  await ok(['kill', 'from-cli']);
  assert.equal((await ok(['wait', 'from-cli'])).trim(), '137');
  const notRunning = await docker(['kill', 'from-cli']);
  assert.notEqual(notRunning.code, 0);
  assert.match(notRunning.stderr, /is not running/);
  await ok(['rm', '-f', 'ticker', 'from-cli']);
  assert.equal((await t.ok(['ps', '-aq'])).trim(), '');
  const gone = await docker(['inspect', 'ticker']);
  assert.notEqual(gone.code, 0);
  assert.match(gone.stderr, /No such object: ticker/);
});

test('run -it and exec -it under a pty; exec exit codes', async () => {
  const run = spawnSync('script', ['-qec', `${DOCKER} run -it --rm busybox sh -c 'tty; exit 5'`, '/dev/null'], { encoding: 'utf8', env: env(), input: '' });
  assert.match(run.stdout, /\/dev\/pts\/\d+/);
  assert.equal(run.status, 5);
  await ok(['run', '-d', '--name', 'box', 'busybox', 'sleep', '1000']);
  const exec = spawnSync('script', ['-qec', `stty rows 21 cols 77; ${DOCKER} exec -it box sh -c 'stty size; exit 4'`, '/dev/null'], { encoding: 'utf8', env: env(), input: '' });
  assert.match(exec.stdout, /21 77/);
  assert.equal(exec.status, 4);
  const r = await docker(['exec', 'box', 'sh', '-c', 'echo out; echo err >&2; exit 6']);
  assert.deepEqual([r.code, r.stdout, r.stderr], [6, 'out\n', 'err\n']);
  assert.equal((await docker(['exec', 'box', 'no-such-cmd'])).code, 127);
  assert.equal(await ok(['exec', '-i', 'box', 'cat'], { input: 'abc\n' }), 'abc\n');
  await ok(['exec', '-d', 'box', 'sh', '-c', 'echo bg > /tmp/bg']);
  await eventually(async () => (await docker(['exec', 'box', 'cat', '/tmp/bg'])).stdout === 'bg\n', 5000, 'the detached exec');
});

test('cp both ways, including directories', async () => {
  const src = path.join(t.dir, 'src');
  fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(src, 'a.txt'), 'alpha\n');
  fs.writeFileSync(path.join(src, 'sub', 'b.txt'), 'beta\n');
  await ok(['cp', path.join(src, 'a.txt'), 'box:/tmp/']);
  await ok(['cp', src, 'box:/tmp/tree']);
  assert.equal(await ok(['exec', 'box', 'cat', '/tmp/a.txt', '/tmp/tree/sub/b.txt']), 'alpha\nbeta\n');
  const out = path.join(t.dir, 'out');
  fs.mkdirSync(out);
  await ok(['cp', 'box:/etc/hostname', path.join(out, 'hn')]);
  assert.match(fs.readFileSync(path.join(out, 'hn'), 'utf8'), /^[0-9a-f]{12}\n$/);
  await ok(['cp', 'box:/tmp/tree', out]);
  assert.equal(fs.readFileSync(path.join(out, 'tree', 'sub', 'b.txt'), 'utf8'), 'beta\n');
  const missing = await docker(['cp', 'box:/nope', out]);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /Could not find the file \/nope/);
});

test('images, tag, rmi, save | load, commit, history', async () => {
  assert.match(await ok(['images', '--format', '{{.Repository}}:{{.Tag}}']), /busybox:latest/);
  await ok(['tag', 'busybox', 'mybox:1']);
  assert.match(await ok(['images', '--format', '{{.Repository}}:{{.Tag}}']), /mybox:1/);
  const archive = path.join(t.dir, 'mybox.tar');
  await ok(['save', '-o', archive, 'mybox:1']);
  assert.match(await ok(['rmi', 'mybox:1']), /Untagged: .*mybox:1/);
  assert.doesNotMatch(await ok(['images', '--format', '{{.Repository}}:{{.Tag}}']), /mybox:1/);
  assert.match(await ok(['load', '-i', archive]), /Loaded image: .*mybox:1/);
  await ok(['run', '--name', 'changer', 'busybox', 'sh', '-c', 'echo made > /made']);
  assert.match(await ok(['commit', '--change', 'CMD ["cat", "/made"]', 'changer', 'committed:1']), /^sha256:[0-9a-f]{64}$/m);
  assert.equal(await ok(['run', '--rm', 'committed:1']), 'made\n');
  assert.match(await ok(['history', 'committed:1']), /IMAGE/);
  await ok(['rm', 'changer']);
  await ok(['rmi', 'committed:1', 'mybox:1']);
  const r = await docker(['rmi', 'nope:latest']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /No such image: nope:latest/);
});

test('stats --no-stream, events, system df', async () => {
  const stats = await ok(['stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}}', 'box']);
  assert.match(stats, /^box 1$/m);
  const since = Math.floor(Date.now() / 1000) - 1;
  await ok(['run', '--rm', '--name', 'evented', 'busybox', 'true']);
  const until = Math.floor(Date.now() / 1000) + 1;
  const events = await ok(['events', '--since', String(since), '--until', String(until), '--filter', 'container=evented']);
  for (const action of ['create', 'start', 'die', 'destroy']) assert.match(events, new RegExp(`container ${action} [0-9a-f]{64} .*name=evented`));
  assert.match(await ok(['system', 'df']), /Images\s+\d+/);
});

test('volume and network verbs; a published port answers', async () => {
  assert.equal((await ok(['volume', 'create', 'vol1'])).trim(), 'vol1');
  assert.match(await ok(['volume', 'ls', '--format', '{{.Name}}']), /^vol1$/m);
  await ok(['run', '--rm', '-v', 'vol1:/data', 'busybox', 'sh', '-c', 'echo kept > /data/f']);
  assert.equal(await ok(['run', '--rm', '-v', 'vol1:/data', 'busybox', 'cat', '/data/f']), 'kept\n');
  assert.equal((await ok(['volume', 'inspect', '--format', '{{.Driver}}', 'vol1'])).trim(), 'local');
  await ok(['volume', 'rm', 'vol1']);
  assert.match((await docker(['volume', 'inspect', 'vol1'])).stderr, /no such volume/);
  assert.match(await ok(['network', 'ls', '--format', '{{.Name}}']), /^bridge$/m);
  const netId = (await ok(['network', 'create', 'appnet'])).trim();
  assert.match(netId, /^[0-9a-f]{64}$/);
  await ok(['run', '-d', '--name', 'srv', '--network', 'appnet', '-p', '127.0.0.1::80', 'busybox', 'sh', '-c', 'echo hi-there > /i.html; httpd -f -p 80 -h /']);
  const port = (await ok(['port', 'srv', '80/tcp'])).trim().split(':').pop();
  const body = await eventually(async () => {
    try { return await (await fetch(`http://127.0.0.1:${port}/i.html`)).text(); } catch { return ''; }
  }, 10_000, 'the published port');
  assert.equal(body, 'hi-there\n');
  assert.equal(await ok(['run', '--rm', '--network', 'appnet', 'busybox', 'wget', '-qO-', 'http://srv/i.html']), 'hi-there\n');
  await ok(['rm', '-f', 'srv']);
  await ok(['network', 'rm', 'appnet']);
});

test('containers keep running across a server restart, logs intact', async () => {
  await ok(['run', '-d', '--name', 'survivor', 'busybox', 'sh', '-c', 'echo before; sleep 1000']);
  await eventually(async () => (await ok(['logs', 'survivor'])) === 'before\n', 5000, 'the first log line');
  assert.equal(await srv.stop(), 0);
  srv = await t.serve();
  assert.equal((await ok(['inspect', '--format', '{{.State.Running}}', 'survivor'])).trim(), 'true');
  assert.equal(await ok(['logs', 'survivor']), 'before\n');
  await ok(['rm', '-f', 'survivor', 'box']);
});
