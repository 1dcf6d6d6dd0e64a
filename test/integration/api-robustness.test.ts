// `berth serve` under bad input and misbehaving clients: JSON errors with the
// right status, never a crash, and no file descriptors or exec sessions left
// behind by clients that disconnect mid-stream.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import http from 'node:http';
import { TestEnv, eventually, type ApiServer } from '../helpers/env.js';

let t: TestEnv;
let srv: ApiServer;

interface Reply { status: number; headers: http.IncomingHttpHeaders; body: string }

function request(method: string, p: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: srv.socket, method, path: p, headers: { ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => { text += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const json = (r: Reply) => JSON.parse(r.body) as Record<string, unknown>;

/** Splits a multiplexed stream (8-byte headers: stream, 0, 0, 0, big-endian length) into text per stream. */
function demux(raw: string): Record<number, string> {
  const buf = Buffer.from(raw, 'latin1');
  const out: Record<number, string> = {};
  for (let i = 0; i + 8 <= buf.length;) {
    assert.deepEqual([...buf.subarray(i + 1, i + 4)], [0, 0, 0], 'frame header');
    const len = buf.readUInt32BE(i + 4);
    out[buf[i]!] = (out[buf[i]!] ?? '') + buf.subarray(i + 8, i + 8 + len).toString();
    i += 8 + len;
  }
  return out;
}

/** Sends raw bytes, waits until `until` appears in the reply (or the server closes), then drops the connection. */
function rawThenDrop(raw: string, until: string | RegExp): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(srv.socket);
    let got = '';
    const done = () => { s.destroy(); resolve(got); };
    const timer = setTimeout(done, 5000);
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (typeof until === 'string' ? got.includes(until) : until.test(got)) { clearTimeout(timer); done(); }
    });
    s.on('error', () => {});
    s.on('close', () => { clearTimeout(timer); resolve(got); });
    s.write(raw);
  });
}

const post = (p: string, extra = '', body = '') =>
  `POST ${p} HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;
const get = (p: string) => `GET ${p} HTTP/1.1\r\nHost: api\r\n\r\n`;
const upgrade = 'Connection: Upgrade\r\nUpgrade: tcp\r\n';

const fdCount = () => fs.readdirSync(`/proc/${srv.pid}/fd`).length;

before(async () => {
  t = await TestEnv.create();
  srv = await t.serve();
  await t.ok(['run', '-d', '--name', 'chatty', '--network', 'none', 'busybox', 'sh', '-c', 'while true; do echo line; sleep 0.05; done']);
  await t.ok(['create', '--name', 'idle', '--network', 'none', 'busybox', 'true']);
});
after(async () => {
  await srv?.stop();
  await t.cleanup();
});

test('malformed JSON, wrong types, non-objects, missing image: 400/404 with a JSON message', async () => {
  const cases: [string, number, RegExp][] = [
    ['{not json', 400, /invalid JSON/],
    ['[]', 400, /expected a JSON object/],
    ['{"Image":"busybox","Env":"A=1"}', 400, /Env: expected an array of strings/],
    ['{"Image":"busybox","HostConfig":{"Memory":"lots"}}', 400, /HostConfig\.Memory: expected an integer/],
    ['{"Image":"busybox","HostConfig":{"Binds":[1]}}', 400, /HostConfig\.Binds/],
    ['{}', 400, /no image given/],
    ['{"Image":"nope"}', 404, /^No such image: nope:latest$/],
  ];
  for (const [body, status, message] of cases) {
    const r = await request('POST', '/containers/create', body);
    assert.equal(r.status, status, body);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.match(String(json(r).message), message, body);
  }
  assert.equal((await t.ok(['ps', '-aq'])).trim().split('\n').length, 2, 'nothing was created');
});

test('unknown fields are ignored, as moby does', async () => {
  const r = await request('POST', '/containers/create?name=extra', '{"Image":"busybox","Cmd":["true"],"Bogus":1,"HostConfig":{"NetworkMode":"none","AlsoBogus":{"x":[]}}}');
  assert.equal(r.status, 201, r.body);
  assert.deepEqual(json(r).Warnings, []);
  assert.equal((await request('DELETE', '/containers/extra')).status, 204);
});

test('huge bodies are refused with 413, declared or chunked', async () => {
  const big = Buffer.alloc(3 * 1024 * 1024, 'a');
  const declared = await request('POST', '/containers/create', big);
  assert.equal(declared.status, 413);
  const chunked = await request('POST', '/volumes/create', big, { 'Transfer-Encoding': 'chunked' });
  assert.equal(chunked.status, 413);
  assert.match(String(json(chunked).message), /too large/);
});

test('unknown routes, bad queries and bad versions', async () => {
  const notFound = await request('GET', '/nope');
  assert.equal(notFound.status, 404);
  assert.equal(json(notFound).message, 'page not found');
  assert.equal((await request('PUT', '/containers/json')).status, 404);
  const ghost = await request('GET', '/v1.41/containers/ghost/json');
  assert.equal(ghost.status, 404);
  assert.equal(json(ghost).message, 'No such container: ghost');
  assert.equal((await request('GET', '/containers/json?filters=notjson')).status, 400);
  assert.equal((await request('GET', '/containers/json?all=maybe')).status, 400);
  assert.equal((await request('GET', '/v1.12/version')).status, 400);
  assert.equal((await request('GET', '/exec/ghost/json')).status, 404);
  const garbage = await rawThenDrop('GARBAGE\r\n\r\n', '\r\n\r\n');
  assert.match(garbage, /^HTTP\/1\.1 400/);
  assert.equal((await request('GET', '/_ping')).status, 200);
});

/** One round of clients that go away in the middle of every kind of stream. */
async function disconnectingClients(): Promise<void> {
  await Promise.all([
    rawThenDrop(get('/containers/chatty/logs?follow=1&stdout=1&stderr=1'), 'line'),
    rawThenDrop(post('/containers/chatty/attach?stream=1&stdout=1&stderr=1', upgrade), '101 UPGRADED'),
    rawThenDrop(post('/containers/idle/attach?stream=1&stdout=1&stderr=1', upgrade), '101 UPGRADED'),
    rawThenDrop(post('/containers/chatty/attach?stream=1&stdout=1', '', ''), 'line'),
    rawThenDrop(post('/containers/chatty/wait'), '200 OK'),
    rawThenDrop(post('/containers/idle/wait?condition=next-exit'), '200 OK'),
    rawThenDrop(get('/events'), '200 OK'),
    rawThenDrop(get('/containers/chatty/stats'), 'cpu_stats'),
    (async () => {
      const created = await request('POST', '/containers/chatty/exec', '{"Cmd":["sh","-c","echo started; sleep 1"],"AttachStdout":true}');
      const id = String(json(created).Id);
      await rawThenDrop(post(`/exec/${id}/start`, upgrade, '{"Detach":false,"Tty":false}'), 'started');
      // The process runs to its end; its exit code is recorded though nobody listens.
      await eventually(async () => json(await request('GET', `/exec/${id}/json`)).ExitCode === 0, 10_000, 'the abandoned exec to finish');
    })(),
  ]);
}

test('clients that disconnect mid-stream leak no file descriptors and leave no exec running', async () => {
  await disconnectingClients(); // warm up: lazily opened database, FFI and watchers
  await new Promise((r) => setTimeout(r, 1500));
  const baseline = fdCount();
  for (let i = 0; i < 5; i++) await disconnectingClients();
  const settled = await eventually(() => { const n = fdCount(); return n <= baseline + 2 ? n : 0; }, 15_000, `fds back to ${baseline}`).catch(() => fdCount());
  assert.ok(settled <= baseline + 2, `server fds grew from ${baseline} to ${settled}`);
  // Still serving, still the same process.
  assert.equal((await request('GET', '/_ping')).status, 200);
  const alive = await Promise.race([srv.exited.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), 100))]);
  assert.ok(alive, `the server died: ${srv.output()}`);
  // No exec process is left in the container beyond its main loop.
  const ps = await t.ok(['top', 'chatty']);
  assert.doesNotMatch(ps, /sleep 1\b/);
});

test('a stdin half-close reaches the container; output keeps flowing after it', async () => {
  // The request body in the packet of its head, and after it (the server then reads it from the socket).
  for (const split of [false, true]) {
    const created = await request('POST', '/containers/chatty/exec', '{"Cmd":["sh","-c","cat; echo after-eof"],"AttachStdin":true,"AttachStdout":true}');
    const id = String(json(created).Id);
    const out = await new Promise<string>((resolve, reject) => {
      const s = net.connect(srv.socket);
      let got = '';
      const timer = setTimeout(() => { s.destroy(); reject(new Error(`no end of the exec (split body: ${split}); got ${JSON.stringify(got)}`)); }, 10_000);
      s.on('data', (d: Buffer) => {
        got += d.toString('latin1');
        if (got.includes('101 UPGRADED') && !s.writableEnded) { s.write('typed\n'); s.end(); }
      });
      s.on('close', () => { clearTimeout(timer); resolve(got); });
      const body = '{"Detach":false,"Tty":false}';
      const whole = post(`/exec/${id}/start`, upgrade, body);
      if (!split) s.write(whole);
      else {
        s.write(whole.slice(0, whole.length - body.length));
        setTimeout(() => s.write(body), 50);
      }
    });
    assert.deepEqual(demux(out.slice(out.indexOf('\r\n\r\n') + 4)), { 1: 'typed\nafter-eof\n' }, `split body: ${split}`);
    assert.equal(json(await request('GET', `/exec/${id}/json`)).ExitCode, 0);
  }
});
