// One lock for changes to the image store and its garbage collection.
import fs from 'node:fs';
import path from 'node:path';
import type { EngineContext } from '../engine/context.js';
import { withLock } from '../sys/lock.js';

export function withImageLock<T>(ctx: EngineContext, fn: () => Promise<T> | T): Promise<T> {
  fs.mkdirSync(ctx.paths.locks, { recursive: true });
  return withLock(path.join(ctx.paths.locks, 'images'), 'the image store', fn);
}
