// Image actions of the Engine: tag, untag, remove, prune, history, bootstrap,
// import, load and save.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { EngineContext } from './context.js';
import { conflict, invalidArgument, notFound } from './errors.js';
import { normalizeTagName } from '../image/store.js';
import { collectGarbage, pin, withPins } from '../image/gc.js';
import { withImageLock } from '../image/lock.js';
import { bootstrapImage } from '../image/bootstrap.js';
import { storeImage } from '../image/writer.js';
import { applyChanges } from '../image/changes.js';
import { detectCompression } from '../snapshot/compression.js';
import { MEDIA, goArch, type ImageConfig } from '../image/types.js';
import { ago, humanSize } from '../format/human.js';
import { loadArchive } from '../image/archive-load.js';
import { saveArchive, type ArchiveFormat } from '../image/archive-save.js';
import { fullName, parseReference } from '../image/reference.js';

export type { ArchiveFormat } from '../image/archive-save.js';


export function tag(ctx: EngineContext, ref: string, names: string[]): string[] {
  if (!names.length) throw invalidArgument('give at least one new name: berth tag IMAGE NAME[:TAG]...');
  const row = ctx.images.resolve(ref);
  const full = names.map(normalizeTagName);
  for (const n of full) {
    ctx.images.tag(row.record.id, n);
    ctx.events.record('image', 'tag', row.record.id, n);
  }
  return full;
}

export function untag(ctx: EngineContext, ref: string, names: string[]): string[] {
  const row = ctx.images.resolve(ref);
  const targets = names.length ? names.map(normalizeTagName) : row.names;
  const removed: string[] = [];
  for (const n of targets) {
    // A short name may be stored under docker.io as well as localhost.
    const candidates = [n, fullNameOf(n)];
    const hit = candidates.find((c) => row.names.includes(c));
    if (!hit) throw notFound(`${n}: tag not known for image ${row.record.id.slice(0, 12)}`);
    ctx.images.untag(row.record.id, hit);
    ctx.events.record('image', 'untag', row.record.id, hit);
    removed.push(hit);
  }
  return removed;
}

function fullNameOf(n: string): string {
  try { return fullName(parseReference(n.replace(/^localhost\//, ''))); } catch { return n; }
}

export interface RemoveResult { untagged: string[]; deleted: string[] }

export async function remove(ctx: EngineContext, ref: string, force: boolean): Promise<RemoveResult> {
  return withImageLock(ctx, async () => {
    const row = ctx.images.resolve(ref);
    const id = row.record.id;
    const byName = !id.startsWith(ref.replace(/^sha256:/, '')) || row.names.some((n) => n === ref || n.endsWith('/' + ref) || n.endsWith('/' + ref + ':latest'));
    const result: RemoveResult = { untagged: [], deleted: [] };
    if (byName && row.names.length > 1 && !force) {
      // Removing one of several names only untags it.
      const name = ctx.images.namesOf(id).find((n) => matchesName(n, ref))!;
      ctx.images.untag(id, name);
      ctx.events.record('image', 'untag', id, name);
      return { untagged: [name], deleted: [] };
    }
    if (!byName && row.names.length > 1 && !force) {
      throw conflict(`unable to delete image "${id}" by ID with more than one tag (${row.names.join(', ')}): please force removal`);
    }
    const users = ctx.containers.usingImage(id);
    if (users.length && !force) {
      throw conflict(`image used by ${users[0]}: image is in use by a container: consider listing external containers and force-removing image`);
    }
    if (users.length) {
      const { removeContainer } = await import('./lifecycle.js');
      for (const c of users) await removeContainer(ctx, c, true);
    }
    result.untagged.push(...row.names);
    ctx.images.delete(id);
    collectGarbage(ctx);
    result.deleted.push(id);
    ctx.events.record('image', 'remove', id, row.names[0]);
    return result;
  });
}

function matchesName(stored: string, ref: string): boolean {
  if (stored === ref) return true;
  const withTag = ref.includes(':') && ref.lastIndexOf(':') > ref.lastIndexOf('/') ? ref : `${ref}:latest`;
  return stored === withTag || stored.endsWith('/' + withTag) || stored === fullNameOf(withTag);
}

export async function prune(ctx: EngineContext, all: boolean): Promise<{ deleted: string[]; reclaimed: number }> {
  return withImageLock(ctx, () => {
    const used = new Set(ctx.containers.list().map((c) => c.config.imageId));
    const deleted: string[] = [];
    for (const { record, names } of ctx.images.list()) {
      if (used.has(record.id)) continue;
      if (!all && names.length) continue;
      ctx.images.delete(record.id);
      ctx.events.record('image', 'remove', record.id, names[0]);
      deleted.push(record.id);
    }
    const gc = collectGarbage(ctx);
    return { deleted, reclaimed: gc.bytes };
  });
}

export interface HistoryRow {
  ID: string; Created: string; CreatedSince: string; CreatedBy: string; Size: number; SizeHuman: string; Comment: string; Tags: string[] | null;
}

export function history(ctx: EngineContext, ref: string): HistoryRow[] {
  const row = ctx.images.resolve(ref);
  const cfg = ctx.content.readJson<ImageConfig>(row.record.configDigest);
  const layers = [...row.record.layers];
  const rows = (cfg.history ?? []).map((h) => {
    const layer = h.empty_layer ? undefined : layers.shift();
    const size = layer ? ctx.images.layerSize(layer.chainId) : 0;
    const row: HistoryRow = { Created: h.created ?? '', CreatedSince: h.created ? ago(h.created) : '', CreatedBy: h.created_by ?? '', Size: size, SizeHuman: humanSize(size), Comment: h.comment ?? '', ID: '<missing>', Tags: null };
    return row;
  }).reverse();
  if (rows[0]) { rows[0].ID = row.record.id.slice(0, 12); rows[0].Tags = row.names; }
  return rows;
}

export function bootstrap(ctx: EngineContext, what: string) {
  return withPins(ctx, () => bootstrapImage(ctx, what));
}

export interface ImportOptions { reference?: string; changes?: string[]; message?: string }

/** A rootfs tarball (plain, gzip or zstd) becomes a one-layer image. */
export async function importTarball(ctx: EngineContext, source: NodeJS.ReadableStream, o: ImportOptions): Promise<{ id: string; name?: string }> {
  const name = o.reference ? normalizeTagName(o.reference) : undefined;
  const runConfig = applyChanges({ Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] }, o.changes ?? []);
  // A scratch directory of this import's own (several may run at once in `berth serve`).
  const scratch = path.join(ctx.paths.layers, `.import-${process.pid}-${randomBytes(4).toString('hex')}`);
  return withPins(ctx, async () => { try {
    const blob = await ctx.content.ingest(Readable.from(source as AsyncIterable<Buffer>), undefined, { beforeCommit: (d) => pin(ctx, d) });
    const head = Buffer.alloc(6);
    const fd = fs.openSync(blob.path, 'r');
    fs.readSync(fd, head, 0, 6, 0);
    fs.closeSync(fd);
    const kind = detectCompression(head);
    const mediaType = kind === 'gzip' ? MEDIA.ociLayerGzip : kind === 'zstd' ? MEDIA.ociLayerZstd : MEDIA.ociLayer;
    const { unpackLayer } = await import('../snapshot/unpack.js');
    // The diff ID is only known after decompressing; unpack once to a scratch dir to learn it.
    fs.mkdirSync(ctx.paths.layers, { recursive: true });
    const { diffId } = await unpackLayer(ctx.content.open(blob.digest), scratch);
    const created = new Date().toISOString();
    const config: ImageConfig = {
      created, architecture: goArch(), os: 'linux', config: runConfig,
      rootfs: { type: 'layers', diff_ids: [diffId] },
      history: [{ created, created_by: 'berth import', comment: o.message ?? '' }],
    };
    const { chainIds } = await import('../image/layers.js');
    const chain = chainIds([diffId])[0]!;
    pin(ctx, chain);
    if (!fs.existsSync(ctx.layers.dir(chain))) fs.renameSync(scratch, ctx.layers.dir(chain));
    else fs.rmSync(scratch, { recursive: true, force: true });
    const record = await withImageLock(ctx, () => storeImage(ctx.content, ctx.images, ctx.layers, {
      configBytes: Buffer.from(JSON.stringify(config)),
      layers: [{ mediaType, digest: blob.digest, size: blob.size }],
      names: name ? [name] : [],
    }));
    ctx.events.record('image', 'import', record.id, name);
    return { id: record.id, name };
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  } });
}

export function load(ctx: EngineContext, source: NodeJS.ReadableStream): Promise<{ names: string[]; ids: string[] }> {
  return withPins(ctx, async () => {
    const res = await loadArchive(ctx, Readable.from(source as AsyncIterable<Buffer>));
    for (const id of res.ids) ctx.events.record('image', 'load', id);
    return res;
  });
}

export async function save(ctx: EngineContext, refs: string[], format: ArchiveFormat, out: NodeJS.WritableStream): Promise<void> {
  if (!refs.length) throw invalidArgument('give at least one image to save');
  await saveArchive(ctx, refs, format, out);
}
