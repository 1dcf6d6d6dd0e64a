// Downloads one layer blob: the bytes stream at once into the content store
// (verified against the blob digest) and into the layer unpacker (verified
// against the diff ID), so a layer is unpacked while it arrives. The unpacker
// sees the end of its stream only after the blob digest matched, so a layer
// is never completed from bytes that fail verification. A broken connection
// resumes with an HTTP Range request (or skips what it already has when the
// registry ignores Range); 5xx answers are retried with backoff.
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import type { EngineContext } from '../engine/context.js';
import { BerthError, corrupt, messageOf } from '../engine/errors.js';
import { pin } from '../image/gc.js';
import type { Descriptor } from '../image/types.js';
import type { RegistryClient } from './client.js';
import { RETRIES, TransientError, backoff, networkError, type Response } from './http.js';
import type { ByteProgress } from './progress.js';

export interface LayerJob {
  desc: Descriptor;
  diffId: string;
  chainId: string;
  parent?: string;
  needBlob: boolean;
  needUnpack: boolean;
}

const HWM = 1 << 20;
const COALESCE = 1 << 20;

/**
 * Joins the socket's small chunks (16–64 KiB) into larger ones: every stream
 * stage after this one (hash, file, gunzip, tar) then runs far fewer times.
 */
async function* coalesce(src: AsyncIterable<Buffer>, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let n = 0;
  const take = () => {
    const b = parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
    parts = [];
    n = 0;
    return b;
  };
  try {
    for await (const c of src) {
      parts.push(c);
      n += c.length;
      if (n >= size) yield take();
    }
  } catch (e) {
    // What arrived before the failure counts: a retry resumes after it.
    if (n) yield take();
    throw e;
  }
  if (n) yield take();
}

/** Yields the blob's bytes exactly once each, resuming after failures. */
async function* blobChunks(client: RegistryClient, repo: string, desc: Descriptor, what: string): AsyncGenerator<Buffer> {
  let offset = 0;
  let failures = 0;
  for (;;) {
    let res: Response | undefined;
    try {
      res = await client.getBlob(repo, desc.digest, offset);
      let skip = 0;
      if (offset > 0) {
        const range = /^bytes (\d+)-/.exec(String(res.headers['content-range'] ?? ''));
        if (res.status === 206 && (!range || Number(range[1]) !== offset)) throw corrupt(`registry ${client.host} answered a range request for ${what} with the wrong range (${res.headers['content-range']})`);
        if (res.status === 200) skip = offset; // Range not supported: drop the bytes we already have
      }
      const declared = Number(res.headers['content-length']);
      if (res.status === 200 && Number.isFinite(declared) && declared !== desc.size) {
        throw corrupt(`registry ${client.host} serves ${what} with ${declared} bytes, but the manifest says ${desc.size}: the image in the registry is damaged`);
      }
      for await (const c of coalesce(res.body, COALESCE)) {
        let chunk = c;
        if (skip) {
          if (chunk.length <= skip) { skip -= chunk.length; continue; }
          chunk = chunk.subarray(skip);
          skip = 0;
        }
        if (offset + chunk.length > desc.size) throw corrupt(`${what} from ${client.host} is larger than the ${desc.size} bytes its manifest says: the image in the registry is damaged`);
        offset += chunk.length;
        yield chunk;
      }
      if (offset === desc.size) return;
      throw new TransientError(`the download of ${what} from ${client.host} ended after ${offset} of ${desc.size} bytes`);
    } catch (e) {
      const err = e instanceof BerthError ? e : networkError(client.s, res?.url ?? new URL(client.t.origin), e);
      if (!(err instanceof TransientError)) throw err;
      if (++failures > RETRIES) throw new BerthError('runtime', `${err.message} (after ${RETRIES + 1} attempts): try again later`);
      await backoff(failures);
    } finally {
      res?.body.destroy();
    }
  }
}

/** Waits until `s` wants more data, or its consumer has finished (or failed). */
async function drained(s: PassThrough, consumer: Promise<unknown>): Promise<void> {
  await Promise.race([once(s, 'drain'), consumer.then(() => undefined, () => undefined)]);
}

/**
 * Fetches (and unpacks) one layer as `job` says. `origin` names the image in
 * errors. Progress reports downloaded bytes.
 */
export async function fetchLayer(ctx: EngineContext, client: RegistryClient, repo: string, job: LayerJob, origin: string, progress: ByteProgress): Promise<void> {
  const { desc } = job;
  const what = `layer ${desc.digest}`;
  const layerRef = { digest: desc.digest, diffId: job.diffId, chainId: job.chainId, ...(job.parent ? { parent: job.parent } : {}) };
  pin(ctx, desc.digest, job.chainId);
  if (!job.needBlob) {
    if (job.needUnpack) await ctx.layers.ensure(layerRef).catch((e: unknown) => { throw layerError(e, what, origin); });
    return;
  }
  const toStore = new PassThrough({ highWaterMark: HWM });
  const stored = ctx.content.ingest(toStore, desc.digest, { beforeCommit: (d) => pin(ctx, d) });
  let toLayer: PassThrough | undefined;
  let unpacked: Promise<number> | undefined;
  if (job.needUnpack) {
    const pt = new PassThrough({ highWaterMark: HWM });
    // ensure() calls the factory synchronously unless another process unpacked the layer already.
    unpacked = ctx.layers.ensure(layerRef, () => { toLayer = pt; return pt; });
  }
  let failed: unknown;
  stored.catch((e: unknown) => { failed ??= e; });
  unpacked?.catch((e: unknown) => { failed ??= e; });
  let bytes = 0;
  try {
    for await (const chunk of blobChunks(client, repo, desc, what)) {
      if (failed) throw failed;
      bytes += chunk.length;
      progress.update(bytes);
      const a = toStore.write(chunk);
      const b = toLayer ? toLayer.write(chunk) : true;
      if (!a) await drained(toStore, stored);
      if (!b) await drained(toLayer!, unpacked!);
    }
    progress.update(bytes, true);
    toStore.end();
    await stored;
    progress.state('Download complete');
    toLayer?.end();
    if (unpacked) {
      progress.state('Extracting');
      await unpacked;
    }
  } catch (e) {
    const cause = failed ?? e;
    // With the error, so that the unpacker stops too (a bare destroy() would leave it waiting).
    const stop = cause instanceof Error ? cause : new Error(messageOf(cause));
    toStore.destroy(stop);
    toLayer?.destroy(stop);
    await Promise.allSettled([stored, unpacked]);
    throw layerError(cause, what, origin, client.host);
  }
}

function layerError(e: unknown, what: string, origin: string, host?: string): BerthError {
  const msg = messageOf(e);
  if (/digest mismatch/.test(msg)) {
    return corrupt(`${what} of ${origin} does not match its digest (${msg.replace(/^blob digest mismatch: /, '')})${host ? `: registry ${host} or a proxy altered it` : ''}; nothing was stored, try again`);
  }
  if (e instanceof BerthError) {
    if (e.kind === 'corrupt' && !msg.includes(origin)) return corrupt(`${what} of ${origin}: ${msg}`);
    return e;
  }
  return new BerthError('runtime', `${what} of ${origin}: ${msg}`);
}
