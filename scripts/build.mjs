// Builds the CLI and the embeddable library into dist/:
//   dist/berth-cli.cjs  the whole CLI in one file (native modules stay in node_modules)
//   dist/berth.blob     a V8 startup snapshot of it: the CLI starts ~20 ms faster
//   dist/berth          the launcher that `berth` on PATH points to
//   dist/lib.js         `import { Engine } from 'berth'`
//   dist/layer-worker.cjs  the worker thread a pull stores and unpacks layers in
import { build } from 'esbuild';
import { chmodSync, readdirSync, readFileSync, writeFileSync, rmSync, renameSync, existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
// Build into a scratch directory and swap it in, so commands running from dist/ meanwhile keep working.
const out = `dist.tmp-${process.pid}`;
rmSync(out, { recursive: true, force: true });

// Where the native add-ons are, relative to the package root, so the CLI loads them by path.
const require = createRequire(import.meta.url);
const rel = (p) => path.relative(process.cwd(), p);
const native = {};
try { native.sqlite = rel(path.join(path.dirname(require.resolve('better-sqlite3/package.json')), 'build/Release/better_sqlite3.node')); } catch { /* resolved at run time */ }
try {
  const pkgDir = path.dirname(require.resolve(`@koromix/koffi-${process.platform}-${process.arch}/package.json`, { paths: [path.dirname(require.resolve('koffi'))] }));
  native.koffi = rel(path.join(pkgDir, `${process.platform}_${process.arch}`, 'koffi.node'));
} catch { /* resolved at run time */ }
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  external: ['better-sqlite3', 'koffi'],
  legalComments: 'none',
  logLevel: 'warning',
  // The bundle's source text lives in the startup snapshot: without comments and
  // blank space, and all-ASCII (one non-Latin-1 character would make V8 store
  // every character in two bytes), it is a third of the size and deserializes faster.
  // Identifiers keep their names, so stack traces stay readable.
  minifyWhitespace: true,
  minifySyntax: true,
  charset: 'ascii',
};

/**
 * esbuild gives a default import of a Node built-in (`import fs from 'node:fs'`)
 * its CommonJS interop: a copy of the module with one getter closure per
 * property, made again in every file that imports it. In the CLI that was
 * ~6,000 closures, and all of them sit in the startup snapshot, which every
 * start deserializes. This plugin makes each built-in one ES module shared by
 * all files: the default export is the module itself, and the names files
 * import by name are exported from it. A name it misses fails the build.
 */
function sharedBuiltins() {
  const named = new Map();
  const walk = (dir) => readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : []);
  for (const file of walk('src')) {
    for (const m of readFileSync(file, 'utf8').matchAll(/^import\s+(?!type\b)(?:[\w$]+\s*,\s*)?\{([^}]*)\}\s*from\s*'(node:[\w/]+)'/gm)) {
      const names = named.get(m[2]) ?? new Set();
      for (const part of m[1].split(',')) {
        const item = part.trim();
        if (item && !item.startsWith('type ')) names.add(item.split(/\s+as\s+/)[0]);
      }
      named.set(m[2], names);
    }
  }
  return {
    name: 'shared-builtins',
    setup(b) {
      b.onResolve({ filter: /^node:/ }, (a) => (a.namespace === 'builtin' ? { path: a.path, external: true } : { path: a.path, namespace: 'builtin' }));
      b.onLoad({ filter: /.*/, namespace: 'builtin' }, (a) => ({
        contents: `const m = require(${JSON.stringify(a.path)});\nexport default m;\n`
          + [...(named.get(a.path) ?? [])].map((n) => `export const ${n} = m.${n};\n`).join(''),
        loader: 'js',
      }));
    },
  };
}

// The CLI and its layer worker: one shared module per Node built-in, and the
// native add-ons loaded by path, from the package root above dist/.
const cli = {
  ...common,
  plugins: [sharedBuiltins()],
  // better-sqlite3's JavaScript is bundled (and snapshotted); its binding is loaded by path.
  external: ['koffi'],
  define: { BERTH_VERSION: JSON.stringify(pkg.version), BERTH_CLI: 'true', BERTH_NATIVE: JSON.stringify(native), 'import.meta.url': '""' },
};
await build({
  ...cli,
  entryPoints: ['src/cli/main.ts'],
  outfile: `${out}/berth-cli.cjs`,
  // An IIFE, so the same file can be built into a snapshot and run directly.
  format: 'iife',
});
// The thread that stores and unpacks layers during a pull (src/registry/layer-thread.ts), used by the CLI and lib.js.
await build({
  ...cli,
  entryPoints: ['src/registry/layer-thread.ts'],
  outfile: `${out}/layer-worker.cjs`,
  format: 'cjs',
});
await build({
  ...common,
  entryPoints: ['src/lib.ts'],
  outfile: `${out}/lib.js`,
  format: 'esm',
  define: { BERTH_VERSION: JSON.stringify(pkg.version), BERTH_CLI: 'false', BERTH_NATIVE: 'undefined' },
  banner: { js: "import { createRequire as __berthCreateRequire } from 'node:module'; const require = __berthCreateRequire(import.meta.url);" },
});

const snap = spawnSync(process.execPath, ['--snapshot-blob', `${out}/berth.blob`, '--build-snapshot', `${out}/berth-cli.cjs`], { encoding: 'utf8' });
if (snap.status !== 0) {
  // Without the snapshot the launcher runs the plain bundle: slower to start, same behaviour.
  console.warn(`warning: could not build the startup snapshot; berth will start slower:\n${snap.stderr}`);
  rmSync(`${out}/berth.blob`, { force: true });
}

// The installed location is baked in, so starting needs no readlink; a moved tree falls back to finding itself.
const home = path.resolve('dist');
writeFileSync(`${out}/berth`, `#!/bin/sh
# Berth launcher: runs the CLI from its V8 startup snapshot when there is one.
# The snapshot is tied to the node binary that built it: after upgrading node, run "npm run build".
dir=${home}
if [ ! -r "$dir/berth-cli.cjs" ]; then
  case "$0" in /*) self="$0" ;; *) self="$PWD/$0" ;; esac
  dir=$(dirname "$(readlink -f "$self")")
fi
# Node parses NODE_EXTRA_CA_CERTS at every start (~45 ms for a system bundle);
# Berth reads the same file only when it opens a TLS connection (src/registry/http.ts).
if [ -n "\${NODE_EXTRA_CA_CERTS:-}" ]; then
  BERTH_EXTRA_CA_CERTS=$NODE_EXTRA_CA_CERTS; export BERTH_EXTRA_CA_CERTS; unset NODE_EXTRA_CA_CERTS
fi
[ -r "$dir/berth.blob" ] && exec node --snapshot-blob "$dir/berth.blob" "$dir/berth" "$@"
exec node "$dir/berth-cli.cjs" "$@"
`);
chmodSync(`${out}/berth`, 0o755);

const old = `dist.old-${process.pid}`;
if (existsSync('dist')) renameSync('dist', old);
renameSync(out, 'dist');
rmSync(old, { recursive: true, force: true });
