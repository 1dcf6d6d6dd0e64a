// Container records in SQLite: config and status as JSON, state broken out.
import type { Db } from '../store/db.js';
import type { ContainerRecord, ContainerState, ContainerStatus, ContainerConfig, HealthState } from './container-types.js';
import { conflict, notFound } from './errors.js';

interface Row { id: string; state: string; config: string; status: string }

function toRecord(r: Row): ContainerRecord {
  return { config: JSON.parse(r.config) as ContainerConfig, state: r.state as ContainerState, status: JSON.parse(r.status) as ContainerStatus };
}

export class ContainerStore {
  constructor(private db: Db) {}

  insert(rec: ContainerRecord): void {
    try {
      this.db.prepare('INSERT INTO containers (id, name, image_id, created, state, config, status) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(rec.config.id, rec.config.name, rec.config.imageId, Date.parse(rec.config.created), rec.state, JSON.stringify(rec.config), JSON.stringify(rec.status));
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        const other = this.db.prepare('SELECT id FROM containers WHERE name = ?').get(rec.config.name) as { id: string } | undefined;
        throw conflict(`the container name "${rec.config.name}" is already in use by ${other?.id ?? 'another container'}. You have to remove that container to be able to reuse that name: that name is already in use`);
      }
      throw e;
    }
  }

  get(id: string): ContainerRecord | undefined {
    const r = this.db.prepare('SELECT id, state, config, status FROM containers WHERE id = ?').get(id) as Row | undefined;
    return r ? toRecord(r) : undefined;
  }

  /** Full ID, name, or unique ID prefix. */
  lookup(ref: string): ContainerRecord | undefined {
    const byName = this.db.prepare('SELECT id, state, config, status FROM containers WHERE id = ? OR name = ?').get(ref, ref) as Row | undefined;
    if (byName) return toRecord(byName);
    if (!/^[a-f0-9]{1,63}$/.test(ref)) return undefined;
    const rows = this.db.prepare("SELECT id, state, config, status FROM containers WHERE id >= ? AND id < ? || 'g' LIMIT 2").all(ref, ref) as Row[];
    if (rows.length > 1) throw conflict(`more than one container matches the ID prefix "${ref}"; give more characters`);
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  resolve(ref: string): ContainerRecord {
    const rec = this.lookup(ref);
    if (!rec) throw notFound(`no container with name or ID "${ref}" found: no such container`);
    return rec;
  }

  list(): ContainerRecord[] {
    return (this.db.prepare('SELECT id, state, config, status FROM containers ORDER BY created DESC').all() as Row[]).map(toRecord);
  }

  setState(id: string, state: ContainerState, status: ContainerStatus): void {
    this.db.prepare('UPDATE containers SET state = ?, status = ? WHERE id = ?').run(state, JSON.stringify(status), id);
  }

  /** Updates only the health part of the status, so it never overwrites a concurrent lifecycle change. */
  setHealth(id: string, health: HealthState): void {
    this.db.prepare("UPDATE containers SET status = json_set(status, '$.health', json(?)) WHERE id = ?").run(JSON.stringify(health), id);
  }

  updateConfig(id: string, config: ContainerConfig): void {
    this.db.prepare('UPDATE containers SET name = ?, config = ? WHERE id = ?').run(config.name, JSON.stringify(config), id);
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM containers WHERE id = ?').run(id);
  }

  usingImage(imageId: string): string[] {
    return (this.db.prepare('SELECT id FROM containers WHERE image_id = ?').all(imageId) as { id: string }[]).map((r) => r.id);
  }

  nameTaken(name: string): boolean {
    return !!this.db.prepare('SELECT 1 FROM containers WHERE name = ?').get(name);
  }
}
