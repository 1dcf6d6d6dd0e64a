// The body of a layer worker thread (built into dist/layer-worker.cjs; the
// pull side is layer-workers.ts). It takes the bytes of layer blobs as they
// arrive and does the work that costs CPU per byte: the blob goes into the
// content store (a BlobWriter: hashed, written with O_DIRECT, renamed into
// place once its digest matched) and, when asked, the same bytes are
// gunzipped, hashed and unpacked by unpackLayerLate, the unpacker an
// in-process unpack uses. The unpacker sees the end of its stream only after
// the blob digest matched. It may start before the pull knows where the layer
// goes (the image config names it): the 'target' message says so later, or
// that it is not needed.
import { PassThrough } from 'node:stream';
import { parentPort } from 'node:worker_threads';
import { ContentStore, type BlobWriter } from '../content/store.js';
import { BerthError, messageOf } from '../engine/errors.js';
import { unpackLayerLate, type LayerDestination } from '../snapshot/unpack.js';
import type { FromPull, ToPull, WireError } from './layer-workers.js';

const HWM = 1 << 20;

interface Job {
  /** Undefined once the blob was stored, failed or aborted. */
  blob: BlobWriter | undefined;
  toLayer?: PassThrough;
}

const jobs = new Map<number, Job>();
/** Unpacks waiting to learn where they go; kept past the job, as the blob may be complete before the config is. */
const targets = new Map<number, { resolve(d: LayerDestination | undefined): void; reject(e: Error): void }>();
const port = parentPort!;
const post = (m: ToPull) => port.postMessage(m);

function wire(e: unknown): WireError {
  return e instanceof BerthError ? { kind: e.kind, message: e.message } : { message: messageOf(e) };
}

/** The blob failed (a write, its digest, an abort): the unpack stops, and the failure is reported once its file is gone. */
function fail(id: number, j: Job, e: unknown): void {
  const blob = j.blob;
  if (blob) {
    j.blob = undefined;
    void blob.settled().catch(() => undefined).then(() => {
      blob.abort();
      post({ op: 'stored', id, error: wire(e) });
    });
  }
  j.toLayer?.destroy(e instanceof Error ? e : new Error(messageOf(e)));
}

port.on('message', (m: FromPull) => {
  switch (m.op) {
    case 'blob': {
      try {
        // The blob is not read again during the pull: it may bypass the page cache.
        jobs.set(m.id, { blob: new ContentStore(m.root).writer(m.digest, undefined, { direct: true }) });
      } catch (e) {
        jobs.set(m.id, { blob: undefined });
        post({ op: 'stored', id: m.id, error: wire(e) });
      }
      return;
    }
    case 'unpack': {
      const j = jobs.get(m.id)!;
      j.toLayer = new PassThrough({ highWaterMark: HWM });
      const destination = new Promise<LayerDestination | undefined>((resolve, reject) => targets.set(m.id, { resolve, reject }));
      unpackLayerLate(j.toLayer, m.dir, destination).then(
        (r) => post({ op: 'unpacked', id: m.id, ...(r ? { size: r.size } : {}) }),
        (e: unknown) => post({ op: 'unpacked', id: m.id, error: wire(e) }),
      ).finally(() => targets.delete(m.id));
      return;
    }
    case 'target': {
      targets.get(m.id)?.resolve(m.dest ? { dest: m.dest, diffId: m.diffId } : undefined);
      return;
    }
    case 'data': {
      const j = jobs.get(m.id);
      // The ack frees the sender's budget once the bytes are written and the unpacker took them.
      const ack = () => post({ op: 'ack', id: m.id, bytes: m.len });
      if (!j?.blob) return ack(); // failed or aborted: the bytes go nowhere
      const chunk = Buffer.from(m.buf, 0, m.len);
      try {
        j.blob.write(chunk);
      } catch (e) {
        fail(m.id, j, e);
        return ack();
      }
      if (j.toLayer) j.toLayer.write(chunk, ack);
      else ack();
      return;
    }
    case 'end': {
      const j = jobs.get(m.id);
      const blob = j?.blob;
      if (!blob) return void jobs.delete(m.id);
      // The job stays known (an abort may still come) until its writes have landed.
      blob.settled().then(() => {
        if (j.blob !== blob) return; // failed or aborted meanwhile, and reported so
        jobs.delete(m.id);
        blob.commit();
        j.blob = undefined;
        post({ op: 'stored', id: m.id });
        // Only now, with the blob digest matched, may the unpacker see the end of its stream.
        j.toLayer?.end();
      }).catch((e: unknown) => {
        if (j.blob !== blob) return;
        jobs.delete(m.id);
        fail(m.id, j, e);
      });
      return;
    }
    case 'abort': {
      const j = jobs.get(m.id);
      jobs.delete(m.id);
      if (j) fail(m.id, j, new Error(m.message));
      targets.get(m.id)?.reject(new Error(m.message));
      return;
    }
  }
});
