// Commits an image whose blobs are in the content store: verifies and unpacks
// its layers, writes the manifest if needed and records the image.
import type { ContentStore } from '../content/store.js';
import type { ImageStore } from './store.js';
import type { LayerStore } from './layers.js';
import { chainIds } from './layers.js';
import { MEDIA, type Descriptor, type ImageConfig, type ImageRecord, type Manifest } from './types.js';
import { corrupt } from '../engine/errors.js';

export interface NewImage {
  configBytes: Buffer;
  layers: Descriptor[];             // layer blobs, bottom first, already in the content store
  names: string[];
  manifestBytes?: Buffer;           // keep the original manifest (and its digest) when there is one
  repoDigests?: string[];
}

export async function storeImage(content: ContentStore, images: ImageStore, layers: LayerStore, img: NewImage): Promise<ImageRecord> {
  const configDigest = content.put(img.configBytes);
  let config: ImageConfig;
  try {
    config = JSON.parse(img.configBytes.toString('utf8')) as ImageConfig;
  } catch {
    throw corrupt(`image config ${configDigest} is not valid JSON`);
  }
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (!Array.isArray(diffIds) || diffIds.length !== img.layers.length) {
    throw corrupt(`image config lists ${diffIds.length} layers but the manifest has ${img.layers.length}`);
  }
  const chains = chainIds(diffIds);
  let size = 0;
  const layerInfo: ImageRecord['layers'] = [];
  for (let i = 0; i < img.layers.length; i++) {
    const l = img.layers[i]!;
    size += await layers.ensure({ digest: l.digest, diffId: diffIds[i]!, chainId: chains[i]!, parent: chains[i - 1] });
    layerInfo.push({ digest: l.digest, mediaType: l.mediaType, size: l.size, diffId: diffIds[i]!, chainId: chains[i]! });
  }
  let manifestBytes = img.manifestBytes;
  let manifestMediaType = MEDIA.ociManifest as string;
  if (manifestBytes) {
    manifestMediaType = (JSON.parse(manifestBytes.toString('utf8')) as Manifest).mediaType ?? MEDIA.ociManifest;
  } else {
    const manifest: Manifest = {
      schemaVersion: 2,
      mediaType: MEDIA.ociManifest,
      config: { mediaType: MEDIA.ociConfig, digest: configDigest, size: img.configBytes.length },
      layers: img.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    };
    manifestBytes = Buffer.from(JSON.stringify(manifest));
  }
  const manifestDigest = content.put(manifestBytes);
  const record: ImageRecord = {
    id: configDigest.slice(7),
    manifestDigest,
    manifestMediaType,
    configDigest,
    layers: layerInfo,
    created: Date.parse(config.created ?? '') || Date.now(),
    size,
  };
  if (img.repoDigests?.length) record.repoDigests = img.repoDigests;
  images.add(record, img.names);
  return record;
}
