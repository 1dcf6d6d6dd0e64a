// Unpacked layers: one read-only directory per chain ID, shared by every image
// that has the layer, used as an overlayfs lower directory.
import fs from 'node:fs';
import { createHash } from 'node:crypto';
import type { ContentStore } from '../content/store.js';
import type { ImageStore } from './store.js';
import type { Paths } from '../engine/config.js';
import { unpackLayer, sweepStaleTemps } from '../snapshot/unpack.js';
import { pidAlive } from '../sys/fsutil.js';

/** Chain IDs (hex, no prefix) for a list of diff IDs, per the OCI image spec. */
export function chainIds(diffIds: string[]): string[] {
  const out: string[] = [];
  let prev: string | undefined;
  for (const d of diffIds) {
    const chain: string = prev === undefined ? d : 'sha256:' + createHash('sha256').update(`${prev} ${d}`).digest('hex');
    out.push(chain.slice(7));
    prev = chain;
  }
  return out;
}

export interface LayerRef { digest: string; diffId: string; chainId: string; parent?: string }

export class LayerStore {
  private swept = false;
  constructor(private paths: Paths, private images: ImageStore, private content: ContentStore) {}

  /** Where the layer directories are. */
  get root(): string {
    return this.paths.layers;
  }

  dir(chainId: string): string {
    return this.paths.layer(chainId);
  }

  exists(chainId: string): boolean {
    return this.images.hasLayer(chainId) && fs.existsSync(this.dir(chainId));
  }

  /**
   * Unpacks the layer blob unless its directory exists; returns the uncompressed size.
   * `unpack` replaces unpacking from the content store (a pull unpacks while it
   * downloads); it is called synchronously, or not at all when there is nothing to do.
   */
  async ensure(layer: LayerRef, unpack?: (dest: string, diffId: string) => Promise<number>): Promise<number> {
    if (this.exists(layer.chainId)) return this.images.layerSize(layer.chainId);
    fs.mkdirSync(this.paths.layers, { recursive: true });
    if (!this.swept) {
      sweepStaleTemps(this.paths.layers);
      this.swept = true;
    }
    let size: number;
    if (fs.existsSync(this.dir(layer.chainId))) {
      // Unpacked by a process that died before recording it: the rename is atomic, so the dir is complete.
      size = dirSize(this.dir(layer.chainId));
    } else {
      size = unpack
        ? await unpack(this.dir(layer.chainId), layer.diffId)
        : (await unpackLayer(this.content.open(layer.digest), this.dir(layer.chainId), { expectedDiffId: layer.diffId })).size;
    }
    this.images.addLayer(layer.chainId, layer.diffId, layer.parent, size);
    return size;
  }

  remove(chainId: string): void {
    this.images.deleteLayer(chainId);
    // Rename first so a half-deleted directory is never mistaken for a complete layer.
    const doomed = `${this.dir(chainId)}.del-${process.pid}`;
    try {
      fs.renameSync(this.dir(chainId), doomed);
    } catch {
      return;
    }
    fs.rmSync(doomed, { recursive: true, force: true });
  }

  /** Removes directories from interrupted unpacks or deletions. */
  sweep(): void {
    sweepStaleTemps(this.paths.layers);
    for (const n of safeReaddir(this.paths.layers)) {
      const m = /\.del-(\d+)$/.exec(n);
      if (m && !pidAlive(Number(m[1]))) fs.rmSync(`${this.paths.layers}/${n}`, { recursive: true, force: true });
    }
  }
}

function safeReaddir(dir: string): string[] {
  try { return fs.readdirSync(dir); } catch { return []; }
}

function dirSize(dir: string): number {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) total += fs.lstatSync(`${e.parentPath ?? (e as unknown as { path: string }).path}/${e.name}`).size;
  }
  return total;
}
