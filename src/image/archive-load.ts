// `berth load`: reads a docker-archive (`docker save` / `podman save`, legacy
// layout or Docker >= 25 with an embedded OCI layout) or an oci-archive from one
// stream (plain, gzip or zstd). HOSTILE input.
//
// Pass 1 streams the tar once: every regular file except the small top-level
// metadata (manifest.json, index.json, oci-layout, repositories: buffered, capped)
// is ingested into the content store and remembered as path -> digest;
// `blobs/sha256/<hex>` must hash to its name. Pass 2 resolves the images from the
// metadata and checks everything (configs, layer counts, referenced files).
// Pass 3 unpacks the layers (pinned, so GC keeps them) and only then records the
// images, so a broken archive never leaves a visible image behind.
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import type { EngineContext } from '../engine/context.js';
import { BerthError, corrupt, isBerthError, messageOf, notFound } from '../engine/errors.js';
import { DIGEST_RE } from '../content/store.js';
import { decompressStream, detectCompression } from '../snapshot/compression.js';
import { pin } from './gc.js';
import { withImageLock } from './lock.js';
import { chainIds } from './layers.js';
import { MAX_LAYER_BYTES } from '../snapshot/unpack.js';
import { fullName, parseReference } from './reference.js';
import { storeImage } from './writer.js';
import { MEDIA, goArch, type Descriptor } from './types.js';

export interface LoadResult {
  names: string[];     // every name given to a loaded image (full names)
  ids: string[];       // IDs of all loaded images, in archive order
  namedIds: string[];  // the IDs among `ids` that got at least one name
}

const MAX_META = 8 * 1024 * 1024;
const META_FILES = new Set(['manifest.json', 'index.json', 'oci-layout', 'repositories']);
const BLOB_PATH = /^blobs\/sha256\/([a-f0-9]{64})$/;
const REF_NAME = 'org.opencontainers.image.ref.name';
const CONTAINERD_NAME = 'io.containerd.image.name';

interface FileInfo { digest: string; size: number }
interface Scan {
  files: Map<string, FileInfo>;     // archive path -> ingested blob
  links: Map<string, string>;       // archive path -> path it links to
  meta: Map<string, Buffer>;        // top-level metadata files
  entries: number;
  bytes: number;
}
interface Pending {
  configBytes: Buffer;
  configDigest: string;
  diffIds: string[];
  layers: Descriptor[];
  names: string[];
  manifestBytes?: Buffer;
}

type TarEntry = tar.Extract extends AsyncIterable<infer S> ? S : never;

const q = (s: string) => JSON.stringify(s);
const bad = (msg: string) => corrupt(`not a docker-archive or oci-archive: ${msg}`);

export async function loadArchive(ctx: EngineContext, source: Readable): Promise<LoadResult> {
  const scan = await readArchive(ctx, source);
  const images = resolveImages(ctx, scan);
  return commit(ctx, images);
}

// ---------- pass 1: stream the tar ----------

async function readArchive(ctx: EngineContext, source: Readable): Promise<Scan> {
  const scan: Scan = { files: new Map(), links: new Map(), meta: new Map(), entries: 0, bytes: 0 };
  let plain: Readable | undefined;
  const extract = tar.extract();
  try {
    plain = await decompressStream(source);
    plain.on('data', (c: Buffer) => { scan.bytes += c.length; });
    plain.on('error', (e) => extract.destroy(e));
    plain.pipe(extract as unknown as NodeJS.WritableStream);
    for await (const entry of extract) {
      scan.entries++;
      await readEntry(ctx, scan, entry);
    }
  } catch (e) {
    plain?.destroy();
    source.destroy();
    extract.destroy();
    throw readError(e, scan);
  }
  if (scan.bytes === 0) throw bad('the input is empty');
  if (scan.entries === 0) throw bad('the archive has no files');
  if (!scan.meta.has('manifest.json') && !scan.meta.has('index.json')) {
    throw bad('it has neither manifest.json (docker-archive) nor index.json (oci-archive)');
  }
  return scan;
}

function readError(e: unknown, scan: Scan): unknown {
  if (isBerthError(e)) {
    if (e.kind !== 'corrupt' || e.message.startsWith('not a docker-archive') || e.message.startsWith('archive blob')) return e;
    return bad(e.message.replace(/\blayer\b/, 'archive'));
  }
  const msg = /invalid tar header/i.test(messageOf(e)) ? 'invalid tar header' : messageOf(e);
  if ((e as NodeJS.ErrnoException).code && !/premature close/i.test(msg)) return e; // ENOSPC and friends
  if (scan.entries === 0) return bad(/end of data/i.test(msg) && scan.bytes < 512 ? 'the input is not a tar archive (too short)' : `the input is not a tar archive (${msg})`);
  if (/end of data|premature close/i.test(msg)) return bad('truncated archive (unexpected end of data)');
  return bad(`broken tar data: ${msg}`);
}

/** An entry name as a clean relative path; refuses absolute paths and "..". */
function cleanPath(raw: string, what = 'entry'): string {
  if (raw.startsWith('/')) throw bad(`${what} ${q(raw)} has an absolute path`);
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw bad(`${what} ${q(raw)} points outside the archive ("..")`);
  return parts.join('/');
}

async function readEntry(ctx: EngineContext, scan: Scan, entry: TarEntry): Promise<void> {
  const h = entry.header;
  const name = cleanPath(h.name);
  if (h.type === 'symlink' || h.type === 'link') {
    scan.files.delete(name);
    const target = h.linkname ?? '';
    if (h.type === 'link') scan.links.set(name, cleanPath(target, `hard link ${q(h.name)} to`));
    else if (target.startsWith('/')) throw bad(`symlink ${q(h.name)} has an absolute target ${q(target)}`);
    else scan.links.set(name, cleanPath(path.posix.join(path.posix.dirname(name), target), `symlink ${q(h.name)} to`));
  }
  if ((h.type !== 'file' && h.type !== 'contiguous-file') || !name) {
    for await (const _ of entry) { /* skip directories and other entry types */ }
    return;
  }
  if (META_FILES.has(name)) {
    if ((h.size ?? 0) > MAX_META) throw bad(`${name} is larger than ${MAX_META} bytes`);
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    scan.meta.set(name, Buffer.concat(chunks));
    scan.links.delete(name);
    return;
  }
  const m = BLOB_PATH.exec(name);
  const expected = m ? `sha256:${m[1]}` : undefined;
  try {
    const r = await ctx.content.ingest(Readable.from(entry), expected, { maxBytes: MAX_LAYER_BYTES, beforeCommit: (d) => pin(ctx, d) });
    scan.files.set(name, { digest: r.digest, size: r.size });
    scan.links.delete(name);
  } catch (e) {
    if (expected && isBerthError(e, 'corrupt') && /digest mismatch/.test(e.message)) {
      throw corrupt(`archive blob ${name} does not match its digest ${expected}`);
    }
    throw e;
  }
}

/** The blob behind an archive path, following (hard or symbolic) links. */
function lookup(scan: Scan, p: string): FileInfo | undefined {
  let cur = p;
  for (let hops = 0; hops < 16; hops++) {
    const f = scan.files.get(cur);
    if (f) return f;
    const next = scan.links.get(cur);
    if (next === undefined) return undefined;
    cur = next;
  }
  return undefined;
}

const blobOf = (scan: Scan, digest: string) => lookup(scan, `blobs/sha256/${digest.slice(7)}`);

// ---------- pass 2: resolve and check the images ----------

function resolveImages(ctx: EngineContext, scan: Scan): Pending[] {
  const docker = scan.meta.has('manifest.json');
  let oci: Pending[] = [];
  try {
    if (scan.meta.has('index.json')) oci = ociImages(ctx, scan, !docker);
  } catch (e) {
    if (!docker) throw e; // with manifest.json, the OCI layout is only a bonus
  }
  const all = docker ? dockerImages(ctx, scan, oci) : oci;
  if (!all.length) throw bad('the archive lists no images');
  // The same image listed twice (e.g. under two tags) is loaded once.
  const byConfig = new Map<string, Pending>();
  for (const p of all) {
    const seen = byConfig.get(p.configDigest);
    if (seen) seen.names.push(...p.names.filter((n) => !seen.names.includes(n)));
    else byConfig.set(p.configDigest, p);
  }
  return [...byConfig.values()];
}

function parseJson<T>(buf: Buffer, what: string): T {
  try {
    return JSON.parse(buf.toString('utf8')) as T;
  } catch {
    throw bad(`${what} is not valid JSON`);
  }
}

function readSmallBlob(ctx: EngineContext, f: FileInfo, what: string): Buffer {
  if (f.size > MAX_META) throw bad(`${what} is larger than ${MAX_META} bytes`);
  return ctx.content.read(f.digest);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkDescriptor(d: unknown, where: string): Descriptor {
  if (!isObject(d) || typeof d.digest !== 'string' || !DIGEST_RE.test(d.digest) || typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) {
    throw bad(`${where} has a malformed descriptor (needs a sha256 digest and a size)`);
  }
  return d as unknown as Descriptor;
}

/** The descriptor's blob, which must be in the archive with the size the descriptor gives. */
function archiveBlob(scan: Scan, d: Descriptor, what: string): FileInfo {
  const f = blobOf(scan, d.digest);
  if (!f) throw bad(`${what} ${d.digest} is not in the archive`);
  if (f.size !== d.size) throw bad(`${what} ${d.digest} has ${f.size} bytes but its descriptor says ${d.size}`);
  return f;
}

/** Parses a config and checks its diff IDs against the layer count. */
function checkConfig(buf: Buffer, what: string, layerCount: number, layersWhere: string): string[] {
  const cfg = parseJson<unknown>(buf, what);
  const rootfs = isObject(cfg) ? cfg.rootfs : undefined;
  const diffIds = isObject(rootfs) ? rootfs.diff_ids : undefined;
  if (!Array.isArray(diffIds) || diffIds.some((d) => typeof d !== 'string' || !DIGEST_RE.test(d))) {
    throw bad(`${what} has no valid rootfs.diff_ids`);
  }
  if (diffIds.length !== layerCount) {
    throw bad(`${what} lists ${diffIds.length} layers but ${layersWhere} has ${layerCount}`);
  }
  return diffIds as string[];
}

function normalizeName(n: unknown, where: string): string | undefined {
  if (typeof n !== 'string') throw bad(`${where} has an image name that is not a string`);
  let r;
  try {
    r = parseReference(n);
  } catch {
    throw bad(`${where} has an invalid image name ${q(n)}`);
  }
  return r.digest ? undefined : fullName(r);
}

/** Names from index annotations: the containerd name, else ref.name if it is a name (not just a tag). */
function ociNames(a: unknown, where: string): string[] {
  if (!isObject(a)) return [];
  const c = a[CONTAINERD_NAME];
  const r = a[REF_NAME];
  const raw = typeof c === 'string' && c ? c : typeof r === 'string' && /[/:]/.test(r) ? r : undefined;
  const n = raw === undefined ? undefined : normalizeName(raw, where);
  return n ? [n] : [];
}

function ociImages(ctx: EngineContext, scan: Scan, strict: boolean): Pending[] {
  const index = parseJson<unknown>(scan.meta.get('index.json')!, 'index.json');
  if (!isObject(index) || !Array.isArray(index.manifests)) throw bad('index.json has no "manifests" list');
  const out: Pending[] = [];
  for (const d of index.manifests) {
    try {
      const desc = checkDescriptor(d, 'index.json');
      out.push(fromDescriptor(ctx, scan, desc, ociNames(desc.annotations, 'index.json'), 0));
    } catch (e) {
      if (strict) throw e;
    }
  }
  return out;
}

function fromDescriptor(ctx: EngineContext, scan: Scan, d: Descriptor, names: string[], depth: number): Pending {
  const what = depth ? 'manifest' : 'index.json entry';
  const bytes = readSmallBlob(ctx, archiveBlob(scan, d, what), `${what} ${d.digest}`);
  const doc = parseJson<unknown>(bytes, `manifest ${d.digest}`);
  if (!isObject(doc)) throw bad(`manifest ${d.digest} is not a JSON object`);
  if (Array.isArray(doc.manifests)) {
    if (depth >= 4) throw bad(`image indexes are nested too deeply at ${d.digest}`);
    const pick = pickPlatform(scan, doc.manifests.map((m) => checkDescriptor(m, `index ${d.digest}`)), d.digest);
    return fromDescriptor(ctx, scan, pick, [...names, ...ociNames(pick.annotations, `index ${d.digest}`)], depth + 1);
  }
  if (!Array.isArray(doc.layers) || !isObject(doc.config)) throw bad(`manifest ${d.digest} is neither an image manifest nor an index`);
  const config = checkDescriptor(doc.config, `manifest ${d.digest}`);
  const configBytes = readSmallBlob(ctx, archiveBlob(scan, config, 'config'), `config ${config.digest}`);
  const layers = doc.layers.map((l) => {
    const desc = checkDescriptor(l, `manifest ${d.digest}`);
    archiveBlob(scan, desc, 'layer');
    const out: Descriptor = { mediaType: typeof desc.mediaType === 'string' ? desc.mediaType : MEDIA.ociLayer, digest: desc.digest, size: desc.size };
    return out;
  });
  const diffIds = checkConfig(configBytes, `config ${config.digest}`, layers.length, `manifest ${d.digest}`);
  return { configBytes, configDigest: config.digest, diffIds, layers, names: [...new Set(names)], manifestBytes: bytes };
}

/** The manifest of an index to load: the only one present, else the one for this host. */
function pickPlatform(scan: Scan, list: Descriptor[], where: string): Descriptor {
  const present = list.filter((d) => blobOf(scan, d.digest));
  if (present.length === 0) throw bad(`no manifest of index ${where} is in the archive`);
  if (present.length === 1) return present[0]!;
  const arch = goArch();
  const hit = present.find((d) => d.platform?.os === 'linux' && d.platform.architecture === arch) ?? present.find((d) => !d.platform);
  if (!hit) throw notFound(`the archive has no image for linux/${arch} in index ${where}`);
  return hit;
}

interface DockerItem { Config?: unknown; RepoTags?: unknown; Layers?: unknown }

function dockerImages(ctx: EngineContext, scan: Scan, oci: Pending[]): Pending[] {
  const doc = parseJson<unknown>(scan.meta.get('manifest.json')!, 'manifest.json');
  if (!Array.isArray(doc)) throw bad('manifest.json is not a list of images');
  return doc.map((raw: unknown, i) => {
    const where = `manifest.json entry ${i + 1}`;
    if (!isObject(raw)) throw bad(`${where} is not an object`);
    const item = raw as DockerItem;
    if (typeof item.Config !== 'string' || !item.Config) throw bad(`${where} has no Config`);
    if (!Array.isArray(item.Layers) || item.Layers.some((l) => typeof l !== 'string')) throw bad(`${where} has no valid Layers list`);
    if (item.RepoTags != null && !Array.isArray(item.RepoTags)) throw bad(`${where} has an invalid RepoTags`);
    const refFile = (p: string, what: string): FileInfo => {
      const f = lookup(scan, cleanPath(p, `manifest.json ${what}`));
      if (!f) throw bad(`manifest.json references ${what} ${q(p)}, which is not in the archive`);
      return f;
    };
    const cfgFile = refFile(item.Config, 'config');
    const configBytes = readSmallBlob(ctx, cfgFile, `config ${item.Config}`);
    const layerPaths = item.Layers as string[];
    const diffIds = checkConfig(configBytes, `config ${item.Config}`, layerPaths.length, 'manifest.json');
    const names: string[] = [];
    for (const t of (item.RepoTags ?? []) as unknown[]) {
      const n = normalizeName(t, where);
      if (n && !names.includes(n)) names.push(n);
    }
    // Docker >= 25 also writes an OCI layout: keep its manifest (and digest) when it matches.
    const match = oci.find((o) => o.configDigest === cfgFile.digest && o.layers.length === layerPaths.length);
    if (match) return { ...match, names: [...new Set([...names, ...match.names])] };
    const layers = layerPaths.map((p): Descriptor => {
      const f = refFile(p, 'layer');
      return { mediaType: layerMediaType(ctx, f.digest), digest: f.digest, size: f.size };
    });
    return { configBytes, configDigest: cfgFile.digest, diffIds, layers, names };
  });
}

function layerMediaType(ctx: EngineContext, digest: string): string {
  const head = Buffer.alloc(4);
  const fd = fs.openSync(ctx.content.blobPath(digest), 'r');
  let n = 0;
  try { n = fs.readSync(fd, head, 0, 4, 0); } finally { fs.closeSync(fd); }
  const kind = detectCompression(head.subarray(0, n));
  return kind === 'gzip' ? MEDIA.ociLayerGzip : kind === 'zstd' ? MEDIA.ociLayerZstd : MEDIA.ociLayer;
}

// ---------- pass 3: unpack, then record ----------

async function commit(ctx: EngineContext, images: Pending[]): Promise<LoadResult> {
  // Unpacking verifies every layer against its diff ID before any image is recorded.
  for (const img of images) {
    const chains = chainIds(img.diffIds);
    for (let i = 0; i < img.layers.length; i++) {
      pin(ctx, chains[i]!);
      try {
        await ctx.layers.ensure({ digest: img.layers[i]!.digest, diffId: img.diffIds[i]!, chainId: chains[i]!, parent: chains[i - 1] });
      } catch (e) {
        if (e instanceof BerthError) throw new BerthError(e.kind, `layer ${img.layers[i]!.digest} of the archive: ${e.message}`);
        throw e;
      }
    }
  }
  return withImageLock(ctx, async () => {
    const res: LoadResult = { names: [], ids: [], namedIds: [] };
    for (const img of images) {
      const record = await storeImage(ctx.content, ctx.images, ctx.layers, {
        configBytes: img.configBytes,
        layers: img.layers,
        names: img.names,
        ...(img.manifestBytes ? { manifestBytes: img.manifestBytes } : {}),
      });
      res.ids.push(record.id);
      if (img.names.length) res.namedIds.push(record.id);
      res.names.push(...img.names);
    }
    return res;
  });
}
