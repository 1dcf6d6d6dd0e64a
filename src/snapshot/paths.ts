// In-root path handling for layer extraction.
//
// Entry names are cleaned lexically (leading "/" stripped like GNU tar, "." and
// empty components dropped, ".." applied) and refused when ".." would leave the
// root. The extractor keeps an in-memory mirror (LayerTree) of everything it has
// created in its private temp directory, so resolving a parent path never asks
// the filesystem and never follows a symlink on disk: a symlink met in a parent
// path is resolved from its stored target *as if chrooted* to the layer root
// (absolute targets restart at the root, ".." stops at the root). The resolved
// path therefore consists of real directories inside the layer only.
import { join } from 'node:path';
import { corrupt } from '../engine/errors.js';

export interface Meta {
  uid: number;
  gid: number;
  mode: number;
  mtime: number;
  atime: number;
  xattrs: [string, Buffer][];
}

export interface DirNode {
  kind: 'dir';
  children: Map<string, Node>;
  /** Metadata from the directory's own entry, applied in the final pass. */
  meta: Meta | undefined;
  opaque: boolean;
}
export interface SymlinkNode { kind: 'symlink'; target: string }
export interface LeafNode { kind: 'file' | 'special' }
export type Node = DirNode | SymlinkNode | LeafNode;

export const newDir = (): DirNode => ({ kind: 'dir', children: new Map(), meta: undefined, opaque: false });

const MAX_SYMLINK_HOPS = 40;
const q = (s: string) => JSON.stringify(s);

/** Cleans an entry (or hard link target) name into path components; [] is the root. */
export function cleanEntryName(name: string, what = `layer entry ${q(name)}`): string[] {
  if (name.includes('\0')) throw corrupt(`${what} contains a NUL byte`);
  const parts: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (parts.length === 0) throw corrupt(`${what} escapes the layer root`);
      parts.pop();
    } else {
      parts.push(c);
    }
  }
  return parts;
}

/** A resolved directory: its real components and tree nodes (undefined = not yet created). */
export interface ResolvedDir {
  parts: string[];
  nodes: (DirNode | undefined)[]; // nodes[0] is the root; nodes[i + 1] belongs to parts[i]
}

export class LayerTree {
  readonly root: DirNode = newDir();

  constructor(readonly rootPath: string) {}

  /** Absolute path on disk of real components. */
  pathOf(parts: string[]): string {
    return parts.length ? join(this.rootPath, ...parts) : this.rootPath;
  }

  /**
   * Resolves directory components, following symlinks within the root (chrooted).
   * Fails when a component exists and is neither a directory nor a symlink.
   */
  resolveDir(dirParts: string[], entryName: string): ResolvedDir {
    const parts: string[] = [];
    const nodes: (DirNode | undefined)[] = [this.root];
    const todo = dirParts.slice().reverse();
    let hops = 0;
    while (todo.length) {
      const c = todo.pop()!;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        if (parts.length) { parts.pop(); nodes.pop(); }
        continue;
      }
      const cur = nodes[nodes.length - 1];
      const child = cur?.children.get(c);
      if (child?.kind === 'symlink') {
        if (++hops > MAX_SYMLINK_HOPS) throw corrupt(`layer entry ${q(entryName)}: too many levels of symbolic links`);
        if (child.target.startsWith('/')) { parts.length = 0; nodes.length = 1; }
        const t = child.target.split('/');
        for (let i = t.length - 1; i >= 0; i--) todo.push(t[i]);
        continue;
      }
      if (child && child.kind !== 'dir') {
        throw corrupt(`layer entry ${q(entryName)}: parent ${q([...parts, c].join('/'))} is not a directory`);
      }
      parts.push(c);
      nodes.push(child);
    }
    return { parts, nodes };
  }

  /** Looks up a node by cleaned components (parents resolved chrooted, last one not followed). */
  lookup(parts: string[], entryName: string): { dir: ResolvedDir; name: string; node: Node | undefined } | undefined {
    if (parts.length === 0) return undefined;
    const dir = this.resolveDir(parts.slice(0, -1), entryName);
    const name = parts[parts.length - 1];
    const parent = dir.nodes[dir.nodes.length - 1];
    return { dir, name, node: parent?.children.get(name) };
  }

  /** Walks all directory nodes (root first) with their real components. */
  *dirs(): Generator<[string[], DirNode]> {
    const stack: [string[], DirNode][] = [[[], this.root]];
    while (stack.length) {
      const [parts, d] = stack.pop()!;
      yield [parts, d];
      for (const [name, n] of d.children) if (n.kind === 'dir') stack.push([[...parts, name], n]);
    }
  }
}
