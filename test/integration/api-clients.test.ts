// dockerode, testcontainers-node (11, Ryuk disabled) and Debian's docker-compose
// against `berth serve` on a private socket.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import Docker from 'dockerode';
import tar from 'tar-stream';
import { TestEnv, eventually, type ApiServer } from '../helpers/env.js';

let t: TestEnv;
let srv: ApiServer;
let docker: Docker;

before(async () => {
  t = await TestEnv.create();
  srv = await t.serve();
  docker = new Docker({ socketPath: srv.socket });
  // testcontainers reads these when it first connects.
  process.env.DOCKER_HOST = srv.host;
  process.env.TESTCONTAINERS_RYUK_DISABLED = 'true';
});
after(async () => {
  await srv?.stop();
  await t.cleanup();
});

/** Collects a dockerode stream split by its demuxer. */
function demuxed(stream: NodeJS.ReadableStream): Promise<{ stdout: string; stderr: string }> {
  const out = new PassThrough(), err = new PassThrough();
  let stdout = '', stderr = '';
  out.on('data', (d: Buffer) => { stdout += d.toString(); });
  err.on('data', (d: Buffer) => { stderr += d.toString(); });
  docker.modem.demuxStream(stream, out, err);
  return new Promise((resolve) => stream.on('end', () => resolve({ stdout, stderr })));
}

test('dockerode: run (non-hijacked attach), exec, logs, archives, list filters, events, errors', async () => {
  assert.equal(String(await docker.ping()), 'OK');
  const out = new PassThrough(), err = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => { text += d.toString(); });
  const [result, ctr] = await docker.run('busybox', ['sh', '-c', 'echo from-run; exit 2'], [out, err], { Tty: false, HostConfig: { NetworkMode: 'none' } }) as [{ StatusCode: number }, Docker.Container];
  assert.equal(result.StatusCode, 2);
  assert.equal(text, 'from-run\n');
  await ctr.remove();

  const since = Math.floor(Date.now() / 1000) - 1;
  const box = await docker.createContainer({ Image: 'busybox', Cmd: ['sleep', '1000'], Labels: { suite: 'dockerode' }, name: 'dbox', HostConfig: { NetworkMode: 'none' } });
  await box.start();
  await assert.rejects(box.start(), (e: { statusCode?: number }) => e.statusCode === 304);
  const listed = await docker.listContainers({ filters: { label: ['suite=dockerode'] } });
  assert.deepEqual(listed.map((c) => c.Names[0]), ['/dbox']);
  assert.deepEqual(listed[0]!.Labels, { suite: 'dockerode' });

  const exec = await box.exec({ Cmd: ['sh', '-c', 'echo out; echo err >&2; exit 3'], AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: false, stdin: false });
  assert.deepEqual(await demuxed(stream), { stdout: 'out\n', stderr: 'err\n' });
  assert.equal((await exec.inspect()).ExitCode, 3);

  const pack = tar.pack();
  pack.entry({ name: 'hello.txt' }, 'hello archive\n');
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  await box.putArchive(Buffer.concat(chunks), { path: '/tmp' });
  const archive = await box.getArchive({ path: '/tmp/hello.txt' });
  const extract = tar.extract();
  const files: Record<string, string> = {};
  extract.on('entry', (h, s, next) => { let b = ''; s.on('data', (d: unknown) => { b += String(d); }); s.on('end', () => { files[h.name] = b; next(); }); });
  await new Promise<void>((resolve) => { extract.on('finish', () => resolve()); archive.pipe(extract); });
  assert.deepEqual(files, { 'hello.txt': 'hello archive\n' });

  await box.kill();
  assert.equal((await box.wait()).StatusCode, 137);
  const logs = await box.logs({ stdout: true, stderr: true });
  assert.ok(Buffer.isBuffer(logs));
  const events = await docker.getEvents({ since, until: Math.floor(Date.now() / 1000) + 1, filters: { type: ['container'], container: ['dbox'] } });
  let evText = '';
  for await (const c of events) evText += (c as Buffer).toString();
  const actions = evText.trim().split('\n').map((l) => (JSON.parse(l) as { Action: string }).Action);
  assert.deepEqual(actions.filter((a) => ['create', 'start', 'kill', 'die'].includes(a)), ['create', 'start', 'kill', 'die']);
  await box.remove({ force: true });
  await assert.rejects(docker.getContainer('dbox').inspect(), (e: { statusCode?: number; reason?: string }) => e.statusCode === 404 && e.reason === 'no such container');
  await assert.rejects(docker.getImage('nope:1').inspect(), (e: { statusCode?: number }) => e.statusCode === 404);
});

test('wait (API and CLI) returns only once the exit has been handled, also when it is asked after the exit', async () => {
  const box = await docker.createContainer({ Image: 'busybox', Cmd: ['sleep', '1000'], name: 'wbox', HostConfig: { NetworkMode: 'none' } });
  await box.start();
  const state = JSON.parse(await t.ok(['inspect', '--format', '{{json .State}}', 'wbox'])) as { Pid: number; ConmonPid: number };
  // The moment between conmon writing the exit code and its exit command handling the exit
  // (recording it, writing "die"), held open: conmon is stopped right after the exit code is
  // written where it writes it. Under load this window lasted long enough for clients to see it.
  process.kill(state.ConmonPid, 'SIGSTOP');
  let resumed = false;
  try {
    const since = Math.floor(Date.now() / 1000) - 1;
    process.kill(state.Pid, 'SIGKILL');
    fs.writeFileSync(path.join(t.runroot, 'containers', box.id, box.id), '137');
    assert.equal((await t.ok(['inspect', '--format', '{{.State.Status}}', 'wbox'])).trim(), 'exited');
    const waited = box.wait().then((r: { StatusCode: number }) => ({ code: r.StatusCode, afterResume: resumed }));
    const waitedCli = t.berth(['wait', 'wbox']).then((r) => ({ out: r.stdout.trim(), afterResume: resumed }));
    await new Promise((r) => setTimeout(r, 500));
    resumed = true;
    process.kill(state.ConmonPid, 'SIGCONT');
    const { code, afterResume } = await waited;
    assert.ok(afterResume, 'the API wait returned before the exit was handled');
    assert.equal(code, 137);
    const cli = await waitedCli;
    assert.ok(cli.afterResume, 'berth wait returned before the exit was handled');
    assert.equal(cli.out, '137');
    const events = await docker.getEvents({ since, until: Math.floor(Date.now() / 1000) + 1, filters: { type: ['container'], container: ['wbox'] } });
    let text = '';
    for await (const c of events) text += (c as Buffer).toString();
    assert.ok(text.trim().split('\n').some((l) => (JSON.parse(l) as { Action: string }).Action === 'die'), text);
  } finally {
    if (!resumed) process.kill(state.ConmonPid, 'SIGCONT');
    await box.remove({ force: true });
  }
});

test('testcontainers: GenericContainer with a published port, an HTTP wait strategy, exec, logs, copy, stop', async () => {
  // testcontainers first asks for /info and only says "no working container runtime" when that fails: ask here to see why.
  assert.equal((await docker.info() as { OSType: string }).OSType, 'linux');
  const { GenericContainer, Wait } = await import('testcontainers');
  const c = await new GenericContainer('busybox')
    .withExposedPorts(80)
    .withCommand(['sh', '-c', 'echo hello-tc > /index.html; echo ready; exec httpd -f -p 80 -h /'])
    .withCopyContentToContainer([{ content: 'copied in\n', target: '/copied.txt' }])
    .withWaitStrategy(Wait.forHttp('/index.html', 80))
    .start();
  try {
    const res = await fetch(`http://${c.getHost()}:${c.getMappedPort(80)}/index.html`);
    assert.equal(await res.text(), 'hello-tc\n');
    const e = await c.exec(['cat', '/copied.txt']);
    assert.deepEqual([e.exitCode, e.output], [0, 'copied in\n']);
    assert.equal((await c.exec(['sh', '-c', 'exit 3'])).exitCode, 3);
    const logs = await c.logs();
    let seen = '';
    await new Promise<void>((resolve) => {
      logs.on('data', (d: Buffer | string) => { seen += d.toString(); if (seen.includes('ready')) resolve(); });
    });
    logs.destroy();
  } finally {
    await c.stop();
  }
  assert.equal((await t.ok(['ps', '-aq'])).trim(), '', 'stop removed the container');
});

const COMPOSE = ['/usr/bin/docker-compose', '/usr/local/bin/docker-compose'].find((p) => fs.existsSync(p));

test('docker-compose: a web server and a client that reaches it by name, with a named volume and a user network', { skip: COMPOSE ? false : 'docker-compose is not installed (install.sh installs it)' }, async () => {
  const dir = path.join(t.dir, 'proj');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'docker-compose.yml'), `version: "3.7"
services:
  web:
    image: busybox
    command: ["sh", "-c", "echo served-by-web > /www/index.html && exec httpd -f -p 8080 -h /www"]
    volumes: [webdata:/www]
    networks: [appnet]
  client:
    image: busybox
    command: ["sh", "-c", "until wget -qO- http://web:8080/index.html; do sleep 0.2; done; exec sleep 300"]
    depends_on: [web]
    networks: [appnet]
volumes:
  webdata:
networks:
  appnet:
`);
  const compose = (...args: string[]) => {
    const r = spawnSync(COMPOSE!, ['-p', 'bproj', ...args], { cwd: dir, encoding: 'utf8', env: { ...t.env, DOCKER_HOST: srv.host }, timeout: 120_000 });
    assert.equal(r.status, 0, `docker-compose ${args.join(' ')}: ${r.stderr}`);
    return r.stdout + r.stderr;
  };
  compose('up', '-d');
  await eventually(() => compose('logs', 'client').includes('served-by-web'), 30_000, 'the client to reach the web server');
  assert.match(compose('ps'), /bproj_web_1.*Up/);
  assert.match(await t.ok(['volume', 'ls', '--format', '{{.Name}}']), /^bproj_webdata$/m);
  compose('down', '-v', '-t', '1');
  assert.equal((await t.ok(['ps', '-aq'])).trim(), '');
  assert.doesNotMatch(await t.ok(['volume', 'ls', '--format', '{{.Name}}']), /bproj/);
  assert.doesNotMatch(await t.ok(['network', 'ls', '--format', '{{.Name}}']), /bproj/);
});
