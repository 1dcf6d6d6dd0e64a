// Content-addressed blob store, laid out as an OCI image layout
// (<root>/oci-layout, <root>/blobs/sha256/<hex>). A blob becomes visible only
// after its bytes were hashed and matched its digest.
import fs from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { BerthError, corrupt } from '../engine/errors.js';
import { mkdirp } from '../sys/fsutil.js';

export const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

export function parseDigest(d: string): string {
  if (!DIGEST_RE.test(d)) throw new BerthError('invalid-argument', `invalid digest "${d}": expected sha256:<64 hex digits>`);
  return d.slice(7);
}

export function sha256(data: string | Buffer): string {
  return 'sha256:' + createHash('sha256').update(data).digest('hex');
}

export interface IngestResult { digest: string; size: number; path: string }

export class ContentStore {
  private prepared = false;
  constructor(readonly root: string) {}

  private get blobDir() { return path.join(this.root, 'blobs', 'sha256'); }
  private get ingestDir() { return path.join(this.root, 'ingest'); }

  private prepare(): void {
    if (this.prepared) return;
    mkdirp(this.blobDir);
    mkdirp(this.ingestDir, 0o700);
    const layout = path.join(this.root, 'oci-layout');
    if (!fs.existsSync(layout)) fs.writeFileSync(layout, '{"imageLayoutVersion":"1.0.0"}');
    this.prepared = true;
  }

  blobPath(digest: string): string {
    return path.join(this.blobDir, parseDigest(digest));
  }

  has(digest: string): boolean {
    return fs.existsSync(this.blobPath(digest));
  }

  size(digest: string): number {
    return fs.statSync(this.blobPath(digest)).size;
  }

  read(digest: string): Buffer {
    try {
      return fs.readFileSync(this.blobPath(digest));
    } catch {
      throw new BerthError('not-found', `blob ${digest} is missing from the content store; remove and re-pull or re-load the image`);
    }
  }

  readJson<T>(digest: string): T {
    return JSON.parse(this.read(digest).toString('utf8')) as T;
  }

  open(digest: string): Readable {
    return fs.createReadStream(this.blobPath(digest));
  }

  /** Stores bytes already in memory; verifies `expected` when given. */
  put(data: Buffer | string, expected?: string): string {
    this.prepare();
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    const digest = sha256(buf);
    if (expected && expected !== digest) throw corrupt(`content digest mismatch: expected ${expected}, got ${digest}`);
    const target = this.blobPath(digest);
    if (fs.existsSync(target)) return digest;
    const tmp = path.join(this.ingestDir, `${process.pid}-${randomBytes(6).toString('hex')}`);
    fs.writeFileSync(tmp, buf);
    fs.renameSync(tmp, target);
    return digest;
  }

  /**
   * Streams `source` into the store, hashing on the way. With `expected`, a mismatch
   * discards the bytes and throws; without it the blob is stored under its computed digest.
   */
  async ingest(source: Readable, expected?: string, opts: { maxBytes?: number; beforeCommit?: (digest: string) => void } = {}): Promise<IngestResult> {
    const w = this.writer(expected, opts.maxBytes);
    try {
      for await (const chunk of source) w.write(chunk as Buffer);
      return w.commit(opts.beforeCommit);
    } catch (e) {
      w.abort();
      throw e;
    }
  }

  /** A blob written piece by piece; see BlobWriter. */
  writer(expected?: string, maxBytes = Number.MAX_SAFE_INTEGER): BlobWriter {
    this.prepare();
    return new BlobWriter(path.join(this.ingestDir, `${process.pid}-${randomBytes(6).toString('hex')}`), (d) => this.blobPath(d), expected, maxBytes);
  }

  delete(digest: string): void {
    fs.rmSync(this.blobPath(digest), { force: true });
  }

  /** All blob digests present. */
  list(): string[] {
    try {
      return fs.readdirSync(this.blobDir).filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => 'sha256:' + n);
    } catch {
      return [];
    }
  }

  /** Removes partial ingests left by dead processes. */
  sweepIngest(alive: (pid: number) => boolean): void {
    let names: string[] = [];
    try { names = fs.readdirSync(this.ingestDir); } catch { return; }
    for (const n of names) {
      const pid = Number(n.split('-')[0]);
      if (!alive(pid)) fs.rmSync(path.join(this.ingestDir, n), { force: true, recursive: true });
    }
  }
}

/**
 * One blob on its way into the store, written with plain syscalls: a write of
 * a piece costs less than a round trip through libuv's thread pool, and a
 * layer worker thread may block. It is hashed as it goes and becomes visible
 * only when commit() found the digest it expected.
 */
export class BlobWriter {
  private readonly hash = createHash('sha256');
  private fd: number | undefined;
  private size = 0;

  constructor(private readonly tmp: string, private readonly pathOf: (digest: string) => string, private readonly expected: string | undefined, private readonly maxBytes: number) {
    this.fd = fs.openSync(tmp, 'w', 0o644);
  }

  write(chunk: Buffer): void {
    this.size += chunk.length;
    if (this.size > this.maxBytes) throw corrupt(`blob exceeds the size limit of ${this.maxBytes} bytes`);
    this.hash.update(chunk);
    for (let at = 0; at < chunk.length;) at += fs.writeSync(this.fd!, chunk, at);
  }

  /** Checks the digest and renames the blob into place; `beforeCommit` runs just before it appears. */
  commit(beforeCommit?: (digest: string) => void): IngestResult {
    fs.closeSync(this.fd!);
    this.fd = undefined;
    const digest = 'sha256:' + this.hash.digest('hex');
    if (this.expected && this.expected !== digest) throw corrupt(`blob digest mismatch: expected ${this.expected}, got ${digest}`);
    const target = this.pathOf(digest);
    beforeCommit?.(digest);
    fs.renameSync(this.tmp, target);
    return { digest, size: this.size, path: target };
  }

  /** Removes what was written (after a failure; harmless after commit). */
  abort(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
    fs.rmSync(this.tmp, { force: true });
  }
}
