// Resolves a path inside a container root as if chrooted there: symlinks
// (absolute or relative) are followed but can never lead outside the root.
import fs from 'node:fs';
import path from 'node:path';
import { invalidArgument } from '../engine/errors.js';

const MAX_LINKS = 255;

/**
 * The symlink-free components of `unsafe`, resolved one at a time. `hostOf` maps
 * components already resolved to the host path to inspect (undefined: nothing to
 * inspect there, take the component as it is). `where` names the root in errors.
 */
export function resolveComponents(unsafe: string, hostOf: (parts: string[]) => string | undefined, followLast = true, where = 'the container'): string[] {
  const todo = unsafe.split('/').filter((p) => p && p !== '.');
  const parts: string[] = [];
  let links = 0;
  while (todo.length) {
    const part = todo.shift()!;
    if (part === '..') { parts.pop(); continue; }
    const host = hostOf([...parts, part]);
    let st: fs.Stats | undefined;
    try { st = host === undefined ? undefined : fs.lstatSync(host); } catch { st = undefined; }
    if (st?.isSymbolicLink() && (todo.length > 0 || followLast)) {
      if (++links > MAX_LINKS) throw invalidArgument(`too many levels of symbolic links resolving ${unsafe} in ${where}`);
      const target = fs.readlinkSync(host!);
      if (target.startsWith('/')) parts.length = 0;
      todo.unshift(...target.split('/').filter((p) => p && p !== '.'));
      continue;
    }
    parts.push(part);
  }
  return parts;
}

/** Host path for `unsafe` interpreted inside `root`; missing tail components are kept as-is. */
export function secureJoin(root: string, unsafe: string): string {
  return path.join(root, ...resolveComponents(unsafe, (parts) => path.join(root, ...parts)));
}
