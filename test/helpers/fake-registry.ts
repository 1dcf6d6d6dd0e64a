// A small, misbehaving registry for tests of retries and error messages. It
// serves one image (from an OCI image layout directory, e.g. an extracted
// `berth save --format oci-archive`) as repository "repo", tag "1", and can
// answer errors, cut bodies short or stall them, corrupt bytes, ignore Range,
// send a manifest that is not JSON or is 100 MB, require basic auth, or
// redirect blob downloads to another host.
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';

export interface Faults {
  /** Answer this status N times for paths containing the key (a digest, "manifests", …). */
  status?: Map<string, { code: number; times: number }>;
  /** Close the connection after half the body N times, for blobs with this digest. */
  truncate?: Map<string, number>;
  /** Send half of this blob, then nothing more (the connection stays open). */
  stall?: string;
  /** Flip a byte in this blob. */
  corrupt?: string;
  /** Serve Range requests (206); default true. */
  range?: boolean;
  manifestNotJson?: boolean;
  /** A 100 MB manifest, announced with Content-Length ('length') or chunked. */
  hugeManifest?: 'length' | 'chunked';
  /** A wrong Docker-Content-Digest for the manifest. */
  wrongDigestHeader?: boolean;
  /** Answer blob GETs with a redirect to this host:port (another FakeRegistry, as a CDN). */
  redirect?: string;
  /** Require HTTP basic auth with this "user:password". */
  basicAuth?: string;
  /** Answer requests for paths containing the key (a digest, …) this many ms late. */
  delay?: Map<string, number>;
  /** Send blobs slowly: 16 KiB every 20 ms. */
  slow?: boolean;
}

export class FakeRegistry {
  /** Every request, with when it came, when its answer began and when that was all sent (performance.now()). */
  requests: { method: string; path: string; range?: string; authorization?: string; at: number; answered?: number; finished?: number }[] = [];
  faults: Faults = {};
  private server!: http.Server;
  private port = 0;
  private manifest: Buffer;
  private manifestType: string;
  private manifestDigest: string;

  private constructor(private layout: string) {
    const index = JSON.parse(fs.readFileSync(path.join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; mediaType: string }[] };
    const top = index.manifests[0]!;
    this.manifestDigest = top.digest;
    this.manifestType = top.mediaType;
    this.manifest = this.blob(top.digest)!;
  }

  static async start(layout: string): Promise<FakeRegistry> {
    const f = new FakeRegistry(layout);
    f.server = http.createServer((req, res) => f.handle(req, res));
    await new Promise<void>((r) => f.server.listen(0, '127.0.0.1', r));
    f.port = (f.server.address() as net.AddressInfo).port;
    return f;
  }

  get host(): string { return `127.0.0.1:${this.port}`; }

  /** Digests of the image's layer blobs, bottom first. */
  layers(): string[] {
    return (JSON.parse(this.manifest.toString()) as { layers: { digest: string }[] }).layers.map((l) => l.digest);
  }

  /** The digest of the image's config blob. */
  config(): string {
    return (JSON.parse(this.manifest.toString()) as { config: { digest: string } }).config.digest;
  }

  blobRequests(digest: string): number {
    return this.requests.filter((r) => r.method === 'GET' && r.path.endsWith(`/blobs/${digest}`)).length;
  }

  private blob(digest: string): Buffer | undefined {
    try { return fs.readFileSync(path.join(this.layout, 'blobs', 'sha256', digest.slice(7))); } catch { return undefined; }
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const p = (req.url ?? '/').split('?')[0]!;
    const entry: FakeRegistry['requests'][number] = {
      method: req.method ?? 'GET', path: p, at: performance.now(),
      ...(req.headers.range ? { range: req.headers.range } : {}),
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
    };
    this.requests.push(entry);
    const answer = () => {
      entry.answered = performance.now();
      res.on('finish', () => { entry.finished = performance.now(); });
      this.answer(p, req, res);
    };
    const late = [...this.faults.delay ?? []].find(([key]) => p.includes(key));
    if (late) setTimeout(answer, late[1]);
    else answer();
  }

  private answer(p: string, req: http.IncomingMessage, res: http.ServerResponse): void {
    const auth = this.faults.basicAuth;
    if (auth && req.headers.authorization !== `Basic ${Buffer.from(auth).toString('base64')}`) {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="fake"' }).end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
      return;
    }
    for (const [key, s] of this.faults.status ?? []) {
      if (p.includes(key) && s.times > 0) {
        s.times--;
        res.writeHead(s.code, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: `fake failure ${s.code}` }] }));
        return;
      }
    }
    if (p === '/v2/' || p === '/v2') { res.writeHead(200, { 'content-type': 'application/json' }).end('{}'); return; }
    let m = /^\/v2\/repo\/manifests\/(.+)$/.exec(p);
    if (m) return this.serveManifest(m[1]!, req, res);
    m = /^\/v2\/repo\/blobs\/(sha256:[a-f0-9]{64})$/.exec(p);
    if (m && this.faults.redirect && req.method === 'GET') {
      res.writeHead(307, { location: `http://${this.faults.redirect}${p}?signature=fake` }).end();
      return;
    }
    if (m) return this.serveBlob(m[1]!, req, res);
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'NAME_UNKNOWN', message: 'repository name not known to registry' }] }));
  }

  private serveManifest(ref: string, req: http.IncomingMessage, res: http.ServerResponse): void {
    if (ref !== '1' && ref !== this.manifestDigest) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }));
      return;
    }
    if (this.faults.hugeManifest) {
      const size = 100 * 1024 * 1024;
      const chunk = Buffer.alloc(1 << 20, 0x20);
      res.writeHead(200, { 'content-type': this.manifestType, ...(this.faults.hugeManifest === 'length' ? { 'content-length': String(size) } : {}) });
      let sent = 0;
      const pump = () => {
        while (sent < size) {
          sent += chunk.length;
          if (!res.write(chunk)) { res.once('drain', pump); return; }
        }
        res.end();
      };
      res.on('close', () => { sent = size; });
      pump();
      return;
    }
    const body = this.faults.manifestNotJson ? Buffer.from('<html>this is not a manifest</html>') : this.manifest;
    const digest = this.faults.wrongDigestHeader ? 'sha256:' + '0'.repeat(64) : this.manifestDigest;
    res.writeHead(200, {
      'content-type': this.manifestType, 'content-length': String(body.length),
      ...(this.faults.manifestNotJson ? {} : { 'docker-content-digest': digest }),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  private serveBlob(digest: string, req: http.IncomingMessage, res: http.ServerResponse): void {
    let data = this.blob(digest);
    if (!data) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown' }] }));
      return;
    }
    if (this.faults.corrupt === digest) {
      data = Buffer.from(data);
      data[data.length >> 1] ^= 0xff;
    }
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range && this.faults.range !== false) start = Number(range[1]);
    const body = data.subarray(start);
    const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/octet-stream', 'content-length': String(body.length), 'docker-content-digest': digest };
    if (start) headers['content-range'] = `bytes ${start}-${data.length - 1}/${data.length}`;
    res.writeHead(start ? 206 : 200, headers);
    if (req.method === 'HEAD') { res.end(); return; }
    if (this.faults.stall === digest) {
      res.write(body.subarray(0, body.length >> 1));
      return;
    }
    const cut = this.faults.truncate?.get(digest) ?? 0;
    if (cut > 0) {
      this.faults.truncate!.set(digest, cut - 1);
      res.write(body.subarray(0, body.length >> 1), () => res.destroy());
      return;
    }
    if (this.faults.slow) {
      let at = 0;
      const timer = setInterval(() => {
        res.write(body.subarray(at, at += 16 * 1024));
        if (at >= body.length) { clearInterval(timer); res.end(); }
      }, 20);
      res.on('close', () => clearInterval(timer));
      return;
    }
    res.end(body);
  }

  stop(): void {
    this.server.close();
    this.server.closeAllConnections();
  }
}
