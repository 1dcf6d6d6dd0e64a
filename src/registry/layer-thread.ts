// The body of a layer worker thread (built into dist/layer-worker.cjs; the
// pull side is layer-workers.ts). It takes the bytes of layer blobs as they
// arrive and does the work that costs CPU per byte: the blob goes into the
// content store (hashed, verified, renamed into place) and, when asked, the
// same bytes are gunzipped, hashed and unpacked by unpackLayer. These are the
// same functions an in-process unpack uses; the thread only feeds them. The
// unpacker sees the end of its stream only after the blob digest matched.
import { PassThrough } from 'node:stream';
import { parentPort } from 'node:worker_threads';
import { ContentStore } from '../content/store.js';
import { BerthError, messageOf } from '../engine/errors.js';
import { unpackLayer } from '../snapshot/unpack.js';
import type { FromPull, ToPull, WireError } from './layer-workers.js';

const HWM = 1 << 20;

interface Job {
  toStore: PassThrough;
  stored: Promise<unknown>;
  toLayer?: PassThrough;
}

const jobs = new Map<number, Job>();
const port = parentPort!;
const post = (m: ToPull) => port.postMessage(m);

function wire(e: unknown): WireError {
  return e instanceof BerthError ? { kind: e.kind, message: e.message } : { message: messageOf(e) };
}

/** Reports how `p` ends as message `op`; returns a promise that never rejects. */
function report(p: Promise<unknown>, id: number, op: 'stored' | 'unpacked'): Promise<unknown> {
  return p.then(
    (r) => post(op === 'stored' ? { op, id } : { op, id, size: (r as { size: number }).size }),
    (e: unknown) => post({ op, id, error: wire(e) }),
  );
}

async function finish(j: Job): Promise<void> {
  j.toStore.end();
  try {
    await j.stored;
  } catch (e) {
    j.toLayer?.destroy(e instanceof Error ? e : new Error(messageOf(e)));
    return;
  }
  j.toLayer?.end();
}

port.on('message', (m: FromPull) => {
  switch (m.op) {
    case 'blob': {
      const toStore = new PassThrough({ highWaterMark: HWM });
      const stored = new ContentStore(m.root).ingest(toStore, m.digest);
      jobs.set(m.id, { toStore, stored });
      void report(stored, m.id, 'stored');
      return;
    }
    case 'unpack': {
      const j = jobs.get(m.id)!;
      j.toLayer = new PassThrough({ highWaterMark: HWM });
      void report(unpackLayer(j.toLayer, m.dest, { expectedDiffId: m.diffId }), m.id, 'unpacked');
      return;
    }
    case 'data': {
      const j = jobs.get(m.id);
      if (!j) return; // aborted
      const chunk = Buffer.from(m.buf, 0, m.len);
      // The ack frees the sender's budget once every consumer has taken the chunk.
      let waiting = j.toLayer ? 2 : 1;
      const taken = () => { if (--waiting === 0) post({ op: 'ack', id: m.id, bytes: m.len }); };
      j.toStore.write(chunk, taken);
      j.toLayer?.write(chunk, taken);
      return;
    }
    case 'end': {
      const j = jobs.get(m.id);
      jobs.delete(m.id);
      if (j) void finish(j);
      return;
    }
    case 'abort': {
      const j = jobs.get(m.id);
      jobs.delete(m.id);
      const err = new Error(m.message);
      j?.toStore.destroy(err);
      j?.toLayer?.destroy(err);
      return;
    }
  }
});
