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
  writer(expected?: string, maxBytes = Number.MAX_SAFE_INTEGER, opts: { direct?: boolean } = {}): BlobWriter {
    this.prepare();
    return new BlobWriter(path.join(this.ingestDir, `${process.pid}-${randomBytes(6).toString('hex')}`), (d) => this.blobPath(d), expected, maxBytes, opts.direct);
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

/** What O_DIRECT asks of a write: offset, length and memory in multiples of the device's block (4 KiB covers them all). */
const DIRECT_ALIGN = 4096;
const STAGE_BYTES = 1 << 20;
/** O_DIRECT writes in flight at most, per thread. */
const STAGES = 8;
let stages: { free: Buffer[]; spare: Buffer } | null | undefined;

/**
 * Page-aligned memory for O_DIRECT writes (a WebAssembly memory is
 * page-aligned; Buffers are not), shared by a thread's writers: a stage per
 * write in flight, and a spare for a write that has to wait for the device
 * because all stages are in flight. Undefined where there is no WebAssembly.
 */
function directStages(): { free: Buffer[]; spare: Buffer } | undefined {
  if (stages === undefined) {
    try {
      const pages = ((STAGES + 1) * STAGE_BYTES) / 65536;
      const mem = Buffer.from(new WebAssembly.Memory({ initial: pages, maximum: pages }).buffer);
      const all = Array.from({ length: STAGES + 1 }, (_, i) => mem.subarray(i * STAGE_BYTES, (i + 1) * STAGE_BYTES));
      stages = { spare: all[0]!, free: all.slice(1) };
    } catch {
      stages = null;
    }
  }
  return stages ?? undefined;
}

/**
 * One blob on its way into the store. It is hashed as it goes and becomes
 * visible only when commit() found the digest it expected. Writes into the
 * page cache are plain syscalls: one costs less than a round trip through
 * libuv's thread pool, and a layer worker thread may block.
 *
 * With `direct`, whole 4 KiB blocks bypass the page cache (O_DIRECT): a pulled
 * blob is not read again during the pull, and on a machine whose free memory
 * is cold (a VM whose host took it back) filling fresh cache pages cost more
 * CPU than hashing the bytes. Those writes wait for the device, so they go
 * from a copy in page-aligned memory to libuv's thread pool, and settled()
 * waits for them; with all that memory in flight, a piece waits here. A tail
 * shorter than a block, and everything on a filesystem that refuses O_DIRECT,
 * goes through the page cache.
 */
export class BlobWriter {
  private readonly hash = createHash('sha256');
  private fd: number | undefined;
  private directFd: number | undefined;
  private useDirect = false;
  private size = 0;
  private inFlight = 0;
  private writeError: Error | undefined;
  private readonly whenIdle: (() => void)[] = [];

  constructor(private readonly tmp: string, private readonly pathOf: (digest: string) => string, private readonly expected: string | undefined, private readonly maxBytes: number, direct = false) {
    this.fd = fs.openSync(tmp, 'w', 0o644);
    if (direct && directStages()) {
      try {
        this.directFd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_DIRECT);
        this.useDirect = true;
      } catch { /* not on this filesystem */ }
    }
  }

  write(chunk: Buffer): void {
    if (this.writeError) throw this.writeError;
    const at = this.size;
    this.size += chunk.length;
    if (this.size > this.maxBytes) throw corrupt(`blob exceeds the size limit of ${this.maxBytes} bytes`);
    this.hash.update(chunk);
    // Direct pieces end on block boundaries, so no page is shared with what goes through the cache.
    const done = this.useDirect && at % DIRECT_ALIGN === 0 ? this.writeDirect(chunk, at) : 0;
    writeAll(this.fd!, chunk, done, at);
  }

  /** Starts O_DIRECT writes of the whole blocks of `chunk` at `at`; returns how many bytes that was. */
  private writeDirect(chunk: Buffer, at: number): number {
    const st = directStages()!;
    const blocks = chunk.length - (chunk.length % DIRECT_ALIGN);
    let done = 0;
    while (done < blocks && this.useDirect) {
      const n = Math.min(blocks - done, STAGE_BYTES);
      const stage = st.free.pop();
      if (stage) {
        chunk.copy(stage, 0, done, done + n);
        this.startDirect(stage, n, at + done);
      } else {
        chunk.copy(st.spare, 0, done, done + n);
        try {
          writeAll(this.directFd!, st.spare.subarray(0, n), 0, at + done);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
          this.useDirect = false; // refused after all: the rest through the page cache
          break;
        }
      }
      done += n;
    }
    return done;
  }

  private startDirect(stage: Buffer, n: number, at: number): void {
    this.inFlight++;
    fs.write(this.directFd!, stage, 0, n, at, (err, written) => {
      try {
        if (err && err.code !== 'EINVAL') throw err;
        if (err) this.useDirect = false;
        // Refused after all, or cut short: the rest of this piece through the page cache.
        writeAll(this.fd!, stage.subarray(0, n), err ? 0 : written, at);
      } catch (e) {
        this.writeError ??= e as Error;
      }
      directStages()!.free.push(stage);
      if (--this.inFlight === 0) for (const f of this.whenIdle.splice(0)) f();
    });
  }

  /** Waits for the writes in flight; rejects with the first that failed. */
  async settled(): Promise<void> {
    if (this.inFlight) await new Promise<void>((resolve) => this.whenIdle.push(resolve));
    if (this.writeError) throw this.writeError;
  }

  /** Closed only with no write in flight: a write to a closed, reused fd number would land in another file. */
  private closeFds(): void {
    for (const fd of [this.fd, this.directFd]) if (fd !== undefined) fs.closeSync(fd);
    this.fd = undefined;
    this.directFd = undefined;
  }

  /** Checks the digest and renames the blob into place; `beforeCommit` runs just before it appears. */
  commit(beforeCommit?: (digest: string) => void): IngestResult {
    if (this.inFlight) throw new BerthError('internal', 'a blob was committed with writes in flight: settled() comes first');
    if (this.writeError) throw this.writeError;
    this.closeFds();
    const digest = 'sha256:' + this.hash.digest('hex');
    if (this.expected && this.expected !== digest) throw corrupt(`blob digest mismatch: expected ${this.expected}, got ${digest}`);
    const target = this.pathOf(digest);
    beforeCommit?.(digest);
    fs.renameSync(this.tmp, target);
    return { digest, size: this.size, path: target };
  }

  /** Removes what was written (after a failure; harmless after commit), once no write is in flight. */
  abort(): void {
    if (this.inFlight) return void this.whenIdle.push(() => this.abort());
    this.closeFds();
    fs.rmSync(this.tmp, { force: true });
  }
}

/** Writes `buf` from `from` on, at file offset `at + from`. */
function writeAll(fd: number, buf: Buffer, from: number, at: number): void {
  for (let done = from; done < buf.length;) done += fs.writeSync(fd, buf, done, buf.length - done, at + done);
}
