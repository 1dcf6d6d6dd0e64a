// HTTP to one registry host with node:http/https: keep-alive agents, the
// host's own CA certificates (certs.d), plain-HTTP fallback where allowed,
// redirects (blob downloads often go to a CDN), timeouts, and network errors
// turned into one-line messages that say what to do. Blob GETs go on a
// connection of their own (direct-get.ts) whose body can be read straight
// into a layer worker's memory.
//
// Why node:https and not fetch: Node 20's fetch (its bundled undici) takes no
// per-request CA without the undici package, and its web streams would sit
// between the socket and the content store. node:https gives per-host TLS
// options and plain Node streams, with no dependency.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import type { Readable } from 'node:stream';
import { BerthError, invalidArgument, messageOf, runtimeError } from '../engine/errors.js';
import type { HostSettings } from './settings.js';
import { DirectPool, directGet } from './direct-get.js';

export interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Readable;
  url: URL;
}

export interface RequestInit {
  headers?: Record<string, string>;
  /** A buffer, or a factory for a fresh stream (uploads are replayed on retry). */
  body?: Buffer | (() => Readable);
  timeoutMs?: number;
  /** A GET whose body the caller may read with DirectBody.into (blob downloads). */
  direct?: boolean;
}

/** A network failure worth retrying (reset, timeout, truncated body). */
export class TransientError extends BerthError {
  constructor(message: string) { super('runtime', message); }
}

const IDLE_TIMEOUT_MS = 60_000;
const MAX_REDIRECTS = 5;
const USER_AGENT = 'berth/0.1 (OCI distribution client)';

export class Transport {
  private scheme?: 'https' | 'http';
  private agents = new Map<string, http.Agent>();
  private tlsByHost = new Map<string, tls.ConnectionOptions>();
  private directPool = new DirectPool();
  private tlsFiles?: { ca?: string[]; cert?: string; key?: string };

  constructor(readonly s: HostSettings) {}

  /** The base URL once the scheme is known (after the first request). */
  get origin(): string {
    return `${this.scheme ?? 'https'}://${this.s.apiHost}`;
  }

  /** Sends one request (following redirects); the caller reads or drains the body. */
  async request(method: string, target: string, init: RequestInit = {}): Promise<Response> {
    this.scheme ??= this.s.allowHttp && !(await this.speaksTls()) ? 'http' : 'https';
    return this.send(method, new URL(target, this.origin), init, 0);
  }

  /**
   * Where plain HTTP is allowed, whether the host answers a TLS handshake. The
   * probe verifies nothing, so it parses no CA: against a plain-HTTP registry
   * a verified first try cost ~60 ms, mostly the CA bundle. A host that cannot
   * be reached fails here as the request would; a plain-HTTP answer means no;
   * any other TLS failure is left for the real (verified) request to report.
   */
  private speaksTls(): Promise<boolean> {
    const url = new URL(`https://${this.s.apiHost}`);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    return new Promise((resolve, reject) => {
      const sock = tls.connect({
        host, port: Number(url.port) || 443, rejectUnauthorized: false, secureContext: tls.createSecureContext({ ca: [] }),
        ...(net.isIP(host) ? {} : { servername: host }),
      });
      let connected = false;
      const fail = (e: Error) => {
        sock.destroy();
        const err = networkError(this.s, url, e);
        if (!connected) reject(err);
        else resolve(!(err instanceof PlainHttpError));
      };
      sock.once('connect', () => { connected = true; });
      sock.once('secureConnect', () => { sock.destroy(); resolve(true); });
      sock.on('error', fail);
      sock.setTimeout(IDLE_TIMEOUT_MS, () => {
        connected = false; // silence is not an answer: fail as the request would
        fail(Object.assign(new Error(`no answer for ${IDLE_TIMEOUT_MS / 1000} s`), { code: 'ETIMEDOUT' }));
      });
    });
  }

  private async send(method: string, url: URL, init: RequestInit, hops: number): Promise<Response> {
    const secure = url.protocol === 'https:';
    const sameHost = url.host === this.s.apiHost;
    const headers: Record<string, string> = { 'user-agent': USER_AGENT, ...init.headers };
    if (!sameHost) delete headers.authorization; // never hand registry credentials to a CDN
    const res = (init.direct && method === 'GET' && await this.direct(url, headers, secure, sameHost, init.timeoutMs))
      || await this.viaNode(method, url, headers, init, secure, sameHost);
    const loc = res.headers.location;
    if ([301, 302, 303, 307, 308].includes(res.status) && loc && (method === 'GET' || method === 'HEAD')) {
      drain(res);
      if (hops >= MAX_REDIRECTS) throw runtimeError(`registry ${this.s.host} redirected ${method} ${url.pathname} more than ${MAX_REDIRECTS} times`);
      return this.send(method, new URL(loc, url), { ...init, headers }, hops + 1);
    }
    return res;
  }

  /** A GET whose body can be read into memory of the caller's (direct-get.ts); undefined when node:http must read it. */
  private async direct(url: URL, headers: Record<string, string>, secure: boolean, sameHost: boolean, timeoutMs = IDLE_TIMEOUT_MS): Promise<Response | undefined> {
    try {
      const r = await directGet(url, headers, secure ? this.tlsOptions(url, sameHost) : undefined, timeoutMs, this.directPool);
      return r && { ...r, url };
    } catch (e) {
      throw networkError(this.s, url, e);
    }
  }

  private viaNode(method: string, url: URL, headers: Record<string, string>, init: RequestInit, secure: boolean, sameHost: boolean): Promise<Response> {
    const body = init.body;
    if (Buffer.isBuffer(body)) headers = { ...headers, 'content-length': String(body.length) };
    return new Promise<Response>((resolve, reject) => {
      const opts: https.RequestOptions = { method, headers, agent: this.agent(url, secure, sameHost), timeout: init.timeoutMs ?? IDLE_TIMEOUT_MS };
      const req = (secure ? https : http).request(url, opts, (res) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res, url }));
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer for ${(init.timeoutMs ?? IDLE_TIMEOUT_MS) / 1000} s`), { code: 'ETIMEDOUT' })));
      req.on('error', (e) => reject(networkError(this.s, url, e)));
      if (body === undefined || Buffer.isBuffer(body)) { req.end(body); return; }
      const src = body();
      src.on('error', (e) => req.destroy(e));
      src.pipe(req);
    });
  }

  private agent(url: URL, secure: boolean, sameHost: boolean): http.Agent {
    const key = `${url.protocol}//${url.host}`;
    let a = this.agents.get(key);
    if (a) return a;
    const common = { keepAlive: true, maxSockets: 16, scheduling: 'lifo' as const };
    a = secure ? new https.Agent({ ...common, ...this.tlsOptions(url, sameHost) }) : new http.Agent(common);
    this.agents.set(key, a);
    return a;
  }

  /** How to speak TLS to `url`'s host: this registry's own CAs and client certificate, or the system's CAs for another host (a CDN). */
  private tlsOptions(url: URL, sameHost: boolean): tls.ConnectionOptions {
    const key = url.host;
    let o = this.tlsByHost.get(key);
    if (o) return o;
    const files = sameHost ? this.tls() : {};
    const verify = sameHost ? this.s.verify : true;
    const hostname = url.hostname.replace(/^\[|\]$/g, '');
    o = {
      rejectUnauthorized: verify,
      // One context per host: parsing the CAs takes tens of ms, too much to pay per connection,
      // and nothing at all when nothing is verified (an empty list keeps Node's own out too).
      secureContext: tls.createSecureContext({
        ca: verify ? [...trustedRoots(), ...(files.ca ?? [])] : [],
        ...(files.cert && files.key ? { cert: files.cert, key: files.key } : {}),
      }),
      ...(net.isIP(hostname) ? {} : { servername: hostname }),
    };
    this.tlsByHost.set(key, o);
    return o;
  }

  /** CAs (*.crt) and a client certificate (*.cert + *.key) from the host's certs.d directory. */
  private tls(): { ca?: string[]; cert?: string; key?: string } {
    if (this.tlsFiles) return this.tlsFiles;
    const out: { ca?: string[]; cert?: string; key?: string } = {};
    let names: string[] = [];
    try { names = fs.readdirSync(this.s.certDir).sort(); } catch { /* no directory: system CAs only */ }
    const read = (n: string) => {
      try { return fs.readFileSync(path.join(this.s.certDir, n), 'utf8'); } catch (e) {
        throw invalidArgument(`cannot read ${path.join(this.s.certDir, n)}: ${messageOf(e)}`);
      }
    };
    for (const n of names) {
      if (n.endsWith('.crt')) (out.ca ??= []).push(read(n));
      else if (n.endsWith('.cert')) {
        const key = n.replace(/\.cert$/, '.key');
        if (!names.includes(key)) throw invalidArgument(`client certificate ${path.join(this.s.certDir, n)} has no key ${key} beside it`);
        out.cert = read(n);
        out.key = read(key);
      }
    }
    return (this.tlsFiles = out);
  }

  close(): void {
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
    this.directPool.close();
  }
}

// Like Podman and Docker, Berth trusts the host's CA bundle (Node's own list
// where the host has none), and the file named by NODE_EXTRA_CA_CERTS. The
// launcher hands that variable over as BERTH_EXTRA_CA_CERTS so that Node does
// not parse it at every start; it is read here, once, by the first TLS connection.
const SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
let roots: string[] | undefined;

function trustedRoots(): string[] {
  if (roots) return roots;
  const system = pemCertificates(SYSTEM_CA_BUNDLE);
  const extra = process.env.BERTH_EXTRA_CA_CERTS ?? process.env.NODE_EXTRA_CA_CERTS;
  return (roots = [...(system.length ? system : tls.rootCertificates), ...(extra ? pemCertificates(extra) : [])]);
}

function pemCertificates(file: string): string[] {
  let pem: string;
  try { pem = fs.readFileSync(file, 'utf8'); } catch { return []; } // as Node does: a missing file only loses its CAs
  return pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
}

/** The server answered a TLS handshake with plain HTTP. */
class PlainHttpError extends BerthError {}

const TLS_TRUST = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'CERT_UNTRUSTED',
]);

/** Turns a socket or TLS error into a message naming the registry and what to do. */
export function networkError(s: HostSettings, url: URL, e: unknown): BerthError {
  if (e instanceof BerthError) return e;
  const err = e as NodeJS.ErrnoException & { reason?: string };
  const code = err.code ?? '';
  const where = `registry ${s.host}${url.host !== s.apiHost ? ` (via ${url.host})` : ''}`;
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || /wrong version number|packet length too long/i.test(err.message)) {
    return new PlainHttpError('invalid-argument', `${where} does not speak HTTPS: if you trust the network, use --tls-verify=false or add "${s.host}" to [registries] insecure in the config`);
  }
  if (TLS_TRUST.has(code)) {
    return invalidArgument(`${where} presented a certificate signed by an unknown authority (${code}): put its CA certificate in ${path.join(s.certDir, 'ca.crt')}, or use --tls-verify=false if you trust the network`);
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return invalidArgument(`${where} presented a certificate for another name (${err.reason ?? err.message}): use the name the certificate was made for`);
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return invalidArgument(`${where} presented a certificate that is not valid now (${code}): renew it, or check this host's clock`);
  }
  if (code === 'ECONNREFUSED') return runtimeError(`cannot reach ${where}: connection refused on ${url.host} (is the registry running? check the name and port)`);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return runtimeError(`cannot reach ${where}: the name ${url.hostname} does not resolve (check the registry name and your DNS)`);
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return runtimeError(`cannot reach ${where}: no route to ${url.hostname} (check your network)`);
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ETIMEDOUT' || code === 'ECONNABORTED' || /socket hang up|aborted|premature close/i.test(err.message)) {
    return new TransientError(`connection to ${where} failed: ${err.message || code}`);
  }
  if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS') || /ssl|tls/i.test(err.message)) {
    return invalidArgument(`TLS with ${where} failed (${code || err.message}): check its certificate, or use --tls-verify=false if you trust the network`);
  }
  return runtimeError(`request to ${where} failed: ${messageOf(e)}`);
}

/** Reads a whole (small) body, failing once it passes `limit` bytes. */
export async function readBody(res: Response, limit: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    res.body.destroy();
    throw new BerthError('corrupt', `${what} is ${declared} bytes, more than the ${limit} allowed: the registry is broken or hostile`);
  }
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of res.body) {
      n += (c as Buffer).length;
      if (n > limit) {
        res.body.destroy();
        throw new BerthError('corrupt', `${what} is more than the ${limit} bytes allowed: the registry is broken or hostile`);
      }
      chunks.push(c as Buffer);
    }
  } catch (e) {
    if (e instanceof BerthError) throw e;
    throw new TransientError(`reading ${what} failed: ${messageOf(e)}`);
  }
  if (Number.isFinite(declared) && n !== declared) throw new TransientError(`reading ${what} failed: got ${n} of ${declared} bytes`);
  return Buffer.concat(chunks, n);
}

/** Discards a body we do not need, keeping the connection reusable when it is small. */
export function drain(res: Response): void {
  const len = Number(res.headers['content-length']);
  if (Number.isFinite(len) && len <= 65536) res.body.resume();
  else res.body.destroy();
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export const RETRIES = 4;

/** Delay before retry `attempt` (1-based): 250 ms doubling, with jitter, at most 4 s. */
export function backoff(attempt: number, retryAfter?: string): Promise<void> {
  const after = Number(retryAfter);
  const base = Number.isFinite(after) && after > 0 ? Math.min(after * 1000, 10_000) : Math.min(250 * 2 ** (attempt - 1), 4000);
  return sleep(base * (0.8 + Math.random() * 0.4));
}
