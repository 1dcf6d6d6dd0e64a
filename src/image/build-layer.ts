// Packs a directory into a compressed layer blob in the content store and
// returns its descriptor and diff ID (the digest of the uncompressed tar).
import { Transform } from 'node:stream';
import { createHash } from 'node:crypto';
import type { ContentStore } from '../content/store.js';
import { packDirectory } from '../snapshot/pack.js';
import { compressStream } from '../snapshot/compression.js';
import { MEDIA, type Descriptor } from './types.js';

export interface BuiltLayer { descriptor: Descriptor; diffId: string; size: number }

/** `beforeCommit` runs with the blob's digest before it becomes visible (to pin it against a concurrent GC). */
export async function layerFromDirectory(content: ContentStore, dir: string, opts: { overlayWhiteouts: boolean; beforeCommit?: (digest: string) => void }): Promise<BuiltLayer> {
  const hash = createHash('sha256');
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _e, cb) { hash.update(chunk); size += chunk.length; cb(null, chunk); },
  });
  const tar = packDirectory(dir, { overlayWhiteouts: opts.overlayWhiteouts });
  tar.on('error', (e) => meter.destroy(e));
  const gz = await compressStream('gzip', tar.pipe(meter));
  const res = await content.ingest(gz, undefined, { beforeCommit: opts.beforeCommit });
  return {
    descriptor: { mediaType: MEDIA.ociLayerGzip, digest: res.digest, size: res.size },
    diffId: 'sha256:' + hash.digest('hex'),
    size,
  };
}
