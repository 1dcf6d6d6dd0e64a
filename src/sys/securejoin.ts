// Resolves a path inside a container root as if chrooted there: symlinks
// (absolute or relative) are followed but can never lead outside the root.
import fs from 'node:fs';
import path from 'node:path';
import { invalidArgument } from '../engine/errors.js';

const MAX_LINKS = 255;

/** Host path for `unsafe` interpreted inside `root`; missing tail components are kept as-is. */
export function secureJoin(root: string, unsafe: string): string {
  const parts = unsafe.split('/').filter((p) => p && p !== '.');
  const resolved: string[] = [];
  let links = 0;
  while (parts.length) {
    const part = parts.shift()!;
    if (part === '..') { resolved.pop(); continue; }
    const candidate = path.join(root, ...resolved, part);
    let st: fs.Stats | undefined;
    try { st = fs.lstatSync(candidate); } catch { st = undefined; }
    if (st?.isSymbolicLink()) {
      if (++links > MAX_LINKS) throw invalidArgument(`too many symlinks resolving ${unsafe} in the container`);
      const target = fs.readlinkSync(candidate);
      if (target.startsWith('/')) resolved.length = 0;
      parts.unshift(...target.split('/').filter((p) => p && p !== '.'));
      continue;
    }
    resolved.push(part);
  }
  return path.join(root, ...resolved);
}
