// `berth push`: uploads an image's blobs (skipping those the registry has,
// mounting those another repository of the same registry has), then its
// manifest, in the format it was stored in unless --format asks to convert.
import { Transform } from 'node:stream';
import type { EngineContext } from '../engine/context.js';
import { BerthError, corrupt, invalidArgument, notFound } from '../engine/errors.js';
import { sha256 } from '../content/store.js';
import { pin } from '../image/gc.js';
import { withImageLock } from '../image/lock.js';
import { fullName, parseReference, repository, shortNameCandidates, type Reference } from '../image/reference.js';
import type { ImageRow } from '../image/store.js';
import type { Descriptor, Manifest } from '../image/types.js';
import { RegistryClient } from './client.js';
import { lookupCredentials } from './credentials.js';
import { convertManifest, formatOf, type ManifestFormat } from './manifest.js';
import { ByteProgress, shortId, statusMessage, type ProgressCallback } from './progress.js';
import { stripTransport } from './pull.js';
import { hostSettings, parseCreds, type RegistryOptions } from './settings.js';

export interface PushOptions extends RegistryOptions {
  /** Manifest format to push: as stored by default. */
  format?: ManifestFormat;
}

export interface PushResult { name: string; digest: string; size: number }

/** The stored name `source` refers to, to push to when no destination is given. */
function defaultDestination(row: ImageRow, source: string): string | undefined {
  if (row.names.includes(source)) return source;
  try {
    const hit = shortNameCandidates(source).find((c) => row.names.includes(c));
    if (hit) return hit;
  } catch { /* an ID */ }
  return row.names.find((n) => n.endsWith('/' + source) || n.endsWith('/' + source + ':latest'));
}

export async function pushImage(ctx: EngineContext, source: string, dest: string | undefined, o: PushOptions, progress?: ProgressCallback): Promise<PushResult> {
  if (o.format !== undefined && o.format !== 'oci' && o.format !== 'v2s2') throw invalidArgument(`unsupported manifest format "${String(o.format)}": use oci or v2s2`);
  const row = ctx.images.resolve(source);
  const target = dest ? stripTransport(dest) : defaultDestination(row, source);
  if (!target) throw invalidArgument(`image ${source} has no name to push to: give a destination, e.g. berth push ${source} registry.example:5000/name:tag`);
  const ref = parseReference(target);
  if (ref.digest) throw invalidArgument(`cannot push to a digest reference "${target}": give REGISTRY/NAME[:TAG]`);
  const tag = ref.tag ?? 'latest';
  const rec = row.record;
  const stored = ctx.content.read(rec.manifestDigest);
  const what = `image ${row.names[0] ?? rec.id.slice(0, 12)}`;
  const { bytes, mediaType } = convertManifest(stored, o.format ?? formatOf(rec.manifestMediaType), what);
  const manifest = JSON.parse(bytes.toString('utf8')) as Manifest;
  const blobs: Descriptor[] = [...manifest.layers, manifest.config];
  // The image could be removed while we push: keep its blobs.
  pin(ctx, rec.manifestDigest, ...blobs.map((b) => b.digest));
  for (const b of blobs) {
    if (!ctx.content.has(b.digest)) throw notFound(`blob ${b.digest} of ${what} is missing from the content store; remove and pull or load the image again`);
  }
  const creds = parseCreds(o.creds) ?? lookupCredentials(ref.domain, ref.path, o.authfile);
  const client = new RegistryClient(hostSettings(ctx.cfg, ref.domain, o), creds, true);
  try {
    progress?.(statusMessage(`The push refers to repository [${repository(ref)}]`));
    await client.ping();
    const mountFrom = mountSources(ctx, ref);
    await pushBlobs(ctx, client, ref.path, blobs, manifest.config.digest, mountFrom, progress);
    const digest = sha256(bytes);
    const answered = await client.putManifest(ref.path, tag, bytes, mediaType);
    if (answered && answered.startsWith('sha256:') && answered !== digest) {
      throw corrupt(`registry ${ref.domain} stored the manifest of ${fullName(ref)} under ${answered}, not ${digest}: it altered the manifest`);
    }
    progress?.(statusMessage(`${tag}: digest: ${digest} size: ${bytes.length}`));
    progress?.({ progressDetail: {}, aux: { Tag: tag, Digest: digest, Size: bytes.length } });
    // Remember where the image now is: inspect shows it, and later pushes can mount from it.
    await withImageLock(ctx, () => {
      const now = ctx.images.get(rec.id);
      if (!now) return;
      const rd = `${repository(ref)}@${digest}`;
      if (now.record.repoDigests?.includes(rd)) return;
      ctx.images.add({ ...now.record, repoDigests: [...(now.record.repoDigests ?? []), rd] }, []);
    });
    ctx.events.record('image', 'push', rec.id, fullName(ref));
    return { name: fullName(ref), digest, size: bytes.length };
  } finally {
    client.close();
  }
}

/** For each blob, the other repositories of the destination registry that have it (from recorded repo digests). */
function mountSources(ctx: EngineContext, dest: Reference): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const prefix = dest.domain + '/';
  for (const { record } of ctx.images.list()) {
    const repos = (record.repoDigests ?? []).map((d) => d.slice(0, d.indexOf('@')))
      .filter((r) => r.startsWith(prefix) && r !== repository(dest)).map((r) => r.slice(prefix.length));
    if (!repos.length) continue;
    for (const d of [record.configDigest, ...record.layers.map((l) => l.digest)]) {
      const list = out.get(d) ?? [];
      for (const r of repos) if (!list.includes(r)) list.push(r);
      out.set(d, list);
    }
  }
  return out;
}

async function pushBlobs(ctx: EngineContext, client: RegistryClient, repo: string, blobs: Descriptor[], configDigest: string, mountFrom: Map<string, string[]>, progress?: ProgressCallback): Promise<void> {
  const unique = blobs.filter((b, i) => blobs.findIndex((x) => x.digest === b.digest) === i);
  const limit = Math.max(1, ctx.cfg.parallelDownloads);
  for (const b of unique) if (b.digest !== configDigest) progress?.(statusMessage('Preparing', shortId(b.digest)));
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (next < unique.length && failure === undefined) {
      const b = unique[next++]!;
      const show = b.digest === configDigest ? undefined : progress;
      try {
        await pushBlob(ctx, client, repo, b, mountFrom.get(b.digest) ?? [], show);
      } catch (e) {
        failure ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, unique.length) }, worker));
  if (failure !== undefined) throw failure;
}

async function pushBlob(ctx: EngineContext, client: RegistryClient, repo: string, b: Descriptor, from: string[], progress?: ProgressCallback): Promise<void> {
  const id = shortId(b.digest);
  if (await client.hasBlob(repo, b.digest)) {
    progress?.(statusMessage('Layer already exists', id));
    return;
  }
  let location: string | undefined;
  for (const f of from.slice(0, 3)) {
    const r = await client.mountBlob(repo, b.digest, f);
    if (r === true) {
      progress?.(statusMessage(`Mounted from ${f}`, id));
      return;
    }
    location = r;
    break; // the registry opened an upload instead: use it
  }
  const size = ctx.content.size(b.digest);
  if (size !== b.size) throw corrupt(`blob ${b.digest} is ${size} bytes in the content store, but the manifest says ${b.size}: the image store is damaged`);
  const meter = new ByteProgress(progress, id, 'Pushing', size);
  const open = () => {
    let n = 0;
    const count = new Transform({ transform(chunk: Buffer, _e, cb) { n += chunk.length; meter.update(n); cb(null, chunk); } });
    const src = ctx.content.open(b.digest);
    src.on('error', (e) => count.destroy(e));
    return src.pipe(count);
  };
  try {
    await client.putBlob(repo, location ?? await client.startUpload(repo), b.digest, size, open);
  } catch (e) {
    // An upload session can expire or break; one fresh session before giving up.
    if (!(e instanceof BerthError) || e.kind === 'invalid-argument' || e.kind === 'corrupt') throw e;
    await client.putBlob(repo, await client.startUpload(repo), b.digest, size, open);
  }
  meter.update(size, true);
  progress?.(statusMessage('Pushed', id));
}
