// The metadata store: one SQLite database in WAL mode. Short IMMEDIATE
// transactions and a generous busy timeout let hundreds of berth processes
// write at once without "database is locked".
import type BetterSqlite3 from 'better-sqlite3';
import { createRequire } from 'node:module';
import { MIGRATIONS } from './schema.js';
import { BerthError } from '../engine/errors.js';

export type Db = BetterSqlite3.Database;

let driver: typeof BetterSqlite3 | undefined;
/** The native SQLite binding, loaded on first use (commands that need no store skip it). */
export function sqlite(): typeof BetterSqlite3 {
  return (driver ??= createRequire(import.meta.url)('better-sqlite3') as typeof BetterSqlite3);
}

export function openDatabase(file: string): Db {
  let db: Db;
  try {
    db = new (sqlite())(file, { timeout: 120_000 });
  } catch (e) {
    throw new BerthError('internal', `cannot open the Berth database ${file}: ${(e as Error).message}`);
  }
  // WAL is persistent: only the first open (or a foreign database) pays for the switch.
  if ((db.pragma('journal_mode', { simple: true }) as string) !== 'wal') db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  migrate(db);
  return db;
}

function migrate(db: Db): void {
  const target = MIGRATIONS.length;
  if ((db.pragma('user_version', { simple: true }) as number) === target) return;
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
