// Bundles the CLI (and the embeddable library) into single ESM files under dist/.
// Native modules stay external: they are loaded from node_modules at run time.
import { build } from 'esbuild';
import { chmodSync, readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  external: ['better-sqlite3', 'koffi'],
  // CommonJS dependencies bundled into ESM need a real `require` for node builtins.
  banner: { js: "import { createRequire as __berthCreateRequire } from 'node:module'; const require = __berthCreateRequire(import.meta.url);" },
  legalComments: 'none',
  logLevel: 'warning',
  define: { BERTH_VERSION: JSON.stringify(pkg.version) },
};

await build({ ...common, entryPoints: ['src/cli/main.ts'], outfile: 'dist/berth.js',
  banner: { js: '#!/usr/bin/env node\n' + common.banner.js } });
await build({ ...common, entryPoints: ['src/lib.ts'], outfile: 'dist/lib.js' });
chmodSync('dist/berth.js', 0o755);
