// Cross-process exclusive locks that the kernel releases when the holder dies.
// Node has no flock(2); SQLite's file locking gives the same guarantee, so a lock
// is an (empty) SQLite database held in an EXCLUSIVE transaction. Waiting is
// asynchronous, so a long-running server is never blocked by another process.
import { BerthError } from '../engine/errors.js';
import { openSqlite } from '../store/db.js';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class FileLock {
  private constructor(private db: ReturnType<typeof openSqlite> | undefined, readonly path: string) {}

  static tryAcquire(path: string): FileLock | undefined {
    const db = openSqlite(path, 0);
    try {
      db.exec('BEGIN EXCLUSIVE');
      return new FileLock(db, path);
    } catch (e) {
      db.close();
      if ((e as { code?: string }).code === 'SQLITE_BUSY') return undefined;
      throw e;
    }
  }

  static async acquire(path: string, what: string, timeoutMs = 10 * 60_000): Promise<FileLock> {
    const deadline = Date.now() + timeoutMs;
    for (let delay = 1; ; delay = Math.min(delay * 2, 50)) {
      const lock = FileLock.tryAcquire(path);
      if (lock) return lock;
      if (Date.now() > deadline) {
        throw new BerthError('conflict', `timed out waiting for the lock of ${what}: another berth command holds it`);
      }
      await sleep(delay);
    }
  }

  release(): void {
    if (!this.db) return;
    try { this.db.exec('COMMIT'); } finally { this.db.close(); this.db = undefined; }
  }
}

/** Runs `fn` while holding the lock at `path`. */
export async function withLock<T>(path: string, what: string, fn: () => Promise<T> | T): Promise<T> {
  const lock = await FileLock.acquire(path, what);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}
