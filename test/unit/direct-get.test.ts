// The direct GET of blob downloads (src/registry/direct-get.ts) against a raw
// TCP server that answers exactly the bytes each test writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { DirectPool, directGet, readInto, type BodyTarget } from '../../src/registry/direct-get.js';
import { Transport, TransientError, networkError } from '../../src/registry/http.js';
import type { HostSettings } from '../../src/registry/settings.js';

/** A server that answers each request head with `answer(socket, head)`; it counts connections. */
async function rawServer(answer: (s: net.Socket, head: string) => void): Promise<{ url: (p: string) => URL; host: string; connections: () => number; close: () => void }> {
  const open = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((s) => {
    connections++;
    open.add(s);
    s.on('close', () => open.delete(s));
    let got = '';
    s.on('error', () => undefined);
    s.on('data', (d) => {
      // A TLS hello (the transport's probe) gets what a plain-HTTP server says to one.
      if (!got && d[0] === 0x16) { s.end('HTTP/1.1 400 Bad Request\r\n\r\n'); return; }
      got += d.toString('latin1');
      const end = got.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = got.slice(0, end + 4);
      got = got.slice(end + 4);
      answer(s, head);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return { url: (p) => new URL(`http://${host}${p}`), host, connections: () => connections, close: () => { server.close(); for (const s of open) s.destroy(); } };
}

/** A target of small, odd-sized spaces that pauses the reading now and then and hashes what it gets. */
function hashingTarget(): BodyTarget & { bytes: () => number; digest: () => string; pauses: () => number } {
  const h = createHash('sha256');
  const mem = Buffer.alloc(7001);
  let at = 0;
  let total = 0;
  let pauses = 0;
  return {
    space: () => mem.subarray(at),
    filled(n) {
      h.update(mem.subarray(at, at + n));
      at = (at + n) % mem.length;
      const before = total;
      total += n;
      if (Math.floor(before / 300_000) !== Math.floor(total / 300_000)) {
        pauses++;
        return new Promise((r) => setTimeout(r, 5));
      }
      return undefined;
    },
    bytes: () => total,
    digest: () => h.digest('hex'),
    pauses: () => pauses,
  };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('a Content-Length body arrives whole into the target, with pauses, and as a stream', async () => {
  const body = randomBytes(3_000_000);
  const requests: string[] = [];
  const srv = await rawServer((s, head) => {
    requests.push(head);
    s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nX-Two: a\r\nx-two: b\r\n__proto__: x\r\nconstructor: y\r\n\r\n`);
    s.end(body);
  });
  try {
    const r = await directGet(srv.url('/v2/x/blobs/y?q=1'), { authorization: 'Bearer t', range: 'bytes=0-' }, undefined, 5000);
    assert.ok(r);
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-two'], 'a, b', 'repeated headers are joined as node:http does');
    assert.equal(r.headers.constructor, 'y', 'header names are only names');
    assert.equal(Object.getPrototypeOf(r.headers), null);
    const t = hashingTarget();
    await readInto(r.body, t);
    assert.equal(t.bytes(), body.length);
    assert.equal(t.digest(), sha(body));
    assert.ok(t.pauses() > 5, 'the target paused the reading');
    assert.match(requests[0]!, /^GET \/v2\/x\/blobs\/y\?q=1 HTTP\/1\.1\r\n/);
    assert.match(requests[0]!, /\r\nauthorization: Bearer t\r\n/);
    assert.match(requests[0]!, /\r\nhost: 127\.0\.0\.1:\d+\r\n/);

    const r2 = await directGet(srv.url('/again'), {}, undefined, 5000);
    const chunks: Buffer[] = [];
    for await (const c of r2!.body) chunks.push(c as Buffer);
    assert.equal(sha(Buffer.concat(chunks)), sha(body));
  } finally {
    srv.close();
  }
});

test('a body that came with the head, an empty body, and bytes beyond Content-Length', async () => {
  const srv = await rawServer((s, head) => {
    if (head.includes('/small')) s.end('HTTP/1.1 404 Not Found\r\ncontent-length: 11\r\n\r\n{"errors":1}extra bytes');
    else s.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  });
  try {
    const r = await directGet(srv.url('/small'), {}, undefined, 5000);
    assert.equal(r!.status, 404);
    const got: Buffer[] = [];
    await readInto(r!.body, { space: () => Buffer.alloc(4), filled: () => undefined });
    const r2 = await directGet(srv.url('/small'), {}, undefined, 5000);
    for await (const c of r2!.body) got.push(c as Buffer);
    assert.equal(Buffer.concat(got).toString(), '{"errors":1', 'only the announced bytes');
    const empty = await directGet(srv.url('/empty'), {}, undefined, 5000);
    const t = hashingTarget();
    await readInto(empty!.body, t);
    assert.equal(t.bytes(), 0);
  } finally {
    srv.close();
  }
});

test('a body without Content-Length is left to node:http, which the transport then uses', async () => {
  let n = 0;
  const srv = await rawServer((s) => {
    n++;
    s.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
  });
  try {
    assert.equal(await directGet(srv.url('/chunked'), {}, undefined, 5000), undefined);
    const settings: HostSettings = { host: srv.host, apiHost: srv.host, verify: false, allowHttp: true, certDir: '/nonexistent' };
    const t = new Transport(settings);
    // The first request also probes for TLS (answered in plain HTTP: so the transport uses plain HTTP).
    const res = await t.request('GET', '/chunked', { direct: true });
    const chunks: Buffer[] = [];
    for await (const c of res.body) chunks.push(c as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), 'hello world');
    assert.equal(n, 3, 'the direct try above, then the direct try of the transport and its node:http request');
    t.close();
  } finally {
    srv.close();
  }
});

test('broken answers: cut bodies, not HTTP, endless headers, bad lengths, a target that refuses', async () => {
  const settings: HostSettings = { host: 'reg', apiHost: 'reg', verify: true, allowHttp: false, certDir: '/nonexistent' };
  const srv = await rawServer((s, head) => {
    const path = /^GET (\S+)/.exec(head)![1];
    if (path === '/cut') { s.write('HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n'); s.end(Buffer.alloc(5000)); }
    else if (path === '/nothttp') s.end('SSH-2.0-OpenSSH_9.2\r\n\r\n');
    else if (path === '/endless') { s.write('HTTP/1.1 200 OK\r\n'); s.end(`X-Big: ${'a'.repeat(70_000)}\r\n\r\n`); }
    else if (path === '/badlength') s.end('HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\n');
    else if (path === '/badheader') s.end('HTTP/1.1 200 OK\r\nbad header\r\n\r\n');
    else if (path === '/closed') s.destroy();
    else { s.write('HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\n'); s.write(Buffer.alloc(1_000_000)); }
  });
  try {
    const cut = await directGet(srv.url('/cut'), {}, undefined, 5000);
    const e = await readInto(cut!.body, hashingTarget()).then(() => undefined, (x: unknown) => x);
    assert.ok(networkError(settings, srv.url('/cut'), e) instanceof TransientError, `a cut body is worth a retry: ${String(e)}`);
    await assert.rejects(directGet(srv.url('/nothttp'), {}, undefined, 5000), /not HTTP\/1\.1.*SSH-2\.0/);
    await assert.rejects(directGet(srv.url('/endless'), {}, undefined, 5000), /headers larger than 64 KiB/);
    await assert.rejects(directGet(srv.url('/badlength'), {}, undefined, 5000), /invalid Content-Length "-5"/);
    await assert.rejects(directGet(srv.url('/badheader'), {}, undefined, 5000), /invalid header line "bad header"/);
    const closed = await directGet(srv.url('/closed'), {}, undefined, 5000).then(() => undefined, (x: unknown) => x);
    assert.ok(networkError(settings, srv.url('/closed'), closed) instanceof TransientError);

    // A target that throws stops the download with its error and closes the connection.
    const r = await directGet(srv.url('/refused'), {}, undefined, 5000);
    let seen = 0;
    await assert.rejects(readInto(r!.body, { space: () => Buffer.alloc(65536), filled: (n) => { seen += n; if (seen > 100_000) throw new Error('no more, thanks'); } }), /no more, thanks/);
    // A stalled body fails at the idle timeout.
    const slow = await directGet(srv.url('/refused'), {}, undefined, 300);
    await assert.rejects(readInto(slow!.body, { space: () => Buffer.alloc(65536), filled: () => undefined }), /no answer for 0.3 s/);
  } finally {
    srv.close();
  }
});

test('with a pool, a connection read to the end serves the next GET; closed, extra bytes or "close" mean a new one', async () => {
  let n = 0;
  const doomed = new WeakSet<net.Socket>();
  const srv = await rawServer((s, head) => {
    n++;
    const path = /^GET (\S+)/.exec(head)![1];
    if (doomed.has(s)) { s.destroy(); return; } // closed as the request came: the client must not see it
    if (path === '/doom') { doomed.add(s); s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'); }
    else if (path === '/close') s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
    else if (path === '/extra') s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokSURPLUS');
    else if (path === '/hangup') s.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    else s.write(`HTTP/1.1 200 OK\r\nContent-Length: ${path.length}\r\n\r\n${path}`);
  });
  const pool = new DirectPool();
  const get = async (p: string) => {
    const r = await directGet(srv.url(p), {}, undefined, 5000, pool);
    const chunks: Buffer[] = [];
    const mem = Buffer.alloc(3);
    await readInto(r!.body, { space: () => mem, filled: (k) => { chunks.push(Buffer.from(mem.subarray(0, k))); } });
    return Buffer.concat(chunks).toString();
  };
  try {
    assert.equal(await get('/one'), '/one');
    assert.equal(await get('/two'), '/two');
    assert.equal(await get('/three'), '/three');
    assert.equal(srv.connections(), 1, 'three GETs, one connection');
    assert.equal(await get('/close'), 'ok');
    assert.equal(await get('/four'), '/four');
    assert.equal(srv.connections(), 2, 'a "Connection: close" answer is not kept');
    assert.equal(await get('/extra'), 'ok');
    assert.equal(await get('/five'), '/five');
    assert.equal(srv.connections(), 3, 'a connection with bytes beyond the body is not kept');
    // The server closes a kept connection: the next GET goes on a new one without an error.
    assert.equal(await get('/hangup'), 'ok');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await get('/six'), '/six');
    assert.equal(srv.connections(), 4);
    assert.equal(await get('/doom'), 'ok');
    assert.equal(await get('/seven'), '/seven', 'a kept connection that dies at the request is replaced');
    assert.equal(srv.connections(), 5);
    assert.equal(n, 12);
  } finally {
    pool.close();
    srv.close();
  }
});
