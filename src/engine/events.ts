// Events are rows appended to the events table; `berth events` tails it.
import type { Db } from '../store/db.js';

export interface EngineEvent {
  seq: number;
  time: number;              // microseconds since the epoch
  type: string;              // container | image | volume | network
  action: string;            // create, start, died, remove, pull, tag, …
  id: string;
  name?: string;
  attributes: Record<string, string>;
}

const KEEP = 10_000;

export class EventLog {
  constructor(private db: Db) {}

  record(type: string, action: string, id: string, name?: string, attributes: Record<string, string> = {}): void {
    const time = Date.now() * 1000 + Math.floor((performance.now() % 1) * 1000);
    const info = this.db.prepare('INSERT INTO events (time, type, action, id, name, attributes) VALUES (?, ?, ?, ?, ?, ?)')
      .run(time, type, action, id, name ?? null, JSON.stringify(attributes));
    // Keep the table bounded; trimming now and then is enough.
    if (Number(info.lastInsertRowid) % 1000 === 0) this.db.prepare('DELETE FROM events WHERE seq <= ?').run(Number(info.lastInsertRowid) - KEEP);
  }

  lastSeq(): number {
    return (this.db.prepare('SELECT COALESCE(MAX(seq), 0) AS s FROM events').get() as { s: number }).s;
  }

  since(seq: number, limit = 1000): EngineEvent[] {
    const rows = this.db.prepare('SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?').all(seq, limit) as
      { seq: number; time: number; type: string; action: string; id: string; name: string | null; attributes: string }[];
    return rows.map((r) => ({ ...r, name: r.name ?? undefined, attributes: JSON.parse(r.attributes) as Record<string, string> }));
  }
}
