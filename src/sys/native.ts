// Native add-ons (better-sqlite3's SQLite binding, koffi's FFI). The CLI build
// bakes in where their .node files are (relative to the package root) and loads
// them by absolute path: resolving packages at run time costs ~10 ms per command.
// The library build (and a missing file) falls back to normal package resolution.
import { createRequire } from 'node:module';
import { realpathSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BerthError } from '../engine/errors.js';

declare const BERTH_CLI: boolean | undefined;
declare const BERTH_NATIVE: { sqlite?: string; koffi?: string } | undefined;

let req: NodeRequire | undefined;
let root: string | undefined;

function nodeRequire(): NodeRequire {
  if (!req) {
    const cli = typeof BERTH_CLI !== 'undefined' && BERTH_CLI;
    // The CLI may run from a V8 startup snapshot: its location is only known at run time.
    const base = cli ? realpathSync(process.argv[1]!) : import.meta.url;
    req = createRequire(base);
    if (cli) root = path.dirname(path.dirname(base));
  }
  return req;
}

function prebuilt(which: 'sqlite' | 'koffi'): string | undefined {
  nodeRequire(); // sets `root`
  const rel = typeof BERTH_NATIVE !== 'undefined' ? BERTH_NATIVE?.[which] : undefined;
  if (!rel || !root) return undefined;
  const p = path.join(root, rel);
  return existsSync(p) ? p : undefined;
}

/** Loads a .node file directly (skips the module system's path and package.json lookups). */
function dlopen(file: string): object {
  const m = { exports: {} as object };
  process.dlopen(m, file);
  return m.exports;
}

/** The SQLite binding for better-sqlite3's `nativeBinding` option (undefined: let it find its own). */
export function sqliteBinding(): object | undefined {
  const p = prebuilt('sqlite');
  return p ? dlopen(p) : undefined;
}

export interface KoffiModule {
  load(path: string): { func(signature: string): (...args: unknown[]) => number };
  decode(ptr: unknown, type: string): unknown;
}

/** koffi's native module (its API is the same as the package's for what Berth uses). */
export function loadKoffi(): KoffiModule {
  const p = prebuilt('koffi');
  return (p ? dlopen(p) : nodeRequire()('koffi')) as KoffiModule;
}

/** A file the build puts beside the CLI bundle and lib.js in dist/ (a worker thread's script). */
export function distFile(name: string): string {
  const cli = typeof BERTH_CLI !== 'undefined' && BERTH_CLI;
  const p = cli ? path.join(path.dirname(realpathSync(process.argv[1]!)), name) : fileURLToPath(new URL(name, import.meta.url));
  if (!existsSync(p)) throw new BerthError('internal', `${p} is missing: Berth's build is incomplete (run "npm run build")`);
  return p;
}

/** Any other package from the node_modules beside Berth. */
export function requireNative<T>(id: string): T {
  return nodeRequire()(id) as T;
}
