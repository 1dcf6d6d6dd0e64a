// Downloads one layer blob. The socket reads straight into 1 MiB batches
// (direct-get.ts) for a worker thread (layer-workers.ts), where the bytes go at
// once into the content store (verified against the blob digest) and into the
// layer unpacker (verified against the diff ID), so a layer is unpacked while
// it arrives, even before the image config (still on its way) says where it
// goes and which diff ID it must have. The unpacker sees the end of its stream
// only after the blob digest matched, so a layer is never completed from bytes
// that fail verification. A broken connection resumes with an HTTP Range
// request (or skips what it already has when the registry ignores Range); 5xx
// answers are retried with backoff.
import type { EngineContext } from '../engine/context.js';
import { BerthError, corrupt, messageOf } from '../engine/errors.js';
import { pin } from '../image/gc.js';
import type { LayerRef } from '../image/layers.js';
import type { Descriptor } from '../image/types.js';
import type { RegistryClient } from './client.js';
import { RETRIES, TransientError, backoff, networkError, type Response } from './http.js';
import { shortId, type ByteProgress } from './progress.js';
import type { LayerWorkers } from './layer-workers.js';
import { trace } from '../sys/log.js';
import { readInto, type BodyTarget } from './direct-get.js';

/** What the image config says of a layer, and whether its directory is still to be made. */
export interface LayerPlan {
  diffId: string;
  chainId: string;
  parent?: string;
  needUnpack: boolean;
}

export interface LayerJob {
  desc: Descriptor;
  needBlob: boolean;
  /** Settles when the config is in: a blob starts downloading (and unpacking) before. */
  plan: Promise<LayerPlan>;
}

/**
 * Receives the blob's bytes into `into`, each exactly once, resuming after
 * failures. `into.filled` may throw to stop the download.
 */
async function receiveBlob(client: RegistryClient, repo: string, desc: Descriptor, what: string, into: BodyTarget): Promise<void> {
  let offset = 0;
  let failures = 0;
  const scratch = Buffer.allocUnsafe(64 * 1024);
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
      await readInto(res.body, {
        space: () => (skip ? scratch.subarray(0, Math.min(skip, scratch.length)) : into.space()),
        filled: (n) => {
          if (skip) { skip -= n; return undefined; }
          if (offset + n > desc.size) throw corrupt(`${what} from ${client.host} is larger than the ${desc.size} bytes its manifest says: the image in the registry is damaged`);
          offset += n;
          return into.filled(n);
        },
      });
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

/**
 * Fetches (and unpacks) one layer blob as `job` says. `origin` names the image
 * in errors. Progress reports downloaded bytes. The bytes go to a worker
 * thread of `workers`, which stores them and unpacks them at once, into a
 * directory named when the plan is in.
 */
export async function fetchLayer(ctx: EngineContext, client: RegistryClient, repo: string, job: LayerJob, origin: string, progress: ByteProgress, workers: LayerWorkers): Promise<void> {
  const { desc } = job;
  const what = `layer ${desc.digest}`;
  pin(ctx, desc.digest);
  const sink = workers.open(ctx.content.root, desc.digest);
  sink.unpackSoon(ctx.layers.root);
  let failed: unknown;
  const unpacked = job.plan.then(async (plan) => {
    pin(ctx, plan.chainId);
    if (!plan.needUnpack) return sink.skipUnpack();
    try {
      // ensure() names the unpack synchronously unless another process unpacked the layer meanwhile.
      await ctx.layers.ensure(layerRef(desc, plan), (dest, diffId) => sink.unpackTo(dest, diffId));
    } finally {
      await sink.skipUnpack();
    }
  }, (e: unknown) => {
    sink.abort(messageOf(e)); // no config, no image: stop the download
    throw e;
  });
  sink.stored.catch((e: unknown) => { failed ??= e; });
  unpacked.catch((e: unknown) => { failed ??= e; });
  let bytes = 0;
  trace(`layer ${shortId(desc.digest)} start`);
  try {
    await receiveBlob(client, repo, desc, what, {
      space: () => sink.space(),
      // The sink refuses bytes (throws) once the thread reported a failed store or unpack.
      filled: (n) => {
        bytes += n;
        progress.update(bytes);
        return sink.filled(n);
      },
    });
    progress.update(bytes, true);
    trace(`layer ${shortId(desc.digest)} downloaded`);
    sink.end();
    await sink.stored;
    trace(`layer ${shortId(desc.digest)} stored`);
    progress.state('Download complete');
    if ((await job.plan).needUnpack) progress.state('Extracting');
    await unpacked;
    trace(`layer ${shortId(desc.digest)} unpacked`);
  } catch (e) {
    const cause = failed ?? e;
    sink.abort(messageOf(cause));
    await Promise.allSettled([sink.finished, unpacked]);
    throw layerError(cause, what, origin, client.host);
  }
}

/** Makes the layer directory of a blob that is in the store already. */
export async function unpackStored(ctx: EngineContext, desc: Descriptor, plan: LayerPlan, origin: string): Promise<void> {
  pin(ctx, desc.digest, plan.chainId);
  await ctx.layers.ensure(layerRef(desc, plan)).catch((e: unknown) => { throw layerError(e, `layer ${desc.digest}`, origin); });
}

function layerRef(desc: Descriptor, plan: LayerPlan): LayerRef {
  return { digest: desc.digest, diffId: plan.diffId, chainId: plan.chainId, ...(plan.parent ? { parent: plan.parent } : {}) };
}

function layerError(e: unknown, what: string, origin: string, host?: string): BerthError {
  const msg = messageOf(e);
  if (/digest mismatch/.test(msg)) {
    return corrupt(`${what} of ${origin} does not match its digest (${msg.replace(/^blob digest mismatch: /, '')})${host ? `: registry ${host} or a proxy altered it` : ''}; nothing was stored, try again`);
  }
  // A full disk, whether the blob or the unpack hit it first: "ENOSPC: no space left on device, write",
  // or 'layer entry "x": ENOSPC: …' (errors from a worker thread arrive as text).
  if (/\b(ENOSPC|EDQUOT)\b/.test(msg)) {
    return new BerthError('runtime', `${what} of ${origin}: ${msg}: free some space (berth system prune removes what no image uses) and pull again; what was complete is kept`);
  }
  if (e instanceof BerthError) {
    if (e.kind === 'corrupt' && !msg.includes(origin)) return corrupt(`${what} of ${origin}: ${msg}`);
    return e;
  }
  return new BerthError('runtime', `${what} of ${origin}: ${msg}`);
}
