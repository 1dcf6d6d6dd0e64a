// Layer blob compression: detection by magic bytes, streaming decompression
// (gzip in-process, zstd through the zstd CLI) and compression for pushes/commits.
// Errors of broken input become one-line `corrupt` BerthErrors; truncation is
// always reported as "truncated layer (...)".
import { spawn } from 'node:child_process';
import { PassThrough, Readable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import { BerthError, corrupt, messageOf } from '../engine/errors.js';

export type Compression = 'gzip' | 'zstd' | 'none';

const ZSTD_BIN = 'zstd';
const CHUNK = 64 * 1024;
// Inflating in larger pieces means far fewer thread-pool round trips (a 200 MB pull unpacks ~1.5x faster).
const GUNZIP_CHUNK = 1 << 20;

/** Detects the compression of a blob from its first (at least 4) bytes. */
export function detectCompression(firstBytes: Buffer): Compression {
  if (firstBytes.length >= 2 && firstBytes[0] === 0x1f && firstBytes[1] === 0x8b) return 'gzip';
  if (firstBytes.length >= 4 && firstBytes.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

/**
 * Peeks the first bytes of `input` and returns a byte stream of the
 * uncompressed content (the input itself when it is not compressed).
 * Destroying the returned stream destroys the input (and kills a zstd child).
 */
export async function decompressStream(input: Readable): Promise<Readable> {
  const { head, ended } = await peek(input, 4);
  const raw = ended ? Readable.from(head.length ? [head] : [], { objectMode: false }) : input;
  const kind = detectCompression(head);
  if (kind === 'gzip') return gunzip(raw);
  if (kind === 'zstd') return zstdDecompress(raw);
  return raw;
}

/**
 * Reads at least `n` bytes (fewer only at the end). Unless the input ended, the
 * bytes are put back with unshift() right away, in the same tick (before a
 * pending 'end' could be emitted), so `input` still yields everything.
 */
function peek(input: Readable, n: number): Promise<{ head: Buffer; ended: boolean }> {
  return new Promise((resolve, reject) => {
    if (input.destroyed) return reject(input.errored ?? corrupt('truncated layer: the layer stream was already closed'));
    if (input.readableEnded) return resolve({ head: Buffer.alloc(0), ended: true });
    const chunks: Buffer[] = [];
    let have = 0;
    const cleanup = () => {
      input.off('readable', onReadable);
      input.off('end', onEnd);
      input.off('error', onError);
      input.off('close', onClose);
    };
    const finish = (ended: boolean) => {
      cleanup();
      const head = Buffer.concat(chunks, have);
      if (!ended && have) input.unshift(head);
      resolve({ head, ended });
    };
    function onReadable() {
      let c: unknown;
      while (have < n && (c = input.read()) !== null) {
        const b = toBuffer(c);
        chunks.push(b);
        have += b.length;
      }
      if (have >= n) finish(false);
    }
    function onEnd() { finish(true); }
    function onError(e: unknown) { cleanup(); reject(e); }
    function onClose() { cleanup(); reject(corrupt('truncated layer: the layer stream was closed before its end')); }
    input.on('readable', onReadable);
    input.on('end', onEnd);
    input.on('error', onError);
    input.on('close', onClose);
  });
}

function toBuffer(v: unknown): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (typeof v === 'string') return Buffer.from(v);
  throw new BerthError('invalid-argument', 'layer source must be a byte stream');
}

/**
 * A stream destroyed without an error emits only 'close': pipe() then neither
 * ends nor fails what it feeds, and whoever waits on the far end would wait for ever.
 */
function onClosedEarly(input: Readable, fail: (e: Error) => void): void {
  input.on('close', () => { if (!input.readableEnded && !input.errored) fail(corrupt('truncated layer: the layer stream was closed before its end')); });
}

function gunzip(input: Readable): Readable {
  const z = createGunzip({ chunkSize: GUNZIP_CHUNK });
  const out = new PassThrough({ highWaterMark: GUNZIP_CHUNK });
  input.on('error', (e) => out.destroy(e));
  onClosedEarly(input, (e) => out.destroy(e));
  z.on('error', (e) => out.destroy(mapGzipError(e)));
  out.on('close', () => { z.destroy(); input.destroy(); });
  input.pipe(z).pipe(out);
  return out;
}

function mapGzipError(e: Error): Error {
  const code = (e as NodeJS.ErrnoException).code;
  if (typeof code !== 'string' || !code.startsWith('Z_')) return e;
  const msg = messageOf(e);
  if (code === 'Z_BUF_ERROR' || /unexpected end/i.test(msg)) return corrupt(`truncated layer (gzip: ${msg})`);
  return corrupt(`corrupt gzip layer: ${msg}`);
}

/**
 * Runs `zstd` with `args`, piping `input` to it. The returned stream ends only
 * after the child exited with status 0; otherwise it errors with `onFail(...)`.
 * Destroying it kills the child and destroys `input`.
 */
function zstdFilter(input: Readable, args: string[], onFail: (stderr: string, status: string) => Error): Readable {
  const child = spawn(ZSTD_BIN, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  let exited = false;
  let inputError: Error | undefined;
  const out = new Readable({
    highWaterMark: CHUNK,
    read() { child.stdout.resume(); },
    destroy(err, cb) {
      if (!exited) child.kill('SIGKILL');
      input.destroy();
      cb(err);
    },
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => { if (stderr.length < 4096) stderr += d; });
  child.stdout.on('data', (c: Buffer) => { if (!out.push(c)) child.stdout.pause(); });
  child.on('error', (e) => {
    exited = true;
    out.destroy(new BerthError('internal', `cannot run ${ZSTD_BIN}: ${messageOf(e)} (install the zstd package)`));
  });
  child.on('close', (code, signal) => {
    exited = true;
    if (out.destroyed) return;
    if (inputError) out.destroy(inputError);
    else if (code === 0) out.push(null);
    else out.destroy(onFail(stderr, signal ? `signal ${signal}` : `exit status ${code}`));
  });
  input.on('error', (e) => { inputError = e; child.kill('SIGKILL'); });
  onClosedEarly(input, (e) => { inputError = e; child.kill('SIGKILL'); });
  child.stdin.on('error', () => { /* EPIPE when zstd exits early: its status tells why */ });
  input.pipe(child.stdin);
  return out;
}

function zstdDecompress(input: Readable): Readable {
  return zstdFilter(input, ['-d', '-c', '-q'], (stderr, status) => {
    const detail = oneLine(stderr) || status;
    if (/premature end|unexpected end|truncated/i.test(stderr)) return corrupt(`truncated layer (zstd: ${detail})`);
    return corrupt(`corrupt zstd layer: ${detail}`);
  });
}

function oneLine(s: string): string {
  return s.split('\n').map((l) => l.replace(/\s+/g, ' ').trim()).filter(Boolean).join('; ').slice(0, 300);
}

/** Compresses a byte stream (for layer blobs written by commit/push). */
export function compressStream(kind: Compression, input: Readable): Readable {
  if (kind === 'none') return input;
  if (kind === 'gzip') {
    const z = createGzip({ chunkSize: CHUNK });
    input.on('error', (e) => z.destroy(e));
    z.on('close', () => input.destroy());
    return input.pipe(z);
  }
  return zstdFilter(input, ['-c', '-q'], (stderr, status) =>
    new BerthError('internal', `zstd compression failed: ${oneLine(stderr) || status}`));
}
