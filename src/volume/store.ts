// Volume records in SQLite and the links from containers to the volumes they
// use. A link exists from the container's creation to its removal, so "in use"
// means "some container, running or not, was created with it" (as in Podman).
import type { Db } from '../store/db.js';
import { conflict } from '../engine/errors.js';

export const VOLUME_NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export interface VolumeRecord {
  name: string;
  driver: string;                    // only 'local' for now
  created: string;                   // RFC 3339
  labels: Record<string, string>;
  options: Record<string, string>;   // local driver: type, device, o
  anonymous: boolean;                // created for one container (-v /path, image VOLUME)
  needsCopyUp: boolean;              // seed from the image on first mount
}

interface Row { name: string; driver: string; created: number; json: string }
type Stored = Pick<VolumeRecord, 'labels' | 'options' | 'anonymous' | 'needsCopyUp'>;

function toRecord(r: Row): VolumeRecord {
  const j = JSON.parse(r.json) as Stored;
  return { name: r.name, driver: r.driver, created: new Date(r.created).toISOString(), ...j };
}

function toJson(v: VolumeRecord): string {
  const stored: Stored = { labels: v.labels, options: v.options, anonymous: v.anonymous, needsCopyUp: v.needsCopyUp };
  return JSON.stringify(stored);
}

export class VolumeStore {
  constructor(private db: Db) {}

  get(name: string): VolumeRecord | undefined {
    const r = this.db.prepare('SELECT name, driver, created, json FROM volumes WHERE name = ?').get(name) as Row | undefined;
    return r ? toRecord(r) : undefined;
  }

  list(): VolumeRecord[] {
    return (this.db.prepare('SELECT name, driver, created, json FROM volumes ORDER BY created, name').all() as Row[]).map(toRecord);
  }

  /** Inserts the volume unless one with that name exists; true when this call created it. */
  insertIfAbsent(v: VolumeRecord): boolean {
    const info = this.db.prepare('INSERT OR IGNORE INTO volumes (name, driver, created, json) VALUES (?, ?, ?, ?)')
      .run(v.name, v.driver, Date.parse(v.created), toJson(v));
    return info.changes === 1;
  }

  update(v: VolumeRecord): void {
    this.db.prepare('UPDATE volumes SET json = ? WHERE name = ?').run(toJson(v), v.name);
  }

  /** Deletes the record; a volume that a container links to cannot be deleted. */
  delete(name: string): void {
    try {
      this.db.prepare('DELETE FROM volumes WHERE name = ?').run(name);
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
        throw conflict(`volume ${name} is being used by the following container(s): ${this.users(name).join(', ')}: remove them first, or use --force to remove them too`);
      }
      throw e;
    }
  }

  link(containerId: string, names: string[]): void {
    const st = this.db.prepare('INSERT OR IGNORE INTO container_volumes (container_id, volume) VALUES (?, ?)');
    for (const n of names) st.run(containerId, n);
  }

  /** IDs of the containers that use the volume. */
  users(name: string): string[] {
    return (this.db.prepare('SELECT container_id FROM container_volumes WHERE volume = ? ORDER BY container_id').all(name) as { container_id: string }[])
      .map((r) => r.container_id);
  }

  /** Names of the volumes a container uses. */
  volumesOf(containerId: string): string[] {
    return (this.db.prepare('SELECT volume FROM container_volumes WHERE container_id = ?').all(containerId) as { volume: string }[])
      .map((r) => r.volume);
  }

  /** The containers using each volume (volumes that no container uses are absent). */
  allUsers(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const r of this.db.prepare('SELECT container_id, volume FROM container_volumes').all() as { container_id: string; volume: string }[]) {
      const l = out.get(r.volume);
      if (l) l.push(r.container_id);
      else out.set(r.volume, [r.container_id]);
    }
    return out;
  }
}
