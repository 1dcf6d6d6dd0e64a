// `berth save`: writes images as a docker-archive (what `docker load` and
// `podman load` read: manifest.json, repositories, <id>.json configs and
// uncompressed <diffid>/layer.tar layers) or an oci-archive (oci-layout,
// index.json, blobs/sha256/* exactly as stored). Streams; never holds a layer in memory.
//
// Layer sizes in docker-archives: a tar entry needs its size before its data.
// Uncompressed blobs use their blob size. For compressed blobs we trust the
// uncompressed size the layer DB recorded when the layer was unpacked (it is the
// byte count of the decompressed stream) and decompress only once while writing;
// the bytes are counted and hashed on the way and must match that size and the
// diff ID, else the save fails (the caller discards the partial output). Only when
// no plausible size is recorded (0 or not a multiple of 512, e.g. after crash
// recovery measured the directory instead) do we first decompress once just to
// count. This avoids both a temp copy and a second decompression in the normal case.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { once } from 'node:events';
import { Readable, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import type { EngineContext } from '../engine/context.js';
import { corrupt, invalidArgument, notFound } from '../engine/errors.js';
import { decompressStream, detectCompression } from '../snapshot/compression.js';
import type { ImageRow } from './store.js';
import { fullName, parseReference, shortNameCandidates, splitName } from './reference.js';
import { MEDIA, type Descriptor, type ImageIndex, type ImageRecord } from './types.js';

export type ArchiveFormat = 'docker-archive' | 'oci-archive';

const MTIME = new Date(0);
const REF_NAME = 'org.opencontainers.image.ref.name';
const CONTAINERD_NAME = 'io.containerd.image.name';

interface SaveItem { record: ImageRecord; names: string[] }

/**
 * Writes `refs` to `out` as one archive. All refs are resolved (and their blobs
 * checked) before the first byte is written. `out` is not ended: the caller
 * closes it (a file) or leaves it open (stdout); the promise resolves once every
 * byte was handed to `out` and its write callbacks fired.
 */
export async function saveArchive(ctx: EngineContext, refs: string[], format: ArchiveFormat, out: Writable | NodeJS.WritableStream): Promise<void> {
  if (format !== 'docker-archive' && format !== 'oci-archive') {
    throw invalidArgument(`unsupported archive format "${String(format)}": use docker-archive or oci-archive`);
  }
  if (!refs.length) throw invalidArgument('give at least one image to save');
  const items = new Map<string, SaveItem>();
  for (const ref of refs) {
    const row = ctx.images.resolve(ref);
    let item = items.get(row.record.id);
    if (!item) items.set(row.record.id, (item = { record: row.record, names: [] }));
    for (const n of namesFor(ref, row)) if (!item.names.includes(n)) item.names.push(n);
  }
  for (const { record } of items.values()) {
    for (const d of [record.manifestDigest, record.configDigest, ...record.layers.map((l) => l.digest)]) {
      if (!ctx.content.has(d)) throw notFound(`blob ${d} of image ${record.id.slice(0, 12)} is missing from the content store; remove and re-pull or re-load the image`);
    }
  }
  const pack = tar.pack();
  let outError: unknown;
  const pumped = pump(pack, out as Writable).catch((e: unknown) => { outError = e; pack.destroy(e as Error); });
  try {
    if (format === 'docker-archive') await writeDocker(ctx, [...items.values()], pack);
    else await writeOci(ctx, [...items.values()], pack);
    pack.finalize();
    await pumped;
  } catch (e) {
    // An output failure destroys the pack first, and is then the cause; otherwise
    // destroying the pack below makes the pump fail too, which is not the cause.
    const cause = outError ?? e;
    pack.destroy();
    await pumped;
    throw cause;
  }
  if (outError) throw outError;
}

/** The stored name `ref` resolved to, if it was given as a name (not an ID or digest). */
function namesFor(ref: string, row: ImageRow): string[] {
  if (row.names.includes(ref)) return [ref];
  let parsed;
  let candidates: string[];
  try {
    parsed = parseReference(ref);
    candidates = shortNameCandidates(ref);
  } catch {
    return [];
  }
  if (parsed.digest) return [];
  const hit = candidates.find((c) => row.names.includes(c));
  if (hit) return [hit];
  if (parsed.short) {
    const suffix = '/' + fullName(parsed).replace(/^docker\.io\/library\//, '');
    const bySuffix = row.names.find((n) => n.endsWith(suffix));
    if (bySuffix) return [bySuffix];
  }
  return [];
}

async function pump(pack: tar.Pack, out: Writable): Promise<void> {
  for await (const chunk of pack) {
    if (!out.write(chunk)) await drained(out);
  }
  await new Promise<void>((resolve, reject) => {
    out.write(Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
  });
}

/** Resolves on 'drain'; rejects when `out` closes or fails first (a client that went away emits only 'close'). */
function drained(out: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    const settle = (err?: Error): void => {
      out.off('drain', onDrain);
      out.off('close', onClose);
      out.off('error', settle);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = (): void => settle();
    const onClose = (): void => settle(new Error('the archive\'s reader went away before the end'));
    if (out.destroyed) return onClose();
    out.on('drain', onDrain);
    out.on('close', onClose);
    out.on('error', settle);
  });
}

function addBuffer(pack: tar.Pack, name: string, data: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry({ name, size: data.length, mode: 0o644, mtime: MTIME, type: 'file' }, data, (err) => (err ? reject(err) : resolve()));
  });
}

async function addStream(pack: tar.Pack, name: string, size: number, src: Readable): Promise<void> {
  let sink!: NodeJS.WritableStream;
  const done = new Promise<void>((resolve, reject) => {
    sink = pack.entry({ name, size, mode: 0o644, mtime: MTIME, type: 'file' }, (err) => (err ? reject(err) : resolve()));
  });
  done.catch(() => undefined);
  await pipeline(src, sink);
  await done;
}

function through(src: Readable, t: Transform): Readable {
  src.on('error', (e) => t.destroy(e));
  t.on('close', () => src.destroy());
  return src.pipe(t);
}

/** Passes bytes through, failing unless they total `size` and hash to `digest`. */
function verifier(size: number, digest: string, what: string): Transform {
  const hash = createHash('sha256');
  let n = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      if (n > size) return cb(corrupt(`${what} has more than the ${size} bytes recorded for it; the image store is damaged`));
      hash.update(chunk);
      cb(null, chunk);
    },
    flush(cb) {
      if (n !== size) return cb(corrupt(`${what} has ${n} bytes, not the ${size} recorded for it; the image store is damaged`));
      const got = 'sha256:' + hash.digest('hex');
      if (got !== digest) return cb(corrupt(`${what} hashes to ${got}, expected ${digest}; the image store is damaged`));
      cb();
    },
  });
}

function compressionOf(ctx: EngineContext, digest: string): ReturnType<typeof detectCompression> {
  const head = Buffer.alloc(4);
  const fd = fs.openSync(ctx.content.blobPath(digest), 'r');
  let n = 0;
  try { n = fs.readSync(fd, head, 0, 4, 0); } finally { fs.closeSync(fd); }
  return detectCompression(head.subarray(0, n));
}

/** A blob as stored, verified against its digest on the way out. */
function storedBlob(ctx: EngineContext, digest: string): { size: number; stream: () => Readable } {
  const size = ctx.content.size(digest);
  return { size, stream: () => through(ctx.content.open(digest), verifier(size, digest, `blob ${digest}`)) };
}

// ---------- docker-archive ----------

async function uncompressedLayer(ctx: EngineContext, layer: ImageRecord['layers'][number]): Promise<{ size: number; stream: () => Promise<Readable> }> {
  if (compressionOf(ctx, layer.digest) === 'none') {
    const size = ctx.content.size(layer.digest);
    return { size, stream: async () => through(ctx.content.open(layer.digest), verifier(size, layer.diffId, `layer ${layer.digest}`)) };
  }
  let size = ctx.images.layerSize(layer.chainId);
  if (size <= 0 || size % 512 !== 0) {
    size = 0;
    for await (const c of await decompressStream(ctx.content.open(layer.digest))) size += (c as Buffer).length;
  }
  return {
    size,
    stream: async () => through(await decompressStream(ctx.content.open(layer.digest)), verifier(size, layer.diffId, `layer ${layer.digest} (uncompressed)`)),
  };
}

async function writeDocker(ctx: EngineContext, items: SaveItem[], pack: tar.Pack): Promise<void> {
  const manifest: { Config: string; RepoTags: string[]; Layers: string[] }[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  for (const { record, names } of items) {
    const layers = record.layers.map((l) => `${l.diffId.slice(7)}/layer.tar`);
    manifest.push({ Config: `${record.id}.json`, RepoTags: names, Layers: layers });
    const top = record.layers.at(-1)?.diffId.slice(7);
    for (const n of names) {
      const { repository, tag } = splitName(n);
      if (top && tag !== '<none>') (repositories[repository] ??= {})[tag] = top;
    }
  }
  await addBuffer(pack, 'manifest.json', Buffer.from(JSON.stringify(manifest)));
  await addBuffer(pack, 'repositories', Buffer.from(JSON.stringify(repositories)));
  const written = new Set<string>();
  for (const { record } of items) {
    // Byte-identical config, so the image ID survives the round trip.
    await addBuffer(pack, `${record.id}.json`, ctx.content.read(record.configDigest));
    for (const l of record.layers) {
      const dir = l.diffId.slice(7);
      if (written.has(dir)) continue;
      written.add(dir);
      const layer = await uncompressedLayer(ctx, l);
      await addStream(pack, `${dir}/layer.tar`, layer.size, await layer.stream());
    }
  }
}

// ---------- oci-archive ----------

async function writeOci(ctx: EngineContext, items: SaveItem[], pack: tar.Pack): Promise<void> {
  const index: ImageIndex = { schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: [] };
  for (const { record, names } of items) {
    const base: Descriptor = { mediaType: record.manifestMediaType, digest: record.manifestDigest, size: ctx.content.size(record.manifestDigest) };
    if (!names.length) index.manifests.push(base);
    for (const n of names) index.manifests.push({ ...base, annotations: { [CONTAINERD_NAME]: n, [REF_NAME]: n } });
  }
  await addBuffer(pack, 'oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}'));
  await addBuffer(pack, 'index.json', Buffer.from(JSON.stringify(index)));
  const written = new Set<string>();
  for (const { record } of items) {
    for (const d of [record.manifestDigest, record.configDigest, ...record.layers.map((l) => l.digest)]) {
      if (written.has(d)) continue;
      written.add(d);
      const blob = storedBlob(ctx, d);
      await addStream(pack, `blobs/sha256/${d.slice(7)}`, blob.size, blob.stream());
    }
  }
}
