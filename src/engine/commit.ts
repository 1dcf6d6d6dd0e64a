// `commit`: a new image from a container = its image's layers + one layer packed
// from the container's overlay upper dir (whiteouts become OCI whiteouts), with a
// config derived from the image's and the container's settings, then --change.
import type { EngineContext } from './context.js';
import type { ContainerConfig } from './container-types.js';
import { invalidArgument, messageOf, notFound } from './errors.js';
import { withContainerLock } from './intents.js';
import { observe } from './lifecycle.js';
import { overlayDirs } from '../snapshot/overlay.js';
import { layerFromDirectory } from '../image/build-layer.js';
import { applyChanges } from '../image/changes.js';
import { pin, withPins } from '../image/gc.js';
import { withImageLock } from '../image/lock.js';
import { normalizeTagName } from '../image/store.js';
import { storeImage } from '../image/writer.js';
import { MEDIA, type Descriptor, type ImageConfig, type ImageRunConfig, type Manifest } from '../image/types.js';
import { log } from '../sys/log.js';

export interface CommitOptions {
  /** NAME[:TAG] for the new image; none leaves it untagged. */
  reference?: string;
  /** Dockerfile instructions applied to the config (CMD, ENV, …). */
  changes?: string[];
  message?: string;
  author?: string;
  /** Pause a running container while its changes are read (default true). */
  pause?: boolean;
  format?: 'oci' | 'docker';
}

export interface CommitResult { id: string; name?: string }

export async function commitContainer(ctx: EngineContext, ref: string, o: CommitOptions = {}): Promise<CommitResult> {
  const format = o.format ?? 'oci';
  if (format !== 'oci' && format !== 'docker') throw invalidArgument(`unsupported image format "${String(format)}": use oci or docker`);
  const name = o.reference ? normalizeTagName(o.reference) : undefined;
  const rec = ctx.containers.resolve(ref);
  const c = rec.config;
  const image = ctx.images.get(c.imageId);
  if (!image) throw notFound(`image ${c.imageId.slice(0, 12)} of container ${c.name} was removed; cannot commit on top of it`);
  const base = ctx.content.readJson<ImageConfig>(image.record.configDigest);
  const runConfig = applyChanges(containerRunConfig(base.config ?? {}, c), o.changes ?? []); // bad --change fails before any work
  const baseLayers: Descriptor[] = image.record.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size }));
  if (format === 'docker' && baseLayers.some((l) => l.mediaType === MEDIA.ociLayerZstd)) {
    throw invalidArgument(`image ${c.imageName} has zstd layers, which the docker format cannot describe: use --format oci`);
  }
  return withPins(ctx, async () => {
    // The base image could be removed (rmi -f) while we work: keep its blobs and layers.
    pin(ctx, image.record.configDigest, ...image.record.layers.flatMap((l) => [l.digest, l.chainId]));
    const layer = await withContainerLock(ctx, c.id, 'commit', async () => {
      const now = ctx.containers.get(c.id);
      if (!now) throw notFound(`container ${ref} was removed: no such container`);
      const running = observe(ctx, now).state === 'running' && (await ctx.runtime.state(c.id))?.status === 'running';
      const pause = running && o.pause !== false;
      if (pause) await ctx.runtime.pause(c.id);
      try {
        return await layerFromDirectory(ctx.content, overlayDirs(ctx.paths.container(c.id)).upper, {
          overlayWhiteouts: true, beforeCommit: (d) => pin(ctx, d),
        });
      } finally {
        if (pause) await ctx.runtime.resume(c.id).catch((e: unknown) => log.warn(`cannot resume container ${c.name}: ${messageOf(e)}`));
      }
    });
    const created = new Date().toISOString();
    const config: ImageConfig = {
      created,
      architecture: base.architecture,
      os: base.os,
      ...(base.variant ? { variant: base.variant } : {}),
      ...(o.author ?? base.author ? { author: o.author ?? base.author } : {}),
      config: runConfig,
      rootfs: { type: 'layers', diff_ids: [...(base.rootfs?.diff_ids ?? []), layer.diffId] },
      history: [
        ...(base.history ?? []),
        { created, created_by: c.args.join(' '), ...(o.author ? { author: o.author } : {}), ...(o.message ? { comment: o.message } : {}) },
      ],
    };
    const configBytes = Buffer.from(JSON.stringify(config));
    const layers = [...baseLayers, layer.descriptor].map((l) => (format === 'docker' ? { ...l, mediaType: dockerLayerType(l.mediaType) } : l));
    const record = await withImageLock(ctx, () => storeImage(ctx.content, ctx.images, ctx.layers, {
      configBytes, layers, names: name ? [name] : [],
      manifestBytes: format === 'docker' ? dockerManifest(ctx.content.put(configBytes), configBytes.length, layers) : undefined,
    }));
    ctx.events.record('container', 'commit', c.id, c.name, { image: name ?? record.id });
    return { id: record.id, name };
  });
}

/** The image config with the container's own settings (what `run` was given) applied. */
function containerRunConfig(img: ImageRunConfig, c: ContainerConfig): ImageRunConfig {
  const out: ImageRunConfig = { ...img, Env: c.env };
  if (c.entrypoint !== null) out.Entrypoint = c.entrypoint.length ? c.entrypoint : null;
  // A new entrypoint drops the image's CMD, as it did for the container.
  if (c.cmd !== null) out.Cmd = c.cmd;
  else if (c.entrypoint !== null) out.Cmd = null;
  if (c.workingDir && !(c.workingDir === '/' && !img.WorkingDir)) out.WorkingDir = c.workingDir;
  if (c.user) out.User = c.user;
  if (Object.keys(c.labels).length) out.Labels = c.labels;
  if (c.stopSignal && (img.StopSignal || c.stopSignal !== 'SIGTERM')) out.StopSignal = c.stopSignal;
  // Like Docker: --expose and -p ports become the new image's exposed ports.
  if (c.exposed?.length) out.ExposedPorts = { ...(img.ExposedPorts ?? {}), ...Object.fromEntries(c.exposed.map((k) => [k, {}])) };
  return out;
}

function dockerLayerType(t: string): string {
  if (t === MEDIA.ociLayerGzip || t === MEDIA.dockerLayerGzip) return MEDIA.dockerLayerGzip;
  if (t === MEDIA.ociLayer || t === MEDIA.dockerLayer) return MEDIA.dockerLayer;
  return t;
}

function dockerManifest(configDigest: string, configSize: number, layers: Descriptor[]): Buffer {
  const m: Manifest = {
    schemaVersion: 2,
    mediaType: MEDIA.dockerManifest,
    config: { mediaType: MEDIA.dockerConfig, digest: configDigest, size: configSize },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  return Buffer.from(JSON.stringify(m));
}
