// `berth serve`: the Docker Engine API over Node's http server, on a unix socket
// (mode 0660) or a loopback TCP port. Normal requests and `Upgrade: tcp`
// (attach, exec start) go through one router; the server keeps no container
// state, so the CLI may change things at the same time and a restart of the
// server leaves containers running.
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import type { Engine } from '../../engine/engine.js';
import { BerthError, messageOf } from '../../engine/errors.js';
import { log } from '../../sys/log.js';
import { Router, splitVersion, JSON_BODY_LIMIT, type Call } from './router.js';
import { sendError } from './respond.js';
import { ApiError, pageNotFound } from './errors.js';
import { ServerState } from './state.js';
import { systemRoutes } from './system.js';
import { containerRoutes } from './containers.js';
import { containerStreamRoutes } from './containers-io.js';
import { execRoutes } from './exec.js';
import { imageRoutes } from './images.js';
import { volumeRoutes } from './volumes.js';
import { networkRoutes } from './networks.js';

export type ListenAddress = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

/** `unix:///run/berth/docker.sock` or `tcp://127.0.0.1:2375`; other TCP hosts only with `allowRemote`. */
export function parseHost(spec: string, allowRemote = false): ListenAddress {
  if (spec.startsWith('unix://')) {
    const p = spec.slice('unix://'.length);
    if (!p.startsWith('/')) throw new BerthError('invalid-argument', `invalid --host "${spec}": the socket path must be absolute, e.g. unix:///run/berth/docker.sock`);
    return { kind: 'unix', path: p };
  }
  const m = /^tcp:\/\/(\[[0-9a-fA-F:]+\]|[^:/]+):(\d+)\/?$/.exec(spec);
  if (!m) throw new BerthError('invalid-argument', `invalid --host "${spec}": use unix:///PATH or tcp://127.0.0.1:PORT`);
  const host = m[1]!.replace(/^\[|\]$/g, '');
  const port = Number(m[2]);
  if (port > 65535) throw new BerthError('invalid-argument', `invalid --host "${spec}": port ${port} is out of range`);
  const loopback = host === 'localhost' || /^127\./.test(host) || host === '::1';
  if (!loopback && !allowRemote) {
    throw new BerthError('invalid-argument', `refusing to serve the API unauthenticated on ${host}: anyone who reaches it controls the host; use 127.0.0.1, or pass --allow-remote if you really mean it`);
  }
  return { kind: 'tcp', host, port };
}

function buildRouter(): Router {
  const r = new Router();
  systemRoutes(r);
  containerRoutes(r);
  containerStreamRoutes(r);
  execRoutes(r);
  imageRoutes(r);
  volumeRoutes(r);
  networkRoutes(r);
  return r;
}

/** Reads the body of an upgrade request (Content-Length bytes from `head`, then the socket); the rest is early stdin. */
function readUpgradeBody(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<{ body: Buffer; rest: Buffer }> {
  const want = Math.min(Number(req.headers['content-length'] ?? 0) || 0, JSON_BODY_LIMIT);
  if (head.length >= want) return Promise.resolve({ body: head.subarray(0, want), rest: head.subarray(want) });
  return new Promise((resolve, reject) => {
    let got = head;
    const onData = (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length < want) return;
      done();
      socket.pause();
      resolve({ body: got.subarray(0, want), rest: got.subarray(want) });
    };
    const onEnd = () => { done(); reject(new ApiError(400, 'the request body ended early')); };
    const done = () => { socket.off('data', onData); socket.off('end', onEnd); socket.off('close', onEnd); };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
  });
}

export class DockerServer {
  readonly state = new ServerState();
  private router = buildRouter();
  private server: http.Server;
  private sockets = new Set<Duplex>();
  private addr?: ListenAddress;

  constructor(readonly engine: Engine) {
    this.server = http.createServer({ requestTimeout: 0 }, (req, res) => this.dispatch(req, { res }));
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => { /* the client went away */ });
      readUpgradeBody(req, socket, head).then(
        ({ body, rest }) => this.dispatch(req, { hijack: { socket, body, rest } }),
        () => socket.destroy(),
      );
    });
    this.server.on('connection', (s: net.Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    this.server.on('clientError', (_e, socket: Duplex) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      else socket.destroy();
    });
  }

  private dispatch(req: http.IncomingMessage, target: Pick<Call, 'res' | 'hijack'>): void {
    const ac = new AbortController();
    const call: Call = {
      req, method: req.method ?? 'GET', path: '/', version: 1.5, params: {}, query: new URLSearchParams(),
      engine: this.engine, state: this.state, signal: ac.signal, ...target,
    };
    if (target.res) {
      const res = target.res;
      res.on('close', () => { if (!res.writableFinished) ac.abort(); });
      res.on('error', () => ac.abort());
    } else {
      target.hijack!.socket.once('close', () => ac.abort());
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://docker');
    } catch {
      return sendError(call, new ApiError(400, 'malformed request URL'));
    }
    call.query = url.searchParams;
    Promise.resolve().then(() => {
      const { version, path: p } = splitVersion(url.pathname);
      call.version = version;
      call.path = p;
      const m = this.router.match(call.method, p);
      if (!m) throw pageNotFound();
      call.params = m.params;
      log.debug(`api: ${call.method} ${req.url}`);
      return m.handler(call);
    }).catch((e: unknown) => {
      if (ac.signal.aborted) return log.debug(`api: ${call.method} ${call.path}: client gone (${messageOf(e)})`);
      sendError(call, e);
    });
  }

  async listen(addr: ListenAddress): Promise<void> {
    this.addr = addr;
    if (addr.kind === 'unix') {
      await removeStaleSocket(addr.path);
      fs.mkdirSync(path.dirname(addr.path), { recursive: true, mode: 0o755 });
      // Created with no access for others from the start, then opened to the group.
      const umask = process.umask(0o177);
      try {
        await new Promise<void>((resolve, reject) => {
          this.server.once('error', reject);
          this.server.listen(addr.path, () => { this.server.off('error', reject); resolve(); });
        });
      } finally {
        process.umask(umask);
      }
      fs.chmodSync(addr.path, 0o660);
    } else {
      await new Promise<void>((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen(addr.port, addr.host, () => { this.server.off('error', reject); resolve(); });
      });
    }
  }

  /** The TCP port actually bound (for tcp://127.0.0.1:0). */
  get port(): number | undefined {
    const a = this.server.address();
    return a && typeof a === 'object' ? a.port : undefined;
  }

  /** Stops accepting, closes every connection and drops exec and attach bookkeeping. Containers keep running. */
  async close(): Promise<void> {
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    this.state.close();
    for (const s of this.sockets) s.destroy();
    await closed;
    if (this.addr?.kind === 'unix') fs.rmSync(this.addr.path, { force: true });
  }
}

/** A socket file left by a server that is gone is removed; one that answers is in use. */
async function removeStaleSocket(p: string): Promise<void> {
  let st: fs.Stats;
  try { st = fs.lstatSync(p); } catch { return; }
  if (!st.isSocket()) throw new BerthError('conflict', `${p} exists and is not a socket: remove it or choose another --host`);
  const alive = await new Promise<boolean>((resolve) => {
    const s = net.connect(p);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
  if (alive) throw new BerthError('conflict', `another server is listening on ${p}: stop it first, or choose another --host`);
  fs.rmSync(p, { force: true });
}
