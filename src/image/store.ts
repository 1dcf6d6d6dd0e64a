// Image and layer records in SQLite. Blobs live in the content store, unpacked
// layers under layers/<chainId>; this module only keeps the index.
import type { Db } from '../store/db.js';
import { writeTx } from '../store/db.js';
import type { ImageRecord } from './types.js';
import { notFound, conflict, invalidArgument } from '../engine/errors.js';
import { parseReference, fullName, shortNameCandidates } from './reference.js';

export interface ImageRow { record: ImageRecord; names: string[] }

export class ImageStore {
  constructor(private db: Db) {}

  get(id: string): ImageRow | undefined {
    const row = this.db.prepare('SELECT json FROM images WHERE id = ?').get(id) as { json: string } | undefined;
    if (!row) return undefined;
    return { record: JSON.parse(row.json) as ImageRecord, names: this.namesOf(id) };
  }

  namesOf(id: string): string[] {
    return (this.db.prepare('SELECT name FROM image_names WHERE image_id = ? ORDER BY rowid').all(id) as { name: string }[]).map((r) => r.name);
  }

  list(): ImageRow[] {
    const rows = this.db.prepare('SELECT id, json FROM images ORDER BY created DESC').all() as { id: string; json: string }[];
    const names = new Map<string, string[]>();
    for (const n of this.db.prepare('SELECT name, image_id FROM image_names ORDER BY rowid').all() as { name: string; image_id: string }[]) {
      const list = names.get(n.image_id) ?? [];
      list.push(n.name);
      names.set(n.image_id, list);
    }
    return rows.map((r) => ({ record: JSON.parse(r.json) as ImageRecord, names: names.get(r.id) ?? [] }));
  }

  /** Records an image; `names` move to it from any image that had them. */
  add(record: ImageRecord, names: string[]): void {
    writeTx(this.db, () => {
      this.db.prepare('INSERT INTO images (id, created, json) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET json = excluded.json')
        .run(record.id, record.created, JSON.stringify(record));
      for (const n of names) this.db.prepare('INSERT OR REPLACE INTO image_names (name, image_id) VALUES (?, ?)').run(n, record.id);
    });
  }

  tag(id: string, name: string): void {
    this.db.prepare('INSERT OR REPLACE INTO image_names (name, image_id) VALUES (?, ?)').run(name, id);
  }

  untag(id: string, name: string): boolean {
    return this.db.prepare('DELETE FROM image_names WHERE name = ? AND image_id = ?').run(name, id).changes > 0;
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM images WHERE id = ?').run(id);
  }

  /**
   * Finds an image by full or short name, ID, unique ID prefix, digest or name@digest.
   * Short names resolve to local images first, like Podman.
   */
  find(ref: string): ImageRow | undefined {
    const id = this.findId(ref);
    return id ? this.get(id) : undefined;
  }

  resolve(ref: string): ImageRow {
    const row = this.find(ref);
    if (!row) throw notFound(`${ref}: image not known; run "berth images" to list local images, or "berth pull ${ref}"`);
    return row;
  }

  private findId(ref: string): string | undefined {
    const bare = ref.startsWith('sha256:') ? ref.slice(7) : ref;
    if (/^[a-f0-9]{64}$/.test(bare)) {
      if (this.db.prepare('SELECT 1 FROM images WHERE id = ?').get(bare)) return bare;
    }
    if (/^[a-f0-9]{3,63}$/.test(bare)) {
      const hits = this.db.prepare("SELECT id FROM images WHERE id >= ? AND id < ? || 'g' LIMIT 2").all(bare, bare) as { id: string }[];
      if (hits.length > 1) throw conflict(`image ID prefix "${bare}" is ambiguous; give more characters`);
      if (hits.length === 1 && !ref.includes(':')) {
        // A prefix can also be a name (e.g. an image called "abc"); names win only if they exist.
        if (!this.byName(shortNameCandidates(ref))) return hits[0]!.id;
      }
    }
    let candidates: string[];
    try {
      candidates = shortNameCandidates(ref);
    } catch (e) {
      if (/^[a-f0-9]+$/.test(bare)) return undefined;
      throw e;
    }
    const byName = this.byName(candidates);
    if (byName) return byName;
    const parsed = parseReference(ref);
    if (parsed.digest) {
      // name@digest matches an image whose manifest digest or repo digest is that digest.
      for (const row of this.list()) {
        if (row.record.manifestDigest === parsed.digest || row.record.repoDigests?.some((d) => d.endsWith('@' + parsed.digest))) return row.record.id;
      }
    }
    if (parsed.short) {
      // Any local image whose repository ends with the short name (e.g. quay.io/x/busybox).
      const suffix = '/' + fullName(parsed).replace(/^docker\.io\/library\//, '');
      const rows = this.db.prepare('SELECT name, image_id FROM image_names').all() as { name: string; image_id: string }[];
      const hit = rows.find((r) => r.name.endsWith(suffix));
      if (hit) return hit.image_id;
    }
    return undefined;
  }

  private byName(candidates: string[]): string | undefined {
    for (const c of candidates) {
      const row = this.db.prepare('SELECT image_id FROM image_names WHERE name = ?').get(c) as { image_id: string } | undefined;
      if (row) return row.image_id;
    }
    return undefined;
  }

  // --- layers ---

  addLayer(chainId: string, diffId: string, parent: string | undefined, size: number): void {
    this.db.prepare('INSERT OR IGNORE INTO layers (chain_id, diff_id, parent, size) VALUES (?, ?, ?, ?)').run(chainId, diffId, parent ?? null, size);
  }

  hasLayer(chainId: string): boolean {
    return !!this.db.prepare('SELECT 1 FROM layers WHERE chain_id = ?').get(chainId);
  }

  layerSize(chainId: string): number {
    return (this.db.prepare('SELECT size FROM layers WHERE chain_id = ?').get(chainId) as { size: number } | undefined)?.size ?? 0;
  }

  allLayers(): string[] {
    return (this.db.prepare('SELECT chain_id FROM layers').all() as { chain_id: string }[]).map((r) => r.chain_id);
  }

  deleteLayer(chainId: string): void {
    this.db.prepare('DELETE FROM layers WHERE chain_id = ?').run(chainId);
  }
}

/** Normalizes a user-given name for tagging: fully qualified, with a tag. */
export function normalizeTagName(name: string): string {
  const r = parseReference(name);
  if (r.digest) throw invalidArgument(`cannot tag with a digest reference "${name}"; give name:tag`);
  // Podman puts short names under localhost/ when tagging locally.
  if (r.short) return `localhost/${r.path.replace(/^library\//, '')}:${r.tag ?? 'latest'}`;
  return fullName(r);
}
