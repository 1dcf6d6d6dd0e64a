// The metadata store: one SQLite database in WAL mode. Short IMMEDIATE
// transactions and a generous busy timeout let hundreds of berth processes
// write at once without "database is locked".
import { sqliteBinding } from '../sys/native.js';
import BetterSqlite3 from 'better-sqlite3';
import { MIGRATIONS } from './schema.js';
import { BerthError } from '../engine/errors.js';

export type Db = BetterSqlite3.Database;

let binding: object | undefined | null = null;
/** Opens a SQLite database; the native binding is loaded on first use (commands that need no store skip it). */
export function openSqlite(file: string, timeoutMs: number): Db {
  if (binding === null) binding = sqliteBinding();
  return new BetterSqlite3(file, { timeout: timeoutMs, nativeBinding: binding as string | undefined });
}

export function openDatabase(file: string): Db {
  let db: Db;
  try {
    db = openSqlite(file, 120_000);
  } catch (e) {
    throw new BerthError('internal', `cannot open the Berth database ${file}: ${(e as Error).message}`);
  }
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  migrate(db);
  return db;
}

function migrate(db: Db): void {
  const target = MIGRATIONS.length;
  if ((db.pragma('user_version', { simple: true }) as number) === target) return;
  // WAL is persistent, so only a new database pays for the switch (it cannot happen inside a transaction).
  if ((db.pragma('journal_mode', { simple: true }) as string) !== 'wal') db.pragma('journal_mode = WAL');
  db.transaction(() => {
    const current = db.pragma('user_version', { simple: true }) as number;
    if (current > target) {
      throw new BerthError('internal', `the Berth database has schema version ${current}, newer than this berth (${target}); upgrade berth`);
    }
    for (let v = current; v < target; v++) db.exec(MIGRATIONS[v]!);
    db.pragma(`user_version = ${target}`);
  }).immediate();
}

/** Runs `fn` in a write transaction that takes the write lock up front (no upgrade deadlocks). */
export function writeTx<T>(db: Db, fn: () => T): T {
  return db.transaction(fn).immediate();
}
